"""Every filter combination the runs page can send, with values that match real runs.

The UI (ui/src/runs/filters.ts) sends any subset of: status, flow, user, tags (any
number), a start range, project, branch and a search, in one of six orders. Taking the
values from one run of the archive (an *anchor*) keeps every combination non-empty, so
each one runs its real query, not just the counts that find it empty. The plan test and
the scale benchmark both use this list.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import sqlalchemy as sa

from flowscope.store import RunFilters, Store
from flowscope.store import schema as s
from flowscope.store.runs_list import RUN_ORDERS

KINDS = ("status", "flow", "user", "tag", "tag2", "range", "project", "branch", "q")


@dataclass(frozen=True)
class Anchor:
    """The run whose values the filters take."""

    flow_id: str
    run_id: str
    user: str
    status: str
    started_at: int
    project: str | None
    branch: str | None
    tags: tuple[str, ...]


def find_anchor(store: Store, scheduled: bool) -> Anchor:
    """A run with a project, a branch and two tags: a user's failed run, or a nightly one."""
    r = s.runs
    query = sa.select(r).where(r.c.project.is_not(None))
    if scheduled:
        query = query.where(r.c.user == "prod-scheduler", r.c.status == "completed")
    else:
        query = query.where(r.c.user != "prod-scheduler", r.c.status == "failed")
    with store.read() as conn:
        for row in conn.execute(query.order_by(r.c.started_at.desc()).limit(2000)):
            tags = orjson.loads(row.tags)
            if len(tags) >= 2:
                return Anchor(
                    row.flow_id,
                    row.run_id,
                    row.user,
                    row.status,
                    row.started_at,
                    row.project,
                    row.branch,
                    tuple(tags[:2]),
                )
    raise LookupError("no run in the archive has a project and two tags")


def filters_for(anchor: Anchor, kinds: tuple[str, ...]) -> RunFilters:
    values: dict[str, Any] = {}
    tags = []
    for kind in kinds:
        if kind == "status":
            values["status"] = anchor.status
        elif kind == "flow":
            values["flow_id"] = anchor.flow_id
        elif kind == "user":
            values["user"] = anchor.user
        elif kind == "tag":
            tags.append(anchor.tags[0])
        elif kind == "tag2":
            tags.append(anchor.tags[1])
        elif kind == "range":  # the UI's "last 7 days" around the anchor
            values["started_after"] = anchor.started_at - 7 * 86_400_000
            values["started_before"] = anchor.started_at + 86_400_000
        elif kind == "project":
            values["project"] = anchor.project
        elif kind == "branch":
            values["branch"] = anchor.branch
        elif kind == "q":  # a piece of the run id, as someone pastes it
            values["q"] = anchor.run_id[-9:-3]
    return RunFilters(tags=tuple(tags), **values)


def combinations(
    anchor: Anchor, max_filters: int | None = None
) -> Iterator[tuple[str, RunFilters]]:
    """(label, filters) for every subset of KINDS (up to `max_filters` of them)."""
    top = len(KINDS) if max_filters is None else max_filters
    for size in range(top + 1):
        for kinds in itertools.combinations(KINDS, size):
            yield "+".join(kinds) or "none", filters_for(anchor, kinds)


def variants(anchor: Anchor) -> Iterator[tuple[str, RunFilters]]:
    """Single filters whose values lead to other forms: rare, short or matching nothing."""
    yield "status=running", RunFilters(status="running")
    yield "q, two characters", RunFilters(q=anchor.run_id[-2:])
    yield "q, no match", RunFilters(q="no-such-run")
    yield "q, a flow name", RunFilters(q=anchor.flow_id[2:8])
    yield "tag, common", RunFilters(tags=("nightly",))
    yield "tag, none", RunFilters(tags=("no-such-tag",))
    yield "range, last hour", replace(RunFilters(), started_after=anchor.started_at - 3_600_000)


ORDERS = tuple(RUN_ORDERS)
