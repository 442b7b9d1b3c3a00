"""The figures an AI answer may cite, each with what it is about: the catalog the fact-check
attributes stated numbers to.

A `Figure` is one computed number, or a share derived from one, named by its evidence path
(`quality.missing_by_column[bill_length_mm]`, the shapes the offline rules write), with the
column(s) it describes, the kinds of figure it is (missing, mean, correlation, …) and its
unit:

- *count*: rows, cells, values or columns. A percentage never matches a count ("8 %" is not
  8 duplicate rows);
- *share*: a count over its whole, as a fraction (2 / 344 missing); matched by "0.58 %" and
  by "0.0058";
- *value*: a measurement, score, correlation, p-value or metric; matched as written, and a
  percentage also as its fraction (r = 0.873 is "87.3 %").

Every figure comes from the typed step results (`Facts`), so it is the truth whether or not
the prompt showed it; in strict privacy mode a value also matches itself rounded to 2 and
4 significant digits, as the prompt showed it. Paths resolve in the forms a model writes
them: `[name]` or `.name` or `["name"]`, a list index as the prompt listed the items
(`overview.columns[2]`), a pair in either order, with or without the step prefix.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ai.numbers import StatedNumber, significant, stated_numbers
from steps.insights import Facts
from steps.model import MetricSummary, ModelCard
from steps.overview import Overview
from steps.quality import Quality
from steps.results import json_safe
from steps.settings import DEFAULT_PRIVACY, Privacy
from steps.statistics import Statistics

Unit = Literal["count", "share", "value"]

ROWS = "rows"
COLUMNS = "columns"
CONTEXT_KINDS = frozenset({ROWS, COLUMNS})
"""Kinds that are the setting of almost any sentence ("… of 344 rows"): a sentence is about
them only when it names no other kind."""

# The words a sentence uses for each kind of figure. Letters around a word end it, so
# `n_missing` and `missing_by_column` say "missing", `means` (the verb) does not say "mean".
# Generous on purpose: a word too many only widens what a number may match.
KIND_WORDS: dict[str, str] = {
    ROWS: r"rows?|records?|observations?|entries|entry|samples?|sampled|n|values",
    COLUMNS: r"columns?|fields?|variables?|features?|attributes?",
    "missing": (
        r"miss\w*|null|nulls|blanks?|empty|gaps?|incomplete|complete|completeness|absent"
        r"|nan|unknown|filled|present|non-missing"
    ),
    "distinct": r"distinct|unique|uniquely|cardinality|different|levels?|categories|constant"
    r"|single",
    "mean": r"mean|average\w*|avg|typical\w*|cent(?:red|ered)",
    "std": r"std|sd|standard|deviations?|spread|dispersion|variab\w*|variance|vary|varies",
    "extremes": (
        r"min|max|minimum|maximum|minima|maxima|lowest|highest|smallest|largest|greatest|least"
        r"|most|low|high|peaks?|floor|ceiling|tops?|bottom|ranges?|ranging|spans?|spanning"
        r"|between|from|up to|extremes?|\d\s*[–—-]\s*\d"
    ),
    "quantiles": (
        r"quartiles?|q1|q3|medians?|percentiles?|quantiles?|25th|50th|75th|interquartile|iqr"
        r"|middle|half"
    ),
    "duplicates": r"duplicat\w*|dupes?|repeat\w*|identical|copies|copy|twice|double\w*"
    r"|de-?duplicat\w*",
    "score": r"score\w*|quality|rating|grade",
    "outliers": r"outl\w*|outside|beyond|extremes?|anomal\w*|iqr|z-?scores?|z|fences?|flagged",
    "types": (
        r"types?|typed|format\w*|numeric-looking|mixed|pars\w*|malformed|invalid|text|strings?"
        r"|non-numeric|stored|dates?|convert\w*"
    ),
    "correlation": (
        r"correlat\w*|r|pearson|spearman|coefficients?|together|opposite|relationship|related"
        r"|associat\w*|linked|tracks?|collinear\w*|multicollinear\w*|leak\w*|pairs?|move|moves"
        r"|derived|redundan\w*|cram[eé]r\w*|v|eta|η|kendall|tau|τ|ratio"
    ),
    "p": r"p|p-?values?|significan\w*|insignifican\w*|chance",
    "skewness": r"skew\w*|asymmetr\w*",
    "kurtosis": r"kurtosis|tails?|tailed|peaked",
    "memory": r"memory|bytes?|kb|kib|mb|mib|gb|gib|size|megabytes?|kilobytes?",
    "threshold": r"threshold|cut-?off|strong|strongly",
    "metric": (
        r"r2|r²|r\^2|mae|rmse|mse|accuracy|f1\w*|auc|roc\w*|precision|recall|metrics?|error"
        r"|baseline|models?|cross-validat\w*|folds?|cv|explain\w*|predict\w*|performs?"
        r"|performance|reaches|achieves"
    ),
    "importance": r"importances?|important|weights?|contribut\w*|drives?|drivers?|influen\w*",
}
_KIND_PATTERNS = {
    kind: re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])", re.IGNORECASE)
    for kind, words in KIND_WORDS.items()
}
_STEP_PREFIXES = frozenset({"overview", "quality", "statistics", "model"})
_PATH_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")
_NAME_EDGE = r"A-Za-z0-9_"
_MIN_NAME_CHARS = 2
_KB, _KIB, _MB, _MIB = 1e3, 1024, 1e6, 2**20
_REL_EPS = 1e-9
# Per column: the counts every column has, then the summary values of numeric ones.
_COLUMN_FIELDS: tuple[tuple[str, Unit, frozenset[str]], ...] = (
    ("n_distinct", "count", frozenset({"distinct"})),
    ("count", "count", frozenset({ROWS})),
    ("mean", "value", frozenset({"mean"})),
    ("std", "value", frozenset({"std"})),
    ("min", "value", frozenset({"extremes"})),
    ("q1", "value", frozenset({"quantiles"})),
    ("median", "value", frozenset({"quantiles"})),
    ("q3", "value", frozenset({"quantiles"})),
    ("max", "value", frozenset({"extremes"})),
)
_PAIR_FIELDS: tuple[tuple[str, Unit, frozenset[str]], ...] = (
    ("r", "value", frozenset({"correlation"})),
    ("n", "count", frozenset({ROWS, "correlation"})),
    ("p_value", "value", frozenset({"p"})),
)


def kinds_in(text: str) -> frozenset[str]:
    """The kinds of figure `text` speaks of, by their words."""
    return frozenset(kind for kind, pattern in _KIND_PATTERNS.items() if pattern.search(text))


def path_key(path: str) -> tuple[str, ...]:
    """A path as the tokens that identify it: `a.b[c]`, `a.b.c` and `a.b["c"]` are one key;
    a pair is its two names in sorted order; case does not matter."""
    tokens = []
    for m in _PATH_TOKEN.finditer(path):
        raw = m[1] if m[1] is not None else m[2]
        parts = [p.strip().strip("\"'`").casefold() for p in raw.split(",")]
        tokens.append(",".join(sorted(parts)))
    return tuple(tokens)


@dataclass(frozen=True, eq=False)
class Figure:
    """One computed number an answer may cite: what it is (`path`), its value, its unit, the
    kinds of figure it is and the columns it describes (none: the whole table).

    `shown` holds the other values the prompt may have shown for it (rounded, in strict
    mode). `anywhere` marks the row count, the whole of every share: it fits any sentence.
    Figures compare by identity: two type issues of one column share a path, not a figure.
    """

    path: str
    value: float
    unit: Unit
    kinds: frozenset[str]
    columns: frozenset[str] = frozenset()
    shown: tuple[float, ...] = ()
    anywhere: bool = False

    @property
    def values(self) -> tuple[float, ...]:
        """The magnitudes it matches (signs are not checked)."""
        return (abs(self.value), *(abs(v) for v in self.shown))


def matches(n: StatedNumber, figure: Figure) -> bool:
    """Whether the stated number is this figure, to the precision it was written with."""
    if n.percent and figure.unit == "count":
        return False
    readings = [(n.value, n.tolerance)] if not n.percent or figure.unit == "value" else []
    if n.percent:
        readings.append((n.value / 100, n.tolerance / 100))
    for value, tolerance in readings:
        slack = tolerance + _REL_EPS * value
        for v in figure.values:
            if (0 < v <= value + slack) if n.upper_bound else abs(v - value) <= slack:
                return True
    return False


def in_stated_unit(n: StatedNumber, figure: Figure) -> float:
    """The figure's value as the number was written: a share as a percentage when the
    number is one."""
    return figure.value * 100 if n.percent and figure.unit == "share" else figure.value


@dataclass(frozen=True)
class Figures:
    """Every figure of the facts, looked up by path, by value and by what it is about."""

    figures: tuple[Figure, ...]
    by_path: Mapping[tuple[str, ...], tuple[Figure, ...]]
    _by_value: tuple[tuple[float, int], ...]
    _by_column: Mapping[str, tuple[int, ...]]
    _names: re.Pattern[str] | None
    _spelled: Mapping[str, str]

    def resolve(self, path: str) -> tuple[Figure, ...]:
        """The figures an evidence path names (none when it names no computed figure)."""
        key = path_key(path)
        return self.by_path.get(key, ())

    def matching(self, n: StatedNumber) -> list[Figure]:
        """Every figure the stated number matches, whatever it is about."""
        readings = [(n.value, n.tolerance)]
        if n.percent:
            readings.append((n.value / 100, n.tolerance / 100))
        near: dict[int, None] = {}
        for value, tolerance in readings:
            slack = tolerance + 2 * _REL_EPS * value
            low = 0.0 if n.upper_bound else value - slack
            i = bisect.bisect_left(self._by_value, (low, -1))
            j = bisect.bisect_right(self._by_value, (value + slack, len(self.figures)))
            near.update(dict.fromkeys(index for _, index in self._by_value[i:j]))
        return [self.figures[k] for k in near if matches(n, self.figures[k])]

    def about(self, kinds: frozenset[str], columns: frozenset[str]) -> list[Figure]:
        """The figures of these kinds that describe only the named columns (or the table)."""
        indices = set(self._by_column.get("", ()))
        for name in columns:
            indices.update(self._by_column.get(name, ()))
        found = (self.figures[i] for i in sorted(indices))
        return [f for f in found if f.kinds & kinds and f.columns <= columns]

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """Where column names occur in `text` (`start`, `end`, name), longest names first;
        a name with underscores is also found spelled with spaces."""
        if self._names is None:
            return []
        return [
            (m.start(), m.end(), self._spelled.get(m.group(0).casefold(), m.group(0)))
            for m in self._names.finditer(text)
        ]


class _Catalog:
    """Collects figures and the paths they answer to, then freezes them into `Figures`."""

    def __init__(self, privacy: Privacy) -> None:
        self.privacy = privacy
        self.figures: list[Figure] = []
        self.by_path: dict[tuple[str, ...], list[Figure]] = defaultdict(list)

    def add(
        self,
        path: str,
        value: Any,
        unit: Unit,
        kinds: Iterable[str],
        columns: Iterable[str] = (),
        *,
        aliases: Iterable[str] = (),
        anywhere: bool = False,
    ) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        number = float(value)
        if not math.isfinite(number):
            return
        shown: tuple[float, ...] = ()
        if self.privacy == "strict" and unit == "value":
            shown = (significant(number, 2), significant(number, 4))
        figure = Figure(path, number, unit, frozenset(kinds), frozenset(columns), shown, anywhere)
        self.figures.append(figure)
        for name in (path, *aliases):
            key = path_key(name)
            self.by_path[key].append(figure)
            if len(key) > 1 and key[0] in _STEP_PREFIXES:
                self.by_path[key[1:]].append(figure)

    def count(
        self,
        path: str,
        n: int,
        kinds: Iterable[str],
        columns: Iterable[str] = (),
        *,
        whole: tuple[str, int],
        aliases: Iterable[str] = (),
    ) -> None:
        """A count, its share of the whole, and the share's complement ("99 % complete")."""
        kinds, columns = frozenset(kinds), frozenset(columns)
        self.add(path, n, "count", kinds, columns, aliases=aliases)
        whole_path, total = whole
        if total > 0:
            self.add(f"{path} / {whole_path}", n / total, "share", kinds, columns)
            self.add(f"1 − {path} / {whole_path}", 1 - n / total, "share", kinds, columns)

    def listed(
        self, path: str, n: int, kinds: Iterable[str], *, aliases: Iterable[str] = ()
    ) -> None:
        """How many columns (or items) a list holds: "5 columns have missing values"."""
        self.add(path, n, "count", {COLUMNS, *kinds}, aliases=aliases)

    def freeze(self, names: Iterable[str]) -> Figures:
        searchable = sorted({n for n in names if len(n) >= _MIN_NAME_CHARS}, key=len, reverse=True)
        spelled: dict[str, str] = {}
        for name in searchable:
            for variant in (name, name.replace("_", " ")):
                spelled.setdefault(variant.casefold(), name)
        pattern = None
        if spelled:
            alternatives = "|".join(re.escape(v) for v in sorted(spelled, key=len, reverse=True))
            pattern = re.compile(
                rf"(?<![{_NAME_EDGE}])(?:{alternatives})(?![{_NAME_EDGE}])", re.IGNORECASE
            )
        by_value = sorted((v, i) for i, f in enumerate(self.figures) for v in f.values)
        by_column: dict[str, list[int]] = defaultdict(list)
        for i, f in enumerate(self.figures):
            for name in f.columns or ("",):
                by_column[name].append(i)
        return Figures(
            figures=tuple(self.figures),
            by_path={k: tuple(v) for k, v in self.by_path.items()},
            _by_value=tuple(by_value),
            _by_column={k: tuple(v) for k, v in by_column.items()},
            _names=pattern,
            _spelled=spelled,
        )


