"""The offline advisor: deterministic, sensible on planted problems, quiet on clean data,
and never stating a figure it was not given."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from scipy import stats
from test_ai_fixtures import (
    cell_strings,
    clean_frame,
    compute_facts,
    customer_frame,
    step_facts,
    step_results,
    with_model,
)

from ai.factcheck import unverified_numbers
from ai.offline import OfflineAdvisor
from ai.remote import _finding_texts
from ai.rules.statistics import LEAKAGE_ABS_R, SKEW_HEAVY
from steps.errors import SettingsError
from steps.insights import STEPS, Facts, Step, finding_id
from steps.recommend import RecommendContext
from steps.settings import DEFAULT_AI_TIMEOUT_S, Settings
from steps.text import number_text

ADVISOR = OfflineAdvisor()


def findings_by_title(step: Step, facts: Facts | None = None) -> dict[str, dict]:
    given = step_facts(step, facts)
    return {f["title"]: f for f in ADVISOR.advise(step, given).to_dict()["findings"]}


def _reversed(mapping: dict) -> dict:
    return dict(reversed(list(mapping.items())))


def reordered(facts: Facts) -> Facts:
    """The same figures with every per-column mapping in the opposite order."""
    q, s = facts.quality, facts.statistics
    assert q is not None and s is not None
    q = dataclasses.replace(
        q, missing_by_column=_reversed(q.missing_by_column), outliers=_reversed(q.outliers)
    )
    dist = dataclasses.replace(s.distributions, numeric=_reversed(s.distributions.numeric))
    return dataclasses.replace(
        facts, quality=q, statistics=dataclasses.replace(s, distributions=dist)
    )


@pytest.mark.parametrize("step", STEPS)
def test_same_figures_give_byte_identical_findings(step: Step) -> None:
    first = json.dumps(ADVISOR.advise(step, step_facts(step)).to_dict())
    recomputed = step_facts(step, compute_facts(customer_frame()))
    assert json.dumps(OfflineAdvisor().advise(step, recomputed).to_dict()) == first
    again = step_facts(step, reordered(step_results()))
    assert json.dumps(ADVISOR.advise(step, again).to_dict()) == first


def test_overview_names_identifier_constant_and_missing_heavy_columns() -> None:
    frame = customer_frame()
    found = findings_by_title("overview")
    notes_missing = frame["notes"].isna().mean()
    assert notes_missing >= 0.5
    heavy = found[f"notes is {notes_missing:.1%} missing"]
    assert heavy["severity"] == "critical"
    assert f"overview.columns[notes].n_missing={frame['notes'].isna().sum()}" in heavy["evidence"]
    assert found["country is constant"]["severity"] == "warning"
    assert f"{len(frame)} rows × {frame.shape[1]} columns" in found
    assert not any("income" in t and "missing" in t for t in found)  # 14% is not "heavy"
    # customer_id repeats in the duplicated rows; without them it names every record.
    assert "customer_id looks like an identifier" not in found
    unique = findings_by_title("overview", step_results(frame.drop_duplicates()))
    assert unique["customer_id looks like an identifier"]["severity"] == "info"


def test_quality_recommends_cleaning_with_the_figures() -> None:
    frame = customer_frame()
    facts = step_results()
    assert facts.quality is not None
    found = findings_by_title("quality")
    dupes = int(frame.duplicated().sum())
    assert found[f"{dupes} duplicate rows"]["evidence"][0] == f"quality.duplicate_rows={dupes}"
    assert found[f"{int(frame['notes'].isna().sum())} missing values in notes"]["severity"] == (
        "critical"
    )
    assert "Outliers in income" in found
    assert "Outliers in tenure_years" not in found
    (issue,) = facts.quality.type_issues
    assert found[f"zip: {issue.issue}"]["severity"] == "warning"
    score = [t for t in found if t.startswith("Quality score")]
    # Prose numbers read as every view shows them (steps.text.number_text).
    assert score == [f"Quality score {number_text(facts.quality.quality_score)}/100"]


def test_cleaning_actions_follow_column_kinds_and_missing_shares() -> None:
    items = {i.title for i in ADVISOR.recommend(RecommendContext(step_results())).action_plan}
    assert "Impute missing income with its median" in items
    assert "Drop notes or recover its missing values at the source" in items


def test_later_steps_in_the_facts_do_not_change_a_steps_findings() -> None:
    """A step's findings rest on its own figures (and the kinds for quality): the facts
    of later steps and the model card, as Step 4 holds them, change nothing."""
    everything = with_model("spend")
    for step in STEPS:
        alone = ADVISOR.advise(step, step_facts(step)).to_dict()
        assert ADVISOR.advise(step, everything).to_dict() == alone


def test_statistics_flags_leakage_strong_pairs_and_skew() -> None:
    frame = customer_frame()
    found = findings_by_title("statistics")
    r = stats.pearsonr(frame["spend"], frame["spend_copy"])[0]
    assert abs(r) >= LEAKAGE_ABS_R
    assert found["Possible leakage: spend and spend_copy"]["severity"] == "critical"
    r_tv = stats.pearsonr(frame["tenure_years"], frame["visits"])[0]
    pair = found["tenure_years and visits are strongly correlated"]
    assert f"r = {number_text(r_tv)}" in pair["detail"]
    skew = stats.skew(frame["income"].dropna(), bias=False)
    assert skew >= SKEW_HEAVY
    detail = found["income is right-skewed and heavy-tailed"]["detail"]
    assert f"skewness {number_text(skew)}" in detail
    assert abs(stats.skew(frame["tenure_years"], bias=False)) < SKEW_HEAVY
    assert not any(t.startswith("tenure_years is") for t in found)


def test_clean_data_raises_nothing_above_info() -> None:
    facts = step_results(clean_frame())
    for step in STEPS:
        insights = ADVISOR.advise(step, step_facts(step, facts))
        assert all(f.severity == "info" for f in insights.findings), insights.findings


def test_empty_table_is_one_critical_finding() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=str)})
    facts = step_results(empty)
    (finding,) = ADVISOR.advise("overview", Facts(facts.overview)).findings
    assert (finding.title, finding.severity) == ("No data rows", "critical")
    assert finding.id == finding_id("overview", "empty")
    assert ADVISOR.advise("quality", facts).findings == ()


@pytest.mark.parametrize("step", STEPS)
def test_offline_findings_pass_the_fact_check_and_carry_no_cell_value(step: Step) -> None:
    """Two independent pieces agreeing: every number the rules write is a computed figure."""
    facts = step_facts(step)
    insights = ADVISOR.advise(step, facts)
    assert insights.findings
    assert unverified_numbers(_finding_texts(insights.findings), facts) == ()
    text = json.dumps(insights.to_dict())
    cells = [c for c in cell_strings() if not c.isdigit()]
    assert not [c for c in cells if c in text]


def test_finding_ids_survive_a_change_of_figures() -> None:
    """Reviewers reject by id: the id follows the subject, not the numbers."""
    facts = step_results()
    assert facts.quality is not None
    before = findings_by_title("quality")
    dupes = facts.quality.duplicate_rows
    bumped = dataclasses.replace(
        facts, quality=dataclasses.replace(facts.quality, duplicate_rows=dupes + 5)
    )
    after = findings_by_title("quality", bumped)
    assert before[f"{dupes} duplicate rows"]["id"] == after[f"{dupes + 5} duplicate rows"]["id"]


def test_timeout_setting_is_read_once_and_a_bad_one_is_refused() -> None:
    """A bad SIGNOFF_AI_TIMEOUT is one sentence at start-up now, not a silent default."""
    assert Settings.from_env({"SIGNOFF_AI_TIMEOUT": "2.5"}).ai.timeout_s == 2.5
    for unset in ({}, {"SIGNOFF_AI_TIMEOUT": ""}, {"SIGNOFF_AI_TIMEOUT": "  "}):
        assert Settings.from_env(unset).ai.timeout_s == DEFAULT_AI_TIMEOUT_S == 30.0
    for raw in ("soon", "0", "-3", "nan", "inf"):
        with pytest.raises(SettingsError) as error:
            Settings.from_env({"SIGNOFF_AI_TIMEOUT": raw})
        assert str(error.value) == (
            f"SIGNOFF_AI_TIMEOUT must be a positive number of seconds, not {raw!r}."
        )
