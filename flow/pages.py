"""Each step's page in the notebook: its cards, its four tabs, its tables.

Built from the typed record (and the prompts that were sent), so the notebook's cells only
say which page to show where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import marimo as mo

from flow.source import DELIMITER_NAMES
from flow.stages import Prompts
from flow.views import (
    bullets,
    esc,
    figures_table,
    insights_view,
    json_download,
    notes,
    numbers_view,
    stat,
    step_tabs,
)
from review.gates import GateState, gate_by_id
from steps.cleaning import CleaningPlan
from steps.column_charts import column_card
from steps.figures import (
    overview_figures,
    quality_figures,
    recommendation_figures,
    statistics_figures,
)
from steps.load import LoadReport, ReadOptions
from steps.model import ModelCard
from steps.outliers import OutlierReport
from steps.overview import ColumnSummary
from steps.recommend import RecommendationDiff, Recommendations
from steps.record import Analysed, CleaningDelta, Described
from steps.rows import RowsShown
from steps.text import number_text


def load_summary(report: LoadReport, awaiting: str | None) -> mo.Html:
    """What the loader read and how: encoding, delimiter, rows skipped, markers, warnings."""
    delimiter = report.delimiter if report.delimiter is not None else "none (spreadsheet)"
    lines = [
        f"Encoding **{esc(report.encoding)}**, delimiter <code>{esc(shown_delimiter(delimiter))}"
        f"</code>, {number_text(report.rows_skipped)} row(s) skipped."
    ]
    if report.lines_skipped:
        above = "; ".join(f"<code>{esc(line)}</code>" for line in report.preamble)
        lines.append(
            f"{number_text(report.lines_skipped)} line(s) above the header not read"
            + (f": {above}" if above else "")
            + "."
        )
    if report.missing_markers_seen:
        markers = ", ".join(
            f"<code>{esc(m)}</code>" if m else "(empty)" for m in report.missing_markers_seen
        )
        lines.append(f"Read as missing: {markers}.")
    lines += [esc(w) for w in report.warnings]
    parts = [
        mo.md(f"Loaded **{esc(report.name)}** · sha256 `{report.sha256[:16]}…`"),
        mo.md("  \n".join(lines)),
    ]
    if awaiting:
        title = gate_by_id(awaiting).title
        opened = f"Opened from the review queue: **{esc(title)}** awaits you."
        parts.append(mo.callout(mo.md(opened), kind="info"))
    return mo.vstack(parts)


def shown_delimiter(delimiter: str) -> str:
    """A delimiter a person can see: tab and space by name."""
    return next((name for name, d in DELIMITER_NAMES.items() if d == delimiter), delimiter)


def read_options_form(report: LoadReport, on_change: Callable[[ReadOptions], None]) -> mo.Html:
    """How to read the file, for when detection got it wrong: the choices start from what
    the loader read, and submitting reads the file again that way (gate 1 then binds them)."""
    chosen = report.read_options
    shown = shown_delimiter(report.delimiter) if report.delimiter is not None else None
    delimiters = ["auto", ",", ";", "tab", "|", "space", ":"]
    controls: dict[str, Any] = {
        "delimiter": mo.ui.dropdown(
            delimiters,
            value=shown_delimiter(chosen.delimiter) if chosen.delimiter is not None else "auto",
            label=f"Delimiter (detected: {shown})" if shown else "Delimiter",
        ),
        "skip_lines": mo.ui.text(
            value="" if chosen.skip_lines is None else str(chosen.skip_lines),
            placeholder="auto",
            label="Lines to skip above the header",
        ),
        "header": mo.ui.dropdown(
            {"auto": None, "yes": True, "no": False},
            value={None: "auto", True: "yes", False: "no"}[chosen.header],
            label="First line is the header",
        ),
    }
    if report.sheets:
        controls["sheet"] = mo.ui.dropdown(
            list(report.sheets), value=report.sheet or report.sheets[0], label="Sheet"
        )
    form = (
        mo.md(" ".join(f"{{{name}}}" for name in controls))
        .batch(**controls)
        .form(
            submit_button_label="Read again",
            validate=_skip_problem,
            on_change=lambda value: on_change(read_options_of(value)) if value else None,
        )
    )
    return mo.accordion({"Read the file differently": form})


def _skip_problem(value: object) -> str | None:
    skip = (value.get("skip_lines") or "").strip() if isinstance(value, Mapping) else ""
    if not skip or skip.isdigit():
        return None
    return "Lines to skip must be a whole number (0 or more), or blank to detect them."


def read_options_of(value: Mapping[str, Any]) -> ReadOptions:
    """The form's answer (validated: lines to skip blank or a whole number) as options."""
    delimiter = value.get("delimiter") or "auto"
    skip = (value.get("skip_lines") or "").strip()
    return ReadOptions(
        delimiter=None if delimiter == "auto" else DELIMITER_NAMES.get(delimiter, delimiter),
        skip_lines=int(skip) if skip else None,
        header=value.get("header"),
        sheet=value.get("sheet"),
    )