def _overview(c: _Catalog, ov: Overview, n_rows: int) -> None:
    rows = ("overview.n_rows", n_rows)
    c.add("overview.n_rows", ov.n_rows, "count", {ROWS}, anywhere=True)
    c.add("overview.n_columns", ov.n_columns, "count", {COLUMNS})
    c.add("overview.memory_bytes", ov.memory_bytes, "count", {"memory"})
    for unit, size in (("kB", _KB), ("KiB", _KIB), ("MB", _MB), ("MiB", _MIB)):
        c.add(f"overview.memory_bytes in {unit}", ov.memory_bytes / size, "value", {"memory"})
    for kind, n in sorted(ov.kind_counts.items()):
        c.listed(f"overview.kinds.{kind}", n, (), aliases=(f"overview.kind_counts.{kind}",))
    with_missing = sum(1 for col in ov.columns if col.n_missing)
    c.listed("columns with missing values", with_missing, {"missing"})
    for i, col in enumerate(ov.columns):
        path, index, on = f"overview.columns[{col.name}]", f"overview.columns[{i}]", {col.name}
        c.count(
            f"{path}.n_missing",
            col.n_missing,
            {"missing"},
            on,
            whole=rows,
            aliases=(f"{index}.n_missing",),
        )
        for field, unit, kinds in _COLUMN_FIELDS:
            if unit == "value" and col.kind != "numeric":
                continue
            c.add(
                f"{path}.{field}",
                getattr(col, field),
                unit,
                kinds,
                on,
                aliases=(f"{index}.{field}",),
            )


