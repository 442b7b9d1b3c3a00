"""Step 2 Quality: duplicates, missing values, outliers, type consistency and one score.

Passes over the table: one GROUP BY ALL for duplicate rows (count and examples together),
one aggregate for every text column's pattern counts, one count per outlier method, and
small example look-ups; the per-column figures come from Step 1's overview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from steps.engine import Column, columns, quote_ident
from steps.errors import QualityError
from steps.numeric import NumericStats
from steps.outliers import OutlierReport, outliers
from steps.overview import Overview, fresh_name, value_expr
from steps.overview import overview as compute_overview
from steps.results import ToDict

# A text column is "mostly numeric" when at least this share of its values look like numbers,
# and "date-like" when at least this share look like dates.
MOSTLY = 0.5
_NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
_NUMBER_LOOKING = (
    r"\s*[-+(]?\s*[$€£¥]?\s*[-+]?(\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d*)?|\.\d+)"
    r"([eE][-+]?\d+)?\s*%?\s*\)?\s*"
)
_TIME = r"([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
DATE_FORMATS: dict[str, str] = {
    "YYYY-MM-DD": r"\d{4}-\d{1,2}-\d{1,2}" + _TIME,
    "YYYY/MM/DD": r"\d{4}/\d{1,2}/\d{1,2}" + _TIME,
    "DD/MM/YYYY or MM/DD/YYYY": r"\d{1,2}/\d{1,2}/\d{2,4}" + _TIME,
    "DD-MM-YYYY or MM-DD-YYYY": r"\d{1,2}-\d{1,2}-\d{4}" + _TIME,
    "DD.MM.YYYY": r"\d{1,2}\.\d{1,2}\.\d{2,4}" + _TIME,
    "day month-name year": r"\d{1,2}[ -][A-Za-z]{3,9}\.?[ -,]+\d{4}" + _TIME,
    "month-name day, year": r"[A-Za-z]{3,9}\.? \d{1,2},? \d{4}" + _TIME,
}

WEIGHTS = {"completeness": 0.4, "uniqueness": 0.2, "consistency": 0.2, "validity": 0.2}
SCORE_FORMULA = (
    "quality_score = 100 x (0.4 x completeness + 0.2 x uniqueness + 0.2 x consistency "
    "+ 0.2 x validity), where completeness = 1 - missing cells / all cells; "
    "uniqueness = 1 - duplicate rows / rows; consistency = 1 - values with a type issue / "
    "non-missing cells; validity = 1 - IQR outlier values / non-missing numeric values"
)


@dataclass(frozen=True)
class DuplicateRow(ToDict):
    """A row that occurs `copies` times in the table."""

    row: dict[str, Any]
    copies: int


@dataclass(frozen=True)
class TypeIssue(ToDict):
    """Values of a text column that do not fit what most of its values are."""

    column: str
    issue: str
    count: int
    examples: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class TextPatterns(ToDict):
    """What the values of one text column look like, counted in Step 2's pattern pass.

    `values`: present values; `numbers`: plain numbers; `leading_zeros`: digit strings
    starting with 0 (a code such as a ZIP: read as a number it would lose the zeros);
    `dates`: values per date format of `DATE_FORMATS` that matched any.
    """

    values: int
    numbers: int
    leading_zeros: int
    dates: dict[str, int]


@dataclass(frozen=True)
class OutlierCounts(ToDict):
    """Step 2's outlier view of one column: counts and bounds by IQR and by Z-score."""

    iqr: int
    zscore: int
    iqr_lower: float | None
    iqr_upper: float | None
    zscore_lower: float | None
    zscore_upper: float | None


@dataclass(frozen=True)
class Quality(ToDict):
    """Step 2: the data's quality figures and a score with its formula."""

    n_rows: int
    n_columns: int
    duplicate_rows: int
    duplicate_examples: tuple[DuplicateRow, ...]
    missing_cells: int
    missing_by_column: dict[str, int]
    outliers: dict[str, OutlierCounts]
    outlier_reports: tuple[OutlierReport, ...]
    type_issues: tuple[TypeIssue, ...]
    quality_score: float | None
    score_formula: str
    score_components: dict[str, float | None]
    notes: tuple[str, ...]
    text_patterns: dict[str, TextPatterns] = field(default_factory=dict)


