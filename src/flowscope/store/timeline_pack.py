"""The timeline overview on the wire: packed columns (docs/API.md, timeline overview),
and a finished big run's pack kept in the index.

Packing a 100,000-task run's overview costs half a second of reading and packing; a
finished run's overview no longer changes, so it is packed once, when its run is sealed
with at least `KEEP_FROM_TASKS` tasks, and kept (gzipped) under the timeline's version.
A server, a replica or a restart then answers the run's first request from the kept
bytes. A pack whose version is not the run's current one is never served.
"""

from __future__ import annotations

import gzip
import sys
from array import array

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.reads import RunRef, find_run
from flowscope.store.timeline import Overview, overview, version

MAGIC = b"FSTL"
FORMAT = 1
INT32_MAX = 2**31 - 1
MISSING_I32 = -(2**31)
# The packed overview's typed columns compress as well at level 1 as at 6 (0.67 MB for
# 100,000 tasks) in a quarter of the time.
GZIP_LEVEL = 1
# Below this, an overview is built on request in a few tens of milliseconds at most.
KEEP_FROM_TASKS = 5_000

p = s.timeline_packs


def pack_overview(ov: Overview) -> bytes:
    """The overview as a header (JSON) and little-endian columns, each 8-byte aligned, so
    that the browser reads them as typed arrays without copying."""
    n = len(ov)
    times = [v for v in (*ov.start, *ov.end) if v is not None]
    base = min(times) if times else 0
    narrow_times = not times or max(times) - base < INT32_MAX
    time_code, missing = ("i", MISSING_I32) if narrow_times else ("d", float("nan"))
    start = array(time_code, (missing if v is None else v - base for v in ov.start))
    end = array(time_code, (missing if v is None else v - base for v in ov.end))
    narrow_ids = all(-1 <= v < INT32_MAX for v in ov.task_id)
    task_id = array("i" if narrow_ids else "d", ov.task_id)
    columns: list[tuple[str, str, array]] = [
        ("step", "u16", ov.step),
        ("status", "u8", ov.status),
        ("attempts", "u8", ov.attempts),
        ("caught", "u8", ov.caught),
        ("task_id", "i32" if narrow_ids else "f64", task_id),
        ("start", "i32" if narrow_times else "f64", start),
        ("end", "i32" if narrow_times else "f64", end),
    ]
    header = {
        "format": FORMAT,
        "tasks": n,
        "base": base,
        "steps": ov.steps,
        "string_ids": {str(i): v for i, v in ov.string_ids.items()},
        "columns": [[name, kind] for name, kind, _ in columns],
    }
    head = orjson.dumps(header)
    parts = [MAGIC, len(head).to_bytes(4, "little"), head]
    size = sum(len(p) for p in parts)
    for _, _, values in columns:
        parts.append(b"\0" * (-size % 8))
        size += -size % 8
        if sys.byteorder == "big":
            values = array(values.typecode, values)
            values.byteswap()
        data = values.tobytes()
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def kept_pack(conn: Connection, ref: RunRef, current: str) -> bytes | None:
    """The kept gzipped pack of `ref`, if it was made at version `current`."""
    gzipped = conn.execute(
        sa.select(p.c.gzipped).where(p.c.run_pk == ref.pk, p.c.version == current)
    ).scalar()
    return None if gzipped is None else bytes(gzipped)


def _has_pack(conn: Connection, ref: RunRef, current: str) -> bool:
    found = conn.execute(
        sa.select(p.c.run_pk).where(p.c.run_pk == ref.pk, p.c.version == current)
    ).first()
    return found is not None


def keep_pack(conn: Connection, ref: RunRef, made_at: str, gzipped: bytes) -> None:
    conn.execute(sa.delete(p).where(p.c.run_pk == ref.pk))
    conn.execute(sa.insert(p).values(run_pk=ref.pk, version=made_at, gzipped=gzipped))


def worth_keeping(sealed: bool, task_count: int | None) -> bool:
    return sealed and (task_count or 0) >= KEEP_FROM_TASKS


def packed_for_keeping(
    conn: Connection, flow_id: str, run_id: str
) -> tuple[RunRef, str, bytes] | None:
    """The run's gzipped pack and the version it was made at, if the run is sealed and
    big enough to keep one and has none of its current version; else None.

    The version is read before the tasks: were they to change in between, the pack would
    be newer than its version and so never served (the change moves the version on)."""
    row = conn.execute(
        sa.select(s.runs.c.sealed, s.runs.c.task_count).where(
            s.runs.c.flow_id == flow_id, s.runs.c.run_id == run_id
        )
    ).first()
    if row is None or not worth_keeping(row.sealed, row.task_count):
        return None
    ref = find_run(conn, flow_id, run_id)
    if ref is None:
        return None
    made_at = version(conn, ref)
    if _has_pack(conn, ref, made_at):
        return None
    body = pack_overview(overview(conn, ref))
    return ref, made_at, gzip.compress(body, compresslevel=GZIP_LEVEL)
