"""MFLog parsing and merging, compared line for line with Metaflow's own merge.

Metaflow is run in a subprocess: importing it here would freeze its configuration for the
rest of the test session.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowscope.datastore.mflog import (
    LogLine,
    MergedLog,
    log_file_names,
    log_text,
    merge_logs,
    parse_lines,
    read_new_lines,
)

# Reads a JSON list of cases (each a list of base64 blobs) on stdin and answers, per case,
# the client's (timestamp, text) pairs, or null where the client itself raises TypeError.
_CLIENT_MERGE = """
import base64, json, sys
from metaflow.mflog.mflog import merge_logs
from metaflow.util import to_unicode
out = []
for case in json.load(sys.stdin):
    blobs = [base64.b64decode(blob) for blob in case]
    try:
        lines = [(line.utc_tstamp.isoformat(), to_unicode(line.msg)) for line in merge_logs(blobs)]
    except TypeError:
        lines = None
    out.append(lines)
json.dump(out, sys.stdout)
"""


def client_merge(cases: list[list[bytes]]) -> list[list[tuple[str, str]] | None]:
    payload = json.dumps([[base64.b64encode(blob).decode() for blob in case] for case in cases])
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT_MERGE],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def _line(ts: str, text: str, source: str = "runtime", line_id: str = "id") -> bytes:
    return f"[MFLOG|0|{ts}Z|{source}|{line_id}]{text}".encode()


PIECES = [
    _line("2026-11-26T06:16:06.878244", "hello", line_id="b"),
    _line("2026-11-26T06:16:06.878244", "same stamp, other source", "task", "a"),
    _line("2026-11-26T06:16:05.1", "short fraction"),
    _line("2026-11-26T06:16:05", "no fraction at all"),
    _line("2026-13-26T06:16:06.878244", "month 13"),
    _line("2026-02-30T06:16:06.878244", "February 30"),
    _line("3001-01-01T00:00:00.000000", "stamped after the unstamped lines"),
    _line("2026-11-26T06:16:07.000001", "h\xe9llo \x1b[31mred\x1b[0m \u65e5\u672c"),
    b"[MFLOG|0|2026-11-26T06:16:06.878244Z|run|time|x]a pipe in the source",
    b"[MFLOG|0|2026-11-26T06:16:06.978244Z|runtime|i|d]a pipe in the id",
    b"[MFLOG|1|2026-11-26T06:16:06.878244Z|runtime|v]version 1 is not MFLog",
    b"[MFLOG|0|2026-11-26T06:16:06.878244Z|runtime|]empty id",
    b"[![MFLOG|0|2026-11-26T06:16:08.000000Z|runtime|p]persist marker",
    b"plain text without a header",
    b"zzz last alphabetically",
    b"",
    b"\r",
    b"trailing carriage return\r",
]


def test_merge_equals_client_on_crafted_and_random_logs() -> None:
    rnd = random.Random(20261126)
    cases: list[list[bytes]] = [[piece + b"\n"] for piece in PIECES]
    for _ in range(400):
        case = []
        for _ in range(rnd.randint(1, 3)):
            blob = b"\n".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 7)))
            case.append(blob + (b"\n" if rnd.random() < 0.6 else b""))
        cases.append(case)
    compared = 0
    for case, expected in zip(cases, client_merge(cases), strict=True):
        if expected is None:
            continue  # the client cannot order these either (None vs bytes)
        mine = merge_logs(case)
        assert [line.text for line in mine] == [text for _, text in expected], case
        for line, (stamp, _) in zip(mine, expected, strict=True):
            parsed = datetime.datetime.fromisoformat(stamp)
            if parsed.year == 3000:
                assert line.ts is None
            else:
                epoch_ms = (parsed - datetime.datetime(1970, 1, 1)) // datetime.timedelta(
                    milliseconds=1
                )
                assert line.ts == epoch_ms
        assert log_text(case) == "".join(text + "\n" for _, text in expected)
        compared += 1
    assert compared > 300


def test_unparsed_line_keeps_its_newline_like_the_client() -> None:
    lines = merge_logs([b"plain\n" + _line("2026-01-01T00:00:00.000000", "stamped") + b"\n"])
    assert lines == [LogLine(1767225600000, "stamped"), LogLine(None, "plain\n")]
    assert log_text([b"plain\n"]) == "plain\n\n"


def test_empty_and_missing_logs() -> None:
    assert merge_logs([]) == []
    assert merge_logs([b"", b""]) == []
    assert log_text([b""]) == ""


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    # The client raises UnicodeDecodeError here; a viewer must still show the log.
    lines = merge_logs([_line("2026-01-01T00:00:00.000000", "bad \xff") + b"\xff\n"])
    assert lines[0].text.startswith("bad ")
    assert "\ufffd" in lines[0].text


def test_unterminated_last_line_is_kept_only_when_final() -> None:
    blob = _line("2026-01-01T00:00:00.000000", "done") + b"\n" + b"[MFLOG|0|2026-01-01T00:00"
    assert [line.text for line in merge_logs([blob], final=False)] == ["done"]
    assert len(merge_logs([blob], final=True)) == 2


def test_log_file_names() -> None:
    assert log_file_names(2, "stderr") == ["2.runtime_stderr.log", "2.task_stderr.log"]
    with pytest.raises(ValueError):
        log_file_names(0, "stdin")


def test_pages_decode_only_what_is_asked() -> None:
    # 100,000 lines spread over 100 seconds, as the runtime would stamp them.
    blob = b"".join(
        b"[MFLOG|0|2026-01-01T00:%02d:%02d.%06dZ|runtime|%08x]row %d\n"
        % (i // 60_000, i // 1000 % 60, i % 1000 * 1000, i, i)
        for i in range(100_000)
    )
    began = time.monotonic()
    merged = MergedLog([blob])
    assert len(merged) == 100_000
    assert [line.text for line in merged.lines(99_998)] == ["row 99998", "row 99999"]
    assert merged.lines(10, 12)[0] == LogLine(1767225600010, "row 10")
    assert time.monotonic() - began < 10  # ~0.3 s here; generous for slow CI machines
    chunks = list(merged.iter_text(lines_per_chunk=40_000))
    assert len(chunks) == 3
    assert chunks[0].startswith("row 0\nrow 1\n")
    assert sum(map(len, chunks)) == len(blob) - 100_000 * len(
        b"[MFLOG|0|2026-01-01T00:00:00.000000Z|runtime|00000000]"
    )


def test_out_of_order_sources_are_merged_by_time() -> None:
    runtime = _line("2026-01-01T00:00:00.000002", "second", "runtime") + b"\n"
    task = (
        _line("2026-01-01T00:00:00.000001", "first", "task")
        + b"\n"
        + _line("2026-01-01T00:00:00.000003", "third", "task")
        + b"\n"
    )
    assert [line.text for line in merge_logs([runtime, task])] == ["first", "second", "third"]


def test_parse_lines_keeps_file_order() -> None:
    blob = (
        _line("2026-01-01T00:00:00.000002", "b")
        + b"\n"
        + _line("2026-01-01T00:00:00.000001", "a")
        + b"\n"
    )
    assert [line.text for line in parse_lines(blob)] == ["b", "a"]


def test_read_new_lines_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.task_stdout.log"
    assert read_new_lines(path, 0).lines == []  # not written yet
    first = _line("2026-01-01T00:00:00.000001", "one") + b"\n"
    path.write_bytes(first + b"[MFLOG|0|2026-01-01T00:00:00.0000")
    chunk = read_new_lines(path, 0)
    assert [line.text for line in chunk.lines] == ["one"]
    assert chunk.next_offset == len(first)
    rest = b"02Z|task|x]two\n"
    with open(path, "ab") as handle:
        handle.write(rest)
    chunk = read_new_lines(path, chunk.next_offset)
    assert [line.text for line in chunk.lines] == ["two"]
    assert chunk.next_offset == path.stat().st_size
    assert read_new_lines(path, chunk.next_offset).lines == []


def test_read_new_lines_final_tail_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "0.task_stdout.log"
    path.write_bytes(b"no newline at the end")
    assert read_new_lines(path, 0).lines == []
    final = read_new_lines(path, 0, final=True)
    assert final.lines == [LogLine(None, "no newline at the end")]
    path.write_bytes(b"new\n")  # replaced by a shorter file
    again = read_new_lines(path, final.next_offset)
    assert again.restarted and again.lines == [LogLine(None, "new\n")]


def test_read_new_lines_window(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(100)))
    offset, seen = 0, []
    while True:
        chunk = read_new_lines(path, offset, max_bytes=64)
        if not chunk.lines:
            break
        seen.extend(line.text for line in chunk.lines)
        offset = chunk.next_offset
    assert seen == [f"line {i}\n" for i in range(100)]
    path.write_bytes(b"x" * 100)  # one line longer than the window is handed out in pieces
    assert read_new_lines(path, 0, max_bytes=64).next_offset == 64
