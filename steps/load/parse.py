"""The parse itself: DuckDB's `read_csv`, typed so that no value is changed to fit.

DuckDB types columns from a sample; a value beyond the sample that does not fit would be
rejected (or silently rounded), so rejected casts widen the column and the file is parsed
again, and columns read wide are narrowed back only when every value allows.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from steps.engine import quote_ident, quote_literal
from steps.errors import LoadError
from steps.load.sniff import MISSING_MARKERS, Dialect

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_DATED = ("DATE", "TIMESTAMP")
_DAY_MONTH = re.compile(r"%[dm][^%]?%[dm][^%]?%[yY]")


# DuckDB plans a SELECT of thousands of aggregates in more than linear time (2 000 columns
# checks: 14.8 s at once, 1.6 s in chunks of 100), so wide tables are asked in chunks.
_AGGREGATES_PER_QUERY = 100
_ALTERS_AT_MOST = 16


def aggregate_row(con: duckdb.DuckDBPyConnection, source: str, expressions: list[str]) -> list:
    """The values of `expressions` (aggregates) over `source`, a chunk of them per query."""
    values: list = []
    for i in range(0, len(expressions), _AGGREGATES_PER_QUERY):
        chunk = expressions[i : i + _AGGREGATES_PER_QUERY]
        values += con.execute(f"SELECT {', '.join(chunk)} FROM {source}").fetchone() or ()
    return values


def sql_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


@dataclass(frozen=True)
class Sniffed:
    has_header: bool
    types: tuple[str, ...]
    date_format: str | None
    timestamp_format: str | None


def sniff(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dialect: Dialect,
    header: bool | None,
    max_line_bytes: int | None,
) -> Sniffed:
    """DuckDB's header and type detection on a sample, with our delimiter and quoting (and
    the header, when the person said whether there is one)."""
    options = [
        *_dialect_options(dialect, max_line_bytes),
        f"nullstr={_null_markers(dialect)}",
        "null_padding=true",
    ]
    if header is not None:
        options.append(f"header={str(header).lower()}")
    sql = (
        "SELECT HasHeader, Columns, DateFormat, TimestampFormat "
        f"FROM sniff_csv({quote_literal(str(path))}, {', '.join(options)})"
    )
    try:
        has_header, columns, date_format, timestamp_format = con.execute(sql).fetchone() or ()
    except duckdb.Error:
        return Sniffed(True if header is None else header, (), None, None)
    return Sniffed(
        bool(has_header), tuple(c["type"] for c in columns), date_format, timestamp_format
    )


def _null_markers(dialect: Dialect) -> str:
    """The missing-value markers as DuckDB's `nullstr`, less any holding the delimiter
    (DuckDB refuses those, and `#N/A N/A` could not be one field of a space-split line)."""
    return sql_list([m for m in MISSING_MARKERS if dialect.delimiter not in m])


def _dialect_options(dialect: Dialect, max_line_bytes: int | None) -> list[str]:
    """How DuckDB is to split the text. `max_line_bytes` raises DuckDB's own line limit (2
    MB) for a file that needs it; its buffers grow with it, so only then."""
    options = [
        f"delim={quote_literal(dialect.delimiter)}",
        "quote='\"'",
        "escape='\"'",
    ]
    if max_line_bytes is not None:
        options.append(f"max_line_size={int(max_line_bytes)}")
    if dialect.newline:
        options.append(f"new_line='{dialect.newline}'")
    if dialect.skip_lines:
        options.append(f"skip={int(dialect.skip_lines)}")
    if dialect.decimal_comma:
        options.append("decimal_separator=','")
    return options


@dataclass(frozen=True)
class Reject:
    line: int
    byte: int
    column: str | None
    error_type: str
    message: str


@dataclass(frozen=True)
class Plan:
    """Everything read_csv needs, so the parse and the marker scan read the same way."""

    path: Path
    dialect: Dialect
    has_header: bool
    names: tuple[str, ...]
    date_format: str | None
    timestamp_format: str | None
    max_line_bytes: int | None

    def day_month_swapped(self) -> Plan | None:
        """The plan with day and month trading places in its date formats, when they are
        written day/month or month/day (`%d/%m/%Y`); None for year-first formats."""
        swapped = [swap_day_month(f) for f in (self.date_format, self.timestamp_format)]
        if swapped == [self.date_format, self.timestamp_format]:
            return None
        return dataclasses.replace(self, date_format=swapped[0], timestamp_format=swapped[1])

    def read_csv(self, types: list[str], *, null_padding: bool, extra: list[str]) -> str:
        columns = ", ".join(
            f"{quote_literal(n)}: {quote_literal(t)}"
            for n, t in zip(self.names, types, strict=True)
        )
        options = [
            "auto_detect=false",
            f"header={str(self.has_header).lower()}",
            *_dialect_options(self.dialect, self.max_line_bytes),
            f"columns={{{columns}}}",
            "ignore_errors=true",
        ]
        if null_padding:
            # DuckDB's parallel reader cannot pad rows when values hold newlines.
            options += ["null_padding=true", "parallel=false"]
        if self.date_format:
            options.append(f"dateformat={quote_literal(self.date_format)}")
        if self.timestamp_format:
            options.append(f"timestampformat={quote_literal(self.timestamp_format)}")
        return f"read_csv({quote_literal(str(self.path))}, {', '.join(options + extra)})"


def _parse_once(
    con: duckdb.DuckDBPyConnection, plan: Plan, staging: str, types: list[str], padding: bool
) -> list[Reject]:
    tag = uuid.uuid4().hex
    rejects, scans = f"_signoff_rejects_{tag}", f"_signoff_scans_{tag}"
    extra = [
        f"nullstr={_null_markers(plan.dialect)}",
        "store_rejects=true",
        f"rejects_table={quote_literal(rejects)}",
        f"rejects_scan={quote_literal(scans)}",
    ]
    source = plan.read_csv(types, null_padding=padding, extra=extra)
    # Drop an earlier attempt first, so that two copies of the data never coexist.
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
    try:
        con.execute(f"CREATE TABLE {quote_ident(staging)} AS SELECT * FROM {source}")
        rows = con.execute(
            "SELECT line, line_byte_position, column_name, error_type, error_message "
            f"FROM {quote_ident(rejects)} ORDER BY line"
        ).fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects)}")
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(scans)}")
    return [Reject(int(r[0]), int(r[1]), r[2], str(r[3]), str(r[4])) for r in rows]


def _widened(dtype: str) -> str:
    """The next type to try when values do not fit: dates may still be timestamps."""
    return "TIMESTAMP" if dtype.upper() == "DATE" else "VARCHAR"


def day_month_order(fmt: str | None) -> str:
    """`day-first` for `%d/%m/%Y`-like formats, `month-first` for `%m/%d/%Y`, else ``."""
    if fmt is None or not _DAY_MONTH.match(fmt):
        return ""
    return "day-first" if fmt.startswith("%d") else "month-first"


def swap_day_month(fmt: str | None) -> str | None:
    """`%d/%m/%Y` <-> `%m/%d/%Y` (any separator, with or without a time); other formats,
    year-first ones among them, as they are."""
    if fmt is None or not day_month_order(fmt):
        return fmt
    return re.sub(r"%([dm])", lambda m: "%m" if m[1] == "d" else "%d", fmt)


@dataclass(frozen=True)
class Parsed:
    plan: Plan
    types: tuple[str, ...]
    padded: tuple[Reject, ...]
    skipped: tuple[Reject, ...]
    padding: bool


def _parse(con: duckdb.DuckDBPyConnection, plan: Plan, staging: str, types: list[str]) -> Parsed:
    """Parse until every value fits its column type and short rows are padded.

    Typing comes from a sample; a later value that does not fit widens that column and the
    file is parsed again (rare, and never silently drops the row). A day/month date that
    does not fit (`04/13/2023` under day-first) first swaps the order, which the data then
    proves. Short rows are padded with missing values, which needs DuckDB's
    single-threaded reader, so only then.
    """
    types = list(types)
    padding = False
    padded: list[Reject] = []
    swapped = plan.day_month_swapped()
    for _ in range(2 * len(types) + 3):
        rejects = _parse_once(con, plan, staging, types, padding)
        misfits = {r.column for r in rejects if r.error_type == "CAST"} & set(plan.names)
        temporal = {n for n, t in zip(plan.names, types, strict=True) if t in _DATED}
        if misfits & temporal and swapped is not None:
            plan, swapped = swapped, None
            continue
        if misfits:
            for i, name in enumerate(plan.names):
                if name in misfits:
                    types[i] = _widened(types[i])
            continue
        short = [r for r in rejects if r.error_type == "MISSING COLUMNS"]
        if short and not padding:
            padding, padded = True, short
            continue
        return Parsed(plan, tuple(types), tuple(padded), tuple(rejects), padding)
    raise LoadError("The file could not be parsed into consistent column types.")


def is_integer_type(dtype: str) -> bool:
    return dtype.upper() in _INTEGER_TYPES


@dataclass(frozen=True)
class _Narrowing:
    """Read a column as a wider type, then narrow it back when every value allows.

    `fits` and `exact` are SQL aggregates over `{c}`; when `exact` fails, the wider type
    cannot hold the values exactly and the column is read again as text.
    """

    read_as: str
    narrow_to: str
    fits: str
    exact: str = "true"


# DuckDB casts "1.5" to the integer 2 and "2024-01-01 10:00" to the date 2024-01-01 without
# a word, so a value beyond the sampled rows would be changed silently. Doubles hold whole
# numbers exactly up to 2**53; an infinity keeps the column a double.
_WHOLE_NUMBERS = _Narrowing(
    "DOUBLE",
    "BIGINT",
    "bool_and({c} = trunc({c}) AND NOT isinf({c}))",
    "max(CASE WHEN isinf({c}) THEN 0 ELSE abs({c}) END) < 9007199254740992",
)
_CALENDAR_DAYS = _Narrowing(
    "TIMESTAMP", "DATE", "bool_and({c} = CAST(CAST({c} AS DATE) AS TIMESTAMP))"
)


def _narrowing(dtype: str, plan: Plan) -> _Narrowing | None:
    if is_integer_type(dtype):
        return _WHOLE_NUMBERS
    iso_dates = plan.date_format in (None, "%Y-%m-%d") and plan.timestamp_format is None
    return _CALENDAR_DAYS if dtype.upper() == "DATE" and iso_dates else None


def parse_exact(
    con: duckdb.DuckDBPyConnection, plan: Plan, staging: str, sniffed: list[str]
) -> Parsed:
    """Parse so that no value is rounded or truncated to fit a type guessed from a sample."""
    rules = [_narrowing(t, plan) for t in sniffed]
    types = [rule.read_as if rule else t for rule, t in zip(rules, sniffed, strict=True)]
    while True:
        parsed = _parse(con, plan, staging, types)
        plan = parsed.plan
        candidates = [
            (i, rule)
            for i, (rule, t) in enumerate(zip(rules, parsed.types, strict=True))
            if rule is not None and t == rule.read_as
        ]
        if not candidates:
            return parsed
        checks = aggregate_row(
            con,
            quote_ident(staging),
            [
                f"coalesce({sql}, true)".format(c=quote_ident(plan.names[i]))
                for i, rule in candidates
                for sql in (rule.fits, rule.exact)
            ],
        )
        inexact = [i for k, (i, _) in enumerate(candidates) if not checks[2 * k + 1]]
        if inexact:
            types = list(parsed.types)
            for i in inexact:
                types[i] = "VARCHAR"
            continue
        final = list(parsed.types)
        for k, (i, rule) in enumerate(candidates):
            if checks[2 * k]:
                final[i] = rule.narrow_to
        if final != list(parsed.types):
            _retype(con, staging, plan.names, parsed.types, final)
        return dataclasses.replace(parsed, types=tuple(final))


def _retype(
    con: duckdb.DuckDBPyConnection,
    table: str,
    names: tuple[str, ...],
    old: tuple[str, ...],
    new: list[str],
) -> None:
    """Cast the columns whose type changes. A few are altered one by one (each `ALTER ...
    TYPE` rewrites its column: 1.4 s less than rewriting the 200 MB bench table); many in one
    rewrite of the table, as each `ALTER` costs DuckDB time in proportion to the table's
    width (2 000 narrowed columns took minutes)."""
    changed = [(n, t) for n, o, t in zip(names, old, new, strict=True) if t != o]
    if len(changed) <= _ALTERS_AT_MOST:
        for name, dtype in changed:
            con.execute(f"ALTER TABLE {quote_ident(table)} ALTER {quote_ident(name)} TYPE {dtype}")
        return
    columns = ", ".join(
        f"CAST({quote_ident(n)} AS {t}) AS {quote_ident(n)}" if t != o else quote_ident(n)
        for n, o, t in zip(names, old, new, strict=True)
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(table)} AS SELECT {columns} "
        f"FROM {quote_ident(table)}"
    )


def markers_seen(
    con: duckdb.DuckDBPyConnection, plan: Plan, staging: str, padding: bool
) -> tuple[str, ...]:
    """Which missing-value markers the file holds, exactly.

    Markers became NULL in the parse, so only columns with NULLs can hold them; those
    columns are read again as raw text (one projected DuckDB scan, skipped when no
    column has a missing value).
    """
    counts = aggregate_row(
        con, quote_ident(staging), [f"count(*) - count({quote_ident(n)})" for n in plan.names]
    )
    with_nulls = [n for n, c in zip(plan.names, counts, strict=True) if c]
    if not with_nulls:
        return ()
    markers = ", ".join(quote_literal(m) for m in MISSING_MARKERS)
    source = plan.read_csv(
        ["VARCHAR"] * len(plan.names),
        null_padding=padding,
        # \x01 alone is no marker, so reading it as NULL changes nothing here.
        extra=[f"nullstr={quote_literal(chr(1))}", "allow_quoted_nulls=false"],
    )
    lists = (
        con.execute(
            "SELECT "
            + ", ".join(
                f"list(DISTINCT {quote_ident(n)}) FILTER (WHERE {quote_ident(n)} IN ({markers}))"
                for n in with_nulls
            )
            + f" FROM {source}"
        ).fetchone()
        or ()
    )
    found = {m for values in lists if values for m in values}
    return tuple(m for m in MISSING_MARKERS if m in found)
