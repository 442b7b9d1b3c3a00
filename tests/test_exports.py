"""Every export is a view of the same report, says what the reviewers decided, and is safe
to open.

The report comes from a real walk through every gate (a gate-1 cleaning plan, a finding
rejected at gate 2, a model, recommendations rejected and edited at gate 4) on a small
messy file with hostile strings; its figures are checked against pandas and numpy here,
independently of the steps that computed them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
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
from records import Walk, answer, walk

from flow.source import Source
from flow.stages import Options
from steps.engine import lock_down, quote_ident
from steps.errors import ExportError
from steps.exports import (
    BUNDLE_AUDIT,
    BUNDLE_MANIFEST,
    BUNDLE_REPORT,
    AuditExtract,
    ExportContext,
    ExportFile,
    ExportsOnDemand,
    describe_export,
    export_files,
    json_report,
)
from steps.exports.bundle import bundle
from steps.exports.csv_metrics import CSV_HEADER, FORMULA_STARTS, csv_metrics, neutralise_cell
from steps.exports.html import html_report
from steps.exports.parquet import parquet_bytes
from steps.exports.txt import txt_summary
from steps.figures import report_figures
from steps.report import Report
from steps.settings import Settings
from steps.text import safe_filename

HOSTILE_COLUMN = '=HYPERLINK("http://evil.example/x","click")'
SCRIPT = "<script>alert(1)</script>"
PAYLOADS = ("@SUM(A1:A9)", "+1", "-cmd|' /C calc'!A0", "Tab", "CR", "=1+1", SCRIPT, "Zürich")
WEIRD = 'we"ird\nname;'
REVIEWER = "Ana <ana@example.org>"


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


def cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    """The plan of the walk, applied with pandas: rows missing price, then duplicates."""
    return frame.dropna(subset=["price"]).drop_duplicates()


def gate4(record) -> dict:
    """Reject the first recommendation, edit the second, accept the third."""
    return answer(
        "approve",
        REVIEWER,
        item_0="reject",
        item_1="edit",
        edit_1="Deduplicate first",
        item_2="accept",
    )


def rejected_first_finding(record) -> dict:
    first = record.analysed.insights.findings[0]
    return answer("modify", REVIEWER, reject_findings=[first.id], reason="known derived column")


def walked(tmp_path: Path, frame: pd.DataFrame, *, export: str | None = "approve") -> Walk:
    path = tmp_path / "sales <2024>.csv"
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    settings = Settings(db=str(tmp_path / "signoff.db"), workspace=tmp_path / "workspace")
    plan = {"drop_duplicates": True, "drop_rows_missing": ["price"]}
    answers = {
        "data_quality": answer("modify", REVIEWER, f"Checked {SCRIPT}", **plan),
        "analysis_validation": rejected_first_finding,
        "model_approval": answer("approve", REVIEWER),
        "result_verification": gate4,
        "export_authorization": answer(export, REVIEWER) if export else None,
    }
    return walk(settings, Source(path.name, path), answers, Options(target="qty"))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return messy_frame()


@pytest.fixture(scope="module")
def walked_final(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Walk:
    return walked(tmp_path_factory.mktemp("final"), frame)


@pytest.fixture(scope="module")
def report(walked_final: Walk) -> Report:
    return walked_final.report


@pytest.fixture(scope="module")
def draft(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Report:
    return walked(tmp_path_factory.mktemp("draft"), frame, export=None).report


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


def test_the_walk_reached_a_final_report_with_every_decision(report: Report) -> None:
    assert report.status == "final"
    statuses = {g.id: g.status for g in report.gates}
    assert statuses == {
        "data_quality": "modified",
        "analysis_validation": "modified",
        "model_approval": "approved",
        "result_verification": "approved",
        "export_authorization": "approved",
    }


def test_the_report_describes_the_cleaned_data(report: Report, frame: pd.DataFrame) -> None:
    expected = cleaned(frame)
    doc = report.to_dict()
    assert doc["overview"]["n_rows"] == len(expected)
    price = next(c for c in doc["overview"]["columns"] if c["name"] == "price")
    values = expected["price"].to_numpy(dtype=float)
    assert price["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert price["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert doc["quality"]["duplicate_rows"] == 0
    # The advisor's Step 1–2 findings are about the same (cleaned) data.
    described = doc["ai"]["quality"]["findings"]
    assert not any("duplicate" in f["title"] for f in described)


# --- JSON -------------------------------------------------------------------------------


def test_json_round_trips_to_the_same_report(report: Report) -> None:
    data = json_report(report)
    assert json.loads(data.decode("utf-8")) == report.to_dict()
    assert b"NaN" not in data


# --- CSV --------------------------------------------------------------------------------


def csv_rows(report: Report) -> list[dict[str, str]]:
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


def test_csv_figures_agree_with_the_report_exactly(report: Report) -> None:
    rows, doc = csv_rows(report), report.to_dict()
    stats = ("n_missing", "n_distinct", "mean", "std", "min", "q1", "median", "q3", "max")
    for column in doc["overview"]["columns"]:
        shown = neutralise_cell(column["name"])
        for metric in stats:
            value, expected = lookup(rows, "column", shown, metric), column[metric]
            if expected is None:
                assert value == ""
            elif isinstance(expected, str):  # a date's min and max
                assert value == expected
            else:
                assert float(value) == expected
    for name, counts in doc["quality"]["outliers"].items():
        assert int(lookup(rows, "column", neutralise_cell(name), "outliers.iqr")) == counts["iqr"]
    assert int(lookup(rows, "overview", "", "n_rows")) == doc["overview"]["n_rows"]
    assert float(lookup(rows, "quality", "", "quality_score")) == doc["quality"]["quality_score"]
    assert lookup(rows, "report", "", "status") == "final"
    assert lookup(rows, "cleaning", "", "drop_duplicates") == "true"
    for pair in doc["statistics"]["strong_correlations"]:
        metric = f"r:{pair['b']}"
        assert float(lookup(rows, "strong_correlation", pair["a"], metric)) == pair["r"]
    for importance in doc["model"]["importances"]:
        name = neutralise_cell(importance["feature"])
        assert float(lookup(rows, "column", name, "importance.mean")) == importance["mean"]


def test_csv_neutralises_formula_payloads_in_names_and_cells(report: Report) -> None:
    rows = csv_rows(report)
    names = {r["column"] for r in rows if r["section"] == "column"}
    assert "'" + HOSTILE_COLUMN in names and HOSTILE_COLUMN not in names
    top = [r["value"] for r in rows if r["column"] == "city" and "top_values" in r["metric"]]
    assert "'@SUM(A1:A9)" in top
    for row in rows:
        for key in ("column", "metric", "value"):
            if row[key].startswith(FORMULA_STARTS):
                float(row[key])  # only a number may start like a formula


@pytest.mark.parametrize("payload", ["=HYPERLINK(1)", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_each_formula_start_gets_a_quote(payload: str) -> None:
    assert neutralise_cell(payload) == "'" + payload
    assert neutralise_cell("plain " + payload) == "plain " + payload


def test_negative_numbers_stay_numbers(report: Report) -> None:
    rows = csv_rows(report)
    price = next(c for c in report.to_dict()["overview"]["columns"] if c["name"] == "price")
    value = lookup(rows, "column", "price", "min")
    assert value.startswith("-") and float(value) == price["min"] < 0


# --- TXT and HTML say what the reviewers decided -----------------------------------------


def decision_marks(text: str, report: Report) -> None:
    """The marks every person-facing view carries, checked on the text it shows."""
    recs = report.record.recommendations
    assert recs is not None
    first, second = recs.action_plan[0], recs.action_plan[1]
    rejected = report.record.rejected[0]
    assert f"{first.title} [REJECTED by the reviewer]" in text
    assert f"{second.title} [EDITED by the reviewer: Deduplicate first]" in text
    assert f"{rejected.title}." in text
    assert "[REJECTED at analysis validation: known derived column]" in text
    assert "Drop duplicate rows: yes" in text or "Drop duplicate rows</dt><dd>yes" in text


def test_txt_summary_reads_in_80_columns_and_says_what_was_decided(report: Report) -> None:
    text = txt_summary(report).decode("utf-8")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert lines[1] == "FINAL: Export authorization is approved."
    assert report.record.source.sha256 in text
    flat = " ".join(line.strip() for line in text.splitlines())
    decision_marks(flat, report)
    assert "Action 1 (" in flat  # numbered as on the priority matrix
    assert "Ana <ana@example.org>" in text
    # The plan dropped the duplicate rows: the loaded file's duplicates alert is closed.
    closed = report.record.cleaning_delta.alerts_closed
    assert "duplicates:" in {a.key for a in closed}
    assert all(f"No longer raised: {a.message}" in flat for a in closed)
    assert "No longer raised:" in html_report(report).decode("utf-8")


def test_no_python_repr_reaches_a_view(report: Report) -> None:
    html = html_report(report).decode("utf-8")
    text = txt_summary(report).decode("utf-8")
    csv_text = csv_metrics(report).decode("utf-8")
    body = html.split('<script type="application/json"')[0]
    for shown in (text, body):
        assert "{'" not in shown and "None" not in shown and "NaN" not in shown
    assert "{'" not in csv_text and "None" not in csv_text


def test_txt_shows_control_characters_escaped(tmp_path: Path) -> None:
    frame = messy_frame().rename(columns={"city": "ci\x1b[31mty"})
    text = txt_summary(walked(tmp_path, frame).report).decode("utf-8")
    assert "\x1b" not in text
    assert "ci\\u001b[31mty" in text


EXTERNAL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_html_is_self_contained_escaped_and_says_what_was_decided(
    report: Report, figures: dict
) -> None:
    page = html_report(report, figures).decode("utf-8")
    assert page.count(get_plotlyjs()) == 1
    assert len(re.findall(r'class="plotly-graph-div"', page)) == len(figures)
    ours = page.replace(get_plotlyjs(), "")  # the library's own strings are not requests
    assert not EXTERNAL_ATTR.search(ours)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", ours)
    assert SCRIPT not in page
    assert "Checked &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Cities &lt;script&gt;" in page
    assert html_escape_of(HOSTILE_COLUMN) in page
    assert 'id="report-status"' in page and "banner final" in page and "DRAFT" not in page
    body = page.split('<script type="application/json"')[0]
    decision_marks(
        body.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'"),
        report,
    )


def html_escape_of(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def test_html_carries_the_report_as_json(report: Report) -> None:
    page = html_report(report).decode("utf-8")
    match = re.search(r'<script type="application/json" id="signoff-report">(.*?)</script>', page)
    assert match is not None
    assert json.loads(match.group(1)) == report.to_dict()
    assert "plotly" not in page.lower().replace("plotly-graph", "")


def test_a_draft_says_so_in_every_view(draft: Report) -> None:
    assert draft.status == "draft"
    assert txt_summary(draft).decode().splitlines()[1] == (
        "DRAFT: Export authorization is pending, not approved."
    )
    assert "banner draft" in html_report(draft).decode()
    assert lookup(csv_rows(draft), "report", "", "status") == "draft"


def test_the_model_section_reads_as_prose_not_data(report: Report) -> None:
    text = " ".join(txt_summary(report).decode().split())
    card = report.record.approved_model
    assert card is not None
    assert f"Target: {card.target}" in text and f"Selected: {card.selected}" in text
    assert "0.feature" not in text and '"kind"' not in text
    for importance in card.importances:
        assert importance.feature in text


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
    back = duckdb.connect().sql(f"SELECT * FROM read_parquet('{path}')")
    assert back.columns == original.columns
    assert back.types == original.types
    assert back.fetchall() == original.fetchall()
    assert data_con.execute(f"SELECT count(*) FROM {table} WHERE city IS NULL").fetchall()[0][0] > 0
    from_pandas = pd.read_parquet(path)
    assert list(from_pandas.columns) == original.columns
    pd.testing.assert_frame_equal(from_pandas, original.to_arrow_table().to_pandas())


def test_parquet_works_with_external_access_off(data_con: duckdb.DuckDBPyConnection) -> None:
    lock_down(data_con)
    table = pq.read_table(io.BytesIO(parquet_bytes(data_con, "cleaned")))
    assert table.num_rows == data_con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0]


def test_parquet_of_an_empty_table_keeps_its_columns() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE empty (a INTEGER, b VARCHAR)")
    table = pq.read_table(io.BytesIO(parquet_bytes(con, "empty")))
    assert table.num_rows == 0 and table.column_names == ["a", "b"]


# --- bundle and file names --------------------------------------------------------------


HEAD = {"last_id": 2, "sha256": "ab" * 32, "seal": None}


def audit_lines() -> bytes:
    events = [{"seq": 1, "kind": "load"}, {"seq": 2, "kind": "decision", "note": SCRIPT}]
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def test_bundle_opens_and_its_manifest_matches(report: Report) -> None:
    files = {"x-metrics.csv": csv_metrics(report), "x-summary.txt": txt_summary(report)}
    packed = bundle(report, files=files, audit=AuditExtract(audit_lines(), HEAD))
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        members = {name: archive.read(name) for name in names}
    assert names == [BUNDLE_REPORT, *files, BUNDLE_AUDIT, BUNDLE_MANIFEST]
    manifest = json.loads(members[BUNDLE_MANIFEST])
    assert manifest["status"] == "final"
    assert manifest["content_sha256"] == report.content_sha256
    assert manifest["audit_head"] == HEAD
    listed = {f["filename"]: f for f in manifest["files"]}
    assert set(listed) == set(names) - {BUNDLE_MANIFEST}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest()
        assert entry["bytes"] == len(members[name])
    assert json.loads(members[BUNDLE_REPORT]) == report.to_dict()
    assert members[BUNDLE_AUDIT] == audit_lines()
    assert bundle(report, files=files, audit=AuditExtract(audit_lines(), HEAD)) == packed


@pytest.mark.parametrize(
    ("files", "audit"),
    [({BUNDLE_MANIFEST: b"{}"}, b""), ({"../evil.csv": b""}, b""), ({}, b"not json\n")],
)
def test_bundle_refuses_clashes_unsafe_names_and_bad_audit(
    report: Report, files: dict[str, bytes], audit: bytes
) -> None:
    with pytest.raises(ExportError):
        bundle(report, files=files, audit=AuditExtract(audit))


def test_export_files_writes_every_export(
    report: Report, data_con: duckdb.DuckDBPyConnection, figures: dict
) -> None:
    context = ExportContext(report, figures, data_con, "cleaned")
    files = export_files(context, audit=AuditExtract(audit_lines()))
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


def test_without_data_there_is_no_parquet(report: Report) -> None:
    names = export_files(ExportContext(report, report_figures(report.record)))
    assert sorted(Path(n).suffix for n in names) == [".csv", ".html", ".json", ".txt", ".zip"]


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
    assert safe_filename(result) == result
    assert "Zürich" in safe_filename("Zürich Daten", ".csv")


def test_exports_on_demand_build_nothing_until_asked_and_report_each_file_once(
    report: Report, data_con: duckdb.DuckDBPyConnection
) -> None:
    heard: list[ExportFile] = []
    exports = ExportsOnDemand(
        ExportContext(report, {}, data_con, "cleaned"),
        audit=lambda: AuditExtract(audit_lines()),
        on_export=heard.append,
    )
    assert heard == []
    csv_name = next(n for n in exports.names if n.endswith(".csv"))
    first = exports.build(csv_name)
    assert exports.build(csv_name) == first
    assert [(e.filename, e.sha256, e.bytes) for e in heard] == [
        (csv_name, hashlib.sha256(first).hexdigest(), len(first))
    ]
    exports.build(exports.bundle_name)
    recorded = [e.filename for e in heard]
    assert sorted(recorded) == sorted(n for n in exports.names if n != exports.report_name)
    with pytest.raises(ExportError, match="no export called"):
        exports.build("../../etc/passwd")


# --- real browser -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_renders_offline_in_chromium(
    report: Report, figures: dict, tmp_path: Path, browser: Any
) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(html_report(report, figures))
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
    assert banner.startswith("FINAL")
