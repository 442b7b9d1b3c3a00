"""Dialect and header, judged from the first megabyte of the (UTF-8) text.

Python's csv module reads the head once per candidate delimiter; the delimiter whose rows
agree best on a field count wins. Only the head is read here, so this costs the same on a
200 MB file as on a small one.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from steps.load.checks import HEAD_BYTES, read_head

# pandas' default `na_values` (read_csv), so a file reads the same here as in pandas.
MISSING_MARKERS: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
DELIMITERS = (",", ";", "\t", "|")
_HEAD_RECORDS = 2000
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
_PLAIN_INTEGER = re.compile(r"[-+]?\d+")
_QUOTED = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    first_record: tuple[str, ...]
    usual_width: int
    decimal_comma: bool
    newline: str | None = None


def head_text(path: Path) -> tuple[str, bool]:
    """The first megabyte of a UTF-8 file as text, and whether that is the whole file."""
    raw = read_head(path)
    text = raw.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return text, len(raw) < HEAD_BYTES


def _records(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    """The head's records (blank lines dropped); a record cut by the head's end is dropped."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False
    )
    try:
        rows = list(itertools.islice(reader, _HEAD_RECORDS + 1))
    except csv.Error:
        return []
    if not complete or len(rows) > _HEAD_RECORDS:
        rows = rows[:-1] or rows
    return [row for row in rows if row]


def _usual_width(rows: list[list[str]]) -> int:
    counts = [len(row) for row in rows]
    return max(set(counts), key=counts.count) if counts else 0


def _delimiter_score(rows: list[list[str]]) -> float:
    """How table-like the rows are: share of rows with the usual field count, header bonus."""
    counts = [len(row) for row in rows]
    usual = _usual_width(rows)
    if usual < 2:
        return 0.0
    return counts.count(usual) / len(counts) + (0.5 if counts[0] == usual else 0.0)


def sniff_dialect(text: str, complete: bool, file_type: str) -> Dialect:
    order = ("\t", ",", ";", "|") if file_type == "tsv" else DELIMITERS
    parsed = {d: _records(text, d, complete) for d in order}
    delimiter = max(order, key=lambda d: _delimiter_score(parsed[d]))
    rows = parsed[delimiter]
    first = tuple(rows[0]) if rows else ()
    decimal_comma = delimiter != "," and _uses_decimal_comma(rows[1:])
    return Dialect(delimiter, first, _usual_width(rows), decimal_comma, _newline(text))


def _newline(text: str) -> str | None:
    """The line ending used outside quotes, when the head uses exactly one kind.

    DuckDB guesses line endings from raw bytes, quotes ignored: a CR inside a quoted header
    makes it read the file as CR-terminated and return no rows at all. Named explicitly,
    the ending is read right; a head that mixes endings is left to DuckDB's own handling.
    """
    unquoted = _QUOTED.sub("", text)
    crlf = unquoted.count("\r\n")
    counts = {
        "\\r\\n": crlf,
        "\\n": unquoted.count("\n") - crlf,
        "\\r": unquoted.rstrip("\r").count("\r") - crlf,
    }
    used = [ending for ending, n in counts.items() if n]
    return used[0] if len(used) == 1 else None


def _uses_decimal_comma(rows: list[list[str]]) -> bool:
    """Some column holds only numbers, at least one written with a decimal comma."""
    width = max((len(row) for row in rows), default=0)
    for j in range(width):
        values = [row[j] for row in rows if j < len(row) and row[j] not in MISSING_MARKERS]
        if (
            values
            and any(_DECIMAL_COMMA.fullmatch(v) for v in values)
            and all(_DECIMAL_COMMA.fullmatch(v) or _PLAIN_INTEGER.fullmatch(v) for v in values)
        ):
            return True
    return False


def unique_names(raw: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Visible, unique column names (DuckDB compares names case-insensitively).

    A blank header becomes `field_<position>`; a repeated one gets `_2`, `_3`, ...; the
    first occurrence of a name keeps it.
    """
    names: list[str | None] = [None] * len(raw)
    used: set[str] = set()
    for i, header in enumerate(raw):
        if header.strip() and header.lower() not in used:
            names[i] = header
            used.add(header.lower())
    for i, header in enumerate(raw):
        if names[i] is not None:
            continue
        base = header if header.strip() else f"field_{i + 1}"
        candidate, k = base, 2
        while candidate.lower() in used:
            candidate, k = f"{base}_{k}", k + 1
        names[i] = candidate
        used.add(candidate.lower())
    final = [n for n in names if n is not None]
    renamed = [(r, n) for r, n in zip(raw, final, strict=True) if r != n]
    return final, renamed
