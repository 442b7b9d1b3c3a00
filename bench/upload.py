"""Time a file from the browser to "Step 1 · Overview", and the server's peak RSS meanwhile.

    uv run python bench/upload.py bench/data/messy_20mb.csv bench/data/messy_200mb.csv
    uv run python bench/upload.py FILE --routes upload path stream

Each (file, route) gets a fresh server with its own SQLite file and workspace
(SIGNOFF_MAX_MB=250) and a fresh page in Debian chromium. Routes:

- `upload`: `marimo run app.py`, the Upload tab's `mo.ui.file`: the browser reads the file,
  base64-encodes it and sends it in one request that the server holds in memory;
- `path`: `marimo run app.py`, the Local path tab: the server reads the same file from disk,
  so this is the cost of loading and Step 1 alone, and the difference is what an upload adds;
- `stream`: `python -m server` (marimo's ASGI app beside `POST /upload`): the page
  `/upload` sends the file as a streamed request body, which the server writes to the
  workspace as it arrives; the browser then opens `/?upload=<sha256>`, which the notebook
  (`--notebook`, default app.py) must read with `mo.query_params()`.

The clock runs from handing the file (or path) to the page until the Step 1 heading is
visible; for `stream` that includes opening the notebook page after the upload, and
"sending" is the part until the upload is kept and the browser moves on. RSS is the
sum over the server process and its children, polled every 50 ms; "idle" is the RSS once the
page is open, before the file is handed over.

The browser is driven over the DevTools protocol directly, not through playwright:
playwright enables the Network domain, whose request event carries a POST body whole (as
text and again as base64), and the 267 MB body of a 200 MB `mo.ui.file` upload overflows
its driver's string limit (node ERR_STRING_TOO_LONG). Without that domain chromium sends no
such event.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SIGNOFF_BROWSER") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--window-size=1280,1000",
]
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 900.0
ROUTES = ("upload", "path", "stream")

# Finds elements through marimo's shadow roots, as playwright's locators do.
DEEP = """
const deepAll = (selector, root = document) => {
  const found = [...root.querySelectorAll(selector)];
  for (const el of root.querySelectorAll("*"))
    if (el.shadowRoot) found.push(...deepAll(selector, el.shadowRoot));
  return found;
};
const visible = (el) => el.getClientRects().length > 0;
"""


@dataclass(frozen=True)
class Measured:
    file: str
    megabytes: float
    route: str
    seconds: float
    sending: float | None
    idle_rss: int
    peak_rss: int
    websocket_bytes: dict[str, int]


class PeakRss:
    """Polls the summed resident memory of one or more process trees (each process and its
    children) in a thread and keeps the maximum."""

    def __init__(self, *pids: int) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _trees(self) -> list[psutil.Process]:
        return [p for root in self.processes for p in [root, *root.children(recursive=True)]]

    def current(self) -> int:
        total = 0
        for proc in self._trees():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) the trees have used so far."""
        total = 0.0
        for proc in self._trees():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
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


class Page:
    """One browser tab over the DevTools protocol: navigate, evaluate, click, set files."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.websocket_bytes = 0

    def count_websocket_frames(self) -> None:
        """From now on, add up what the page receives over websockets (marimo's kernel
        messages), read from the DevTools events that arrive between replies."""
        self.send("Network.enable")

    def send(self, method: str, **params: object) -> dict:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=120))
            if message.get("method") == "Network.webSocketFrameReceived":
                self.websocket_bytes += len(message["params"]["response"]["payloadData"])
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str, *, by_value: bool = True) -> object:
        result = self.send(
            "Runtime.evaluate",
            expression=f"(() => {{ {DEEP}\nreturn ({expression}); }})()",
            returnByValue=by_value,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value") if by_value else result["result"]

    def wait_for(self, predicate: str, timeout: float = TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(f"Boolean({predicate})"):
                    return
            except RuntimeError:
                pass  # the page is navigating
            time.sleep(0.1)
        raise TimeoutError(f"not true within {timeout} s: {predicate}")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def click(self, element: str) -> None:
        """A real mouse click in the middle of the element (Radix tabs ignore el.click())."""
        box = self.evaluate(
            f"(() => {{ const el = {element}; el.scrollIntoView({{block: 'center'}});"
            " const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
            " })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def type_into(self, element: str, text: str) -> None:
        self.click(element)
        self.send("Input.insertText", text=text)

    def set_files(self, element: str, path: Path) -> None:
        handle = self.evaluate(element, by_value=False)
        self.send("DOM.setFileInputFiles", files=[str(path)], objectId=handle["objectId"])


def stop(proc: subprocess.Popen) -> None:
    """Ask a child process to end; kill it if it has not within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def chromium() -> Iterator[int]:
    """A headless chromium with a DevTools port; yields the port."""
    # chromium's helper processes may still write to the profile as the browser exits.
    with tempfile.TemporaryDirectory(
        prefix="signoff-chromium-", ignore_cleanup_errors=True
    ) as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_ARGS, "--remote-debugging-port=0", f"--user-data-dir={profile}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for line in proc.stderr:
                found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if found:
                    break
            else:
                raise RuntimeError("chromium did not open a DevTools port")
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            yield int(found.group(1))
        finally:
            stop(proc)


