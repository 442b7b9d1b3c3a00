"""Run contenders side by side on one file and print a table of time and peak RSS.

    uv run python bench/run.py bench/data/messy_200mb.csv
    uv run python bench/run.py FILE --only signoff duckdb_summarize --repeat 3

Each contender runs in its own process (peak RSS from `os.wait4`), best of `--repeat`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from contenders import CONTENDERS

HERE = Path(__file__).resolve().parent


def run_once(name: str, file: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, rows) of one contender in a fresh process."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "contenders.py"), name, str(file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed: {err.decode(errors='replace')[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result["seconds"], usage.ru_maxrss * 1024, result["rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--only", nargs="*", choices=sorted(CONTENDERS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    size = args.file.stat().st_size
    print(f"file: {args.file.name}, {size / 1e6:.1f} MB, {os.cpu_count()} cores")
    print(f"{'contender':<20} {'seconds':>8} {'peak RSS MB':>12} {'RSS/file':>9} {'rows':>10}")
    for name in args.only or CONTENDERS:
        runs = [run_once(name, args.file) for _ in range(args.repeat)]
        seconds = min(r[0] for r in runs)
        rss = min(r[1] for r in runs)
        print(f"{name:<20} {seconds:>8.2f} {rss / 1e6:>12.0f} {rss / size:>9.2f} {runs[0][2]:>10}")


if __name__ == "__main__":
    main()
