"""Every number an AI states is checked against the figure it is about.

A stated number is first *attributed*: the sentence it stands in names columns (by their
exact names, case-insensitive, an underscore also read as a space) and kinds of figure
(missing, distinct, mean, duplicates, correlation, … by their words, `ai.figures.KIND_WORDS`);
an evidence path (`quality.missing_by_column[X]=v`, `statistics.strong_correlations[a,b].r=v`)
names its figure outright and is resolved against the typed facts (`ai.figures`). Then it is

- *verified* when it matches, to the precision it was written with (`ai.numbers`), a figure
  of those kinds that describes only the named columns or the whole table; or the row
  count, the whole of every share; or any figure at all when the sentence names no kind;
- *misattributed* when it matches only figures its sentence is not about: flagged with the
  figure it is about (`figure`, `expected`) and one it does match (`matched`);
- *unverified* when it matches no computed figure at all.

Conventions, deliberately:

- Percentages vs counts: "8 %" matches a share (of rows, of cells) or a value (a score; a
  correlation as "87 %"), never a count: 8 duplicate rows are not "8 % of rows".
- Signs are not checked: prose writes "a negative correlation of 0.45" for r = −0.45.
- A flag always names the figure the number should have been, or none when the sentence
  names no figure. So a sentence whose subject has no figure (the mean of a text column)
  is judged against every figure, and one that names a kind but no column the facts know
  ("flipper length" for `flipper_length_mm`) is satisfied by that kind's figure of any
  column.
- Within one sentence numbers are not paired with its columns one by one: "A has 2 missing
  and B has 11" passes when A has 11 and B has 2.
- Numbers inside column names are not numbers, nor the conventional method constants *in
  their phrases only*: "1.5 × IQR", "|z| > 3", "out of 100" / "/100", "p < 0.05", nor list
  indices (`strong_correlations[2]`).
- In strict privacy mode the prompt showed rounded figures, and those are accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.figures import CONTEXT_KINDS, Figure, Figures, figures, in_stated_unit, kinds_in, matches
from ai.numbers import StatedNumber, number_at, stated_numbers
from steps.insights import Check, Facts, UnverifiedNumber
from steps.settings import DEFAULT_PRIVACY, Privacy

_METHOD_PHRASES = re.compile(
    r"\[\d+\]"
    r"|\d+(?:\.\d+)?\s*[×x*]\s*(?:the\s+)?IQR"
    r"|\|z\|\s*(?:>|≥|>=)\s*\d+(?:\.\d+)?"
    r"|(?:out of|/)\s*100\b"
    r"|(?:[<>≥≤]=?|above|below)\s*0?\.0[15]\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
# `path=value`: a dotted or bracketed path (a bare word only if it is a figure's name),
# then the value, perhaps marked approximate or signed.
_EVIDENCE = re.compile(
    r"(?<![\w.\[\]])(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]\n]*\])*)\s*=\s*[~≈]?\s*[-−+]?"
)


@dataclass(frozen=True)
class _Scope:
    """What a number's sentence (or evidence path) is about."""

    kinds: frozenset[str]
    columns: frozenset[str]


@dataclass(frozen=True)
class _Flag:
    kind: Check
    about: Figure | None
    matched: Figure | None


