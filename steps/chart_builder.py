"""Chart builder: x / y / colour over any table, with bounded payloads whatever its size.

Each chart kind accepts only sensible column kinds per role (`options`), so the dropdowns
offer nothing that cannot be drawn; a combination that still cannot be drawn comes back as
a `ChartProblem` with one sentence, never an exception. The data behind a chart is always
aggregated or sampled in DuckDB first: bars are counts or means per category, histograms
are binned counts, box plots are quartiles per group, lines are means per x (or per bin of
x), scatter plots a seeded sample. At most `MAX_GROUPS` colour groups and `MAX_BARS` bars
are drawn; the rest are merged into "(other)", and the chart's note says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import duckdb
import plotly.graph_objects as go

from steps.charts import TEMPLATE, escape
from steps.engine import Column, columns, quote_ident, quote_literal
from steps.errors import ChartBuilderError
from steps.results import ToDict
from steps.statistics import Bins, sample_rows, value_sql

ChartKind = Literal["scatter", "line", "bar", "histogram", "box"]
ColumnKind = Literal["numeric", "categorical", "datetime", "boolean", "text", "identifier"]
CHART_KINDS: tuple[str, ...] = ("scatter", "line", "bar", "histogram", "box")
COLUMN_KINDS: tuple[str, ...] = (
    "numeric",
    "categorical",
    "datetime",
    "boolean",
    "text",
    "identifier",
)
MAX_POINTS = 2_000
MAX_LINE_POINTS = 1_000
MAX_GROUPS = 12
MAX_BARS = 40
HISTOGRAM_BINS = 30
CATEGORICAL_MAX_DISTINCT = 100
IDENTIFIER_MIN_ROWS = 20
IDENTIFIER_MAX_LENGTH = 40
OTHER = "(other)"
MISSING = "(missing)"

_GROUPS = frozenset({"categorical", "boolean"})
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_UNSIGNED_WIDE = ("UINTEGER", "UBIGINT", "UHUGEINT")
_ID_NAME = re.compile(r"(?:^|[^A-Za-z])(?:id|ID|Id|uuid|UUID|key)$|[a-z](?:Id|ID)$")


@dataclass(frozen=True)
class ChartSpec(ToDict):
    kind: str
    x: str | None = None
    y: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class BuilderOptions(ToDict):
    """The columns worth offering per role; an empty tuple means the role is not used."""

    kind: str
    x: tuple[str, ...]
    y: tuple[str, ...]
    color: tuple[str, ...]
    required: tuple[str, ...]


@dataclass(frozen=True)
class ChartProblem(ToDict):
    """Why this combination cannot be drawn, in one sentence (escape it where rendered)."""

    spec: ChartSpec
    message: str


@dataclass(frozen=True)
class XYSeries(ToDict):
    """Points, a line or bars for one colour group (`name` None when not grouped)."""

    name: str | None
    x: tuple
    y: tuple


@dataclass(frozen=True)
class BinnedSeries(ToDict):
    name: str | None
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class BoxSeries(ToDict):
    """One box: quartiles, whiskers at the most extreme values within 1.5 IQR, outlier counts."""

    name: str | None
    n: int
    q1: float
    median: float
    q3: float
    lower_fence: float
    upper_fence: float
    mean: float
    outliers_low: int
    outliers_high: int


@dataclass(frozen=True)
class ChartData(ToDict):
    """What a chart needs, already bounded; `note` says how it was aggregated or sampled."""

    spec: ChartSpec
    x_label: str
    y_label: str
    series: tuple[XYSeries | BinnedSeries | BoxSeries, ...]
    n_rows: int
    n_used: int
    sampled: bool
    note: str


@dataclass(frozen=True)
class _Rule:
    label: str
    x: frozenset[str]
    y: frozenset[str]
    color: frozenset[str]
    required: tuple[str, ...]
    unused: Mapping[str, str]


_NUMERIC = frozenset({"numeric"})
_ORDERED = frozenset({"numeric", "datetime"})
_NONE: frozenset[str] = frozenset()
_RULES: dict[str, _Rule] = {
    "scatter": _Rule("scatter plot", _ORDERED, _NUMERIC, _GROUPS, ("x", "y"), {}),
    "line": _Rule("line chart", _ORDERED, _NUMERIC, _GROUPS, ("x",), {}),
    "bar": _Rule("bar chart", _GROUPS, _NUMERIC, _GROUPS, ("x",), {}),
    "histogram": _Rule(
        "histogram",
        _NUMERIC,
        _NONE,
        _GROUPS,
        ("x",),
        {"y": "it counts the rows in each bin of x"},
    ),
    "box": _Rule(
        "box plot",
        _GROUPS,
        _NUMERIC,
        _NONE,
        ("y",),
        {"color": "choose a categorical x to split the boxes into groups"},
    ),
}


# --------------------------------------------------------------------------- column kinds


def _is_integer(column: Column) -> bool:
    return column.dtype.upper().startswith(_INTEGER_TYPES + _UNSIGNED_WIDE)


def _kind_sql(column: Column) -> list[str]:
    """The aggregates the kind rule needs for this column (none for numbers that are not ids)."""
    ident = quote_ident(column.name)
    if column.is_boolean or (column.is_temporal and not _time_of_day(column)):
        return []
    if column.is_numeric and not (_is_integer(column) and _ID_NAME.search(column.name)):
        return []
    length = f"max(length(CAST({ident} AS VARCHAR)))"
    return [f"count(DISTINCT {ident})", f"count({ident})", length]


def _time_of_day(column: Column) -> bool:
    return column.dtype.upper().startswith("TIME") and not column.dtype.upper().startswith(
        "TIMESTAMP"
    )


def _kind(column: Column, stats: Sequence[int] | None) -> str:
    if column.is_boolean:
        return "boolean"
    if column.is_temporal and not _time_of_day(column):
        return "datetime"
    unique = stats is not None and stats[0] == stats[1] and stats[1] >= IDENTIFIER_MIN_ROWS
    if column.is_numeric:
        return "identifier" if unique else "numeric"
    if unique and (stats[2] or 0) <= IDENTIFIER_MAX_LENGTH:
        return "identifier"
    if stats is not None and stats[0] <= CATEGORICAL_MAX_DISTINCT:
        return "categorical"
    return "text"


def column_kinds(
    con: duckdb.DuckDBPyConnection, table: str, kinds: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each column's kind: `kinds` where given, else a simple rule in one scan.

    Numbers are numeric unless an integer column named like an id holds unique values;
    text is an identifier when unique and short, categorical up to
    `CATEGORICAL_MAX_DISTINCT` distinct values, free text beyond.
    """
    given = dict(kinds or {})
    for name, kind in given.items():
        if kind not in COLUMN_KINDS:
            raise ChartBuilderError(
                f"Column {name!r} has kind {kind!r}; use one of {', '.join(COLUMN_KINDS)}."
            )
    cols = [c for c in columns(con, table) if c.name not in given]
    wanted = {c.name: _kind_sql(c) for c in cols}
    flat = [sql for parts in wanted.values() for sql in parts]
    row = (
        con.execute(f"SELECT {', '.join(flat)} FROM {quote_ident(table)}").fetchall()[0]
        if flat
        else ()
    )
    found: dict[str, str] = {}
    at = 0
    for col in cols:
        width = len(wanted[col.name])
        found[col.name] = _kind(col, row[at : at + width] if width else None)
        at += width
    return {c.name: given.get(c.name, found.get(c.name)) for c in columns(con, table)}