def overview_page(described: Described, prompts: Prompts) -> mo.Html:
    ov = described.overview
    memory = ov.memory_bytes
    size = f"{number_text(memory / 1e6)} MB" if memory >= 1e6 else f"{number_text(memory / 1e3)} kB"
    cards = mo.hstack(
        [
            stat(ov.n_rows, "Rows"),
            stat(ov.n_columns, "Columns"),
            mo.stat(size, label="Memory", caption="estimated, uncompressed"),
        ],
        justify="start",
    )
    return mo.vstack(
        [
            cards,
            *notes(ov.notes),
            step_tabs(
                overview_figures(ov),
                insights_view(described.overview_insights, prompts.get("overview")),
                mo.vstack(
                    [
                        figures_table([_column_row(c) for c in ov.columns], page_size=20),
                        mo.md(f"**Missing values:** {esc(ov.missingness.basis)}"),
                        *notes(ov.missingness.notes),
                    ]
                ),
                json_download("overview", ov),
            ),
        ]
    )


_DETAILS = ("numeric_detail", "date_detail", "text_detail", "category_detail")


def _column_row(column: ColumnSummary) -> dict[str, Any]:
    """A column's summary as one table row; its kind's detail is the column card's."""
    row = {k: v for k, v in column.to_dict().items() if k not in _DETAILS}
    row["top_values"] = ", ".join(f"{value} ({number_text(n)})" for value, n in column.top_values)
    return row


def column_view(column: ColumnSummary) -> mo.Html:
    """One column's card: its kind's detail as figures, and its figure (a numeric column's
    histogram is Step 3's)."""
    detail = next((d for d in (getattr(column, k) for k in _DETAILS) if d is not None), None)
    rows: list[dict[str, Any]] = [
        {"figure": "kind", "value": column.kind},
        {"figure": "values", "value": column.count},
        {"figure": "missing", "value": column.n_missing},
        {"figure": "distinct", "value": column.n_distinct},
    ]
    for key, value in (detail.to_dict() if detail is not None else {}).items():
        inner = value.items() if isinstance(value, Mapping) else [("", value)]
        rows += [
            {"figure": " · ".join(filter(None, (key, k))).replace("_", " "), "value": v}
            for k, v in inner
            if not isinstance(v, list | tuple | Mapping)
        ]
    figure = column_card(column)
    shown = (
        figure
        if figure is not None
        else mo.md(
            "Its histogram is in Step 3."
            if column.kind == "numeric"
            else "No figure for this kind."
        )
    )
    return mo.hstack([figures_table(rows), shown], widths=[1, 2], align="start")


def rows_view(looks: Sequence[RowsShown]) -> mo.Html:
    """The rows themselves, beside gate 1: first, last and a seeded sample, each labelled."""
    titles = {"first": "First rows", "last": "Last rows", "sample": "Random sample"}
    return mo.ui.tabs(
        {
            titles[look.which]: mo.vstack(
                [
                    mo.md(f"_{esc(look.note)}_"),
                    figures_table(
                        [dict(zip(look.columns, row, strict=True)) for row in look.rows]
                        or [{"rows": "none"}],
                        page_size=10,
                    ),
                ]
            )
            for look in looks
        }
    )


def quality_page(described: Described, prompts: Prompts) -> mo.Html:
    """Step 2's cards and tabs; the same for the data as loaded and the cleaned view."""
    q = described.quality
    cards = mo.hstack(
        [
            stat(q.quality_score, "Quality score", "out of 100"),
            stat(q.duplicate_rows, "Duplicate rows"),
            stat(q.missing_cells, "Missing cells"),
        ],
        justify="start",
    )
    metrics = mo.vstack(
        [
            mo.md(f"**Quality score formula:** <code>{esc(q.score_formula)}</code>"),
            figures_table(_quality_rows(described) or [{"columns": "none"}]),
            mo.md("**Type consistency**"),
            figures_table(
                [{**i.to_dict(), "examples": ", ".join(i.examples)} for i in q.type_issues]
                or [{"type issues": "none found"}]
            ),
        ]
    )
    return mo.vstack(
        [
            cards,
            *notes(q.notes),
            step_tabs(
                quality_figures(described.overview, q),
                insights_view(described.quality_insights, prompts.get("quality")),
                metrics,
                json_download("quality", q),
            ),
        ]
    )


