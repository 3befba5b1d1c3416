"""Fewer malloc arenas for the long-running server.

glibc gives each thread that allocates at once an arena of its own, up to eight per core.
A server's worker threads each build responses of hundreds of kilobytes, and freed
memory stays in the arena that held it: in a 10-minute soak the server's resident memory
grew by about 20 MB a minute without end, and with two arenas it stayed flat at about
150 MB (bench/README.md, load and soak). Python's own allocator sits on top of malloc
and gains nothing from more arenas than that here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas (as MALLOC_ARENA_MAX would); True if it took. Call it before
    starting threads: arenas already made stay. Elsewhere than glibc, nothing happens."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took = bool(mallopt(M_ARENA_MAX, arenas))
    if not took:
        log.debug("mallopt(M_ARENA_MAX) was refused")
    return took
