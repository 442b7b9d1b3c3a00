"""Hostile inputs (issue 8, item 3): each gets a correct result or one clear sentence.

Markup checks parse what a browser would parse: marimo's HTML, then the HTML inside
`srcdoc` attributes and inside the JSON of marimo's `data-*` attributes that its front end
renders as HTML (labels, callouts, tabs). Table cells, dropdown options and stat values are
rendered as text by marimo's front end (checked once in chromium), so raw tags there are fine.
"""

from __future__ import annotations

import csv
import io
import json
import random
import resource
import struct
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ai.prompts import step_prompt
from flow.source import Source
from review.workspace import keep_source
from steps.exports.csv_metrics import csv_metrics
from steps.exports.html import html_report
from steps.figures import overview_figures, quality_figures, report_figures, statistics_figures
from steps.insights import Facts
from steps.load import LoadError, LoadLimits, load
from steps.overview import overview
from steps.quality import quality
from steps.settings import Settings
from steps.statistics import statistics

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
IFRAME = '<iframe srcdoc="<script>alert(3)</script>">'
BOLD = "**bold**"
LINK = "[a](javascript:alert(4))"
TICKS = "`tick`"
HOSTILE_NAMES = (IMG, SCRIPT, IFRAME, BOLD, LINK, TICKS)
# What a payload turns into once a markdown renderer has taken it as markup.
MARKDOWN_RENDERED = {("strong", "bold"), ("code", "tick"), ("a", "a")}
# marimo attributes whose JSON its front end shows as text, never as HTML.
TEXT_ATTRIBUTES = frozenset({"data-data", "data-options", "data-value", "data-initial-value"})
FORMULAS = ('=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx")


@pytest.fixture(autouse=True)
def private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("SIGNOFF_MAX_MB", raising=False)
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


# ---------------------------------------------------------------- what a browser would run


class MarkupWalker(HTMLParser):
    """Collects what would execute or turn into markup, descending into nested HTML."""

    def __init__(self, where: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.open: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)
        if tag == "img":
            self.found.append(f"{self.where}: <img> element")
        for key, value in attrs:
            if value is None:
                continue
            if key.startswith("on") and "alert(" in value:
                self.found.append(f"{self.where}: {tag} {key}={value[:60]}")
            if key in ("href", "src") and value.strip().lower().startswith("javascript:"):
                self.found.append(f"{self.where}: {tag} {key}={value[:60]}")
            if key == "srcdoc":
                self.descend(value, f"{tag}.srcdoc")
            elif key.startswith("data-") and key not in TEXT_ATTRIBUTES:
                for text in json_strings(value):
                    if "<" in text:
                        self.descend(text, f"{tag}.{key}")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if not self.open:
            return
        if self.open[-1] == "script" and data.strip().startswith("alert("):
            self.found.append(f"{self.where}: <script>{data.strip()[:40]}")
        if (self.open[-1], data.strip()) in MARKDOWN_RENDERED:
            self.found.append(f"{self.where}: markdown rendered as <{self.open[-1]}>{data}")

    def descend(self, text: str, where: str) -> None:
        inner = MarkupWalker(f"{self.where}/{where}")
        inner.feed(text)
        inner.close()
        self.found += inner.found


def json_strings(raw: str) -> list[str]:
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def live_markup(html_text: str, where: str = "") -> list[str]:
    walker = MarkupWalker(where)
    walker.feed(html_text)
    walker.close()
    return walker.found


def output_markup(outputs: list[Any]) -> list[str]:
    found = []
    for i, output in enumerate(outputs):
        if output is not None:
            found += live_markup(str(getattr(output, "text", output)), f"output {i}")
    return found


def figure_strings(value: Any) -> list[str]:
    """Every string in a figure's JSON (labels, ticks, hover text, titles)."""
    return json_strings(json.dumps(value))


def raw_tags(texts: list[str]) -> list[str]:
    return [
        t[:80] for t in texts if any(tag in t.lower() for tag in ("<img", "<script", "<iframe"))
    ]


# ---------------------------------------------------------------- the notebook, headless


def answer(verdict: str, **extra: Any) -> SimpleNamespace:
    return SimpleNamespace(
        value={"verdict": verdict, "reviewer": "Ada", "notes": "checked", **extra}
    )


def all_gates(source: Source, **overrides: Any) -> dict:
    return {
        "source": source,
        "gate1_form": answer("approve"),
        "gate2_form": answer("approve"),
        "gate4_form": answer("approve"),
        "gate5_form": answer("approve"),
        **overrides,
    }


def hostile_csv(path: Path) -> Path:
    """Hostile column names and values; two numeric columns so Step 3 has a pair."""
    rng = random.Random(7)
    header = [*HOSTILE_NAMES, f"n {IMG}", f"m {LINK}", *FORMULAS]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(60):
            x = rng.gauss(0, 1)
            writer.writerow(
                [
                    IMG if i % 2 else SCRIPT,
                    IFRAME,
                    BOLD,
                    LINK,
                    TICKS,
                    "constant",
                    round(x, 6),
                    round(2 * x + rng.gauss(0, 0.1), 6),
                    *(FORMULAS[(i + j) % len(FORMULAS)] for j in range(len(FORMULAS))),
                ]
            )
    return path


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The whole notebook, every gate approved, on the hostile file (run once)."""
    from app import app

    tmp = tmp_path_factory.mktemp("hostile-app")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIGNOFF_DB", str(tmp / "signoff.db"))
        mp.setenv("SIGNOFF_WORKSPACE", str(tmp / "workspace"))
        source = Source("x.csv", hostile_csv(tmp / "x.csv"))
        outputs, defs = app.run(defs=all_gates(source))
    return {"outputs": outputs, "defs": defs}


def test_hostile_names_and_values_run_through_every_gate(hostile_run: dict) -> None:
    defs = hostile_run["defs"]
    names = [c.name for c in defs["record0"].original.overview.columns]
    assert names[: len(HOSTILE_NAMES)] == list(HOSTILE_NAMES)
    assert defs["exported"].status == "final"
    assert defs["exported"].audit.verified is True


def test_no_output_carries_a_live_tag_or_script(hostile_run: dict) -> None:
    found = [
        f
        for f in output_markup(hostile_run["outputs"])
        if "markdown rendered" not in f and "javascript:" not in f
    ]
    assert found == []


def test_no_output_renders_data_as_markdown(hostile_run: dict) -> None:
    assert output_markup(hostile_run["outputs"]) == []


def test_step_figures_carry_no_raw_tags(hostile_run: dict) -> None:
    figures = report_figures(hostile_run["defs"]["exported"].record)
    assert any(IMG in name for name in figures)  # the scatter of the hostile pair is there
    strings = [s for fig in figures.values() for s in figure_strings(fig.to_plotly_json())]
    assert any("&lt;img" in s for s in strings)
    assert raw_tags(strings) == []


def test_html_report_escapes_every_data_string(hostile_run: dict) -> None:
    exported = hostile_run["defs"]["exported"]
    page = html_report(exported, report_figures(exported.record)).decode("utf-8")
    assert live_markup(page, "report") == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    script = page.split('<script type="application/json" id="signoff-report">')[1]
    report = json.loads(script.split("</script>")[0])
    assert report["overview"]["columns"][0]["name"] == IMG


def test_csv_export_neutralises_formula_payloads(hostile_run: dict) -> None:
    rows = list(csv.reader(io.StringIO(csv_metrics(hostile_run["defs"]["exported"]).decode())))
    cells = [cell for row in rows for cell in row]
    for formula in FORMULAS:
        assert "'" + formula in cells
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(cell)  # only a number may start like a formula


def test_prompts_quote_hostile_names_as_data(hostile_run: dict) -> None:
    original = hostile_run["defs"]["record0"].original
    facts = Facts(original.overview, original.quality)
    for step in ("overview", "quality"):
        assert IMG in step_prompt(step, facts).text


# ---------------------------------------------------------------- long strings


def test_hundred_thousand_character_name_and_value(tmp_path: Path) -> None:
    from app import app

    name, value = "N" * 100_000, "<b>" + "v" * 100_000
    path = tmp_path / "long.csv"
    path.write_text(f"{name},x\n{value},1\n{value},2\n", encoding="utf-8")
    started = time.perf_counter()
    outputs, defs = app.run(defs=all_gates(Source("long.csv", path)))
    assert time.perf_counter() - started < 30
    overview_ = defs["record0"].original.overview
    assert overview_.columns[0].name == name
    assert defs["exported"].status == "final"
    for fig in overview_figures(overview_).values():
        assert all(len(s) < 1000 for s in figure_strings(fig.to_plotly_json()) if "N" * 50 in s)
    assert output_markup(outputs) == []


# ---------------------------------------------------------------- bytes and sizes


def refusal(data: bytes, name: str = "x.csv", **kw: Any) -> str:
    with pytest.raises(LoadError) as caught:
        load(data, name=name, **kw)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith(".") and message.count(". ") == 0
    return message


def test_one_byte_over_the_limit_is_refused_naming_both_sizes() -> None:
    data = b"a,b\n" + b"1,2\n" * 1000
    message = refusal(data, limit=len(data) - 1)
    assert f"{len(data):,} bytes" in message and f"{len(data) - 1:,} bytes" in message
    assert load(data, name="x.csv", limit=len(data)).report.n_rows == 1000


def test_limit_from_the_environment_applies_to_a_path(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a\n" + b"1\n" * (1024 * 1024 // 2 - 1))
    limit = Settings.from_env({"SIGNOFF_MAX_MB": "1"}).max_bytes
    assert load(path, limit=limit).report.bytes == 1024 * 1024
    path.write_bytes(path.read_bytes() + b"1")
    assert "over the limit of 1.0 MB (1,048,576 bytes)" in refusal(path.read_bytes(), limit=limit)


def test_invalid_utf8_is_replaced_and_said() -> None:
    text = "name,city\n" + "".join(f"{i},Zürich\n" for i in range(2000))
    data = text.encode() + b"9,bad \xff\xfe byte\n"
    report = load(data, name="x.csv").report
    assert report.n_rows == 2001
    assert any("\ufffd" in w and "not valid UTF-8" in w for w in report.warnings)


def test_invalid_bytes_in_a_short_file_are_read_as_a_named_legacy_encoding() -> None:
    loaded = load(b"a,b\n1,\xff\xfe\n2,ok\n", name="x.csv")
    assert loaded.report.encoding not in ("utf-8", "utf-8-sig")
    assert loaded.con.execute("SELECT b FROM data ORDER BY a").fetchall()[1] == ("ok",)


def test_nul_bytes_are_removed_and_counted() -> None:
    filler = b"".join(b"%d,plain text\n" % i for i in range(3, 60))
    loaded = load(b"a,b\n1,x\x00y\n2,z\x00\n" + filler, name="x.csv")
    rows = loaded.con.execute("SELECT b FROM data ORDER BY a LIMIT 2").fetchall()
    assert rows == [("xy",), ("z",)]
    assert "2 NUL bytes were removed from the text." in loaded.report.warnings


def test_mostly_nul_bytes_are_refused_as_binary() -> None:
    assert "binary data" in refusal(b"a,b\n" + b"\x00" * 4000 + b"\n")


def bomb_xlsx(path: Path, sheet_bytes: int) -> Path:
    """A valid-looking workbook whose one sheet inflates to `sheet_bytes` of XML."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    row = b"<row><c><v>1</v></c></row>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            f'ContentType="{ct}.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            f'sheet1.xml" ContentType="{ct}.worksheet+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook {ns} xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        block = row * (1024 * 1024 // len(row))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f"<worksheet {ns}><sheetData>".encode())
            for _ in range(sheet_bytes // len(block)):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_xlsx_that_unpacks_past_the_limit_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "bomb.xlsx", 8 * 1024 * 1024)
    small = path.stat().st_size
    assert small < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = refusal(path.read_bytes(), name="bomb.xlsx", limit=4 * 1024 * 1024)
    assert "unpacks to" in message and "over the limit of 4.0 MB" in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024
    # Under a limit it fits, the same construction is a workbook the loader reads.
    loaded = load(bomb_xlsx(tmp_path / "ok.xlsx", 1024 * 1024), limit=4 * 1024 * 1024)
    assert loaded.report.n_columns == 1 and loaded.report.n_rows > 30_000


@pytest.mark.slow
def test_gigabyte_zip_bomb_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "bomb.xlsx", 1024 * 1024 * 1024)
    assert path.stat().st_size < 5 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    message = refusal(path.read_bytes(), name="bomb.xlsx")
    assert time.perf_counter() - started < 2
    assert "unpacks to 1,024.0 MB" in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024


def test_zip_directory_that_understates_a_part_is_refused(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "liar.xlsx", 2 * 1024 * 1024)
    with zipfile.ZipFile(path) as z:
        entry = z.start_dir
    data = bytearray(path.read_bytes())
    while data[entry : entry + 4] == b"PK\x01\x02":  # central directory: claim 1 000 bytes
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, entry + 28)
        name = bytes(data[entry + 46 : entry + 46 + name_len])
        if name == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, entry + 24, 1000)
            if extra_len:  # the zip64 field holds the sizes instead
                struct.pack_into("<Q", data, entry + 46 + name_len + 4, 1000)
        entry += 46 + name_len + extra_len + comment_len
    message = refusal(bytes(data), name="liar.xlsx", limit=1024 * 1024)
    assert "damaged" in message


