"""The notebook run headless (`app.run()`), with `defs=` standing in for the reviewer."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import app
from flow import views
from flow.source import Source
from flow.team import reopen
from samples import sample_path
from steps.errors import ExportError
from steps.report import ENVELOPE_KEYS
from steps.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MESSY = Source("messy_orders.csv", sample_path("messy_orders"))
SENSORS = Source("sensor_readings.csv", sample_path("sensor_readings"))


@pytest.fixture(autouse=True)
def private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def answer(verdict: str, notes: str = "checked", **extra) -> SimpleNamespace:
    """A submitted gate form, as the cell that defines it would hand it on."""
    return SimpleNamespace(value={"verdict": verdict, "reviewer": "Ada", "notes": notes, **extra})


def events(db: Path, kind: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT actor, payload FROM events WHERE kind = ? ORDER BY id", [kind]
        ).fetchall()


def all_gates(**overrides) -> dict:
    """Every gate answered with approve, unless overridden."""
    return {
        "source": MESSY,
        "gate1_form": answer("approve"),
        "gate2_form": answer("approve"),
        "gate4_form": answer("approve"),
        "gate5_form": answer("approve"),
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


def test_without_a_decision_steps_after_gate_one_do_not_run() -> None:
    _, defs = app.run(defs={"source": MESSY})
    assert defs["record0"].original.overview.n_rows == 2000
    assert defs["gate1"].state.status == "pending"
    assert not defs["gate1"].state.open
    assert "record1" not in defs


def test_approval_is_recorded_in_sqlite(private_files: Path) -> None:
    _, defs = app.run(defs={"source": MESSY, "gate1_form": answer("approve")})
    assert defs["gate1"].state.status == "approved"
    rows = events(private_files / "signoff.db", "decision")
    assert len(rows) == 1 and rows[0][0] == "Ada"
    payload = json.loads(rows[0][1])
    assert payload["verdict"] == "approve" and payload["gate"] == "data_quality"


def test_modify_applies_the_cleaning_plan_to_a_view_and_keeps_the_original() -> None:
    plan = {"drop_duplicates": True, "drop_columns": ["notes"], "drop_rows_missing": []}
    _, defs = app.run(defs={"source": MESSY, "gate1_form": answer("modify", **plan)})
    assert defs["gate1"].state.status == "modified"
    original, view = defs["record1"].original, defs["record1"].view
    assert original.quality.duplicate_rows > 0 and view.quality.duplicate_rows == 0
    con = defs["loaded"].con
    (n,) = con.execute("SELECT count(*) FROM data").fetchone()
    (cleaned,) = con.execute(f'SELECT count(*) FROM "{view.table}"').fetchone()
    assert n == 2000 and cleaned == 2000 - original.quality.duplicate_rows
    assert "notes" not in [c.name for c in view.overview.columns]


def test_modify_without_a_plan_is_refused_in_one_sentence(private_files: Path) -> None:
    _, defs = app.run(defs={"source": MESSY, "gate1_form": answer("modify")})
    assert defs["gate1"].refusal == "A modify decision needs the modifications it makes."
    assert defs["gate1"].state.status == "pending"
    assert events(private_files / "signoff.db", "decision") == []


def test_a_plan_that_drops_every_column_is_refused_before_anything_is_recorded(
    private_files: Path,
) -> None:
    _, first = app.run(defs={"source": MESSY})
    every = [c.name for c in first["record0"].original.overview.columns]
    _, defs = app.run(defs={"source": MESSY, "gate1_form": answer("modify", drop_columns=every)})
    assert defs["gate1"].refusal == "The cleaning plan would drop every column; keep at least one."
    assert defs["gate1"].state.status == "pending"
    assert events(private_files / "signoff.db", "decision") == []


def test_a_bad_file_stops_with_one_sentence_and_loads_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _, defs = app.run(defs={"source": Source("empty.csv", empty)})
    assert defs["load_error"] == "The file is empty."
    assert "loaded" not in defs and "record0" not in defs


def test_a_new_file_puts_gate_one_back_to_pending() -> None:
    app.run(defs={"source": MESSY, "gate1_form": answer("approve")})
    other = Source("penguins.csv", sample_path("penguins"))
    _, defs = app.run(defs={"source": other})
    assert defs["gate1"].state.status == "pending"


def test_all_five_gates_approved_give_a_final_report_with_the_decisions() -> None:
    _, defs = app.run(defs=all_gates())
    report = defs["exported"].to_dict()
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


def test_without_export_authorization_only_a_draft_exists() -> None:
    defs = all_gates()
    del defs["gate5_form"]
    _, defs = app.run(defs=defs)
    assert defs["gate5"].state.status == "pending"
    assert defs["exported"].status == "draft"


def test_gate_five_offers_no_modify_and_refuses_one() -> None:
    _, defs = app.run(defs=all_gates(gate5_form=answer("modify")))
    assert defs["gate5"].refusal == "This gate has nothing to modify: approve or reject it."
    assert defs["gate5"].state.status == "pending"


def test_changing_the_threshold_after_approval_makes_gate_two_stale(private_files: Path) -> None:
    app.run(defs=all_gates(**step3_controls(0.7)))
    later = all_gates(**step3_controls(0.8))
    for gate in ("gate2_form", "gate4_form", "gate5_form"):
        later[gate] = SimpleNamespace(value=None)
    _, defs = app.run(defs=later)
    assert defs["gate1"].state.status == "approved"
    assert defs["gate2"].state.status == "stale"
    assert not defs["gate2"].state.open
    assert defs["gate2"].state.message == (
        "Analysis validation: stale — threshold 0.7 → 0.8, the result changed since Ada's approve;"
        " needs re-approval."
    )
    assert "record4" not in defs
    stale = events(private_files / "signoff.db", "stale")
    assert [json.loads(p)["gate"] for _, p in stale] == ["analysis_validation"]
    changes = [
        json.loads(p)["changed"] for _, p in events(private_files / "signoff.db", "parameter")
    ]
    assert {"from": 0.7, "to": 0.8} in [c.get("threshold") for c in changes]


def test_findings_rejected_at_gate_two_are_marked_and_left_out_of_step_four() -> None:
    _, first = app.run(defs=all_gates())
    findings = first["record2"].analysed.insights.findings
    leak = next(f for f in findings if "leakage" in f.title.lower())
    modify = answer("modify", reject_findings=[leak.id], reason="known derived column")
    _, defs = app.run(defs=all_gates(gate2_form=modify))
    assert defs["gate2"].state.status == "modified"
    assert [r.id for r in defs["gate2"].record.rejected] == [leak.id]
    plan = defs["record4"].recommendations.action_plan
    assert all(leak.id not in item.finding_ids for item in plan)
    assert any(leak.id in i.finding_ids for i in first["record4"].recommendations.action_plan)
    marked = {f["id"]: f for f in defs["exported"].to_dict()["ai"]["statistics"]["findings"]}
    assert marked[leak.id]["rejected"] is True
    assert marked[leak.id]["rejection_reason"] == "known derived column"


def test_gate_four_item_verdicts_are_kept_with_an_approval() -> None:
    _, first = app.run(defs=all_gates())
    items = first["record4"].recommendations.action_plan
    assert len(items) >= 2
    approve = answer("approve", item_0="reject", item_1="edit", edit_1="Check with finance first.")
    _, defs = app.run(defs=all_gates(gate4_form=approve))
    plan = {i["id"]: i for i in defs["exported"].to_dict()["recommendations"]["action_plan"]}
    assert plan[items[0].id]["review"] == "reject"
    assert plan[items[1].id]["review"] == "edit"
    assert plan[items[1].id]["edited_rationale"] == "Check with finance first."
    assert defs["gate4"].state.status == "approved"


def test_modify_at_gate_four_without_feedback_is_refused() -> None:
    _, defs = app.run(defs=all_gates(gate4_form=answer("modify", notes="")))
    assert defs["gate4"].refusal == "A modify decision needs the modifications it makes."


def test_a_queued_analysis_reopens_from_the_kept_file(private_files: Path) -> None:
    from review.requests import open_requests

    _, defs = app.run(defs={"source": MESSY})
    settings = Settings.from_env()
    (queued,) = open_requests(defs["trail"])
    rows = [{"analysis": queued.analysis_id, "gate": "Data quality", "request": queued.id}]
    source = reopen(defs["trail"], settings, rows)
    assert source.name == "messy_orders.csv" and source.awaiting == "data_quality"
    assert source.data.read_bytes() == sample_path("messy_orders").read_bytes()
    assert source.data.is_relative_to(private_files / "workspace")
    loads = len(events(private_files / "signoff.db", "load"))
    _, again = app.run(defs={"source": source})
    assert again["analysis_id"] == defs["analysis_id"]
    assert len(events(private_files / "signoff.db", "load")) == loads  # reopening writes nothing


def test_a_header_only_file_walks_every_step_saying_no_data_rows() -> None:
    path = Path(__file__).parent / "data" / "csv-edge" / "frictionless__without-rows.csv"
    _, defs = app.run(defs=all_gates(source=Source(path.name, path)))
    original = defs["record0"].original
    assert original.overview.n_rows == 0
    assert original.overview.notes == ("no data rows",)
    assert original.quality.notes == ("no data rows",)
    assert defs["record2"].analysed.statistics.n_rows == 0
    assert defs["exported"].status == "final"


def test_waiting_gates_put_typed_requests_in_the_shared_queue(private_files: Path) -> None:
    from review.requests import open_requests

    app.run(defs=all_gates(gate2_form=answer("reject"), gate4_form=SimpleNamespace(value=None)))
    queue = {(r.gate, r.type) for r in open_requests(private_files / "signoff.db")}
    assert queue == {("analysis_validation", "correction")}
    none = SimpleNamespace(value=None)
    app.run(defs=all_gates(gate4_form=none, gate5_form=none))
    queue = {(r.gate, r.type) for r in open_requests(private_files / "signoff.db")}
    assert queue == {("result_verification", "validation")}


def target(column: str, exclude: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(value={"target": column, "exclude": list(exclude)})


def test_a_target_trains_baselines_and_gate_three_binds_the_model() -> None:
    _, defs = app.run(
        defs=all_gates(
            source=SENSORS, model_form=target("output_units"), gate3_form=answer("approve")
        )
    )
    card = defs["record3"].model
    assert card.task == "regression" and card.selected != "dummy"
    assert defs["gate3"].state.status == "approved"
    report = defs["exported"].to_dict()
    assert report["model"]["target"] == "output_units"
    assert report["model"]["selected"] == card.selected
    assert report["gates"]["model_approval"]["status"] == "approved"


def test_choosing_another_candidate_at_gate_three_is_what_step_four_receives() -> None:
    none = SimpleNamespace(value=None)
    _, first = app.run(
        defs=all_gates(source=SENSORS, model_form=target("output_units"), gate3_form=none)
    )
    assert first["gate3"].state.status == "pending"
    assert "record4" not in first
    card = first["record3"].model
    other = next(c.name for c in card.candidates if c.name != card.selected)
    modify = answer("modify", candidate=other, exclude=[])
    _, defs = app.run(
        defs=all_gates(source=SENSORS, model_form=target("output_units"), gate3_form=modify)
    )
    assert defs["gate3"].state.status == "modified"
    assert defs["exported"].to_dict()["model"]["selected"] == other


def test_leaving_out_every_feature_at_gate_three_is_refused_and_records_nothing(
    private_files: Path,
) -> None:
    none = SimpleNamespace(value=None)
    _, first = app.run(
        defs=all_gates(source=SENSORS, model_form=target("output_units"), gate3_form=none)
    )
    features = list(first["record3"].model.features)
    modify = answer("modify", exclude=features)
    _, defs = app.run(
        defs=all_gates(source=SENSORS, model_form=target("output_units"), gate3_form=modify)
    )
    assert defs["gate3"].refusal == "Leave at least one feature in: every feature was left out."
    assert defs["gate3"].state.status == "pending"
    decided = [json.loads(p)["gate"] for _, p in events(private_files / "signoff.db", "decision")]
    assert "model_approval" not in decided


def test_every_cell_shows_marimo_output_or_nothing_never_a_raw_value() -> None:
    """A cell's last expression is what the page shows: a bookkeeping call left there put
    a list of Python objects on the page under Step 3."""
    outputs, _ = app.run(defs=all_gates())
    raw = [type(o).__name__ for o in outputs if o is not None and not hasattr(o, "_repr_html_")]
    assert raw == []


# --- the app and the headless run write the same report ----------------------------------


def untimed(content: dict) -> dict:
    """The content with the models' measured fit times left out."""
    if content.get("model"):
        for candidate in content["model"]["candidates"]:
            candidate.pop("fit_seconds")
    return content


