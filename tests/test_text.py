"""One definition each of how values become text: hashes, escapes, file names, numbers."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from steps.text import canonical_json, html_text, markdown_text, number_text, percent_text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (1234567, "1,234,567"),
        (3.0, "3"),
        (1.5, "1.5"),
        (110.12, "110.1"),
        (0.8734, "0.8734"),
        (12345.678, "12,346"),
        (-0.5, "-0.5"),
        (0.05, "0.05"),
        (94.60099547596012, "94.60"),  # rounded: the zero stays, so it reads as rounded
        (0.99996, "1.0000"),  # never passes for a perfect 1
        (1e-6, "1.000e-06"),
        (2e16, "2.000e+16"),
        (None, ""),
        (math.nan, ""),
        (math.inf, "∞"),
        (-math.inf, "−∞"),
        (True, "yes"),
        ("text", "text"),
    ],
)
def test_one_number_format_for_people(value: object, shown: str) -> None:
    assert number_text(value) == shown


def test_rounded_text_is_within_half_a_unit_of_its_last_digit() -> None:
    for value in (0.123456, 98.76543, 1.0004, 55555.5, 0.00123456):
        text = number_text(value).replace(",", "")
        decimals = len(text.split(".")[1]) if "." in text else 0
        assert abs(float(text) - value) <= 0.5 * 10**-decimals + 1e-12


def test_percent_text() -> None:
    assert percent_text(0.125) == "12.5%"


def test_canonical_json_is_the_documented_form() -> None:
    value = {"b": [1, 2.5, None], "a": "Zürich", "c": math.nan}
    text = canonical_json(value)
    assert text == '{"a":"Zürich","b":[1,2.5,null],"c":null}'
    assert json.loads(text) == {"a": "Zürich", "b": [1, 2.5, None], "c": None}
    assert (
        hashlib.sha256(text.encode()).hexdigest()
        == hashlib.sha256(
            canonical_json({"c": None, "a": "Zürich", "b": [1, 2.5, None]}).encode()
        ).hexdigest()
    )


def test_escapes_make_data_inert() -> None:
    payload = "<img src=x onerror=alert(1)> [a](javascript:x) **b** `c`\nd"
    assert "<" not in html_text(payload) and "&lt;img" in html_text(payload)
    inert = markdown_text(payload)
    assert not any(ch in inert for ch in "<>[]()*`\n")
