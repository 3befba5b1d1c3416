"""What counts as a scan in a PostgreSQL plan (store/explain.py), on plans as PostgreSQL
15 printed them for the runs list at a million runs (python -m bench.scale)."""

from __future__ import annotations

from flowscope.store.explain import scans

INTERSECTION = [
    "Limit",
    "  Sort",
    "    Bitmap Heap Scan on runs",
    "      BitmapAnd",
    "        Bitmap Index Scan using ix_runs_user_started",
    "        Bitmap Index Scan using ix_runs_flow_started",
]
SORTED_INDEX_READ = [
    "Limit",
    "  Sort",
    "    Index Scan using ix_runs_user_started on runs",
]


def test_a_sort_of_an_intersection_of_two_indexes_is_bounded() -> None:
    assert scans(INTERSECTION, sqlite=False, sort_allowed=False) == []


def test_a_sort_of_one_filters_runs_is_not() -> None:
    assert scans(SORTED_INDEX_READ, sqlite=False, sort_allowed=False) == ["Sort"]
    assert scans(SORTED_INDEX_READ, sqlite=False, sort_allowed=True) == []


def test_an_intersection_beside_a_table_scan_is_not() -> None:
    plan = [*INTERSECTION[:2], "    Hash Join", "      Seq Scan on runs", *INTERSECTION[3:]]
    assert "Sort" in scans(plan, sqlite=False, sort_allowed=False)
