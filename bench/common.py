"""What every benchmark shares: timing, tables, scratch databases, a note on the machine."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "FLOWSCOPE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCRATCH = Path(os.environ.get("FLOWSCOPE_BENCH_DIR", "/tmp/flowscope-bench"))


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def repeat(action: Callable[[], Any], times: int) -> list[float]:
    return [timed(action)[0] for _ in range(times)]


def spread(seconds: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    return min(seconds), statistics.median(seconds), max(seconds)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (also valid Markdown), columns as wide as their widest cell."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores; "
        f"Python {platform.python_version()}; load average {load}"
    )


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far; 0 when /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, anything but idle and
    I/O wait) since boot; 0 when /proc cannot say."""
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_postgres(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark, dropped afterwards; its URL."""
    admin = sa.create_engine(_driver(admin_url), isolation_level="AUTOCOMMIT")
    name = f"flowscope_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _driver(url: str) -> str:
    # flowscope's URLs say postgresql://; SQLAlchemy needs the driver spelled out.
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")