def options(kind: str, kinds: Mapping[str, str]) -> BuilderOptions:
    """Columns worth offering for x, y and colour in a chart of this kind."""
    rule = _rule(kind)

    def fitting(allowed: frozenset[str]) -> tuple[str, ...]:
        return tuple(name for name, k in kinds.items() if k in allowed)

    return BuilderOptions(
        kind, fitting(rule.x), fitting(rule.y), fitting(rule.color), rule.required
    )


def _rule(kind: str) -> _Rule:
    rule = _RULES.get(kind)
    if rule is None:
        raise ChartBuilderError(
            f"{kind!r} is not a chart kind; choose one of {', '.join(CHART_KINDS)}."
        )
    return rule


# --------------------------------------------------------------------------- validation


def _either(kinds: frozenset[str]) -> str:
    ordered = [k for k in COLUMN_KINDS if k in kinds]
    return " or ".join(ordered)


def problem(spec: ChartSpec, kinds: Mapping[str, str]) -> str | None:
    """The sentence saying why `spec` cannot be drawn, or None when it can."""
    if spec.kind not in _RULES:
        return f"{spec.kind!r} is not a chart kind; choose one of {', '.join(CHART_KINDS)}."
    rule = _RULES[spec.kind]
    roles = {"x": spec.x, "y": spec.y, "color": spec.color}
    for role in rule.required:
        if roles[role] is None:
            return f"A {rule.label} needs {'an' if role == 'x' else 'a'} {role} column."
    for role, name in roles.items():
        if name is None:
            continue
        allowed = getattr(rule, role)
        if not allowed:
            why = rule.unused.get(role, "it does not use one")
            return f"A {rule.label} takes no {_role_name(role)} column: {why}."
        if name not in kinds:
            return f"There is no column named {name!r}."
        if kinds[name] not in allowed:
            return (
                f"A {rule.label} needs a {_either(allowed)} column as {_role_name(role)}, "
                f"but {name!r} is {kinds[name]}."
            )
    return None


