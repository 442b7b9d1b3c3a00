"""A step's time budget (`SIGNOFF_STEP_TIMEOUT`): DuckDB's work is interrupted past it and
the step is refused in one sentence naming the table; within it nothing changes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ai.offline import OfflineAdvisor
from flow import views
from flow.source import Source
from flow.stages import budget as budget_for
from flow.stages import start
from samples import sample_path
from steps.engine import Budget
from steps.errors import StepTimeoutError
from steps.load import LoadLimits, load
from steps.settings import DEFAULT_STEP_TIMEOUT_S, Settings

SLOW = "SELECT count(*) FROM range(2000000) a, range(2000000) b WHERE a.range + b.range = -1"
SENTENCE = (
    r"^Step 3 ran longer than 0\.3 s and was stopped: 4 rows × 2 columns is more than this "
    r"server analyses in that time \(SIGNOFF_STEP_TIMEOUT\)\.$"
)


@pytest.fixture
def budget() -> Budget:
    return Budget(duckdb.connect(), 0.3, "4 rows × 2 columns")


def test_a_query_past_the_budget_is_stopped_and_refused_in_a_sentence(budget: Budget) -> None:
    started = time.perf_counter()
    with pytest.raises(StepTimeoutError, match=SENTENCE):
        budget.run("Step 3", lambda: budget.con.execute(SLOW).fetchall())
    assert time.perf_counter() - started < 5  # the cross join alone would run for minutes
    assert budget.con.execute("SELECT 41 + 1").fetchone() == (42,)  # the session goes on


def test_a_step_that_swallows_the_interrupt_is_refused_all_the_same(budget: Budget) -> None:
    def careless() -> str:
        try:
            budget.con.execute(SLOW).fetchall()
        except duckdb.Error:
            return "a partial answer"
        return "the answer"

    with pytest.raises(StepTimeoutError, match=SENTENCE):
        budget.run("Step 3", careless)


def test_within_the_budget_the_step_and_its_own_errors_pass_through(budget: Budget) -> None:
    assert budget.run("Step 3", lambda x, *, y: x + y, 40, y=2) == 42

    def broken() -> None:
        raise ValueError("its own error")

    with pytest.raises(ValueError, match="its own error"):
        budget.run("Step 3", broken)
    time.sleep(0.5)  # past the budget: the timer was cancelled, the session is not interrupted
    assert budget.con.execute("SELECT count(*) FROM range(1000)").fetchone() == (1000,)


def test_the_budget_is_a_setting_read_once() -> None:
    assert Settings.from_env({}).step_timeout_s == DEFAULT_STEP_TIMEOUT_S == 120
    assert Settings.from_env({"SIGNOFF_STEP_TIMEOUT": "2.5"}).step_timeout_s == 2.5
    with pytest.raises(Exception, match="SIGNOFF_STEP_TIMEOUT"):
        Settings.from_env({"SIGNOFF_STEP_TIMEOUT": "soon"})


def test_the_headless_run_refuses_past_its_budget_and_writes_nothing(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "r.json"
    path = sample_path("messy_orders")
    result = subprocess.run(
        [sys.executable, "-m", "steps", str(path), "--json", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "SIGNOFF_STEP_TIMEOUT": "0.001"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "error: Loading messy_orders.csv ran longer than 0.001 s and was stopped: a file of "
    )
    assert result.stderr.endswith("(SIGNOFF_STEP_TIMEOUT).\n")
    assert not out.exists()


def test_the_app_refuses_past_the_budget_in_a_sentence_and_runs_nothing_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import app

    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("SIGNOFF_STEP_TIMEOUT", "0.001")
    _, defs = app.run(defs={"source": Source("messy_orders.csv", sample_path("messy_orders"))})
    assert "loaded" not in defs and "record0" not in defs
    assert defs["load_error"].startswith("Loading messy_orders.csv ran longer than 0.001 s")


def test_a_step_past_its_budget_is_a_sentence_where_the_app_shows_it() -> None:
    loaded = load(sample_path("messy_orders"))
    tight = budget_for(loaded, 0.001)
    result, sentence = views.within(tight, "Steps 1–2", start, loaded, OfflineAdvisor(), None)
    assert result is None
    assert sentence == (
        "Steps 1–2 ran longer than 0.001 s and was stopped: 2,000 rows × 14 columns is more "
        "than this server analyses in that time (SIGNOFF_STEP_TIMEOUT)."
    )
    started, sentence = views.within(
        budget_for(loaded, 60), "Steps 1–2", start, loaded, OfflineAdvisor(), None
    )
    assert sentence is None and started[0].original.overview.n_rows == 2000


def test_a_load_past_its_budget_is_refused_naming_the_file() -> None:
    path = sample_path("messy_orders")
    size = path.stat().st_size
    with pytest.raises(StepTimeoutError) as refused:
        load(path, limits=LoadLimits(max_seconds=0.001))
    assert str(refused.value) == (
        f"Loading messy_orders.csv ran longer than 0.001 s and was stopped: a file of "
        f"{size / 2**20:,.1f} MB ({size:,} bytes) is more than this server analyses in that "
        "time (SIGNOFF_STEP_TIMEOUT)."
    )
    within = load(path, limits=LoadLimits(max_seconds=60))
    assert within.report.n_rows == load(path).report.n_rows == 2000
