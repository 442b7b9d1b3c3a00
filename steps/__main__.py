"""Headless signoff: the same flow as the app, no reviewer, so every gate stays pending.

    uv run python -m steps FILE --json report.json
    uv run python -m steps FILE --out exports/ --target price --plan plan.json

The options mirror the app's controls one to one (cleaning plan, Step 3's methods and
threshold, the model's target and left-out features); the stages, the report and the
exports are `flow`'s, the same the notebook calls. Bad input exits with code 2 and
`error: <one sentence>` on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ai.factory import choose_advisor
from flow.report import report
from flow.source import DELIMITER_NAMES, load_with
from flow.stages import Options, budget, compute
from review.gates import undecided_states
from steps.cleaning import CleaningPlan
from steps.engine import available_cpus
from steps.errors import CleaningError, SignoffError, TriageError
from steps.exports import ExportContext, export_files, json_report
from steps.figures import report_figures
from steps.load import ReadOptions
from steps.record import Parameters
from steps.settings import Settings

USAGE_ERROR = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m steps", description="Run signoff's steps on FILE without the app."
    )
    parser.add_argument("file", type=Path, help="a CSV, TSV, TXT, XLSX or XLS file")
    parser.add_argument(
        "--delimiter",
        help="read with this delimiter instead of detecting it: one character, or tab, space",
    )
    parser.add_argument("--skip-lines", type=int, help="lines above the header to skip")
    parser.add_argument(
        "--no-header", action="store_true", help="the first line is data, not the header"
    )
    parser.add_argument("--sheet", help="the workbook sheet to read")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--out", type=Path, help="write every export into this folder")
    parser.add_argument(
        "--plan",
        help="gate 1's cleaning plan: a JSON file or JSON text with drop_duplicates, "
        "drop_columns, drop_rows_missing",
    )
    parser.add_argument(
        "--triage",
        type=Path,
        help="gate 1's alert triage: a JSON file holding a list shaped like the report's "
        "alerts (type, columns, status, note), or a saved report",
    )
    parser.add_argument("--threshold", type=float, default=0.7, help="strong |r| (0.5–1.0)")
    parser.add_argument("--method", choices=("pearson", "spearman"), default="pearson")
    parser.add_argument("--outliers", choices=("iqr", "zscore", "isolation_forest"), default="iqr")
    parser.add_argument("--iqr-multiplier", type=float, default=1.5)
    parser.add_argument("--z-threshold", type=float, default=3.0)
    parser.add_argument("--target", help="train baseline models for this column")
    parser.add_argument(
        "--exclude", action="append", default=[], help="leave this feature out (repeatable)"
    )
    return parser.parse_args(argv)


def plan_from(text: str | None) -> CleaningPlan:
    """The `--plan` option: a path to a JSON file, or the JSON itself."""
    if text is None:
        return CleaningPlan()
    path = Path(text)
    raw = path.read_text("utf-8") if path.is_file() else text
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError:
        raise CleaningError("--plan must be a JSON object or a file holding one.") from None
    if not isinstance(fields, dict):
        raise CleaningError("--plan must be a JSON object or a file holding one.")
    return CleaningPlan.from_mapping(fields)


def triage_from(path: Path | None) -> tuple[dict, ...]:
    """The `--triage` option: the entries of a triage file (or of a saved report's alerts)."""
    if path is None:
        return ()
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise TriageError("--triage must name a JSON file holding a list of alerts.") from None
    entries = data.get("alerts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise TriageError("--triage must name a JSON file holding a list of alerts.")
    return tuple(entries)


def read_options_from(args: argparse.Namespace) -> ReadOptions:
    """How to read FILE: `None` everywhere means detection, as in the app."""
    return ReadOptions(
        delimiter=DELIMITER_NAMES.get(args.delimiter, args.delimiter),
        skip_lines=args.skip_lines,
        header=False if args.no_header else None,
        sheet=args.sheet,
    )


def options_from(args: argparse.Namespace, settings: Settings) -> Options:
    return Options(
        thresholds=settings.alerts,
        triage=triage_from(args.triage),
        plan=plan_from(args.plan),
        parameters=Parameters(
            threshold=args.threshold,
            correlation=args.method,
            outlier_method=args.outliers,
            iqr_multiplier=args.iqr_multiplier,
            z_threshold=args.z_threshold,
        ),
        target=args.target,
        exclude=tuple(args.exclude),
    )


def one_run(settings: Settings) -> Settings:
    """The settings of a run that is the only analysis in its process: DuckDB takes every
    CPU (the app gives a session half, `session_threads`) unless SIGNOFF_DUCKDB_THREADS
    says otherwise. On the 200 MB bench file: 11.5-12.3 s on one thread, 9.3-10.8 s on two."""
    return dataclasses.replace(settings, duckdb_threads=settings.duckdb_threads or available_cpus())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = one_run(Settings.from_env())
        options = options_from(args, settings)
        loaded = load_with(args.file, settings, read_options_from(args), args.file.name)
        within = budget(loaded, settings.step_timeout_s)
        record = compute(loaded, options, choose_advisor(settings.ai), within=within)
        drafted = report(record, undecided_states(record))
        files = {}
        if args.out:
            context = ExportContext(drafted, report_figures(record), loaded.con, record.shown.table)
            files = export_files(context)
    except SignoffError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (args.out / name).write_bytes(data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(json_report(drafted))
    pending = [g.id for g in drafted.gates if g.status == "pending"]
    overview = record.shown.overview
    print(
        f"{record.source.name}: {overview.n_rows:,} rows, {overview.n_columns} columns; "
        f"report {drafted.status}; gates pending: {', '.join(pending) or 'none'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
