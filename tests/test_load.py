"""Loader tests: third-party edge cases (tests/data/csv-edge) and our own nasty files.

Expected values come from the literal text that produced each file (or from Python's csv
module and the csv-spectrum .json files), never from the loader itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from helpers import xlsx_bytes

from steps.engine import quote_ident
from steps.errors import SettingsError
from steps.load import MISSING_MARKERS, LoadError, ReadOptions, load, sha256_of
from steps.settings import Settings

EDGE = Path(__file__).parent / "data" / "csv-edge"


# ---------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows_as_text(loaded) -> list[tuple]:
    """Every value as DuckDB's text form (None for missing), in file order."""
    cols = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in column_names(loaded))
    return loaded.con.execute(f"SELECT {cols} FROM {quote_ident(loaded.table)}").fetchall()


def column_names(loaded) -> list[str]:
    rel = loaded.con.sql(f"SELECT * FROM {quote_ident(loaded.table)} LIMIT 0")
    return list(rel.columns)


def column_types(loaded) -> dict[str, str]:
    rel = loaded.con.sql(f"SELECT * FROM {quote_ident(loaded.table)} LIMIT 0")
    return {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}


def python_csv(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def assert_one_sentence(message: str) -> None:
    assert message.endswith("."), message
    assert "\n" not in message, message
    assert "Traceback" not in message and "Error:" not in message, message
    assert not re.search(r"[.!?]\s+[A-Z]", message), message


def refused(path_or_bytes, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load(path_or_bytes, **kwargs)
    message = str(info.value)
    assert_one_sentence(message)
    return message


def spectrum_expected(stem: str) -> list[tuple]:
    """csv-spectrum's expected values; an empty string is a missing value for us."""
    records = json.loads((EDGE / f"spectrum__{stem}.json").read_text(encoding="utf-8"))
    return [tuple(v if v != "" else None for v in r.values()) for r in records]


# ---------------------------------------------------------------- csv-edge (third party)


def test_bom_is_not_part_of_the_first_name():
    loaded = load(EDGE / "frictionless__bom.csv")
    assert (loaded.report.n_rows, loaded.report.n_columns) == (2, 2)
    assert column_names(loaded) == ["id", "name"]
    assert loaded.report.encoding == "utf-8-sig"
    assert rows_as_text(loaded)[1] == ("2", "中国人")


def test_semicolon_delimiter_detected():
    loaded = load(EDGE / "frictionless__delimiter.csv")
    assert (loaded.report.n_rows, loaded.report.n_columns) == (2, 2)
    assert loaded.report.delimiter == ";"


def test_duplicate_headers_kept_under_unique_visible_names():
    path = EDGE / "frictionless__duplicate-headers.csv"
    loaded = load(path)
    names = column_names(loaded)
    assert (loaded.report.n_rows, loaded.report.n_columns) == (2, 5)
    assert len({n.lower() for n in names}) == 5
    assert all(n.strip() for n in names)
    assert loaded.report.renamed_columns == (("id", "id_2"), ("id", "id_3"))
    expected = python_csv(path.read_text())[1:]
    assert rows_as_text(loaded) == [tuple(r) for r in expected]
    assert column_types(loaded)["id_3"] == "VARCHAR"  # "001101" keeps its zeros


def test_duplicate_rows_survive_as_rows():
    path = EDGE / "frictionless__duplicate-rows.csv"
    loaded = load(path)
    assert (loaded.report.n_rows, loaded.report.n_columns) == (3, 3)
    rows = rows_as_text(loaded)
    duplicates = sum(n - 1 for n in Counter(rows).values())
    expected = sum(n - 1 for n in Counter(map(tuple, python_csv(path.read_text())[1:])).values())
    assert duplicates == expected == 1


def test_empty_file_refused():
    assert refused(EDGE / "frictionless__empty.csv") == "The file is empty."


def test_tab_delimiter_detected():
    loaded = load(EDGE / "frictionless__table.tsv")
    assert (loaded.report.n_rows, loaded.report.n_columns) == (3, 2)
    assert loaded.report.delimiter == "\t"
    assert loaded.report.file_type == "tsv"


def test_header_only_gives_zero_rows():
    loaded = load(EDGE / "frictionless__without-rows.csv")
    assert (loaded.report.n_rows, loaded.report.n_columns) == (0, 2)
    assert column_names(loaded) == ["id", "name"]


@pytest.mark.parametrize(
    ("stem", "shape"),
    [
        ("comma_in_quotes", (1, 5)),
        ("empty", (2, 3)),
        ("escaped_quotes", (2, 2)),
        ("json", (1, 2)),
        ("newlines", (3, 3)),
        ("quotes_and_newlines", (2, 2)),
        ("utf8", (2, 3)),
    ],
)
def test_spectrum_values_equal_the_json(stem, shape):
    loaded = load(EDGE / f"spectrum__{stem}.csv")
    assert (loaded.report.n_rows, loaded.report.n_columns) == shape
    assert rows_as_text(loaded) == spectrum_expected(stem)


def test_spectrum_empty_has_two_missing_cells():
    loaded = load(EDGE / "spectrum__empty.csv")
    missing = sum(v is None for row in rows_as_text(loaded) for v in row)
    assert missing == 2
    assert loaded.report.missing_markers_seen == ("",)


def test_spectrum_zip_code_keeps_its_leading_zero():
    loaded = load(EDGE / "spectrum__comma_in_quotes.csv")
    assert rows_as_text(loaded)[0][4] == "08123"


def test_spectrum_crlf_as_stored_and_as_checked_out(tmp_path):
    stored = EDGE / "spectrum__newlines_crlf.csv"
    assert load(stored).report.n_rows == 3
    assert rows_as_text(load(stored))[1][0] == "Once upon \na time"
    crlf = write(tmp_path, "crlf.csv", stored.read_bytes().replace(b"\n", b"\r\n"))
    loaded = load(crlf)
    assert (loaded.report.n_rows, loaded.report.n_columns) == (3, 3)
    assert rows_as_text(loaded) == spectrum_expected("newlines_crlf")


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("codec", "reported"),
    [("latin-1", "cp1252"), ("cp1252", "cp1252")],
)
def test_legacy_western_encodings_load_with_correct_text(tmp_path, codec, reported):
    text = "name,city,note\nJosé,Málaga,ñandú\nZoë,Köln,Straße\nFrançois,Besançon,garçon\n"
    loaded = load(write(tmp_path, "people.csv", text.encode(codec)))
    assert loaded.report.encoding == reported
    assert rows_as_text(loaded) == [tuple(r) for r in python_csv(text)[1:]]


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("cp1250", "miasto,ludność\nŁódź,672185\nGdańsk,470907\nBiałystok,294242\n"),
        ("cp1251", "город,население\nМосква,13010112\nСанкт-Петербург,5601911\n"),
        ("cp932", "名前,都市\n田中,東京\n佐藤,大阪\n鈴木,名古屋\n"),
        ("gb18030", "城市,人口\n北京,21893095\n上海,24870895\n广州,18676605\n"),
    ],
)
def test_other_code_pages_read_as_words(tmp_path, codec, text):
    loaded = load(write(tmp_path, "city.csv", text.encode(codec)))
    assert loaded.report.encoding == codec
    assert column_names(loaded) == python_csv(text)[0]
    assert rows_as_text(loaded) == [tuple(r) for r in python_csv(text)[1:]]