def _quality(c: _Catalog, q: Quality, n_columns: int) -> None:
    rows = ("quality.n_rows", q.n_rows)
    c.add("quality.n_rows", q.n_rows, "count", {ROWS}, anywhere=True)
    c.count("quality.duplicate_rows", q.duplicate_rows, {"duplicates"}, whole=rows)
    c.add(
        "quality.n_rows − quality.duplicate_rows",
        q.n_rows - q.duplicate_rows,
        "count",
        {ROWS, "duplicates", "distinct"},
    )
    cells = ("quality.n_rows × overview.n_columns", q.n_rows * n_columns)
    c.count("quality.missing_cells", q.missing_cells, {"missing"}, whole=cells)
    c.add("quality.quality_score", q.quality_score, "value", {"score"})
    for name, n in q.missing_by_column.items():
        c.count(f"quality.missing_by_column[{name}]", n, {"missing"}, {name}, whole=rows)
    for name, counts in q.outliers.items():
        for method in ("iqr", "zscore"):
            path = f"quality.outliers[{name}].{method}"
            c.count(path, getattr(counts, method), {"outliers"}, {name}, whole=rows)
    for i, issue in enumerate(q.type_issues):
        c.count(
            f"quality.type_issues[{issue.column}].count",
            issue.count,
            {"types", *kinds_in(issue.issue)},
            {issue.column},
            whole=rows,
            aliases=(f"quality.type_issues[{i}].count",),
        )
    with_missing = sum(1 for v in q.missing_by_column.values() if v)
    c.listed("columns with missing values", with_missing, {"missing"})
    for method, label in (("iqr", "IQR"), ("zscore", "z-score")):
        with_outliers = sum(1 for v in q.outliers.values() if getattr(v, method))
        c.listed(f"columns with {label} outliers", with_outliers, {"outliers"})
    c.listed("quality.type_issues", len(q.type_issues), {"types"})


