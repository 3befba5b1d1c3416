"""Metaflow's MFLog format: parse, merge and tail logs exactly as the Metaflow client does.

A task attempt writes each stream (stdout, stderr) into one file per log source
(`<attempt>.runtime_<stream>.log`, and `<attempt>.task_<stream>.log` on remote compute).
Each line looks like ``[MFLOG|0|2026-11-26T06:16:06.878244Z|runtime|<uuid>]text``.

The client (`Task.loglines` / `Task.stdout`) turns those files into one list of lines:

* each file is split on ``\\n`` only; a structured line's text is what follows ``]`` up to
  the newline, while a line that does not parse (or whose timestamp does not parse) keeps
  its raw bytes, newline included, and counts as stamped in the year 3000, so it sorts
  after every real line;
* the lines of all files are ordered by the whole parsed record: timestamp string first,
  then the persist marker, source, line id and text (so lines sharing a timestamp are
  ordered by their random line id, and unparsed lines by their bytes);
* `Task.stdout` is every text followed by ``\\n`` (an unparsed line therefore ends up
  with two newlines, as in the client).

`MergedLog` reproduces that order without keeping one Python object per line: it holds the
raw buffers plus compact arrays of offsets, and decodes only the lines a caller asks for.
The client decodes strictly and raises on invalid UTF-8; here invalid bytes become U+FFFD
so that a bad byte cannot make a log unreadable.
"""

from __future__ import annotations

import codecs
import mmap
import os
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# Anything the re and slicing machinery accepts; local files are mmapped when large.
Buffer = bytes | bytearray | mmap.mmap

# Same grammar as the client's parser: the lazy groups matter, since a malformed header
# must fail (or succeed) on exactly the lines where the client's does.
_HEADER = re.compile(rb"(\[!)?\[MFLOG\|(0)\|(.+?)Z\|(.+?)\|(.+?)\](.*)")
# Matches exactly where _HEADER matches and yields the same groups, but only for the
# shape the runtime writes; it is about twice as fast, and logs can have millions of lines.
_FAST_HEADER = re.compile(
    rb"(\[!)?\[MFLOG\|(0)\|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z\|([^|\n]+)\|([^\]\n]+)\]"
)
_CANONICAL_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}")
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
# The client stamps unparsable lines with this instant so they sort last.
_MISSING_TS = b"3000-01-01T00:00:00.000000"
_EPOCH = datetime(1970, 1, 1)
_ONE_MS = timedelta(milliseconds=1)
_NO_TS = -(2**63)  # array slot value meaning "no timestamp"

_STREAMS = ("stdout", "stderr")
# Order matters only for identical lines, which are indistinguishable anyway.
LOG_SOURCES = ("runtime", "task")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a merged log: `ts` is epoch milliseconds (UTC) or None if unstamped."""

    ts: int | None
    text: str


def log_file_names(attempt: int, stream: str) -> list[str]:
    """File names, inside a task folder, that hold one stream of one attempt."""
    if stream not in _STREAMS:
        raise ValueError(f"unknown log stream {stream!r}")
    return [f"{attempt}.{source}_{stream}.log" for source in LOG_SOURCES]


def _parse_ts(raw: bytes) -> int | None:
    """Epoch ms of a header timestamp, or None where the client's strptime would fail."""
    try:
        if _CANONICAL_TS.fullmatch(raw):
            # fromisoformat is much faster than strptime and agrees with it on this shape.
            stamp = datetime.fromisoformat(raw.decode("ascii"))
        else:
            stamp = datetime.strptime(raw.decode("utf-8"), _TS_FORMAT)
    except (ValueError, OverflowError):
        return None
    return (stamp - _EPOCH) // _ONE_MS


class _SecondCache(dict[bytes, int | None]):
    """Epoch ms of whole seconds: lines of one second share the costly date parsing."""

    def __missing__(self, second: bytes) -> int | None:
        value = _parse_ts(second + b".000000")
        if len(self) < 4096:
            self[second] = value
        return value


# A line found in a buffer: text start and end offsets, epoch ms (None when unstamped),
# raw timestamp, and the full sort key when asked for. A plain tuple: there may be millions.
_Scanned = tuple[int, int, int | None, bytes, tuple[bytes, ...] | None]


