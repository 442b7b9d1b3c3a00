"""The SQL box against one-row expressions DuckDB neither interrupts nor counts (issue 20).

Each query runs in a fresh Python process that opens a session connection like the app's
(256 MiB `memory_limit`, a 1 000-row table) and calls `steps.sql.run_readonly_sql`. This
script samples the RSS of that process and its children (the SQL worker) with psutil every
10 ms, and the process reports the kernel's own high-water marks, which no sampling
interval can miss: its `VmHWM` (not its `ru_maxrss`, which Linux carries over from the
process that started it, here the test runner) and its reaped worker's `ru_maxrss` (which
likewise starts from the probe's own RSS, ≈ 160 MB: an upper bound).

    uv run python bench/sql_bounds.py            # the table in bench/README.md

Not a test: `tests/test_sql_bounds.py` asserts the bounds with `measure`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import psutil

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

EXPRESSIONS = {
    "list_sort-range": "SELECT len(list_sort(range(200000000)))",
    "repeat": "SELECT length(repeat('x',2000000000))",
    "lpad-cpu": "SELECT length(lpad('x', 2000000000, 'y'))",
    "list_transform-grows": (
        "SELECT len(list_transform(range(30000000), lambda x: x::VARCHAR || 'abcdefghij'))"
    ),
}

PROBE = """
import json, resource, sys, time
from steps.engine import connect
from steps.sql import SqlError, run_readonly_sql

con = connect(memory_limit="256MiB")
con.execute("CREATE TABLE data AS SELECT range AS id FROM range(1000)")
started = time.perf_counter()
try:
    run_readonly_sql(con, sys.argv[1], timeout_s=float(sys.argv[2]))
    said = None
except SqlError as error:
    said = str(error)
print(json.dumps({
    "said": said,
    "call_s": time.perf_counter() - started,
    "self_kib": next(
        int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")
    ),
    "worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


class Measurement(NamedTuple):
    said: str | None
    """The refusal, or None when the query answered."""
    call_s: float
    """`run_readonly_sql` alone, inside the process."""
    wall_s: float
    """The whole process, Python start-up included."""
    sampled_peak_bytes: int
    """Highest RSS of the process and its children seen by sampling."""
    kernel_peak_bytes: int
    """The process's `VmHWM` plus its worker's `ru_maxrss`: an upper bound on their sum."""


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants, 0 once it is gone."""
    total = 0
    try:
        for member in [process, *process.children(recursive=True)]:
            total += member.memory_info().rss
    except psutil.Error:
        pass
    return total


def measure(sql: str, timeout_s: float) -> Measurement:
    """Run `sql` in the SQL box of a fresh process and measure it."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, sql, str(timeout_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None and time.monotonic() - started < 60:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.01)
    out, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(err.decode())
    report = json.loads(out)
    return Measurement(
        said=report["said"],
        call_s=report["call_s"],
        wall_s=time.monotonic() - started,
        sampled_peak_bytes=peak,
        kernel_peak_bytes=(report["self_kib"] + report["worker_kib"]) * 1024,
    )


def overhead(repeat: int = 5) -> dict[str, float]:
    """Median seconds of the SQL box for `SELECT 1` (the worker's start-up) and for a count
    over a 1M-row, 21-column table (start-up plus the streamed copy)."""
    sys.path.insert(0, str(ROOT))
    from steps.engine import connect
    from steps.sql import run_readonly_sql

    con = connect()
    columns = ", ".join(f"range * {i} AS c{i}" for i in range(20))
    con.execute(f"CREATE TABLE data AS SELECT range::VARCHAR AS id, {columns} FROM range(1000000)")
    figures = {}
    for label, sql in (("SELECT 1", "SELECT 1"), ("1M x 21 count", "SELECT count(*) FROM data")):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run_readonly_sql(con, sql)
            times.append(time.perf_counter() - started)
        figures[label] = sorted(times)[len(times) // 2]
    return figures


def main() -> None:
    for label, seconds in overhead().items():
        print(f"SQL box, {label}: median {seconds:.2f} s")
    print("| expression | call s | process s | peak RSS sampled | peak RSS (kernel) | said |")
    print("|---|---|---|---|---|---|")
    for name, sql in EXPRESSIONS.items():
        m = measure(sql, timeout_s=5.0)
        print(
            f"| `{name}` | {m.call_s:.2f} | {m.wall_s:.2f} | {m.sampled_peak_bytes / MIB:.0f} MiB "
            f"| {m.kernel_peak_bytes / MIB:.0f} MiB | {m.said} |"
        )


if __name__ == "__main__":
    main()
