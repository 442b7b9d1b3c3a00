"""Every export is a view of the same report (plus the cleaned data, for Parquet).

JSON is the report itself; CSV flattens its figures into one row per column x metric; TXT and
HTML render one shared outline of it (`_outline`), so a figure cannot read differently in two
exports. Nothing here decides whether an export may leave the app: gate 5 is the app's job,
and the report's `status` says `draft` until export authorization is approved.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
import string
import textwrap
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import duckdb
import plotly.io as pio
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from steps.engine import quote_ident
from steps.errors import ExportError
from steps.report import GATES
from steps.results import ToDict

MEDIA_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".zip": "application/zip",
    ".jsonl": "application/jsonl",
}
CSV_HEADER = ("section", "column", "metric", "value")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BUNDLE_REPORT = "report.json"
BUNDLE_AUDIT = "audit_events.jsonl"
BUNDLE_MANIFEST = "manifest.json"
TEXT_WIDTH = 80
PARQUET_BATCH_ROWS = 65_536

_MAX_NAME = 128
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
_COLUMN_STATS = ("mean", "std", "min", "q1", "median", "q3", "max")
_ITEM_TEXT_KEYS = (
    "title",
    "action",
    "text",
    "finding",
    "insight",
    "step",
    "summary",
    "message",
    "description",
)
_MARKDOWN_SAFE = {
    **{ch: f"&#{ord(ch)};" for ch in string.punctuation},
    "\n": " ",
    "\r": " ",
    "\t": " ",
}
# No request may leave an opened report: scripts and styles are inline, images data: only.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)


@dataclass(frozen=True)
class ExportFile(ToDict):
    """What the audit trail and the bundle manifest record about one exported file."""

    filename: str
    media_type: str
    sha256: str
    bytes: int


def describe_export(filename: str, data: bytes) -> ExportFile:
    """The manifest entry of `data` saved as `filename` (media type from its suffix)."""
    suffix = PurePath(filename).suffix.lower()
    return ExportFile(
        filename=filename,
        media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
    )


# --- JSON -------------------------------------------------------------------------------


def json_report(report: Mapping[str, Any]) -> bytes:
    """The report as indented UTF-8 JSON; NaN is refused rather than written as invalid JSON."""
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


# --- CSV metrics ------------------------------------------------------------------------


def csv_metrics(report: Mapping[str, Any]) -> bytes:
    """One row per column x metric plus dataset-level rows, safe to open in a spreadsheet.

    Numbers are written as numbers (full precision); only text cells are neutralised against
    formula injection (`neutralise_cell`), so a negative figure stays a negative figure.
    """
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


def markdown_text(value: Any) -> str:
    """Data-derived text made inert for a markdown renderer that passes HTML through.

    marimo's `mo.md` renders raw HTML and markdown alike, and `marimo run` does not sanitise
    it, so `html.escape` alone still lets `[a](javascript:...)`, `**x**` or a backtick
    reshape the page. Every ASCII punctuation character becomes a numeric character
    reference (shown as itself), and line breaks become spaces, so no markdown or HTML
    construct can start inside the value. Not for code spans: put it in `<code>...</code>`.
    """
    return "".join(_MARKDOWN_SAFE.get(ch, ch) for ch in str(value))


def csv_value(value: Any) -> str:
    """A JSON scalar as CSV text: numbers exact (repr), booleans true/false, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return neutralise_cell(str(value))