def _statistics(c: _Catalog, s: Statistics) -> None:
    c.add("statistics.n_rows", s.n_rows, "count", {ROWS}, anywhere=True)
    c.add("statistics.threshold", s.threshold, "value", {"threshold", "correlation"})
    names = s.correlation.columns
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            c.add(
                f"statistics.correlation[{a},{names[j]}]",
                s.correlation.matrix[i][j],
                "value",
                {"correlation"},
                {a, names[j]},
                aliases=(
                    f"statistics.correlation.matrix[{i}][{j}]",
                    f"statistics.correlation.matrix[{j}][{i}]",
                ),
            )
    for i, pair in enumerate(s.strong_correlations):
        path, index = f"statistics.strong_correlations[{pair.a},{pair.b}]", i
        on = {pair.a, pair.b}
        for field, unit, kinds in _PAIR_FIELDS:
            c.add(
                f"{path}.{field}",
                getattr(pair, field),
                unit,
                kinds,
                on,
                aliases=(f"statistics.strong_correlations[{index}].{field}",),
            )
    c.listed("statistics.strong_correlations", len(s.strong_correlations), {"correlation"})
    for i, assoc in enumerate(s.strong_associations):
        path = f"statistics.strong_associations[{assoc.a},{assoc.b}]"
        on = {assoc.a, assoc.b}
        at = f"statistics.strong_associations[{i}]"
        c.add(f"{path}.value", assoc.value, "value", {"correlation"}, on, aliases=(f"{at}.value",))
        c.add(f"{path}.n", assoc.n, "count", {ROWS}, on, aliases=(f"{at}.n",))
    c.listed("statistics.strong_associations", len(s.strong_associations), {"correlation"})
    for name, dist in s.distributions.numeric.items():
        path = f"statistics.distributions[{name}]"
        c.add(f"{path}.skewness", dist.skewness, "value", {"skewness"}, {name})
        c.add(f"{path}.kurtosis", dist.kurtosis, "value", {"kurtosis"}, {name})


