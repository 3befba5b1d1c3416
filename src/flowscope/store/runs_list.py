"""The runs list: a page of runs in order, for any mix of filters, read through an index.

Every filter on the list can lead the read (be its *driver*): a runs column (flow, user,
status, project, branch) through its index for the page's sort key; a tag through
`run_tags(tag, started_at, run_pk)`; the start-time range through `ix_runs_started`; a
search through the run id trigram index (store/search.py). The other filters are then
checked on the rows the driver yields. A driver that yields rows in the page's order
stops after one page of matches; one that does not (a tag for a sort by duration) is
used only when it matches fewer than `CAP` runs, whose page is then sorted; otherwise
the list is walked in order and every filter checked.

With two or more filters, the driver is the one that matches fewest runs, found by
counting each filter's matches up to `CAP` (a bounded read of one index each). SQL
planners cannot do this alone: SQLite knows only averages (a tag on 38% of the runs
looks like any other tag), and no planner can read a tag's runs in the order of a column
of another table. So the store picks the form of the query, and on SQLite names the
index (`INDEXED BY`, which fails loudly rather than silently scanning if the index went
missing); PostgreSQL's planner, which has per-value statistics, picks within the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement, Select

from flowscope.store import schema as s
from flowscope.store import search
from flowscope.store.paging import SortKey, fetch_page

RUN_ORDERS = {
    "-started_at": ("started_at", True, False),
    "started_at": ("started_at", False, False),
    "-finished_at": ("finished_at", True, True),
    "finished_at": ("finished_at", False, True),
    "-duration_ms": ("duration_ms", True, True),
    "duration_ms": ("duration_ms", False, True),
}
# A driver matching fewer runs than this is read whole and sorted when its index does not
# give the page's order; counting up to it costs one bounded index read per filter.
CAP = 10_000
# On ties (several filters match at least CAP runs), the filter that usually matches
# fewest leads.
RANK = ("user", "flow_id", "branch", "project", "tag", "range", "status", "search")

r, rt, f = s.runs, s.run_tags, s.flows

RUN_COLUMNS = (
    r.c.pk,
    r.c.flow_id,
    r.c.run_id,
    r.c.user,
    r.c.status,
    r.c.status_reason,
    r.c.started_at,
    r.c.finished_at,
    r.c.duration_ms,
    r.c.tags,
    r.c.system_tags,
    r.c.project,
    r.c.branch,
    r.c.first_failure_step,
    r.c.first_failure_task,
    r.c.caught_count,
    r.c.current_steps,
)


@dataclass
class RunFilters:
    flow_id: str | None = None
    user: str | None = None
    tags: Sequence[str] = ()
    status: str | None = None
    started_after: int | None = None
    started_before: int | None = None
    project: str | None = None
    branch: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Driver:
    kind: str  # a runs column name, "tag", "range" or "search"
    value: Any = None

    def serves(self, sort: str) -> bool:
        """Whether its index yields runs in `sort` order."""
        if self.kind in s.RUN_FILTER_COLUMNS:
            return True
        return self.kind in ("tag", "range") and sort == "started_at"


@dataclass
class Plan:
    """How one page is read: for tests and the benchmark, which check the SQL's plan."""

    form: str  # "walk", "tag", "collect" or "empty"
    driver: Driver | None
    index: str | None
    counts: dict[Driver, int] = field(default_factory=dict)
    cap: int = CAP

    @property
    def may_sort(self) -> bool:
        """Whether the database may sort the driver's rows: only when they are known to
        be fewer than the cap (a collect, or a driver the planner finds small enough)."""
        if self.form == "collect":
            return True
        return self.driver is not None and self.counts.get(self.driver, self.cap) < self.cap


