"""Every export is a view of the same report (plus the data it describes, for Parquet).

The formats are registered in `FORMATS`, one module each; `ExportsOnDemand` builds any of
them on first request (the app offers every download without building one) and the
headless run writes them all with the same names. Nothing here decides whether an export
may leave the app: that is gate 5's job, and the report's `status` says `draft` until it
is approved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import duckdb

from steps.errors import ExportError
from steps.exports.bundle import BUNDLE_AUDIT, BUNDLE_MANIFEST, BUNDLE_REPORT, AuditExtract, bundle
from steps.exports.csv_metrics import csv_metrics
from steps.exports.files import ExportFile, describe_export, json_report
from steps.exports.html import html_report
from steps.exports.parquet import parquet_bytes
from steps.exports.txt import txt_summary
from steps.report import Report
from steps.text import safe_filename


@dataclass(frozen=True)
class ExportContext:
    """What a format may draw on: the report, its figures, and the data it describes."""

    report: Report
    figures: Mapping[str, Any] = field(default_factory=dict)
    con: duckdb.DuckDBPyConnection | None = None
    table: str | None = None


@dataclass(frozen=True)
class Format:
    """One export: the file-name suffix after the source's stem, and how to build it."""

    suffix: str
    build: Callable[[ExportContext], bytes]
    needs_data: bool = False


def _data_parquet(context: ExportContext) -> bytes:
    if context.con is None or context.table is None:
        raise ExportError("The Parquet export needs the data it describes.")
    return parquet_bytes(context.con, context.table)


FORMATS: tuple[Format, ...] = (
    Format("-report.json", lambda c: json_report(c.report)),
    Format("-metrics.csv", lambda c: csv_metrics(c.report)),
    Format("-summary.txt", lambda c: txt_summary(c.report)),
    Format("-report.html", lambda c: html_report(c.report, c.figures)),
    Format("-cleaned.parquet", _data_parquet, needs_data=True),
)
BUNDLE_SUFFIX = "-bundle.zip"


class ExportsOnDemand:
    """The exports of one report, each built the first time it is asked for.

    `on_export` hears of each file once, when it is built (name, sha256, size), so the
    caller can record it; the bundle builds the files it packs, so those are recorded too.
    `audit` is read when the bundle is built, so it holds every event so far. `check` runs
    before every file is handed out, built or not: the caller's test that what the report
    rests on still holds (its approvals, say); when it raises, nothing is built or recorded.
    """

    def __init__(
        self,
        context: ExportContext,
        *,
        audit: Callable[[], AuditExtract] = AuditExtract,
        on_export: Callable[[ExportFile], None] | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> None:
        stem = safe_filename(PurePath(context.report.record.source.name).stem)
        has_data = context.con is not None and context.table is not None
        self._builders: dict[str, Callable[[], bytes]] = {
            safe_filename(stem, f.suffix): functools.partial(f.build, context)
            for f in FORMATS
            if has_data or not f.needs_data
        }
        self.report_name = safe_filename(stem, FORMATS[0].suffix)
        self.bundle_name = safe_filename(stem, BUNDLE_SUFFIX)
        self._builders[self.bundle_name] = self._bundle
        self._report = context.report
        self._audit = audit
        self._on_export = on_export
        self._check = check
        self._built: dict[str, bytes] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._builders)

    def build(self, name: str) -> bytes:
        """The file's bytes, built once, if `check` passes now; unknown names are refused."""
        if name not in self._builders:
            raise ExportError(f"There is no export called {name!r}.")
        self._check()
        return self._build(name)

    def _build(self, name: str) -> bytes:
        if name not in self._built:
            data = self._builders[name]()
            self._built[name] = data
            if self._on_export is not None:
                self._on_export(describe_export(name, data))
        return self._built[name]

    def _bundle(self) -> bytes:
        packed = {
            n: self._build(n) for n in self.names if n not in (self.report_name, self.bundle_name)
        }
        return bundle(self._report, files=packed, audit=self._audit())


def export_files(context: ExportContext, *, audit: AuditExtract | None = None) -> dict[str, bytes]:
    """Every export by file name, built by the same builder as the app's downloads, so
    `python -m steps --out DIR` writes the same files under the same names."""
    exports = ExportsOnDemand(context, audit=lambda: audit or AuditExtract())
    return {name: exports.build(name) for name in exports.names}


__all__ = [
    "BUNDLE_AUDIT",
    "BUNDLE_MANIFEST",
    "BUNDLE_REPORT",
    "FORMATS",
    "AuditExtract",
    "ExportContext",
    "ExportFile",
    "ExportsOnDemand",
    "Format",
    "describe_export",
    "export_files",
    "json_report",
]