def test_utf16_without_bom(tmp_path):
    text = "a,b\n1,hello\n2,wörld\n"
    loaded = load(write(tmp_path, "u16.csv", text.encode("utf-16-le")))
    assert loaded.report.encoding == "utf-16-le"
    assert rows_as_text(loaded) == [("1", "hello"), ("2", "wörld")]


def test_old_mac_line_endings(tmp_path):
    loaded = load(write(tmp_path, "cr.csv", b"a,b\r1,x\r3,y\r"))
    assert rows_as_text(loaded) == [("1", "x"), ("3", "y")]


def test_mixed_line_endings_with_a_short_row(tmp_path):
    data = b'a,b\r\n1,"x\ny"\r\n2,z\n3\r\n4,w\n'
    loaded = load(write(tmp_path, "mixed.csv", data))
    assert rows_as_text(loaded) == [("1", "x\ny"), ("2", "z"), ("3", None), ("4", "w")]
    assert loaded.report.warnings[0] == "Line endings mix CRLF and LF; every CRLF was read as LF."
    assert "line 5" in loaded.report.warnings[1]


def test_excel_style_crlf_rows_with_lf_inside_cells(tmp_path):
    data = b'a,b\r\n1,"x\ny"\r\n2,z\r\n'
    loaded = load(write(tmp_path, "excel.csv", data))
    assert rows_as_text(loaded) == [("1", "x\ny"), ("2", "z")]
    assert loaded.report.warnings == ()


