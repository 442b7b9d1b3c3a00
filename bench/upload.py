"""Time a file from the browser to "Step 1 · Overview", and the server's peak RSS meanwhile.

    uv run python bench/upload.py bench/data/messy_20mb.csv bench/data/messy_200mb.csv
    uv run python bench/upload.py FILE --routes upload path

Each (file, route) gets a fresh `marimo run app.py --headless --no-token` with its own
SQLite file and workspace (SIGNOFF_MAX_MB=250) and a fresh Debian chromium page driven by
playwright. Routes:

- `upload`: the Upload tab's `mo.ui.file` (the browser sends the file base64-encoded in one
  websocket/HTTP message, which the server holds in memory);
- `path`: the Local path tab, the same file read from disk by the server: the cost of
  loading and Step 1 without any upload, so the difference is what the upload adds.

The clock runs from handing the file (or path) to the page until the Step 1 heading is
visible. RSS is the sum over the server process and its children, polled every 50 ms;
"idle" is the RSS after the page has opened and before the file is handed over.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SIGNOFF_BROWSER", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
POLL_SECONDS = 0.05
TIMEOUT_MS = 900_000


@dataclass(frozen=True)
class Measured:
    file: str
    megabytes: float
    route: str
    seconds: float
    idle_rss: int
    peak_rss: int


class PeakRss:
    """Polls a process tree's resident memory in a thread and keeps the maximum."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def current(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(POLL_SECONDS)

    def __enter__(self) -> PeakRss:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer on {url}/health within {timeout} s")


@contextmanager
def server(command: list[str], workdir: Path, port: int) -> Iterator[tuple[str, int]]:
    """Runs `command` from the project root with a private database and workspace."""
    env = {
        **os.environ,
        "SIGNOFF_DB": str(workdir / "signoff.db"),
        "SIGNOFF_WORKSPACE": str(workdir / "workspace"),
        "SIGNOFF_MAX_MB": "250",
    }
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_HOSTED"):
        env.pop(key, None)
    with (workdir / "server.log").open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, proc)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def marimo_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "marimo",
        "run",
        "app.py",
        "--headless",
        "--no-token",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def hand_over(page, route: str, file: Path) -> None:
    """Gives the page the file by `route`; the clock is already running."""
    if route == "upload":
        page.locator("input[type=file]").set_input_files(str(file))
    else:
        page.get_by_role("textbox", name="Path on this machine").fill(str(file))
        page.get_by_role("button", name="Load file").click()


def measure(browser, file: Path, route: str) -> Measured:
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="signoff-bench-") as tmp,
        server(marimo_command(port), Path(tmp), port) as (url, pid),
    ):
        if True:
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            tab = "Upload" if route == "upload" else "Local path"
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(1000)
            with PeakRss(pid) as rss:
                idle = rss.peak
                start = time.perf_counter()
                hand_over(page, route, file)
                page.get_by_role("heading", name="Step 1 · Overview").wait_for(timeout=TIMEOUT_MS)
                seconds = time.perf_counter() - start
            context.close()
    size = file.stat().st_size
    return Measured(file.name, size / 1e6, route, seconds, idle, rss.peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument(
        "--routes", nargs="+", default=["upload", "path"], choices=["upload", "path"]
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; time = file handed over -> Step 1 heading visible")
    print(
        f"{'file':<22} {'MB':>6} {'route':<7} {'seconds':>8} {'idle RSS MB':>12} "
        f"{'peak RSS MB':>12} {'(peak-idle)/file':>17}"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for file in args.files:
            for route in args.routes:
                m = measure(browser, file.resolve(), route)
                growth = (m.peak_rss - m.idle_rss) / (m.megabytes * 1e6)
                print(
                    f"{m.file:<22} {m.megabytes:>6.0f} {m.route:<7} {m.seconds:>8.1f} "
                    f"{m.idle_rss / 1e6:>12.0f} {m.peak_rss / 1e6:>12.0f} {growth:>17.2f}",
                    flush=True,
                )
        browser.close()


if __name__ == "__main__":
    main()