def _metrics(c: _Catalog, path: str, metrics: Mapping[str, MetricSummary], index: str) -> None:
    for metric, summary in metrics.items():
        for field in ("mean", "std"):
            c.add(
                f"{path}[{metric}].{field}",
                getattr(summary, field),
                "value",
                {"metric"},
                aliases=(f"{index}[{metric}].{field}",),
            )


def _model(c: _Catalog, card: ModelCard) -> None:
    c.add("model.sample_rows_used", card.sample_rows_used, "count", {ROWS})
    c.add("model.n_rows_total", card.n_rows_total, "count", {ROWS}, anywhere=True)
    c.add("model.folds", card.folds, "count", {"metric"})
    c.listed("model.features", len(card.features), {"metric"})
    c.listed("model.excluded_features", len(card.excluded_features), {"metric"})
    _metrics(c, "model.metrics", card.metrics, "model.metrics")
    for i, candidate in enumerate(card.candidates):
        _metrics(
            c,
            f"model.candidates[{candidate.name}].metrics",
            candidate.metrics,
            f"model.candidates[{i}].metrics",
        )
    for i, imp in enumerate(card.importances):
        c.add(
            f"model.importances[{imp.feature}].mean",
            imp.mean,
            "value",
            {"importance"},
            {imp.feature},
            aliases=(f"model.importances[{i}].mean",),
        )
    for i, warning in enumerate(card.warnings):
        on = {warning.column} if warning.column else set()
        kinds = kinds_in(warning.sentence) | {"metric"}
        for n in stated_numbers(warning.sentence):
            unit: Unit = "share" if n.percent else "value"
            c.add(f"model.warnings[{i}]", n.value / 100 if n.percent else n.value, unit, kinds, on)


