"""The offline advisor: deterministic, sensible on planted problems, quiet on clean data,
and never stating a figure it was not given."""

from __future__ import annotations

import json

import pytest
from scipy import stats
from test_ai_fixtures import (
    CLEAN_KINDS,
    cell_strings,
    clean_frame,
    customer_frame,
    step_results,
)

from ai.advisor import STEPS, finding_id
from ai.factcheck import unverified_numbers
from ai.offline import LEAKAGE_ABS_R, SKEW_HEAVY, OfflineAdvisor
from ai.remote import _finding_texts
from steps.recommend import RecommendContext

ADVISOR = OfflineAdvisor()


def findings_by_title(step: str, context: dict) -> dict[str, dict]:
    return {f["title"]: f for f in ADVISOR.advise(step, context).to_dict()["findings"]}


@pytest.mark.parametrize("step", STEPS)
def test_same_figures_give_byte_identical_findings(step: str) -> None:
    first = json.dumps(ADVISOR.advise(step, step_results()[step]).to_dict())
    again = json.dumps(OfflineAdvisor().advise(step, step_results()[step]).to_dict())
    assert first == again
    reordered = dict(reversed(list(step_results()[step].items())))
    assert json.dumps(ADVISOR.advise(step, reordered).to_dict()) == first


def test_overview_names_identifier_constant_and_missing_heavy_columns() -> None:
    frame = customer_frame()
    found = findings_by_title("overview", step_results()["overview"])
    notes_missing = frame["notes"].isna().mean()
    assert notes_missing >= 0.5
    heavy = found[f"notes is {notes_missing:.1%} missing"]
    assert heavy["severity"] == "critical"
    assert f"overview.columns[notes].n_missing={frame['notes'].isna().sum()}" in heavy["evidence"]
    assert found["customer_id looks like an identifier"]["severity"] == "info"
    assert found["country is constant"]["severity"] == "warning"
    assert f"{len(frame)} rows × {frame.shape[1]} columns" in found
    assert not any("income" in t and "missing" in t for t in found)  # 14% is not "heavy"


def test_quality_recommends_cleaning_with_the_figures() -> None:
    frame = customer_frame()
    results = step_results()
    found = findings_by_title("quality", results["quality"])
    dupes = int(frame.duplicated().sum())
    assert found[f"{dupes} duplicate rows"]["evidence"][0] == f"quality.duplicate_rows={dupes}"
    assert found[f"{int(frame['notes'].isna().sum())} missing values in notes"]["severity"] == (
        "critical"
    )
    assert "Outliers in income" in found
    assert "Outliers in tenure_years" not in found
    assert found["zip: non-numeric values in a numeric-looking column"]["severity"] == "warning"
    score = [t for t in found if t.startswith("Quality score")]
    assert score == [f"Quality score {results['quality']['quality_score']:.2f}/100"]


def test_cleaning_actions_follow_column_kinds_and_missing_shares() -> None:
    results = step_results()
    items = {i.title for i in ADVISOR.recommend(RecommendContext(**results)).action_plan}
    assert "Impute missing income with its median" in items
    assert "Drop notes or recover its missing values at the source" in items


def test_a_nested_context_gives_the_same_step_findings() -> None:
    """advise() takes the step's dict or `{step: dict, ...}` with earlier steps."""
    results = step_results()
    nested = {"overview": results["overview"], "quality": results["quality"]}
    flat = ADVISOR.advise("quality", results["quality"]).to_dict()
    assert ADVISOR.advise("quality", nested).to_dict() == flat


def test_statistics_flags_leakage_strong_pairs_and_skew() -> None:
    frame = customer_frame()
    found = findings_by_title("statistics", step_results()["statistics"])
    r = stats.pearsonr(frame["spend"], frame["spend_copy"])[0]
    assert abs(r) >= LEAKAGE_ABS_R
    assert found["Possible leakage: spend and spend_copy"]["severity"] == "critical"
    r_tv = stats.pearsonr(frame["tenure_years"], frame["visits"])[0]
    pair = found["tenure_years and visits are strongly correlated"]
    assert f"r = {r_tv:.3f}" in pair["detail"]
    skew = stats.skew(frame["income"].dropna(), bias=False)
    assert skew >= SKEW_HEAVY
    assert f"skewness {skew:.2f}" in found["income is right-skewed and heavy-tailed"]["detail"]
    assert abs(stats.skew(frame["tenure_years"], bias=False)) < SKEW_HEAVY
    assert not any(t.startswith("tenure_years is") for t in found)


def test_clean_data_raises_nothing_above_info() -> None:
    results = step_results(clean_frame(), CLEAN_KINDS)
    for step in STEPS:
        insights = ADVISOR.advise(step, results[step])
        assert all(f.severity == "info" for f in insights.findings), insights.findings


def test_empty_table_is_one_critical_finding() -> None:
    empty = {"n_rows": 0, "n_columns": 2, "columns": [], "memory_bytes": 0}
    (finding,) = ADVISOR.advise("overview", empty).findings
    assert (finding.title, finding.severity) == ("No data rows", "critical")
    assert finding.id == finding_id("overview", "empty")


@pytest.mark.parametrize("step", STEPS)
def test_offline_findings_pass_the_fact_check_and_carry_no_cell_value(step: str) -> None:
    """Two independent pieces agreeing: every number the rules write is a computed figure."""
    context = step_results()[step]
    insights = ADVISOR.advise(step, context)
    assert unverified_numbers(_finding_texts(insights.findings), {step: context}) == ()
    text = json.dumps(insights.to_dict())
    cells = [c for c in cell_strings() if not c.isdigit()]
    assert not [c for c in cells if c in text]


def test_finding_ids_survive_a_change_of_figures() -> None:
    """Reviewers reject by id: the id follows the subject, not the numbers."""
    results = step_results()
    before = findings_by_title("quality", results["quality"])
    bumped = {**results["quality"], "duplicate_rows": results["quality"]["duplicate_rows"] + 5}
    after = findings_by_title("quality", bumped)
    dupes = results["quality"]["duplicate_rows"]
    assert before[f"{dupes} duplicate rows"]["id"] == after[f"{dupes + 5} duplicate rows"]["id"]


def test_timeout_setting_falls_back_to_the_default_when_unusable() -> None:
    from ai.advisor import DEFAULT_TIMEOUT_S, timeout_from

    assert timeout_from({"SIGNOFF_AI_TIMEOUT": "2.5"}) == 2.5
    for raw in ("", "soon", "0", "-3"):
        assert timeout_from({"SIGNOFF_AI_TIMEOUT": raw}) == DEFAULT_TIMEOUT_S
    assert timeout_from({}) == DEFAULT_TIMEOUT_S == 30.0
