"""Step 3's entry point and the threshold slider's cheap recompute."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from steps.statistics.correlation import (
    Method,
    _check_method,
    _check_threshold,
    _spearman,
    strong_correlations,
)
from steps.statistics.distribution import _scan
from steps.statistics.results import Statistics

SCATTER_PAIRS = 4


def statistics(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    threshold: float = 0.7,
    method: Method = "pearson",
    bins: int = 30,
    top_k: int = 10,
) -> Statistics:
    """Step 3 in two scans of the table (three for Spearman) plus one for categories.

    Pearson co-moments and the distribution moments share one scan; the profile scan
    (counts, means, ranges) comes first because everything is centred on its means.
    """
    _check_method(method)
    _check_threshold(threshold)
    scan = _scan(con, table, bins=bins, top_k=top_k, pearson=method == "pearson")
    correlation = scan.pearson or _spearman(con, table, scan.numeric_columns, scan.profile)
    strong = strong_correlations(correlation, threshold)
    return Statistics(
        n_rows=scan.profile.n_rows,
        correlation=correlation,
        strong_correlations=strong,
        threshold=float(threshold),
        distributions=scan.distributions,
        scatter_pairs=strong[:SCATTER_PAIRS],
        notes=scan.notes,
    )


def with_threshold(stats: Statistics, threshold: float) -> Statistics:
    """The same Step 3 result at another threshold, from the cached matrix (no query).

    This is what the slider calls: only the strong pairs and the pairs to plot change.
    """
    _check_threshold(threshold)
    strong = strong_correlations(stats.correlation, threshold)
    return replace(
        stats,
        threshold=float(threshold),
        strong_correlations=strong,
        scatter_pairs=strong[:SCATTER_PAIRS],
    )
