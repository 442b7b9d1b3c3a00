"""The builders: one per chart kind, each aggregating or sampling in DuckDB so the data
behind a chart stays bounded whatever the table's size; `build` picks one."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from steps.chart_builder.data import (
    BinnedSeries,
    BoxSeries,
    ChartData,
    ChartProblem,
    ChartSpec,
    XYSeries,
)
from steps.chart_builder.groups import _by_group, _Grouping, _grouping, _merged_note
from steps.chart_builder.kinds import column_kinds
from steps.chart_builder.rules import problem
from steps.engine import Column, columns, quote_ident
from steps.statistics import Bins, sample_rows, value_sql

MAX_POINTS = 2_000
MAX_LINE_POINTS = 1_000
MAX_GROUPS = 12
MAX_BARS = 40
HISTOGRAM_BINS = 30


@dataclass(frozen=True)
class _Context:
    con: duckdb.DuckDBPyConnection
    table: str
    spec: ChartSpec
    by_name: Mapping[str, Column]
    n_rows: int
    max_points: int
    seed: int

    @property
    def source(self) -> str:
        return quote_ident(self.table)

    def value(self, name: str) -> str:
        return value_sql(self.by_name[name])

    def grouping(self, name: str | None, limit: int = MAX_GROUPS) -> _Grouping:
        return _grouping(self.con, self.table, name, limit)


def _scatter(ctx: _Context) -> ChartData | str:
    spec = ctx.spec
    colour = ctx.grouping(spec.color)
    x, y = ctx.value(spec.x), ctx.value(spec.y)
    rows, total = sample_rows(
        ctx.con, ctx.source, [colour.sql, x, y], [x, y], max_rows=ctx.max_points, seed=ctx.seed
    )
    if total == 0:
        return f"No row has values for both {spec.x!r} and {spec.y!r}."
    series = tuple(
        XYSeries(name, tuple(p[0] for p in points), tuple(p[1] for p in points))
        for name, points in _by_group(rows, colour).items()
    )
    sampled = total > len(rows)
    note = (
        f"Seeded sample of {len(rows):,} of the {total:,} rows with both values."
        if sampled
        else f"All {total:,} rows with both values."
    )
    return ChartData(
        spec, spec.x, spec.y, series, ctx.n_rows, total, sampled, note + _merged_note(colour)
    )


def _line(ctx: _Context) -> ChartData | str:
    spec = ctx.spec
    colour = ctx.grouping(spec.color)
    column = ctx.by_name[spec.x]
    x = ctx.value(spec.x)
    position = f"epoch_us(CAST({x} AS TIMESTAMP))::DOUBLE" if column.is_temporal else x
    present = f"({x}) IS NOT NULL" + (f" AND ({ctx.value(spec.y)}) IS NOT NULL" if spec.y else "")
    measure = f"avg({ctx.value(spec.y)})" if spec.y else "count(*)"
    where = f"FROM {ctx.source} WHERE {present}"
    distinct, used, lo, hi = ctx.con.execute(
        f"SELECT count(DISTINCT {position}), count(*), min({position}), max({position}) {where}"
    ).fetchall()[0]
    if used == 0:
        return f"No row has a value for {spec.x!r}" + (f" and {spec.y!r}." if spec.y else ".")
    what = f"Mean of {spec.y}" if spec.y else "Row count"
    if distinct <= MAX_LINE_POINTS:
        rows = ctx.con.execute(
            f"SELECT {colour.sql} AS g, {x} AS px, {measure} {where} GROUP BY ALL ORDER BY px"
        ).fetchall()
        note = f"{what} per {spec.x}, all {used:,} rows aggregated in DuckDB."
    else:
        bins = Bins.over(lo, hi, MAX_LINE_POINTS)
        edges = bins.edges()
        binned = ctx.con.execute(
            f"SELECT {colour.sql} AS g, {bins.index_sql(position)} AS b, {measure} {where} "
            "GROUP BY ALL ORDER BY b"
        ).fetchall()
        centre = _centres(edges, column.is_temporal)
        rows = [(g, centre[b], v) for g, b, v in binned]
        note = (
            f"{what} per bin of {spec.x} ({bins.count:,} equal-width bins), "
            f"all {used:,} rows aggregated in DuckDB."
        )
    series = tuple(
        XYSeries(name, tuple(p[0] for p in points), tuple(p[1] for p in points))
        for name, points in _by_group(rows, colour).items()
    )
    y_label = f"mean of {spec.y}" if spec.y else "rows"
    return ChartData(
        spec, spec.x, y_label, series, ctx.n_rows, int(used), False, note + _merged_note(colour)
    )


def _centres(edges: Sequence[float], temporal: bool) -> list:
    middle = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    if not temporal:
        return middle
    epoch = dt.datetime(1970, 1, 1)
    return [epoch + dt.timedelta(microseconds=round(m)) for m in middle]


def _bar(ctx: _Context) -> ChartData | str:
    spec = ctx.spec
    bars, colour = ctx.grouping(spec.x, MAX_BARS), ctx.grouping(spec.color)
    y = ctx.value(spec.y) if spec.y else None
    where = f"WHERE ({y}) IS NOT NULL" if y else ""
    measure = f"avg({y})" if y else "count(*)"
    rows = ctx.con.execute(
        f"SELECT {colour.sql} AS g, {bars.sql} AS bar, {measure}, count(*) "
        f"FROM {ctx.source} {where} GROUP BY ALL"
    ).fetchall()
    if not rows:
        return f"No row has a value for {spec.y!r}."
    order = [b for b in bars.order if any(r[1] == b for r in rows)]
    series = []
    for name, cells in _by_group(rows, colour).items():
        value = {bar: v for bar, v, _ in cells}
        fill = None if y else 0
        series.append(XYSeries(name, tuple(order), tuple(value.get(b, fill) for b in order)))
    used = sum(r[3] for r in rows)
    what = f"Mean of {spec.y}" if y else "Row count"
    note = f"{what} per {spec.x}, all {used:,} rows aggregated in DuckDB."
    y_label = f"mean of {spec.y}" if y else "rows"
    return ChartData(
        spec,
        spec.x,
        y_label,
        tuple(series),
        ctx.n_rows,
        used,
        False,
        note + _merged_note(bars, colour),
    )


def _histogram(ctx: _Context) -> ChartData | str:
    spec = ctx.spec
    colour = ctx.grouping(spec.color)
    x = ctx.value(spec.x)
    used, lo, hi = ctx.con.execute(
        f"SELECT count({x}), min({x}), max({x}) FROM {ctx.source}"
    ).fetchall()[0]
    if used == 0:
        return f"Column {spec.x!r} has no values to count."
    bins = Bins.over(lo, hi, HISTOGRAM_BINS)
    rows = ctx.con.execute(
        f"SELECT {colour.sql} AS g, {bins.index_sql(x)} AS b, count(*) FROM {ctx.source} "
        f"WHERE ({x}) IS NOT NULL GROUP BY ALL"
    ).fetchall()
    edges = bins.edges()
    series = []
    for name, cells in _by_group(rows, colour).items():
        found = dict(cells)
        counts = tuple(int(found.get(b, 0)) for b in range(bins.count))
        series.append(BinnedSeries(name, edges, counts))
    note = f"{bins.count} equal-width bins over all {used:,} values, counted in DuckDB."
    return ChartData(
        spec, spec.x, "rows", tuple(series), ctx.n_rows, used, False, note + _merged_note(colour)
    )


def _box(ctx: _Context) -> ChartData | str:
    spec = ctx.spec
    groups = ctx.grouping(spec.x)
    y = ctx.value(spec.y)
    rows = ctx.con.execute(
        f"""
        WITH src AS (
            SELECT {groups.sql} AS g, {y} AS y FROM {ctx.source} WHERE ({y}) IS NOT NULL
        ), q AS (
            SELECT g, count(*) AS n, favg(y) AS mean,
                   quantile_cont(y, [0.25, 0.5, 0.75]) AS qs
            FROM src GROUP BY g
        ), f AS (
            SELECT g, n, mean, qs[1] AS q1, qs[2] AS q2, qs[3] AS q3,
                   qs[1] - 1.5 * (qs[3] - qs[1]) AS lo, qs[3] + 1.5 * (qs[3] - qs[1]) AS hi
            FROM q
        )
        SELECT f.g, any_value(n), any_value(q1), any_value(q2), any_value(q3),
               min(y) FILTER (WHERE y >= lo), max(y) FILTER (WHERE y <= hi),
               any_value(mean), count(*) FILTER (WHERE y < lo), count(*) FILTER (WHERE y > hi)
        FROM src JOIN f ON f.g IS NOT DISTINCT FROM src.g
        GROUP BY f.g
        """
    ).fetchall()
    if not rows:
        return f"Column {spec.y!r} has no values to summarise."
    series = tuple(
        BoxSeries(name, int(n), q1, q2, q3, lo, hi, mean, int(low), int(high))
        for name, [(n, q1, q2, q3, lo, hi, mean, low, high)] in _by_group(rows, groups).items()
    )
    used = sum(s.n for s in series)
    note = (
        f"Quartiles per group over all {used:,} values, computed in DuckDB; whiskers reach "
        "the most extreme values within 1.5 IQR."
    )
    return ChartData(
        spec, spec.x or "", spec.y, series, ctx.n_rows, used, False, note + _merged_note(groups)
    )


_BUILDERS = {
    "scatter": _scatter,
    "line": _line,
    "bar": _bar,
    "histogram": _histogram,
    "box": _box,
}


def build(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: ChartSpec,
    *,
    kinds: Mapping[str, str] | None = None,
    max_points: int = MAX_POINTS,
    seed: int = 42,
) -> ChartData | ChartProblem:
    """Bounded, aggregated data for the chart, or the sentence saying why it cannot be drawn.

    Pass `kinds` (e.g. from `column_kinds`, or Step 1's overview): columns it names skip
    the kind scan.
    """
    why = problem(spec, column_kinds(con, table, kinds))
    if why is not None:
        return ChartProblem(spec, why)
    by_name = {c.name: c for c in columns(con, table)}
    n_rows = _count(con, f"SELECT count(*) FROM {quote_ident(table)}")
    ctx = _Context(con, table, spec, by_name, n_rows, max_points, seed)
    result = _BUILDERS[spec.kind](ctx)
    return ChartProblem(spec, result) if isinstance(result, str) else result


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])