def test_cp1252_euro_sign_and_typographic_quotes(tmp_path):
    text = "item,price\ncoffee,3 €\n“tea”,2 €\n"
    loaded = load(write(tmp_path, "prices.csv", text.encode("cp1252")))
    assert loaded.report.encoding == "cp1252"
    assert rows_as_text(loaded) == [("coffee", "3 €"), ("“tea”", "2 €")]


def test_a_byte_the_chosen_code_page_cannot_decode_is_named_with_its_line(tmp_path):
    head = "name,city\nJosé,Málaga\n".encode("cp1252")
    filler = b"".join(b"row%d,plain\n" % i for i in range(20_000))  # past the sampled bytes
    lines = 2 + 20_000 + 1
    data = head + filler + b"Bad,\x81\n"  # 0x81 is undefined in cp1252
    with pytest.raises(LoadError) as caught:
        load(write(tmp_path, "mixed.csv", data))
    assert str(caught.value) == (
        f"mixed.csv is not valid cp1252 text: line {lines} holds the byte 0x81, "
        "which cannot be decoded."
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    text = "ville,habitants\nMontréal,1762949\nQuébec,549459\n"
    bom = "\ufeff".encode(codec)
    loaded = load(write(tmp_path, "villes.csv", bom + text.encode(codec)))
    assert loaded.report.encoding == codec
    assert column_names(loaded) == ["ville", "habitants"]
    assert rows_as_text(loaded) == [tuple(r) for r in python_csv(text)[1:]]
    assert column_types(loaded)["habitants"] == "BIGINT"


def test_utf8_bom_and_sha256_of_original_bytes(tmp_path):
    data = "\ufeffa,b\n1,é\n".encode()
    loaded = load(write(tmp_path, "bom.csv", data))
    assert column_names(loaded) == ["a", "b"]
    assert loaded.report.sha256 == hashlib.sha256(data).hexdigest()
    assert loaded.report.bytes == len(data)


def test_invalid_bytes_in_utf8_text_are_replaced_and_said(tmp_path):
    data = "a,b\n1,café\n2,naïve\n".encode() + b"3,caf\xe9\n"
    loaded = load(write(tmp_path, "mixed.csv", data))
    assert rows_as_text(loaded)[:2] == [("1", "café"), ("2", "naïve")]
    assert rows_as_text(loaded)[2] == ("3", "caf\ufffd")
    assert "replaced" in loaded.report.encoding
    assert any("replaced" in w for w in loaded.report.warnings)


def test_nul_bytes_removed_with_a_warning(tmp_path):
    data = b"a,b\n1,x\x00y\n2,plain\n3,z\n"
    loaded = load(write(tmp_path, "nul.csv", data))
    assert rows_as_text(loaded) == [("1", "xy"), ("2", "plain"), ("3", "z")]
    assert loaded.report.warnings == ("1 NUL byte was removed from the text.",)


# ---------------------------------------------------------------- dialects


def test_semicolon_with_decimal_commas(tmp_path):
    text = "produit;prix;stock\npomme;1,25;10\npoire;0,5;3\nkiwi;12,75;0\n"
    loaded = load(write(tmp_path, "prix.csv", text.encode()))
    assert loaded.report.delimiter == ";"
    assert column_types(loaded)["prix"] == "DOUBLE"
    got = loaded.con.execute("SELECT prix FROM data").fetchall()
    expected = [float(r[1].replace(",", ".")) for r in python_csv(text, ";")[1:]]
    assert [g[0] for g in got] == expected


@pytest.mark.parametrize(("delimiter", "suffix"), [("|", ".csv"), ("\t", ".txt"), ("\t", ".tsv")])
def test_pipe_and_tab(tmp_path, delimiter, suffix):
    text = delimiter.join(["a", "b", "c"]) + "\n"
    text += delimiter.join(["1", "x, y", "2.5"]) + "\n" + delimiter.join(["2", "z", "3"]) + "\n"
    loaded = load(write(tmp_path, "t" + suffix, text.encode()))
    assert loaded.report.delimiter == delimiter
    assert rows_as_text(loaded) == [("1", "x, y", "2.5"), ("2", "z", "3.0")]


def test_single_column_file(tmp_path):
    loaded = load(write(tmp_path, "one.csv", b"word\nalpha\nbeta\n"))
    assert (loaded.report.n_rows, loaded.report.n_columns) == (2, 1)


def test_leading_zeros_stay_text(tmp_path):
    loaded = load(write(tmp_path, "zip.csv", b"zip,n\n00123,1\n04567,2\n"))
    assert column_types(loaded)["zip"] == "VARCHAR"
    assert [r[0] for r in rows_as_text(loaded)] == ["00123", "04567"]


# ---------------------------------------------------------------- rows and values


def test_missing_markers_are_null_and_reported(tmp_path):
    markers = [m for m in MISSING_MARKERS if m]
    lines = ["id,value,word"] + [f"{i},{m},{m}" for i, m in enumerate(markers)] + ["99,1.5,x"]
    loaded = load(write(tmp_path, "markers.csv", ("\n".join(lines) + "\n").encode()))
    assert loaded.report.missing_markers_seen == tuple(markers)
    got = loaded.con.execute("SELECT count(value), count(word) FROM data").fetchone()
    assert got == (1, 1)
    assert column_types(loaded)["value"] == "DOUBLE"


def test_markers_seen_far_beyond_the_sample(tmp_path):
    body = "".join(f"{i},{i * 2}\n" for i in range(60_000))
    data = ("a,b\n" + body + "60000,#N/A\n").encode()
    loaded = load(write(tmp_path, "late_marker.csv", data))
    assert loaded.report.missing_markers_seen == ("#N/A",)
    assert column_types(loaded)["b"] == "BIGINT"
    assert loaded.con.execute("SELECT count(*) - count(b) FROM data").fetchone() == (1,)


def test_late_values_widen_the_column_instead_of_dropping_rows(tmp_path):
    body = "".join(f"{i},{i}\n" for i in range(30_000))
    data = ("n,m\n" + body + "1.5,x\n").encode()
    loaded = load(write(tmp_path, "late.csv", data))
    assert loaded.report.n_rows == 30_001
    assert loaded.report.rows_skipped == 0
    types = column_types(loaded)
    assert (types["n"], types["m"]) == ("DOUBLE", "VARCHAR")
    assert loaded.con.execute("SELECT n, m FROM data WHERE m = 'x'").fetchone() == (1.5, "x")
    assert len(loaded.report.warnings) == 2


def test_time_of_day_beyond_the_sample_is_not_truncated(tmp_path):
    data = ("d\n" + "2024-01-02\n" * 30_000 + "2024-01-01 10:30:00\n").encode()
    loaded = load(write(tmp_path, "dates.csv", data))
    assert column_types(loaded)["d"] == "TIMESTAMP"
    last = loaded.con.execute("SELECT max(d) FILTER (WHERE d < '2024-01-02') FROM data")
    assert last.fetchone() == (dt.datetime(2024, 1, 1, 10, 30),)


def test_dates_stay_dates(tmp_path):
    loaded = load(write(tmp_path, "days.csv", b"d,n\n2024-01-02,1\n2023-12-31,2\n"))
    assert column_types(loaded) == {"d": "DATE", "n": "BIGINT"}
    assert loaded.con.execute("SELECT min(d) FROM data").fetchone() == (dt.date(2023, 12, 31),)


def test_integers_too_big_for_a_double_keep_every_digit(tmp_path):
    big = [2**53 + 1, 2**62 + 7, -(2**60) - 3]
    data = ("id,k\n" + "".join(f"{v},{i}\n" for i, v in enumerate(big))).encode()
    loaded = load(write(tmp_path, "ids.csv", data))
    assert [r[0] for r in rows_as_text(loaded)] == [str(v) for v in big]
    assert column_types(loaded)["k"] == "BIGINT"


def test_headerless_numeric_file(tmp_path):
    loaded = load(write(tmp_path, "nums.csv", b"1,2,3\n4,5,6\n"))
    assert loaded.report.has_header is False
    assert column_names(loaded) == ["field_1", "field_2", "field_3"]
    assert loaded.con.execute("SELECT sum(field_3) FROM data").fetchone() == (9,)


def test_ragged_rows_short_padded_long_skipped_with_lines(tmp_path):
    text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n13\n"
    loaded = load(write(tmp_path, "ragged.csv", text.encode()))
    assert rows_as_text(loaded) == [
        ("1", "2", "3"),
        ("4", "5", None),
        ("10", "11", "12"),
        ("13", None, None),
    ]
    assert loaded.report.rows_skipped == 1
    assert [(s.line, s.reason) for s in loaded.report.skipped] == [
        (4, "4 fields where the header has 3")
    ]
    assert any("fewer fields" in w and "line 3" in w for w in loaded.report.warnings)


def test_quoted_newlines_ragged_rows_and_na_together(tmp_path):
    text = (
        'id,note,score\r\n1,"line one\r\nline two",NA\r\n2,short\r\n'
        '3,"a ""quoted""\nword",N/A\r\n4,x,7,extra\r\n5,"",8\r\n'
    )
    loaded = load(write(tmp_path, "together.csv", text.encode()))
    assert rows_as_text(loaded) == [
        ("1", "line one\r\nline two", None),
        ("2", "short", None),
        ("3", 'a "quoted"\nword', None),
        ("5", None, "8"),
    ]
    assert loaded.report.missing_markers_seen == ("", "N/A", "NA")
    assert [s.line for s in loaded.report.skipped] == [7]  # physical line, as an editor counts
    assert column_types(loaded)["score"] == "BIGINT"


def test_mostly_broken_file_refused(tmp_path):
    text = "a,b\n1,2\n" + "".join(f"{i},{i},{i}\n" for i in range(5))
    message = refused(write(tmp_path, "broken.csv", text.encode()))
    assert "5 of 6 rows" in message and "line 3" in message


def test_unterminated_quote_refused(tmp_path):
    message = refused(write(tmp_path, "quote.csv", b'a,b\n1,"open\n2,x\n3,y\n'))
    assert "never closed" in message and "line 2" in message


def test_blank_and_duplicate_headers(tmp_path):
    loaded = load(write(tmp_path, "h.csv", b"a,,a,A,b,a_2, \n1,2,3,4,5,6,7\n"))
    names = column_names(loaded)
    assert names == ["a", "field_2", "a_3", "A_4", "b", "a_2", "field_7"]
    assert dict(loaded.report.renamed_columns) == {
        "": "field_2",
        "a": "a_3",
        "A": "A_4",
        " ": "field_7",
    }
    assert len({n.lower() for n in names}) == len(names)


def test_hostile_column_names_survive_verbatim(tmp_path):
    hostile = [
        "<img src=x onerror=alert(1)>",
        'say "hi"',
        "it's",
        'x"); DROP TABLE data; --',
        "L" * 5000,
    ]
    header = ",".join('"' + h.replace('"', '""') + '"' for h in hostile)
    loaded = load(write(tmp_path, "hostile.csv", (header + "\n1,2,3,4,5\n").encode()))
    assert column_names(loaded) == hostile
    assert loaded.report.n_rows == 1


# ---------------------------------------------------------------- refusals before parsing


def test_pdf_renamed_csv_refused(tmp_path):
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256))
    message = refused(write(tmp_path, "report.csv", pdf))
    assert "PDF" in message


