"""The whole flow in a real browser, as a reviewer walks it: upload, four steps, five gates
(one modify, one reject), the bundle downloaded, the audit chain checked.

Also measures what the browser receives per step over marimo's websocket.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import server_trail

from samples import sample_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STEP_BUDGET = 2 * 1024 * 1024


class Received:
    """Bytes the page received over websockets, read per step."""

    def __init__(self, page) -> None:
        self.total = 0
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", self._count)

    def _count(self, payload) -> None:
        self.total += len(payload if isinstance(payload, (bytes, str)) else b"")

    def since(self, mark: int) -> int:
        return self.total - mark


def decide(
    page, title: str, verdict: str, reviewer: str, notes: str = "", tick: str | None = None
) -> None:
    """Fill in a gate's form as a reviewer would (ticking `tick`, if given) and submit it."""
    form = page.locator("form").filter(has_text=title)
    form.get_by_role("radio", name=verdict).check()
    form.get_by_role("textbox").first.fill(reviewer)
    if notes:
        form.locator("textarea").first.fill(notes)
    if tick:
        form.get_by_role("checkbox", name=tick).check()
    form.get_by_role("button", name="Record decision").click()


def wait_heading(page, name: str) -> None:
    page.get_by_role("heading", name=name, exact=True).wait_for(timeout=120_000)


def shot(page, heading: str, name: str) -> None:
    page.get_by_role("heading", name=heading, exact=True).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / name)