# ---------------------------------------------------------------- bounds before parsing


def test_a_table_wider_than_the_column_limit_is_refused_before_parsing() -> None:
    data = (",".join(f"c{j}" for j in range(31)) + "\n" + ",".join("1" * 31) + "\n").encode()
    message = refusal(data, limits=LoadLimits(max_columns=30))
    assert message == (
        "x.csv has 31 columns, over the limit of 30 that can be analysed; split it or keep "
        "fewer columns."
    )
    assert load(data, name="x.csv", limits=LoadLimits(max_columns=31)).report.n_columns == 31


def test_a_header_longer_than_the_head_is_counted_by_its_delimiters() -> None:
    k = 300_000  # a 2.3 MB first line: past the megabyte the dialect is judged on
    data = (",".join(f"c{j}" for j in range(k)) + "\n").encode()
    started = time.perf_counter()
    message = refusal(data)
    assert f"has {k:,} columns, over the limit of 20,000" in message
    assert time.perf_counter() - started < 5


def test_a_line_past_the_line_limit_is_refused_with_its_number() -> None:
    long = 3 * 1024 * 1024
    data = b"a,b\n1,2\n" + b"x" * long + b",3\n4,5\n"
    message = refusal(data, limits=LoadLimits(max_line_bytes=2 * 1024 * 1024))
    assert message == (
        f"x.csv has a line of 3.0 MB ({long + 2:,} bytes) (line 3), over the limit of "
        "2.0 MB (2,097,152 bytes) for one line."
    )


