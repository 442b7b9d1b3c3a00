"""Attribution: every number in an AI reply is checked against the figure its sentence (or
evidence path) is about, on real data through the real steps. Expected figures come from
pandas reading the same file, not from the checker."""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from helpers import duckdb_table
from review_walk import walk

from ai.factcheck import unverified_numbers
from ai.offline import OfflineAdvisor
from ai.remote import _finding_texts, _recommendation_texts
from flow import stages
from samples import SAMPLES, sample_path
from steps.cleaning import CleaningPlan
from steps.insights import Facts, UnverifiedNumber
from steps.load import load
from steps.overview import overview
from steps.quality import quality
from steps.record import Parameters, Record
from steps.settings import PRIVACY_MODES, Privacy
from steps.statistics import statistics


@functools.cache
def penguins() -> pd.DataFrame:
    return pd.read_csv(sample_path("penguins"))


@functools.cache
def penguin_facts() -> Facts:
    """Steps 1–3 of the bundled penguins, loaded as the app loads them."""
    loaded = load(sample_path("penguins"))
    ov = overview(loaded.con, loaded.table)
    q = quality(loaded.con, loaded.table, overview=ov)
    return Facts(ov, q, statistics(loaded.con, loaded.table))


def check(text: str, facts: Facts | None = None) -> list[UnverifiedNumber]:
    return list(unverified_numbers([("detail", text)], facts or penguin_facts()))


def only(text: str, facts: Facts | None = None) -> UnverifiedNumber:
    (flag,) = check(text, facts)
    return flag


def test_a_count_of_another_column_is_attributed_wrongly_with_the_true_value() -> None:
    frame = penguins()
    bill, sex = int(frame["bill_length_mm"].isna().sum()), int(frame["sex"].isna().sum())
    assert (bill, sex) == (2, 11)
    flag = only(f"bill_length_mm has {sex} missing values.")
    assert (flag.kind, flag.text, flag.expected) == ("misattributed", str(sex), bill)
    assert flag.figure == "overview.columns[bill_length_mm].n_missing"
    assert flag.matched == "overview.columns[sex].n_missing"
    assert flag.verdict() == (
        f"is attributed wrongly: overview.columns[bill_length_mm].n_missing is {bill} "
        f"({sex} is overview.columns[sex].n_missing)"
    )
    assert check(f"sex has {sex} missing values and bill_length_mm has {bill}.") == []


def test_a_share_of_duplicates_where_there_are_none() -> None:
    assert penguins().duplicated().sum() == 0
    flag = only("About 8 % of rows are duplicates.")
    assert (flag.expected, flag.figure) == (0, "quality.duplicate_rows / quality.n_rows")
    assert flag.verdict().endswith("quality.duplicate_rows / quality.n_rows is 0%")
    # 8 is a figure (the column count), just not the duplicates'.
    assert len(penguins().columns) == 8
    flag = only("There are 8 duplicate rows.")
    assert (flag.kind, flag.expected, flag.matched) == ("misattributed", 0, "overview.n_columns")
    assert check("There are no duplicate rows (0 %) among the 344 rows.") == []


@functools.cache
def eight_of_64_duplicated() -> Facts:
    """56 distinct orders and 8 of them twice: 8 duplicate rows, 12.5 % of 64."""
    frame = pd.DataFrame({"order": [f"A{i:03d}" for i in range(56)], "qty": range(56)})
    frame = pd.concat([frame, frame.head(8)], ignore_index=True)
    con = duckdb_table(frame)
    ov = overview(con, "data")
    return Facts(ov, quality(con, "data", overview=ov))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8 % of rows are duplicates.", 12.5),  # the count written as a share
        ("12.5 % of rows are duplicates.", None),
        ("13% of rows are duplicates.", None),  # rounded as written
        ("0.125 of the rows are duplicates.", None),  # a share as a fraction
        ("8 rows are duplicates.", None),
        ("12.5 rows are duplicates.", 8),  # the share written as a count
        ("87.5 % of rows are unique.", None),  # the complement
    ],
)
def test_percentages_are_shares_and_counts_are_counts(text: str, expected: float | None) -> None:
    q = eight_of_64_duplicated().quality
    assert q is not None and (q.duplicate_rows, q.n_rows) == (8, 64)
    flags = check(text, eight_of_64_duplicated())
    assert [f.expected for f in flags] == ([] if expected is None else [expected])


