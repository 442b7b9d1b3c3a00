"""A small customer table with planted problems, and the typed step results of it.

The other `test_ai_*` modules import these builders. The figures are computed by the real
steps (`steps.overview`, `steps.quality`, `steps.statistics`, `steps.model.baselines`) on a
DuckDB table, exactly as the flow computes them, and handed to advisors as
`steps.insights.Facts`. The results keep the cell values a prompt must never carry (top
values, duplicate rows, type-issue examples, class labels), so the privacy tests have
something to catch. The tests below check the planted problems against pandas, numpy and
scipy directly, so the expectations elsewhere do not rest on the steps alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table
from scipy import stats

from steps.insights import Facts, Step
from steps.model import ModelCard, baselines
from steps.overview import overview
from steps.quality import quality
from steps.statistics import statistics

N_CLEAN = 40
DUPLICATED = 3
REGIONS = ("Nordvik", "Sudholm", "Ostbrook")
STRONG = 0.7
# Features for the baseline models: few, so a card trains in about a second.
MODEL_FEATURES = ("income", "spend_copy", "tenure_years", "visits")
MODEL_FOLDS = 3  # half the training time of the default 5; the card has the same parts
TIERS = ("Gold-Tier", "Iron-Tier")


def customer_frame() -> pd.DataFrame:
    """40 customers plus 3 exact duplicate rows; income skewed with a planted outlier and
    gaps, visits tracking tenure, spend_copy leaking spend, a constant column, a mostly
    missing notes column, and zip codes stored as text with a junk marker."""
    rng = np.random.default_rng(7)
    income = np.round(rng.lognormal(mean=10.5, sigma=0.6, size=N_CLEAN), 2)
    income[5] = 912345.67
    spend = np.round(income * 0.3 + rng.normal(0, 2500, N_CLEAN), 2)
    spend[5] = 9100.0
    tenure = rng.integers(0, 20, N_CLEAN).astype(float)
    frame = pd.DataFrame(
        {
            "customer_id": [f"CUST-{i:05d}-X" for i in range(N_CLEAN)],
            "region": [REGIONS[i % 3] for i in range(N_CLEAN)],
            "income": income,
            "spend": spend,
            "spend_copy": spend * 1.0 + np.round(rng.normal(0, 0.01, N_CLEAN), 4),
            "tenure_years": tenure,
            "visits": np.round(tenure * 3 + rng.normal(0, 9, N_CLEAN)),
            "country": ["Freedonia"] * N_CLEAN,
            "notes": [f"zebra-note-{i}" if i % 4 == 0 else None for i in range(N_CLEAN)],
            "zip": [f"{10000 + 37 * i}" if i % 9 else "ZIP?unknown" for i in range(N_CLEAN)],
        }
    )
    frame.loc[[3, 11, 17, 23, 29, 33], "income"] = np.nan
    return pd.concat([frame, frame.iloc[[2, 8, 14]]], ignore_index=True)


def tiered_frame() -> pd.DataFrame:
    """The customers with a binary `tier` column, whose labels are cell values too."""
    frame = customer_frame()
    return frame.assign(tier=np.where(frame["visits"] > 30, TIERS[0], TIERS[1]))


def compute_facts(frame: pd.DataFrame) -> Facts:
    """Steps 1–3 on `frame`, as the flow runs them on a loaded table."""
    con = duckdb_table(frame)
    try:
        ov = overview(con, "data")
        q = quality(con, "data", overview=ov)
        s = statistics(con, "data", threshold=STRONG)
    finally:
        con.close()
    return Facts(ov, q, s)


@cache
def _customer_facts() -> Facts:
    return compute_facts(customer_frame())


def step_results(frame: pd.DataFrame | None = None) -> Facts:
    """The customers' Steps 1–3 (computed once per session; `Facts` are frozen), or those
    of another frame."""
    return _customer_facts() if frame is None else compute_facts(frame)


def step_facts(step: Step, facts: Facts | None = None) -> Facts:
    """What the flow hands an advisor for one step: that step's result and those before."""
    facts = step_results() if facts is None else facts
    if step == "overview":
        return Facts(facts.overview)
    if step == "quality":
        return Facts(facts.overview, facts.quality)
    return Facts(facts.overview, facts.quality, facts.statistics)


