"""The one figure the alerts add: IQR outliers of a zero-inflated column, on its non-zero
values.

Why: with half the values at zero the quartiles sit on zero, and every rainy day is an
"outlier" (seattle-weather's precipitation: 206 of 1,461). Counted on the non-zero values
the outliers are the heavy days only. One query for the quartiles and one for the counts,
both over the zero-inflated columns alone (usually none, rarely more than a few).
"""

from __future__ import annotations

import duckdb

from steps.alerts.types import share
from steps.engine import Column, quote_ident
from steps.overview import Overview, value_expr
from steps.quality import OutlierCounts, Quality


def zero_inflated_columns(overview: Overview, quality: Quality, zeros_share: float) -> list[str]:
    """Numeric columns with more than `zeros_share` zeros whose IQR outliers Step 2 counted."""
    out = []
    for c in overview.columns:
        detail, counted = c.numeric_detail, quality.outliers.get(c.name)
        if detail is None or counted is None or not counted.iqr:
            continue
        if share(detail.zeros, c.count) > zeros_share:
            out.append(c.name)
    return out


def nonzero_outliers(
    con: duckdb.DuckDBPyConnection,
    table: str,
    overview: Overview,
    names: list[str],
    multiplier: float = 1.5,
) -> dict[str, OutlierCounts]:
    """IQR outliers (`multiplier` × IQR past the quartiles) among each column's non-zero
    present values; the Z-score fields repeat nothing and stay None/0."""
    if not names:
        return {}
    cols = [Column(n, overview.column(n).dtype) for n in names]
    source = quote_ident(table)
    values = [value_expr(c) for c in cols]
    quartiles = con.execute(
        "SELECT "
        + ", ".join(f"quantile_cont({v}, [0.25, 0.75]) FILTER (WHERE {v} <> 0)" for v in values)
        + f" FROM {source}"
    ).fetchone()
    assert quartiles is not None
    bounds: list[tuple[float | None, float | None]] = []
    for q in quartiles:
        if q is None:
            bounds.append((None, None))
            continue
        q1, q3 = float(q[0]), float(q[1])
        spread = multiplier * (q3 - q1)
        bounds.append((q1 - spread, q3 + spread))
    counts = con.execute(
        "SELECT "
        + ", ".join(
            f"count_if({v} <> 0 AND ({v} < {lo!r} OR {v} > {hi!r}))" if lo is not None else "0"
            for v, (lo, hi) in zip(values, bounds, strict=True)
        )
        + f" FROM {source}"
    ).fetchone()
    assert counts is not None
    return {
        name: OutlierCounts(int(n), 0, lo, hi, None, None)
        for name, n, (lo, hi) in zip(names, counts, bounds, strict=True)
    }
