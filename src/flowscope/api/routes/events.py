"""Server-Sent Events: what changes, as it changes.

Without parameters the stream carries every run-level event (`run_created`,
`run_status`, `run_tags`) of every run; the runs-list filters narrow it. With `flow_id`
and `run_id` it carries everything about that run (`step_status`, `task_created`,
`task_status`, `attempt_status` too), narrowed by `step_name` and `task_id`; with a task
it adds `log` events with the task's new log lines. Each stored event has an id: a client
reconnecting with `Last-Event-ID` gets what it missed, or one `resync` event when too
much was missed. A comment line every `HEARTBEAT_S` keeps proxies from closing the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio.to_thread
import orjson
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse

from flowscope.api.answers import answers
from flowscope.api.context import AppContext
from flowscope.api.deps import Ctx
from flowscope.api.live import EventHub
from flowscope.datastore import DatastoreError
from flowscope.datastore.base import STREAMS
from flowscope.pathspec import Pathspec
from flowscope.store import RunRef

router = APIRouter(tags=["events"])

RUN_KINDS = frozenset({"run_created", "run_status", "run_tags"})
MAX_BACKLOG = 10_000
HEARTBEAT_S = 15.0
LOG_POLL_S = 0.5


def _frame(kind: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


class StreamFilter:
    def __init__(
        self,
        flow_id: str | None,
        run_id: str | None,
        step_name: str | None,
        task_id: str | None,
        user: str | None,
        tags: list[str],
        status: str | None,
        project: str | None,
        branch: str | None,
    ) -> None:
        self.flow_id, self.run_id = flow_id, run_id
        self.step_name, self.task_id = step_name, task_id
        self.user, self.tags, self.status = user, tags, status
        self.project, self.branch = project, branch

    @property
    def one_run(self) -> bool:
        return self.flow_id is not None and self.run_id is not None

    def __call__(self, event: dict[str, Any]) -> bool:
        if self.one_run:
            if (event["flow_id"], event["run_id"]) != (self.flow_id, self.run_id):
                return False
            if event["kind"] in RUN_KINDS:
                return True
            if self.step_name is not None and event["step_name"] != self.step_name:
                return False
            return self.task_id is None or event["task_id"] in (None, self.task_id)
        if event["kind"] not in RUN_KINDS:
            return False
        if self.flow_id is not None and event["flow_id"] != self.flow_id:
            return False
        if self.user is None and not self.tags and not self.status and not self.project:
            return self.branch is None
        run = orjson.loads(event["data"])
        every_tag = set(run.get("tags") or []) | set(run.get("system_tags") or [])
        return (
            (self.user is None or run.get("user") == self.user)
            and all(tag in every_tag for tag in self.tags)
            and (self.status is None or run.get("status") == self.status)
            and (self.project is None or run.get("project") == self.project)
            and (self.branch is None or run.get("branch") == self.branch)
        )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **answers(422)},
)
async def events(
    request: Request,
    ctx: Ctx,
    flow_id: str | None = None,
    run_id: str | None = None,
    step_name: str | None = None,
    task_id: str | None = None,
    user: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    status: Literal["running", "completed", "failed"] | None = None,
    project: str | None = None,
    branch: str | None = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    wants = StreamFilter(
        flow_id, run_id, step_name, task_id, user, tag or [], status, project, branch
    )
    resume_from = last_event_id
    if last_event_id_header and last_event_id_header.strip().isdigit():
        resume_from = int(last_event_id_header.strip())
    hub: EventHub = request.app.state.hub
    log_task = None
    if flow_id is not None and run_id is not None and step_name is not None and task_id is not None:
        ref = await anyio.to_thread.run_sync(ctx.store.find_run, flow_id, run_id)
        if ref is not None:
            log_task = (ref, step_name, task_id)
    return StreamingResponse(
        _stream(request, ctx, hub, wants, resume_from, log_task),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    ctx: AppContext,
    hub: EventHub,
    wants: StreamFilter,
    resume_from: int | None,
    log_task: tuple[RunRef, str, str] | None,
) -> AsyncIterator[bytes]:
    subscriber = hub.subscribe(wants)
    try:
        sent = hub.newest if resume_from is None else resume_from
        yield b"retry: 2000\n\n"
        if resume_from is not None and resume_from > hub.newest:
            # An id from the future: the index was rebuilt since; nothing can be replayed.
            sent = hub.newest
            yield _frame("resync", {"reason": "the server's events started over"}, sent)
        elif resume_from is not None:
            oldest, _ = await anyio.to_thread.run_sync(ctx.store.event_bounds)
            backlog = await anyio.to_thread.run_sync(
                ctx.store.events_after,
                resume_from,
                MAX_BACKLOG + 1,
                wants.flow_id if wants.one_run else None,
                wants.run_id if wants.one_run else None,
            )
            if (oldest and resume_from + 1 < oldest) or len(backlog) > MAX_BACKLOG:
                sent = hub.newest
                yield _frame("resync", {"reason": "missed too many events"}, sent)
            else:
                for event in backlog:
                    if wants(event):
                        yield _event_frame(event)
                    sent = event["id"]
        else:
            yield _frame("hello", {"newest": sent}, sent)
        tail = _LogTail(ctx, *log_task) if log_task else None
        last_beat = time.monotonic()
        while not hub.closing and not await request.is_disconnected():
            subscriber.wake.clear()
            if subscriber.overflowed:
                sent = hub.newest
                subscriber.overflowed = False
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                yield _frame("resync", {"reason": "too many events at once"}, sent)
            while not subscriber.queue.empty():
                event = subscriber.queue.get_nowait()
                if event["id"] > sent:
                    sent = event["id"]
                    yield _event_frame(event)
            if tail is not None:
                for frame in await anyio.to_thread.run_sync(tail.new_frames):
                    yield frame
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                last_beat = time.monotonic()
                yield b": heartbeat\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscriber.wake.wait(), LOG_POLL_S)
    finally:
        hub.unsubscribe(subscriber)


def _event_frame(event: dict[str, Any]) -> bytes:
    return (
        f"id: {event['id']}\nevent: {event['kind']}\ndata: ".encode()
        + event["data"].encode()
        + b"\n\n"
    )


class _LogTail:
    """New lines of one task's logs (the attempt the task is on), as `log` events."""

    def __init__(self, ctx: AppContext, ref: RunRef, step_name: str, task_id: str) -> None:
        self.ctx, self.ref = ctx, ref
        self.step_name, self.task_id = step_name, task_id
        self.seen: dict[tuple[int, str], int] = {}
        self.pathspec = Pathspec(ref.flow_id, ref.run_id, step_name, task_id)

    def new_frames(self) -> list[bytes]:
        datastore = self.ctx.datastore_for(self.ref)
        task = self.ctx.store.get_task(self.ref, self.step_name, self.task_id)
        if datastore is None or task is None:
            return []
        frames = []
        attempt = int(task["attempt"])
        for stream in STREAMS:
            try:
                log = datastore.open_log(self.pathspec, attempt, stream).lines
            except DatastoreError:
                continue  # not started yet
            key = (attempt, stream)
            start = self.seen.get(key, 0)
            total = len(log)
            if total > start:
                lines = [
                    {"n": start + i + 1, "ts": line.ts, "text": line.text}
                    for i, line in enumerate(log.lines(start, total))
                ]
                self.seen[key] = total
                frames.append(
                    _frame(
                        "log",
                        {
                            "flow_id": self.ref.flow_id,
                            "run_id": self.ref.run_id,
                            "step_name": self.step_name,
                            "task_id": self.task_id,
                            "attempt": attempt,
                            "stream": stream,
                            "lines": lines,
                        },
                    )
                )
        return frames
