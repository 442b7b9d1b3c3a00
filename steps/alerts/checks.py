"""One function per alert type, each reading figures Steps 1–3 computed already.

Each returns the alerts of its type at the threshold it is given. The wording is one
sentence per alert; the figures are the exact values it rests on.
"""

from __future__ import annotations

import math
import re

from steps.alerts.catalog import check
from steps.alerts.types import Alert, Inputs, Severity, figures, share, time_columns
from steps.overview import ColumnSummary
from steps.quality import TextPatterns
from steps.text import number_text, percent_text

STEP3 = ("skewed", "high_correlation")
"""Alert types that read Step 3's statistics: they appear once Step 3 has run."""

# Integer seconds (or milliseconds) since 1970 between 2000-01-01 and 2050-01-01.
EPOCH_SECONDS = (946_684_800, 2_524_608_000)
_TIME_NAME = re.compile(r"(date|time|epoch|timestamp|created|updated|_ts$|^ts$)", re.IGNORECASE)
_NUMBER_TYPE_ISSUES = ("numbers stored as text", "numeric-looking text")


def _one(
    type_: str,
    column: str,
    severity: Severity,
    threshold: float | None,
    message: str,
    **values: object,
) -> Alert:
    return Alert(type_, (column,), severity, figures(**values), threshold, message)


@check("constant")
def constant(inputs: Inputs, threshold: float) -> list[Alert]:
    return [
        _one(
            "constant",
            c.name,
            "warning",
            threshold,
            f"{c.name} holds a single value in all {number_text(c.count)} present rows.",
            n_distinct=c.n_distinct,
            count=c.count,
        )
        for c in inputs.overview.columns
        if c.count > 0 and c.n_distinct <= threshold
    ]


@check("zeros")
def zeros(inputs: Inputs, threshold: float) -> list[Alert]:
    out = []
    for c in inputs.overview.columns:
        detail = c.numeric_detail
        if detail is None or not detail.zeros:
            continue
        frac = share(detail.zeros, c.count)
        if frac > threshold:
            out.append(
                _one(
                    "zeros",
                    c.name,
                    "info",
                    threshold,
                    f"{c.name} is zero in {number_text(detail.zeros)} of "
                    f"{number_text(c.count)} values ({percent_text(frac)}).",
                    zeros=detail.zeros,
                    count=c.count,
                    share=frac,
                )
            )
    return out


@check("zero_inflated")
def zero_inflated(inputs: Inputs, threshold: float) -> list[Alert]:
    """Zeros so many that the quartiles sit on them: outliers are counted on the rest."""
    out = []
    for name, nonzero in inputs.nonzero_outliers.items():
        c = inputs.overview.column(name)
        detail = c.numeric_detail
        counted = inputs.quality.outliers.get(name)
        if detail is None or counted is None:
            continue
        frac = share(detail.zeros, c.count)
        out.append(
            _one(
                "zero_inflated",
                name,
                "info",
                threshold,
                f"{name} is zero-inflated ({percent_text(frac)} zeros): of its non-zero "
                f"values {number_text(nonzero.iqr)} lie outside 1.5 × IQR, not the "
                f"{number_text(counted.iqr)} counted with the zeros.",
                zeros=detail.zeros,
                share=frac,
                outliers_all=counted.iqr,
                outliers_nonzero=nonzero.iqr,
                nonzero_lower=nonzero.iqr_lower,
                nonzero_upper=nonzero.iqr_upper,
            )
        )
    return out


def imbalance_of(c: ColumnSummary) -> tuple[float, bool] | None:
    """ydata-profiling's imbalance, 1 − entropy / log(distinct values), and whether it is
    exact. Step 1 keeps the top values; when there are more, the rest is taken as evenly
    spread (the most entropy they can have), so the figure is then a lower bound: it may
    miss an imbalance, never invent one."""
    k = c.n_distinct
    if k < 2 or c.count == 0:
        return None
    counts = [n for _, n in c.top_values]
    rest, rest_k = c.count - sum(counts), k - len(counts)
    entropy = -sum(n / c.count * math.log(n / c.count) for n in counts if n)
    if rest_k > 0 and rest > 0:
        each = rest / rest_k / c.count
        entropy -= rest_k * each * math.log(each)
    return max(0.0, 1 - entropy / math.log(k)), rest_k <= 0


@check("imbalance")
def imbalance(inputs: Inputs, threshold: float) -> list[Alert]:
    out = []
    for c in inputs.overview.columns:
        if c.kind not in ("categorical", "boolean"):
            continue
        found = imbalance_of(c)
        if found is None or found[0] <= threshold:
            continue
        value, exact = found
        top, top_n = c.top_values[0]
        out.append(
            _one(
                "imbalance",
                c.name,
                "warning",
                threshold,
                f"{c.name} is imbalanced (imbalance {number_text(value)}): its most common "
                f"value holds {percent_text(share(top_n, c.count))} of the rows.",
                imbalance=value,
                exact=exact,
                top_value=top,
                top_count=top_n,
                share=share(top_n, c.count),
                n_distinct=c.n_distinct,
            )
        )
    return out