def test_rounded_numbers_hold_to_their_written_precision_only() -> None:
    frame = penguins()
    mean = frame["body_mass_g"].mean()
    r = frame["flipper_length_mm"].corr(frame["body_mass_g"])
    for said in (f"{mean:.2f}", f"{mean:,.0f}", f"{mean / 1000:.1f}k"):
        assert check(f"body_mass_g averages {said} g.") == [], said
    flag = only(f"body_mass_g averages {mean + 3:.0f} g.")
    assert flag.expected == pytest.approx(mean)
    assert flag.figure == "overview.columns[body_mass_g].mean"
    for said in (f"{r:.2f}", f"{r:.1f}", f"{r:.0%}"):
        assert check(f"flipper_length_mm and body_mass_g correlate (r = {said}).") == [], said
    flag = only(f"flipper_length_mm and body_mass_g correlate (r = {r - 0.1:.2f}).")
    assert flag.expected == pytest.approx(r)


def test_the_correlation_of_another_pair_is_attributed_wrongly() -> None:
    frame = penguins()
    strong = frame["flipper_length_mm"].corr(frame["body_mass_g"])
    bills = frame["bill_length_mm"].corr(frame["bill_depth_mm"])
    flag = only(f"bill_length_mm and bill_depth_mm are strongly correlated (r = {strong:.2f}).")
    assert flag.kind == "misattributed"
    assert flag.expected == pytest.approx(bills)
    assert flag.figure == "statistics.correlation[bill_length_mm,bill_depth_mm]"
    assert flag.matched is not None and "flipper_length_mm" in flag.matched
    # Signs are not checked: r is negative, prose says "a weak negative correlation of 0.24".
    assert check(f"bill_length_mm and bill_depth_mm: a negative correlation of {-bills:.2f}.") == []


def test_a_figure_of_another_kind_of_the_same_column_is_attributed_wrongly() -> None:
    frame = penguins()
    distinct = frame["bill_length_mm"].nunique()
    flag = only(f"bill_length_mm has {distinct} missing values.")
    assert (flag.kind, flag.expected) == ("misattributed", 2)
    assert flag.matched == "overview.columns[bill_length_mm].n_distinct"


def test_a_number_matching_nothing_is_unverified_and_names_the_figure_it_is_about() -> None:
    flag = only("bill_length_mm has 917 missing values.")
    assert (flag.kind, flag.expected, flag.matched) == ("unverified", 2, None)
    assert flag.verdict() == (
        "matches no computed figure; overview.columns[bill_length_mm].n_missing is 2"
    )
    flag = only("Remember the 917 penguins.")
    assert (flag.kind, flag.expected, flag.figure) == ("unverified", None, None)
    assert flag.verdict() == "matches no computed figure"


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ("quality.missing_by_column[sex]=11", None),
        ("quality.missing_by_column.sex=11", None),  # dotted
        ('quality.missing_by_column["sex"]=11', None),  # quoted
        ("missing_by_column[sex]=11", None),  # no step prefix
        ("overview.columns[bill_length_mm].n_missing=2", None),
        ("overview.columns[2].n_missing=2", None),  # the prompt's list index: bill_length_mm
        ("quality.missing_by_column[bill_length_mm]=11", 2),
        ("overview.columns[6].n_missing=2", 11),  # the 7th column is sex
        ("statistics.strong_correlations[flipper_length_mm,body_mass_g].r=0.87", None),
        ("statistics.strong_correlations[body_mass_g, flipper_length_mm].r=0.87", None),
        ("statistics.strong_correlations[0].r=-0.87", None),
        ("statistics.strong_correlations[flipper_length_mm,body_mass_g].r=0.24", 0.8712),
        ("quality.duplicate_rows=0", None),
        ("quality.duplicate_rows=8", 0),
        ("quality.quality_score=99.72", None),
        ("overview.n_rows=344", None),
        # A path the facts do not hold is read like a sentence: island, missing.
        ("quality.missing_by_column[island].count=11", 0),
    ],
)
def test_evidence_paths_are_resolved_against_the_facts(evidence: str, expected: float) -> None:
    flags = check(evidence)
    assert [round(f.expected, 4) for f in flags if f.expected is not None] == (
        [] if expected is None else [expected]
    )
    assert all(f.text in evidence for f in flags)