def _role_name(role: str) -> str:
    return "colour" if role == "color" else role


# --------------------------------------------------------------------------- SQL pieces


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


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def _merged_note(*groupings: _Grouping) -> str:
    if any(g.merged for g in groupings):
        return f" Only the most frequent values are shown; the rest are merged into {OTHER}."
    return ""


# --------------------------------------------------------------------------- builders


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


# --------------------------------------------------------------------------- figure


def _name(series_name: str | None, fallback: str) -> str:
    return escape(series_name if series_name is not None else fallback)


def _traces(data: ChartData) -> list[go.BaseTraceType]:
    kind = data.spec.kind
    traces: list[go.BaseTraceType] = []
    for s in data.series:
        name = _name(s.name, data.y_label or data.x_label)
        if isinstance(s, BoxSeries):
            traces.append(
                go.Box(
                    name=name,
                    q1=[s.q1],
                    median=[s.median],
                    q3=[s.q3],
                    lowerfence=[s.lower_fence],
                    upperfence=[s.upper_fence],
                    mean=[s.mean],
                    x=[name],
                    boxpoints=False,
                )
            )
        elif isinstance(s, BinnedSeries):
            edges = s.edges
            traces.append(
                go.Bar(
                    name=name,
                    x=[(a + b) / 2 for a, b in itertools.pairwise(edges)],
                    y=list(s.counts),
                    width=[b - a for a, b in itertools.pairwise(edges)],
                )
            )
        elif kind == "bar":
            traces.append(go.Bar(name=name, x=[escape(v) for v in s.x], y=list(s.y)))
        else:
            mode = "markers" if kind == "scatter" else "lines"
            traces.append(go.Scatter(name=name, x=list(s.x), y=list(s.y), mode=mode))
    return traces


def figure(data: ChartData | ChartProblem) -> go.Figure:
    """A plotly figure of the bounded data; a problem becomes an empty figure saying why.

    Column names and category values are data, so they are HTML-escaped (plotly renders
    tags in labels and turns entities back into the characters on screen).
    """
    if isinstance(data, ChartProblem):
        fig = go.Figure(layout={"template": TEMPLATE})
        fig.add_annotation(text=escape(data.message), showarrow=False, x=0.5, y=0.5)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    fig = go.Figure(_traces(data))
    what = f"{data.y_label} by {data.x_label}" if data.x_label else data.y_label
    title = escape(f"{data.spec.kind}: {what}")
    fig.update_layout(
        template=TEMPLATE,
        title={"text": f"{title}<br><sup>{escape(data.note)}</sup>"},
        xaxis_title=escape(data.x_label),
        yaxis_title=escape(data.y_label),
        barmode="stack" if data.spec.kind == "histogram" else "group",
        bargap=0 if data.spec.kind == "histogram" else None,
        showlegend=len(data.series) > 1,
        legend_title_text=escape(data.spec.color or ""),
    )
    return fig
