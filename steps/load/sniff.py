"""Dialect and header, judged from the first megabyte of the (UTF-8) text.

Python's csv module reads the head once per candidate delimiter; the delimiter whose rows
agree best on a field count wins. Only the head is read here, so this costs the same on a
200 MB file as on a small one.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from steps.load.checks import HEAD_BYTES, read_head
from steps.load.report import PREAMBLE_LISTED, ReadOptions

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
DELIMITERS = (",", ";", "\t", "|", " ", ":")
# Spaces and colons also sit inside values (free text, times of day), so they are chosen
# only when none of these separates the fields.
STRONG_DELIMITERS = (",", ";", "\t", "|")
# ... and only when nearly every row, the header among them, has the same number of fields.
_WEAK_SCORE = 1.4
# A looser agreement is still worth a hint when the file was read as one column.
_HINT_SCORE = 1.25
_HEAD_RECORDS = 2000
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
_PLAIN_INTEGER = re.compile(r"[-+]?\d+")
_QUOTED = re.compile(r'"[^"]*"')
_EDGE_SPACES = re.compile(r"(?m)^ +| +(?=\r?$)")
_SPACE_RUN = re.compile(r" {2,}")
# Times of day and timestamps are masked before judging a space or colon as the delimiter,
# so a column of `10:30:00` or `2024-01-02 10:30` is not split into numbers.
_TEMPORAL = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?|\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
)
INFINITY_TOKENS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_DECIMAL_COMMA_NUMBER = re.compile(r"[-+]?\d+(,\d*)?([eE][-+]?\d+)?")
_LEADING_ZERO = re.compile(r"[-+]?0\d")
# A preamble is short, and what follows it must outweigh it clearly.
_PREAMBLE_MAX_LINES = 20
_PREAMBLE_SHARE = 3


@dataclass(frozen=True)
class Dialect:
    """How the text is split: `delimiter` (`" "` means runs of spaces), the header's
    fields, the usual field count, decimal commas, the line ending, and the physical lines
    above the header that are not part of the table (`preamble`, exactly as written)."""

    delimiter: str
    first_record: tuple[str, ...]
    usual_width: int
    decimal_comma: bool
    newline: str | None = None
    skip_lines: int = 0
    preamble: tuple[str, ...] = ()
    infinite_columns: tuple[int, ...] = ()


def head_text(path: Path) -> tuple[str, bool]:
    """The first megabyte of a UTF-8 file as text, and whether that is the whole file."""
    raw = read_head(path)
    text = raw.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return text, len(raw) < HEAD_BYTES


def collapse_spaces(text: str) -> str:
    """Runs of spaces as one, none at either end of a line: a space-delimited file as
    DuckDB (which splits on every single delimiter) can read it."""
    return _SPACE_RUN.sub(" ", _EDGE_SPACES.sub("", text))


def _records(text: str, delimiter: str, complete: bool) -> tuple[list[list[str]], list[int]]:
    """The head's records (blank lines dropped), a record cut by the head's end dropped,
    and for each the physical line it starts on."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False
    )
    rows: list[list[str]] = []
    starts: list[int] = []
    while len(rows) <= _HEAD_RECORDS:
        start = reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error:  # a field past csv's own limit (128 KiB): judge what came before
            break
        if row is None:
            break
        if row:
            rows.append(row)
            starts.append(start)
    if not complete or len(rows) > _HEAD_RECORDS:
        rows, starts = (rows[:-1], starts[:-1]) if len(rows) > 1 else (rows, starts)
    return rows, starts


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


def _candidate_text(text: str, delimiter: str) -> str:
    """The head as it is judged for `delimiter`: spaces collapsed, times masked."""
    if delimiter in STRONG_DELIMITERS:
        return text
    masked = _TEMPORAL.sub("0", text)
    return collapse_spaces(masked) if delimiter == " " else masked


