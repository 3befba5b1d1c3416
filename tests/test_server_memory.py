"""What keeps a long-running server's memory bounded (the soak's memory trend, issue 12):
few malloc arenas, small page caches on reading connections; and kept-alive connections
that the server does not close first.

The arena check counts glibc's heaps (malloc_info) after threads have allocated, in a
fresh interpreter with and without the cap; the cache checks read SQLite's own pragma on
the store's connections; the keep-alive check holds a connection idle past uvicorn's
default of 5 s against a real `flowscope serve` and sends a request on it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.serve_process import flowscope_serve

from flowscope.store import Store
from flowscope.store.database import READ_CACHE_KB, WRITE_CACHE_KB

COUNT_ARENAS = """
import ctypes, ctypes.util, sys, tempfile, threading
from flowscope.malloc_arenas import limit_malloc_arenas
if sys.argv[1] == "capped":
    assert limit_malloc_arenas()
together = threading.Barrier(8)
def work():
    # Below malloc's mmap threshold, while every thread is alive (an exited thread's
    # arena is handed to the next one).
    kept = [bytes(20_000) for _ in range(50)]
    together.wait()
    del kept
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_arena_cap_keeps_threads_to_two_heaps() -> None:
    assert _arenas("free") > 2  # without the cap, threads get heaps of their own
    assert _arenas("capped") <= 2


def test_reading_connections_have_the_small_cache_and_writes_the_big_one(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    try:
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -READ_CACHE_KB
        with store.write() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -WRITE_CACHE_KB
        with store.read() as conn:  # the same pooled connection, given back
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -READ_CACHE_KB
    finally:
        store.close()


def test_an_idle_kept_alive_connection_outlives_uvicorns_default(tmp_path: Path) -> None:
    with flowscope_serve(tmp_path) as served:
        served.wait_ready()
        host, port = served.url.removeprefix("http://").split(":")
        request = f"GET /api/v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(request)
            assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6.5)  # uvicorn's own default closes an idle connection after 5 s
            conn.sendall(request)
            assert _response(conn).startswith(b"HTTP/1.1 200")


def _response(conn: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body), b"" if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
