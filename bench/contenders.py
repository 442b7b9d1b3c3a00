"""One contender per process, so each peak RSS is its own: `python bench/contenders.py NAME FILE`.

Prints one JSON line: {"name", "seconds", "rows", "detail"}. The time starts before the
contender's first import, so start-up costs (pandas, scikit-learn, ...) count. `bench/run.py`
starts these and reads the child's peak RSS from `os.wait4`.

`ydata_minimal` runs in its own throwaway environment (ydata-profiling pins pandas < 3);
`bench/run.py` starts it through `uv run --no-project --with ...`, so nothing here may import
the project's modules at the top.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

Result = tuple[int, str]


class Clock:
    """Laps since the contender started, for the detail column."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: list[str] = []

    def lap(self, label: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{label} {now - self.last:.2f}")
        self.last = now

    def detail(self) -> str:
        return ", ".join(self.laps)


def signoff(path: Path, clock: Clock) -> Result:
    """What the app does up to gate 1: load, Step 1 overview, Step 2 quality."""
    from steps.load import load
    from steps.overview import overview
    from steps.quality import quality

    clock.lap("import")
    loaded = load(path)
    clock.lap("load")
    ov = overview(loaded.con, loaded.table)
    clock.lap("step1")
    quality(loaded.con, loaded.table, overview=ov)
    clock.lap("step2")
    return ov.n_rows, clock.detail()


def signoff_load(path: Path, clock: Clock) -> Result:
    """`steps.load.load` alone: the loader's own cost, for before/after comparisons.

    The size limit is the app's (`SIGNOFF_MAX_MB`): a 50 MB workbook unpacks past the default."""
    from steps.load import load
    from steps.settings import Settings

    clock.lap("import")
    loaded = load(path, limit=Settings.from_env().max_bytes)
    clock.lap("load")
    return loaded.report.n_rows, clock.detail()


def signoff_step3(path: Path, clock: Clock) -> Result:
    """Load plus Step 3 (correlation matrix, strong pairs, distributions) as the app does."""
    from steps.load import load
    from steps.statistics import statistics

    clock.lap("import")
    loaded = load(path)
    clock.lap("load")
    statistics(loaded.con, loaded.table)
    clock.lap("step3")
    return loaded.report.n_rows, clock.detail()


def signoff_headless(path: Path, clock: Clock) -> Result:
    """`python -m steps FILE --json report.json`: the whole flow (load, Steps 1-4 with the
    offline advisor) and the report, no other export."""
    return _headless(path, clock, with_exports=False)


def signoff_full(path: Path, clock: Clock) -> Result:
    """`python -m steps FILE --out DIR`: load, Steps 1-4 with the offline advisor, every
    export (JSON, CSV, TXT, HTML with figures, Parquet of the data, bundle) written to disk."""
    return _headless(path, clock, with_exports=True)


def _headless(path: Path, clock: Clock, *, with_exports: bool) -> Result:
    from steps.__main__ import main

    clock.lap("import")
    with tempfile.TemporaryDirectory(prefix="signoff-bench-") as out:
        report = Path(out) / "report.json"
        code = main([str(path), *(["--out", out] if with_exports else []), "--json", str(report)])
        if code:
            raise SystemExit(f"python -m steps exited with {code}")
        rows = json.loads(report.read_text())["overview"]["n_rows"]
        written = sum(p.stat().st_size for p in Path(out).iterdir())
    clock.lap("flow")
    return int(rows), f"{clock.detail()}; {written / 1e6:.0f} MB written"


def duckdb_read(path: Path, clock: Clock) -> Result:
    """DuckDB's bare `read_csv` into a table, nothing else (the floor for any loader)."""
    import duckdb

    clock.lap("import")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    [(n,)] = con.execute("SELECT count(*) FROM t").fetchall()
    clock.lap("read")
    return int(n), clock.detail()


def duckdb_summarize(path: Path, clock: Clock) -> Result:
    """DuckDB's bare scan: `read_csv` into a table, then `SUMMARIZE`."""
    import duckdb

    clock.lap("import")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    clock.lap("read")
    con.execute("SUMMARIZE t").fetchall()
    [(n,)] = con.execute("SELECT count(*) FROM t").fetchall()
    clock.lap("summarize")
    return int(n), clock.detail()


def pandas_figures(path: Path, clock: Clock) -> Result:
    """pandas `read_csv` and the figures Steps 1-2 report."""
    import pandas as pd

    clock.lap("import")
    df = pd.read_csv(path, low_memory=False)
    clock.lap("read")
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
    clock.lap("figures")
    return len(df), clock.detail()


def pandas_step3(path: Path, clock: Clock) -> Result:
    """pandas `read_csv`, then `df.corr()` + `skew()` + `kurt()` over the numeric columns."""
    import pandas as pd

    clock.lap("import")
    df = pd.read_csv(path, low_memory=False)
    clock.lap("read")
    num = df.select_dtypes("number")
    num.corr()
    num.skew()
    num.kurt()
    clock.lap("step3")
    return len(df), clock.detail()


def ydata_minimal(path: Path, clock: Clock) -> Result:
    """ydata-profiling `minimal=True`: pandas `read_csv`, the profile and its HTML report."""
    import pandas as pd
    from ydata_profiling import ProfileReport

    clock.lap("import")
    df = pd.read_csv(path, low_memory=False)
    clock.lap("read")
    report = ProfileReport(df, minimal=True, progress_bar=False)
    report.get_description()
    clock.lap("profile")
    html = report.to_html()
    clock.lap("html")
    return len(df), f"{clock.detail()}; {len(html) / 1e6:.1f} MB of HTML"


def statistics_slider(path: Path, clock: Clock) -> Result:
    """The threshold slider: `strong_correlations()` on a cached 50-column matrix (the file
    is not read; the matrix comes from 20 000 generated rows, see bench_statistics.py)."""
    from bench_statistics import slider

    s = slider()
    return 0, (
        f"{s['runs']} recomputes over {s['pairs']} pairs: median {s['median_ms']:.2f} ms, "
        f"max {s['max_ms']:.2f} ms (target < 50 ms); first call, importing scipy.special: "
        f"{s['first_ms']:.0f} ms"
    )


CONTENDERS: dict[str, Callable[[Path, Clock], Result]] = {
    f.__name__: f
    for f in (
        signoff,
        signoff_load,
        duckdb_read,
        duckdb_summarize,
        pandas_figures,
        signoff_step3,
        pandas_step3,
        signoff_headless,
        signoff_full,
        ydata_minimal,
        statistics_slider,
    )
}

if __name__ == "__main__":
    name, file = sys.argv[1], Path(sys.argv[2])
    clock = Clock()
    rows, detail = CONTENDERS[name](file, clock)
    seconds = time.perf_counter() - clock.start
    print(json.dumps({"name": name, "seconds": seconds, "rows": rows, "detail": detail}))
