"""Prompts: aggregates only, exactly reproducible, rows only on opt-in and at most 20."""

from __future__ import annotations

import hashlib
import json

import pytest
from test_ai_fixtures import cell_strings, customer_frame, step_results

from ai.offline import OfflineAdvisor
from ai.prompts import MAX_ROWS, TooManyRowsError, prompt_for
from steps.recommend import RecommendContext


def test_prompt_sha256_is_the_hash_of_the_exact_text() -> None:
    prompt = prompt_for("quality", step_results()["quality"])
    assert prompt.sha256 == hashlib.sha256(prompt.text.encode()).hexdigest()
    assert prompt_for("quality", step_results()["quality"]) == prompt
    changed = {**step_results()["quality"], "duplicate_rows": 99}
    assert prompt_for("quality", changed).sha256 != prompt.sha256


@pytest.mark.parametrize("step", ["overview", "quality", "statistics"])
def test_prompts_carry_names_and_figures_but_no_cell_value(step: str) -> None:
    results = step_results()
    text = prompt_for(step, results).text
    assert not [c for c in cell_strings() if not c.isdigit() and c in text]
    for key in ("top_values", "examples", "duplicate_examples"):
        assert f'"{key}"' not in text
    for col in results["overview"]["columns"]:
        assert json.dumps(col["name"]) in text


def test_summaries_are_sent_for_numeric_columns_only() -> None:
    frame = customer_frame()
    figures = json.loads(
        prompt_for("overview", step_results()["overview"]).text.split("(JSON):\n")[1]
    )
    cols = {c["name"]: c for c in figures["overview"]["columns"]}
    assert cols["income"]["max"] == pytest.approx(frame["income"].max())
    assert cols["income"]["n_missing"] == frame["income"].isna().sum()
    assert set(cols["customer_id"]) == {"name", "kind", "n_missing", "n_distinct"}
    assert "min" not in cols["notes"] and "max" not in cols["region"]


def test_quality_prompt_keeps_counts_and_drops_type_issue_examples() -> None:
    q = step_results()["quality"]
    text = prompt_for("quality", q).text
    figures = json.loads(text.split("(JSON):\n")[1])["quality"]
    assert figures["duplicate_rows"] == customer_frame().duplicated().sum()
    assert figures["type_issues"] == [
        {
            "column": "zip",
            "issue": q["type_issues"][0]["issue"],
            "count": q["type_issues"][0]["count"],
        }
    ]
    assert "ZIP?unknown" not in text


def test_rows_only_on_opt_in_and_at_most_twenty() -> None:
    frame = customer_frame()
    ov = step_results()["overview"]
    assert 'customer_id": "CUST-' not in prompt_for("overview", ov).text
    rows = frame.head(MAX_ROWS).to_dict("records")
    text = prompt_for("overview", ov, rows=rows).text
    assert f"Rows the user chose to share ({MAX_ROWS})" in text
    assert all(r["customer_id"] in text for r in rows)
    with pytest.raises(TooManyRowsError) as error:
        prompt_for("overview", ov, rows=frame.head(MAX_ROWS + 1).to_dict("records"))
    assert str(error.value) == "At most 20 rows may be shared with the AI; 21 were given."


def test_recommend_prompt_carries_feedback_and_leaves_rejected_findings_out() -> None:
    results = step_results()
    findings = OfflineAdvisor().advise("statistics", results["statistics"]).findings
    leak = next(f for f in findings if f.title.startswith("Possible leakage"))
    context = RecommendContext(
        **results,
        decisions={
            "analysis_validation": {
                "status": "modified",
                "reviewer": "Ann",
                "notes": "spend_copy is an audit column",
            }
        },
        rejected_finding_ids=frozenset({leak.id}),
        reviewer_feedback=("Prioritise the missing incomes.",),
    )
    text = prompt_for("recommendations", context).text
    kept, rejected = text.split("Findings of Steps 1–3")[1].split("The reviewer rejected")
    assert leak.id not in kept and leak.title in rejected
    assert "- Prioritise the missing incomes." in text
    assert "analysis validation gate (modified): spend_copy is an audit column" in text
    assert "Ann" not in text


def test_unknown_steps_and_wrong_contexts_are_refused() -> None:
    with pytest.raises(ValueError, match="no prompt for step 'model'"):
        prompt_for("model", {})
    with pytest.raises(TypeError, match="RecommendContext"):
        prompt_for("recommendations", step_results())