def test_zip_renamed_csv_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    message = refused(write(tmp_path, "data.csv", buffer.getvalue()))
    assert "ZIP" in message


def test_random_binary_renamed_csv_refused(tmp_path):
    import random

    rng = random.Random(3)
    noise = bytes(rng.randrange(256) for _ in range(4000))
    assert "binary" in refused(write(tmp_path, "noise.csv", noise))


def test_text_that_starts_like_a_signature_loads(tmp_path):
    loaded = load(write(tmp_path, "par.csv", b"PAR1,MZ,BZh\n1,2,3\n"))
    assert column_names(loaded) == ["PAR1", "MZ", "BZh"]


def test_xlsx_that_is_not_a_zip_refused(tmp_path):
    message = refused(write(tmp_path, "book.xlsx", b"a,b\n1,2\n"))
    assert "is named .xlsx but is not a workbook" in message


def test_unsupported_extension_refused(tmp_path):
    assert ".json" in refused(write(tmp_path, "x.json", b'{"a": 1}'))


def test_missing_file_refused(tmp_path):
    refused(tmp_path / "nope.csv")


def test_one_byte_over_the_limit(tmp_path):
    data = b"a,b\n1,2\n"
    path = write(tmp_path, "small.csv", data)
    assert load(path, limit=len(data)).report.n_rows == 1
    message = refused(path, limit=len(data) - 1)
    assert f"({len(data):,} bytes)" in message and f"({len(data) - 1:,} bytes)" in message
    refused(data, name="small.csv", limit=len(data) - 1)


