"""Prompts: aggregates only, exactly reproducible, rows only on opt-in and at most 20."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from test_ai_fixtures import (
    REGIONS,
    TIERS,
    cell_strings,
    customer_frame,
    model_card,
    step_facts,
    step_results,
    with_model,
)

from ai.offline import OfflineAdvisor
from ai.prompts import aggregates, recommend_prompt, step_prompt
from ai.types import MAX_ROWS
from steps.errors import TooManyRowsError
from steps.insights import STEPS, Step
from steps.recommend import RecommendContext


def figures_sent(text: str) -> dict:
    """The JSON figures block of a prompt."""
    block = text.split("(JSON):\n", 1)[1]
    return json.JSONDecoder().raw_decode(block)[0]


def test_prompt_sha256_is_the_hash_of_the_exact_text() -> None:
    facts = step_facts("quality")
    prompt = step_prompt("quality", facts)
    assert prompt.sha256 == hashlib.sha256(prompt.text.encode()).hexdigest()
    assert step_prompt("quality", step_facts("quality")) == prompt
    assert facts.quality is not None
    changed = dataclasses.replace(
        facts, quality=dataclasses.replace(facts.quality, duplicate_rows=99)
    )
    assert step_prompt("quality", changed).sha256 != prompt.sha256


@pytest.mark.parametrize("step", STEPS)
def test_prompts_carry_names_and_figures_but_no_cell_value(step: Step) -> None:
    facts = with_model("tier")  # everything there is, cell values and class labels among it
    text = step_prompt(step, facts).text
    assert not [c for c in cell_strings() if not c.isdigit() and c in text]
    for key in ("top_values", "top", "examples", "duplicate_examples", "row", "detail"):
        assert f'"{key}"' not in text
    # Steps 1 and 2 are sent every column; Step 3 the columns it correlated.
    assert facts.statistics is not None
    names = (
        facts.statistics.correlation.columns
        if step == "statistics"
        else [c.name for c in facts.overview.columns]
    )
    for name in names:
        assert json.dumps(name) in text


def test_summaries_are_sent_for_numeric_columns_only() -> None:
    frame = customer_frame()
    figures = figures_sent(step_prompt("overview", step_facts("overview")).text)
    cols = {c["name"]: c for c in figures["overview"]["columns"]}
    assert cols["income"]["max"] == pytest.approx(frame["income"].max())
    assert cols["income"]["n_missing"] == frame["income"].isna().sum()
    assert set(cols["customer_id"]) == {"name", "kind", "n_missing", "n_distinct"}
    assert "min" not in cols["notes"] and "max" not in cols["region"]


def test_quality_prompt_keeps_counts_and_drops_type_issue_examples() -> None:
    facts = step_facts("quality")
    assert facts.quality is not None
    (issue,) = facts.quality.type_issues
    assert issue.examples == ("ZIP?unknown",)
    text = step_prompt("quality", facts).text
    figures = figures_sent(text)["quality"]
    assert figures["duplicate_rows"] == customer_frame().duplicated().sum()
    assert figures["type_issues"] == [{"column": "zip", "issue": issue.issue, "count": 5}]
    assert "ZIP?unknown" not in text and issue.detail not in text


def test_rows_only_on_opt_in_and_at_most_twenty() -> None:
    frame = customer_frame()
    facts = step_facts("overview")
    assert 'customer_id": "CUST-' not in step_prompt("overview", facts).text
    rows = frame.head(MAX_ROWS).to_dict("records")
    text = step_prompt("overview", facts, rows=rows).text
    assert f"Rows the user chose to share ({MAX_ROWS})" in text
    assert all(r["customer_id"] in text for r in rows)
    too_many = frame.head(MAX_ROWS + 1).to_dict("records")
    with pytest.raises(TooManyRowsError) as error:
        step_prompt("overview", facts, rows=too_many)
    assert str(error.value) == "At most 20 rows may be shared with the AI; 21 were given."
    with pytest.raises(TooManyRowsError):
        recommend_prompt(RecommendContext(step_results()), rows=too_many)


def test_recommend_prompt_carries_feedback_and_leaves_rejected_findings_out() -> None:
    facts = step_results()
    findings = OfflineAdvisor().advise("statistics", step_facts("statistics")).findings
    leak = next(f for f in findings if f.title.startswith("Possible leakage"))
    context = RecommendContext(
        facts,
        rejected_finding_ids=frozenset({leak.id}),
        feedback=(
            "Analysis validation gate: spend_copy is an audit column",
            "Prioritise the missing incomes.",
        ),
    )
    text = recommend_prompt(context).text
    kept, rejected = text.split("Findings of Steps 1–3")[1].split("The reviewer rejected")
    assert leak.id not in kept and leak.title in rejected
    assert "- Prioritise the missing incomes." in text
    assert "- Analysis validation gate: spend_copy is an audit column" in text
    # Gate statuses no longer feed Step 4 (issue 12): the prompt carries none.
    assert "Gate decisions" not in text and "pending" not in text


def test_recommend_prompt_uses_the_findings_as_shown() -> None:
    """The findings reviewers saw (e.g. a model's) are the ones Step 4 is told of; the
    offline rules fill in only when none are given."""
    facts = step_results()
    shown = OfflineAdvisor().advise("quality", step_facts("quality")).findings[:1]
    text = recommend_prompt(RecommendContext(facts, findings=shown)).text
    listed = json.loads(text.split("(cite their ids in finding_ids):\n")[1])
    assert [f["id"] for f in listed] == [shown[0].id]
    derived = recommend_prompt(RecommendContext(facts)).text
    assert len(json.loads(derived.split("(cite their ids in finding_ids):\n")[1])) > 1


@pytest.mark.parametrize("target", ["tier", "region"])
def test_class_labels_never_reach_the_step_4_prompt(target: str) -> None:
    """A classification target's labels are cell values: the model card keeps them, the
    prompt (and what the fact-check calls sendable) does not."""
    card = model_card(target)
    assert set(card.classes) == set(TIERS if target == "tier" else REGIONS)
    facts = with_model(target)
    text = recommend_prompt(RecommendContext(facts)).text
    assert not [label for label in card.classes if label in text]
    sent = figures_sent(text)["model"]
    assert "classes" not in sent and "positive_class" not in sent
    assert sent["target"] == card.target and sent["selected"] == card.selected
    assert set(sent["metrics"]) == set(card.metrics)
    assert aggregates(facts)["model"] == sent


def test_step_prompts_carry_only_their_steps_figures() -> None:
    facts = with_model("spend")
    assert set(figures_sent(step_prompt("overview", facts).text)) == {"overview"}
    assert set(figures_sent(step_prompt("quality", facts).text)) == {"overview", "quality"}
    assert set(figures_sent(step_prompt("statistics", facts).text)) == {"statistics"}
    recommend = figures_sent(recommend_prompt(RecommendContext(facts)).text)
    assert set(recommend) == {"overview", "quality", "statistics", "model"}


def test_unknown_steps_are_refused() -> None:
    for step in ("model", "recommendations"):
        with pytest.raises(ValueError, match=f"no prompt for step '{step}'"):
            step_prompt(step, step_results())
