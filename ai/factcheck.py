"""Every number an AI states is checked against the figures the analysis computed.

A stated number is *verified* when some reference figure, rounded to the precision the
number was written with, equals it. Tolerances and conventions, deliberately:

- Precision comes from the text: `0.87` matches 0.8734 (and 0.865 ≤ x < 0.875), `87%`
  and `87.3%` match the fraction 0.8734 or the figure 87.3; `1.2e-5` matches to the
  mantissa's digits; `1,234` is 1234; `1.2 million` matches 1 150 000–1 250 000.
- Signs are not checked: prose writes "a negative correlation of 0.45" for r = −0.45.
- `< x` / `≤ x` (e.g. "p < 0.001") is verified when a positive figure is below x.
- Numbers inside column names are not numbers (names are removed first), nor are digits
  glued to letters (`q3`, `r2`), nor the step or gate ordinals ("Step 2", "gate 4"), nor
  the conventional method constants *in their phrases only*: "1.5 × IQR", "|z| > 3",
  "out of 100" / "/100", "p < 0.05" (elsewhere 3 or 100 must match a figure like any
  other number), nor list indices in evidence paths (`strong_correlations[2].r`).
- Reference figures are every number the model was shown (the prompt's aggregates and any
  opted-in rows), every number written inside their string values (dates, labels), and a
  documented few derived ones: each count divided by the row count (and its complement,
  "95% complete"), missing cells over all cells, rows left after removing duplicates,
  memory in kB/KiB/MB/MiB, and counts of listed items (columns per kind, columns with
  missing values or outliers, strong pairs, type issues).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.prompts import aggregates
from steps.insights import Facts, UnverifiedNumber
from steps.results import json_safe

_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<mantissa>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+−]?\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|[kKM]\b|bn\b))?"
    r"(?P<pct>\s?%|\s?percent\b)?"
)
_SCALES = {"thousand": 1e3, "k": 1e3, "K": 1e3, "million": 1e6, "M": 1e6, "billion": 1e9, "bn": 1e9}
_METHOD_PHRASES = re.compile(
    r"\[\d+\]"
    r"|\d+(?:\.\d+)?\s*[×x*]\s*(?:the\s+)?IQR"
    r"|\|z\|\s*(?:>|≥|>=)\s*\d+(?:\.\d+)?"
    r"|(?:out of|/)\s*100\b"
    r"|(?:[<>≥≤]=?|above|below)\s*0?\.0[15]\b",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"(?:step|gate|steps|gates)\s*$", re.IGNORECASE)
_BOUND = re.compile(r"(?:<|≤|<=|below|under|less than)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_REL_EPS = 1e-9


@dataclass(frozen=True)
class StatedNumber:
    """A number as written: its magnitude, how precisely it was written, and how it reads."""

    value: float
    tolerance: float
    percent: bool
    upper_bound: bool
    text: str
    start: int


def _tolerance(mantissa: str, exponent: int, scale: float) -> float:
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (exponent - decimals) * scale


def stated_numbers(text: str) -> list[StatedNumber]:
    """Every number in `text` with the precision it was written to."""
    found = []
    for m in _NUMBER.finditer(text):
        before = text[: m.start()]
        if _ORDINAL.search(before):
            continue
        mantissa = m["mantissa"].replace(",", "")
        exponent = int(m["exp"].replace("−", "-")) if m["exp"] else 0
        scale = _SCALES.get((m["scale"] or "").strip(), 1.0)
        found.append(
            StatedNumber(
                value=float(mantissa) * 10.0**exponent * scale,
                tolerance=_tolerance(mantissa, exponent, scale),
                percent=bool(m["pct"]),
                upper_bound=bool(_BOUND.search(before)),
                text=m.group(0).strip(),
                start=m.start(),
            )
        )
    return found


def _walk(value: Any) -> Iterator[Any]:
    """Every scalar inside a nested JSON value."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def _derived(facts: Facts) -> Iterator[float]:
    ov, q, s = facts.overview, facts.quality, facts.statistics
    n_rows = q.n_rows if q is not None else ov.n_rows
    column_missing = [c.n_missing for c in ov.columns]
    counts = list(column_missing)
    if q is not None:
        counts += list(q.missing_by_column.values())
        counts += [n for v in q.outliers.values() for n in (v.iqr, v.zscore)]
        counts += [t.count for t in q.type_issues]
        counts.append(q.duplicate_rows)
    if n_rows:
        for c in counts:
            yield c / n_rows
            yield 1 - c / n_rows
        if q is not None:
            yield n_rows - q.duplicate_rows
    n_cells = n_rows * ov.n_columns
    if q is not None and n_cells:
        yield q.missing_cells / n_cells
        yield 1 - q.missing_cells / n_cells
    yield from (ov.memory_bytes / unit for unit in (1e3, 1024, 1e6, 2**20))
    yield from Counter(c.kind for c in ov.columns).values()
    yield sum(1 for c in column_missing if c)
    if q is not None:
        yield sum(1 for v in q.missing_by_column.values() if v)
        yield sum(1 for v in q.outliers.values() if v.iqr)
        yield sum(1 for v in q.outliers.values() if v.zscore)
        yield len(q.type_issues)
    if s is not None:
        yield len(s.strong_correlations)