def _blanked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """The text with the spans blanked out, positions kept."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _sentence_span(text: str, start: int) -> tuple[int, int]:
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text) + 1]
    begin = max(b for b in bounds if b <= start)
    end = min((b for b in bounds if b > start), default=len(text))
    return begin, min(end, len(text))


def _expected(n: StatedNumber, about: list[Figure], scope: _Scope) -> Figure | None:
    """The figure the number should have been: of those the scope is about, the one naming
    most of its columns, in the number's unit (a percentage is no count, a number above 1 no
    fraction), closest in value."""
    candidates = [f for f in about if not f.anywhere and _same_unit(n, f)]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda f: (-len(f.columns & scope.columns), abs(in_stated_unit(n, f) - n.value)),
    )


def _same_unit(n: StatedNumber, f: Figure) -> bool:
    if n.percent:
        return f.unit != "count"
    return f.unit != "share" or n.value <= 1


def _judge(n: StatedNumber, scope: _Scope, catalog: Figures) -> _Flag | None:
    """The verdict on a number in prose; None when it holds.

    Any figure of the sentence's kinds (rows and columns among them) supports it. Rows and
    columns are the setting of a sentence ("… of 344 rows"), not its subject: a sentence
    that names no other kind is judged against every figure, and the figure a number should
    have been is sought among the other kinds.
    """
    hits = catalog.matching(n)
    specific = scope.kinds - CONTEXT_KINDS
    subject = catalog.about(specific, scope.columns) if specific else []
    if not hits:
        return _Flag("unverified", _expected(n, subject, scope), None)
    if not specific or any(h.anywhere for h in hits):
        return None
    if set(hits) & set(catalog.about(scope.kinds, scope.columns)):
        return None
    if not scope.columns and any(h.kinds & specific and h.columns for h in hits):
        return None
    expected = _expected(n, subject, scope)
    if expected is None:
        return None
    matched = next((h for h in hits if h.kinds & scope.kinds), hits[0])
    return _Flag("misattributed", expected, matched)


def _judge_path(n: StatedNumber, named: tuple[Figure, ...], catalog: Figures) -> _Flag | None:
    """The verdict on `path=value` whose path names figures."""
    if any(matches(n, f) for f in named):
        return None
    hits = catalog.matching(n)
    expected = min(named, key=lambda f: abs(in_stated_unit(n, f) - n.value))
    return _Flag("misattributed" if hits else "unverified", expected, hits[0] if hits else None)


def _flag(where: str, text: str, n: StatedNumber, flag: _Flag) -> UnverifiedNumber:
    value = -n.value if text[: n.start].rstrip().endswith(("-", "−")) else n.value
    begin, end = _sentence_span(text, n.start)
    about = flag.about
    return UnverifiedNumber(
        value=value,
        text=n.text,
        sentence=text[begin:end].strip(),
        where=where,
        kind=flag.kind,
        expected=in_stated_unit(n, about) if about is not None else None,
        figure=about.path if about is not None else None,
        matched=flag.matched.path if flag.matched is not None else None,
    )


def _check(where: str, text: str, catalog: Figures) -> list[UnverifiedNumber]:
    """The flags of one text, in the order its numbers stand."""
    mentions = catalog.mentions(text)
    names_out = _blanked(text, [(start, end) for start, end, _ in mentions])

    def scope(begin: int, end: int) -> _Scope:
        named = frozenset(name for s, e, name in mentions if begin <= s and e <= end)
        return _Scope(kinds_in(names_out[begin:end]), named)

    flagged: list[tuple[int, UnverifiedNumber]] = []
    consumed = []
    for m in _EVIDENCE.finditer(text):
        n = number_at(text, m.end())
        if n is None:
            continue
        path = m["path"]
        named = catalog.resolve(path)
        if not named and "." not in path and "[" not in path:
            continue  # `r = 0.87` is prose, not a path
        consumed.append((m.start(), n.end))
        verdict = (
            _judge_path(n, named, catalog) if named else _judge(n, scope(*m.span("path")), catalog)
        )
        if verdict is not None:
            flagged.append((n.start, _flag(where, text, n, verdict)))
    spans = [(s, e) for s, e, _ in mentions] + consumed
    spans += [m.span() for m in _METHOD_PHRASES.finditer(text)]
    for n in stated_numbers(_blanked(text, spans)):
        verdict = _judge(n, scope(*_sentence_span(text, n.start)), catalog)
        if verdict is not None:
            flagged.append((n.start, _flag(where, text, n, verdict)))
    return [u for _, u in sorted(flagged, key=lambda pair: pair[0])]


def unverified_numbers(
    texts: Iterable[tuple[str, str]],
    facts: Facts,
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    privacy: Privacy = DEFAULT_PRIVACY,
) -> tuple[UnverifiedNumber, ...]:
    """The numbers in `(where, text)` pairs that the figures they are about do not support.

    `rows` are the opted-in rows the model was shown; `privacy` the mode its prompt was
    built in (strict: the rounded figures it showed count as the reference too).
    """
    catalog = figures(facts, rows, privacy=privacy)
    return tuple(u for where, text in texts for u in _check(where, text, catalog))