def _scan(buf: Buffer, *, final: bool, with_keys: bool) -> Iterator[_Scanned]:
    """Yield the lines of one log buffer in file order.

    When `final` is false the buffer may still be growing: an unterminated last line is
    left for a later read instead of being shown cut in half.
    """
    seconds = _SecondCache()
    fast_match = _FAST_HEADER.match
    slow_match = _HEADER.match
    find = buf.find
    size = len(buf)
    pos = 0
    while pos < size:
        newline = find(b"\n", pos)
        if newline == -1:
            if not final:
                return
            end = after = size
        else:
            end, after = newline, newline + 1
        ts: int | None = None
        match = fast_match(buf, pos, end)
        if match:
            ts_raw = match.group(3)
            base = seconds[ts_raw[:19]]
            if base is not None:
                ts = base + int(ts_raw[20:]) // 1000
        else:
            match = slow_match(buf, pos, end)
            if match:
                ts_raw = match.group(3)
                ts = _parse_ts(ts_raw)
        key: tuple[bytes, ...] | None = None
        if ts is not None and match:
            if with_keys:
                key = (
                    ts_raw,
                    b"",
                    match.group(1) or b"",
                    match.group(4),
                    match.group(5),
                    bytes(buf[match.end(5) + 1 : end]),
                )
            yield match.end(5) + 1, end, ts, ts_raw, key
        else:
            # The client keeps an unparsed line whole, newline included.
            if with_keys:
                key = (_MISSING_TS, b"\xff", bytes(buf[pos:after]))
            yield pos, after, None, _MISSING_TS, key
        pos = after


class MergedLog:
    """The merged lines of one attempt's stream, in the client's order, decoded lazily."""

    def __init__(self, blobs: Sequence[Buffer], *, final: bool = True) -> None:
        self._blobs: list[Buffer] = [blob for blob in blobs if len(blob)]
        self._blob = array("H")
        self._start = array("q")
        self._end = array("q")
        self._ts = array("q")
        if not self._try_fast_path(final):
            self._general_path(final)

    def _try_fast_path(self, final: bool) -> bool:
        """Order without sort keys when stamped lines come from one file, strictly rising.

        That is the usual local case (only the runtime writes logs) and keeps a 100 MB log
        at a few arrays of integers instead of millions of tuples.
        """
        add_blob, add_start = self._blob.append, self._start.append
        add_end, add_ts = self._end.append, self._ts.append
        unstamped: list[tuple[bytes, int, int, int]] = []
        stamped_blob: int | None = None
        previous = b""
        for index, blob in enumerate(self._blobs):
            for start, end, ts, ts_raw, _ in _scan(blob, final=final, with_keys=False):
                if ts is None:
                    unstamped.append((bytes(blob[start:end]), index, start, end))
                    continue
                if stamped_blob not in (None, index) or not previous < ts_raw < _MISSING_TS:
                    for column in (self._blob, self._start, self._end, self._ts):
                        del column[:]
                    return False
                stamped_blob = index
                previous = ts_raw
                add_blob(index)
                add_start(start)
                add_end(end)
                add_ts(ts)
        unstamped.sort(key=lambda item: item[0])
        for _, index, start, end in unstamped:
            add_blob(index)
            add_start(start)
            add_end(end)
            add_ts(_NO_TS)
        return True

    def _general_path(self, final: bool) -> None:
        keyed: list[tuple[tuple[bytes, ...], int, int, int, int | None]] = []
        for index, blob in enumerate(self._blobs):
            keyed.extend(
                (key, index, start, end, ts)
                for start, end, ts, _, key in _scan(blob, final=final, with_keys=True)
                if key is not None
            )
        # Equal keys mean byte-identical lines, so the stable sort leaves nothing to chance.
        keyed.sort(key=lambda item: item[0])
        for _, index, start, end, ts in keyed:
            self._blob.append(index)
            self._start.append(start)
            self._end.append(end)
            self._ts.append(_NO_TS if ts is None else ts)

    def __len__(self) -> int:
        return len(self._start)

    def _line(self, i: int, max_bytes: int | None = None) -> LogLine:
        blob = self._blobs[self._blob[i]]
        start, end = self._start[i], self._end[i]
        ts = None if self._ts[i] == _NO_TS else self._ts[i]
        if max_bytes is not None and end - start > max_bytes:
            # One enormous line (a 2 GB file without a newline) must not become one
            # enormous string in a page of the viewer (issue 12); the download has it all.
            head = bytes(blob[start : start + max_bytes]).decode("utf-8", "replace")
            return LogLine(ts, f"{head}… [{end - start - max_bytes} more bytes in this line]")
        return LogLine(ts, bytes(blob[start:end]).decode("utf-8", "replace"))

    def lines(
        self, start: int = 0, stop: int | None = None, max_line_bytes: int | None = None
    ) -> list[LogLine]:
        """Lines `start` (0-based) up to `stop`, decoded only now; with `max_line_bytes`,
        a longer line is cut there and says how much was left out."""
        first, last, _ = slice(start, stop).indices(len(self))
        return [self._line(i, max_line_bytes) for i in range(first, last)]

    def iter_bytes(self, piece: int = 1 << 20) -> Iterator[bytes]:
        """`text()` encoded as UTF-8, in pieces of about `piece` bytes, never holding a
        whole line: a log of any size is downloaded in bounded memory."""
        pending: list[bytes] = []
        size = 0
        for i in range(len(self)):
            blob = self._blobs[self._blob[i]]
            start, end = self._start[i], self._end[i]
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            for at in range(start, end, piece):
                text = decoder.decode(bytes(blob[at : min(end, at + piece)]))
                pending.append(text.encode("utf-8"))
                size += len(pending[-1])
                if size >= piece:
                    yield b"".join(pending)
                    pending, size = [], 0
            pending.append(decoder.decode(b"", final=True).encode("utf-8") + b"\n")
            size += len(pending[-1])
            if size >= piece:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)

    def iter_text(self, lines_per_chunk: int = 2000) -> Iterator[str]:
        """The download text in chunks, so a large log can be streamed."""
        total = len(self)
        for first in range(0, total, lines_per_chunk):
            chunk = self.lines(first, first + lines_per_chunk)
            yield "".join(line.text + "\n" for line in chunk)

    def text(self) -> str:
        """Exactly `Task(pathspec, attempt=N).stdout` (or `.stderr`)."""
        return "".join(self.iter_text())


