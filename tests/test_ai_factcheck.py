"""Fact-check: planted wrong numbers are flagged, right ones (rounded, percent, scientific,
with separators) are not. Expected figures come from the frame, not from the checker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_ai_fixtures import customer_frame, model_card, step_results, with_model

from ai.factcheck import unverified_numbers
from ai.figures import figures
from ai.numbers import stated_numbers
from steps.insights import Facts


def flagged(text: str, facts: Facts | None = None) -> list[str]:
    found = unverified_numbers([("detail", text)], step_results() if facts is None else facts)
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
    q = step_results().quality
    assert q is not None and q.quality_score is not None
    quality_score = q.quality_score  # the score's formula lives in steps.quality only
    text = (
        f"There are {dupes} duplicate rows among {len(frame):,} rows. "
        f"income is missing in {income_missing + 971} rows. "
        f"notes is {share:.0%} missing, tenure_years and visits correlate at r = {r:.2f} "
        f"({r:.1%}), and the quality score is {quality_score:.1f}. "
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
    revenue = [1000.0 + 10 * i for i in range(43)] + [np.nan] * 7
    facts = step_results(pd.DataFrame({"revenue_2019_q3": revenue}))
    assert facts.quality is not None and facts.quality.missing_by_column == {"revenue_2019_q3": 7}
    assert flagged("revenue_2019_q3 has 7 missing values", facts) == []
    assert flagged("revenue_2019_q3 has 8 missing values", facts) == ["8"]


def test_method_constants_pass_only_in_their_phrases() -> None:
    facts = step_results(pd.DataFrame({"amount": [1000 + i for i in range(38)] + [1000] * 12}))
    assert facts.quality is not None
    assert (facts.quality.n_rows, facts.quality.duplicate_rows) == (50, 12)
    assert flagged("values outside 1.5 × IQR, or with |z| > 3, scored out of 100", facts) == []
    assert flagged("there are 3 duplicate rows", facts) == ["3"]
    # A list index is not a number; the value is, and this table has no type issues.
    assert flagged("quality.type_issues[7].count=12", facts) == ["12"]


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


def test_the_approved_models_metrics_are_figures() -> None:
    """Step 4 may quote the approved model's metrics; a wrong one is flagged."""
    card = model_card("spend")
    facts = with_model("spend")
    r2, mae = card.metrics["r2"].mean, card.metrics["mae"].mean
    assert flagged(f"The baseline reaches r2 {r2:.3f} with an MAE of {mae:.4g}.", facts) == []
    assert flagged(f"The baseline reaches an MAE of {mae:.4g}.") == [f"{mae:.4g}"]  # no card
    wrong = f"{mae * 3:.4g}"
    assert flagged(f"The baseline reaches an MAE of {wrong}.", facts) == [wrong]


def test_the_figures_are_the_facts_plus_the_derived_ones_and_the_opted_in_rows() -> None:
    frame = customer_frame()
    values = {f.path: f.value for f in figures(step_results()).figures}
    assert values["overview.n_rows"] == len(frame)
    assert values["quality.duplicate_rows"] == frame.duplicated().sum()
    # rows left after de-duplication, and the share of duplicates
    assert (
        values["quality.n_rows − quality.duplicate_rows"] == len(frame) - frame.duplicated().sum()
    )
    assert values["quality.duplicate_rows / quality.n_rows"] == frame.duplicated().mean()
    rows = frame.head(2).to_dict("records")
    income = frame["income"].iloc[0]
    assert income not in values.values()
    with_rows = {f.path: f.value for f in figures(step_results(), rows).figures}
    assert with_rows["rows[0][income]"] == income