def test_empty_upload_and_blank_lines(tmp_path):
    assert refused(b"", name="empty.csv") == "The file is empty."
    assert "blank lines" in refused(write(tmp_path, "blank.csv", b"\n\r\n\n"))


def test_max_bytes_from_environment():
    assert Settings.from_env({}).max_bytes == 200 * 1024 * 1024
    assert Settings.from_env({"SIGNOFF_MAX_MB": "1.5"}).max_bytes == int(1.5 * 1024 * 1024)
    for raw in ("lots", "0", "-3"):
        with pytest.raises(SettingsError) as info:
            Settings.from_env({"SIGNOFF_MAX_MB": raw})
        assert_one_sentence(str(info.value))


# ---------------------------------------------------------------- sources and tables


def test_upload_bytes_and_table_replacement():
    con = duckdb.connect()
    first = load(b"a\n1\n2\n", name="first.csv", con=con)
    assert first.report.name == "first.csv" and first.report.n_rows == 2
    second = load(b"b,c\nx,y\n", name="second.csv", con=con)
    assert second.con is con
    assert column_names(second) == ["b", "c"]
    assert (
        second.report.sha256
        == sha256_of(b"b,c\nx,y\n")
        == hashlib.sha256(b"b,c\nx,y\n").hexdigest()
    )
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"data"}


