"""Step 1 rules: the table's size, its mix of column kinds, and columns that say little."""

from __future__ import annotations

from collections import Counter

from ai.rules.base import Action, Observation, evidence, observe, share
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
        out.extend(_column(column, ov.n_rows))
    return out


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


def _column(column: ColumnSummary, n_rows: int) -> list[Observation]:
    name, path = column.name, f"overview.columns[{column.name}]"
    out = []
    missing = share(column.n_missing, n_rows)
    if missing >= MISSING_HEAVY:
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
    if column.kind == "identifier":
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
    elif column.n_distinct <= 1 and column.n_missing < n_rows:
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
