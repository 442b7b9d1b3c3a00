"""The same table gives the same figures on every run, whatever DuckDB's threads do.

Gate subjects are hashes of results, so a last-digit wobble (a parallel sum combined in
the order threads finish) would show a reopened analysis as changed since its approval.
The table spans several row groups (122 880 rows each), so four threads share the scan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from steps.load import load
from steps.overview import overview
from steps.quality import quality
from steps.statistics import statistics
from steps.text import canonical_json


def figures(path: Path) -> str:
    loaded = load(path)
    loaded.con.execute("SET threads = 4")
    parts = (
        overview(loaded.con, loaded.table),
        quality(loaded.con, loaded.table),
        statistics(loaded.con, loaded.table),
    )
    return canonical_json([p.to_dict() for p in parts])


def test_three_runs_on_four_threads_agree_to_the_last_digit(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 400_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(1e6, 3.0, n),
            "y": rng.exponential(2.0, n),
            "k": rng.integers(0, 50, n),  # many ties in distance: outlier examples
            "c": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[rng.choice(n, 20, replace=False), "k"] = 10_000
    path = tmp_path / "wide_rows.csv"
    frame.to_csv(path, index=False)
    first = figures(path)
    assert all(figures(path) == first for _ in range(2))