def cleaned_quality_page(
    view: Described, plan: CleaningPlan, delta: CleaningDelta, prompts: Prompts
) -> mo.Html:
    """Step 2 again once gate 1's decision changed something, headed by what changed it (a
    cleaning plan, or only alerts dismissed from the score), with the figures before and
    after, so the reviewer sees what it did before Step 3 builds on it."""
    planned = not plan.is_empty()
    what = "the cleaning plan" if planned else "leaving out the dismissed alerts"
    after = "cleaned" if planned else "after"
    # As text: counts and the score share a column, which as numbers the table would show
    # with the score's decimals (2,000.0 rows).
    rows = [
        {
            "figure": label,
            "as loaded": number_text(f.before),
            after: number_text(f.after),
            "change": number_text(f.change),
        }
        for label, f in delta.labelled()
    ]
    return mo.vstack(
        [
            mo.md(
                "## Step 2 · Quality after the cleaning plan"
                if planned
                else "## Step 2 · Quality with the dismissed alerts left out"
            ),
            mo.md(f"**What {what} changed**"),
            figures_table(rows),
            closed_alerts(delta),
            quality_page(view, prompts),
        ]
    )


def closed_alerts(delta: CleaningDelta) -> mo.Html:
    """The alerts the cleaning closed and opened, each in its own sentence."""
    parts = [
        f"**{title}**\n\n{bullets([a.message for a in found])}"
        for title, found in (
            ("Alerts the cleaned view no longer raises", delta.alerts_closed),
            ("Alerts the cleaned view raises that the file as loaded did not", delta.alerts_opened),
        )
        if found
    ]
    return mo.md("\n\n".join(parts))


def _quality_rows(described: Described) -> list[dict]:
    """Step 2's per-column figures: missing, outliers and their bounds."""
    q = described.quality
    return [
        {
            "column": name,
            "missing": q.missing_by_column.get(name, 0),
            "IQR outliers": counts.iqr,
            "IQR bounds": _bounds(counts.iqr_lower, counts.iqr_upper),
            "Z-score outliers": counts.zscore,
            "Z bounds": _bounds(counts.zscore_lower, counts.zscore_upper),
        }
        for name, counts in q.outliers.items()
    ]


def _bounds(lower: float | None, upper: float | None) -> str:
    return "" if lower is None or upper is None else f"[{number_text(lower)}, {number_text(upper)}]"


def outlier_caption(report: OutlierReport) -> str:
    """Which method and parameters found the outliers, and whether a sample was used."""
    params = ", ".join(f"{k}={v}" for k, v in report.params.items())
    rows = number_text(report.sample_rows)
    where = f"on a seeded sample of {rows} rows" if report.sample_based else ""
    return " ".join(p for p in (report.method, f"({params})" if params else "", where) if p)


def statistics_page(analysed: Analysed, prompts: Prompts) -> mo.Html:
    stats, found = analysed.statistics, analysed.outliers
    corr = stats.correlation
    distributions = [
        {
            "column": name,
            "n": d.n,
            "skewness": d.skewness,
            "excess kurtosis": d.kurtosis,
            "normality": d.normality.note,
        }
        for name, d in stats.distributions.numeric.items()
    ]
    metrics = mo.vstack(
        [
            mo.md(esc(corr.basis)),
            mo.md("**Strong correlations**"),
            figures_table(
                [p.to_dict() for p in stats.strong_correlations]
                or [{"strong pairs": "none at this threshold"}]
            ),
            mo.md(
                "**Strong associations across kinds** (Cramér's V, η, and the correlation "
                f"chosen) · {esc(stats.association_matrix.basis)}"
            ),
            figures_table(
                [a.to_dict() for a in stats.strong_associations]
                or [{"strong associations": "none at this threshold"}]
            ),
            mo.md("**Distributions**"),
            figures_table(distributions or [{"distributions": "no numeric columns"}]),
            mo.md(f"**Outliers** · {esc(outlier_caption(found))}"),
            figures_table(
                [{k: v for k, v in c.to_dict().items() if k != "examples"} for c in found.columns]
                or [{"outliers": "no numeric columns"}]
            ),
        ]
    )
    cards = mo.hstack(
        [
            stat(len(corr.columns), "Numeric columns"),
            stat(len(stats.strong_correlations), "Strong pairs", f"|r| ≥ {stats.threshold:.2f}"),
            stat(sum(found.counts.values()), "Outlier values", outlier_caption(found)),
        ],
        justify="start",
    )
    return mo.vstack(
        [
            cards,
            *notes((*stats.notes, *found.notes)),
            step_tabs(
                statistics_figures(stats, analysed.scatters),
                insights_view(analysed.insights, prompts.get("statistics")),
                metrics,
                json_download("statistics", stats),
            ),
        ]
    )