def test_lines_under_the_limit_but_past_duckdbs_default_load() -> None:
    value = "v" * (3 * 1024 * 1024)  # DuckDB's own reader stops at 2 MB a line
    loaded = load(f"a,b\n1,{value}\n2,w\n".encode(), name="x.csv")
    assert loaded.report.rows_skipped == 0
    assert loaded.con.execute("SELECT length(b) FROM data ORDER BY a").fetchall() == [
        (len(value),),
        (1,),
    ]


def test_old_mac_line_endings_are_many_short_lines_not_one_long_one() -> None:
    data = b"a,b\r" + b"".join(b"%d,xxxxxxxx\r" % i for i in range(200_000))
    assert len(data) > 2 * 1024 * 1024
    loaded = load(data, name="x.csv", limits=LoadLimits(max_line_bytes=1024 * 1024))
    assert loaded.report.n_rows == 200_000


# ---------------------------------------------------------------- odd shapes


def test_duplicate_hostile_headers_get_distinct_names() -> None:
    loaded = load((f"{IMG},{IMG},{IMG}\n1,2,3\n4,5,6\n").encode(), name="x.csv")
    names = [n for n, *_ in loaded.con.execute("DESCRIBE data").fetchall()]
    assert len(set(names)) == 3 and names[0] == IMG
    assert len(loaded.report.renamed_columns) == 2


