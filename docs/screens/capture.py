"""Screenshots of every step at 1400×900, as a new user walks the app in Debian chromium.

    uv run python docs/screens/capture.py              # writes docs/screens/*.png
    uv run python docs/screens/capture.py --out /tmp/s --sample "Palmer penguins (real, 344 rows)"
    uv run python docs/screens/capture.py --out /tmp/big --path bench/data/messy_200mb.csv

A fresh `marimo run app.py` on a free port with a private review database and workspace,
a bundled sample loaded, every gate answered (a cleaning plan at gate 1), one screenshot per
step and gate and the README's screenshot. Every request that would leave the machine is
blocked and listed: there must be none. Not a test: run it and look at the pictures.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "docs" / "screens"
VIEWPORT = {"width": 1400, "height": 900}
CHROMIUM = os.environ.get("SIGNOFF_BROWSER", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "SIGNOFF_DB": str(folder / "signoff.db"),
        "SIGNOFF_WORKSPACE": str(folder / "workspace"),
    }
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        env.pop(key, None)
    command = [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--no-token"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the app did not start; see {folder / 'server.log'}")


def decide(page, title: str, verdict: str, reviewer: str, tick: str | None = None) -> None:
    form = page.locator("form").filter(has_text=title)
    form.get_by_role("radio", name=verdict).check()
    form.get_by_role("textbox").first.fill(reviewer)
    if tick:
        form.get_by_role("checkbox", name=tick).check()
    form.get_by_role("button", name="Record decision").click()


def heading(page, name: str, timeout: float = 120_000):
    found = page.get_by_role("heading", name=name, exact=True)
    found.wait_for(timeout=timeout)
    return found


def shoot(page, out: Path, name: str, at: str | None = None) -> None:
    if at is not None:
        heading(page, at).evaluate("e => e.scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -60)")
    page.wait_for_timeout(800)
    page.screenshot(path=out / f"{name}.png")
    print(f"  {name}.png", flush=True)


def timed(what: str, act: Callable[[], object], until: Callable[[], object]) -> None:
    """How long a step takes as the reviewer waits for it: from the click until the next
    gate's form is on the page (the server's work and the browser's rendering together)."""
    started = time.monotonic()
    act()
    until()
    print(f"  {what}: {time.monotonic() - started:.1f} s", flush=True)


def walk(url: str, out: Path, sample: str, path: Path | None) -> list[str]:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def guard(route) -> None:
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.route("**/*", guard)
        page.goto(url)
        page.get_by_role("tab", name="Sample").wait_for(timeout=60_000)
        shoot(page, out, "00-start")
        if path is None:
            samples = page.locator("select").filter(has=page.locator("option", has_text=sample))
            samples.select_option(label=sample)
            load = page.get_by_role("button", name="Load sample").click
        else:
            page.get_by_role("tab", name="Local path").click()
            page.get_by_role("textbox", name="Path on this machine").fill(str(path))
            load = page.get_by_role("button", name="Load file").click
        timed("load → Steps 1–2 and gate 1", load, lambda: heading(page, "Gate 1 · Data quality"))
        shoot(page, out, "01-overview", at="Step 1 · Overview")
        shoot(page, out, "02-quality", at="Step 2 · Quality")
        shoot(page, out, "03-gate1", at="Gate 1 · Data quality")
        timed(
            "gate 1 (modify: drop duplicates) → Step 3 and gate 2",
            lambda: decide(page, "Gate 1 · Data quality", "modify", "Ada", "Drop duplicate rows"),
            lambda: heading(page, "Gate 2 · Analysis validation"),
        )
        shoot(page, out, "03b-cleaned", at="Step 2 · Quality after the cleaning plan")
        shoot(page, out, "04-statistics", at="Step 3 · Statistics")
        shoot(page, out, "05-gate2", at="Gate 2 · Analysis validation")
        timed(
            "gate 2 → Step 4 and gate 4",
            lambda: decide(page, "Gate 2 · Analysis validation", "approve", "Grace"),
            lambda: heading(page, "Gate 4 · Result verification"),
        )
        shoot(page, out, "06-recommendations", at="Step 4 · Recommendations")
        shoot(page, out, "07-gate4", at="Gate 4 · Result verification")
        timed(
            "gate 4 → gate 5",
            lambda: decide(page, "Gate 4 · Result verification", "approve", "Grace"),
            lambda: heading(page, "Gate 5 · Export authorization"),
        )
        decide(page, "Gate 5 · Export authorization", "approve", "Linus")
        page.get_by_text("Final exports (each file").wait_for(timeout=60_000)
        shoot(page, out, "08-export", at="Export")
        shoot(page, out, "09-audit", at="Audit trail")
        page.get_by_role("heading", name="signoff", exact=True).scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        page.screenshot(path=out / "10-signed-off.png")
        if out == DEFAULT_OUT and path is None:
            page.screenshot(path=ROOT / "docs" / "screenshot.png")
        browser.close()
    return outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--sample", default="Messy orders (synthetic, 2 000 rows)")
    parser.add_argument("--path", type=Path, help="a file on this machine instead of a sample")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="signoff-screens-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            outside = walk(url, args.out, args.sample, args.path)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if outside:
        raise SystemExit(f"the page tried to leave the machine: {sorted(set(outside))}")
    print("no request left the machine", flush=True)


if __name__ == "__main__":
    main()
