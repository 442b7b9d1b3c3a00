"""What the parsed values say that their types do not: infinities, and the day/month order.

Both are counted in DuckDB after the parse (one aggregate query each, and only over the
columns concerned), so the report can say how many infinities a column holds and whether a
`01/02/2023` column was read day-first because the data proves it or because it had to be
assumed.
"""

from __future__ import annotations

import duckdb

from steps.engine import quote_ident
from steps.load.parse import Plan, aggregate_row, day_month_order
from steps.load.report import DateOrder, plural


def infinities(
    con: duckdb.DuckDBPyConnection, table: str, names: tuple[str, ...], types: tuple[str, ...]
) -> tuple[tuple[str, int], ...]:
    """`(column, count)` of infinite values, for each floating-point column that has any."""
    floats = [n for n, t in zip(names, types, strict=True) if t.upper() in ("DOUBLE", "FLOAT")]
    if not floats:
        return ()
    counts = aggregate_row(
        con,
        quote_ident(table),
        [f"count(*) FILTER (WHERE isinf({quote_ident(n)}))" for n in floats],
    )
    return tuple((n, int(c)) for n, c in zip(floats, counts, strict=True) if c)


def infinity_warnings(found: tuple[tuple[str, int], ...]) -> list[str]:
    return [
        f"Column {column!r} holds {plural(n, 'infinite value')} (inf or -inf), so figures "
        "such as its mean may not be finite."
        for column, n in found
    ]


def date_orders(
    con: duckdb.DuckDBPyConnection, table: str, plan: Plan, types: tuple[str, ...]
) -> tuple[DateOrder, ...]:
    """The order of day and month in each column read with a day/month format.

    A value whose day is above 12 proves the order the format says (under the other order
    it would not have parsed); without one, every value reads both ways.
    """
    formats = {"DATE": plan.date_format, "TIMESTAMP": plan.timestamp_format}
    dated = [
        (n, formats[t.upper()])
        for n, t in zip(plan.names, types, strict=True)
        if t.upper() in formats and day_month_order(formats[t.upper()])
    ]
    if not dated:
        return ()
    proven = aggregate_row(
        con,
        quote_ident(table),
        [f"coalesce(bool_or(day({quote_ident(n)}) > 12), false)" for n, _ in dated],
    )
    return tuple(
        DateOrder(n, day_month_order(fmt), bool(p))
        for (n, fmt), p in zip(dated, proven, strict=True)
    )


def date_order_warnings(orders: tuple[DateOrder, ...]) -> list[str]:
    example = {"day-first": "1 February", "month-first": "2 January"}
    return [
        f"Column {o.column!r} holds dates that read either way (no day is above 12); they "
        f"were read {o.order}, so 01/02 is {example[o.order]}."
        for o in orders
        if not o.proven
    ]