def reference_figures(facts: Facts, rows: Sequence[Mapping[str, Any]] | None = None) -> list[float]:
    """The magnitudes a stated number may match: what the model was shown (the prompt's
    aggregates, and the opted-in rows if any) plus the derived figures."""
    figures: set[float] = set()
    for value in _walk({**aggregates(facts), "rows": json_safe(list(rows or []))}):
        if isinstance(value, str):
            figures.update(n.value for n in stated_numbers(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            figures.add(float(value))
    figures.update(_derived(facts))
    return sorted({abs(f) for f in figures if math.isfinite(f)})


def _names(facts: Facts) -> set[str]:
    """Column names anywhere in the facts: numbers inside them are not numbers."""
    names = {c.name for c in facts.overview.columns}
    if facts.statistics is not None:
        names.update(facts.statistics.correlation.columns)
    if facts.model is not None:
        names.update((facts.model.target, *facts.model.features))
    return names


def _matches(n: StatedNumber, figures: list[float]) -> bool:
    candidates = [(n.value, n.tolerance)]
    if n.percent:
        candidates.append((n.value / 100, n.tolerance / 100))
    for value, tol in candidates:
        slack = tol + _REL_EPS * value
        if n.upper_bound and any(0 < f <= value + slack for f in figures):
            return True
        if any(abs(f - value) <= slack for f in figures):
            return True
    return False


def _blanked(text: str, names: Iterable[str]) -> str:
    """The text with column names and method phrases blanked out, positions kept."""
    for name in sorted((n for n in names if any(ch.isdigit() for ch in n)), key=len, reverse=True):
        text = text.replace(name, " " * len(name))
    return _METHOD_PHRASES.sub(lambda m: " " * len(m.group(0)), text)


def _sentence_at(text: str, start: int) -> str:
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text) + 1]
    begin = max(b for b in bounds if b <= start)
    end = min((b for b in bounds if b > start), default=len(text))
    return text[begin:end].strip()


def unverified_numbers(
    texts: Iterable[tuple[str, str]],
    facts: Facts,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[UnverifiedNumber, ...]:
    """The numbers in `(where, text)` pairs that no figure of the facts supports."""
    figures = reference_figures(facts, rows)
    names = _names(facts)
    flagged = []
    for where, text in texts:
        for n in stated_numbers(_blanked(text, names)):
            if not _matches(n, figures):
                value = -n.value if text[: n.start].endswith(("-", "−")) else n.value
                flagged.append(UnverifiedNumber(value, n.text, _sentence_at(text, n.start), where))
    return tuple(flagged)