def merge_logs(blobs: Sequence[Buffer], *, final: bool = True) -> list[LogLine]:
    """The lines the client's `Task.loglines` yields for these raw log files."""
    return MergedLog(blobs, final=final).lines()


def log_text(blobs: Sequence[Buffer], *, final: bool = True) -> str:
    """The text the client's `Task.stdout` / `Task.stderr` returns for these files."""
    return MergedLog(blobs, final=final).text()


def parse_lines(data: Buffer, *, final: bool = True) -> list[LogLine]:
    """Lines of one buffer in file order (no merging), e.g. for the new bytes of a tail."""
    return [
        LogLine(ts, bytes(data[start:end]).decode("utf-8", "replace"))
        for start, end, ts, _, _ in _scan(data, final=final, with_keys=False)
    ]


@dataclass(frozen=True, slots=True)
class LogChunk:
    """New lines of a growing log file and where the next read should start.

    `restarted` is true when the file got shorter than the offset asked for (it was
    replaced), in which case the lines are read from the beginning again.
    """

    lines: list[LogLine]
    next_offset: int
    restarted: bool = False


def read_new_lines(
    path: Path, offset: int = 0, *, max_bytes: int = 8 << 20, final: bool = False
) -> LogChunk:
    """Read only the complete lines written to `path` since `offset`.

    At most `max_bytes` are read per call (more than that, call again from
    `next_offset`), so following a large live log never re-reads what was already seen.
    A line that is still being written is left for the next call unless `final`.
    """
    if offset < 0:
        raise ValueError("offset must be >= 0")
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            restarted = size < offset
            if restarted:
                offset = 0
            handle.seek(offset)
            data = handle.read(max_bytes)
    except FileNotFoundError:
        return LogChunk([], offset)
    at_eof = offset + len(data) >= size
    if final and at_eof:
        usable = len(data)
    else:
        usable = data.rfind(b"\n") + 1
        if usable == 0 and len(data) == max_bytes:
            # One line longer than the window: hand it over in pieces rather than stall.
            usable = len(data)
    return LogChunk(parse_lines(data[:usable]), offset + usable, restarted)
