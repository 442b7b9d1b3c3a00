"""Every export agrees with the report it is a view of, and is safe to open.

The report is built from a small pandas frame whose figures are computed here with numpy and
scipy, independently of the steps that compute them in the app.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pyarrow.parquet as pq
import pytest
from plotly.offline import get_plotlyjs
from scipy import stats as sps

from steps.engine import lock_down, quote_ident
from steps.exports import (
    BUNDLE_AUDIT,
    BUNDLE_MANIFEST,
    BUNDLE_REPORT,
    CSV_HEADER,
    FORMULA_STARTS,
    ExportError,
    ExportFile,
    ExportsOnDemand,
    bundle,
    csv_metrics,
    describe_export,
    export_files,
    html_report,
    json_report,
    neutralise_cell,
    parquet_bytes,
    safe_filename,
    txt_summary,
)
from steps.report import GATES, build_report

HOSTILE_COLUMN = '=HYPERLINK("http://evil.example/x","click")'
SCRIPT = "<script>alert(1)</script>"
PAYLOADS = ("@SUM(A1:A9)", "+1", "-cmd|' /C calc'!A0", "\tTab", "\rCR", "=1+1", SCRIPT, "Zürich")
NUMERIC = ("price", "qty", HOSTILE_COLUMN)
WEIRD = 'we"ird\nname;'


def messy_frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240601)
    n = 57
    price = rng.normal(-2.5, 10.0, n)
    price[[3, 11, 40]] = np.nan
    price[7] = 95.0  # an outlier by both rules
    frame = pd.DataFrame(
        {
            "price": price,
            "qty": rng.integers(-5, 50, n).astype("int64"),
            HOSTILE_COLUMN: 100.0 + 0.8 * np.nan_to_num(price) + rng.normal(0, 1.0, n),
            "city": rng.choice(np.array(PAYLOADS, dtype=object), n, p=[0.3] + [0.1] * 7),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
        }
    )
    frame.loc[[5, 6], "city"] = None
    return pd.concat([frame, frame.iloc[[1, 2, 9]]], ignore_index=True)


def numeric_summary(values: np.ndarray) -> dict[str, float]:
    v = values[~np.isnan(values)]
    q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return {
        "mean": float(np.mean(v)),
        "std": float(np.std(v, ddof=1)),
        "min": float(np.min(v)),
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "max": float(np.max(v)),
    }


def column_summary(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    series = frame[name]
    missing = series.isna().to_numpy()
    present = series[~missing]
    values, counts = np.unique(present.astype(str).to_numpy(), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:3]
    base = {
        "name": name,
        "n_missing": int(missing.sum()),
        "n_distinct": len(values),
        "top_values": [{"value": str(values[i]), "count": int(counts[i])} for i in order],
    }
    empty = dict.fromkeys(("mean", "std", "min", "q1", "median", "q3", "max"))
    if name in NUMERIC:
        return {**base, "kind": "numeric", **numeric_summary(series.to_numpy(dtype=float))}
    kind = "datetime" if name == "when" else "categorical"
    return {**base, "kind": kind, **empty}


def outlier_counts(values: np.ndarray) -> dict[str, int]:
    v = values[~np.isnan(values)]
    q1, q3 = np.quantile(v, [0.25, 0.75])
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    z = (v - v.mean()) / v.std(ddof=1)
    return {"iqr": int(((v < low) | (v > high)).sum()), "zscore": int((np.abs(z) > 3).sum())}


def realistic_report(frame: pd.DataFrame, *, export_status: str = "pending") -> dict[str, Any]:
    numeric = frame[list(NUMERIC)].to_numpy(dtype=float)
    complete = numeric[~np.isnan(numeric).any(axis=1)]
    matrix = np.corrcoef(complete, rowvar=False)
    strong = [
        {"a": NUMERIC[i], "b": NUMERIC[j], "r": float(matrix[i, j]), "n": len(complete)}
        for i in range(3)
        for j in range(i + 1, 3)
        if abs(matrix[i, j]) >= 0.5
    ]
    rows = [tuple(map(str, r)) for r in frame.itertuples(index=False)]
    n_cells = frame.shape[0] * frame.shape[1]
    missing_cells = int(frame.isna().to_numpy().sum())
    decided = "2024-06-01T12:00:00Z"
    gates = {
        g: {
            "status": "approved",
            "reviewer": "Ana <ana@example.org>",
            "decided_at": decided,
            "subject_sha256": hashlib.sha256(g.encode()).hexdigest(),
            "notes": f"Checked {SCRIPT}",
        }
        for g in GATES[:4]
    }
    gates["export_authorization"] = {"status": export_status}
    return build_report(
        source={
            "name": "sales <2024>.csv",
            "sha256": hashlib.sha256(b"sales").hexdigest(),
            "bytes": 4321,
            "encoding": "utf-8",
            "delimiter": ",",
            "rows_skipped": 0,
            "missing_markers_seen": ["", "NA"],
        },
        overview={
            "n_rows": frame.shape[0],
            "n_columns": frame.shape[1],
            "columns": [column_summary(frame, c) for c in frame.columns],
        },
        quality={
            "duplicate_rows": len(rows) - len(set(rows)),
            "missing_cells": missing_cells,
            "quality_score": 100.0 * (1 - missing_cells / n_cells),
            "outliers": {c: outlier_counts(frame[c].to_numpy(dtype=float)) for c in NUMERIC},
        },
        cleaning={"drop_duplicates": True, "drop_columns": [], "drop_rows_missing": ["price"]},
        statistics={
            "correlation": {"method": "pearson", "columns": list(NUMERIC), "matrix": matrix},
            "strong_correlations": strong,
            "threshold": 0.5,
            "distributions": {
                c: {
                    "skewness": float(sps.skew(v := frame[c].dropna().to_numpy(float))),
                    "kurtosis": float(sps.kurtosis(v)),
                }
                for c in NUMERIC
            },
        },
        model={
            "target": "price",
            "task": "regression",
            "candidates": [{"name": "mean", "metrics": {"r2": 0.0}}, {"name": "linear"}],
            "selected": "linear",
            "metrics": {"r2": float(matrix[0, 2] ** 2), "mae": 0.79},
            "importances": {HOSTILE_COLUMN: 0.93, "qty": -0.07},
            "warnings": [f"Only {len(complete)} complete rows."],
        },
        recommendations={
            "action_plan": [{"title": "Drop the duplicate rows", "priority": 1}],
            "business_insights": [f"City {SCRIPT} leads sales."],
            "next_steps": ["Collect a second year of data."],
        },
        ai={
            "overview": {
                "advisor": "offline",
                "findings": [{"text": "Price has 3 missing values."}],
                "unverified_numbers": [42.5],
            }
        },
        gates=gates,
        audit={"head_sha256": "ab" * 32, "events": [{"kind": "load"}, {"kind": "decision"}]},
        parameters={"threshold": 0.5, "outlier_method": "iqr"},
        generated_at="2024-06-02T08:30:00Z",
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return messy_frame()


@pytest.fixture(scope="module")
def report(frame: pd.DataFrame) -> dict[str, Any]:
    return realistic_report(frame)


@pytest.fixture(scope="module")
def figures(frame: pd.DataFrame) -> dict[str, go.Figure]:
    counts = frame["city"].value_counts()
    return {
        f"Cities {SCRIPT}": go.Figure(
            go.Bar(x=[str(v) for v in counts.index], y=counts.to_numpy()),
            layout={"title": {"text": SCRIPT}},
        ),
        "Price": go.Figure(go.Histogram(x=frame["price"].dropna().to_numpy())),
    }


# --- JSON -------------------------------------------------------------------------------


def test_json_round_trips_to_the_same_report(report: dict[str, Any]) -> None:
    data = json_report(report)
    assert json.loads(data.decode("utf-8")) == report
    assert b"NaN" not in data


# --- CSV --------------------------------------------------------------------------------


def csv_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    text = csv_metrics(report).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0].keys()) == CSV_HEADER
    return rows


def lookup(rows: list[dict[str, str]], section: str, column: str, metric: str) -> str:
    (value,) = [
        r["value"]
        for r in rows
        if (r["section"], r["column"], r["metric"]) == (section, column, metric)
    ]
    return value


def test_csv_figures_agree_with_the_report_exactly(report: dict[str, Any]) -> None:
    rows = csv_rows(report)
    stats = ("n_missing", "n_distinct", "mean", "std", "min", "q1", "median", "q3", "max")
    for column in report["overview"]["columns"]:
        shown = neutralise_cell(column["name"])
        for metric in stats:
            value = lookup(rows, "column", shown, metric)
            expected = column[metric]
            assert (value == "") if expected is None else float(value) == expected
    for name, counts in report["quality"]["outliers"].items():
        assert int(lookup(rows, "column", neutralise_cell(name), "outliers.iqr")) == counts["iqr"]
    assert int(lookup(rows, "overview", "", "n_rows")) == report["overview"]["n_rows"]
    assert float(lookup(rows, "quality", "", "quality_score")) == report["quality"]["quality_score"]
    assert lookup(rows, "report", "", "status") == "draft"
    for pair in report["statistics"]["strong_correlations"]:
        metric = f"r:{pair['b']}"
        assert float(lookup(rows, "strong_correlation", pair["a"], metric)) == pair["r"]


def test_csv_neutralises_formula_payloads_in_names_and_cells(report: dict[str, Any]) -> None:
    rows = csv_rows(report)
    names = {r["column"] for r in rows if r["section"] == "column"}
    assert "'" + HOSTILE_COLUMN in names and HOSTILE_COLUMN not in names
    top = [r["value"] for r in rows if r["column"] == "city" and r["metric"].endswith(".value")]
    assert "'@SUM(A1:A9)" in top
    for row in rows:
        for key in ("column", "metric", "value"):
            cell = row[key]
            if cell.startswith(FORMULA_STARTS):
                float(cell)  # only a number may start like a formula


@pytest.mark.parametrize("payload", ["=HYPERLINK(1)", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_each_formula_start_gets_a_quote(payload: str) -> None:
    assert neutralise_cell(payload) == "'" + payload
    assert neutralise_cell("plain " + payload) == "plain " + payload


def test_negative_numbers_stay_numbers(report: dict[str, Any]) -> None:
    rows = csv_rows(report)
    value = lookup(rows, "column", "price", "min")
    assert value.startswith("-") and float(value) == report["overview"]["columns"][0]["min"] < 0
    assert float(lookup(rows, "column", "qty", "importance")) == -0.07


# --- TXT --------------------------------------------------------------------------------


def test_txt_summary_reads_in_80_columns_and_names_key_figures(report: dict[str, Any]) -> None:
    text = txt_summary(report)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    price = report["overview"]["columns"][0]
    for figure in (
        f"{report['overview']['n_rows']:,}",
        format(report["quality"]["quality_score"], ",.6g"),
        format(price["mean"], ",.6g"),
        format(price["std"], ",.6g"),
        report["source"]["sha256"],
    ):
        assert figure in text
    assert lines[1].startswith("DRAFT")
    assert "42.5 does not match any computed figure" in text
    # numbered as on the priority matrix
    assert "Action 1: Drop the duplicate rows" in text


def test_txt_shows_control_characters_escaped() -> None:
    frame = messy_frame().rename(columns={"city": "ci\x1b[31mty\r"})
    text = txt_summary(realistic_report(frame))
    assert "\x1b" not in text and "\r" not in text
    assert "ci\\u001b[31mty\\u000d" in text


def minimal_report() -> dict[str, Any]:
    """A header-only file: no rows, no optional step, no decision."""
    empty = dict.fromkeys(("mean", "std", "min", "q1", "median", "q3", "max"))
    return build_report(
        source={
            "name": "a very long file name " * 12 + ".csv",
            "sha256": hashlib.sha256(b"a\n").hexdigest(),
            "bytes": 2,
            "encoding": "utf-8",
            "delimiter": ",",
        },
        overview={
            "n_rows": 0,
            "n_columns": 1,
            "columns": [{"name": "a", "kind": "text", "n_missing": 0, "n_distinct": 0, **empty}],
        },
        quality={"duplicate_rows": 0, "missing_cells": 0, "quality_score": None, "outliers": {}},
        gates={},
    )


def test_a_report_with_steps_missing_exports_cleanly() -> None:
    report = minimal_report()
    lines = txt_summary(report).splitlines()
    assert lines[1].startswith("DRAFT") and max(len(line) for line in lines) <= 80
    assert sum("Not computed." in line for line in lines) == 1
    rows = csv_rows(report)
    assert lookup(rows, "overview", "", "n_rows") == "0"
    assert lookup(rows, "quality", "", "quality_score") == ""
    assert lookup(rows, "column", "a", "mean") == ""
    assert not any(r["section"].endswith("correlation") for r in rows)
    page = html_report(report)
    assert "Not computed." in page and "Plotly" not in page
    assert sorted(Path(n).suffix for n in export_files(report)) == [
        ".csv",
        ".html",
        ".json",
        ".txt",
        ".zip",
    ]


# --- HTML -------------------------------------------------------------------------------

EXTERNAL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_html_is_self_contained_and_escaped(report: dict[str, Any], figures: dict) -> None:
    page = html_report(report, figures)
    assert page.count(get_plotlyjs()) == 1
    assert len(re.findall(r'class="plotly-graph-div"', page)) == len(figures)
    ours = page.replace(get_plotlyjs(), "")  # the library's own strings are not requests
    assert not EXTERNAL_ATTR.search(ours)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", ours)
    assert SCRIPT not in page
    assert "Checked &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Cities &lt;script&gt;" in page
    assert html_escape_of(HOSTILE_COLUMN) in page
    assert 'id="report-status"' in page and "DRAFT" in page


def html_escape_of(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def test_html_carries_the_report_as_json(report: dict[str, Any]) -> None:
    page = html_report(report)
    match = re.search(r'<script type="application/json" id="signoff-report">(.*?)</script>', page)
    assert match is not None
    assert json.loads(match.group(1)) == report
    assert "plotly" not in page.lower().replace("plotly-graph", "")


def test_final_report_has_no_draft_banner(frame: pd.DataFrame) -> None:
    final = realistic_report(frame, export_status="approved")
    assert final["status"] == "final"
    page = html_report(final)
    assert "banner final" in page and "DRAFT" not in page
    assert txt_summary(final).splitlines()[1].startswith("FINAL")


# --- Parquet ----------------------------------------------------------------------------


@pytest.fixture
def data_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rng = np.random.default_rng(5)
    n = 2_500
    source = pd.DataFrame(
        {
            HOSTILE_COLUMN: rng.normal(size=n),
            WEIRD: rng.integers(-1000, 1000, n),
            "city": rng.choice(np.array(PAYLOADS, dtype=object), n),
            "day": pd.date_range("2020-01-01", periods=n, freq="D").date,
            "at": pd.date_range("2020-01-01", periods=n, freq="h"),
        }
    )
    con.register("source", source)
    con.execute(
        f"""CREATE TABLE data AS SELECT * REPLACE (
            CASE WHEN random() < 0.1 THEN NULL ELSE {quote_ident(HOSTILE_COLUMN)} END
                AS {quote_ident(HOSTILE_COLUMN)},
            CASE WHEN random() < 0.1 THEN NULL ELSE city END AS city,
            CASE WHEN random() < 0.1 THEN NULL ELSE CAST(day AS DATE) END AS day)
        FROM source"""
    )
    con.unregister("source")
    con.execute(f"CREATE VIEW cleaned AS SELECT * FROM data WHERE {quote_ident(WEIRD)} > 0")
    yield con
    con.close()


@pytest.mark.parametrize("table", ["data", "cleaned"])
def test_parquet_equals_the_table_for_duckdb_and_pandas(
    data_con: duckdb.DuckDBPyConnection, table: str, tmp_path: Path
) -> None:
    data = parquet_bytes(data_con, table, batch_rows=1_000)
    path = tmp_path / "out.parquet"
    path.write_bytes(data)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups > 1 or table == "cleaned"
    original = data_con.sql(f"SELECT * FROM {table}")
    reader = duckdb.connect()
    back = reader.sql(f"SELECT * FROM read_parquet('{path}')")
    assert back.columns == original.columns
    assert back.types == original.types
    assert back.fetchall() == original.fetchall()
    assert data_con.execute(f"SELECT count(*) FROM {table} WHERE city IS NULL").fetchall()[0][0] > 0
    from_pandas = pd.read_parquet(path)
    assert list(from_pandas.columns) == original.columns
    pd.testing.assert_frame_equal(from_pandas, original.to_arrow_table().to_pandas())
    day = from_pandas["day"]
    assert [None if pd.isna(d) else d for d in day] == [r[3] for r in original.fetchall()]


def test_parquet_works_with_external_access_off(data_con: duckdb.DuckDBPyConnection) -> None:
    lock_down(data_con)
    data = parquet_bytes(data_con, "cleaned")
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == data_con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0]


def test_parquet_of_an_empty_table_keeps_its_columns() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE empty (a INTEGER, b VARCHAR)")
    table = pq.read_table(io.BytesIO(parquet_bytes(con, "empty")))
    assert table.num_rows == 0 and table.column_names == ["a", "b"]


# --- bundle and file names --------------------------------------------------------------


def audit_lines() -> bytes:
    events = [{"seq": 1, "kind": "load"}, {"seq": 2, "kind": "decision", "note": SCRIPT}]
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def test_bundle_opens_and_its_manifest_matches(report: dict[str, Any]) -> None:
    files = {"x-metrics.csv": csv_metrics(report), "x-summary.txt": txt_summary(report).encode()}
    packed = bundle(report, files=files, audit_events_jsonl=audit_lines())
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        members = {name: archive.read(name) for name in names}
    assert names == [BUNDLE_REPORT, *files, BUNDLE_AUDIT, BUNDLE_MANIFEST]
    manifest = json.loads(members[BUNDLE_MANIFEST])
    assert manifest["status"] == "draft"
    assert manifest["content_sha256"] == report["content_sha256"]
    listed = {f["filename"]: f for f in manifest["files"]}
    assert set(listed) == set(names) - {BUNDLE_MANIFEST}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest()
        assert entry["bytes"] == len(members[name])
    assert json.loads(members[BUNDLE_REPORT]) == report
    assert members[BUNDLE_AUDIT] == audit_lines()
    assert bundle(report, files=files, audit_events_jsonl=audit_lines()) == packed


@pytest.mark.parametrize(
    ("files", "audit"),
    [
        ({BUNDLE_MANIFEST: b"{}"}, b""),
        ({"../evil.csv": b""}, b""),
        ({}, b"not json\n"),
    ],
)
def test_bundle_refuses_clashes_unsafe_names_and_bad_audit(
    report: dict[str, Any], files: dict[str, bytes], audit: bytes
) -> None:
    with pytest.raises(ExportError):
        bundle(report, files=files, audit_events_jsonl=audit)


def test_export_files_writes_every_export(
    report: dict[str, Any], data_con: duckdb.DuckDBPyConnection, figures: dict
) -> None:
    files = export_files(
        report, con=data_con, table="cleaned", figures=figures, audit_events_jsonl=audit_lines()
    )
    suffixes = sorted(Path(name).suffix for name in files)
    assert suffixes == [".csv", ".html", ".json", ".parquet", ".txt", ".zip"]
    assert all(name.startswith("sales_2024") for name in files)
    with zipfile.ZipFile(io.BytesIO(files["sales_2024-bundle.zip"])) as archive:
        for name, data in files.items():
            if not name.endswith((".zip", ".json")):
                assert archive.read(name) == data
    entry = describe_export("sales_2024-report.json", files["sales_2024-report.json"])
    assert isinstance(entry, ExportFile) and entry.media_type == "application/json"
    assert entry.to_dict()["sha256"] == hashlib.sha256(files["sales_2024-report.json"]).hexdigest()


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a/b\\c:d",
        "x\x00y\nz\r\t",
        "CON",
        "con.txt",
        "",
        "...",
        ".hidden",
        "Zürich Daten 2024",
        "ｆｕｌｌ／ｗｉｄｔｈ",
        "x" * 500,
        "-rf",
        "a\u202eexe.txt",
    ],
)
def test_safe_filename_is_safe_bounded_and_idempotent(name: str) -> None:
    result = safe_filename(name, ".csv")
    assert result.endswith(".csv")
    assert not re.search(r"[/\\\x00-\x1f\x7f\u202e]", result)
    assert not result.startswith((".", "-")) and len(result) <= 128
    assert result.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert safe_filename(result, "") == result
    assert "Zürich" in safe_filename("Zürich Daten", ".csv")


# --- real browser -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_renders_offline_in_chromium(
    report: dict[str, Any], figures: dict, tmp_path: Path, browser: Any
) -> None:
    path = tmp_path / "report.html"
    path.write_text(html_report(report, figures), encoding="utf-8")
    outside: list[str] = []
    problems: list[str] = []
    dialogs: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/*", guard)
        page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
        plots = page.locator(".js-plotly-plot").count()
        bars = page.locator(".js-plotly-plot .bars .point").count()
        banner = page.locator("#report-status").inner_text()
    finally:
        context.close()
    assert outside == []
    assert problems == []
    assert plots == len(figures)
    assert bars > 0
    assert dialogs == []  # no hostile string ran as script
    assert banner.startswith("DRAFT")


def test_timestamps_in_the_report_are_iso(report: dict[str, Any]) -> None:
    moment = dt.datetime.fromisoformat(report["generated_at"])
    assert moment.tzinfo is not None and not math.isnan(moment.timestamp())


def test_exports_on_demand_build_nothing_until_asked_and_report_each_file_once(
    report: dict[str, Any], data_con: duckdb.DuckDBPyConnection
) -> None:
    heard: list[ExportFile] = []
    exports = ExportsOnDemand(
        report,
        con=data_con,
        table="cleaned",
        audit_events_jsonl=audit_lines,
        on_export=heard.append,
    )
    assert heard == []
    csv_name = next(n for n in exports.names if n.endswith(".csv"))
    first = exports.build(csv_name)
    again = exports.build(csv_name)
    assert first == again
    assert [(e.filename, e.sha256, e.bytes) for e in heard] == [
        (csv_name, hashlib.sha256(first).hexdigest(), len(first))
    ]
    exports.build(exports.bundle_name)
    recorded = [e.filename for e in heard]
    assert sorted(recorded) == sorted(n for n in exports.names if n != exports.report_name)
    with pytest.raises(ExportError, match="no export called"):
        exports.build("../../etc/passwd")
