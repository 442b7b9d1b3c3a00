"""The notebook run headless (`app.run()`), with `defs=` standing in for the reviewer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import app
from samples import sample_path

MESSY = {"name": "messy_orders.csv", "data": sample_path("messy_orders")}


@pytest.fixture(autouse=True)
def private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def answer(verdict: str, **extra) -> dict:
    return {"verdict": verdict, "reviewer": "Ada", "notes": "checked", **extra}


def decision_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT kind, actor, payload FROM events WHERE kind = 'decision' ORDER BY id"
        ).fetchall()


def test_without_a_decision_steps_after_gate_one_do_not_run() -> None:
    _, defs = app.run(defs={"source": MESSY})
    assert defs["ov"].n_rows == 2000
    assert defs["gate1"].status == "pending"
    assert not defs["gate1"].open
    assert "q_clean" not in defs


def test_approval_is_recorded_in_sqlite(private_files: Path) -> None:
    _, defs = app.run(defs={"source": MESSY, "gate1_answer": answer("approve")})
    assert defs["gate1"].status == "approved"
    rows = decision_rows(private_files / "signoff.db")
    assert len(rows) == 1
    assert rows[0][1] == "Ada"
    assert json.loads(rows[0][2])["verdict"] == "approve"
    assert json.loads(rows[0][2])["gate"] == "data_quality"


def test_modify_applies_the_cleaning_plan_to_a_view_and_keeps_the_original() -> None:
    plan = {"drop_duplicates": True, "drop_columns": ["notes"], "drop_rows_missing": []}
    _, defs = app.run(defs={"source": MESSY, "gate1_answer": answer("modify", **plan)})
    assert defs["gate1"].status == "modified"
    assert defs["q"].duplicate_rows > 0
    assert defs["q_clean"].duplicate_rows == 0
    con = defs["loaded"].con
    (original,) = con.execute("SELECT count(*) FROM data").fetchone()
    (cleaned,) = con.execute(f'SELECT count(*) FROM "{defs["table"]}"').fetchone()
    assert original == 2000
    assert cleaned == 2000 - defs["q"].duplicate_rows
    assert "notes" not in [c.name for c in defs["ov_clean"].columns]


def test_modify_without_a_plan_is_refused_in_one_sentence() -> None:
    _, defs = app.run(defs={"source": MESSY, "gate1_answer": answer("modify")})
    assert defs["gate1_refusal"] == "A modify decision needs the modifications it makes."
    assert defs["gate1"].status == "pending"


def test_a_bad_file_stops_with_one_sentence_and_loads_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    outputs, defs = app.run(defs={"source": {"name": "empty.csv", "data": empty}})
    assert defs["loaded"] is None
    assert "ov" not in defs
    assert any("empty" in str(getattr(o, "text", "")).lower() for o in outputs if o is not None)


def test_a_new_file_puts_gate_one_back_to_pending(tmp_path: Path) -> None:
    app.run(defs={"source": MESSY, "gate1_answer": answer("approve")})
    other = {"name": "penguins.csv", "data": sample_path("penguins")}
    _, defs = app.run(defs={"source": other})
    assert defs["gate1"].status == "pending"


def all_gates(**overrides) -> dict:
    """Every gate answered with approve, unless overridden."""
    return {
        "source": MESSY,
        "gate1_answer": answer("approve"),
        "gate2_answer": answer("approve"),
        "gate4_answer": answer("approve", items={}, edits={}),
        "gate5_answer": answer("approve"),
        **overrides,
    }


def step3_controls(threshold: float) -> dict:
    """Stand-ins for Step 3's widgets (a cell's definitions are overridden together)."""
    return {
        "threshold": SimpleNamespace(value=threshold),
        "corr_method": SimpleNamespace(value="pearson"),
        "outlier_method": SimpleNamespace(value="iqr", selected_key="IQR"),
        "iqr_multiplier": SimpleNamespace(value=1.5),
        "z_threshold": SimpleNamespace(value=3.0),
    }


def test_all_five_gates_approved_give_a_final_report_with_the_decisions() -> None:
    _, defs = app.run(defs=all_gates())
    report = defs["report"]
    assert report["status"] == "final"
    statuses = {gate: state["status"] for gate, state in report["gates"].items()}
    assert statuses == {
        "data_quality": "approved",
        "analysis_validation": "approved",
        "model_approval": "not_applicable",
        "result_verification": "approved",
        "export_authorization": "approved",
    }
    assert report["gates"]["export_authorization"]["reviewer"] == "Ada"
    assert report["audit"]["verified"] is True
    assert report["audit"]["head_sha256"] == report["audit"]["events"][-1]["sha256"]
    assert defs["draft"]["status"] == "draft"


def test_without_export_authorization_only_a_draft_exists() -> None:
    defs = all_gates()
    del defs["gate5_answer"]
    _, defs = app.run(defs=defs)
    assert defs["gate5"].status == "pending"
    assert defs["draft"]["status"] == "draft"
    assert "report" not in defs


def test_changing_the_threshold_after_approval_makes_gate_two_stale(private_files: Path) -> None:
    app.run(defs=all_gates(**step3_controls(0.7)))
    later = all_gates(**step3_controls(0.8))
    for gate in ("gate2_answer", "gate4_answer", "gate5_answer"):
        later[gate] = None
    _, defs = app.run(defs=later)
    assert defs["gate1"].status == "approved"
    assert defs["gate2"].status == "stale"
    assert not defs["gate2"].open
    assert "recs" not in defs
    with sqlite3.connect(private_files / "signoff.db") as con:
        stale = con.execute("SELECT payload FROM events WHERE kind = 'stale'").fetchall()
    assert [json.loads(p)["gate"] for (p,) in stale] == ["analysis_validation"]
    with sqlite3.connect(private_files / "signoff.db") as con:
        changes = [
            json.loads(p)["changed"]
            for (p,) in con.execute("SELECT payload FROM events WHERE kind = 'parameter'")
        ]
    assert {"from": 0.7, "to": 0.8} in [c.get("threshold") for c in changes]


def test_findings_rejected_at_gate_two_are_marked_and_left_out_of_step_four() -> None:
    _, first = app.run(defs=all_gates())
    leak = next(f for f in first["stats_insights"].findings if "leakage" in f.title.lower())
    modify = answer("modify", reject_findings=[leak.id], reason="known derived column")
    _, defs = app.run(defs=all_gates(gate2_answer=modify))
    assert defs["gate2"].status == "modified"
    assert [f["id"] for f in defs["rejected_findings"]] == [leak.id]
    assert all(leak.id not in item.finding_ids for item in defs["recs"].action_plan)
    assert any(leak.id in item.finding_ids for item in first["recs"].action_plan)
    marked = {f["id"]: f for f in defs["report"]["ai"]["statistics"]["findings"]}
    assert marked[leak.id]["rejected"] is True
    assert marked[leak.id]["rejection_reason"] == "known derived column"


def test_gate_four_item_verdicts_are_kept_with_an_approval() -> None:
    _, first = app.run(defs=all_gates())
    items = first["recs"].action_plan
    assert len(items) >= 2
    verdicts = {items[0].id: "reject", items[1].id: "edit"}
    approve = answer("approve", items=verdicts, edits={items[1].id: "Check with finance first."})
    _, defs = app.run(defs=all_gates(gate4_answer=approve))
    plan = {i["id"]: i for i in defs["report"]["recommendations"]["action_plan"]}
    assert plan[items[0].id]["review"] == "reject"
    assert plan[items[1].id]["review"] == "edit"
    assert plan[items[1].id]["edited_rationale"] == "Check with finance first."
    assert defs["gate4"].status == "approved"


def test_modify_at_gate_four_without_feedback_is_refused() -> None:
    _, defs = app.run(
        defs=all_gates(gate4_answer=answer("modify", items={}, edits={}) | {"notes": ""})
    )
    assert defs["gate4_refusal"] == "A modify decision needs the modifications it makes."


def test_an_unexpected_failure_shows_an_error_id_and_logs_the_detail(caplog) -> None:
    from app import attempt

    def broken() -> None:
        raise RuntimeError("/srv/secret/path exploded")

    result, sentence = attempt("Step 1", broken)
    assert result is None
    assert sentence.startswith("Step 1 failed unexpectedly (error id ")
    assert "/srv/secret" not in sentence and "Traceback" not in sentence
    error_id = sentence.split("error id ")[1].split(")")[0]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_queued_analysis_reopens_from_the_kept_file(private_files: Path) -> None:
    from app import reopen

    _, defs = app.run(defs={"source": MESSY})
    trail = defs["trail"]
    request = {"analysis": defs["analysis_id"], "gate": "Data quality"}
    source = reopen(trail, request)
    assert source["name"] == "messy_orders.csv"
    assert Path(source["data"]).read_bytes() == sample_path("messy_orders").read_bytes()
    assert Path(source["data"]).is_relative_to(private_files / "workspace")
    _, again = app.run(defs={"source": source})
    assert again["analysis_id"] == defs["analysis_id"]


def test_a_header_only_file_walks_every_step_saying_no_data_rows() -> None:
    path = Path(__file__).parent / "data" / "csv-edge" / "frictionless__without-rows.csv"
    _, defs = app.run(defs=all_gates(source={"name": path.name, "data": path}))
    assert defs["ov"].n_rows == 0
    assert defs["ov"].notes == ("no data rows",)
    assert defs["q"].notes == ("no data rows",)
    assert defs["stats"].n_rows == 0
    assert defs["report"]["status"] == "final"


def test_waiting_gates_put_typed_requests_in_the_shared_queue(private_files: Path) -> None:
    from review.requests import open_requests

    app.run(defs=all_gates(gate2_answer=answer("reject"), gate4_answer=None))
    queue = {(r.gate, r.type) for r in open_requests(private_files / "signoff.db")}
    assert queue == {("analysis_validation", "correction")}
    app.run(defs=all_gates(gate4_answer=None, gate5_answer=None))
    queue = {(r.gate, r.type) for r in open_requests(private_files / "signoff.db")}
    assert queue == {("result_verification", "validation")}


SENSORS = {"name": "sensor_readings.csv", "data": sample_path("sensor_readings")}


def test_a_target_trains_baselines_and_gate_three_binds_the_model() -> None:
    target = SimpleNamespace(value={"target": "output_units", "exclude": []})
    _, defs = app.run(
        defs=all_gates(source=SENSORS, model_form=target, gate3_answer=answer("approve"))
    )
    card = defs["model_card"]
    assert card.task == "regression"
    assert card.selected != "dummy"
    assert defs["gate3"].status == "approved"
    model = defs["report"]["model"]
    assert model["target"] == "output_units" and model["selected"] == card.selected
    assert defs["report"]["gates"]["model_approval"]["status"] == "approved"


def test_choosing_another_candidate_at_gate_three_is_what_step_four_receives() -> None:
    target = SimpleNamespace(value={"target": "output_units", "exclude": []})
    _, first = app.run(defs=all_gates(source=SENSORS, model_form=target, gate3_answer=None))
    assert first["gate3"].status == "pending"
    assert "recs" not in first
    other = next(
        c.name for c in first["model_card"].candidates if c.name != first["model_card"].selected
    )
    modify = answer("modify", candidate=other, exclude=[])
    _, defs = app.run(defs=all_gates(source=SENSORS, model_form=target, gate3_answer=modify))
    assert defs["gate3"].status == "modified"
    assert defs["report"]["model"]["selected"] == other


def test_every_cell_shows_marimo_output_or_nothing_never_a_raw_value() -> None:
    """A cell's last expression is what the page shows: a bookkeeping call left there put
    a list of Python objects on the page under Step 3."""
    outputs, _ = app.run(defs=all_gates())
    raw = [type(o).__name__ for o in outputs if o is not None and not hasattr(o, "_repr_html_")]
    assert raw == []
