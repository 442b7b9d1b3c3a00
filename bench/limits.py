"""What the loader's limits protect against, measured (not a test).

    uv run python bench/limits.py                 # every case, markdown table on stdout
    uv run python bench/limits.py --only wide_50k --timeout 600

Each case is generated into a temporary directory (nothing large is kept) and run in its own
process twice: with the limits lifted (what the file costs: load, then Step 1 and Step 2 as
the app runs them) and with the defaults (what the refusal costs). Wall time and peak RSS
(from `os.wait4`) per run; a run past `--timeout` is killed and shown as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wide(columns: int, rows: int = 20) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("w") as f:
            f.write(",".join(f"c{j}" for j in range(columns)) + "\n")
            for i in range(rows):
                f.write(",".join(str((i * 31 + j) % 997) for j in range(columns)) + "\n")

    return write


def one_line(megabytes: int) -> Callable[[Path], None]:
    """A header, then one row whose text field makes it `megabytes` long (MB = 10^6 bytes)."""

    def write(path: Path) -> None:
        with path.open("w") as f:
            f.write("id,text\n1,")
            for _ in range(megabytes):
                f.write("x" * 1_000_000)
            f.write("\n")

    return write


CASES: dict[str, Callable[[Path], None]] = {
    "wide_10k": wide(10_000),
    "wide_50k": wide(50_000),
    "line_10mb": one_line(10),
    "line_100mb": one_line(100),
}

CHILD = """
import json, sys, time
started = time.perf_counter()
from steps.load import LoadError, LoadLimits, load
from steps.overview import overview
from steps.quality import quality
lifted = LoadLimits(max_columns=10**9, max_line_bytes=10**12)
limits = lifted if sys.argv[2] == "lifted" else LoadLimits()
try:
    loaded = load(sys.argv[1], limits=limits)
    loaded_at = time.perf_counter()
    ov = overview(loaded.con, loaded.table)
    quality(loaded.con, loaded.table, overview=ov)
    detail = f"load {loaded_at - started:.1f} s, Steps 1-2 {time.perf_counter() - loaded_at:.1f} s"
except LoadError as error:
    detail = f"refused: {error}"
print(json.dumps({"seconds": time.perf_counter() - started, "detail": detail}))
"""


def run(path: Path, mode: str, timeout: float) -> tuple[str, str, str]:
    """Seconds, peak RSS (MB) and what happened, for one run in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    out = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    timer.cancel()
    peak = f"{usage.ru_maxrss // 1024}"
    if os.WIFSIGNALED(status):
        return f"> {timeout:.0f}", peak, "killed at the timeout"
    lines = out.strip().splitlines()
    if os.WEXITSTATUS(status) != 0 or not lines:
        errors = [line for line in lines if "Error" in line or "Exception" in line]
        return "—", peak, (errors or lines or ["no output"])[-1][:200]
    result = json.loads(lines[-1])
    return f"{result['seconds']:.1f}", peak, result["detail"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure what the loader's limits prevent.")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    print("| case | file MB | limits | seconds | peak RSS MB | what happened |")
    print("|---|--:|---|--:|--:|---|")
    with tempfile.TemporaryDirectory(prefix="signoff-limits-") as tmp:
        for name in args.only:
            path = Path(tmp) / f"{name}.csv"
            CASES[name](path)
            size = path.stat().st_size / 1e6
            for mode in ("lifted", "default"):
                seconds, peak, detail = run(path, mode, args.timeout)
                print(f"| {name} | {size:.1f} | {mode} | {seconds} | {peak} | {detail} |")
                sys.stdout.flush()
            path.unlink()


if __name__ == "__main__":
    main()
