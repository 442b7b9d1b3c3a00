"""Which column kinds each chart kind takes per role (x, y, colour): the options offered
for a chart, and the sentence saying why a combination cannot be drawn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from steps.chart_builder.data import ChartSpec
from steps.chart_builder.kinds import COLUMN_KINDS
from steps.errors import ChartBuilderError
from steps.results import ToDict

ChartKind = Literal["scatter", "line", "bar", "histogram", "box"]
CHART_KINDS: tuple[str, ...] = ("scatter", "line", "bar", "histogram", "box")


@dataclass(frozen=True)
class BuilderOptions(ToDict):
    """The columns worth offering per role; an empty tuple means the role is not used."""

    kind: str
    x: tuple[str, ...]
    y: tuple[str, ...]
    color: tuple[str, ...]
    required: tuple[str, ...]


@dataclass(frozen=True)
class _Rule:
    label: str
    x: frozenset[str]
    y: frozenset[str]
    color: frozenset[str]
    required: tuple[str, ...]
    unused: Mapping[str, str]


_GROUPS = frozenset({"categorical", "boolean"})
_NUMERIC = frozenset({"numeric"})
_ORDERED = frozenset({"numeric", "datetime"})
_NONE: frozenset[str] = frozenset()
_RULES: dict[str, _Rule] = {
    "scatter": _Rule("scatter plot", _ORDERED, _NUMERIC, _GROUPS, ("x", "y"), {}),
    "line": _Rule("line chart", _ORDERED, _NUMERIC, _GROUPS, ("x",), {}),
    "bar": _Rule("bar chart", _GROUPS, _NUMERIC, _GROUPS, ("x",), {}),
    "histogram": _Rule(
        "histogram",
        _NUMERIC,
        _NONE,
        _GROUPS,
        ("x",),
        {"y": "it counts the rows in each bin of x"},
    ),
    "box": _Rule(
        "box plot",
        _GROUPS,
        _NUMERIC,
        _NONE,
        ("y",),
        {"color": "choose a categorical x to split the boxes into groups"},
    ),
}


def options(kind: str, kinds: Mapping[str, str]) -> BuilderOptions:
    """Columns worth offering for x, y and colour in a chart of this kind."""
    rule = _rule(kind)

    def fitting(allowed: frozenset[str]) -> tuple[str, ...]:
        return tuple(name for name, k in kinds.items() if k in allowed)

    return BuilderOptions(
        kind, fitting(rule.x), fitting(rule.y), fitting(rule.color), rule.required
    )


def _rule(kind: str) -> _Rule:
    rule = _RULES.get(kind)
    if rule is None:
        raise ChartBuilderError(
            f"{kind!r} is not a chart kind; choose one of {', '.join(CHART_KINDS)}."
        )
    return rule


def _either(kinds: frozenset[str]) -> str:
    ordered = [k for k in COLUMN_KINDS if k in kinds]
    return " or ".join(ordered)


def problem(spec: ChartSpec, kinds: Mapping[str, str]) -> str | None:
    """The sentence saying why `spec` cannot be drawn, or None when it can."""
    if spec.kind not in _RULES:
        return f"{spec.kind!r} is not a chart kind; choose one of {', '.join(CHART_KINDS)}."
    rule = _RULES[spec.kind]
    roles = {"x": spec.x, "y": spec.y, "color": spec.color}
    for role in rule.required:
        if roles[role] is None:
            return f"A {rule.label} needs {'an' if role == 'x' else 'a'} {role} column."
    for role, name in roles.items():
        if name is None:
            continue
        allowed = getattr(rule, role)
        if not allowed:
            why = rule.unused.get(role, "it does not use one")
            return f"A {rule.label} takes no {_role_name(role)} column: {why}."
        if name not in kinds:
            return f"There is no column named {name!r}."
        if kinds[name] not in allowed:
            return (
                f"A {rule.label} needs a {_either(allowed)} column as {_role_name(role)}, "
                f"but {name!r} is {kinds[name]}."
            )
    return None


def _role_name(role: str) -> str:
    return "colour" if role == "color" else role
