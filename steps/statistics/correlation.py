"""Correlation matrices (Pearson from centred co-moments, Spearman from ranks) and strong pairs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import duckdb
import numpy as np

from steps.errors import StatisticsError
from steps.statistics.ranks import RankMeasures, rank_measures
from steps.statistics.results import CorrelationMatrix, StrongPair
from steps.statistics.sql import (
    _EPS,
    _Aggregates,
    _centred,
    _clean_source,
    _numeric_columns,
    _Profile,
    _profile,
    _Totals,
)

Method = Literal["pearson", "spearman"]
METHODS: tuple[str, ...] = ("pearson", "spearman")


def _plan_correlation(
    aggs: _Aggregates, profile: _Profile
) -> Callable[[_Totals], tuple[tuple[tuple[float | None, ...], ...], tuple[tuple[int, ...], ...]]]:
    """Register the co-moment sums for every pair; return how to turn them into r and n.

    For each pair, over the rows where both have a value: n, Σa, Σb, Σa², Σb², Σab of the
    centred values. Where both columns' missing rows are known to the grouping, the
    filtered sums are the per-column ones, computed once.
    """
    k = len(profile.names)
    d = [_centred(profile, i) for i in range(k)]
    slots: dict[tuple[int, int], tuple[int, ...]] = {}
    for i in range(k):
        for j in range(i + 1, k):
            both = aggs.known(i) and aggs.known(j)
            slots[i, j] = (
                aggs.add("count(*)" if both else f"count(v{i} * v{j})"),
                aggs.add(f"fsum({aggs.present(d[i], j)})"),
                aggs.add(f"fsum({aggs.present(d[j], i)})"),
                aggs.add(f"fsum({aggs.present(f'{d[i]} * {d[i]}', j)})"),
                aggs.add(f"fsum({aggs.present(f'{d[j]} * {d[j]}', i)})"),
                aggs.add(f"fsum({d[i]} * {d[j]})"),
            )
    own = [aggs.add(f"fsum({d[i]} * {d[i]})") for i in range(k)]
    own_sum = [aggs.add(f"fsum({d[i]})") for i in range(k)]

    def assemble(totals: _Totals):
        matrix: list[list[float | None]] = [[None] * k for _ in range(k)]
        counts = [[0] * k for _ in range(k)]
        for i in range(k):
            counts[i][i] = n_i = profile.counts[i]
            own_sums = totals.total(own_sum[i]), totals.total(own[i])
            if n_i > 1 and _variance(n_i, *own_sums) is not None:
                matrix[i][i] = 1.0
        for (i, j), slot in slots.items():
            n, sa, sb, qa, qb, p = (totals.total(s, (i, j)) for s in slot)
            counts[i][j] = counts[j][i] = int(n or 0)
            matrix[i][j] = matrix[j][i] = _pearson(int(n or 0), sa, sb, qa, qb, p)
        return tuple(map(tuple, matrix)), tuple(map(tuple, counts))

    return assemble


def _variance(n: int, s: float | None, q: float | None) -> float | None:
    """n·variance from centred sums, or None when it is zero up to rounding.

    `q - s²/n` loses the digits that the centring offset takes; once it is below a few
    ulps of `q` the column is constant on these rows and r is undefined.
    """
    if n < 2 or s is None or q is None:
        return None
    v = q - s * s / n
    return v if v > 64 * _EPS * q else None


def _pearson(
    n: int, sa: float | None, sb: float | None, qa: float | None, qb: float | None, p: float | None
) -> float | None:
    va, vb = _variance(n, sa, qa), _variance(n, sb, qb)
    if va is None or vb is None or p is None or sa is None or sb is None:
        return None
    r = (p - sa * sb / n) / math.sqrt(va * vb)
    return max(-1.0, min(1.0, r))


def _spearman_result(names: Sequence[str], ranks: RankMeasures, n_rows: int) -> CorrelationMatrix:
    """The Spearman matrix of the first `len(names)` columns the rank measures cover."""
    k = len(names)
    return CorrelationMatrix(
        method="spearman",
        columns=tuple(names),
        matrix=tuple(row[:k] for row in ranks.spearman[:k]),
        n=tuple(row[:k] for row in ranks.n[:k]),
        exact=ranks.exact,
        sample_rows=ranks.sample_rows,
        basis=(
            f"Spearman on {ranks.rows_used(n_rows)}, "
            "average ranks within each pair's complete rows."
        ),
    )


def _pearson_result(profile: _Profile, matrix, n, k: int | None = None) -> CorrelationMatrix:
    """The Pearson matrix of the first `k` profiled columns (all by default)."""
    k = len(profile.names) if k is None else k
    return CorrelationMatrix(
        "pearson",
        profile.names[:k],
        tuple(row[:k] for row in matrix[:k]),
        tuple(row[:k] for row in n[:k]),
        True,
        None,
        f"Pearson on all {profile.n_rows:,} rows, pairwise-complete.",
    )


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise StatisticsError(f"Unknown correlation method {method!r}; use pearson or spearman.")


def correlation_matrix(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    method: Method = "pearson",
    columns: Sequence[str] | None = None,
) -> CorrelationMatrix:
    """Correlations of the numeric columns (or `columns`), all pairs in one scan."""
    _check_method(method)
    cols = _numeric_columns(con, table, columns)
    clean = _clean_source(cols, table)
    profile = _profile(con, clean, [c.name for c in cols])
    if method == "spearman":
        ranks = rank_measures(con, clean, len(cols), profile.n_rows)
        return _spearman_result(profile.names, ranks, profile.n_rows)
    aggs = _Aggregates(profile)
    assemble = _plan_correlation(aggs, profile)
    return _pearson_result(profile, *assemble(aggs.run(con, clean)))


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise StatisticsError(f"The threshold must be a number between 0 and 1, not {threshold!r}.")


def p_values(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-values for H0: ρ = 0 from the t distribution with n − 2 degrees of freedom.

    NaN where n < 3; 0 where |r| = 1.
    """
    r = np.asarray(r, dtype=float)
    dof = np.asarray(n, dtype=float) - 2
    out = np.full(r.shape, np.nan)
    usable = dof > 0
    perfect = usable & (np.abs(r) >= 1)
    regular = usable & ~perfect
    out[perfect] = 0.0
    # scipy.special, not scipy.stats (whose t.sf is this same stdtr): 0.2 s to import, not 0.6.
    from scipy import special

    rr, df = r[regular], dof[regular]
    t = np.abs(rr) * np.sqrt(df / ((1 - rr) * (1 + rr)))
    out[regular] = 2 * special.stdtr(df, -t)
    return out


def strong_correlations(matrix: CorrelationMatrix, threshold: float) -> tuple[StrongPair, ...]:
    """Pairs with |r| ≥ threshold, strongest first, from the cached matrix (no query).

    This is what the threshold slider re-runs, so it stays a few milliseconds for 50
    columns: one pass over the upper triangle and one vectorised p-value call.
    """
    _check_threshold(threshold)
    names, rows, counts = matrix.columns, matrix.matrix, matrix.n
    found = [
        (abs(r), names[i], names[j], r, counts[i][j])
        for i, row in enumerate(rows)
        for j in range(i + 1, len(row))
        if (r := row[j]) is not None and abs(r) >= threshold
    ]
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    ps = p_values(np.array([f[3] for f in found]), np.array([f[4] for f in found]))
    return tuple(
        StrongPair(a, b, r, n, None if math.isnan(p) else float(p))
        for (_, a, b, r, n), p in zip(found, ps, strict=True)
    )
