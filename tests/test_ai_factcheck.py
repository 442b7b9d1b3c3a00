"""Fact-check: planted wrong numbers are flagged, right ones (rounded, percent, scientific,
with separators) are not. Expected figures come from the frame, not from the checker."""

from __future__ import annotations

import pytest
from scipy import stats
from test_ai_fixtures import customer_frame, step_results

from ai.factcheck import stated_numbers, unverified_numbers


def flagged(text: str, parts: dict | None = None) -> list[str]:
    found = unverified_numbers([("detail", text)], step_results() if parts is None else parts)
    return [u.text for u in found]


@pytest.mark.parametrize(
    ("text", "value", "tolerance", "percent"),
    [
        ("1,234,567 rows", 1234567, 0.5, False),
        ("r = -0.45", 0.45, 0.005, False),
        ("87%", 87, 0.5, True),
        ("87.3 percent", 87.3, 0.05, True),
        ("p = 1.2e-5", 1.2e-5, 0.05e-5, False),
        ("3.5 million", 3.5e6, 0.05e6, False),
        ("12k", 12e3, 0.5e3, False),
    ],
)
def test_numbers_are_read_with_their_written_precision(
    text: str, value: float, tolerance: float, percent: bool
) -> None:
    (n,) = stated_numbers(text)
    assert n.value == pytest.approx(value)
    assert n.tolerance == pytest.approx(tolerance)
    assert n.percent is percent


def test_ordinals_and_digits_glued_to_letters_are_not_figures() -> None:
    assert stated_numbers("Step 2, gate 4, q3 and r2") == []


def test_planted_wrong_numbers_are_flagged_and_right_ones_are_not() -> None:
    frame = customer_frame()
    dupes = int(frame.duplicated().sum())
    income_missing = int(frame["income"].isna().sum())
    share = frame["notes"].isna().mean()
    r = stats.pearsonr(frame["tenure_years"], frame["visits"])[0]
    text = (
        f"There are {dupes} duplicate rows among {len(frame):,} rows. "
        f"income is missing in {income_missing + 971} rows. "
        f"notes is {share:.0%} missing, tenure_years and visits correlate at r = {r:.2f} "
        f"({r:.1%}), and the quality score is {step_results()['quality']['quality_score']:.1f}. "
        f"spend and visits correlate at r = {r - 0.2:.2f}."
    )
    assert flagged(text) == [str(income_missing + 971), f"{r - 0.2:.2f}"]


def test_rounding_is_tolerated_only_to_the_written_precision() -> None:
    frame = customer_frame()
    share = frame["notes"].isna().mean()  # 32/43 = 0.7442
    assert flagged(f"{share:.2f} of notes is missing") == []
    assert flagged(f"{share:.1%} of notes is missing") == []
    assert flagged(f"{share * 100:.0f}% of notes is missing") == []
    off_by_one_pct = f"{round(share * 100) + 1}%"
    assert flagged(f"{off_by_one_pct} of notes is missing") == [off_by_one_pct]


def test_scientific_p_values_and_bounds() -> None:
    frame = customer_frame()
    p = stats.pearsonr(frame["tenure_years"], frame["visits"])[1]
    mantissa, exponent = f"{p:.1e}".split("e")
    assert flagged(f"p = {mantissa}e{int(exponent)}") == []
    wrong = f"{float(mantissa) + 1:.1f}e{int(exponent)}"
    assert flagged(f"p = {wrong}") == [wrong]
    assert flagged("the pair is significant (p < 0.001)") == []


def test_sign_is_not_checked_but_magnitude_is() -> None:
    r = stats.pearsonr(customer_frame()["tenure_years"], customer_frame()["visits"])[0]
    assert flagged(f"a correlation of -{r:.2f}") == []


def test_numbers_in_column_names_are_not_checked() -> None:
    parts = {
        "quality": {"n_rows": 50, "missing_by_column": {"revenue_2019_q3": 7}},
    }
    assert flagged("revenue_2019_q3 has 7 missing values", parts) == []
    assert flagged("revenue_2019_q3 has 8 missing values", parts) == ["8"]


def test_method_constants_pass_only_in_their_phrases() -> None:
    parts = {"quality": {"n_rows": 50, "duplicate_rows": 12}}
    assert flagged("values outside 1.5 × IQR, or with |z| > 3, scored out of 100", parts) == []
    assert flagged("there are 3 duplicate rows", parts) == ["3"]
    assert flagged("quality.type_issues[7].count=12", parts) == []


def test_unverified_numbers_carry_their_sentence_and_place() -> None:
    (u,) = unverified_numbers(
        [("findings[1].detail", "All fine. income is missing in 99 rows! The end.")],
        step_results(),
    )
    assert (u.value, u.sentence, u.where) == (
        99.0,
        "income is missing in 99 rows!",
        "findings[1].detail",
    )
