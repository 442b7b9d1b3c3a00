"""How numbers are written and read: the numbers in a text with the precision they were
written to, and figures rounded to a number of significant digits.

One module for both directions, because the fact-check must read a number exactly as a
prompt (or a model) wrote it: `~9.9e+06` in a strict prompt and "9.9 million" in an answer
are the same figure to the same precision.

- Precision comes from the text: `0.87` stands for 0.865 ≤ x < 0.875, `87%` for 86.5–87.5 %,
  `1.2e-5` for its mantissa's digits, `1,234` is 1234, `1.2 million` is 1 150 000–1 250 000.
- Digits glued to letters or underscores (`q3`, `r2`, `revenue_2019`) are not numbers, nor
  the step or gate ordinals ("Step 2", "gates 4 and 5", "Steps 1–3").
- `< x` / `≤ x` (e.g. "p < 0.001") reads as an upper bound.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<mantissa>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+−]?\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|[kKM]\b|bn\b))?"
    r"(?P<pct>\s?%|\s?percent\b)?"
)
_SCALES = {"thousand": 1e3, "k": 1e3, "K": 1e3, "million": 1e6, "M": 1e6, "billion": 1e9, "bn": 1e9}
_ORDINAL = re.compile(
    r"(?:step|gate)s?\s*(?:\d+\s*(?:,|and|or|to|–|-)\s*)*$",
    re.IGNORECASE,
)
_BOUND = re.compile(r"(?:<|≤|<=|below|under|less than)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class StatedNumber:
    """A number as written: its magnitude, how precisely it was written, and how it reads.

    `start`/`end` locate it in the text it was read from.
    """

    value: float
    tolerance: float
    percent: bool
    upper_bound: bool
    text: str
    start: int
    end: int


def _tolerance(mantissa: str, exponent: int, scale: float) -> float:
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (exponent - decimals) * scale


def _read(m: re.Match[str], text: str) -> StatedNumber:
    before = text[: m.start()]
    mantissa = m["mantissa"].replace(",", "")
    exponent = int(m["exp"].replace("−", "-")) if m["exp"] else 0
    scale = _SCALES.get((m["scale"] or "").strip(), 1.0)
    return StatedNumber(
        value=float(mantissa) * 10.0**exponent * scale,
        tolerance=_tolerance(mantissa, exponent, scale),
        percent=bool(m["pct"]),
        upper_bound=bool(_BOUND.search(before)),
        text=m.group(0).strip(),
        start=m.start(),
        end=m.start() + len(m.group(0).rstrip()),
    )


def stated_numbers(text: str) -> list[StatedNumber]:
    """Every number in `text` with the precision it was written to."""
    return [
        _read(m, text) for m in _NUMBER.finditer(text) if not _ORDINAL.search(text[: m.start()])
    ]


def number_at(text: str, pos: int) -> StatedNumber | None:
    """The number that starts exactly at `pos` (after a `path=`), if one does."""
    m = _NUMBER.match(text, pos)
    return _read(m, text) if m else None


def significant(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant digits (0 and non-finite values unchanged)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")
