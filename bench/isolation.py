"""Isolation between sessions of one process (issue 19 item 3), measured at the engine level.

`marimo run` serves every viewer as a thread of one process. This measures what one session's
heavy DuckDB query does to another session's light work in the same process:

- `light`: load a small CSV with `steps.load.load`, then Step 1 `overview` and Step 2
  `quality`, as a session does up to gate 1;
- `heavy`: a parallel aggregate on its own connection that would run for minutes, started
  before the light work and interrupted after it;
- the share of a CPU a pure-Python thread still gets while the heavy query runs (≈ 0 if
  DuckDB held the GIL), and how long `interrupt()` takes to stop the heavy query.

    uv run python bench/isolation.py --csv samples/messy_orders.csv --repeat 7

Not a test: `tests/test_isolation.py` asserts the bound with the same functions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steps.engine import connect, session_threads  # noqa: E402
from steps.errors import SignoffError  # noqa: E402
from steps.load import load  # noqa: E402
from steps.overview import overview  # noqa: E402
from steps.quality import quality  # noqa: E402
from steps.sql import run_readonly_sql  # noqa: E402

SAMPLE = ROOT / "samples" / "messy_orders.csv"
HEAVY_ROWS = 2_000_000
HEAVY_SQL = "SELECT sum(hash(x * i)) FROM heavy, range(1000000) r(i)"
"""Parallel over the table's row groups, and minutes long: it only ends when interrupted."""


def light(path: Path, threads: int | None = None) -> float:
    """Seconds to load `path` and run Steps 1-2, on a connection of `threads` threads (by
    default the one `load` opens itself, as the app does)."""
    started = time.perf_counter()
    loaded = load(path) if threads is None else load(path, con=connect(threads=threads))
    try:
        quality(loaded.con, loaded.table, overview=overview(loaded.con, loaded.table))
    finally:
        loaded.con.close()
    return time.perf_counter() - started


@contextmanager
def heavy_query(threads: int) -> Iterator[threading.Event]:
    """Run `HEAVY_SQL` on a connection of `threads` threads in a background thread until the
    block ends; yields an event that is set once the query has stopped."""
    con = connect(threads=threads)
    con.execute(f"CREATE TABLE heavy AS SELECT range AS x FROM range({HEAVY_ROWS})")
    stopped = threading.Event()

    def run() -> None:
        try:
            con.execute(HEAVY_SQL).fetchall()
        except duckdb.InterruptException:
            pass
        finally:
            stopped.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.3)  # let it reach full speed
    try:
        yield stopped
    finally:
        con.interrupt()
        thread.join()
        con.close()


@contextmanager
def heavy_sql(seconds: float = 30.0) -> Iterator[None]:
    """A one-row expression in the SQL box (`lpad` of 2 GB: CPU-bound, never interruptible
    inside DuckDB) running in a background thread until its worker is killed at `seconds`."""
    con = connect()
    con.execute("CREATE TABLE data AS SELECT 1 AS x")
    query = "SELECT length(lpad('x', 2000000000, 'y'))"
    thread = threading.Thread(target=lambda: _refused(con, query, seconds), daemon=True)
    thread.start()
    time.sleep(1.0)  # the worker is started and computing
    try:
        yield
    finally:
        thread.join()
        con.close()


def _refused(con: duckdb.DuckDBPyConnection, query: str, seconds: float) -> None:
    with suppress(SignoffError):
        run_readonly_sql(con, query, timeout_s=seconds)


def python_share(seconds: float = 1.0) -> float:
    """CPU seconds a pure-Python loop in this thread gets per wall second."""
    started, cpu = time.perf_counter(), time.thread_time()
    while time.perf_counter() - started < seconds:
        pass
    return (time.thread_time() - cpu) / (time.perf_counter() - started)


def interrupt_latency(threads: int) -> float:
    """Seconds from `interrupt()` to the heavy query having stopped."""
    with heavy_query(threads) as stopped:
        started = time.perf_counter()
    stopped.wait()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=SAMPLE)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    light(args.csv)  # imports and first-call costs out of the way
    print(f"default threads per session here: {session_threads()}\n")
    print(
        "| threads per session | heavy query beside it | light median s | light max s "
        "| Python thread CPU share |"
    )
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        for heavy in (None, threads):
            with heavy_query(heavy) if heavy else nullcontext():
                times = [light(args.csv, threads) for _ in range(args.repeat)]
                share = python_share()
            print(
                f"| {threads} | {'yes' if heavy else 'none'} | {statistics.median(times):.3f} "
                f"| {max(times):.3f} | {share:.2f} |"
            )
    with heavy_sql(seconds=8.0):
        times = [light(args.csv) for _ in range(args.repeat)]
        share = python_share()
    print(
        f"\nbeside a 2 GB lpad() in the SQL box (its worker process, 1 thread): light median "
        f"{statistics.median(times):.3f} s, max {max(times):.3f} s; Python share {share:.2f}"
    )
    for threads in (1, 2):
        print(f"interrupt() with {threads} thread(s): {interrupt_latency(threads) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
