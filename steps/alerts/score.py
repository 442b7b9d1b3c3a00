"""The quality score once the reviewer's triage is in force.

Why: a dismissed alert is the reviewer saying "this is not a defect here" (the missing
values of an optional field, the duplicates of a log that repeats by design). Its figure
then stops lowering the score, and the score's notes say which alerts were left out, so
the number and its reason travel together. Zero-inflated columns count their non-zero
outliers only (the zeros are the finding, not invalid values).
"""

from __future__ import annotations

import dataclasses

from steps.alerts.triage import AlertTriage
from steps.alerts.types import Alert
from steps.overview import Overview
from steps.quality import WEIGHTS, Quality


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else 1 - part / whole


def triaged_quality(
    overview: Overview, quality: Quality, alerts: tuple[Alert, ...], triage: AlertTriage
) -> Quality:
    """Step 2 with the score recomputed: dismissed missing / duplicates / type alerts left
    out, zero-inflated columns' outliers on the non-zero part. Unchanged when neither
    applies."""
    dismissed = triage.dismissed()
    gone = [a for a in alerts if a.key in dismissed]
    inflated = {a.columns[0]: a for a in alerts if a.type == "zero_inflated"}
    if not gone and not inflated:
        return quality
    missing_cols = {a.columns[0] for a in gone if a.type == "missing"}
    typed_cols = {a.columns[0] for a in gone if a.type in ("numbers_as_text", "dates_as_text")}
    drop_duplicates = any(a.type == "duplicates" for a in gone)
    cells = overview.n_rows * overview.n_columns
    missing = sum(n for c, n in overview.missing_by_column.items() if c not in missing_cols)
    all_missing = sum(overview.missing_by_column.values())
    type_count = sum(i.count for i in quality.type_issues if i.column not in typed_cols)
    outliers = {
        name: int(inflated[name].figures["outliers_nonzero"] or 0) if name in inflated else c.iqr
        for name, c in quality.outliers.items()
    }
    numeric = sum(c.count for c in overview.columns if c.name in quality.outliers)
    components = {
        "completeness": _ratio(missing, cells),
        "uniqueness": 1.0 if drop_duplicates else _ratio(quality.duplicate_rows, quality.n_rows),
        "consistency": _ratio(type_count, cells - all_missing),
        "validity": _ratio(sum(outliers.values()), numeric) if numeric else 1.0,
    }
    if quality.quality_score is None:
        return quality
    score = 100 * sum(WEIGHTS[k] * (1.0 if v is None else v) for k, v in components.items())
    notes = list(quality.notes)
    if inflated:
        names = ", ".join(sorted(inflated))
        notes.append(
            f"Outliers of zero-inflated columns ({names}) counted on their non-zero values."
        )
    if gone:
        listed = ", ".join(a.key for a in gone)
        notes.append(f"Alerts dismissed at gate 1 are left out of the score: {listed}.")
    return dataclasses.replace(
        quality,
        quality_score=score,
        score_components=components,
        notes=tuple(dict.fromkeys(notes)),
    )
