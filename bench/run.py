"""Run contenders side by side on one file and print a table of time and peak RSS.

    uv run python bench/run.py bench/data/messy_200mb.csv --repeat 2
    uv run python bench/run.py FILE --only signoff duckdb_summarize --repeat 3
    uv run python bench/run.py FILE --markdown          # the table for bench/README.md

Each contender runs in its own process (peak RSS and CPU time from `os.wait4`, which
include the process's own children), best time, lowest CPU time and lowest peak of
`--repeat` runs. CPU time (user + system, every thread) moves less than wall time when
other work shares the machine. `ydata_minimal` runs
in a throwaway environment made by `uv run --no-project --with ydata-profiling --with
'pandas<3'` (it pins pandas < 3); its time is measured inside that process, so uv's own
start-up does not count against it. A contender that fails or runs past `--timeout` is
reported as such, not left out. AI keys are removed from every child's environment, so the
full flow uses the offline advisor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from contenders import CONTENDERS

HERE = Path(__file__).resolve().parent
YDATA_ENV = [
    "uv",
    "run",
    "--no-project",
    "--with",
    "ydata-profiling",
    "--with",
    "pandas<3",
    # ydata-profiling still imports pkg_resources, which setuptools 81 removed.
    "--with",
    "setuptools<81",
]
AI_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL")
BASELINE = "duckdb_summarize"


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    peak_rss: int
    rows: int
    detail: str


@dataclass(frozen=True)
class Outcome:
    name: str
    runs: tuple[Run, ...]
    failure: str | None

    @property
    def best(self) -> Run | None:
        if not self.runs:
            return None
        fastest = min(self.runs, key=lambda r: r.seconds)
        return Run(
            fastest.seconds,
            min(r.cpu for r in self.runs),
            min(r.peak_rss for r in self.runs),
            fastest.rows,
            fastest.detail,
        )


def command(name: str, file: Path) -> list[str]:
    script = [str(HERE / "contenders.py"), name, str(file)]
    if name == "ydata_minimal":
        return [*YDATA_ENV, "python", *script]
    return [sys.executable, *script]


def child_env() -> dict[str, str]:
    """The environment without AI keys, and with bytecode caching on (as on any install after
    its first run), so that every contender's imports are measured alike."""
    dropped = (*AI_VARIABLES, "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def run_once(name: str, file: Path, timeout: float) -> Run:
    """One contender in a fresh process group, killed whole after `timeout` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            command(name, file), stdout=out, stderr=err, env=child_env(), start_new_session=True
        )
        timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode == -signal.SIGKILL:
        raise RuntimeError(f"did not finish within {timeout:.0f} s")
    if proc.returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"failed: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    result = json.loads(stdout.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return Run(result["seconds"], cpu, usage.ru_maxrss * 1024, result["rows"], result["detail"])


def measure(name: str, file: Path, repeat: int, timeout: float) -> Outcome:
    runs: list[Run] = []
    for _ in range(repeat):
        try:
            runs.append(run_once(name, file, timeout))
        except RuntimeError as exc:
            return Outcome(name, tuple(runs), str(exc))
    return Outcome(name, tuple(runs), None)


def header(file: Path, size: int, repeat: int) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"file: {file.name}, {size / 1e6:.1f} MB; {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {date.today().isoformat()}; best of {repeat}"
    )


def row_cells(outcome: Outcome, size: int, baseline: float | None) -> list[str]:
    best = outcome.best
    if best is None:
        return [outcome.name, "—", "—", "—", "—", "—", "—", outcome.failure or ""]
    ratio = f"{best.seconds / baseline:.2f}" if baseline else "—"
    note = best.detail + (f" ({outcome.failure} on a later run)" if outcome.failure else "")
    return [
        outcome.name,
        f"{best.seconds:.2f}",
        ratio,
        f"{best.cpu:.2f}",
        f"{best.peak_rss / 1e6:.0f}",
        f"{best.peak_rss / size:.2f}",
        f"{best.rows:,}" if best.rows else "—",
        note,
    ]


COLUMNS = ["contender", "seconds", "× duckdb", "CPU s", "peak RSS MB", "RSS/file", "rows", "detail"]


def print_table(rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        last = len(COLUMNS) - 1
        print("|" + "|".join("---" if i in (0, last) else "--:" for i in range(len(COLUMNS))) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *rows]:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))
        ]
        print("  ".join(cells) + "  " + row[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS))
    parser.add_argument("--skip", nargs="*", choices=list(CONTENDERS), default=[])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    size = args.file.stat().st_size
    names = [n for n in (args.only or CONTENDERS) if n not in args.skip]
    print(header(args.file, size, args.repeat), flush=True)
    outcomes = []
    for name in names:
        outcomes.append(measure(name, args.file, args.repeat, args.timeout))
        print(f"  {name}: done", file=sys.stderr, flush=True)
    base = next((o.best for o in outcomes if o.name == BASELINE and o.best), None)
    baseline = base.seconds if base else None
    print_table([row_cells(o, size, baseline) for o in outcomes], args.markdown)


if __name__ == "__main__":
    main()