def choose_delimiter(text: str, complete: bool, file_type: str) -> str:
    """The delimiter whose records agree best on a field count; a space or a colon only
    when no strong delimiter splits the head at all, and the split is nearly uniform."""
    order = ("\t", ",", ";", "|") if file_type == "tsv" else STRONG_DELIMITERS
    scores = {d: _delimiter_score(_records(text, d, complete)[0]) for d in order}
    best = max(order, key=scores.__getitem__)
    if scores[best] > 0:
        return best
    weak = {
        d: _delimiter_score(_records(_candidate_text(text, d), d, complete)[0]) for d in (" ", ":")
    }
    best_weak = max(weak, key=weak.__getitem__)
    return best_weak if weak[best_weak] >= _WEAK_SCORE else order[0]


def preamble_lines(rows: list[list[str]], starts: list[int]) -> int:
    """How many physical lines above the table are a preamble: leading records whose field
    count differs from the count every record after them agrees on, or that start with `#`.

    A title, a comment or a metadata line (`178,13,class_0,...` above 14-field rows) is
    skipped. Leading lines of several fields could also be rows of a broken table (refused
    later), so the agreeing records must outnumber those `_PREAMBLE_SHARE` to 1.
    """
    usual = _usual_width(rows)
    k = 0
    while k < min(len(rows), _PREAMBLE_MAX_LINES) and (
        len(rows[k]) != usual or rows[k][0].startswith("#")
    ):
        k += 1
    rest = rows[k:]
    fielded = sum(len(row) > 1 and not row[0].startswith("#") for row in rows[:k])
    if not k or not rest or len(rest) < _PREAMBLE_SHARE * fielded:
        return 0
    agreeing = sum(len(row) == usual for row in rest)
    return starts[k] - 1 if agreeing >= 0.95 * len(rest) else 0


def likely_delimiter(text: str, complete: bool) -> str | None:
    """A delimiter the person may want to choose for a file read as one column: a strong
    one most lines hold, or a space or colon that splits most lines, the first among them,
    into the same number of fields (times of day set aside)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for delimiter in STRONG_DELIMITERS:
        if lines and 2 * sum(delimiter in line for line in lines) >= len(lines):
            return delimiter
    for delimiter in (" ", ":"):
        rows, _ = _records(_candidate_text(text, delimiter), delimiter, complete)
        if _delimiter_score(rows) >= _HINT_SCORE:
            return delimiter
    return None


def sniff_dialect(text: str, complete: bool, file_type: str, options: ReadOptions) -> Dialect:
    """Delimiter, preamble and header fields of the head, as detected or as chosen."""
    delimiter = options.delimiter or choose_delimiter(text, complete, file_type)
    judged = collapse_spaces(text) if delimiter == " " else text
    rows, starts = _records(judged, delimiter, complete)
    skip = preamble_lines(rows, starts) if options.skip_lines is None else options.skip_lines
    lines = io.StringIO(judged, newline="").readlines()
    rows, _ = _records("".join(lines[skip:]), delimiter, complete)
    preamble = tuple(line.rstrip("\r\n") for line in lines[: min(skip, PREAMBLE_LISTED)])
    first = tuple(rows[0]) if rows else ()
    decimal_comma = delimiter != "," and _uses_decimal_comma(rows[1:])
    width = _usual_width(rows)
    return Dialect(
        delimiter,
        first,
        width,
        decimal_comma,
        _newline(judged),
        skip,
        preamble,
        numbers_with_infinities(rows[1:], width, decimal_comma, MISSING_MARKERS),
    )


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


def numbers_with_infinities(
    rows: list[list[str]], width: int, decimal_comma: bool, missing: tuple[str, ...]
) -> tuple[int, ...]:
    """Columns of the head that hold only numbers and at least one infinity (`inf`, `-inf`,
    `Infinity`): DuckDB's sampler calls them text, but they are numbers."""
    number = _DECIMAL_COMMA_NUMBER if decimal_comma else _NUMBER
    found = []
    for j in range(width):
        values = [row[j] for row in rows if j < len(row) and row[j] not in missing]
        infinite = [v for v in values if v.strip().lower() in INFINITY_TOKENS]
        finite = [v for v in values if v.strip().lower() not in INFINITY_TOKENS]
        if infinite and all(number.fullmatch(v) and not _LEADING_ZERO.match(v) for v in finite):
            found.append(j)
    return tuple(found)


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
