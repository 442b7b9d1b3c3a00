"""Where an analysis's data comes from, and opening it: loaded once, kept once, registered.

The bytes of an upload are written once: into the workspace's staging file, which the
loader reads in place and which is then moved under its SHA-256 — not written to a
temporary file for the loader and again for the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from review.access import check_access
from review.analyses import analysis_id_for, get_analysis, register_analysis
from review.audit import AuditTrail
from review.workspace import IncomingSource, keep_source
from steps.load import Loaded, check_size, load
from steps.settings import Settings

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


def load_and_keep(source: Source, settings: Settings) -> tuple[Loaded, Path]:
    """Load the source and keep its bytes in the workspace so a reviewer can reopen it;
    raises the loader's `LoadError` (nothing is kept then)."""

    def load_from(path: Path) -> Loaded:
        return load(
            path, name=source.name, limit=settings.max_bytes, memory_limit=settings.duckdb_memory
        )

    if isinstance(source.data, Path):
        loaded = load_from(source.data)
        return loaded, keep_source(source.data, source.name, root=settings.workspace)
    check_size(len(source.data), settings.max_bytes, source.name)
    with IncomingSource(source.name, root=settings.workspace) as incoming:
        incoming.write(bytes(source.data))
        loaded = load_from(incoming.staged())
        return loaded, incoming.keep()


def open_source(
    source: Source, settings: Settings, trail: AuditTrail, *, person: str | None = None
) -> Opened:
    """Load, keep and register the source; the first load of an analysis is recorded.

    `person` is who is opening it when the server knows (`review.identity.Identity.name`):
    the analysis is then theirs (`review.analyses.analysis_id_for(sha256, person)`), and a
    source reopened from the queue for someone else's analysis needs an invitation
    (`review.access`). A refusal raises before anything is written. Reopening an analysis
    (a reload, the queue, another session) writes nothing: only decisions change the record.
    """
    if source.analysis_id is not None:
        check_access(trail, source.analysis_id, person)
    loaded, _kept = load_and_keep(source, settings)
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
    return Opened(analysis_id, loaded, source)
