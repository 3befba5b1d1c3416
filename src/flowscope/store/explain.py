"""What the database does for a request: its SQL statements and their query plans.

For the test that every filter combination of the runs list reads through an index
(tests/test_runs_plans.py) and for the scale benchmark, which prints the plan of any
request that misses its target. A plan *scans* when it reads a table without an index, or
sorts rows that are not bounded by the page (a driver's few runs may be sorted; a
million may not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

BIG_TABLES = ("runs", "run_tags", "tasks", "attempts", "steps", "events")


@dataclass
class Statement:
    sql: str
    parameters: Any
    plan: list[str] = field(default_factory=list)


@contextmanager
def capture(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement run on `engine` inside the block (EXPLAINs and event polls aside)."""
    seen: list[Statement] = []

    def remember(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if not sql.lstrip().upper().startswith("EXPLAIN") and "FROM events" not in sql:
            seen.append(Statement(sql, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def explain(
    conn: Connection, statement: Statement, index_only: bool = False, sort_allowed: bool = True
) -> list[str]:
    """The plan as lines: SQLite's EXPLAIN QUERY PLAN details, or PostgreSQL's nodes.

    `index_only` asks PostgreSQL for its plan with sequential scans (and, unless
    `sort_allowed`, sorts) priced out: on a small database a scan is cheaper and rightly
    chosen, so a test there asks instead whether an index *can* serve the query in order.
    (SQLite's plans here are fixed by the store's INDEXED BY, whatever the size.)"""
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if index_only and conn.dialect.name != "sqlite":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"SET LOCAL enable_sort = {'on' if sort_allowed else 'off'}")
        if conn.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters)
            statement.plan = [str(row[-1]) for row in cursor.fetchall()]
        else:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {statement.sql}", statement.parameters)
            raw = cursor.fetchone()[0]
            tree = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            statement.plan = list(_pg_lines(tree[0]["Plan"], 0))
    finally:
        cursor.close()
    return statement.plan


def _pg_lines(node: dict[str, Any], depth: int) -> Iterator[str]:
    label = node["Node Type"]
    if "Relation Name" in node:
        label += f" on {node['Relation Name']}"
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    yield "  " * depth + label
    for child in node.get("Plans", ()):
        yield from _pg_lines(child, depth + 1)


def scans(plan: list[str], sqlite: bool, sort_allowed: bool) -> list[str]:
    """The lines of a plan that read a big table whole, or sort when they may not.

    On PostgreSQL a sort of an intersection of indexes (BitmapAnd under the sort) is
    bounded by the rarer filter, not by the table: its planner, which knows how many runs
    each value has, chooses it when two filters together match few runs, and reading
    either index in order would then walk far more of them."""
    bad = []
    for i, line in enumerate(plan):
        text = line.strip()
        if (
            not sqlite
            and text.split(" ")[0] in ("Sort", "Incremental")
            and _sorts_an_intersection(plan, i)
        ):
            continue
        if sqlite:
            words = text.split()
            if (
                (
                    len(words) >= 2
                    and words[0] == "SCAN"
                    and words[1] in BIG_TABLES
                    and "INDEX" not in text
                )
                or "TEMP B-TREE" in text
                and not sort_allowed
            ):
                bad.append(text)
        else:
            if (
                text.startswith("Seq Scan on ")
                and text.split()[3] in BIG_TABLES
                or text.split(" ")[0] in ("Sort", "Incremental")
                and not sort_allowed
            ):
                bad.append(text)
    return bad


def _sorts_an_intersection(plan: list[str], at: int) -> bool:
    depth = len(plan[at]) - len(plan[at].lstrip())
    below = []
    for line in plan[at + 1 :]:
        if len(line) - len(line.lstrip()) <= depth:
            break
        below.append(line.strip())
    return any(line == "BitmapAnd" for line in below) and not any(
        line.startswith("Seq Scan") for line in below
    )


def explain_all(engine: Engine, action: Callable[[], Any]) -> tuple[Any, list[Statement]]:
    """Run `action`, then explain every statement it ran."""
    with capture(engine) as seen:
        result = action()
    with engine.connect() as conn:
        for statement in seen:
            explain(conn, statement)
    return result, seen
