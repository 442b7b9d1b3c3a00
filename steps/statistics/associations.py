"""Associations across kinds: Cramér's V and η from DuckDB group aggregates, and the matrix.

One scan groups the table by *all* chosen categorical columns at once, with, per numeric
column, the count, sum and sum of squares of its values centred on the column's mean. The
result is small (one row per combination of levels that occurs), and a second aggregation
over it gives every pairwise crosstab (Cramér's V) and every per-level sum (η), in one
statement. Centring keeps η's sums of squares exact where raw sums would cancel; summing
the groups' compensated sums (`fsum`) keeps them reproducible run after run.

Numeric pairs take Pearson from the co-moment scan and Spearman and Kendall from
`steps.statistics.ranks`; this module puts all of them in one list, one matrix and one set
of strong pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from steps.engine import Column, quote_ident
from steps.statistics.ranks import RankMeasures
from steps.statistics.results import Association, AssociationMatrix
from steps.statistics.sql import _EPS, _Profile, double_sql, number_sql

MEASURES = ("pearson", "spearman", "kendall", "cramers_v", "correlation_ratio")
# A categorical column takes part when it has 2 to this many distinct values: past it a
# crosstab is mostly empty cells (Cramér's V creeps towards 1 on any pair) and a heatmap
# of free text or identifiers says nothing. Step 1's categorical cut-off is the same 50.
MAX_LEVELS = 50

Matrix = tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class NumericPairs:
    """Pearson (every row) and the rank measures over numeric and datetime columns."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    pearson: Matrix
    pearson_n: tuple[tuple[int, ...], ...]
    ranks: RankMeasures

    def measures(self, i: int, j: int) -> list[tuple[str, float | None, int]]:
        """(measure, value, rows used) for the pair, Pearson first."""
        n = self.ranks.n[i][j]
        return [
            ("pearson", self.pearson[i][j], self.pearson_n[i][j]),
            ("spearman", self.ranks.spearman[i][j], n),
            ("kendall", self.ranks.kendall[i][j], n),
        ]


@dataclass(frozen=True)
class CategoricalPairs:
    """Cramér's V between categorical columns and η of each numeric column by each one."""

    columns: tuple[str, ...]
    cramers_v: dict[tuple[int, int], tuple[float | None, int]]
    eta: dict[tuple[int, int], tuple[float | None, int]]


def _cramers_v(table: np.ndarray, bias_corrected: bool) -> float | None:
    """V = √(χ²/n / (min(r, c) − 1)); with `bias_corrected`, Bergsma's (2013) correction."""
    n = float(table.sum())
    r, c = table.shape
    if min(r, c) < 2 or n < 2:
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    if not bias_corrected:
        return min(1.0, math.sqrt(phi2 / (min(r, c) - 1)))
    phi2 = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    rows, cols = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    denominator = min(rows - 1, cols - 1)
    return min(1.0, math.sqrt(phi2 / denominator)) if denominator > 0 else None


def _eta(groups: list[tuple[int, float, float]]) -> tuple[float | None, int]:
    """η = √(between-group / total sum of squares) from each level's (n, Σd, Σd²)."""
    groups = [g for g in groups if g[0] > 0]
    n = sum(g[0] for g in groups)
    if len(groups) < 2 or n < 2:
        return None, n
    s = math.fsum(g[1] for g in groups)
    q = math.fsum(g[2] for g in groups)
    total = q - s * s / n
    if total <= 64 * _EPS * q:
        return None, n
    between = math.fsum(g[1] * g[1] / g[0] for g in groups) - s * s / n
    return min(1.0, math.sqrt(max(0.0, between) / total)), n


def categorical_pairs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    categorical: Sequence[Column],
    numeric: Sequence[Column],
    profile: _Profile,
    *,
    bias_corrected: bool,
) -> CategoricalPairs:
    """Crosstabs of every categorical pair and per-level sums of every numeric column
    (`numeric` are the profiled columns, in the profile's order).

    A column with a value on every row needs no count of its own: its count in a group is
    the group's row count (six of the 12 columns of the 200 MB bench file, where the 12
    counts took ~19 % of the joint scan)."""
    c, k = len(categorical), len(numeric)
    names = tuple(col.name for col in categorical)
    if c == 0:
        return CategoricalPairs(names, {}, {})
    groups = [f"{quote_ident(col.name)} AS g{i}" for i, col in enumerate(categorical)]
    centred = [
        f"{number_sql(col)} - {double_sql(mean)}" if mean is not None else number_sql(col)
        for col, mean in zip(numeric, profile.means, strict=True)
    ]
    counts = ["n" if profile.complete(j) else f"n{j}" for j in range(k)]
    sums = [
        ("" if counts[j] == "n" else f"count(d{j}) AS n{j}, ")
        + f"fsum(d{j}) AS s{j}, fsum(d{j} * d{j}) AS q{j}"
        for j in range(k)
    ]
    body = ", ".join(groups + [f"{d} AS d{j}" for j, d in enumerate(centred)])
    keys = ", ".join(f"g{i}" for i in range(c))
    flags = ", ".join(f"GROUPING(g{i})" for i in range(c))
    joint = (
        f"SELECT {keys}, count(*) AS n{''.join(', ' + s for s in sums)} "
        f"FROM (SELECT {body} FROM {quote_ident(table)}) GROUP BY ALL"
    )
    per_level = ", ".join(f"sum({counts[j]}), fsum(s{j}), fsum(q{j})" for j in range(k))
    nulls = ", ".join(["NULL"] * (3 * k))
    parts = []
    if k:
        singles = ", ".join(f"(g{i})" for i in range(c))
        parts.append(
            f"SELECT {flags}, {keys}, sum(n), {per_level} FROM j GROUP BY GROUPING SETS ({singles})"
        )
    if c > 1:
        pairs = ", ".join(f"(g{i}, g{j})" for i in range(c) for j in range(i + 1, c))
        padding = f", {nulls}" if k else ""
        parts.append(
            f"SELECT {flags}, {keys}, sum(n){padding} FROM j GROUP BY GROUPING SETS ({pairs})"
        )
    if not parts:
        return CategoricalPairs(names, {}, {})
    rows = con.execute(f"WITH j AS MATERIALIZED ({joint}) " + " UNION ALL ".join(parts)).fetchall()
    crosstabs: dict[tuple[int, int], dict[tuple, int]] = {}
    levels: dict[int, list[tuple]] = {}
    for row in rows:
        grouped = [i for i in range(c) if row[i] == 0]
        values = [row[c + i] for i in grouped]
        if any(v is None for v in values):  # a missing category: not a level
            continue
        if len(grouped) == 2:
            crosstabs.setdefault((grouped[0], grouped[1]), {})[tuple(values)] = int(row[2 * c])
        else:
            levels.setdefault(grouped[0], []).append(row[2 * c + 1 :])
    cramers = {pair: _crosstab_v(cells, bias_corrected) for pair, cells in crosstabs.items()}
    eta = {
        (i, j): _eta([_level_sums(lv, j) for lv in found])
        for i, found in levels.items()
        for j in range(k)
    }
    return CategoricalPairs(names, cramers, eta)


