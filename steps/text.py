"""How values become text: for hashes, for HTML and markdown, for file names, for people.

One definition each, because two slightly different ones are how a hash stops matching,
an escape gets missed, or a figure reads `110.12000` in one view and `110.1` in another.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import string
import unicodedata
from typing import Any

from steps.results import json_safe

MAX_FILENAME = 128
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
_MARKDOWN_SAFE = {
    **{ch: f"&#{ord(ch)};" for ch in string.punctuation},
    "\n": " ",
    "\r": " ",
    "\t": " ",
}
SIGNIFICANT_DIGITS = 4


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII as is, no NaN: one text per JSON value, so a
    hash of it is reproducible anywhere (hash its UTF-8 bytes)."""
    return json.dumps(
        json_safe(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def json_sha256(value: Any) -> str:
    """SHA-256 of a value's canonical JSON: how results, plans, subjects and events are named."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def html_text(value: Any) -> str:
    """Data-derived text for HTML (reports, plotly's pseudo-HTML labels): `< > & " '` escaped."""
    return html.escape(str(value), quote=True)


def markdown_text(value: Any) -> str:
    """Data-derived text made inert for a markdown renderer that passes HTML through.

    marimo's `mo.md` renders raw HTML and markdown alike, and `marimo run` does not sanitise
    it, so `html.escape` alone still lets `[a](javascript:...)`, `**x**` or a backtick
    reshape the page. Every ASCII punctuation character becomes a numeric character
    reference (shown as itself), and line breaks become spaces, so no markdown or HTML
    construct can start inside the value. Not for code spans: put it in `<code>...</code>`.
    """
    return "".join(_MARKDOWN_SAFE.get(ch, ch) for ch in str(value))


def safe_filename(name: str, suffix: str = "", *, default: str = "signoff") -> str:
    """A file name safe on any file system and in a download: no path separators or
    control characters, bounded, never hidden, never a Windows device name.

    Letters and digits of any script survive; anything else becomes `_`. Idempotent, so
    `safe_filename(x) == x` tells whether `x` is already safe. `suffix` (e.g.
    `-report.json`) is kept whole however long the name is.
    """
    clean_suffix = re.sub(r"[^A-Za-z0-9.\-]", "", suffix)[:24]
    if clean_suffix and not clean_suffix.startswith((".", "-")):
        clean_suffix = "." + clean_suffix
    stem = unicodedata.normalize("NFKC", re.split(r"[\\/]", str(name or ""))[-1])
    stem = re.sub(r"[^\w.\-]+", "_", stem)
    stem = re.sub(r"_{2,}", "_", stem).strip("._-")
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"file-{stem}"
    stem = stem[: MAX_FILENAME - len(clean_suffix)].rstrip("._-")
    return (stem or default) + clean_suffix


def number_text(value: Any) -> str:
    """A figure as a person reads it, in every view: thousands separators, four
    significant digits by magnitude (scientific past 1e15 or below 1e-4), and a blank for
    a missing value — never `NaN` or `None`.

    Exact values live in the JSON and CSV exports; this is for reading.
    """
    if value is None or isinstance(value, str):
        return "" if value is None else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    magnitude = abs(number)
    if magnitude >= 1e15 or magnitude < 1e-4:
        return f"{number:.{SIGNIFICANT_DIGITS - 1}e}"
    decimals = max(0, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(magnitude)))
    text = f"{number:,.{decimals}f}"
    # Trailing zeros go only when nothing was rounded away: 1.5 reads "1.5", but 0.99996
    # reads "1.0000", not "1", so a near-perfect figure never passes for a perfect one.
    short = text.rstrip("0").rstrip(".") if "." in text else text
    return short if float(short.replace(",", "")) == number else text


def percent_text(fraction: float) -> str:
    """A share as a percentage with one decimal (`12.5%`)."""
    return f"{fraction:.1%}"
