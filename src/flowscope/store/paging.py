"""Keyset pagination: the one helper every list goes through.

A cursor holds the sort value and the primary key of the last row shown. Rows whose sort
value is NULL (a running run has no finish time) always come last, in primary-key order,
in both directions; this keeps the rule the same on SQLite and PostgreSQL, which disagree
about where NULLs sort.

Every sort value is an integer (epoch or duration milliseconds, a task's numeric key), so
a cursor is `v<pk>_<value>`, or `n<pk>` among the NULLs: a language `CURSOR_PATTERN`
describes exactly, and the OpenAPI spec says so. Any string matching it is a position in
the list, so no cursor the spec allows is refused (issue 12: schemathesis found a
schema-valid cursor rejected when cursors were base64 JSON).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement, Select


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class SortKey:
    column: ColumnElement[Any]
    descending: bool
    nullable: bool


# 18 digits: every such number fits the databases' 64-bit integers.
CURSOR_PATTERN = r"^(n[0-9]{1,18}|v[0-9]{1,18}_-?[0-9]{1,18})$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(value: int | None, pk: int, in_nulls: bool) -> str:
    if in_nulls or value is None:
        return f"n{int(pk)}"
    return f"v{int(pk)}_{int(value)}"


def decode_cursor(cursor: str) -> tuple[int | None, int, bool]:
    """(sort value, pk, among the NULLs) of a cursor; BadCursor when it is not one."""
    if not _CURSOR.fullmatch(cursor):
        raise BadCursor("invalid cursor: use the next_cursor of the previous page")
    if cursor[0] == "n":
        return None, int(cursor[1:]), True
    pk, _, value = cursor[1:].partition("_")
    return int(value), int(pk), False


def fetch_page(
    conn: Connection,
    query: Select[Any],
    key: SortKey,
    pk: ColumnElement[Any],
    sort_field: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """Run `query` one page at a time, ordered by `key` then `pk`.

    `sort_field` names the selected column holding the sort value, to build the next cursor.
    """
    after_value, after_pk, in_nulls = (
        (None, None, False) if cursor is None else decode_cursor(cursor)
    )
    rows: list[Row[Any]] = []
    if not in_nulls:
        page = query.where(key.column.is_not(None)) if key.nullable else query
        if after_pk is not None:
            bound = sa.tuple_(key.column, pk)
            page = page.where(
                bound < sa.tuple_(sa.literal(after_value), sa.literal(after_pk))
                if key.descending
                else bound > sa.tuple_(sa.literal(after_value), sa.literal(after_pk))
            )
        order = (key.column.desc(), pk.desc()) if key.descending else (key.column.asc(), pk.asc())
        rows = list(conn.execute(page.order_by(*order).limit(limit + 1)).all())
        if len(rows) > limit:
            return rows[:limit], _cursor_after(rows[limit - 1], sort_field)
        after_pk = None
    if key.nullable:
        page = query.where(key.column.is_(None))
        if in_nulls and after_pk is not None:
            page = page.where(pk > after_pk)
        rows.extend(conn.execute(page.order_by(pk.asc()).limit(limit - len(rows) + 1)).all())
        if len(rows) > limit:
            return rows[:limit], _cursor_after(rows[limit - 1], sort_field)
    return rows, None


def _cursor_after(row: Row[Any], sort_field: str) -> str:
    value = row._mapping[sort_field]
    return encode_cursor(value, row.pk, value is None)
