"""The event hub: one poller of the store's change log, fanned out to every subscriber.

However many browsers listen, the store is asked once per tick; each subscriber gets the
events through its own bounded queue, and one that falls too far behind is told to
resync instead of slowing everybody down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from flowscope.store import Store

log = logging.getLogger(__name__)

POLL_S = 0.1
BATCH = 2000
QUEUE_LIMIT = 5000


@dataclass(eq=False)
class Subscriber:
    wants: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    overflowed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class EventHub:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.subscribers: set[Subscriber] = set()
        self.newest = 0
        self._task: asyncio.Task[None] | None = None
        # Set when the server shuts down: every stream ends, and its browser reconnects
        # (to another replica, behind a load balancer) instead of being cut off later.
        self.closing = False

    async def start(self) -> None:
        _, self.newest = await anyio.to_thread.run_sync(self.store.event_bounds)
        self._task = asyncio.create_task(self._poll(), name="flowscope-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def close_streams(self) -> None:
        """End every event stream now (call on the event loop: server shutdown)."""
        self.closing = True
        for subscriber in list(self.subscribers):
            subscriber.wake.set()

    def subscribe(self, wants: Callable[[dict[str, Any]], bool]) -> Subscriber:
        subscriber = Subscriber(wants)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def _poll(self) -> None:
        while True:
            try:
                events = await anyio.to_thread.run_sync(self.store.events_after, self.newest, BATCH)
            except Exception:  # a locked or restarting database must not kill the hub
                log.exception("reading events failed")
                events = []
            for event in events:
                self.newest = event["id"]
                for subscriber in list(self.subscribers):
                    if subscriber.overflowed or not subscriber.wants(event):
                        continue
                    try:
                        subscriber.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        subscriber.overflowed = True
                    subscriber.wake.set()
            if len(events) < BATCH:
                await asyncio.sleep(POLL_S)