@check("high_cardinality")
def high_cardinality(inputs: Inputs, threshold: float) -> list[Alert]:
    """Free text with many distinct values; text that reads as numbers or dates has an
    alert of its own instead."""
    typed = {i.column for i in inputs.quality.type_issues}
    typed |= {n for n, p in inputs.quality.text_patterns.items() if p.dates}
    return [
        _one(
            "high_cardinality",
            c.name,
            "info",
            threshold,
            f"{c.name} has {number_text(c.n_distinct)} distinct values (more than "
            f"{number_text(threshold)}): too many to treat as categories.",
            n_distinct=c.n_distinct,
            count=c.count,
        )
        for c in inputs.overview.columns
        if c.kind == "text" and c.name not in typed and threshold < c.n_distinct < c.count
    ]


@check("unique")
def unique(inputs: Inputs, threshold: float) -> list[Alert]:
    n_rows = inputs.overview.n_rows
    return [
        _one(
            "unique",
            c.name,
            "info",
            threshold,
            f"Every value of {c.name} differs from the others ({number_text(c.n_distinct)} "
            "distinct values).",
            n_distinct=c.n_distinct,
            count=c.count,
        )
        for c in inputs.overview.columns
        if c.kind != "identifier" and c.count > 1 and share(c.n_distinct, n_rows) >= threshold
    ]


@check("identifier")
def identifier(inputs: Inputs, threshold: float) -> list[Alert]:
    return [
        _one(
            "identifier",
            c.name,
            "info",
            threshold,
            f"{c.name} identifies rows (every value present and different): leave it out of "
            "statistics and models.",
            n_distinct=c.n_distinct,
            count=c.count,
        )
        for c in inputs.overview.columns
        if c.kind == "identifier" and share(c.n_distinct, c.count) >= threshold
    ]


def _infinite_count(c: ColumnSummary) -> int:
    detail = c.numeric_detail or c.date_detail
    return detail.infinite if detail is not None else 0


@check("infinite")
def infinite(inputs: Inputs, threshold: float) -> list[Alert]:
    return [
        _one(
            "infinite",
            c.name,
            "warning",
            threshold,
            f"{c.name} holds {number_text(n)} infinite values (inf or -inf), so its mean and "
            "spread are not finite.",
            infinite=n,
            count=c.count,
        )
        for c in inputs.overview.columns
        if (n := _infinite_count(c)) > threshold
    ]


@check("missing")
def missing(inputs: Inputs, threshold: float) -> list[Alert]:
    n_rows = inputs.overview.n_rows
    out = []
    for c in inputs.overview.columns:
        frac = share(c.n_missing, n_rows)
        if c.n_missing and frac > threshold:
            severity: Severity = (
                "critical" if frac >= 0.5 else "warning" if frac >= 0.05 else "info"
            )
            out.append(
                _one(
                    "missing",
                    c.name,
                    severity,
                    threshold,
                    f"{c.name} is missing in {number_text(c.n_missing)} of "
                    f"{number_text(n_rows)} rows ({percent_text(frac)}).",
                    missing=c.n_missing,
                    rows=n_rows,
                    share=frac,
                )
            )
    return out


@check("duplicates")
def duplicates(inputs: Inputs, threshold: float) -> list[Alert]:
    q = inputs.quality
    frac = share(q.duplicate_rows, q.n_rows)
    if not q.duplicate_rows or frac <= threshold:
        return []
    return [
        Alert(
            "duplicates",
            (),
            "critical" if frac >= 0.1 else "warning",
            figures(duplicate_rows=q.duplicate_rows, rows=q.n_rows, share=frac),
            threshold,
            f"{number_text(q.duplicate_rows)} rows ({percent_text(frac)}) repeat an earlier "
            "row exactly.",
        )
    ]


@check("skewed")
def skewed(inputs: Inputs, threshold: float) -> list[Alert]:
    if inputs.statistics is None:
        return []
    return [
        _one(
            "skewed",
            name,
            "info",
            threshold,
            f"{name} is highly skewed (skewness {number_text(d.skewness)}): its mean says "
            "little about a typical value.",
            skewness=d.skewness,
            n=d.n,
        )
        for name, d in sorted(inputs.statistics.distributions.numeric.items())
        if d.skewness is not None and abs(d.skewness) > threshold
    ]