def duplicates(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column], examples: int
) -> tuple[int, tuple[DuplicateRow, ...]]:
    """Exact full-row duplicates (rows minus distinct rows) and the most repeated rows.

    Missing values count as equal to each other, as in pandas' `duplicated()`.

    Only rows whose hash occurs twice or more can be copies (equal rows hash alike: DuckDB's
    GROUP BY relies on the same hash), so the exact GROUP BY of whole rows runs on those
    alone; a hash collision merely adds a candidate. Grouping every whole row instead held
    the table twice in memory (+280 MB on the 200 MB benchmark file) and took longer.
    """
    copies = quote_ident(fresh_name([c.name for c in cols], "signoff_copies"))
    order = ", ".join(str(i + 1) for i in range(len(cols)))
    source = quote_ident(table)
    row_hash = f"hash({', '.join(quote_ident(c.name) for c in cols)})"
    records = con.execute(
        f"SELECT *, sum({copies} - 1) OVER () FROM ("
        f"SELECT *, count(*) AS {copies} FROM {source} WHERE {row_hash} IN ("
        f"SELECT {row_hash} FROM {source} GROUP BY 1 HAVING count(*) > 1) GROUP BY ALL) "
        f"WHERE {copies} > 1 ORDER BY {copies} DESC, {order} LIMIT {max(int(examples), 1)}"
    ).fetchall()
    if not records:
        return 0, ()
    names = [c.name for c in cols]
    shown = records[: max(int(examples), 0)]
    rows = tuple(DuplicateRow(dict(zip(names, r[:-2], strict=True)), int(r[-2])) for r in shown)
    return int(records[0][-1]), rows


def _text_predicates(v: str) -> dict[str, str]:
    """Per-value SQL predicates whose counts reveal a text column's type problems."""
    predicates = {
        "number": f"regexp_full_match({v}, '{_NUMBER}')",
        "number_looking": f"regexp_full_match({v}, '{_NUMBER_LOOKING}')",
        "leading_zero": f"regexp_full_match({v}, '0[0-9]+')",
    }
    for label, pattern in DATE_FORMATS.items():
        predicates[label] = f"regexp_full_match(trim({v}), '{pattern}')"
    return predicates


def _pattern_counts_query(table: str, text: list[Column]) -> str:
    """Per text column: values, and how many match each predicate, in one query.

    The patterns run once per distinct value (weighted by its count), and the date formats
    only on values that look like some date, which keeps this pass cheap on repetitive text.
    """
    any_date = "|".join(f"({p})" for p in DATE_FORMATS.values())
    parts = []
    for i, column in enumerate(text):
        preds = _text_predicates("v")
        formats = " ".join(f"WHEN {preds[label]} THEN {k}" for k, label in enumerate(DATE_FORMATS))
        counts = ", ".join(
            [f"sum(n) FILTER (WHERE {preds['number']})"]
            + [f"sum(n) FILTER (WHERE {preds['number']} OR {preds['number_looking']})"]
            + [f"sum(n) FILTER (WHERE {preds['leading_zero']})"]
            + [f"sum(n) FILTER (WHERE fmt = {k})" for k in range(len(DATE_FORMATS))]
        )
        parts.append(
            f"(SELECT {i}, sum(n), {counts} FROM ("
            f"SELECT v, n, CASE WHEN regexp_full_match(trim(v), '{any_date}') "
            f"THEN CASE {formats} END END AS fmt FROM ("
            f"SELECT {value_expr(column)} AS v, count(*) AS n FROM {quote_ident(table)} "
            f"WHERE {value_expr(column)} IS NOT NULL GROUP BY 1)))"
        )
    return " UNION ALL ".join(parts)