def test_a_wrong_evidence_value_names_the_figure_of_its_path() -> None:
    flag = only("quality.missing_by_column[bill_length_mm]=11")
    assert (flag.kind, flag.figure, flag.matched) == (
        "misattributed",
        "quality.missing_by_column[bill_length_mm]",
        "overview.columns[sex].n_missing",
    )
    assert flag.to_dict() == {
        "value": 11.0,
        "text": "11",
        "sentence": "quality.missing_by_column[bill_length_mm]=11",
        "where": "detail",
        "kind": "misattributed",
        "expected": 2.0,
        "figure": "quality.missing_by_column[bill_length_mm]",
        "matched": "overview.columns[sex].n_missing",
    }


def test_a_reply_with_the_right_numbers_in_the_right_places_raises_no_flag() -> None:
    frame = penguins()
    body = frame["body_mass_g"]
    r = frame["flipper_length_mm"].corr(body)
    reply = (
        f"The table has {len(frame)} rows and {frame.shape[1]} columns: 5 numeric and 3 "
        f"categorical. sex is missing in {frame['sex'].isna().sum()} rows "
        f"({frame['sex'].isna().mean():.1%}). Each of the four measurements misses 2 values. "
        f"body_mass_g ranges from {body.min():,.0f} to {body.max():,.0f} g, with a mean of "
        f"{body.mean():,.1f} g and a median of {body.median():,.0f} g; its standard "
        f"deviation is {body.std():.0f}. flipper_length_mm and body_mass_g move together "
        f"(r = {r:.3f}, n = {body.notna().sum()}), strongly above the 0.7 threshold. "
        f"year takes {frame['year'].nunique()} distinct values. No rows are duplicated (0%). "
        "The quality score is 99.7/100. Evidence: quality.missing_by_column[sex]=11, "
        f"statistics.strong_correlations[flipper_length_mm,body_mass_g].r={r:.4f}."
    )
    assert check(reply) == []


def _offline_texts(record: Record) -> list[tuple[str, str]]:
    texts = []
    assert record.analysed is not None and record.recommendations is not None
    for insights in (
        record.shown.overview_insights,
        record.shown.quality_insights,
        record.analysed.insights,
    ):
        texts += [(f"{insights.step}.{w}", t) for w, t in _finding_texts(insights.findings)]
    recs = record.recommendations
    texts += _recommendation_texts(
        recs.action_plan, list(recs.business_insights), list(recs.next_steps)
    )
    return texts


@pytest.mark.parametrize("privacy", PRIVACY_MODES)
@pytest.mark.parametrize("sample", [s.name for s in SAMPLES])
def test_the_offline_advisors_text_raises_no_flag_on_any_sample(
    sample: str, privacy: Privacy
) -> None:
    """Steps 1–4 through the stages, as the app runs them, in both privacy modes."""
    advisor = OfflineAdvisor(privacy=privacy)
    loaded = load(sample_path(sample))
    record, _ = stages.start(loaded, advisor, None)
    record, _ = stages.clean(record, loaded, CleaningPlan(), advisor, None)
    record, _ = stages.analyse(record, loaded.con, Parameters(), advisor, None)
    record, _ = stages.recommend(record, advisor, None)
    texts = _offline_texts(record)
    assert len(texts) > 10
    facts = stages.facts_of(record)
    assert unverified_numbers(texts, facts, privacy=privacy) == ()


def test_the_offline_advisors_text_about_a_model_raises_no_flag() -> None:
    """The penguins walk of the review tests, with a baseline model for body mass."""
    record = walk().complete
    assert record.approved_model is not None
    texts = _offline_texts(record)
    assert any("baseline" in t.lower() for _, t in texts)
    assert unverified_numbers(texts, stages.facts_of(record)) == ()
