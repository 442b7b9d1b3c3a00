"""The notebook run headless (`app.run()`), with `defs=` standing in for the reviewer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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


def test_approval_is_recorded_in_sqlite_and_in_the_report(private_files: Path) -> None:
    _, defs = app.run(defs={"source": MESSY, "gate1_answer": answer("approve")})
    assert defs["gate1"].status == "approved"
    rows = decision_rows(private_files / "signoff.db")
    assert len(rows) == 1
    assert rows[0][1] == "Ada"
    assert '"verdict":"approve"' in rows[0][2].replace(" ", "")
    report = defs["report"]
    assert report["gates"]["data_quality"]["status"] == "approved"
    assert report["gates"]["data_quality"]["reviewer"] == "Ada"
    assert report["status"] == "draft"


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