def _numeric_text_issue(n: int, counts: dict[str, int]) -> tuple[str, int, str]:
    """('', 0, '') unless most values look like numbers; then the issue and its offenders.

    Digit strings with leading zeros (ZIP codes, account numbers) are codes: kept as text on
    purpose, so a column of them has no type issue (as a number it would lose the zeros)."""
    if counts["number_looking"] < MOSTLY * n or counts["leading_zero"]:
        return "", 0, ""
    share = counts["number_looking"] / n
    if counts["number"] == n:
        return "numbers stored as text", n, f"all {n} values are plain numbers stored as text"
    blocking = n - counts["number"]
    detail = (
        f"{share:.0%} of values look like numbers, but {blocking} are not plain numbers "
        "(thousands separators, currency signs, spaces or words)"
    )
    return "numeric-looking text", blocking, detail


def _date_issue(n: int, counts: dict[str, int]) -> tuple[str, int, str, list[str]]:
    """The mixed-date-format issue when most values look like dates in 2+ formats."""
    seen = {label: counts[label] for label in DATE_FORMATS if counts[label]}
    if len(seen) < 2 or sum(seen.values()) < MOSTLY * n:
        return "", 0, "", []
    dominant = max(seen, key=lambda label: seen[label])
    minority = [label for label in seen if label != dominant]
    listing = ", ".join(f"{label}: {count}" for label, count in seen.items())
    count = sum(seen[label] for label in minority)
    return "mixed date formats", count, f"date formats seen ({listing})", minority


def type_issues(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column], examples: int
) -> tuple[TypeIssue, ...]:
    """Numeric-looking text and mixed date formats in text columns, with offending values."""
    return type_figures(con, table, cols, examples)[0]


def type_figures(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column], examples: int
) -> tuple[tuple[TypeIssue, ...], dict[str, TextPatterns]]:
    """The type issues of the text columns, and the pattern counts they were judged by (the
    alerts read those: leading zeros, dates stored as text), from the one pattern pass."""
    text = [c for c in cols if c.is_text]
    if not text:
        return (), {}
    predicates = [_text_predicates(value_expr(c)) for c in text]
    found: list[tuple[Column, str, int, str, str]] = []
    patterns: dict[str, TextPatterns] = {}
    for i, n, *figures in con.execute(_pattern_counts_query(table, text)).fetchall():
        column, n = text[i], int(n or 0)
        counts = dict(zip(predicates[i], (int(f or 0) for f in figures), strict=True))
        if not n:
            continue
        dates = {label: counts[label] for label in DATE_FORMATS if counts[label]}
        patterns[column.name] = TextPatterns(n, counts["number"], counts["leading_zero"], dates)
        issue, count, detail = _numeric_text_issue(n, counts)
        if issue:
            number = predicates[i]["number"]
            offending = "true" if count == n else f"NOT {number}"
            found.append((column, issue, count, detail, offending))
        issue, count, detail, minority = _date_issue(n, counts)
        if issue:
            offending = " OR ".join(predicates[i][label] for label in minority)
            found.append((column, issue, count, detail, offending))
    samples = _offending_examples(con, table, [(c, p) for c, _, _, _, p in found], examples)
    issues = tuple(
        TypeIssue(column.name, issue, count, samples.get(k, ()), detail)
        for k, (column, issue, count, detail, _) in enumerate(found)
    )
    return issues, patterns


def _offending_examples(
    con: duckdb.DuckDBPyConnection,
    table: str,
    wanted: list[tuple[Column, str]],
    limit: int,
) -> dict[int, tuple[str, ...]]:
    """The most frequent offending values per issue, in one query."""
    if not wanted or limit <= 0:
        return {}
    source = quote_ident(table)
    parts = [
        f"(SELECT {k}, v FROM (SELECT {value_expr(c)} AS v, count(*) AS n FROM {source} "
        f"WHERE {value_expr(c)} IS NOT NULL AND ({p}) GROUP BY 1 ORDER BY n DESC, 1 "
        f"LIMIT {int(limit)}))"
        for k, (c, p) in enumerate(wanted)
    ]
    found: dict[int, list[str]] = {}
    for k, v in con.execute(" UNION ALL ".join(parts)).fetchall():
        found.setdefault(k, []).append(v)
    return {k: tuple(v) for k, v in found.items()}