def _level_sums(level: tuple, j: int) -> tuple[int, float, float]:
    """(n, Σd, Σd²) of numeric column `j` in one level (a level with no value: zeros)."""
    n, s, q = level[3 * j : 3 * j + 3]
    return int(n or 0), s or 0.0, q or 0.0


def _crosstab_v(cells: dict[tuple, int], bias_corrected: bool) -> tuple[float | None, int]:
    rows = {a: i for i, a in enumerate(sorted({a for a, _ in cells}, key=repr))}
    cols = {b: i for i, b in enumerate(sorted({b for _, b in cells}, key=repr))}
    table = np.zeros((len(rows), len(cols)))
    for (a, b), count in cells.items():
        table[rows[a], cols[b]] = count
    return _cramers_v(table, bias_corrected), int(table.sum())


def _symmetric(k: int) -> list[list]:
    return [[None] * k for _ in range(k)]


def _basis(numeric: NumericPairs, n_rows: int, measure: str, bias_corrected: bool) -> str:
    where = numeric.ranks.rows_used(n_rows)
    v = "Cramér's V (bias-corrected)" if bias_corrected else "Cramér's V"
    dates = " Datetime columns take part as epoch seconds." if "datetime" in numeric.kinds else ""
    return (
        f"Pearson, {v} and η on all {n_rows:,} rows; Spearman and Kendall τ-b on {where}; "
        f"each pair on the rows where both have a value; numeric pairs show {measure}.{dates}"
    )


def combine(
    numeric: NumericPairs,
    categorical: CategoricalPairs,
    *,
    n_rows: int,
    measure: str,
    bias_corrected: bool,
    notes: tuple[str, ...],
) -> tuple[tuple[Association, ...], AssociationMatrix]:
    """Every association as a list, and the matrix showing one measure per pair."""
    kc, kn = len(categorical.columns), len(numeric.columns)
    # Categorical columns first, so that in every pair read off the upper triangle an η
    # names its categorical column as `a`, as the list does.
    columns = categorical.columns + numeric.columns
    size = kc + kn
    values, measures, counts = _symmetric(size), _symmetric(size), [[0] * size for _ in range(size)]
    found: list[Association] = []

    def put(i: int, j: int, name: str, value: float | None, n: int, shown: bool) -> None:
        found.append(Association(columns[i], columns[j], name, value, n))
        if shown:
            values[i][j] = values[j][i] = value
            measures[i][j] = measures[j][i] = name
            counts[i][j] = counts[j][i] = n

    for i in range(kn):
        counts[kc + i][kc + i] = numeric.pearson_n[i][i]
        for j in range(i + 1, kn):
            for name, value, n in numeric.measures(i, j):
                put(kc + i, kc + j, name, value, n, name == measure)
    for (i, j), (value, n) in sorted(categorical.cramers_v.items()):
        put(i, j, "cramers_v", value, n, True)
    for (i, j), (value, n) in sorted(categorical.eta.items()):
        put(i, kc + j, "correlation_ratio", value, n, True)
    matrix = AssociationMatrix(
        columns=columns,
        kinds=("categorical",) * kc + numeric.kinds,
        measures=tuple(map(tuple, measures)),
        matrix=tuple(map(tuple, values)),
        n=tuple(map(tuple, counts)),
        numeric_measure=measure,
        cramers_v_bias_corrected=bias_corrected,
        rank_exact=numeric.ranks.exact,
        rank_sample_rows=numeric.ranks.sample_rows,
        basis=_basis(numeric, n_rows, measure, bias_corrected),
        notes=notes,
    )
    return tuple(found), matrix


def strong_associations(matrix: AssociationMatrix, threshold: float) -> tuple[Association, ...]:
    """Pairs whose shown measure reaches `threshold` in absolute value, strongest first.

    From the cached matrix, no query: this is what the threshold slider re-runs.
    """
    names = matrix.columns
    found = [
        Association(names[i], names[j], measure, value, matrix.n[i][j])
        for i, row in enumerate(matrix.matrix)
        for j in range(i + 1, len(row))
        if (value := row[j]) is not None
        and abs(value) >= threshold
        and (measure := matrix.measures[i][j]) is not None
    ]
    return tuple(sorted(found, key=lambda p: (-abs(p.value or 0.0), p.a, p.b)))