@cache
def model_card(target: str, features: Sequence[str] = MODEL_FEATURES) -> ModelCard:
    """The baseline card for `target` (`tier` lives in `tiered_frame`)."""
    frame = tiered_frame() if target == "tier" else customer_frame()
    con = duckdb_table(frame)
    try:
        kept = [f for f in features if f != target]
        return baselines(con, "data", target, features=kept, folds=MODEL_FOLDS)
    finally:
        con.close()


def with_model(target: str, facts: Facts | None = None) -> Facts:
    """Steps 1–3 plus the approved baseline card, as Step 4 reads them."""
    base = step_results() if facts is None else facts
    return dataclasses.replace(base, model=model_card(target))


def clean_frame() -> pd.DataFrame:
    """200 rows of two independent uniform columns (no value beyond the IQR fences) and a
    balanced category: nothing wrong."""
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "height": np.round(rng.uniform(150, 190, 200), 1),
            "weight": np.round(rng.uniform(50, 90, 200), 1),
            "group": [("a", "b", "c", "d")[i % 4] for i in range(200)],
        }
    )


def cell_strings() -> set[str]:
    """Every distinct text cell of the table (and the tier labels): none may reach a prompt
    without opt-in."""
    frame = tiered_frame()
    text = frame.select_dtypes(exclude="number")
    return {str(v) for col in text for v in text[col].dropna().unique()}


def test_planted_problems_are_in_the_figures() -> None:
    facts = step_results()
    ov, q, s = facts.overview, facts.quality, facts.statistics
    assert q is not None and s is not None
    assert q.duplicate_rows == DUPLICATED
    assert q.missing_by_column["income"] == 6  # the duplicated rows have an income
    assert q.missing_by_column["notes"] == len(customer_frame()) - 11
    assert q.outliers["income"].iqr >= 1
    assert [(t.column, t.count) for t in q.type_issues] == [("zip", 5)]
    assert ov.column("country").n_distinct == 1
    leak = [p for p in s.strong_correlations if {p.a, p.b} == {"spend", "spend_copy"}]
    assert leak and leak[0].r > 0.999
    assert s.distributions.numeric["income"].skewness > 3
    # Exact duplicates repeat customer_id, so only the de-duplicated table has an identifier.
    assert ov.column("customer_id").kind == "text"
    deduplicated = step_results(customer_frame().drop_duplicates()).overview
    assert deduplicated.column("customer_id").kind == "identifier"


def test_fixture_figures_agree_with_an_independent_computation() -> None:
    """pandas, numpy and scipy on the frame, against the figures the steps computed."""
    frame = customer_frame()
    facts = step_results()
    q, s = facts.quality, facts.statistics
    assert q is not None and s is not None
    assert q.duplicate_rows == frame.duplicated().sum()
    assert q.missing_by_column == {c: int(n) for c, n in frame.isna().sum().items()}
    spend = frame["spend"].to_numpy()
    col = facts.overview.column("spend")
    assert col.mean == pytest.approx(math.fsum(spend) / len(spend), rel=1e-12)
    assert col.std == pytest.approx(np.std(spend, ddof=1), rel=1e-12)
    x, y = frame["spend"].to_numpy(), frame["spend_copy"].to_numpy()
    pair = next(p for p in s.strong_correlations if p.b == "spend_copy")
    assert pair.r == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)
    r, p = stats.pearsonr(frame["tenure_years"], frame["visits"])
    pair = next(p for p in s.strong_correlations if p.b == "visits")
    assert (pair.r, pair.p_value) == (pytest.approx(r, rel=1e-12), pytest.approx(p, rel=1e-6))
    income = frame["income"].dropna()
    shape = s.distributions.numeric["income"]
    assert shape.skewness == pytest.approx(stats.skew(income, bias=False), rel=1e-9)
    assert shape.kurtosis == pytest.approx(stats.kurtosis(income, bias=False), rel=1e-9)


def test_the_model_cards_carry_class_labels_for_the_prompts_to_leave_out() -> None:
    """The binary and multiclass cards hold their labels (cell values), so the tests that
    say no prompt carries them have something to catch."""
    tier = model_card("tier")
    assert (tier.task, tier.classes, tier.positive_class) == ("binary", TIERS, TIERS[1])
    region = model_card("region")
    assert region.task == "multiclass" and set(region.classes) == set(REGIONS)
    assert {"leakage", "target_in_name"} <= {w.kind for w in model_card("spend").warnings}