def test_failed_load_leaves_no_partial_table(tmp_path):
    con = duckdb.connect()
    with pytest.raises(LoadError):
        load(write(tmp_path, "quote.csv", b'a,b\n1,"open\n2,x\n'), con=con)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)


def test_report_is_json_safe(tmp_path):
    loaded = load(write(tmp_path, "r.csv", b"a,b\n1,NA\n2,3,4\n5,6\n"))
    report = json.loads(json.dumps(loaded.report.to_dict()))
    assert report["skipped"] == [{"line": 3, "reason": "3 fields where the header has 2"}]
    assert report["missing_markers_seen"] == ["NA"]
    assert set(report) >= {"name", "sha256", "bytes", "encoding", "delimiter", "n_rows"}


# ---------------------------------------------------------------- Excel


def test_xlsx_values_types_and_markers(tmp_path):
    rows = [
        ["id", "price", "when", "label", None, "id", "code"],
        [1, 1.5, dt.datetime(2024, 1, 2, 3, 4), "N/A", "a", "x", "007"],
        [2, 2, dt.datetime(2024, 1, 3), "b", None, "y", "008"],
    ]
    loaded = load(write(tmp_path, "book.xlsx", xlsx_bytes({"Data": rows})))
    report = loaded.report
    assert (report.file_type, report.sheet, report.n_rows, report.n_columns) == (
        "xlsx",
        "Data",
        2,
        7,
    )
    assert column_names(loaded) == ["id", "price", "when", "label", "field_5", "id_2", "code"]
    types = column_types(loaded)
    assert (types["id"], types["price"], types["when"], types["code"]) == (
        "BIGINT",
        "DOUBLE",
        "TIMESTAMP",
        "VARCHAR",
    )
    got = loaded.con.execute("SELECT * FROM data ORDER BY id").fetchall()
    assert got == [
        (1, 1.5, dt.datetime(2024, 1, 2, 3, 4), None, "a", "x", "007"),
        (2, 2.0, dt.datetime(2024, 1, 3), "b", None, "y", "008"),
    ]
    assert report.missing_markers_seen == ("", "N/A")


