"""The CSV metrics: one row per figure (section, column, metric, value), safe to open in a
spreadsheet. Numbers are written exact; only text cells are neutralised against formula
injection, so a negative figure stays a negative figure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from steps.report import Report

CSV_HEADER = ("section", "column", "metric", "value")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = tuple[str, str, str, Any]


def csv_metrics(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for section, column, metric, value in metric_rows(report):
        writer.writerow(
            (section, neutralise_cell(column), neutralise_cell(metric), csv_value(value))
        )
    return buffer.getvalue().encode("utf-8")


def neutralise_cell(text: str) -> str:
    """Prefix `'` to text a spreadsheet would read as a formula (starts with = + - @ tab CR)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_value(value: Any) -> str:
    """A JSON scalar as CSV text: numbers exact (repr), booleans true/false, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return neutralise_cell(str(value))


def metric_rows(report: Report) -> Iterator[Row]:
    """(section, column, metric, value) for every scalar figure the CSV carries."""
    doc = report.to_dict()
    for key in ("schema_version", "status", "generated_at", "content_sha256"):
        yield "report", "", key, doc[key]
    yield "report", "", "app.version", doc["app"]["version"]
    for section in ("parameters", "source", "cleaning"):
        for name, value in flatten(doc[section]):
            yield section, "", name, value
    for section, nested in (("overview", {"columns"}), ("quality", {"outliers"})):
        for key, value in doc[section].items():
            if key not in nested and _is_scalar(value):
                yield section, "", key, value
    if doc["statistics"] is not None:
        yield "statistics", "", "threshold", doc["statistics"]["threshold"]
        yield "statistics", "", "correlation.method", doc["statistics"]["correlation"]["method"]
    if doc["model"] is not None:
        for name, value in flatten({k: v for k, v in doc["model"].items() if k != "importances"}):
            yield "model", "", name, value
    for gate, state in doc["gates"].items():
        for key in ("status", "reviewer", "decided_at", "subject_sha256"):
            yield "gates", "", f"{gate}.{key}", state[key]
    if doc["audit"] is not None:
        yield "audit", "", "head_sha256", doc["audit"]["head_sha256"]
        yield "audit", "", "events", len(doc["audit"]["events"])
    for column, metrics in _column_metrics(doc).items():
        for metric, value in metrics:
            yield "column", column, metric, value
    yield from _correlation_rows(doc["statistics"])
    yield from _alert_rows(doc["alerts"])


def _alert_rows(alerts: list[Mapping[str, Any]]) -> Iterator[Row]:
    """Per alert (column: its columns joined by `|`): severity, threshold, each figure, and
    the triage's status and note."""
    for alert in alerts:
        column, kind = "|".join(alert["columns"]), alert["type"]
        yield "alerts", column, f"{kind}.severity", alert["severity"]
        yield "alerts", column, f"{kind}.threshold", alert["threshold"]
        for name, value in alert["figures"].items():
            yield "alerts", column, f"{kind}.{name}", value
        for name in ("status", "reviewer", "note", "decided_at"):
            yield "alerts", column, f"{kind}.triage.{name}", alert["triage"][name]


def _column_metrics(doc: Mapping[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """Per column, in overview order: its summary, outlier counts, shape and importance."""
    metrics: dict[str, list[tuple[str, Any]]] = {}
    for column in doc["overview"]["columns"]:
        fields = {k: v for k, v in column.items() if k != "name"}
        metrics.setdefault(column["name"], []).extend(flatten(fields))
    for name, counts in doc["quality"]["outliers"].items():
        metrics.setdefault(name, []).extend(flatten(counts, "outliers"))
    if doc["statistics"] is not None:
        for name, shape in doc["statistics"]["distributions"]["numeric"].items():
            metrics.setdefault(name, []).extend(flatten(shape, "distribution"))
    if doc["model"] is not None:
        for importance in doc["model"]["importances"]:
            fields = {k: v for k, v in importance.items() if k != "feature"}
            metrics.setdefault(importance["feature"], []).extend(flatten(fields, "importance"))
    return metrics


def _correlation_rows(statistics: Mapping[str, Any] | None) -> Iterator[Row]:
    """The upper triangle of the matrix, then the strong pairs with their n."""
    if statistics is None:
        return
    names = statistics["correlation"]["columns"]
    for i, row in enumerate(statistics["correlation"]["matrix"]):
        for j in range(i + 1, len(row)):
            yield "correlation", names[i], f"r:{names[j]}", row[j]
    for pair in statistics["strong_correlations"]:
        yield "strong_correlation", pair["a"], f"r:{pair['b']}", pair["r"]
        yield "strong_correlation", pair["a"], f"n:{pair['b']}", pair["n"]


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Scalars of a nested JSON value under dotted paths (`top_values.0.0`)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
