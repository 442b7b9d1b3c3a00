"""Alerts through the flow: in the record and the report (open until triaged), in the
exports, read by the offline advisor (the three false alarms of issue 13 gone), and a
triage applied headless: dismissed alerts leave the score and the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import VEGA, co2_with_integer_dates
from records import computed

from flow.stages import Options
from review.gates import undecided_states
from steps.errors import TriageError
from steps.exports.csv_metrics import metric_rows
from steps.exports.txt import txt_summary
from steps.load import load
from steps.report import build_report as stamped


def build_report(record):
    return stamped(record, [s.report_entry() for s in undecided_states(record)])


def actions(record) -> list[str]:
    return [i.title for i in record.recommendations.action_plan]


def findings(record) -> list:
    return [
        *record.shown.overview_insights.findings,
        *record.shown.quality_insights.findings,
        *(record.analysed.insights.findings if record.analysed else ()),
    ]


def test_seattle_zeros_are_the_finding_not_206_outliers():
    record = computed(load(VEGA / "seattle-weather.csv"))
    titles = [f.title for f in findings(record)]
    assert "precipitation is mostly zeros" in titles
    assert "Outliers in precipitation" not in titles
    assert not [t for t in actions(record) if "Review the outliers in precipitation" in t]
    report = build_report(record).to_dict()
    kinds = {(a["type"], tuple(a["columns"])) for a in report["alerts"]}
    assert ("zeros", ("precipitation",)) in kinds and ("zero_inflated", ("precipitation",)) in kinds
    assert all(a["triage"]["status"] == "open" for a in report["alerts"])


def test_co2_integer_date_is_a_trend_not_leakage(tmp_path: Path):
    record = computed(load(co2_with_integer_dates(tmp_path)))
    titles = [f.title for f in findings(record)]
    assert not [t for t in titles if t.startswith("Possible leakage")]
    trend = [f for f in findings(record) if f.title == "A trend over time: date and co2"]
    assert trend and trend[0].severity == "info"


def test_zip_codes_are_kept_as_codes(tmp_path: Path):
    zips = ["02134", "10001", "00501", "94105", "60601", "07030"] * 10
    path = tmp_path / "zips.csv"
    pd.DataFrame({"zip": zips, "n": range(60)}).to_csv(path, index=False)
    record = computed(load(path))
    assert not [t for t in actions(record) if t.startswith("Fix the types")]
    assert record.shown.quality.score_components["consistency"] == 1.0
    assert "zip is a code, kept as text" in [f.title for f in findings(record)]


def messy(tmp_path: Path) -> Path:
    path = tmp_path / "m.csv"
    rows = ["a,b,c"] + [f"{i % 7},{'' if i % 4 == 0 else i},x" for i in range(40)] + ["1,1,x"] * 3
    path.write_text("\n".join(rows) + "\n")
    return path


def test_exports_show_the_alerts(tmp_path: Path):
    report = build_report(computed(load(messy(tmp_path))))
    rows = list(metric_rows(report))
    assert ("alerts", "b", "missing.missing", 10) in rows
    assert ("alerts", "b", "missing.triage.status", "open") in rows
    text = txt_summary(report).decode()
    assert "Alerts" in text and "b is missing in 10 of 43 rows" in text
    assert "None" not in text and "nan" not in text.lower().split()


def test_a_saved_triage_dismisses_an_alert_out_of_score_and_plan(tmp_path: Path):
    loaded = load(messy(tmp_path))
    before = computed(loaded)
    assert [t for t in actions(before) if " b " in f" {t} " or t.endswith(" b")]
    triage = ({"type": "missing", "columns": ["b"], "status": "dismissed", "note": "optional"},)
    after = computed(load(messy(tmp_path)), Options(triage=triage))
    assert after.shown.quality.quality_score > before.shown.quality.quality_score
    assert any("dismissed at gate 1" in n for n in after.shown.quality.notes)
    assert not [t for t in actions(after) if " b " in f" {t} " or t.endswith(" b")]
    said = "Alerts dismissed at gate 1 are left out of this plan: missing:b."
    assert said in after.recommendations.next_steps
    entry = next(a for a in build_report(after).to_dict()["alerts"] if a["key"] == "missing:b")
    assert entry["triage"]["status"] == "dismissed" and entry["triage"]["note"] == "optional"
    json.dumps(entry)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ({"type": "nonsense", "columns": ["b"], "status": "accepted"}, "alert type"),
        ({"type": "missing", "columns": ["nope"], "status": "accepted"}, "column"),
        ({"type": "missing", "columns": ["b"], "status": "maybe"}, "status"),
        ({"type": "missing", "columns": ["b"], "status": "dismissed"}, "reason"),
        ({"type": "missing", "columns": ["c"], "status": "accepted"}, "does not have"),
    ],
)
def test_a_bad_triage_is_one_sentence(tmp_path: Path, entry: dict, said: str):
    with pytest.raises(TriageError) as refused:
        computed(load(messy(tmp_path)), Options(triage=(entry,)))
    message = str(refused.value)
    assert said in message and message.endswith(".") and "\n" not in message


def test_headless_writes_open_alerts_and_applies_a_saved_triage(tmp_path: Path, capsys):
    from steps.__main__ import main

    out = tmp_path / "r.json"
    assert main([str(VEGA / "seattle-weather.csv"), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert {a["triage"]["status"] for a in saved["alerts"]} == {"open"}
    zeros = next(a for a in saved["alerts"] if a["key"] == "zeros:precipitation")
    zeros["triage"].update(status="dismissed", note="rain is zero on dry days")
    triage = tmp_path / "triage.json"
    triage.write_text(json.dumps(saved))
    again = tmp_path / "r2.json"
    assert (
        main([str(VEGA / "seattle-weather.csv"), "--json", str(again), "--triage", str(triage)])
        == 0
    )
    by_key = {a["key"]: a["triage"] for a in json.loads(again.read_text())["alerts"]}
    assert by_key["zeros:precipitation"]["status"] == "dismissed"
    assert by_key["zero_inflated:precipitation"]["status"] == "open"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"type": "zeros", "columns": ["rainfall"], "status": "accepted"}]))
    refused = tmp_path / "r3.json"
    assert (
        main([str(VEGA / "seattle-weather.csv"), "--json", str(refused), "--triage", str(bad)]) == 2
    )
    assert not refused.exists()
    assert (
        "error: The triage names a column the data does not have: 'rainfall'."
        in capsys.readouterr().err
    )


def test_an_integer_date_feature_is_no_leakage_suspect_for_the_model(tmp_path: Path):
    path = co2_with_integer_dates(tmp_path)
    record = computed(load(path), Options(target="co2"))
    frame = pd.read_csv(path)
    assert abs(frame["date"].corr(frame["co2"])) > 0.98  # what the old check called leakage
    assert not [w for w in record.model.warnings if w.kind == "leakage" and w.column == "date"]


SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.mark.parametrize("path", [VEGA / "seattle-weather.csv", SAMPLES / "messy_orders.csv"])
def test_alert_findings_state_only_figures_the_fact_check_finds(path: Path):
    from ai.factcheck import unverified_numbers
    from ai.remote import _finding_texts
    from flow.stages import facts_of

    record = computed(load(path))
    facts = facts_of(record)
    alerted = [
        f for f in findings(record) if f.id and any(e.startswith("alerts[") for e in f.evidence)
    ]
    assert alerted, "the alerts reach the findings"
    assert unverified_numbers(_finding_texts(tuple(alerted)), facts) == ()


def test_prompts_carry_the_standing_alerts_without_cell_values(tmp_path: Path):
    from ai.prompts import aggregates
    from flow.stages import facts_of

    column = ["Secret-Top"] * 95 + ["b"] * 5
    path = tmp_path / "imb.csv"
    pd.DataFrame({"k": column, "n": range(100)}).to_csv(path, index=False)
    record = computed(load(path))
    for privacy in ("aggregates", "strict"):
        sent = aggregates(facts_of(record), "overview", privacy=privacy)
        imbalance = next(a for a in sent["alerts"] if a["type"] == "imbalance")
        assert imbalance["columns"] == ["k"] and "top_value" not in imbalance["figures"]
        assert "Secret-Top" not in json.dumps(sent["alerts"])
    dismissed = (
        {"type": "imbalance", "columns": ["k"], "status": "dismissed", "note": "by design"},
    )
    triaged = computed(load(path), Options(triage=dismissed))
    sent = aggregates(facts_of(triaged), "overview")
    assert not [a for a in sent.get("alerts", []) if a["type"] == "imbalance"]