PLAN = {"drop_duplicates": True, "drop_columns": [], "drop_rows_missing": []}
DATASETS = [
    pytest.param("messy_orders", {}, [], id="messy_orders-plan"),
    pytest.param("penguins", {}, ["--method", "spearman", "--threshold", "0.6"], id="penguins"),
    pytest.param("sensor_readings", {"target": "output_units"}, [], id="sensors-model"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("sample", "model", "flags"), DATASETS)
def test_the_headless_report_is_the_apps_but_for_the_envelope(
    tmp_path: Path, sample: str, model: dict, flags: list[str]
) -> None:
    """Same file, same answers: identical content (same digest), only when and by whom
    the gates were decided differ."""
    plan = PLAN if sample == "messy_orders" else None
    method = flags[1] if "--method" in flags else "pearson"
    threshold = float(flags[3]) if "--threshold" in flags else 0.7
    controls = step3_controls(threshold)
    controls["corr_method"] = SimpleNamespace(value=method)
    gate1 = answer("modify", notes="", **plan) if plan else answer("approve", notes="")
    defs = {
        **all_gates(source=Source(f"{sample}.csv", sample_path(sample))),
        **controls,
        "gate1_form": gate1,
        "gate2_form": answer("approve", notes=""),
        "gate4_form": answer("approve", notes=""),
        "gate5_form": answer("approve", notes=""),
    }
    args = [str(sample_path(sample)), "--json", str(tmp_path / "h.json"), *flags]
    if plan:
        args += ["--plan", json.dumps(plan)]
    if model:
        defs["model_form"] = target(model["target"])
        defs["gate3_form"] = answer("approve", notes="")
        args += ["--target", model["target"]]
    _, ran = app.run(defs=defs)
    from_app = ran["exported"].to_dict()
    assert from_app["status"] == "final"
    subprocess.run([sys.executable, "-m", "steps", *args], check=True, cwd=ROOT)
    headless = json.loads((tmp_path / "h.json").read_text("utf-8"))
    assert headless["status"] == "draft"
    content = sorted(set(from_app) - ENVELOPE_KEYS)
    assert content == sorted(set(headless) - ENVELOPE_KEYS)
    assert untimed({k: from_app[k] for k in content}) == untimed({k: headless[k] for k in content})
    if not model:  # a model's fit times are measured, like timestamps
        assert from_app["content_sha256"] == headless["content_sha256"]
    assert list(from_app["gates"]) == list(headless["gates"])


# --- the record a reviewer signs: reopen, the queue, the words -----------------------------


def test_a_gate_four_modify_regenerates_step_four_and_reopening_shows_that_version(
    private_files: Path,
) -> None:
    first = all_gates(gate4_form=answer("modify", notes="Start with revenue."))
    del first["gate5_form"]
    _, ran = app.run(defs=first)
    assert ran["record4"].recommendations.version == 1
    # Reopened (a reload, another session): Step 4 replays the modify into version 2, and
    # the gate waits for that version in words that say so, not "stale".
    reopened = {k: v for k, v in all_gates().items() if k in ("source", "gate1_form", "gate2_form")}
    _, again = app.run(defs=reopened)
    recs = again["record4"].recommendations
    assert recs.version == 2 and "Start with revenue." in " ".join(recs.feedback_used)
    assert again["recs_diff"] is not None and again["recs_diff"].old_version == 1
    state = again["gate4"].state
    assert state.status == "pending" and not state.stale
    assert state.message == (
        "Result verification: regenerated as version 2 as Ada asked; awaiting a reviewer."
    )
    assert events(private_files / "signoff.db", "stale") == []


def test_reopening_an_analysis_restores_the_choices_and_writes_nothing(private_files: Path) -> None:
    _, ran = app.run(defs=all_gates(**step3_controls(0.85)))
    assert ran["exported"].status == "final"
    before = (
        events(private_files / "signoff.db", "decision"),
        len(
            sqlite3.connect(private_files / "signoff.db")
            .execute("SELECT id FROM events")
            .fetchall()
        ),
    )
    # A fresh run with only the source (a reload): the threshold comes back from the kept
    # choices, every gate is as decided, and the trail gains no row.
    _, again = app.run(defs={"source": MESSY})
    assert again["threshold"].value == 0.85
    assert again["record2"].analysed.parameters.threshold == 0.85
    assert [again[g].state.status for g in ("gate1", "gate2", "gate4", "gate5")] == ["approved"] * 4
    after = (
        events(private_files / "signoff.db", "decision"),
        len(
            sqlite3.connect(private_files / "signoff.db")
            .execute("SELECT id FROM events")
            .fetchall()
        ),
    )
    assert after[0] == before[0]
    new_kinds = {
        kind
        for (kind,) in sqlite3.connect(private_files / "signoff.db").execute(
            "SELECT kind FROM events WHERE id > ?", [before[1]]
        )
    }
    assert new_kinds <= {"step"}  # results named again by digest; no decision, stale or request


def test_a_walk_with_rejects_modifies_and_slider_moves_leaves_no_open_request(
    private_files: Path,
) -> None:
    from review.requests import open_requests

    none = SimpleNamespace(value=None)
    plan = {"drop_duplicates": True}
    app.run(defs=all_gates(gate1_form=answer("reject"), gate2_form=none, gate4_form=none))
    app.run(defs=all_gates(gate1_form=answer("modify", **plan), gate2_form=answer("reject")))
    app.run(defs=all_gates(gate1_form=none, **step3_controls(0.8), gate2_form=none))
    queue = {(r.gate, r.type) for r in open_requests(private_files / "signoff.db")}
    assert queue == {("analysis_validation", "validation")}
    _, done = app.run(defs=all_gates(gate1_form=none, **step3_controls(0.75)))
    assert done["exported"].status == "final"
    assert open_requests(private_files / "signoff.db") == []


def test_an_approval_revoked_in_another_session_refuses_every_download(
    private_files: Path,
) -> None:
    _, first = app.run(defs=all_gates())
    exports = first["final_exports"]
    csv_name = next(n for n in exports.names if n.endswith(".csv"))
    shown: list[str | None] = []
    built = views.shown_download(partial(exports.build, csv_name), shown.append)()
    assert built and shown == [None]
    assert len(events(private_files / "signoff.db", "export")) == 1

    # A second session, the same analysis: gate 1 stands, gate 2 is rejected there.
    not_submitted = SimpleNamespace(value=None)
    _, second = app.run(
        defs={
            "source": MESSY,
            "gate1_form": not_submitted,
            "gate2_form": answer("reject", notes="the outliers are real orders"),
        }
    )
    assert second["gate2"].state.status == "rejected"

    sentence = (
        r"^Analysis validation was rejected by Ada at \S+, after this page was built; "
        r"nothing was exported: reload the page to see the decisions as they stand\.$"
    )
    download = views.shown_download(partial(exports.build, exports.bundle_name), shown.append)
    with pytest.raises(ExportError, match=sentence):
        download()
    assert len(shown) == 2 and re.match(sentence, shown[1] or "")
    with pytest.raises(ExportError, match=sentence):
        exports.build(csv_name)  # built before the rejection: refused all the same
    assert len(events(private_files / "signoff.db", "export")) == 1
