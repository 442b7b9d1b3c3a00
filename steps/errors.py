"""Every refusal signoff can give a person, in one place.

Why one module: a cell, the headless entry point and the upload route all need to tell
"a sentence meant for the person" from "a bug". They catch `SignoffError` and nothing else
by name; each typed error below subclasses it, so a new kind of refusal is added here and
every caller already handles it. `str()` of any of them is that one sentence.
"""

from __future__ import annotations


class SignoffError(Exception):
    """A refusal meant for a person: `str()` is one sentence saying what happened."""


class SettingsError(SignoffError):
    """An environment variable whose value cannot be used (said once, at start-up)."""


# --- steps: loading and analysing ------------------------------------------------------


class LoadError(SignoffError):
    """A file that cannot be loaded."""


class TranscodeError(SignoffError):
    """Bytes the chosen encoding cannot decode, at `line` (1-based) holding `byte`."""

    def __init__(self, line: int, byte: int) -> None:
        super().__init__(f"line {line} holds the byte 0x{byte:02X}, which cannot be decoded")
        self.line = line
        self.byte = byte


class QualityError(SignoffError):
    """Inputs to Step 2 that do not fit together."""


class CleaningError(SignoffError):
    """A cleaning plan that cannot be applied to the data."""


class StatisticsError(SignoffError):
    """Bad input for Step 3."""


class StepTimeoutError(SignoffError):
    """A step ran past its time budget and was stopped (`SIGNOFF_STEP_TIMEOUT`)."""


class OutlierError(SignoffError):
    """Outlier parameters that cannot work."""


class TargetError(SignoffError):
    """A column that cannot be a modelling target."""


class FeatureError(SignoffError):
    """A feature list that cannot be used (unknown column, or nothing left to learn from)."""


class SqlError(SignoffError):
    """A query that was refused or failed."""


class ChartError(SignoffError):
    """Inputs that cannot describe a figure."""


class ChartBuilderError(ChartError):
    """A column-kind mapping the chart builder cannot use."""


class ReportError(SignoffError):
    """A step result handed to the report lacks what the report format promises."""


class ExportError(SignoffError):
    """An export cannot be built from what it was given."""


# --- review: gates, queue, workspace, trail --------------------------------------------


class GateError(SignoffError):
    """A decision or gate request refused."""


class RequestError(SignoffError):
    """A review request refused."""


class AnalysisError(SignoffError):
    """An analysis registry operation refused."""


class AccessError(AnalysisError):
    """An analysis another person owns, opened or decided on without an invitation from the
    review queue."""


class IdentityError(SignoffError):
    """A users file that cannot be used, or a request that does not say who is asking when
    the server is meant to know."""


class WorkspaceError(SignoffError):
    """A workspace operation refused."""


class SourceTooLarge(WorkspaceError):
    """A source refused while arriving because it passed the size limit."""


class UploadTooSlow(WorkspaceError):
    """An upload whose body stopped arriving, or arrived too slowly to be a real transfer."""


class QuotaExceeded(WorkspaceError):
    """An upload over the person's daily allowance of bytes or files."""


class AuditError(SignoffError):
    """An audit operation refused."""


class AuditKeyError(AuditError):
    """An audit key that is missing, unreadable, too short or not the one the trail was
    sealed with."""


class StorageError(SignoffError):
    """A review database that cannot be opened: a bad location, or one that cannot be
    reached (said once, at start-up, with any password masked)."""


class StorageUnavailable(StorageError):
    """The review database stopped answering mid-session and retries did not bring it back;
    the action that raised it was not recorded."""


# --- ai ----------------------------------------------------------------------------------


class TooManyRowsError(SignoffError):
    """The caller opted in to sharing more rows than a prompt may carry."""


class PrivacyError(SignoffError):
    """Something the privacy mode forbids sending to the AI (rows, in strict mode)."""


class TriageError(SignoffError):
    """An alert triage that names an alert, a column or a status the analysis does not have."""
