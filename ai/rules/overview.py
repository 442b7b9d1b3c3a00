"""Step 1 rules: the table's size, its mix of column kinds, and columns that say little."""

from __future__ import annotations

from collections import Counter

from ai.rules.base import Action, Observation, evidence, observe, share
from steps.alerts import Alert
from steps.insights import Facts
from steps.overview import ColumnSummary, Overview
from steps.text import number_text, percent_text

SMALL_TABLE_ROWS = 30
MISSING_HEAVY = 0.2
MISSING_DROP = 0.5


def overview_observations(facts: Facts) -> list[Observation]:
    ov = facts.overview
    size = (evidence("overview.n_rows", ov.n_rows), evidence("overview.n_columns", ov.n_columns))
    if ov.n_rows == 0:
        return [
            observe(
                "overview",
                "empty",
                "No data rows",
                f"The table has {number_text(ov.n_columns)} columns but no data rows, so there "
                "is nothing to analyse.",
                "critical",
                size,
                Action("Load a file that contains data rows", "Every later step is empty.", 5, 1),
            )
        ]
    out = [_size(ov, size), _kinds(ov)]
    for column in ov.columns:
        out.extend(_column(column, ov.n_rows, facts))
    out.extend(_alerted(alert) for t in ALERTED for alert in facts.standing(t).values())
    return out


# Alert types Step 1 reports as they are (their sentence, figures and threshold), with the
# action each calls for; the others have rules of their own (here or in Step 2's).
ALERTED: dict[str, tuple[str, str] | None] = {
    "imbalance": None,
    "high_cardinality": None,
    "infinite": ("Decide what the infinite values of {name} stand for", "They are set aside."),
    "integer_dates": ("Read {name} as a date", "As a number it reads as a measurement."),
    "ambiguous_dates": (
        "Confirm whether {name} is day-first or month-first",
        "Every value reads both ways; a wrong guess shifts the dates.",
    ),
    "dates_as_text": ("Parse {name} as dates", "As text it cannot be sorted or binned by time."),
}


def _alerted(alert: Alert) -> Observation:
    """An alert as a Step 1 finding: its own sentence, its figures as the evidence."""
    name = alert.columns[0] if alert.columns else ""
    path = f"alerts[{alert.key}]"
    figures = [
        evidence(f"{path}.{k}", v)
        for k, v in alert.figures.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if alert.threshold is not None:
        figures.append(evidence(f"{path}.threshold", alert.threshold))
    wanted = ALERTED[alert.type]
    action = None
    if wanted is not None:
        action = Action(wanted[0].format(name=name), wanted[1], 2, 1)
    title = f"{name}: {alert.type.replace('_', ' ')}"
    return observe(
        "overview",
        f"alert:{alert.key}",
        title,
        alert.message,
        alert.severity,
        tuple(figures),
        action,
    )


def _size(ov: Overview, size: tuple[str, ...]) -> Observation:
    rows, cols = number_text(ov.n_rows), number_text(ov.n_columns)
    if ov.n_rows < SMALL_TABLE_ROWS:
        return observe(
            "overview",
            "size",
            f"Only {rows} rows",
            f"With {rows} rows and {cols} columns, correlations and models are fragile: treat "
            "every figure as indicative.",
            "warning",
            size,
            Action(
                "Collect more rows before drawing conclusions",
                f"Fewer than {SMALL_TABLE_ROWS} rows make estimates unstable.",
                4,
                4,
            ),
        )
    memory = ov.memory_bytes
    in_memory = (
        f" ({number_text(memory / 1e6)} MB in memory)"
        if memory >= 1e6
        else f" ({number_text(memory / 1e3)} kB in memory)"
        if memory
        else ""
    )
    return observe(
        "overview",
        "size",
        f"{rows} rows × {cols} columns",
        f"The table has {rows} rows and {cols} columns{in_memory}.",
        "info",
        size,
    )


def _kinds(ov: Overview) -> Observation:
    kinds = sorted(Counter(c.kind for c in ov.columns).items())
    listed = ", ".join(f"{n} {kind}" for kind, n in kinds)
    return observe(
        "overview",
        "kinds",
        "Column kinds",
        f"Columns by kind: {listed}.",
        "info",
        tuple(evidence(f"overview.kinds.{kind}", n) for kind, n in kinds),
    )


def _column(column: ColumnSummary, n_rows: int, facts: Facts) -> list[Observation]:
    """Heavy missingness, identifiers and constants, unless the reviewer dismissed that
    alert of the column at gate 1."""
    name, path = column.name, f"overview.columns[{column.name}]"
    out = []
    missing = share(column.n_missing, n_rows)
    if missing >= MISSING_HEAVY and not facts.is_dismissed("missing", name):
        out.append(
            observe(
                "overview",
                f"missing-heavy:{name}",
                f"{name} is {percent_text(missing)} missing",
                f"{number_text(column.n_missing)} of {number_text(n_rows)} values of {name} "
                "are missing.",
                "critical" if missing >= MISSING_DROP else "warning",
                (
                    evidence(f"{path}.n_missing", column.n_missing),
                    evidence("overview.n_rows", n_rows),
                ),
            )
        )
    if column.kind == "identifier" and not facts.is_dismissed("identifier", name):
        out.append(
            observe(
                "overview",
                f"identifier:{name}",
                f"{name} looks like an identifier",
                f"{name} has {number_text(column.n_distinct)} distinct values; it names "
                "records rather than measuring them.",
                "info",
                (
                    evidence(f"{path}.kind", column.kind),
                    evidence(f"{path}.n_distinct", column.n_distinct),
                ),
                Action(
                    f"Keep {name} out of correlations and models",
                    "An identifier carries no signal and invites spurious patterns.",
                    2,
                    1,
                ),
            )
        )
    elif (
        column.n_distinct <= 1
        and column.n_missing < n_rows
        and not facts.is_dismissed("constant", name)
    ):
        out.append(
            observe(
                "overview",
                f"constant:{name}",
                f"{name} is constant",
                f"{name} has a single distinct value, so it cannot explain any variation.",
                "warning",
                (evidence(f"{path}.n_distinct", column.n_distinct),),
                Action(f"Drop the constant column {name}", "It carries no information.", 2, 1),
            )
        )
    return out
