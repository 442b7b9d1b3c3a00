"""Headless signoff: the same steps as the app, no reviewer, so every gate stays pending.

    uv run python -m steps FILE --json report.json
    uv run python -m steps FILE --out exports/ --target price

Bad input exits with code 2 and `error: <one sentence>` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ai.advisor import choose_advisor
from steps.errors import SignoffError
from steps.exports import export_files, json_report
from steps.figures import overview_figures, quality_figures, statistics_figures
from steps.load import load
from steps.model import baselines
from steps.overview import overview
from steps.quality import quality
from steps.recommend import RecommendContext
from steps.report import build_report
from steps.statistics import scatter_sample, statistics

USAGE_ERROR = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m steps", description="Run signoff's steps on FILE without the app."
    )
    parser.add_argument("file", type=Path, help="a CSV, TSV, TXT, XLSX or XLS file")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--out", type=Path, help="write every export into this folder")
    parser.add_argument("--target", help="train baseline models for this column")
    parser.add_argument("--threshold", type=float, default=0.7, help="strong |r| (0.5–1.0)")
    return parser.parse_args(argv)


def analyse(args: argparse.Namespace) -> tuple[dict, dict[str, bytes]]:
    """Every step in order; returns the report and, with --out, the export files."""
    loaded = load(args.file)
    con, table = loaded.con, loaded.table
    ov = overview(con, table)
    q = quality(con, table, overview=ov)
    stats = statistics(con, table, threshold=args.threshold)
    model = baselines(con, table, args.target) if args.target else None
    advisor = choose_advisor()
    insights = {
        "overview": advisor.advise("overview", ov.to_dict()),
        "quality": advisor.advise("quality", {"overview": ov.to_dict(), "quality": q.to_dict()}),
        "statistics": advisor.advise("statistics", stats.to_dict()),
    }
    recommendations = advisor.recommend(
        RecommendContext(
            overview=ov.to_dict(),
            quality=q.to_dict(),
            statistics=stats.to_dict(),
            model=model.to_dict() if model else None,
        )
    )
    gates = {"model_approval": None if model else {"status": "not_applicable"}}
    report = build_report(
        source=loaded.report.to_dict(),
        overview=ov.to_dict(),
        quality=q.to_dict(),
        statistics=stats.to_dict(),
        model=model.to_dict() if model else None,
        recommendations=recommendations.to_dict(),
        ai={step: i.to_dict() for step, i in insights.items()},
        gates={k: v for k, v in gates.items() if v},
        parameters={"threshold": args.threshold, "target": args.target},
    )
    if not args.out:
        return report, {}
    scatters = tuple(scatter_sample(con, table, p.a, p.b) for p in stats.scatter_pairs)
    figures = {
        **overview_figures(ov),
        **quality_figures(ov, q),
        **statistics_figures(stats, scatters),
    }
    return report, export_files(report, con=con, table=table, figures=figures)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report, files = analyse(args)
    except SignoffError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (args.out / name).write_bytes(data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(json_report(report))
    pending = [gate for gate, state in report["gates"].items() if state["status"] == "pending"]
    print(
        f"{report['source']['name']}: {report['overview']['n_rows']:,} rows, "
        f"{report['overview']['n_columns']} columns; report {report['status']}; "
        f"gates pending: {', '.join(pending) or 'none'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