@check("high_correlation")
def high_correlation(inputs: Inputs, threshold: float) -> list[Alert]:
    """Pairs at or above the threshold, numeric (the correlation matrix) and across kinds
    (the associations); a pair with a date column reads as a trend over time."""
    s = inputs.statistics
    if s is None:
        return []
    found: dict[tuple[str, str], tuple[str, float]] = {}
    m = s.correlation
    for i, a in enumerate(m.columns):
        for j in range(i + 1, len(m.columns)):
            r = m.matrix[i][j]
            if r is not None and abs(r) >= threshold:
                found[(a, m.columns[j])] = (m.method, r)
    for assoc in s.associations:
        pair = (assoc.a, assoc.b)
        if assoc.value is not None and abs(assoc.value) >= threshold and pair[::-1] not in found:
            found.setdefault(pair, (assoc.measure, assoc.value))
    dated = time_columns(inputs.overview, inputs.alerts)
    out = []
    for (a, b), (measure, value) in found.items():
        trend = a in dated or b in dated
        what = "a trend over time" if trend else "strongly associated"
        out.append(
            Alert(
                "high_correlation",
                (a, b),
                "info",
                figures(measure=measure, value=value, trend=trend),
                threshold,
                f"{a} and {b} are {what} ({measure} {number_text(value)}).",
            )
        )
    return out


@check("numbers_as_text")
def numbers_as_text(inputs: Inputs, threshold: float) -> list[Alert]:
    return [
        _one(
            "numbers_as_text",
            issue.column,
            "warning",
            threshold,
            f"{issue.column} is text, but its values read as numbers ({issue.detail}).",
            issue=issue.issue,
            count=issue.count,
        )
        for issue in inputs.quality.type_issues
        if issue.issue in _NUMBER_TYPE_ISSUES
    ]


def _dominant_date(p: TextPatterns) -> tuple[str, int]:
    label = max(p.dates, key=lambda k: p.dates[k])
    return label, p.dates[label]


@check("dates_as_text")
def dates_as_text(inputs: Inputs, threshold: float) -> list[Alert]:
    out = []
    for name, p in inputs.quality.text_patterns.items():
        dated = sum(p.dates.values())
        if not p.dates or share(dated, p.values) < threshold:
            continue
        label, n = _dominant_date(p)
        out.append(
            _one(
                "dates_as_text",
                name,
                "warning",
                threshold,
                f"{name} is text, but {percent_text(share(dated, p.values))} of its values "
                f"read as dates (mostly {label}).",
                dates=dated,
                values=p.values,
                share=share(dated, p.values),
                format=label,
                format_count=n,
            )
        )
    return out


def _epoch_like(c: ColumnSummary) -> bool:
    detail = c.numeric_detail
    if detail is None or not c.dtype.upper().startswith(("INTEGER", "BIGINT", "UINTEGER")):
        return False
    lo, hi = EPOCH_SECONDS
    within = any(
        c.min is not None and c.max is not None and lo * k <= c.min and c.max <= hi * k
        for k in (1, 1000)
    )
    return within and (detail.monotonic is not None or bool(_TIME_NAME.search(c.name)))


@check("integer_dates")
def integer_dates(inputs: Inputs, threshold: float) -> list[Alert]:
    """Integers that are dates: YYYYMMDD values, or seconds (milliseconds) since 1970 in a
    column named like a time or in row order."""
    out = []
    for c in inputs.overview.columns:
        detail = c.numeric_detail
        if detail is None or c.count == 0:
            continue
        frac = share(detail.date_shaped, c.count)
        if frac >= threshold:
            shape = "YYYYMMDD"
        elif _epoch_like(c):
            shape = "epoch"
        else:
            continue
        out.append(
            _one(
                "integer_dates",
                c.name,
                "info",
                threshold,
                f"{c.name} holds dates written as integers ({shape}): treat it as time, not "
                "as a measurement.",
                shape=shape,
                date_shaped=detail.date_shaped,
                count=c.count,
                min=c.min,
                max=c.max,
            )
        )
    return out


@check("ambiguous_dates")
def ambiguous_dates(inputs: Inputs, threshold: float) -> list[Alert]:
    if inputs.load is None:
        return []
    return [
        _one(
            "ambiguous_dates",
            order.column,
            "warning",
            threshold,
            f"{order.column} reads as dates both day-first and month-first (no day above "
            f"{number_text(threshold)}); it was read {order.order}, an assumption to confirm.",
            assumed=order.order,
            proven=order.proven,
        )
        for order in inputs.load.date_orders
        if not order.proven
    ]


@check("leading_zeros")
def leading_zeros(inputs: Inputs, threshold: float) -> list[Alert]:
    return [
        _one(
            "leading_zeros",
            name,
            "info",
            threshold,
            f"{name} is a code, not a number: {number_text(p.leading_zeros)} values start "
            "with 0, so it is kept as text (as a number the zeros would be lost).",
            leading_zeros=p.leading_zeros,
            digits=p.numbers,
            values=p.values,
        )
        for name, p in inputs.quality.text_patterns.items()
        if p.leading_zeros and share(p.numbers, p.values) >= threshold
    ]
