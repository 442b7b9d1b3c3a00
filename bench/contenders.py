"""One contender per process, so each peak RSS is its own: `python bench/contenders.py NAME FILE`.

Prints one JSON line: {"name", "seconds", "rows"}. `bench/run.py` starts these and reads the
child's peak RSS from `os.wait4`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def signoff(path: Path) -> int:
    """What the app does up to gate 1: load, Step 1 overview, Step 2 quality."""
    from steps.load import load
    from steps.overview import overview
    from steps.quality import quality

    loaded = load(path)
    ov = overview(loaded.con, loaded.table)
    quality(loaded.con, loaded.table, overview=ov)
    return ov.n_rows


def signoff_step3(path: Path) -> int:
    """Load plus Step 3 (correlation matrix, distributions) as the app computes them."""
    from steps.load import load
    from steps.statistics import statistics

    loaded = load(path)
    statistics(loaded.con, loaded.table)
    return loaded.report.n_rows


def duckdb_summarize(path: Path) -> int:
    """DuckDB's bare scan: read_csv into a table, then SUMMARIZE."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    con.execute("SUMMARIZE t").fetchall()
    (n,) = con.execute("SELECT count(*) FROM t").fetchone()
    return int(n)


def pandas_figures(path: Path) -> int:
    """pandas read_csv and the figures Steps 1–2 report."""
    import pandas as pd

    df = pd.read_csv(path, low_memory=False)
    num = df.select_dtypes("number")
    num.describe()
    df.isna().sum()
    df.nunique()
    df.memory_usage(deep=True).sum()
    int(df.duplicated().sum())
    q1, q3 = num.quantile(0.25), num.quantile(0.75)
    iqr = q3 - q1
    ((num < q1 - 1.5 * iqr) | (num > q3 + 1.5 * iqr)).sum()
    ((num - num.mean()).abs() > 3 * num.std()).sum()
    return len(df)


def pandas_step3(path: Path) -> int:
    """pandas read_csv, then df.corr() + skew() + kurt() over the numeric columns."""
    import pandas as pd

    df = pd.read_csv(path, low_memory=False)
    num = df.select_dtypes("number")
    num.corr()
    num.skew()
    num.kurt()
    return len(df)


CONTENDERS = {
    f.__name__: f for f in (signoff, signoff_step3, duckdb_summarize, pandas_figures, pandas_step3)
}

if __name__ == "__main__":
    name, file = sys.argv[1], Path(sys.argv[2])
    start = time.perf_counter()
    rows = CONTENDERS[name](file)
    print(json.dumps({"name": name, "seconds": time.perf_counter() - start, "rows": rows}))