@contextmanager
def new_page(devtools_port: int) -> Iterator[Page]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{devtools_port}/json/new?about:blank", method="PUT"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        ws_url = json.loads(answer.read())["webSocketDebuggerUrl"]
    with connect(ws_url, max_size=None, open_timeout=30) as ws:
        yield Page(ws)


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


def server_env(workdir: Path) -> dict[str, str]:
    """The environment of a benchmarked server: a private database and workspace under
    `workdir`, room for the 200 MB file, no AI key and not hosted (the offline advisor)."""
    env = {
        **os.environ,
        "SIGNOFF_DB": str(workdir / "signoff.db"),
        "SIGNOFF_WORKSPACE": str(workdir / "workspace"),
        "SIGNOFF_MAX_MB": "250",
    }
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_HOSTED"):
        env.pop(key, None)
    return env


@contextmanager
def server(command: list[str], workdir: Path, port: int) -> Iterator[tuple[str, int]]:
    """Runs `command` from the project root with a private database and workspace."""
    env = server_env(workdir)
    with (workdir / "server.log").open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, proc)
            yield url, proc.pid
        finally:
            stop(proc)


def server_command(route: str, port: int, notebook: Path) -> list[str]:
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if route == "stream":
        return [sys.executable, "-m", "server", "--no-token", "--app", str(notebook), *where]
    return [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--no-token", *where]


TAB = "deepAll('[role=tab]').find((t) => t.textContent.trim() === {name!r})"
FILE_INPUT = "deepAll('input[type=file]').find(visible)"
STEP1 = "deepAll('h1, h2, h3').find((h) => h.textContent.includes('Step 1 · Overview'))"
STEP2 = "deepAll('h1, h2, h3').find((h) => h.textContent.includes('Step 2 · Quality'))"


def open_notebook(page: Page, url: str, route: str) -> None:
    """The app's page, ready for a file: the right tab open, the kernel idle."""
    page.goto(url)
    page.wait_for(TAB.format(name="Upload"), timeout=120)
    if route != "stream":
        tab = "Upload" if route == "upload" else "Local path"
        page.click(TAB.format(name=tab))
        page.wait_for(FILE_INPUT if route == "upload" else "deepAll('input[type=text]')[0]")
    time.sleep(1.0)


def hand_over(page: Page, url: str, route: str, file: Path) -> None:
    """Gives the page the file by `route`; the clock is already running."""
    if route == "upload":
        page.set_files(FILE_INPUT, file)
    elif route == "path":
        page.type_into("deepAll('input[type=text]')[0]", str(file))
        page.click("deepAll('button').find((b) => b.textContent.includes('Load file'))")
    else:
        page.goto(f"{url}/upload")
        page.wait_for("document.getElementById('file')", timeout=60)
        page.set_files("document.getElementById('file')", file)
        page.evaluate("document.querySelector('button[type=submit]').click()")


def measure(devtools_port: int, file: Path, route: str, notebook: Path) -> Measured:
    port = free_port()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signoff-bench-")))
        url, pid = stack.enter_context(server(server_command(route, port, notebook), tmp, port))
        page = stack.enter_context(new_page(devtools_port))
        open_notebook(page, url, route)
        counted = route != "upload"  # DevTools' Network events would carry the whole upload
        if counted:
            page.count_websocket_frames()
        with PeakRss(pid) as rss:
            idle = rss.peak
            start = time.perf_counter()
            hand_over(page, url, route, file)
            sending = None
            if route == "stream":
                page.wait_for("location.search.includes('upload=')")
                sending = time.perf_counter() - start
            page.wait_for(f"(() => {{ const h = {STEP1}; return h && visible(h); }})()")
            seconds = time.perf_counter() - start
            received = {"to Step 1": page.websocket_bytes}
            page.wait_for(f"(() => {{ const h = {STEP2}; return h && visible(h); }})()")
            time.sleep(2.0)  # let the last outputs of Step 2 arrive
            page.evaluate("true")
            received["to Step 2"] = page.websocket_bytes
            if not counted:
                received = {}
    size = file.stat().st_size / 1e6
    return Measured(file.name, size, route, seconds, sending, idle, rss.peak, received)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--routes", nargs="+", default=list(ROUTES), choices=ROUTES)
    parser.add_argument(
        "--notebook",
        type=Path,
        default=ROOT / "app.py",
        help="the notebook `stream` serves (it must open /?upload=<sha256>)",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; seconds = file handed over -> Step 1 heading visible")
    print(
        f"{'file':<20} {'MB':>5} {'route':<7} {'seconds':>8} {'sending':>8} {'idle RSS MB':>12} "
        f"{'peak RSS MB':>12} {'(peak-idle)/file':>17}  websocket KB received"
    )
    with chromium() as devtools_port:
        for file in args.files:
            for route in args.routes:
                m = measure(devtools_port, file.resolve(), route, args.notebook.resolve())
                growth = (m.peak_rss - m.idle_rss) / (m.megabytes * 1e6)
                print(
                    f"{m.file:<20} {m.megabytes:>5.0f} {m.route:<7} {m.seconds:>8.1f} "
                    f"{'' if m.sending is None else f'{m.sending:.1f}':>8} "
                    f"{m.idle_rss / 1e6:>12.0f} {m.peak_rss / 1e6:>12.0f} {growth:>17.2f}  "
                    + (
                        ", ".join(f"{k} {v / 1e3:,.0f}" for k, v in m.websocket_bytes.items())
                        or "—"
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
