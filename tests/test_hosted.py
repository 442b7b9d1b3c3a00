"""Hosted mode in a real browser: two sessions at once, each with its own data, one shared
review queue and audit trail; uploads only, no file of the server offered."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import server_trail

from samples import sample_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Upload").wait_for(timeout=60_000)
    return context, page


def test_two_sessions_see_only_their_own_data_and_share_the_queue(browser, hosted_server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ctx_a, a = open_page(browser, hosted_server["url"])
    ctx_b, b = open_page(browser, hosted_server["url"])
    for page in (a, b):
        assert page.get_by_role("tab", name="Local path").count() == 0
        assert page.get_by_role("tab", name="Sample").count() == 0
        page.get_by_text(
            "Upload a CSV or Excel file, or open one from the review queue."
        ).wait_for()

    a.get_by_role("tab", name="Upload").click()
    a.locator("input[type=file]").set_input_files(str(sample_path("messy_orders")))
    b.get_by_role("tab", name="Upload").click()
    b.locator("input[type=file]").set_input_files(str(sample_path("penguins")))
    a.get_by_role("heading", name="Step 1 · Overview").wait_for(timeout=120_000)
    b.get_by_role("heading", name="Step 1 · Overview").wait_for(timeout=120_000)
    # The audit viewer is shared by design; the loaded data and results are not.
    a.get_by_text("Loaded messy_orders.csv").wait_for()
    b.get_by_text("Loaded penguins.csv").wait_for()
    assert a.get_by_text("Loaded penguins.csv").count() == 0
    assert b.get_by_text("Loaded messy_orders.csv").count() == 0
    a.get_by_text("2,000", exact=True).first.wait_for()
    b.get_by_text("344", exact=True).first.wait_for()

    form = a.locator("form").filter(has_text="Gate 1 · Data quality")
    form.get_by_role("radio", name="approve").check()
    form.get_by_role("textbox").first.fill("Ada")
    form.get_by_role("button", name="Record decision").click()
    a.get_by_text("Data quality: approved by Ada.").wait_for(timeout=60_000)
    assert b.get_by_text("approved by Ada").count() == 0

    ctx_c, c = open_page(browser, hosted_server["url"])
    c.get_by_role("heading", name="Review queue").wait_for(timeout=30_000)
    c.get_by_text("penguins.csv").first.wait_for(timeout=30_000)
    c.screenshot(path=ARTIFACTS / "hosted-queue.png")
    c.get_by_role("row").filter(has_text="penguins.csv").get_by_role("checkbox").click()
    c.get_by_text("Opened from the review queue").wait_for(timeout=60_000)
    c.get_by_text("Loaded penguins.csv").wait_for()
    c.get_by_role("heading", name="Step 1 · Overview").wait_for(timeout=60_000)
    route = c.locator("form").filter(has_text="Route the selected request")
    route.get_by_role("textbox").first.fill("Grace")
    route.get_by_role("button", name="Route").click()
    c.get_by_text("goes to Grace, priority 3").wait_for(timeout=30_000)
    # Picking another request opens it; it does not route it with the last form's values.
    c.get_by_role("row").filter(has_text="messy_orders.csv").get_by_role("checkbox").click()
    c.get_by_text("Loaded messy_orders.csv").wait_for(timeout=60_000)
    for ctx in (ctx_a, ctx_b, ctx_c):
        ctx.close()

    trail = server_trail(hosted_server)
    assert trail.verify().ok
    loads = {e.payload["name"] for e in trail.events(kind="load")}
    assert loads == {"messy_orders.csv", "penguins.csv"}
    assert [e.actor for e in trail.events(kind="decision")] == ["Ada"]
    routed = [e.payload for e in trail.events(kind="request") if e.payload["action"] == "routed"]
    assert [(p["gate"], p["assignee"]) for p in routed] == [("data_quality", "Grace")]
