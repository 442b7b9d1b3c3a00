"""Colour groups and bars in SQL: the most frequent values of a column, the rest merged into
"(other)", missing values as "(missing)"; rows split per group in that order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from steps.engine import quote_ident, quote_literal

OTHER = "(other)"
MISSING = "(missing)"


@dataclass(frozen=True)
class _Grouping:
    """A SQL expression naming each row's group: the top values, "(other)", "(missing)"."""

    sql: str
    order: tuple[str, ...]
    merged: bool


def _grouping(
    con: duckdb.DuckDBPyConnection, table: str, column: str | None, limit: int
) -> _Grouping:
    if column is None:
        return _Grouping("NULL", (), False)
    text = f"CAST({quote_ident(column)} AS VARCHAR)"
    top = con.execute(
        f"SELECT {text} AS v FROM {quote_ident(table)} WHERE v IS NOT NULL "
        f"GROUP BY v ORDER BY count(*) DESC, v LIMIT {limit + 1}"
    ).fetchall()
    values = [v for (v,) in top]
    merged = len(values) > limit
    kept = values[: limit - 1] if merged else values
    listed = ", ".join(quote_literal(v) for v in kept) or "NULL"
    sql = (
        f"CASE WHEN {text} IS NULL THEN {quote_literal(MISSING)} "
        f"WHEN {text} IN ({listed}) THEN {text} ELSE {quote_literal(OTHER)} END"
    )
    return _Grouping(sql, (*kept, OTHER, MISSING), merged)


def _by_group(rows: Sequence[tuple], grouping: _Grouping) -> dict[str | None, list[tuple]]:
    """Rows (group first) split per group, groups in the grouping's order."""
    split: dict[str | None, list[tuple]] = {}
    for group, *rest in rows:
        split.setdefault(group, []).append(tuple(rest))
    rank = {name: i for i, name in enumerate(grouping.order)}
    return dict(sorted(split.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def _merged_note(*groupings: _Grouping) -> str:
    if any(g.merged for g in groupings):
        return f" Only the most frequent values are shown; the rest are merged into {OTHER}."
    return ""