def metric_rows(report: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(section, column, metric, value) for every scalar figure the CSV carries."""
    yield from _dataset_rows(report)
    for column, metrics in _column_metrics(report).items():
        for metric, value in metrics:
            yield "column", column, metric, value
    yield from _correlation_rows(report.get("statistics"))


def _dataset_rows(report: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    for key in ("schema_version", "status", "generated_at", "content_sha256"):
        yield "report", "", key, report.get(key)
    yield "report", "", "app.version", (report.get("app") or {}).get("version")
    for name, value in _flatten(report["source"]):
        yield "source", "", name, value
    for section, skip in (("overview", {"columns"}), ("quality", {"outliers"})):
        for key, value in report[section].items():
            if key not in skip and _is_scalar(value):
                yield section, "", key, value
    statistics = report.get("statistics")
    if statistics:
        yield "statistics", "", "threshold", statistics.get("threshold")
        yield "statistics", "", "correlation.method", statistics["correlation"].get("method")
    model = report.get("model")
    if model:
        for name, value in _flatten({k: v for k, v in model.items() if k != "importances"}):
            yield "model", "", name, value
        if not isinstance(model.get("importances"), Mapping):
            for name, value in _flatten(model.get("importances"), "importances"):
                yield "model", "", name, value
    for gate, state in report["gates"].items():
        for key in ("status", "reviewer", "decided_at", "subject_sha256"):
            yield "gates", "", f"{gate}.{key}", state.get(key)
    audit = report.get("audit")
    if audit:
        yield "audit", "", "head_sha256", audit.get("head_sha256")
        yield "audit", "", "events", len(audit.get("events") or ())


def _column_metrics(report: Mapping[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """Per column, in overview order: its summary, outlier counts, shape and importance."""
    metrics: dict[str, list[tuple[str, Any]]] = {}
    for column in report["overview"]["columns"]:
        fields = {k: v for k, v in column.items() if k != "name"}
        metrics.setdefault(str(column["name"]), []).extend(_flatten(fields))
    for name, counts in report["quality"]["outliers"].items():
        metrics.setdefault(name, []).extend(_flatten(counts, "outliers"))
    statistics = report.get("statistics") or {}
    for name, shape in (statistics.get("distributions") or {}).items():
        metrics.setdefault(name, []).extend(_flatten(shape, "distribution"))
    importances = (report.get("model") or {}).get("importances")
    if isinstance(importances, Mapping):
        for name, value in importances.items():
            metrics.setdefault(name, []).extend(_flatten(value, "importance"))
    return metrics


def _correlation_rows(statistics: Mapping[str, Any] | None) -> Iterator[tuple[str, str, str, Any]]:
    """The upper triangle of the matrix, then the strong pairs with their n."""
    if not statistics:
        return
    names = statistics["correlation"].get("columns") or []
    matrix = statistics["correlation"].get("matrix") or []
    for i, row in enumerate(matrix):
        for j in range(i + 1, min(len(row), len(names))):
            yield "correlation", str(names[i]), f"r:{names[j]}", row[j]
    for pair in statistics["strong_correlations"]:
        yield "strong_correlation", str(pair["a"]), f"r:{pair['b']}", pair["r"]
        yield "strong_correlation", str(pair["a"]), f"n:{pair['b']}", pair["n"]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Scalars of a nested JSON value under dotted paths (`top_values.0.value`)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


# --- the outline shared by TXT and HTML -------------------------------------------------


@dataclass(frozen=True)
class _Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    caption: str = ""


@dataclass(frozen=True)
class _Section:
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    tables: tuple[_Table, ...] = ()
    bullets: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()


def _outline(report: Mapping[str, Any]) -> list[_Section]:
    """What a person reads, in flow order; a step that did not run says so."""
    sections = [
        _source_section(report),
        _gates_section(report["gates"]),
        _overview_section(report),
        _quality_section(report),
        _cleaning_section(report.get("cleaning")),
        _statistics_section(report.get("statistics")),
        _model_section(report.get("model")),
        _recommendations_section(report.get("recommendations")),
        _ai_section(report.get("ai")),
        _audit_section(report.get("audit")),
    ]
    return sections


def _status_line(report: Mapping[str, Any]) -> str:
    label = "FINAL" if report.get("status") == "final" else "DRAFT"
    return f"{label}: {report.get('status_reason', '')}".strip()


def _source_section(report: Mapping[str, Any]) -> _Section:
    source = report["source"]
    facts = [
        ("File", str(source["name"])),
        ("SHA-256", str(source["sha256"])),
        ("Size", f"{_fmt(source['bytes'])} bytes"),
        ("Encoding", str(source["encoding"])),
        ("Delimiter", _visible(source["delimiter"])),
    ]
    if "rows_skipped" in source:
        facts.append(("Rows skipped", _fmt(source["rows_skipped"])))
    if source.get("missing_markers_seen"):
        markers = ", ".join(_visible(m) for m in source["missing_markers_seen"])
        facts.append(("Missing markers", markers))
    facts += [
        ("Generated", str(report.get("generated_at"))),
        ("Schema", f"{report.get('schema_version')} (signoff {_app_version(report)})"),
        ("Content SHA-256", str(report.get("content_sha256"))),
    ]
    return _Section("Source", facts=tuple(facts))


def _gates_section(gates: Mapping[str, Any]) -> _Section:
    rows = tuple(
        (
            gate,
            str(gates[gate]["status"]),
            _fmt(gates[gate].get("reviewer")),
            _fmt(gates[gate].get("decided_at")),
        )
        for gate in GATES
    )
    table = _Table(("gate", "status", "reviewer", "decided at"), rows, (False,) * 4)
    notes = tuple(f"{gate}: {gates[gate]['notes']}" for gate in GATES if gates[gate].get("notes"))
    return _Section("Review gates", tables=(table,), bullets=notes)


def _overview_section(report: Mapping[str, Any]) -> _Section:
    overview, outliers = report["overview"], report["quality"]["outliers"]
    columns = overview["columns"]
    summary = _Table(
        ("column", "kind", "missing", "distinct", "IQR outl.", "Z outl."),
        tuple(
            (
                str(c["name"]),
                str(c["kind"]),
                _fmt(c["n_missing"]),
                _fmt(c["n_distinct"]),
                _fmt(_count(outliers.get(c["name"], {}).get("iqr"))),
                _fmt(_count(outliers.get(c["name"], {}).get("zscore"))),
            )
            for c in columns
        ),
        (False, False, True, True, True, True),
    )
    numeric = [c for c in columns if any(c.get(k) is not None for k in ("mean", "median"))]
    stats = _Table(
        ("column", *_COLUMN_STATS),
        tuple((str(c["name"]), *(_fmt(c.get(k)) for k in _COLUMN_STATS)) for c in numeric),
        (False, *(True,) * len(_COLUMN_STATS)),
        caption="Numeric columns (std is the sample standard deviation, n - 1)",
    )
    facts = (("Rows", _fmt(overview["n_rows"])), ("Columns", _fmt(overview["n_columns"])))
    return _Section("Overview", facts=facts, tables=(summary, stats) if numeric else (summary,))


def _quality_section(report: Mapping[str, Any]) -> _Section:
    quality = report["quality"]
    facts = [
        ("Quality score", _fmt(quality["quality_score"])),
        ("Duplicate rows", _fmt(quality["duplicate_rows"])),
        ("Missing cells", _fmt(quality["missing_cells"])),
    ]
    if quality.get("score_formula"):
        facts.append(("Score formula", str(quality["score_formula"])))
    return _Section("Quality", facts=tuple(facts))


def _cleaning_section(cleaning: Mapping[str, Any] | None) -> _Section:
    if not cleaning:
        return _Section("Cleaning", bullets=("No cleaning plan: the data is analysed as loaded.",))
    facts = tuple((key.replace("_", " "), _plain(value)) for key, value in cleaning.items())
    return _Section("Cleaning plan", facts=facts)


def _statistics_section(statistics: Mapping[str, Any] | None) -> _Section:
    if statistics is None:
        return _Section("Statistics", bullets=("Not computed.",))
    facts = (
        ("Correlation", str(statistics["correlation"].get("method"))),
        ("Strong if |r| >=", _fmt(statistics.get("threshold"))),
    )
    pairs = _Table(
        ("column a", "column b", "r", "n"),
        tuple(
            (str(p["a"]), str(p["b"]), _fmt(p["r"]), _fmt(p["n"]))
            for p in statistics["strong_correlations"]
        ),
        (False, False, True, True),
        caption="Strong correlations",
    )
    shapes = _Table(
        ("column", "skewness", "kurtosis"),
        tuple(
            (str(name), _fmt(shape.get("skewness")), _fmt(shape.get("kurtosis")))
            for name, shape in (statistics.get("distributions") or {}).items()
        ),
        (False, True, True),
        caption="Distribution shape",
    )
    tables = tuple(t for t in (pairs, shapes) if t.rows)
    bullets = () if pairs.rows else ("No pair of columns reaches the threshold.",)
    return _Section("Statistics", facts=facts, tables=tables, bullets=bullets)


def _model_section(model: Mapping[str, Any] | None) -> _Section:
    if model is None:
        return _Section("Model baseline", bullets=("No target column chosen: no model.",))
    facts = [
        ("Target", _fmt(model["target"])),
        ("Task", _fmt(model["task"])),
        ("Selected", _item_text(model["selected"])),
    ]
    facts += [(name, _fmt(value)) for name, value in _flatten(model["metrics"], "metric")]
    importances = model["importances"]
    pairs = importances.items() if isinstance(importances, Mapping) else _flatten(importances)
    table = _Table(
        ("feature", "importance"),
        tuple((str(k), _fmt(v)) for k, v in pairs),
        (False, True),
        caption="Feature importances",
    )
    return _Section(
        "Model baseline",
        facts=tuple(facts),
        tables=(table,) if table.rows else (),
        flagged=tuple(_item_text(w) for w in model["warnings"] or ()),
    )


def _recommendations_section(recommendations: Mapping[str, Any] | None) -> _Section:
    if recommendations is None:
        return _Section("Recommendations", bullets=("Not generated.",))
    # Actions are numbered as on the priority matrix.
    bullets = [
        f"Action {n}: {_item_text(item)}"
        for n, item in enumerate(recommendations["action_plan"] or (), start=1)
    ]
    bullets += [
        f"{label}: {_item_text(item)}"
        for key, label in (("business_insights", "Insight"), ("next_steps", "Next step"))
        for item in recommendations[key] or ()
    ]
    return _Section("Recommendations", bullets=tuple(bullets))


def _ai_section(ai: Mapping[str, Any] | None) -> _Section:
    if not ai:
        return _Section("AI insights", bullets=("No advisor ran.",))
    bullets, flagged = [], []
    for step, insight in ai.items():
        for finding in insight["findings"] or ():
            bullets.append(f"{step} ({insight['advisor']}): {_item_text(finding)}")
        for number in insight["unverified_numbers"] or ():
            flagged.append(f"{step}: {_item_text(number)} does not match any computed figure")
    return _Section("AI insights", bullets=tuple(bullets), flagged=tuple(flagged))


def _audit_section(audit: Mapping[str, Any] | None) -> _Section:
    if audit is None:
        return _Section("Audit trail", bullets=("No audit trail attached.",))
    facts = (
        ("Chain head SHA-256", _fmt(audit["head_sha256"])),
        ("Events", _fmt(len(audit["events"] or ()))),
    )
    return _Section("Audit trail", facts=facts)


def _count(outlier: Any) -> Any:
    """An outlier entry is a count, or an object holding one under `count`."""
    return outlier.get("count") if isinstance(outlier, Mapping) else outlier


def _item_text(item: Any) -> str:
    """One line for a recommendation, finding or warning, whatever shape its producer chose."""
    if isinstance(item, Mapping):
        text = next((str(item[k]) for k in _ITEM_TEXT_KEYS if item.get(k)), None)
        if text is None:
            return _plain(item)
        priority = item.get("priority")
        return f"{text} (priority {priority})" if priority is not None else text
    return _fmt(item)


def _plain(value: Any) -> str:
    if isinstance(value, (Mapping, list)):
        if not value:
            return "none"
        if isinstance(value, list) and all(_is_scalar(v) for v in value):
            return ", ".join(_fmt(v) for v in value)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return _fmt(value)


def _fmt(value: Any) -> str:
    """Display form for TXT and HTML: thousands separators, 6 significant digits, `-` for null."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format(value, ",.6g")
    return str(value)


def _visible(text: Any) -> str:
    """A delimiter or marker made visible: the empty string and tabs would vanish otherwise."""
    return json.dumps(text, ensure_ascii=False)


def _app_version(report: Mapping[str, Any]) -> str:
    return str((report.get("app") or {}).get("version"))


# --- TXT --------------------------------------------------------------------------------


def txt_summary(report: Mapping[str, Any]) -> str:
    """A plain-text summary for an 80-column terminal; control characters shown escaped."""
    lines = [
        _clip(_terminal_safe(f"signoff report: {report['source']['name']}"), TEXT_WIDTH),
        *_wrap(_status_line(report)),
        "=" * TEXT_WIDTH,
    ]
    for section in _outline(report):
        lines += ["", section.title, "-" * len(section.title)]
        lines += _text_facts(section.facts)
        for table in section.tables:
            lines += ["", *_wrap(table.caption)] if table.caption else [""]
            lines += _text_table(table)
        lines += [ln for b in section.bullets for ln in _wrap(b, "  - ", "    ")]
        lines += [ln for f in section.flagged for ln in _wrap(f, "  ! ", "    ")]
    return "\n".join(lines) + "\n"


def _text_facts(facts: Iterable[tuple[str, str]]) -> list[str]:
    """`label: value` lines; an unbreakable value too long for its line (a hash) goes below."""
    facts = list(facts)
    if not facts:
        return []
    width = min(max(len(label) for label, _ in facts) + 2, 24)
    lines = []
    for label, value in facts:
        head = f"  {label + ':':<{width}}"
        if " " not in value and len(head) + len(value) > TEXT_WIDTH:
            lines += [head.rstrip(), *_wrap(value, "    ", "    ")]
        else:
            lines += _wrap(value, head, " " * len(head))
    return lines


def _text_table(table: _Table) -> list[str]:
    """Right-aligned figures; a table too wide for 80 columns is split, repeating column 1."""
    cells = [table.headers, *table.rows]
    clean = [[_terminal_safe(c) for c in row] for row in cells]
    widths = [min(max(len(row[i]) for row in clean), 30) for i in range(len(table.headers))]
    first = min(widths[0], 24)
    lines: list[str] = []
    for group in _column_groups(widths[1:], TEXT_WIDTH - 2 - first):
        for row in clean:
            parts = [_clip(row[0], first).ljust(first)]
            for i in group:
                cell = _clip(row[i + 1], widths[i + 1])
                align = cell.rjust if table.numeric[i + 1] else cell.ljust
                parts.append(align(widths[i + 1]))
            lines.append(("  " + "  ".join(parts)).rstrip())
        lines.append("")
    return lines[:-1]


def _column_groups(widths: list[int], room: int) -> list[list[int]]:
    """Indices of the non-first columns, packed greedily into groups that fit `room`."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, width in enumerate(widths):
        if groups[-1] and used + 2 + width > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += 2 + width
    return groups


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        _terminal_safe(text),
        TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _terminal_safe(text: str) -> str:
    """Control and format characters (escape sequences, bidi overrides) shown as \\uXXXX."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text
    )


