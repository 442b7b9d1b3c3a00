"""The notebook's controls and the small views around them, built here so that app.py's
cells only choose, call and show.

marimo reacts to a control only when a cell binds it to a global name, so each builder
returns the controls themselves (the cell unpacks them) and a separate function lays them
out. Every data-derived string is made inert (`esc`) before `mo.md` renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import duckdb
import marimo as mo

from ai.prompts import privacy_notice
from ai.types import Advisor
from flow.choices import Choices
from flow.views import anchor, blank_if_missing, esc, failure, heading, shown_download
from steps.chart_builder import options as chart_options
from steps.engine import quote_ident
from steps.exports import ExportsOnDemand
from steps.record import Parameters
from steps.settings import Settings
from steps.sql import SqlError, run_readonly_sql

NO_TARGET = "(no target)"
SQL_ROWS = 1000
_OUTLIER_METHODS = {"IQR": "iqr", "Z-score": "zscore", "Isolation Forest": "isolation_forest"}


def share_rows_box(advisor: Advisor, settings: Settings) -> mo.ui.checkbox:
    """Whether sample rows may reach the AI: off, and locked off where nothing would read
    them (the offline advisor) or the privacy mode forbids them."""
    return mo.ui.checkbox(
        label="Share up to 20 sample rows with the AI (off: only aggregates are sent)",
        disabled=advisor.name == "offline" or settings.ai.privacy == "strict",
    )


def intro(advisor: Advisor, settings: Settings, share_rows: mo.ui.checkbox) -> mo.Html:
    """The page's head: what signoff is, who advises and what it is sent."""
    mode = "**Hosted (read-only) mode.** " if settings.hosted else ""
    privacy = privacy_notice(settings.ai.privacy)
    return mo.vstack(
        [
            mo.md(
                "# signoff\n\nGuided data analysis: each step is signed off before the next "
                "one builds on it. Every decision lands in a tamper-evident audit trail."
            ),
            mo.callout(mo.md(f"{mode}{esc(advisor.description)} {esc(privacy)}"), kind="neutral"),
            share_rows,
        ]
    )


def step3_controls(kept: Parameters) -> tuple[Any, Any, Any, Any, Any]:
    """Threshold, correlation, outlier method, IQR multiplier and |z|, set to the choices
    kept with the analysis, so a reopened one shows what was seen."""
    threshold = mo.ui.slider(
        0.5,
        1.0,
        step=0.05,
        value=kept.threshold,
        label="Strong correlation: |r| ≥",
        show_value=True,
    )
    corr_method = mo.ui.dropdown(
        {"Pearson": "pearson", "Spearman": "spearman"},
        value=kept.correlation.title(),
        label="Correlation",
    )
    outlier_method = mo.ui.dropdown(
        _OUTLIER_METHODS,
        value=next(k for k, v in _OUTLIER_METHODS.items() if v == kept.outlier_method),
        label="Outlier method",
    )
    iqr_multiplier = mo.ui.number(
        0.5, 10.0, step=0.5, value=kept.iqr_multiplier, label="IQR multiplier"
    )
    z_threshold = mo.ui.number(1.0, 10.0, step=0.5, value=kept.z_threshold, label="|z| threshold")
    return threshold, corr_method, outlier_method, iqr_multiplier, z_threshold


def step3_head(table: str, controls: Sequence[Any]) -> mo.Html:
    """Step 3's heading, the table it runs on and its controls (as `step3_controls` gives)."""
    threshold, corr_method, outlier_method, iqr_multiplier, z_threshold = controls
    return mo.vstack(
        [
            heading("statistics", "Step 3 · Statistics"),
            mo.md(f"On <code>{esc(table)}</code>."),
            mo.hstack([threshold, corr_method], justify="start", gap=2),
            mo.hstack([outlier_method, iqr_multiplier, z_threshold], justify="start", gap=2),
        ]
    )


