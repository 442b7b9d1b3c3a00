"""Real browser: Debian chromium (playwright) against `marimo run app.py` on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def test_pick_a_sample_see_step_one_approve_gate_one(browser, app_server, tmp_path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(app_server["url"])
    page.get_by_role("button", name="Load sample").click()
    page.get_by_role("heading", name="Step 1 · Overview").wait_for(timeout=90_000)
    page.get_by_text("2,000").filter(visible=True).first.wait_for()
    page.screenshot(path=ARTIFACTS / "step1-overview.png", full_page=True)

    gate = page.locator("form").filter(has_text="Gate 1 · Data quality")
    gate.get_by_role("radio", name="approve").check()
    gate.get_by_role("textbox").first.fill("Grace Hopper")
    gate.get_by_role("button", name="Record decision").click()
    page.get_by_text("Data quality: approved by Grace Hopper.").wait_for(timeout=60_000)
    page.get_by_text("Gate 1 approved the data as loaded").wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "gate1-approved.png", full_page=True)

    # Looking at another source tab keeps the analysis: the data is the last one handed over.
    for tab in ("Upload", "Local path"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(1_500)
        assert page.get_by_role("heading", name="Step 1 · Overview").is_visible()
        assert page.get_by_text("Pick a sample and press").count() == 0

    # A file that cannot be loaded says so in one sentence and leaves the analysis in place.
    page.get_by_role("tab", name="Upload").click()
    fake = tmp_path / "fake.csv"
    fake.write_bytes(b"%PDF-1.4 not a table")
    page.locator("input[type=file]").set_input_files(str(fake))
    page.get_by_text("fake.csv is a PDF document, not a .csv file").wait_for(timeout=60_000)
    page.get_by_text("Still showing messy_orders.csv.").wait_for()
    assert page.get_by_role("heading", name="Step 1 · Overview").is_visible()
    assert page.get_by_text("Data quality: approved by Grace Hopper.").is_visible()
    context.close()

    with sqlite3.connect(app_server["db"]) as con:
        rows = con.execute(
            "SELECT actor, payload FROM events WHERE kind = 'decision' ORDER BY id"
        ).fetchall()
    assert len(rows) == 1
    actor, payload = rows[0]
    assert actor == "Grace Hopper"
    assert json.loads(payload)["gate"] == "data_quality"
    assert json.loads(payload)["verdict"] == "approve"
