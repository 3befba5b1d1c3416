"""A real HTTP server in a thread and a small Server-Sent Events reader, for live tests."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI


@dataclass
class Event:
    id: int | None
    kind: str
    data: Any
    received: float  # time.time() when it arrived


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class Subscription:
    """Reads one event stream in a background thread into a queue."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.comments = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._stream(url, headers)
        except httpx.HTTPError:
            if not self._stop.is_set():
                raise  # a stream that breaks while the test still listens is a failure

    def _stream(self, url: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            response.raise_for_status()
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments += 1
                elif line == "":
                    if "event" in fields:
                        self.events.put(
                            Event(
                                int(fields["id"]) if "id" in fields else None,
                                fields["event"],
                                orjson.loads(fields.get("data", "null")),
                                time.time(),
                            )
                        )
                    fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    def next(self, timeout: float, kind: str | None = None) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or 'event'} within {timeout}s")
            event = self.events.get(timeout=left)
            if kind is None or event.kind == kind:
                return event

    def until(self, last: Callable[[Event], bool], timeout: float) -> list[Event]:
        """Every event up to and including the first for which `last` is true."""
        deadline = time.monotonic() + timeout
        got: list[Event] = []
        while True:
            left = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"the awaited event did not come within {timeout}s") from None
            got.append(event)
            if last(event):
                return got

    def close(self) -> None:
        self._stop.set()