@pytest.mark.parametrize(
    ("data", "rows", "cols"),
    [
        (b" , ,  \n1,2,3\n4,5,6\n", 2, 3),  # header of blanks
        (b",,\n1,2,3\n4,5,6\n", 2, 3),
        (b",,,\n,,,\n,,,\n", None, 4),  # nothing but delimiters
        (b"a,b\n1,2\n", 1, 2),  # one row
    ],
)
def test_odd_shapes_load_and_steps_one_to_three_run(data: bytes, rows: int | None, cols: int):
    loaded = load(data, name="x.csv")
    assert loaded.report.n_columns == cols
    if rows is not None:
        assert loaded.report.n_rows == rows
    ov = overview(loaded.con, loaded.table)
    q = quality(loaded.con, loaded.table, overview=ov)
    stats = statistics(loaded.con, loaded.table)
    assert ov.n_columns == cols and q.n_rows == ov.n_rows
    assert all(name.strip() for name in (c.name for c in ov.columns))
    json.dumps([ov.to_dict(), q.to_dict(), stats.to_dict()], allow_nan=False)


def test_bom_and_hostile_first_column_name() -> None:
    loaded = load(b"\xef\xbb\xbf" + SCRIPT.encode() + b",b\n1,2\n3,4\n", name="x.csv")
    names = [n for n, *_ in loaded.con.execute("DESCRIBE data").fetchall()]
    assert names == [SCRIPT, "b"]
    assert loaded.report.encoding == "utf-8-sig"


