"""Step 3's entry point and the threshold slider's cheap recompute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import duckdb

from steps.engine import SAMPLE_ROWS
from steps.statistics.associations import (
    MAX_LEVELS,
    NumericPairs,
    categorical_pairs,
    combine,
    strong_associations,
)
from steps.statistics.correlation import (
    Method,
    _check_method,
    _check_threshold,
    _pearson_result,
    _spearman_result,
    strong_correlations,
)
from steps.statistics.distribution import _Scan, _scan
from steps.statistics.ranks import rank_measures
from steps.statistics.results import Statistics, ValueCounts

SCATTER_PAIRS = 4


def _association_columns(scan: _Scan) -> tuple[list, list[str]]:
    """The categorical columns fit for crosstabs (2 to `MAX_LEVELS` levels), and a note
    naming the ones left out."""
    found = scan.distributions.categorical
    fit = [c for c in scan.categorical if 2 <= found[c.name].cardinality <= MAX_LEVELS]
    left = [c.name for c in scan.categorical if c not in fit]
    if not left:
        return fit, []
    shown = ", ".join(left[:5]) + (f" and {len(left) - 5:,} more" if len(left) > 5 else "")
    note = (
        f"Associations leave out {len(left):,} text column(s) with fewer than 2 or more than "
        f"{MAX_LEVELS} distinct values: {shown}."
    )
    return fit, [note]


def statistics(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    threshold: float = 0.7,
    method: Method = "pearson",
    bins: int = 30,
    top_k: int = 10,
    cramers_v_bias_corrected: bool = False,
    rank_rows: int | None = SAMPLE_ROWS,
    counted: Mapping[str, ValueCounts] | None = None,
) -> Statistics:
    """Step 3: distributions, correlations and associations across kinds.

    Three scans serve the numeric figures (a profile scan for counts, means and ranges,
    one centred on those means for moments and every Pearson co-moment, one counting the
    histograms' bins), one every crosstab and per-level sum (Cramér's V, η). The top
    values are read from `counted`, Step 1's value counts of the same table
    (`Overview.value_counts`), and counted here only where they do not cover a column.
    Spearman and Kendall come from the columns' sorted orders, on all rows up to
    `rank_rows` (None: always all rows), past it on a seeded sample of that many, labelled
    so.
    """
    _check_method(method)
    _check_threshold(threshold)
    scan = _scan(con, table, bins=bins, top_k=top_k, pearson=True, counted=counted or {})
    profile, k = scan.profile, scan.n_numeric
    fit, level_notes = _association_columns(scan)
    # The crosstab scan before the ranks: its hash table (~50 MB on the 200 MB bench file)
    # then comes and goes before scipy.stats and the ranked columns (~100 MB) arrive,
    # instead of on top of them.
    categorical = categorical_pairs(
        con, table, fit, scan.columns, profile, bias_corrected=cramers_v_bias_corrected
    )
    ranks = rank_measures(con, scan.clean, len(scan.columns), profile.n_rows, max_rows=rank_rows)
    pearson = scan.pearson
    assert pearson is not None, "_scan fills it when asked with pearson=True"
    correlation = (
        _pearson_result(profile, pearson.matrix, pearson.n, k)
        if method == "pearson"
        else _spearman_result(profile.names[:k], ranks, profile.n_rows)
    )
    numeric = NumericPairs(
        columns=profile.names,
        kinds=("numeric",) * k + ("datetime",) * (len(scan.columns) - k),
        pearson=pearson.matrix,
        pearson_n=pearson.n,
        ranks=ranks,
    )
    associations, matrix = combine(
        numeric,
        categorical,
        n_rows=profile.n_rows,
        measure=method,
        bias_corrected=cramers_v_bias_corrected,
        notes=tuple(level_notes),
    )
    strong = strong_correlations(correlation, threshold)
    return Statistics(
        n_rows=profile.n_rows,
        correlation=correlation,
        strong_correlations=strong,
        threshold=float(threshold),
        distributions=scan.distributions,
        scatter_pairs=strong[:SCATTER_PAIRS],
        associations=associations,
        association_matrix=matrix,
        strong_associations=strong_associations(matrix, threshold),
        notes=scan.notes + tuple(level_notes),
    )


def with_threshold(stats: Statistics, threshold: float) -> Statistics:
    """The same Step 3 result at another threshold, from the cached matrices (no query).

    This is what the slider calls: only the strong pairs and the pairs to plot change.
    """
    _check_threshold(threshold)
    strong = strong_correlations(stats.correlation, threshold)
    return replace(
        stats,
        threshold=float(threshold),
        strong_correlations=strong,
        scatter_pairs=strong[:SCATTER_PAIRS],
        strong_associations=strong_associations(stats.association_matrix, threshold),
    )
