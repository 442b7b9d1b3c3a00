"""Step 3 speed, side by side with pandas, plus the threshold-slider recompute time.

Not a test: run by hand on a quiet machine and paste the table into the issue.

    uv run python bench/bench_statistics.py                 # generated 1M rows x 22 columns
    uv run python bench/bench_statistics.py --rows 300000
    uv run python bench/bench_statistics.py --csv bench/data/messy_200mb.csv

Contenders on the same DuckDB table, in one run:
  signoff statistics()   Pearson + strong pairs + distributions (histograms, skewness,
                         kurtosis, normality, top-k categories) + associations across kinds
                         (Pearson, Cramér's V, eta on all rows; Spearman and Kendall on all
                         rows up to 100 000, else a hashed sample of about that many)
  ... rank_rows=None     the same with Spearman and Kendall exact over every row
  signoff spearman       the Spearman matrix alone (correlation_matrix)
  duckdb corr() k²       DuckDB's own corr() aggregate for every pair in one query (for scale;
                         it loses digits on data far from zero, which is why signoff centres)
  pandas                 table -> DataFrame, then df.corr() + df.skew() + df.kurt()
Then the slider: strong_correlations() on a cached 50-column matrix, per threshold, and
with_threshold() on the table's own Step 3 result (strong correlations and associations);
and the size of each figure built from Step 1 and Step 3 results (JSON bytes sent).
"""

from __future__ import annotations

import argparse
import statistics as pystats
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps import column_charts
from steps.engine import columns, quote_ident
from steps.overview import overview
from steps.statistics import correlation_matrix, statistics, strong_correlations, with_threshold


def generate(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """22 columns like the messy benchmark file: floats far from zero, heavy tails, NaN and
    NULL gaps, correlated pairs, integers, categories, booleans."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE data AS
        WITH base AS (
            SELECT i, random() AS u1, random() AS u2, random() AS u3, random() AS u4
            FROM range({int(rows)}) t(i)
        )
        SELECT
            i AS id,
            1e6 + 1000 * u1 AS unit_price,
            CASE WHEN u2 < 0.05 THEN NULL ELSE 1e6 + 1000 * u1 + 50 * u2 END AS cost,
            (u1 - u2) * 100 AS margin_pct,
            CASE WHEN u3 < 0.02 THEN 'nan'::DOUBLE ELSE -ln(u3) * 40 END AS latency_ms,
            u4 * 30 - 5 AS temperature,
            sqrt(-2 * ln(u1 + 1e-12)) * cos(2 * pi() * u2) AS score,
            u2 * 0.3 AS discount,
            u1 * u3 * 1000 AS revenue,
            exp(u4 * 5) AS growth,
            CASE WHEN u1 < 0.1 THEN NULL ELSE u3 + u4 END AS mixed,
            1e9 + u4 AS far_from_zero,
            (u3 * 10)::INTEGER AS quantity,
            (u4 * 5)::INTEGER + 1 AS rating,
            (i % 1000) AS store,
            (u1 * 100)::INTEGER AS age,
            ['north', 'south', 'east', 'west'][1 + (i % 4)] AS region,
            ['retail', 'online', 'b2b'][1 + ((u2 * 3)::INTEGER % 3)] AS channel,
            'product ' || ((u3 * 40)::INTEGER) AS product,
            'segment ' || (i % 7) AS segment,
            u1 < 0.3 AS is_member,
            u2 < 0.05 AS returned
        FROM base
        """
    )