def stats_from(overview: Overview) -> dict[str, NumericStats]:
    """The overview's numeric figures in the shape the outlier methods take."""
    return {
        c.name: NumericStats(c.count, c.mean, c.std, c.min, c.q1, c.median, c.q3, c.max)
        for c in overview.columns
        if Column(c.name, c.dtype).is_numeric
    }


def outlier_counts(iqr: OutlierReport, zscore: OutlierReport) -> dict[str, OutlierCounts]:
    by_z = {c.name: c for c in zscore.columns}
    return {
        c.name: OutlierCounts(
            c.count, by_z[c.name].count, c.lower, c.upper, by_z[c.name].lower, by_z[c.name].upper
        )
        for c in iqr.columns
    }


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else 1 - part / whole


def score(
    overview: Overview, duplicate_rows: int, issues: tuple[TypeIssue, ...], iqr: OutlierReport
) -> tuple[float | None, dict[str, float | None]]:
    """The quality score (0-100) and its components, as `SCORE_FORMULA` says."""
    cells = overview.n_rows * overview.n_columns
    missing = sum(overview.missing_by_column.values())
    # Over the columns the outliers were counted in (all numeric ones, unless capped).
    numeric = sum(c.count for c in overview.columns if c.name in iqr.counts)
    components = {
        "completeness": _ratio(missing, cells),
        "uniqueness": _ratio(duplicate_rows, overview.n_rows),
        "consistency": _ratio(sum(i.count for i in issues), cells - missing),
        "validity": _ratio(sum(iqr.counts.values()), numeric) if numeric else 1.0,
    }
    if overview.n_rows == 0 or cells - missing == 0:
        return None, components
    total = sum(WEIGHTS[k] * (1.0 if v is None else v) for k, v in components.items())
    return 100 * total, components


def _checked(con: duckdb.DuckDBPyConnection, table: str, given: Overview | None) -> Overview:
    if given is None:
        return compute_overview(con, table)
    if [c.name for c in given.columns] != [c.name for c in columns(con, table)]:
        raise QualityError(f"The overview given is of another table than {table!r}.")
    return given


def quality(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    overview: Overview | None = None,
    iqr_multiplier: float = 1.5,
    z_threshold: float = 3.0,
    examples: int = 5,
) -> Quality:
    """Step 2 on `table`, reusing Step 1's `overview` of the same table when given."""
    ov = _checked(con, table, overview)
    cols = columns(con, table)
    stats = stats_from(ov)
    dup_count, dup_rows = duplicates(con, table, cols, examples)
    issues, patterns = type_figures(con, table, cols, examples)
    iqr = outliers(
        con, table, method="iqr", iqr_multiplier=iqr_multiplier, stats=stats, examples=examples
    )
    zscore = outliers(
        con, table, method="zscore", z_threshold=z_threshold, stats=stats, examples=examples
    )
    notes = iqr.notes
    quality_score, components = score(ov, dup_count, issues, iqr)
    return Quality(
        n_rows=ov.n_rows,
        n_columns=ov.n_columns,
        duplicate_rows=dup_count,
        duplicate_examples=dup_rows,
        missing_cells=sum(ov.missing_by_column.values()),
        missing_by_column=dict(ov.missing_by_column),
        outliers=outlier_counts(iqr, zscore),
        outlier_reports=(iqr, zscore),
        type_issues=issues,
        quality_score=quality_score,
        score_formula=SCORE_FORMULA,
        score_components=components,
        notes=tuple(notes),
        text_patterns=patterns,
    )
