"""Where an analysis's data comes from, and opening it: loaded once, kept once, registered.

The bytes of an upload are written once: into the workspace's staging file, which the
loader reads in place and which is then moved under its SHA-256 — not written to a
temporary file for the loader and again for the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flow.choices import choices_of, keep_read_options
from review.access import check_access
from review.analyses import analysis_id_for, analysis_source, get_analysis, register_analysis
from review.audit import AuditTrail
from review.uploads import check_allowance, record_upload, uploaded_by
from review.workspace import IncomingSource, keep_source, streamed_source
from steps.errors import SignoffError
from steps.load import CHOSEN_NOTHING, Loaded, ReadOptions, check_size, load
from steps.settings import Settings

# Delimiters a person names rather than types (the CLI's `--delimiter tab`, the app's form).
DELIMITER_NAMES = {"tab": "\t", "space": " "}
UPLOAD_PATH = "/upload"
# The key under which `python -m server` tells the notebook about its upload route: marimo
# hands a middleware's `scope["meta"]` to the notebook as `mo.app_meta().request.meta`.
UPLOAD_META = "signoff_upload_path"


@dataclass(frozen=True)
class Source:
    """A file handed over: a bundled sample, a path, an upload's bytes, or a kept source
    reopened from the review queue (`awaiting` names the gate the reviewer was asked for,
    `analysis_id` the analysis the request is about: someone else's, when people own theirs).
    """

    name: str
    data: bytes | Path
    awaiting: str | None = None
    analysis_id: str | None = None


@dataclass(frozen=True)
class Opened:
    """A loaded source, kept in the workspace and registered as an analysis."""

    analysis_id: str
    loaded: Loaded
    source: Source


def load_with(path: Path, settings: Settings, options: ReadOptions, name: str) -> Loaded:
    """The loader with the bounds the settings give: the one call both producers make."""
    return load(
        path,
        name=name,
        limit=settings.max_bytes,
        memory_limit=settings.duckdb_memory,
        threads=settings.duckdb_threads,
        options=options,
        limits=settings.load_limits,
    )


def load_and_keep(
    source: Source, settings: Settings, options: ReadOptions = CHOSEN_NOTHING
) -> tuple[Loaded, Path]:
    """Load the source and keep its bytes in the workspace so a reviewer can reopen it;
    raises the loader's `LoadError` (nothing is kept then)."""
    if isinstance(source.data, Path):
        loaded = load_with(source.data, settings, options, source.name)
        return loaded, keep_source(source.data, source.name, root=settings.workspace)
    check_size(len(source.data), settings.max_bytes, source.name)
    with IncomingSource(source.name, root=settings.workspace) as incoming:
        incoming.write(bytes(source.data))
        loaded = load_with(incoming.staged(), settings, options, source.name)
        return loaded, incoming.keep()


def open_source(
    source: Source,
    settings: Settings,
    trail: AuditTrail,
    options: ReadOptions | None = None,
    *,
    person: str | None = None,
) -> Opened:
    """Load, keep and register the source; the first load of an analysis is recorded.

    `options` is how the person chose to read the file just now; without them the file is
    read as it was last chosen for this analysis (detection, until someone chooses).
    `person` is who is opening it when the server knows (`review.identity.Identity.name`):
    the analysis is then theirs (`review.analyses.analysis_id_for(sha256, person)`), and a
    source reopened from the queue for someone else's analysis needs an invitation
    (`review.access`). A refusal raises before anything is written. Reopening an analysis
    (a reload, the queue, another session) writes nothing: only decisions and choices
    change the record. In hosted mode a file uploaded through the page is refused past the
    person's allowance (`QuotaExceeded`) and recorded as an upload once kept.
    """
    if source.analysis_id is not None:
        check_access(trail, source.analysis_id, person)
    # On a shared server a file dropped on the page counts towards the uploader's 24-hour
    # allowance as one streamed to `python -m server` does; reading it again with other
    # options is the same upload.
    data = source.data
    upload = None if isinstance(data, Path) or options is not None or not settings.hosted else data
    if upload is not None:
        check_allowance(trail, person, len(upload), settings.upload)
    loaded, kept = load_and_keep(source, settings, options or CHOSEN_NOTHING)
    if upload is not None:
        sha256 = loaded.report.sha256
        record_upload(trail, sha256=sha256, name=source.name, size=len(upload), person=person)
    analysis_id = source.analysis_id or analysis_id_for(loaded.report.sha256, person)
    new = get_analysis(trail, analysis_id) is None
    register_analysis(
        trail,
        analysis_id=analysis_id,
        source_sha256=loaded.report.sha256,
        source_name=loaded.report.name,
        owner=person,
    )
    if new:
        trail.append("load", loaded.report.to_dict(), analysis_id=analysis_id, actor=person)
    if options is not None:
        keep_read_options(trail, analysis_id, options)
    elif (chosen := choices_of(trail, analysis_id).read_options) != CHOSEN_NOTHING:
        loaded.con.close()
        loaded = load_with(kept, settings, chosen, source.name)
    return Opened(analysis_id, loaded, source)


def source_at(
    address: Mapping[str, object], settings: Settings, trail: AuditTrail, person: str | None
) -> Source | None:
    """The source a page address names, or None: `?analysis=<id>` reopens an analysis (a
    reload, a link from a colleague: opening it checks they may), `?upload=<sha256>` opens a
    file streamed to `python -m server` — when the server knows people, only for the person
    who sent it. Anything else there is ignored: the address is typed by a person."""
    analysis_id, upload = address.get("analysis"), address.get("upload")
    if isinstance(analysis_id, str):
        try:
            analysis, path = analysis_source(trail, analysis_id, root=settings.workspace)
        except SignoffError:
            return None
        return Source(analysis.source_name, path, analysis_id=analysis_id)
    streamed = streamed_source(upload if isinstance(upload, str) else None, root=settings.workspace)
    if streamed is None or not isinstance(upload, str):
        return None
    if settings.identity.source is not None and not uploaded_by(trail, upload, person):
        return None
    return Source(streamed.name, streamed)