# --- HTML -------------------------------------------------------------------------------


def html_report(report: Mapping[str, Any], figures: Mapping[str, Any] | None = None) -> str:
    """One self-contained page, interactive offline: plotly.js inlined once, no URL fetched.

    Every data-derived string is `html.escape`d; a Content-Security-Policy forbids any
    request, so even a string that slipped through could not call out. The full report rides
    along as JSON in a `<script type="application/json" id="signoff-report">` block.
    """
    figures = dict(figures or {})
    title = f"signoff report: {report['source']['name']}"
    body = [
        _html_banner(report),
        f"<h1>{_esc(title)}</h1>",
        *(_html_section(s) for s in _outline(report)),
    ]
    if figures:
        body.append(_html_figures(figures))
    head = [
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(_CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_STYLE}</style>",
    ]
    if figures:
        head.append(f"<script>{get_plotlyjs()}</script>")
    data = f'<script type="application/json" id="signoff-report">{_script_json(report)}</script>'
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n{chr(10).join(head)}\n</head>\n'
        f"<body>\n{chr(10).join(body)}\n{data}\n</body>\n</html>\n"
    )


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;overflow-wrap:anywhere}h2{border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600}
th,td{border:1px solid #ddd;padding:.25rem .5rem;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}.banner{padding:.75rem 1rem;border-radius:4px;font-weight:600}
.draft{background:#fff3cd;border:2px solid #b58100}
.final{background:#e6f4ea;border:1px solid #2e7d32}
.flag{color:#a40000}figure{margin:1rem 0}figcaption{font-weight:600}
"""


def _html_banner(report: Mapping[str, Any]) -> str:
    final = report.get("status") == "final"
    css = "banner final" if final else "banner draft"
    return f'<div class="{css}" role="status" id="report-status">{_esc(_status_line(report))}</div>'


def _html_section(section: _Section) -> str:
    parts = [f"<section><h2>{_esc(section.title)}</h2>"]
    if section.facts:
        items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in section.facts)
        parts.append(f"<dl>{items}</dl>")
    parts += [_html_table(t) for t in section.tables]
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{_esc(b)}</li>" for b in section.bullets) + "</ul>")
    if section.flagged:
        flags = "".join(f'<li class="flag">{_esc(f)}</li>' for f in section.flagged)
        parts.append(f"<ul>{flags}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _html_table(table: _Table) -> str:
    caption = f"<caption>{_esc(table.caption)}</caption>" if table.caption else ""
    head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in table.headers)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_esc(c)}</td>' if num else f"<td>{_esc(c)}</td>"
            for c, num in zip(row, table.numeric, strict=True)
        )
        + "</tr>"
        for row in table.rows
    )
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html_figures(figures: Mapping[str, Any]) -> str:
    parts = ["<section><h2>Charts</h2>"]
    for i, (name, figure) in enumerate(figures.items()):
        div = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"figure-{i}",
            config={"displaylogo": False, "showSendToCloud": False},
        )
        parts.append(f"<figure><figcaption>{_esc(name)}</figcaption>{div}</figure>")
    parts.append("</section>")
    return "\n".join(parts)


def _script_json(report: Mapping[str, Any]) -> str:
    """JSON that cannot close its `<script>` element: < > & written as \\u escapes."""
    text = json.dumps(report, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# --- Parquet ----------------------------------------------------------------------------


def parquet_bytes(
    con: duckdb.DuckDBPyConnection, table_or_view: str, *, batch_rows: int = PARQUET_BATCH_ROWS
) -> bytes:
    """The table or view as Parquet, streamed batch by batch from DuckDB through Arrow.

    Not `COPY ... TO`: hosted mode turns DuckDB's external access off, and this path never
    touches the file system, so it works there too. Memory holds one batch plus the output.
    """
    reader = con.sql(f"SELECT * FROM {quote_ident(table_or_view)}").to_arrow_reader(batch_rows)
    buffer = io.BytesIO()
    # Closing the reader, even on failure, frees the connection for the next query.
    with reader, pq.ParquetWriter(buffer, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
    return buffer.getvalue()


# --- bundle -----------------------------------------------------------------------------


def bundle(
    report: Mapping[str, Any], *, files: Mapping[str, bytes], audit_events_jsonl: bytes
) -> bytes:
    """A zip of the report, the given exports, this analysis's audit events and a manifest.

    `manifest.json` lists each member's sha256 and size, and names the report's status and
    content digest, so a reader can check both the files and what was approved.
    """
    _check_jsonl(audit_events_jsonl)
    members = {BUNDLE_REPORT: json_report(report)}
    for name, data in files.items():
        if name in (BUNDLE_REPORT, BUNDLE_AUDIT, BUNDLE_MANIFEST) or name in members:
            raise ExportError(f"The bundle already has a file named {name!r}.")
        if safe_filename(name, "") != name:
            raise ExportError(f"The bundle refuses the unsafe file name {name!r}.")
        members[name] = data
    members[BUNDLE_AUDIT] = audit_events_jsonl
    members[BUNDLE_MANIFEST] = json_report(_manifest(report, members))
    stamp = _zip_time(report.get("generated_at"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = _compression_for(name)
            archive.writestr(info, data)
    return buffer.getvalue()


def _compression_for(name: str) -> int:
    """Parquet is compressed already and HTML is mostly plotly.js: deflating them again
    costs seconds on big data and saves little, so they are stored as they are."""
    return zipfile.ZIP_STORED if name.endswith((".parquet", ".html")) else zipfile.ZIP_DEFLATED


def _manifest(report: Mapping[str, Any], members: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        "schema_version": report.get("schema_version"),
        "status": report.get("status"),
        "content_sha256": report.get("content_sha256"),
        "source_sha256": report["source"]["sha256"],
        "generated_at": report.get("generated_at"),
        "files": [describe_export(name, data).to_dict() for name, data in members.items()],
    }


def _check_jsonl(data: bytes) -> None:
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError:
            raise ExportError(f"Audit events line {number} is not JSON.") from None


def _zip_time(generated_at: Any) -> tuple[int, int, int, int, int, int]:
    """The report's own time, so one report always zips to the same bytes."""
    try:
        moment = dt.datetime.fromisoformat(str(generated_at))
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0))


# --- file names and the full set --------------------------------------------------------


def safe_filename(name: str, suffix: str) -> str:
    """A download name: no path separators or control characters, bounded, never hidden.

    Letters and digits of any script survive; anything else becomes `_`. Idempotent, so
    `safe_filename(x, "") == x` tells whether `x` is already safe.
    """
    clean_suffix = re.sub(r"[^A-Za-z0-9.\-]", "", suffix)[:24]
    if clean_suffix and not clean_suffix.startswith((".", "-")):
        clean_suffix = "." + clean_suffix
    stem = unicodedata.normalize("NFKC", name)
    stem = re.sub(r"[^\w.\-]+", "_", stem)
    stem = re.sub(r"_{2,}", "_", stem).strip("._-")
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"file-{stem}"
    stem = stem[: _MAX_NAME - len(clean_suffix)].rstrip("._-")
    return (stem or "signoff") + clean_suffix


class ExportsOnDemand:
    """The exports of one report, each built the first time it is asked for.

    The app offers every download without building any (`mo.download` calls `build` on
    click), so a large Parquet or HTML costs nothing until someone wants it. `on_export`
    hears of each file once, when it is built (name, sha256, size), so the caller can
    record it; the bundle builds the files it packs, so those are recorded too.
    """

    def __init__(
        self,
        report: Mapping[str, Any],
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        table: str | None = None,
        figures: Mapping[str, Any] | None = None,
        audit_events_jsonl: Callable[[], bytes] = lambda: b"",
        on_export: Callable[[ExportFile], None] | None = None,
    ) -> None:
        stem = safe_filename(PurePath(str(report["source"]["name"])).stem, "")
        self.report_name = safe_filename(stem, "-report.json")
        self.bundle_name = safe_filename(stem, "-bundle.zip")
        builders: dict[str, Callable[[], bytes]] = {
            self.report_name: lambda: json_report(report),
            safe_filename(stem, "-metrics.csv"): lambda: csv_metrics(report),
            safe_filename(stem, "-summary.txt"): lambda: txt_summary(report).encode("utf-8"),
            safe_filename(stem, "-report.html"): lambda: html_report(report, figures).encode(
                "utf-8"
            ),
        }
        if con is not None and table is not None:
            builders[safe_filename(stem, "-cleaned.parquet")] = lambda: parquet_bytes(con, table)
        builders[self.bundle_name] = self._bundle
        self._report = report
        self._builders = builders
        self._audit = audit_events_jsonl
        self._on_export = on_export
        self._built: dict[str, bytes] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._builders)

    def build(self, name: str) -> bytes:
        """The file's bytes, built once; unknown names are refused."""
        if name not in self._builders:
            raise ExportError(f"There is no export called {name!r}.")
        if name not in self._built:
            data = self._builders[name]()
            self._built[name] = data
            if self._on_export is not None:
                self._on_export(describe_export(name, data))
        return self._built[name]

    def _bundle(self) -> bytes:
        packed = {
            n: self.build(n) for n in self.names if n not in (self.report_name, self.bundle_name)
        }
        return bundle(self._report, files=packed, audit_events_jsonl=self._audit())


def export_files(
    report: Mapping[str, Any],
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    table: str | None = None,
    figures: Mapping[str, Any] | None = None,
    audit_events_jsonl: bytes = b"",
) -> dict[str, bytes]:
    """Every export by file name (JSON, CSV, TXT, HTML, Parquet when given data, bundle).

    The same builder as the app's downloads, so `python -m steps --out DIR` writes the
    same files under the same names, derived from the source file's name.
    """
    exports = ExportsOnDemand(
        report, con=con, table=table, figures=figures, audit_events_jsonl=lambda: audit_events_jsonl
    )
    return {name: exports.build(name) for name in exports.names}
