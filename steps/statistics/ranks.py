"""Spearman's ρ and Kendall's τ-b for every pair of numeric (and datetime) columns, exactly.

Both need the order of the values, not sums, so they cannot come from one aggregate scan:
the columns come out of DuckDB once as arrays (every row up to `max_rows`, by default
`SAMPLE_ROWS`; past it a sample of about that many rows, and the result says so), each is
sorted once, and every pair is then worked out from those sorted orders on its
pairwise-complete rows:

- Spearman: average ranks *within the pair's complete rows* (a count per distinct value
  restricted to those rows, so no pair is sorted again), then Pearson of the ranks;
- Kendall τ-b: the rows in the order of one column, the other's dense ranks counted for
  discordant pairs by scipy's O(n log n) Fenwick-tree kernel (the one `scipy.stats.kendalltau`
  itself calls), with the tie corrections from bincounts and, for rows tied in both
  columns, the sorted (x, y) pairs: O(n log n) per pair instead of kendalltau's two sorts
  per pair.
"""

from __future__ import annotations

import importlib
import math
import threading
from dataclasses import dataclass

import duckdb
import numpy as np

from steps.engine import SAMPLE_ROWS, hash_sample

# Why a sample past `SAMPLE_ROWS` by default: on the 200 MB bench file (1.2 M rows, 12
# numeric and datetime columns, 66 pairs) Step 3 with these exact over every row took
# 16.4 s against 5.8 s with the sample (bench/README.md); the sampled figures differ from
# the all-rows ones by about 1/√100 000 ≈ 0.003. `max_rows=None` asks for every row
# (~16 bytes held per value: the column while it is ranked, its ranks, its order).

Matrix = tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class RankMeasures:
    """Spearman and Kendall matrices over `k` columns, with the rows each pair used."""

    spearman: Matrix
    kendall: Matrix
    n: tuple[tuple[int, ...], ...]
    exact: bool
    sample_rows: int | None

    def rows_used(self, n_rows: int) -> str:
        """Which rows these figures come from, as the basis sentences say it."""
        if self.exact:
            return f"all {n_rows:,} rows"
        sample = f"a sample of {self.sample_rows:,} of {n_rows:,} rows"
        return f"{sample} (chosen by a hash of their values)"


@dataclass(frozen=True)
class _Ranked:
    """One column: its present rows in value order, each row's dense rank (0 = absent), its
    average ranks and its pairs of tied rows among all its present values (what a pair
    missing nothing more uses)."""

    order: np.ndarray
    dense: np.ndarray
    distinct: int
    average: np.ndarray
    ties: int

    @classmethod
    def of(cls, values: np.ndarray) -> _Ranked:
        present = np.flatnonzero(~np.isnan(values))
        order = present[np.argsort(values[present])]
        ordered = values[order]
        dense = np.zeros(len(values), dtype=np.intp)
        if len(order):
            dense[order] = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]])
        distinct = int(dense.max(initial=0))
        ties = _tied_pairs(dense[order])
        return cls(order, dense, distinct, _average_ranks(dense, distinct), ties)


def _fetch(
    con: duckdb.DuckDBPyConnection, clean: str, k: int, n_rows: int, max_rows: int | None
) -> tuple[list[np.ndarray], bool]:
    """The columns `v0..v{k-1}` of `clean` as float arrays (NaN where absent): every row, or
    about `max_rows` of them, chosen by a hash of their values (`engine.hash_sample`): the
    same data gives the same figures, which an approval is bound to."""
    select = ", ".join(f"v{i}" for i in range(k))
    if max_rows is None or n_rows <= max_rows:
        exact, sample = True, ""
    else:
        exact, sample = False, f"WHERE {hash_sample(select, max_rows, n_rows)}"
    found = con.execute(f"SELECT {select} FROM {clean} {sample}").fetchnumpy()
    arrays: list[np.ndarray] = [
        np.ma.filled(np.ma.asarray(found[f"v{i}"], dtype=float), np.nan) for i in range(k)
    ]
    return arrays, exact


def import_scipy_in_background() -> None:
    """Start importing what Step 3 takes from scipy (scipy.stats: 1–3 s cold) in a thread.

    The notebook calls this at start-up, so the import is done while the reviewer reads
    Steps 1–2 instead of after gate 1; the headless run needs Step 3 at once and does not.
    """
    threading.Thread(
        target=importlib.import_module, args=("scipy.stats._stats",), daemon=True
    ).start()


def _average_ranks(dense: np.ndarray, distinct: int) -> np.ndarray:
    """Average ranks (ties share their mean rank) of the dense ranks given, among themselves
    (a rank 0, absent, is counted before all others: callers pass present rows only, or
    read only the present ones)."""
    counts = np.bincount(dense, minlength=distinct + 1)
    counts[0] = 0
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2)[dense]


def _ranks_within(x: _Ranked, both: np.ndarray) -> np.ndarray:
    """`x`'s average ranks among the rows `both`: its own when they are all its rows."""
    if len(both) == len(x.order):
        return x.average[both]
    return _average_ranks(x.dense[both], x.distinct)