def model_form(names: Sequence[str], kept: Choices) -> mo.ui.form:
    """The target and the features left out, pre-set to the kept choices that still name
    a column."""
    return (
        mo.md(
            f'<span id="{anchor("model")}"></span>\n\n'
            "## Model baseline (optional)\n\n{target}\n\n{exclude}"
        )
        .batch(
            target=mo.ui.dropdown(
                [NO_TARGET, *names],
                value=kept.target if kept.target in names else NO_TARGET,
                label="Target column",
            ),
            exclude=mo.ui.multiselect(
                names, value=[n for n in kept.exclude if n in names], label="Leave out features"
            ),
        )
        .form(submit_button_label="Train baselines", bordered=True)
    )


def chart_axes(kind: str, kinds: dict[str, str]) -> tuple[Any, Any, Any]:
    """The chart builder's x, y and colour, offering only the columns that suit `kind`."""
    offered = chart_options(kind, kinds)
    x = next(iter(offered.x), None)
    chart_x = mo.ui.dropdown(list(offered.x), value=x, label="x")
    chart_y = mo.ui.dropdown(
        list(offered.y), value=next((c for c in offered.y if c != x), None), label="y"
    )
    return chart_x, chart_y, mo.ui.dropdown(list(offered.color), label="colour")


def chart_head(kind: Any, x: Any, y: Any, color: Any) -> mo.Html:
    """The chart builder's heading and controls (no y for the charts of one column, whose
    y offers nothing)."""
    return mo.vstack(
        [
            mo.md("## Chart builder\n\nOnly columns that suit the chart are offered."),
            mo.hstack([kind, x, *([y] if y.options else []), color], justify="start", gap=1),
        ]
    )


def sql_form(table: str) -> mo.ui.form:
    return mo.ui.code_editor(
        value=f"SELECT *\nFROM {quote_ident(table)}\nLIMIT 100", language="sql", min_height=80
    ).form(submit_button_label="Run query")


def sql_head(table: str, form: mo.ui.form) -> mo.Html:
    return mo.vstack(
        [
            mo.md(
                "## Custom analysis (SQL)\n\nOne read-only `SELECT` over the loaded table "
                f"(<code>{esc(table)}</code>); at most 1 000 rows reach the browser."
            ),
            form,
        ]
    )


def sql_result(con: duckdb.DuckDBPyConnection, query: str, settings: Settings) -> mo.Html:
    """The query's rows (at most `SQL_ROWS`), or the sentence saying why there are none."""
    try:
        result = run_readonly_sql(
            con,
            query,
            limit=SQL_ROWS,
            timeout_s=settings.sql_timeout_s,
            memory_bytes=settings.sql_memory_bytes,
        )
    except SqlError as error:
        return failure(str(error))
    return mo.vstack(
        [
            mo.md(
                f"{result.n_rows_returned:,} row(s) in {result.elapsed_ms:,.0f} ms"
                + (" — truncated at 1 000" if result.truncated else "")
            ),
            # The rows as the query returned them (not rounded: a person asked for them), a
            # missing value blank.
            mo.ui.table(
                [
                    {c: blank_if_missing(v) for c, v in zip(result.columns, row, strict=True)}
                    for row in result.rows
                ]
                or [{"rows": "none"}],
                selection=None,
                page_size=20,
            ),
        ]
    )


def power_user_note(table: str) -> mo.Html:
    """How `marimo edit` reaches the same table with `mo.sql`."""
    return mo.accordion(
        {
            "For power users (marimo edit): query the same table with mo.sql": mo.md(
                "In `uv run marimo edit app.py`, add a cell:\n\n"
                "```python\n"
                f'_df = mo.sql(f"SELECT count(*) FROM {quote_ident(table)}", '
                "engine=loaded.con)\n"
                "```\n\n"
                "`loaded.con` is this session's DuckDB connection and the table is the one the "
                "steps above use (the cleaned view when gate 1 set a cleaning plan). "
                "It is not read-only: the SQL box above is."
            )
        }
    )


def final_downloads(exports: ExportsOnDemand, on_refusal: Callable[[str | None], None]) -> mo.Html:
    """One download per final export, each built (and re-checked) on its click."""
    return mo.vstack(
        [
            mo.md("**Final exports** (each file is recorded in the audit trail with its sha256)"),
            mo.hstack(
                [
                    mo.download(
                        data=shown_download(partial(exports.build, name), on_refusal),
                        filename=name,
                        label=name,
                    )
                    for name in exports.names
                ],
                wrap=True,
                justify="start",
            ),
        ]
    )