class _Query:
    """The filters of one request as SQL conditions, and the forms of query built from them."""

    def __init__(self, conn: Connection, filters: RunFilters, order: str, cap: int) -> None:
        self.conn = conn
        self.cap = cap
        self.sqlite = conn.dialect.name == "sqlite"
        self.filters = filters
        self.sort, self.descending, self.nullable = RUN_ORDERS[order]
        self.tags = list(dict.fromkeys(filters.tags))
        self.q = filters.q or None
        self.q_flows: list[str] = self._matching_flows() if self.q else []

    # ---- the filters ------------------------------------------------------------------

    def drivers(self) -> list[Driver]:
        found = [
            Driver(column, getattr(self.filters, column))
            for column in s.RUN_FILTER_COLUMNS
            if getattr(self.filters, column) is not None
        ]
        found += [Driver("tag", tag) for tag in self.tags]
        if self.filters.started_after is not None or self.filters.started_before is not None:
            found.append(Driver("range"))
        if self.q:
            found.append(Driver("search", self.q))
        return found

    def _range(self, column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        out = []
        if self.filters.started_after is not None:
            out.append(column >= self.filters.started_after)
        if self.filters.started_before is not None:
            out.append(column < self.filters.started_before)
        return out

    def _like(self, column: ColumnElement[Any], q: str) -> ColumnElement[bool]:
        pattern = search.like_pattern(q)
        # SQLite's LIKE ignores ASCII case already; PostgreSQL's needs ILIKE (which its
        # trigram index serves too).
        if self.sqlite:
            return column.like(pattern, escape="\\")
        return column.ilike(pattern, escape="\\")

    def _matching_flows(self) -> list[str]:
        assert self.q is not None
        return list(
            self.conn.execute(sa.select(f.c.flow_id).where(self._like(f.c.flow_id, self.q)))
            .scalars()
            .all()
        )

    def _search(self) -> ColumnElement[bool]:
        assert self.q is not None
        matches = self._like(r.c.run_id, self.q)
        return sa.or_(matches, r.c.flow_id.in_(self.q_flows)) if self.q_flows else matches

    def conditions(self, skip_tag: str | None = None) -> list[ColumnElement[bool]]:
        """Every filter as a condition on `runs` (less the tag that leads a tag walk)."""
        out: list[ColumnElement[bool]] = [
            r.c[column] == getattr(self.filters, column)
            for column in s.RUN_FILTER_COLUMNS
            if getattr(self.filters, column) is not None
        ]
        out += self._range(r.c.started_at)
        for tag in self.tags:
            if tag != skip_tag:
                other = rt.alias()
                out.append(sa.exists().where(other.c.tag == tag, other.c.run_pk == r.c.pk))
        if self.q:
            out.append(self._search())
        return out

    # ---- counting a driver's matches, up to CAP ---------------------------------------

    def count(self, d: Driver) -> int:
        query: Select[Any]
        if d.kind in s.RUN_FILTER_COLUMNS:
            query = self._hinted(
                sa.select(sa.literal(1)).select_from(r), s.run_index_name("started_at", d.kind)
            ).where(r.c[d.kind] == d.value, *self._range(r.c.started_at))
        elif d.kind == "tag":
            query = sa.select(sa.literal(1)).where(*self._tag_rows(rt, d.value))
        elif d.kind == "range":
            query = self._hinted(sa.select(sa.literal(1)).select_from(r), "ix_runs_started").where(
                *self._range(r.c.started_at)
            )
        else:
            return self._count_search()
        return int(self.conn.execute(_count_upto(query, self.cap)).scalar() or 0)

    def _count_search(self) -> int:
        assert self.q is not None
        if len(self.q) < search.MIN_QUERY:
            return self.cap  # no index finds so short a piece: assume it matches much
        flows = 0
        if self.q_flows:
            flows = int(
                self.conn.execute(
                    sa.select(sa.func.sum(f.c.run_count)).where(f.c.flow_id.in_(self.q_flows))
                ).scalar()
                or 0
            )
        if flows >= self.cap:
            return self.cap
        if self.sqlite:
            fts = sa.table(search.FTS_TABLE, sa.column("rowid"))
            query = (
                sa.select(sa.literal(1))
                .select_from(fts)
                .where(
                    sa.text(f"{search.FTS_TABLE} MATCH :phrase").bindparams(
                        phrase=search.fts_phrase(self.q)
                    )
                )
            )
        else:
            query = sa.select(sa.literal(1)).where(self._like(r.c.run_id, self.q))
        return min(
            self.cap, flows + int(self.conn.execute(_count_upto(query, self.cap)).scalar() or 0)
        )

    # ---- the forms ----------------------------------------------------------------------

    def _tag_rows(self, table: Any, tag: str) -> list[ColumnElement[bool]]:
        """The rows of `run_tags` of one tag's runs that pass the flow and range filters:
        the tag's rows carry their run's flow and start, so a tag counts and walks the
        runs of one flow without reading the others."""
        out = [table.c.tag == tag, *self._range(table.c.started_at)]
        if self.filters.flow_id is not None:
            out.append(table.c.flow_id == self.filters.flow_id)
        return out

    def tag_index(self) -> str:
        if self.filters.flow_id is not None:
            return "ix_run_tags_tag_flow_started"
        return "ix_run_tags_tag_started"

    def _hinted(self, query: Select[Any], index: str, table: Any = r) -> Select[Any]:
        return query.with_hint(table, f"INDEXED BY {index}", "sqlite")

    def walk(self, index: str) -> tuple[Select[Any], SortKey, ColumnElement[Any]]:
        """Read `index` in the page's order, checking every filter on each run."""
        query = self._hinted(sa.select(*RUN_COLUMNS), index).where(*self.conditions())
        return query, self._key(r.c[self.sort]), r.c.pk

    def tag_walk(self, tag: str) -> tuple[Select[Any], SortKey, ColumnElement[Any]]:
        """Read one tag's runs newest (or oldest) first from its index (with the flow's
        runs only, when the list is filtered by flow)."""
        lead = rt.alias("lead")
        query: Select[Any] = (
            sa.select(*RUN_COLUMNS)
            .select_from(lead.join(r, r.c.pk == lead.c.run_pk))
            .where(*self._tag_rows(lead, tag))
            .where(*self.conditions(skip_tag=tag))
        )
        query = self._hinted(query, self.tag_index(), lead)
        # On SQLite the runs are then looked up by primary key, never scanned.
        query = query.with_hint(r, "NOT INDEXED", "sqlite")
        return query, self._key(lead.c.started_at), lead.c.run_pk

    def collect(self, d: Driver) -> tuple[Select[Any], SortKey, ColumnElement[Any]]:
        """Read the (fewer than CAP) runs of one driver through its index, then sort."""
        query = sa.select(*RUN_COLUMNS).where(*self.conditions())
        if d.kind == "range":
            query = self._hinted(query, "ix_runs_started")
        elif d.kind == "tag":
            query = query.where(
                r.c.pk.in_(sa.select(rt.c.run_pk).where(*self._tag_rows(rt, d.value)))
            ).with_hint(r, "NOT INDEXED", "sqlite")
        elif d.kind == "search" and self.sqlite:
            assert self.q is not None
            fts = sa.table(search.FTS_TABLE, sa.column("rowid"))
            matches = sa.select(fts.c.rowid).where(
                sa.text(f"{search.FTS_TABLE} MATCH :phrase").bindparams(
                    phrase=search.fts_phrase(self.q)
                )
            )
            by_flow = [r.c.flow_id.in_(self.q_flows)] if self.q_flows else []
            query = query.where(sa.or_(r.c.pk.in_(matches), *by_flow))
            if not self.q_flows:
                query = query.with_hint(r, "NOT INDEXED", "sqlite")
        return query, self._key(r.c[self.sort]), r.c.pk

    def _key(self, column: ColumnElement[Any]) -> SortKey:
        return SortKey(column, self.descending, self.nullable)


def _count_upto(query: Select[Any], cap: int) -> Select[Any]:
    return sa.select(sa.func.count()).select_from(query.limit(cap).subquery())


def plan_runs(
    conn: Connection, filters: RunFilters, order: str, cap: int = CAP
) -> tuple[_Query, Plan]:
    query = _Query(conn, filters, order, cap)
    sort = query.sort
    drivers = query.drivers()
    if not drivers:
        return query, Plan("walk", None, s.run_index_name(sort))
    if len(drivers) == 1 and drivers[0].serves(sort):
        return query, _serving_plan(drivers[0], sort, {}, query.tag_index())
    counts = {d: query.count(d) for d in drivers}
    if min(counts.values()) == 0:
        return query, Plan("empty", None, None, counts, cap)
    best = min(drivers, key=lambda d: (counts[d], not d.serves(sort), RANK.index(d.kind)))
    if best.serves(sort):
        return query, _serving_plan(best, sort, counts, query.tag_index(), cap)
    if counts[best] < cap:
        return query, Plan("collect", best, None, counts, cap)
    # Every filter matches many runs: walk the list in order (a page needs few of them).
    serving = [d for d in drivers if d.serves(sort)]
    if serving:
        lead = min(serving, key=lambda d: (counts[d], RANK.index(d.kind)))
        return query, _serving_plan(lead, sort, counts, query.tag_index(), cap)
    return query, Plan("walk", None, s.run_index_name(sort), counts, cap)


def _serving_plan(
    d: Driver, sort: str, counts: dict[Driver, int], tag_index: str, cap: int = CAP
) -> Plan:
    if d.kind == "tag":
        return Plan("tag", d, tag_index, counts, cap)
    if d.kind == "range":
        return Plan("walk", d, s.run_index_name(sort), counts, cap)
    return Plan("walk", d, s.run_index_name(sort, d.kind), counts, cap)


def page_of_runs(
    conn: Connection,
    filters: RunFilters,
    order: str,
    limit: int,
    cursor: str | None,
    cap: int = CAP,
) -> tuple[list[Row[Any]], str | None]:
    """One page of rows of RUN_COLUMNS, and the cursor of the next page."""
    return read_page(*plan_runs(conn, filters, order, cap), limit, cursor)


def read_page(
    query: _Query, plan: Plan, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    if plan.form == "empty":
        return [], None
    if plan.form == "tag":
        assert plan.driver is not None
        select, key, pk = query.tag_walk(plan.driver.value)
    elif plan.form == "collect":
        assert plan.driver is not None
        select, key, pk = query.collect(plan.driver)
    else:
        assert plan.index is not None
        select, key, pk = query.walk(plan.index)
    return fetch_page(query.conn, select, key, pk, query.sort, limit, cursor)
