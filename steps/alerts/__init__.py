"""Alerts: what a reviewer should notice about the data, typed, with thresholds, to triage.

`alerts_for(inputs, thresholds)` runs the catalog (`steps.alerts.checks`, one function per
alert type, registered in `steps.alerts.catalog`) over figures Steps 1–3 computed already;
`figures.nonzero_outliers` is the one figure added (zero-inflated columns only). The
triage a reviewer gives each alert at gate 1 is `steps.alerts.triage`.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from steps.alerts import checks
from steps.alerts.catalog import alert_types, run_checks
from steps.alerts.figures import nonzero_outliers, zero_inflated_columns
from steps.alerts.types import Alert, Inputs, Thresholds, alert_key, time_columns
from steps.load import LoadReport
from steps.overview import Overview
from steps.quality import Quality
from steps.statistics import Statistics

STEP3 = checks.STEP3


def gate_one_inputs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    overview: Overview,
    quality: Quality,
    load: LoadReport | None,
    thresholds: Thresholds,
) -> Inputs:
    """What the Steps 1–2 alerts read, the non-zero outliers of zero-inflated columns
    counted (at Step 2's IQR multiplier)."""
    names = zero_inflated_columns(overview, quality, thresholds.zero_inflated)
    iqr = next((r for r in quality.outlier_reports if r.method == "iqr"), None)
    multiplier = float((iqr.params or {}).get("iqr_multiplier", 1.5)) if iqr else 1.5
    found = nonzero_outliers(con, table, overview, names, multiplier)
    return Inputs(overview, quality, load, None, found)


def alerts_for(inputs: Inputs, thresholds: Thresholds) -> tuple[Alert, ...]:
    """Every alert the inputs allow: Step 3's types only once statistics are given."""
    gate_one = tuple(t for t in alert_types() if t not in STEP3)
    only = None if inputs.statistics is not None else gate_one
    return run_checks(inputs, thresholds, only)


def step3_alerts(
    inputs: Inputs, statistics: Statistics, thresholds: Thresholds
) -> tuple[Alert, ...]:
    """The alerts only Step 3's figures allow (skewness, correlations and associations)."""
    return run_checks(replace(inputs, statistics=statistics), thresholds, STEP3)


__all__ = [
    "STEP3",
    "Alert",
    "Inputs",
    "Thresholds",
    "alert_key",
    "alert_types",
    "alerts_for",
    "gate_one_inputs",
    "step3_alerts",
    "time_columns",
]
