"""Reading a task's log and artifacts from S3: cold, then again from the cache.

Starts moto's S3 server on loopback (as the tests do), writes one task attempt in
Metaflow's layout (a log of `--log-mb` MB of MFLog lines, an artifact blob), then times
through `S3Datastore`:
- opening the log and paging its tail, cold (ranged GETs; past 32 MB only the tail);
- the same again (the attempt has ended: served from memory, no request);
- loading an artifact value, cold and warm.

    python -m bench.s3_reads [--log-mb 100] [--repeat 5]

No target: loopback S3 is far faster than AWS, so these numbers bound flowscope's own
cost (parsing, merging, caching), not network time. Needs the dev requirements (moto).
"""

from __future__ import annotations

import argparse
import gzip
import os
import pickle
import tempfile
from pathlib import Path

from tests.s3_server import CREDENTIALS, start_moto

from bench.common import machine, ms, repeat, spread, table, timed
from flowscope.datastore.s3 import S3Datastore, S3Settings
from flowscope.pathspec import Pathspec

FLOW = "BenchFlow"
TASK = Pathspec(FLOW, "1", "start", "1")
LINE = b"[MFLOG|0|2026-01-01T%02d:%02d:%02d.%06dZ|runtime|%08d]line %08d of a benchmark log\n"


def _log(megabytes: int) -> bytes:
    lines = []
    size, i = 0, 0
    while size < megabytes << 20:
        line = LINE % (i // 3_600_000 % 24, i // 60_000 % 60, i // 1000 % 60, i % 1000, i, i)
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory() as scratch:
        server = start_moto(Path(scratch) / "moto.log")
        try:
            bucket = server.new_bucket("bench")
            client = server.client()
            base = f"mf/{FLOW}/1/start/1"
            log = _log(args.log_mb)
            client.put_object(Bucket=bucket, Key=f"{base}/0.attempt.json", Body=b'{"time": 1}')
            client.put_object(Bucket=bucket, Key=f"{base}/0.runtime_stdout.log", Body=log)
            client.put_object(Bucket=bucket, Key=f"{base}/0.DONE.lock", Body=b"{}")
            value = {"weights": list(range(200_000))}
            blob = gzip.compress(pickle.dumps(value, protocol=4))
            sha = "ab" * 20
            client.put_object(
                Bucket=bucket,
                Key=f"mf/{FLOW}/data/{sha[:2]}/{sha}",
                Body=blob,
                Metadata={"metaflow-user-attributes": '{"cas_raw": false, "cas_version": 1}'},
            )
            settings = S3Settings(endpoint_url=server.endpoint)
            rows = []
            for _ in range(args.repeat):
                datastore = S3Datastore(f"s3://{bucket}/mf", settings)
                cold, opened = timed(lambda d=datastore: d.open_log(TASK, 0, "stdout"))
                tail = opened.lines.lines(max(0, len(opened) - 1000))
                assert len(tail) == min(1000, len(opened))
                warm = spread(repeat(lambda d=datastore: d.open_log(TASK, 0, "stdout"), 20))[1]
                a_cold, got = timed(
                    lambda d=datastore: d.load_artifact(FLOW, sha, max_bytes=50 << 20)
                )
                assert got == value
                a_warm = spread(
                    repeat(lambda d=datastore: d.load_artifact(FLOW, sha, max_bytes=50 << 20), 20)
                )[1]
                rows.append((cold, warm, a_cold, a_warm, opened.omitted_bytes, len(opened)))
        finally:
            server.stop()
    print(machine())
    print(
        f"log object {len(log) / (1 << 20):.0f} MB; read window {settings.log_window >> 20} MB; "
        f"lines served {rows[0][5]:,}; omitted {rows[0][4] / (1 << 20):.1f} MB; "
        f"artifact blob {len(blob) / 1024:.0f} KB gzip"
    )
    print(
        table(
            ["what", "min", "median", "max"],
            [
                ["log: open + tail page, cold", *(ms(x) for x in spread([r[0] for r in rows]))],
                ["log: open again (cached)", *(ms(x) for x in spread([r[1] for r in rows]))],
                ["artifact: load, cold", *(ms(x) for x in spread([r[2] for r in rows]))],
                [
                    "artifact: load again (cached blob)",
                    *(ms(x) for x in spread([r[3] for r in rows])),
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