def _rows(c: _Catalog, rows: Sequence[Mapping[str, Any]]) -> None:
    """The opted-in rows: each number in a cell describes its column."""
    for i, row in enumerate(json_safe(list(rows))):
        for name, cell in row.items():
            path = f"rows[{i}][{name}]"
            if isinstance(cell, str):
                for n in stated_numbers(cell):
                    c.add(path, n.value, "value", {ROWS}, {name})
            else:
                c.add(path, cell, "value", {ROWS}, {name})


def _alerts(c: _Catalog, facts: Facts) -> None:
    """Each alert's figures (`alerts[type:columns].figure`) and threshold, which the rules
    cite, of the kinds its own sentence speaks of; a share is a share, a count a count."""
    for alert in facts.alerts:
        kinds = {alert.type, *kinds_in(alert.message)}
        for name, value in alert.figures.items():
            unit: Unit = (
                "share" if name == "share" else "count" if isinstance(value, int) else "value"
            )
            c.add(f"alerts[{alert.key}].{name}", value, unit, kinds, alert.columns)
        path = f"alerts[{alert.key}].threshold"
        c.add(path, alert.threshold, "value", {*kinds, "threshold"}, alert.columns)


def figures(
    facts: Facts,
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    privacy: Privacy = DEFAULT_PRIVACY,
) -> Figures:
    """Every figure of the facts (and of the opted-in rows) an answer may cite."""
    catalog = _Catalog(privacy)
    ov, q = facts.overview, facts.quality
    _overview(catalog, ov, q.n_rows if q is not None else ov.n_rows)
    if q is not None:
        _quality(catalog, q, ov.n_columns)
    if facts.statistics is not None:
        _statistics(catalog, facts.statistics)
    if facts.model is not None:
        _model(catalog, facts.model)
    _alerts(catalog, facts)
    _rows(catalog, rows or ())
    names = [col.name for col in ov.columns]
    if facts.statistics is not None:
        names += facts.statistics.correlation.columns
    if facts.model is not None:
        names += [facts.model.target, *facts.model.features]
    return catalog.freeze(names)