def model_page(card: ModelCard) -> mo.Html:
    candidates = [
        {
            "candidate": c.name,
            "description": c.description,
            **{m: f"{number_text(v.mean)} ± {number_text(v.std)}" for m, v in c.metrics.items()},
            "fit seconds": round(c.fit_seconds, 2),
        }
        for c in card.candidates
    ]
    sample = " (a seeded sample)" if card.sample_based else ""
    return mo.vstack(
        [
            mo.md(
                f"**Task:** {esc(card.task)} — {esc(card.task_reason)}  \n"
                f"Trained on {number_text(card.sample_rows_used)} of "
                f"{number_text(card.n_rows_total)} rows{sample}; {card.folds}-fold "
                f"cross-validation. **Recommended:** <code>{esc(card.selected)}</code> "
                f"({esc(card.selection_rule)})"
            ),
            *[mo.callout(mo.md(esc(w.sentence)), kind="warn") for w in card.warnings],
            figures_table(candidates),
            mo.md("**Permutation importances** (best model, held-out split)"),
            figures_table([i.to_dict() for i in card.importances] or [{"importances": "none"}]),
        ]
    )


def recommendations_page(
    recs: Recommendations,
    diff: RecommendationDiff | None,
    states: Sequence[GateState],
    prompts: Prompts,
) -> mo.Html:
    statuses = [
        ("Step 1 · Overview", "done"),
        ("Step 2 · Quality", "done"),
        *((f"Gate · {gate_by_id(s.gate).title}", s.status) for s in states),
        ("Step 4 · Recommendations", "done"),
    ]
    plan = [
        {
            "#": n,
            "priority": i.priority,
            "title": i.title,
            "rationale": i.rationale,
            "evidence": "; ".join(i.evidence),
            "impact": i.impact,
            "effort": i.effort,
        }
        for n, i in enumerate(recs.action_plan, start=1)
    ]
    prompt = prompts.get("recommendations")
    insights = mo.vstack(
        [
            mo.md(f"_Advisor: {esc(recs.advisor)} · version {recs.version}_"),
            *([mo.callout(mo.md(esc(recs.notice)), kind="warn")] if recs.notice else []),
            mo.md("**Business insights**\n\n" + bullets(recs.business_insights)),
            mo.md("**Next steps**\n\n" + bullets(recs.next_steps)),
            *numbers_view(recs.unverified_numbers),
            *(
                [mo.accordion({"What is (or would be) sent": mo.plain_text(prompt.text)})]
                if prompt is not None
                else []
            ),
        ]
    )
    return mo.vstack(
        [
            mo.md(f"Version {recs.version}, from the {esc(recs.advisor)} advisor."),
            *([diff_view(diff)] if diff is not None else []),
            step_tabs(
                recommendation_figures(statuses, recs),
                insights,
                figures_table(plan or [{"action plan": "nothing to do"}]),
                json_download("recommendations", recs),
            ),
        ]
    )


def diff_view(diff: RecommendationDiff) -> mo.Html:
    """What the regenerated version changed, next to the one the reviewer sent back."""
    parts = [f"**Compared with version {diff.old_version}:**"]
    parts += [f"- added: {esc(i.title)}" for i in diff.added]
    parts += [f"- removed: {esc(i.title)}" for i in diff.removed]
    parts += [f"- changed: {esc(c.title)} ({esc(', '.join(c.fields))})" for c in diff.changed]
    parts += [f"- new insight: {esc(t)}" for t in diff.insights_added]
    parts += [f"- insight dropped: {esc(t)}" for t in diff.insights_removed]
    parts += [f"- new next step: {esc(t)}" for t in diff.next_steps_added]
    parts += [f"- next step dropped: {esc(t)}" for t in diff.next_steps_removed]
    if diff.is_empty:
        parts.append("- no change to the plan")
    return mo.callout(mo.md("\n".join(parts)), kind="info")