@pytest.mark.parametrize(
    "name",
    ["../../escape.csv", "..\\..\\escape.csv", "CON", "nul.csv", "aux.txt", "/etc/passwd",
     "a/../../b.csv", "x\x00.csv", "", ".hidden", "COM1.csv", "<script>.csv"],
)  # fmt: skip
def test_workspace_keeps_any_upload_name_inside_itself(tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    kept = keep_source(b"a,b\n1,2\n", name, root=root)
    assert kept.resolve().parent.parent == (root / "sources").resolve()
    assert kept.name not in ("", ".", "..") and not kept.name.startswith(".")
    assert kept.name.split(".")[0].upper() not in ("CON", "NUL", "AUX", "COM1")
    assert all(ch.isalnum() or ch in "._-" for ch in kept.name)
    assert kept.read_bytes() == b"a,b\n1,2\n"


def test_app_keeps_an_upload_named_with_dot_dots_inside_the_workspace(tmp_path: Path) -> None:
    from app import app

    _, defs = app.run(defs={"source": Source("../../../evil.csv", b"a,b\n1,2\n3,4\n")})
    assert defs["record0"].original.overview.n_rows == 2
    assert [p.name for p in (tmp_path / "workspace" / "sources").rglob("*.csv")] == ["evil.csv"]


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_carriage_return_inside_a_quoted_header_keeps_every_row(ending: bytes) -> None:
    data = ending.join([b'a,"\rb",c', b"1,x,2", b"3,y,4", b""])
    loaded = load(data, name="x.csv")
    assert loaded.report.n_rows == 2
    assert loaded.con.execute("SELECT * FROM data ORDER BY a").fetchall() == [
        (1, "x", 2),
        (3, "y", 4),
    ]


def test_header_only_file_runs_through_the_app() -> None:
    from app import app

    _, defs = app.run(defs={"source": Source("h.csv", b"a,b\n")})
    assert defs["record0"].original.quality.quality_score is None
    assert defs["gate1"].state.status == "pending"


# ---------------------------------------------------------------- wide and tall


def wide_table(con: Any, n_numeric: int, n_text: int, rows: int) -> dict[str, Any]:
    """A seeded table of many columns (floats with NaN, integers, text); numpy's copy."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(11)
    data: dict[str, Any] = {}
    for j in range(n_numeric):
        if j % 3 == 0:
            values = rng.integers(-50, 50, rows).astype(float) + 1e7
            data[f"n{j}"] = values
        else:
            values = rng.normal(j, 1 + j % 5, rows)
            values[rng.random(rows) < 0.1] = np.nan
            data[f"n{j}"] = values
    for j in range(n_text):
        data[f"t{j}"] = [f"v{v}" for v in rng.integers(0, 4, rows)]
    arrow = pa.table(
        {
            k: pa.array(v, from_pandas=True) if k.startswith("n") else pa.array(v)
            for k, v in data.items()
        }
    )
    con.register("wide_arrow", arrow)
    con.execute("CREATE TABLE data AS SELECT * FROM wide_arrow")
    con.unregister("wide_arrow")
    return data


def test_wide_table_overview_matches_numpy_and_steps_two_three_say_they_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caps, lowered so that a 50-column table crosses each of them quickly."""
    import numpy as np

    from steps import outliers as outliers_module
    from steps import overview as overview_module
    from steps.engine import connect
    from steps.statistics import distribution as statistics_distribution

    monkeypatch.setattr(overview_module, "WIDE_TABLE_COLUMNS", 30)
    monkeypatch.setattr(outliers_module, "MAX_COLUMNS", 25)
    monkeypatch.setattr(statistics_distribution, "MAX_COLUMNS", 12)
    OUTLIER_MAX_COLUMNS, MAX_COLUMNS = 25, 12
    con = connect()
    n_numeric = OUTLIER_MAX_COLUMNS + 20
    data = wide_table(con, n_numeric, 15, rows=40)
    assert len(data) > 30  # the unpivoted path
    ov = overview(con, "data")
    for name in ("n0", "n1", "n2", f"n{n_numeric - 1}"):
        values = data[name][~np.isnan(data[name])]
        column = ov.column(name)
        assert column.count == len(values) and column.n_missing == 40 - len(values)
        assert column.mean == pytest.approx(np.mean(values), rel=1e-14)
        assert column.std == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        quartiles = np.quantile(values, [0.25, 0.5, 0.75])
        assert (column.q1, column.median, column.q3) == pytest.approx(tuple(quartiles), rel=1e-14)
        assert (column.min, column.max) == (values.min(), values.max())
    text = ov.column("t3")
    expected = sorted(
        ((v, data["t3"].count(v)) for v in set(data["t3"])), key=lambda p: (-p[1], p[0])
    )
    assert text.top_values == tuple(expected) and text.n_distinct == len(expected)

    q = quality(con, "data", overview=ov)
    assert len(q.outliers) == OUTLIER_MAX_COLUMNS
    assert any(f"first {OUTLIER_MAX_COLUMNS} of {n_numeric}" in n for n in q.notes)

    stats = statistics(con, "data")
    assert stats.correlation.columns == tuple(f"n{j}" for j in range(MAX_COLUMNS))
    assert any(f"first {MAX_COLUMNS} of {n_numeric} numeric" in n for n in stats.notes)
    both = ~np.isnan(data["n1"]) & ~np.isnan(data["n2"])
    r = np.corrcoef(data["n1"][both], data["n2"][both])[0, 1]
    assert stats.correlation.matrix[1][2] == pytest.approx(r, rel=1e-12)

    prompt = step_prompt("overview", Facts(ov)).text
    assert '"columns_left_out": 10' in prompt  # 60 columns, 50 in the prompt


def steps_one_to_three(path: Path) -> tuple:
    """Load and Steps 1-3 as the app runs them, and how long that took."""
    started = time.perf_counter()
    loaded = load(path)
    ov = overview(loaded.con, loaded.table)
    q = quality(loaded.con, loaded.table, overview=ov)
    stats = statistics(loaded.con, loaded.table)
    return ov, q, stats, time.perf_counter() - started


@pytest.mark.slow
def test_ten_thousand_columns_steps_one_to_three_are_bounded(tmp_path: Path) -> None:
    import numpy as np

    k, rows = 10_000, 20
    values = np.random.default_rng(3).normal(size=(rows, k)).round(4)
    path = tmp_path / "wide.csv"
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(k)) + "\n")
        for row in values:
            f.write(",".join(map(str, row)) + "\n")
    ov, q, stats, seconds = steps_one_to_three(path)
    assert seconds < 60, f"Steps 1-3 on 10 000 columns took {seconds:.1f} s"
    assert ov.n_columns == k and ov.column("c9999").mean == pytest.approx(values[:, -1].mean())
    assert len(stats.correlation.columns) < k and stats.notes
    for figures in (
        overview_figures(ov),
        quality_figures(ov, q),
        statistics_figures(stats),
    ):
        assert sum(len(f.to_json()) for f in figures.values()) < 2_000_000
    facts = Facts(ov, q, stats)
    for step in ("overview", "quality", "statistics"):
        assert len(step_prompt(step, facts).text) < 100_000


@pytest.mark.slow
def test_five_million_rows_in_one_column(tmp_path: Path) -> None:
    import numpy as np

    values = np.random.default_rng(5).normal(100, 15, 5_000_000).round(3)
    path = tmp_path / "tall.csv"
    with path.open("w") as f:
        f.write("x\n")
        np.savetxt(f, values, fmt="%.3f")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ov, q, stats, seconds = steps_one_to_three(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert seconds < 60 and grown_mb < 2 * path.stat().st_size / 1e6 + 200
    x = ov.column("x")
    assert x.count == 5_000_000 and x.mean == pytest.approx(values.mean(), rel=1e-12)
    assert x.std == pytest.approx(values.std(ddof=1), rel=1e-10)
    assert q.n_rows == 5_000_000 and stats.n_rows == 5_000_000