def test_multi_sheet_xlsx(tmp_path):
    data = xlsx_bytes({"Empty": [], "First": [["a"], [1]], "Second": [["b", "c"], ["x", True]]})
    loaded = load(data, name="multi.xlsx")
    assert loaded.report.sheet == "First"
    assert any("3 sheets" in w for w in loaded.report.warnings)
    second = load(data, name="multi.xlsx", options=ReadOptions(sheet="Second"))
    assert rows_as_text(second) == [("x", "TRUE")]  # a boolean cell, as Excel shows it
    assert "'Nope'" in refused(data, name="multi.xlsx", options=ReadOptions(sheet="Nope"))


def test_xlsx_upload_without_extension_is_sniffed():
    loaded = load(xlsx_bytes({"S": [["a"], [3]]}), name="upload")
    assert loaded.report.file_type == "xlsx"
    assert rows_as_text(loaded) == [("3",)]


def test_xls_workbook():
    """load__book.xls was written by xlwt (tests/data/load__make_xls.py)."""
    loaded = load(Path(__file__).parent / "data" / "load__book.xls")
    report = loaded.report
    assert (report.file_type, report.sheet, report.n_rows) == ("xls", "People", 2)
    assert column_names(loaded) == ["name", "age", "joined", "city", "name_2"]
    got = loaded.con.execute("SELECT * FROM data").fetchall()
    assert got == [
        ("José", 34.0, dt.date(2021, 3, 4), "Málaga", "a"),
        ("Zoë", 28.5, dt.date(2022, 11, 30), None, "b"),
    ]
    assert report.missing_markers_seen == ("N/A",)
    assert any("2 sheets" in w for w in report.warnings)
