"""What a load produced, and the few phrases its sentences share.

The report is part of the analysis record (`docs/report.md`, `source`): every field is
JSON-safe and says something a person can check against the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from steps.results import ToDict

PREAMBLE_LISTED = 5

MIB = 1024 * 1024
DEFAULT_MAX_MB = 200


@dataclass(frozen=True)
class ReadOptions(ToDict):
    """How to read a file, where the person says instead of the loader guessing.

    `None` means "detect": the delimiter from the head, the lines to skip from a preamble
    (title, comment or metadata lines above the header), the header from the types.
    `skip_lines` counts physical lines of a text file, rows of a sheet. `sheet` names a
    workbook's sheet (default: the first that holds data). The options are part of how a
    table was read, so the report carries them.
    """

    delimiter: str | None = None
    skip_lines: int | None = None
    header: bool | None = None
    sheet: str | None = None


CHOSEN_NOTHING = ReadOptions()


@dataclass(frozen=True)
class LoadLimits:
    """Bounds checked before any parsing, so a hostile file is refused in one sentence
    instead of holding a shared server's memory or time (issue 19, 20).

    `max_columns` (CSV and workbooks): 10 000 columns take half a minute to load and run
    Steps 1-2, 50 000 more than five minutes (bench/README.md). `max_line_bytes` (text
    files): DuckDB holds a whole line at once, and past 10 MB the steps run out of memory;
    lines are measured to the chunk the file is read in (1 MiB), so a limit below that acts
    as 1 MiB. `max_workbook_bytes`: what a zip workbook's sheets take in memory once a
    reader has expanded them (every cell of each used range, and the text of a shared string
    each time a cell refers to it), which a 7 KB file can make gigabytes. `max_seconds`:
    how long DuckDB may parse (`steps.engine.Budget`; the settings give it the steps' budget,
    `SIGNOFF_STEP_TIMEOUT`); None, the library's default, leaves the time unbounded.
    """

    max_columns: int = 20_000
    max_line_bytes: int = 10 * MIB
    max_workbook_bytes: int = 1024 * MIB
    max_seconds: float | None = None


DEFAULT_LIMITS = LoadLimits()


@dataclass(frozen=True)
class Source:
    """One file to load, and how: what `load` hands to the loader of its kind."""

    path: Path
    name: str
    limit: int
    options: ReadOptions
    limits: LoadLimits

    @property
    def shown(self) -> str:
        return shown_name(self.name)


@dataclass(frozen=True)
class SkippedRow(ToDict):
    line: int
    reason: str


@dataclass(frozen=True)
class DateOrder(ToDict):
    """How a column of day/month dates (`01/02/2023`) was read.

    `order` is `day-first` or `month-first`; `proven` says whether some value proves it (a
    day above 12), or whether the order was assumed because every value reads both ways.
    """

    column: str
    order: str
    proven: bool


@dataclass(frozen=True)
class Body(ToDict):
    """What a loader of one kind of file found: the report, less what `load` itself knows."""

    sha256: str
    encoding: str
    delimiter: str | None
    quote: str | None
    has_header: bool
    sheet: str | None
    n_columns: int
    skipped: tuple[SkippedRow, ...]
    rows_skipped: int
    missing_markers_seen: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]
    lines_skipped: int = 0
    preamble: tuple[str, ...] = ()
    infinities: tuple[tuple[str, int], ...] = ()
    date_orders: tuple[DateOrder, ...] = ()
    sheets: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LoadReport(Body):
    """What was loaded and how (`docs/report.md`, `source`).

    `lines_skipped`: lines (rows of a sheet) above the header that were not read, a
    detected preamble or `ReadOptions.skip_lines`; `preamble`: the first of them, exactly
    (at most `PREAMBLE_LISTED`). `infinities`: `[column, count]` for DOUBLE columns holding
    `inf`/`-inf`/`Infinity`. `date_orders`: one `DateOrder` per column of day/month dates.
    `sheets`: every sheet of a workbook, in order (for a form that lets the person pick one).
    `read_options`: what the person chose (`ReadOptions`; all null when nothing was).
    """

    name: str
    bytes: int
    file_type: str
    n_rows: int
    read_options: ReadOptions = CHOSEN_NOTHING


@dataclass(frozen=True)
class Loaded:
    con: duckdb.DuckDBPyConnection
    table: str
    report: LoadReport


def shown_name(name: str) -> str:
    """A file name fit for a one-line message (no control characters, not too long)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= 80 else clean[:77] + "..."


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB ({n:,} bytes)"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def were(n: int) -> str:
    return "was" if n == 1 else "were"