def test_a_reviewer_walks_every_step_and_gate(browser, app_server, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    outside: list[str] = []

    def guard(route) -> None:
        """Nothing may leave the machine: every request that is not to the app is blocked
        and listed."""
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    received = Received(page)
    sizes: dict[str, int] = {}
    page.goto(app_server["url"])
    page.get_by_role("tab", name="Upload").click()

    mark = received.total
    page.locator("input[type=file]").set_input_files(str(sample_path("messy_orders")))
    wait_heading(page, "Step 1 · Overview")
    wait_heading(page, "Step 2 · Quality")
    page.wait_for_timeout(1500)
    sizes["steps 1–2"] = received.since(mark)
    shot(page, "Step 1 · Overview", "e2e-step1.png")
    shot(page, "Step 2 · Quality", "e2e-step2.png")

    mark = received.total
    decide(
        page,
        "Gate 1 · Data quality",
        "modify",
        "Ada",
        "drop the duplicates",
        tick="Drop duplicate rows",
    )
    page.get_by_text("Data quality: modified by Ada.").wait_for(timeout=60_000)
    wait_heading(page, "Step 2 · Quality after the cleaning plan")
    wait_heading(page, "Step 3 · Statistics")
    page.wait_for_timeout(1500)
    sizes["step 3"] = received.since(mark)
    shot(page, "Step 3 · Statistics", "e2e-step3.png")

    decide(page, "Gate 2 · Analysis validation", "reject", "Grace", "threshold too low")
    page.get_by_text("Analysis validation: rejected by Grace.").wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Step 4 · Recommendations").count() == 0

    mark = received.total
    decide(page, "Gate 2 · Analysis validation", "approve", "Grace")
    page.get_by_text("Analysis validation: approved by Grace.").wait_for(timeout=60_000)
    wait_heading(page, "Step 4 · Recommendations")
    page.wait_for_timeout(1500)
    sizes["step 4"] = received.since(mark)
    shot(page, "Step 4 · Recommendations", "e2e-step4.png")

    decide(page, "Gate 4 · Result verification", "modify", "Grace", "Start with revenue.")
    page.get_by_text("Compared with version 1:").wait_for(timeout=60_000)
    page.get_by_text("Version 2, from the offline advisor.").wait_for(timeout=60_000)
    decide(page, "Gate 4 · Result verification", "approve", "Grace")
    wait_heading(page, "Export")
    decide(page, "Gate 5 · Export authorization", "approve", "Linus")
    bundle_button = page.get_by_text("messy_orders-bundle.zip", exact=True)
    bundle_button.wait_for(timeout=60_000)
    with page.expect_download() as download_info:
        bundle_button.click()
    bundle_path = tmp_path / "bundle.zip"
    download_info.value.save_as(bundle_path)
    shot(page, "Export", "e2e-export.png")

    # A reload reopens the analysis the address names, exactly as it was, and writes
    # nothing but the step digests.
    assert "?analysis=" in page.url
    trail = server_trail(app_server)
    seen = len(trail.events())
    page.reload()
    page.get_by_text("Data quality: modified by Ada.").wait_for(timeout=120_000)
    page.get_by_text("Version 2, from the offline advisor.").wait_for(timeout=120_000)
    page.get_by_text("Export authorization: approved by Linus.").wait_for(timeout=120_000)
    page.get_by_text("messy_orders-bundle.zip", exact=True).wait_for(timeout=60_000)
    context.close()
    assert outside == []  # no CDN script (MathJax), no font, no telemetry
    assert {e.kind for e in trail.events()[seen:]} <= {"step"}

    with zipfile.ZipFile(bundle_path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        report = json.loads(archive.read("report.json"))
        names = set(archive.namelist())
    assert report["status"] == "final"
    statuses = {g: s["status"] for g, s in report["gates"].items()}
    assert statuses == {
        "data_quality": "modified",
        "analysis_validation": "approved",
        "model_approval": "not_applicable",
        "result_verification": "approved",
        "export_authorization": "approved",
    }
    assert report["cleaning"]["drop_duplicates"] is True
    assert report["quality"]["duplicate_rows"] == 0
    assert report["recommendations"]["version"] == 2
    assert "Start with revenue." in report["recommendations"]["feedback_used"]
    assert {"audit_events.jsonl", "messy_orders-cleaned.parquet"} <= names
    assert manifest

    trail = server_trail(app_server)
    assert trail.verify().ok
    verdicts = [
        (e.payload["gate"], e.payload["verdict"], e.actor) for e in trail.events(kind="decision")
    ]
    assert verdicts == [
        ("data_quality", "modify", "Ada"),
        ("analysis_validation", "reject", "Grace"),
        ("analysis_validation", "approve", "Grace"),
        ("result_verification", "modify", "Grace"),
        ("result_verification", "approve", "Grace"),
        ("export_authorization", "approve", "Linus"),
    ]
    assert any(
        e.payload["filename"] == "messy_orders-bundle.zip" for e in trail.events(kind="export")
    )
    (ARTIFACTS / "e2e-payload.json").write_text(json.dumps(sizes, indent=2))
    assert all(size < STEP_BUDGET for size in sizes.values()), sizes


def test_an_approval_revoked_in_another_tab_refuses_the_download(browser, app_server) -> None:
    first = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = first.new_page()
    page.goto(app_server["url"])
    page.get_by_role("button", name="Load sample").click()
    wait_heading(page, "Gate 1 · Data quality")
    page.wait_for_timeout(1500)  # the charts above it finish drawing, and the form stays put
    decide(page, "Gate 1 · Data quality", "approve", "Ada")
    wait_heading(page, "Gate 2 · Analysis validation")
    page.wait_for_timeout(1500)
    decide(page, "Gate 2 · Analysis validation", "approve", "Grace")
    wait_heading(page, "Gate 4 · Result verification")
    page.wait_for_timeout(1500)
    decide(page, "Gate 4 · Result verification", "approve", "Grace")
    wait_heading(page, "Gate 5 · Export authorization")
    page.wait_for_timeout(1500)
    decide(page, "Gate 5 · Export authorization", "approve", "Linus")
    report_button = page.get_by_text("messy_orders-report.json", exact=True)
    report_button.wait_for(timeout=60_000)

    # The same analysis in a second tab: Grace takes her approval back.
    second = browser.new_context(viewport={"width": 1280, "height": 1000})
    other = second.new_page()
    other.goto(page.url)
    other.get_by_text("Analysis validation: approved by Grace.").wait_for(timeout=120_000)
    other.wait_for_timeout(1500)
    decide(other, "Gate 2 · Analysis validation", "reject", "Grace", "the outliers are real")
    other.get_by_text("Analysis validation: rejected by Grace.").wait_for(timeout=60_000)
    second.close()

    report_button.click()
    page.get_by_text(
        "nothing was exported: reload the page to see the decisions as they stand."
    ).wait_for(timeout=30_000)
    assert page.get_by_text("Analysis validation was rejected by Grace").count() == 1
    first.close()
    exported = server_trail(app_server).events(kind="export")
    assert exported == []