def _spearman(x: _Ranked, y: _Ranked, both: np.ndarray) -> float | None:
    """Pearson of the average ranks within the rows where both columns are present."""
    m = len(both)
    if m < 2:
        return None
    centre = (m + 1) / 2
    rx = _ranks_within(x, both) - centre
    ry = _ranks_within(y, both) - centre
    # Elementwise products summed by numpy's pairwise sum: more exact than a BLAS dot, and
    # no BLAS threads to wait for on a busy machine.
    sxx, syy = float((rx * rx).sum()), float((ry * ry).sum())
    if sxx <= 0 or syy <= 0:
        return None
    return max(-1.0, min(1.0, float((rx * ry).sum()) / math.sqrt(sxx * syy)))


def _pairs_in(counts: np.ndarray) -> int:
    """Pairs within groups of these sizes."""
    tied = counts[counts > 1].astype(np.int64)
    return int((tied * (tied - 1) // 2).sum())


def _tied_pairs(values: np.ndarray) -> int:
    """Pairs of rows sharing a dense rank (a bincount: ranks run up to the column's distinct
    values, no further)."""
    return _pairs_in(np.bincount(values))


def _ties_within(x: _Ranked, values: np.ndarray) -> int:
    """`x`'s tied pairs among the rows whose dense ranks are `values`: its own count when
    they are all its rows (most pairs: one bincount per column instead of one per pair)."""
    return x.ties if len(values) == len(x.order) else _tied_pairs(values)


def _tied_in_both(xs: np.ndarray, ys: np.ndarray, y_distinct: int) -> int:
    """Pairs of rows with the same (x, y), the rows given in x's order.

    The (x, y) cell numbers then arrive in runs of equal x, which a stable sort (timsort)
    merges instead of sorting afresh: ~2 ms per pair of 100 000 rows against ~5.5 ms for
    `np.unique`'s sort.
    """
    cells = np.sort(xs.astype(np.int64) * (y_distinct + 1) + ys, kind="stable")
    return _pairs_in(np.diff(np.flatnonzero(np.r_[True, cells[1:] != cells[:-1], True])))


def _kendall(x: _Ranked, y: _Ranked) -> float | None:
    """τ-b over the rows where both are present, walking the rows in `x`'s value order.

    The kernel counts pairs in different groups of equal `x` whose `y` is lower (the
    discordant pairs). The concordant ones follow from the ties: every pair of rows is
    concordant, discordant, or tied in x, y or both. Rows tied in both are counted from the
    sorted (x, y) pairs: a bincount over every possible pair (up to 4 M cells, 32 MB)
    and a second kernel pass past that cost more time and memory on the 200 MB bench file.
    `x` is the column with more distinct values, so the Fenwick tree over `y` is the
    smaller one.
    """
    # Imported here: scipy.stats takes ~0.5 s to import, which Steps 1-2 need not pay.
    from scipy.stats._stats import _kendall_dis

    rows = x.order[y.dense[x.order] > 0]
    m = len(rows)
    if m < 2:
        return None
    xs, ys = x.dense[rows], y.dense[rows]
    discordant = int(_kendall_dis(xs, ys))
    total = m * (m - 1) // 2
    x_ties, y_ties = _ties_within(x, xs), _ties_within(y, ys)
    if x_ties == total or y_ties == total:
        return None
    concordant = total - x_ties - y_ties + _tied_in_both(xs, ys, y.distinct) - discordant
    tau = (concordant - discordant) / (math.sqrt(total - x_ties) * math.sqrt(total - y_ties))
    return max(-1.0, min(1.0, tau))


def rank_measures(
    con: duckdb.DuckDBPyConnection,
    clean: str,
    k: int,
    n_rows: int,
    *,
    max_rows: int | None = SAMPLE_ROWS,
) -> RankMeasures:
    """Spearman and Kendall for every pair of the `k` columns `v0..` of `clean`."""
    if k == 0:
        return RankMeasures((), (), (), True, None)
    arrays, exact = _fetch(con, clean, k, n_rows, max_rows)
    ranked = [_Ranked.of(a) for a in arrays]
    spearman: list[list[float | None]] = [[None] * k for _ in range(k)]
    kendall: list[list[float | None]] = [[None] * k for _ in range(k)]
    counts = [[0] * k for _ in range(k)]
    for i, x in enumerate(ranked):
        counts[i][i] = len(x.order)
        if x.distinct > 1:
            spearman[i][i] = kendall[i][i] = 1.0
        for j in range(i + 1, k):
            y = ranked[j]
            wide, narrow = (x, y) if x.distinct >= y.distinct else (y, x)
            both = np.flatnonzero((x.dense > 0) & (y.dense > 0))
            counts[i][j] = counts[j][i] = len(both)
            spearman[i][j] = spearman[j][i] = _spearman(x, y, both)
            kendall[i][j] = kendall[j][i] = _kendall(wide, narrow)
    return RankMeasures(
        spearman=tuple(map(tuple, spearman)),
        kendall=tuple(map(tuple, kendall)),
        n=tuple(map(tuple, counts)),
        exact=exact,
        sample_rows=None if exact else len(arrays[0]),
    )
