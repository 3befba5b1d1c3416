"""Every filter combination of the runs list reads through an index, on both databases,
and returns what filtering every run by hand returns (issue 10).

The archive is the benchmark's generator at a small size (bench/archive.py). On
PostgreSQL, whose planner rightly prefers a scan of so small a table, each plan is asked
for with scans priced out: the test checks that an index *can* serve every query in its
order; the scale benchmark checks the plans chosen at a million runs. The store
picks how to read a page by counting each filter's matches up to a cap (10,000); here the
cap is also set to 40, so that at this size both sides of every choice are exercised:
drivers read whole and sorted, and drivers walked in order. How fast the plans are at a
million runs is measured by `python -m bench.scale`, which checks the same list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from bench.archive import generate_archive
from bench.runs_filters import ORDERS, combinations, find_anchor, variants
from tests.pg import fresh_pg

from flowscope.store import RunFilters, Store
from flowscope.store import schema as s
from flowscope.store.explain import capture, explain, scans
from flowscope.store.runs_list import RUN_ORDERS, page_of_runs, plan_runs, read_page

RUNS = 6000
CAPS = (10_000, 40)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def archive(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('archive') / 'index.sqlite'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    generate_archive(url, RUNS, 500, seed=3, progress=False)
    store = Store(url)
    yield store
    store.close()


def _cases(store: Store, max_filters: int | None) -> Iterator[tuple[str, RunFilters]]:
    yield from combinations(find_anchor(store, scheduled=False), max_filters=max_filters)
    yield from combinations(find_anchor(store, scheduled=True), max_filters=2)
    yield from variants(find_anchor(store, scheduled=False))


def _plan_cases(store: Store) -> Iterator[tuple[str, RunFilters, str, int]]:
    """Every pair of filters in every order (on both sides of the cap), and every subset of
    all nine in the default order: about 1,200 pages a database. (The scale benchmark
    checks every subset in every order, at a million runs.)"""
    for label, filters in _cases(store, max_filters=2):
        for order in ORDERS:
            yield label, filters, order, CAPS[1]
    for label, filters in combinations(find_anchor(store, scheduled=False)):
        yield label, filters, "-started_at", CAPS[1]
    for label, filters in _cases(store, max_filters=2):
        for order in ORDERS:
            yield label, filters, order, CAPS[0]


def test_every_filter_combination_reads_through_an_index(archive: Store) -> None:
    sqlite = archive.is_sqlite
    problems = []
    forms = set()
    for label, filters, order, cap in _plan_cases(archive):
        with archive.read() as conn, capture(archive.engine) as statements:
            query, plan = plan_runs(conn, filters, order, cap)
            read_page(query, plan, 100, None)
            forms.add(plan.form)
            for statement in statements:
                sort_ok = plan.may_sort
                lines = explain(conn, statement, index_only=True, sort_allowed=sort_ok)
                bad = scans(lines, sqlite, sort_allowed=sort_ok)
                if bad:
                    problems.append(f"{label} {order} cap={cap} {plan}: {bad}")
    assert problems == []
    assert forms == {"walk", "tag", "collect", "empty"}


def _all_runs(store: Store) -> list[dict]:
    r = s.runs
    with store.read() as conn:
        rows = conn.execute(sa.select(r.c.pk, r.c.flow_id, r.c.run_id, r.c.user, r.c.status,
                                      r.c.started_at, r.c.finished_at, r.c.duration_ms,
                                      r.c.tags, r.c.system_tags, r.c.project, r.c.branch))  # fmt: skip
        return [
            {**row._mapping, "all_tags": {*orjson.loads(row.tags), *orjson.loads(row.system_tags)}}
            for row in rows
        ]


def _matches(run: dict, f: RunFilters) -> bool:
    q = (f.q or "").lower()
    return (
        all(
            getattr(f, k) is None or run[k] == getattr(f, k)
            for k in ("flow_id", "user", "status", "project", "branch")
        )
        and all(tag in run["all_tags"] for tag in f.tags)
        and (f.started_after is None or run["started_at"] >= f.started_after)
        and (f.started_before is None or run["started_at"] < f.started_before)
        and (not q or q in run["run_id"].lower() or q in run["flow_id"].lower())
    )


def _expected(runs: list[dict], f: RunFilters, order: str, limit: int) -> list[str]:
    field, descending, _ = RUN_ORDERS[order]
    chosen = [run for run in runs if _matches(run, f)]
    present = [run for run in chosen if run[field] is not None]
    present.sort(key=lambda run: (run[field], run["pk"]), reverse=descending)
    missing = sorted((run for run in chosen if run[field] is None), key=lambda run: run["pk"])
    return [run["run_id"] for run in (present + missing)[:limit]]


def test_every_filter_combination_gives_what_filtering_every_run_gives(archive: Store) -> None:
    runs = _all_runs(archive)
    wrong = []
    for label, filters in _cases(archive, max_filters=2):
        for order in ORDERS:
            want = _expected(runs, filters, order, 60)
            for cap in CAPS:
                with archive.read() as conn:
                    page, cursor = page_of_runs(conn, filters, order, 30, None, cap)
                    if cursor is not None:
                        more, _ = page_of_runs(conn, filters, order, 30, cursor, cap)
                        page += more
                got = [row.run_id for row in page]
                if got != want:
                    wrong.append(f"{label} {order} cap={cap}: {len(got)} runs, wanted {len(want)}")
    assert wrong == []
    assert any(_expected(runs, f, "-started_at", 1) for _, f in _cases(archive, 2))


def test_a_search_matches_pieces_of_run_ids_in_any_case(archive: Store) -> None:
    runs = _all_runs(archive)
    argo = next(run for run in runs if run["run_id"].startswith("argo-"))
    piece = argo["run_id"][-6:].upper()
    for cap in CAPS:
        with archive.read() as conn:
            page, _ = page_of_runs(conn, RunFilters(q=piece), "-started_at", 100, None, cap)
        assert argo["run_id"] in [row.run_id for row in page]


def test_a_new_run_is_searchable_at_once(archive: Store, tmp_path: Path) -> None:
    del tmp_path
    from flowscope.store.records import RunRecord

    source = archive.source_id("test", "search")
    record = RunRecord("SearchFlow", "zq-search-77", "ann", "completed", None, 1, 2, ["a"], [])
    with archive.run_writer(source) as writer:
        pk = writer.claim_run(record.flow_id, record.run_id, 1)
        assert pk is not None
        writer.write_run(pk, record)
    try:
        items, _ = archive.list_runs(RunFilters(q="search-7"), "-started_at", 10, None)
        assert [i["run_id"] for i in items] == ["zq-search-77"]
    finally:
        with archive.read() as conn:
            pk = conn.execute(
                sa.select(s.runs.c.pk).where(s.runs.c.run_id == "zq-search-77")
            ).scalar()
        archive.delete_runs([pk])
    items, _ = archive.list_runs(RunFilters(q="search-7"), "-started_at", 10, None)
    assert items == []


def test_runs_written_in_bulk_are_searchable_and_the_trigger_survives(archive: Store) -> None:
    """The first sync's bulk insert fills the search index in one statement, with the
    per-run trigger dropped inside its transaction (store/search.py filled_after): its
    runs are found, and afterwards, even after a bulk insert that failed, the trigger is
    there again for every other writer."""
    from flowscope.store.bulk import prepare
    from flowscope.store.records import RunRecord, WholeRun

    def whole(run_id: str) -> WholeRun:
        return WholeRun(
            RunRecord("SearchFlow", run_id, "ann", "completed", None, 1, 2, ["a"], []), [], []
        )

    source = archive.source_id("test", "bulk-search")
    written = archive.insert_new_runs(source, prepare([whole("zq-bulk-81"), whole("zq-bulk-82")]))
    assert written == [0, 1]
    twice = prepare([whole("zq-bulk-83"), whole("zq-bulk-83")])  # one run id twice: refused
    with pytest.raises(sa.exc.IntegrityError):
        archive.insert_new_runs(source, twice)
    with archive.run_writer(source) as writer:
        pk = writer.claim_run("SearchFlow", "zq-bulk-84", 1)
        assert pk is not None
        writer.write_run(pk, whole("zq-bulk-84").run)
    try:
        items, _ = archive.list_runs(RunFilters(q="q-bulk-8"), "-started_at", 10, None)
        assert sorted(i["run_id"] for i in items) == ["zq-bulk-81", "zq-bulk-82", "zq-bulk-84"]
    finally:
        with archive.read() as conn:
            pks = (
                conn.execute(sa.select(s.runs.c.pk).where(s.runs.c.run_id.like("zq-bulk-%")))
                .scalars()
                .all()
            )
        archive.delete_runs(list(pks))
    items, _ = archive.list_runs(RunFilters(q="q-bulk-8"), "-started_at", 10, None)
    assert items == []


def test_a_flows_runs_with_a_tag_none_of_them_has_are_known_empty_unread(archive: Store) -> None:
    """A flow and a tag that each match many runs but no run together: the tag's rows carry
    their run's flow, so counting the tag within the flow finds none and no run is read
    (at a million runs the walk of the flow's runs took 0.2 s on SQLite, 2.7 s on
    PostgreSQL)."""
    runs = _all_runs(archive)
    by_flow: dict[str, set[str]] = {}
    for run in runs:
        by_flow.setdefault(run["flow_id"], set()).update(run["all_tags"])
    size = {flow: sum(r["flow_id"] == flow for r in runs) for flow in by_flow}
    every_tag = {tag for tags in by_flow.values() for tag in tags}
    flow, tag = next(
        (flow, tag)
        for flow, tags in sorted(by_flow.items(), key=lambda item: (-size[item[0]], item[0]))
        for tag in sorted(every_tag - tags)
        if sum(tag in r["all_tags"] for r in runs) >= 40
    )
    assert size[flow] >= 40  # both filters match more runs than the cap
    filters = RunFilters(flow_id=flow, tags=[tag])
    with archive.read() as conn:
        _, plan = plan_runs(conn, filters, "-started_at", cap=40)
        page, cursor = page_of_runs(conn, filters, "-started_at", 30, None, 40)
    assert plan.form == "empty"
    assert (page, cursor) == ([], None)
    # A tag that a few of the flow's runs have leads, reading only those runs' tag rows,
    # in order.
    within = {
        tag: sum(r["flow_id"] == flow and tag in r["all_tags"] for r in runs)
        for tag in by_flow[flow]
    }
    shared = min((tag for tag, n in within.items() if n < 40), key=lambda tag: (within[tag], tag))
    with archive.read() as conn:
        _, plan = plan_runs(conn, RunFilters(flow_id=flow, tags=[shared]), "-started_at", cap=40)
        page, _ = page_of_runs(
            conn, RunFilters(flow_id=flow, tags=[shared]), "-started_at", 60, None, 40
        )
    assert plan.form == "tag" and plan.index == "ix_run_tags_tag_flow_started"
    assert len(page) == within[shared]