def load_csv(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE data AS SELECT * FROM read_csv(?, "
        "nullstr = ['NA', 'N/A', ''], ignore_errors = true)",
        [path],
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def duckdb_corr_pairs(con: duckdb.DuckDBPyConnection, names: list[str]) -> list:
    pairs = [
        f"corr({quote_ident(a)}, {quote_ident(b)})"
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    return con.execute(f"SELECT {', '.join(pairs)} FROM data").fetchall()


def figure_bytes(con: duckdb.DuckDBPyConnection, stats) -> dict[str, int]:
    """JSON bytes of each figure of associations, column cards and missing-data structure."""
    ov = overview(con)
    m, miss = stats.association_matrix, ov.missingness
    figures = {
        "association heatmap": column_charts.association_heatmap(
            m.columns, m.kinds, m.measures, m.matrix, m.n, note=m.basis
        ),
        "co-missing heatmap": column_charts.co_missing_heatmap(
            miss.columns, miss.co_missing, ov.n_rows
        ),
        "missingness matrix": column_charts.missingness_matrix(
            miss.columns, miss.block_starts, miss.block_rows, miss.by_block
        ),
    }
    sizes = {name: len(fig.to_json()) for name, fig in figures.items()}
    cards = {c.name: column_charts.column_card(c) for c in ov.columns}
    card_sizes = {name: len(fig.to_json()) for name, fig in cards.items() if fig is not None}
    largest = max(card_sizes, key=card_sizes.get)
    sizes[f"largest column card ({largest})"] = card_sizes[largest]
    return sizes


def threshold_moves(stats, repeat: int = 20) -> float:
    """Slowest with_threshold() over thresholds 0.5-1.0 on a real Step 3 result, in ms."""
    slowest = 0.0
    for _ in range(repeat):
        for threshold in (round(0.5 + 0.05 * i, 2) for i in range(11)):
            start = time.perf_counter()
            with_threshold(stats, threshold)
            slowest = max(slowest, (time.perf_counter() - start) * 1000)
    return slowest


def pandas_step(con: duckdb.DuckDBPyConnection, names: list[str]) -> tuple[float, float, object]:
    start = time.perf_counter()
    frame = con.execute(f"SELECT {', '.join(map(quote_ident, names))} FROM data").df()
    frame = frame.astype(float).replace([np.inf, -np.inf], np.nan)
    loaded = time.perf_counter()
    corr = frame.corr()
    frame.skew()
    frame.kurt()
    return loaded - start, time.perf_counter() - loaded, corr


def slider(columns_n: int = 50, rows: int = 20_000, repeat: int = 50) -> dict[str, float]:
    con = duckdb.connect()
    body = ", ".join(f"random() + {i % 5} * (i % 13) * 0.01 AS c{i}" for i in range(columns_n))
    con.execute(f"CREATE TABLE data AS SELECT {body} FROM range({rows}) t(i)")
    matrix = correlation_matrix(con)
    # The first call pays one-off costs (importing scipy.stats for the p-values), which the
    # app has paid in statistics() before the slider moves: reported apart.
    start = time.perf_counter()
    strong_correlations(matrix, 0.7)
    first_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(repeat):
        for threshold in (round(0.5 + 0.05 * i, 2) for i in range(11)):
            start = time.perf_counter()
            strong_correlations(matrix, threshold)
            times.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    low = strong_correlations(matrix, 0.0)
    every_pair_ms = (time.perf_counter() - start) * 1000
    return {
        "every_pair_ms": every_pair_ms,
        "first_ms": first_ms,
        "median_ms": pystats.median(times),
        "max_ms": max(times),
        "pairs": len(low),
        "runs": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", help="benchmark a CSV file instead of generated data")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    con = duckdb.connect()
    start = time.perf_counter()
    if args.csv:
        load_csv(con, args.csv)
    else:
        generate(con, args.rows)
    load_s = time.perf_counter() - start
    cols = columns(con, "data")
    numeric = [c.name for c in cols if c.is_numeric]
    (n_rows,) = con.execute("SELECT count(*) FROM data").fetchall()[0]
    print(
        f"table: {n_rows:,} rows x {len(cols)} columns ({len(numeric)} numeric), "
        f"built in {load_s:.2f} s"
    )

    t_step, result = timed(lambda: statistics(con, threshold=0.7), args.repeat)
    t_all_rows, _ = timed(lambda: statistics(con, threshold=0.7, rank_rows=None), 1)
    t_spear, spear = timed(lambda: correlation_matrix(con, method="spearman"), 1)
    t_corr, _ = timed(lambda: duckdb_corr_pairs(con, numeric), args.repeat)
    t_to_pandas, t_pandas, pandas_corr = pandas_step(con, numeric)

    ours = np.array(result.correlation.matrix, dtype=float)
    theirs = pandas_corr.to_numpy()
    both = np.isfinite(ours) & np.isfinite(theirs)
    gap = float(np.max(np.abs(ours[both] - theirs[both]))) if both.any() else float("nan")

    rows = [
        ("signoff statistics() (with associations)", t_step),
        ("signoff statistics(rank_rows=None): ranks on every row", t_all_rows),
        (f"signoff spearman, {'exact' if spear.exact else 'sample-based'}", t_spear),
        (f"duckdb corr() for all {len(numeric) * (len(numeric) - 1) // 2} pairs", t_corr),
        ("pandas: table -> DataFrame", t_to_pandas),
        ("pandas: df.corr() + df.skew() + df.kurt()", t_pandas),
        ("pandas total", t_to_pandas + t_pandas),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'contender':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.3f}")
    print(f"\nmax |r signoff - r pandas| over defined pairs: {gap:.2e}")
    print(f"strong pairs at 0.7: {len(result.strong_correlations)}")
    print(
        f"associations: {len(result.associations)} over "
        f"{len(result.association_matrix.columns)} columns; strong at 0.7: "
        f"{len(result.strong_associations)}; {result.association_matrix.basis}"
    )
    print(f"with_threshold() on this result: slowest {threshold_moves(result):.2f} ms")
    for name, size in figure_bytes(con, result).items():
        print(f"figure {name}: {size:,} bytes")

    s = slider()
    print(
        f"\nslider: strong_correlations() on a cached 50-column matrix ({s['pairs']} pairs), "
        f"{s['runs']} recomputes: median {s['median_ms']:.2f} ms, max {s['max_ms']:.2f} ms "
        f"(target < 50 ms); first call {s['first_ms']:.0f} ms; threshold 0, all pairs listed: "
        f"{s['every_pair_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
