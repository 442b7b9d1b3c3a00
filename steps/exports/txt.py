"""The TXT summary: the outline for an 80-column terminal, control characters shown escaped."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterable

from steps.exports.outline import Table, outline, status_line
from steps.report import Report

TEXT_WIDTH = 80


def txt_summary(report: Report) -> bytes:
    lines = [
        _clip(_terminal_safe(f"signoff report: {report.record.source.name}"), TEXT_WIDTH),
        *_wrap(status_line(report)),
        "=" * TEXT_WIDTH,
    ]
    for section in outline(report):
        lines += ["", section.title, "-" * len(section.title)]
        lines += _text_facts(section.facts)
        for table in section.tables:
            lines += ["", *_wrap(table.caption)] if table.caption else [""]
            lines += _text_table(table)
        lines += [ln for b in section.bullets for ln in _wrap(b, "  - ", "    ")]
        lines += [ln for f in section.flagged for ln in _wrap(f, "  ! ", "    ")]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _text_facts(facts: Iterable[tuple[str, str]]) -> list[str]:
    """`label: value` lines; an unbreakable value too long for its line (a hash) goes below."""
    facts = list(facts)
    if not facts:
        return []
    width = min(max(len(label) for label, _ in facts) + 2, 24)
    lines = []
    for label, value in facts:
        head = f"  {label + ':':<{width}}"
        if " " not in value and len(head) + len(value) > TEXT_WIDTH:
            lines += [head.rstrip(), *_wrap(value, "    ", "    ")]
        else:
            lines += _wrap(value, head, " " * len(head))
    return lines


def _text_table(table: Table) -> list[str]:
    """Right-aligned figures; a table too wide for 80 columns is split, repeating column 1."""
    cells = [table.headers, *table.rows]
    clean = [[_terminal_safe(c) for c in row] for row in cells]
    widths = [min(max(len(row[i]) for row in clean), 30) for i in range(len(table.headers))]
    first = min(widths[0], 24)
    lines: list[str] = []
    for group in _column_groups(widths[1:], TEXT_WIDTH - 2 - first):
        for row in clean:
            parts = [_clip(row[0], first).ljust(first)]
            for i in group:
                cell = _clip(row[i + 1], widths[i + 1])
                align = cell.rjust if table.numeric[i + 1] else cell.ljust
                parts.append(align(widths[i + 1]))
            lines.append(("  " + "  ".join(parts)).rstrip())
        lines.append("")
    return lines[:-1]


def _column_groups(widths: list[int], room: int) -> list[list[int]]:
    """Indices of the non-first columns, packed greedily into groups that fit `room`."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, width in enumerate(widths):
        if groups[-1] and used + 2 + width > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += 2 + width
    return groups


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        _terminal_safe(text),
        TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _terminal_safe(text: str) -> str:
    """Control and format characters (escape sequences, bidi overrides) shown as \\uXXXX."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text
    )
