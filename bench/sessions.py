"""N concurrent browser-less sessions on one `marimo run` server or two: time to gate 1, RSS.

    uv run python bench/sessions.py samples/messy_orders.csv bench/data/messy_20mb.csv \
        --sessions 1 2 4 8 16 --servers 1 2 --repeat 2 --markdown

Why without a browser: a hosted team's cost is the server's (one marimo process, one kernel
thread per viewer), and 16 chromium tabs would take the two cores the server needs. Each
session here does what the frontend does, over marimo 0.25's own protocol: GET `/` (the page
carries the skew-protection token every POST must send back), open `/ws?session_id=…`
(in run mode the server instantiates the notebook itself and streams `cell-op` messages),
wait for the first `completed-run`, then press the source's button by posting its form's
value to `/api/kernel/set_ui_element_value` — the "Load sample" form for a bundled sample
(the dropdown's label), the "Local path" form for any other file (its path). The clock stops
at the first `cell-op` whose output holds gate 1's form ("Gate 1" and "Record decision"),
i.e. once load, Step 1 and Step 2 are computed and their pages sent ahead of it.

Each (file, servers, N, repeat) gets fresh servers sharing one SQLite file and workspace
(as two replicas behind a sticky proxy share one database and volume; docs/deploy), started
one after the other so the first creates the schema. Each server is warmed by one session
that loads the same file and stays open, so imports and the first load are paid before the
clock starts: that is a server that has already served someone. The N sessions, split
round-robin between the servers, open their pages one after the other (`--opening
together`: all at once) and then press their buttons together (a barrier); the clock of
each runs from its press. A session that never reaches gate 1 (its page ran without the
source form, or nothing came within `--timeout`) is counted as failed with its reason,
and the others go on. RSS is the sum over every
server's process tree, polled every 50 ms: "base" after the warm-up, "held" with all N
sessions open at gate 1, "peak" the maximum meanwhile. The load average is read before and
after each run: the machine is shared, and it moves every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from upload import PeakRss, free_port, server_env, stop, wait_until_up
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samples import SAMPLES, sample_path  # noqa: E402

TOKEN = re.compile(r'"serverToken": "([^"]+)"')
GATE1_MARKERS = ("Gate 1", "Record decision")


def form_id(html: str, button: str) -> str | None:
    """The object id of the `mo.ui.form` whose submit button reads `button`, in a cell's HTML.

    The id is what `/api/kernel/set_ui_element_value` takes; it is the `marimo-ui-element`
    wrapping the `marimo-form`, not the element inside the form."""
    found = re.search(
        r"object-id='([^']+)' random-id='[^']+'><marimo-form[^>]*?"
        rf"data-submit-button-label='&quot;{re.escape(button)}&quot;'",
        html,
    )
    return found.group(1) if found else None


def source_answer(file: Path) -> tuple[str, object]:
    """(submit button, form value) that hands `file` to the notebook, as a click would:
    a bundled sample through "Load sample" (the dropdown's value is a list of labels),
    anything else through "Local path"."""
    for sample in SAMPLES:
        if sample_path(sample.name).resolve() == file.resolve():
            return "Load sample", [sample.title]
    return "Load file", str(file.resolve())


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: with 8 sessions p95 is the slowest, with 16 the second."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Timing:
    """One session: seconds from opening the page to its first completed run (`ready`), and
    from pressing the button (`to_gate1`) and from opening (`open_to_gate1`) to gate 1."""

    ready: float
    to_gate1: float
    open_to_gate1: float
    finished_at: float  # perf_counter when gate 1 arrived


class SessionFailed(Exception):
    """A session that never reached gate 1; its sentence goes into the run's failures."""


class Session:
    """One browser-less viewer of a `marimo run` server, driven over HTTP and its websocket.

    `open()` is the page (up to its first completed run, the source form found); `press()`
    hands the file over and waits for gate 1. The websocket stays open until the session is
    closed, so the server keeps the session (and its memory) meanwhile."""

    def __init__(self, url: str, session_id: str, file: Path, timeout: float) -> None:
        self.url = url
        self.session_id = session_id
        self.file = file
        self.timeout = timeout
        self._stack = ExitStack()
        self._ws: ClientConnection | None = None
        self._token = ""
        self._form = ""
        self._opened = self._ready = 0.0

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _recv(self, deadline: float) -> str:
        assert self._ws is not None
        left = deadline - time.perf_counter()
        if left <= 0:
            raise SessionFailed(f"{self.session_id}: nothing within {self.timeout:.0f} s")
        try:
            return str(self._ws.recv(timeout=left))
        except TimeoutError:
            raise SessionFailed(f"{self.session_id}: nothing within {self.timeout:.0f} s") from None

    def open(self) -> None:
        self._opened = time.perf_counter()
        deadline = self._opened + self.timeout
        with urllib.request.urlopen(f"{self.url}/", timeout=self.timeout) as page:
            found = TOKEN.search(page.read().decode())
        if found is None:
            raise SessionFailed(f"{self.session_id}: the page carries no server token")
        self._token = found.group(1)
        ws_url = self.url.replace("http://", "ws://") + f"/ws?session_id={self.session_id}"
        # No pings, and an unbounded queue: a held session reads nothing more, and a bounded
        # queue would stop the client reading the socket (its pongs too) and drop it.
        self._ws = self._stack.enter_context(
            connect(ws_url, max_size=None, max_queue=None, ping_interval=None, open_timeout=60)
        )
        button, _ = source_answer(self.file)
        form: str | None = None
        while True:
            raw = self._recv(deadline)
            if form is None and button in raw and '"op": "cell-op"' in raw:
                output = json.loads(raw)["data"].get("output") or {}
                form = form_id(str(output.get("data", "")), button)
            if '"op": "completed-run"' in raw:
                break
        if form is None:
            # Seen when several pages open at once: marimo's compile of app.py in each
            # session's thread raised CPython's "AST constructor recursion depth mismatch"
            # (server log), and every cell after the setup failed with a NameError.
            raise SessionFailed(f"{self.session_id}: the page ran without its source form")
        self._form = form
        self._ready = time.perf_counter()

    def press(self) -> Timing:
        pressed = time.perf_counter()
        deadline = pressed + self.timeout
        self._post(self._token, self._form, source_answer(self.file)[1])
        while True:
            raw = self._recv(deadline)
            if '"op": "cell-op"' in raw and all(m in raw for m in GATE1_MARKERS):
                done = time.perf_counter()
                return Timing(self._ready - self._opened, done - pressed, done - self._opened, done)

    def _post(self, token: str, form: str, value: object) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/kernel/set_ui_element_value",
            data=json.dumps({"objectIds": [form], "values": [value]}).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Marimo-Session-Id": self.session_id,
                "Marimo-Server-Token": token,
            },
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            if not json.loads(answer.read()).get("success"):
                raise RuntimeError("the server refused the button's value")


@contextmanager
def servers(count: int, workdir: Path) -> Iterator[list[tuple[str, int]]]:
    """`count` `marimo run app.py` processes sharing one SQLite file and one workspace,
    started one after the other (the first creates the schema); yields (url, pid) each."""
    env = server_env(workdir)
    with ExitStack() as stack:
        started: list[tuple[str, int]] = []
        for number in range(count):
            port = free_port()
            log = stack.enter_context((workdir / f"server{number}.log").open("w"))
            command = [sys.executable, "-m", "marimo", "run", "app.py", "--headless"]
            proc = subprocess.Popen(
                [*command, "--no-token", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, proc)
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, proc)
            started.append((url, proc.pid))
        yield started


@dataclass(frozen=True)
class Run:
    file: str
    servers: int
    sessions: int
    opening: str
    timings: list[Timing]
    failures: list[str]
    makespan: float  # the button pressed → the last session at gate 1
    cpu_seconds: float  # the servers' CPU while the N sessions' threads ran
    cpu_wall: float  # how long those threads ran (from the press; with "together", the pages)
    base_rss: int
    held_rss: int
    peak_rss: int
    load_before: float
    load_after: float

    def p(self, share: float) -> float:
        return percentile([t.to_gate1 for t in self.timings], share) if self.timings else math.nan

    @property
    def cores(self) -> float:
        """The servers' CPU over the run, in cores busy on average."""
        return self.cpu_seconds / self.cpu_wall if self.cpu_wall else 0.0

    @property
    def per_minute(self) -> float:
        """Sessions brought to gate 1 per minute while they ran at once."""
        return 60.0 * len(self.timings) / self.makespan if self.timings else 0.0


def measure(file: Path, server_count: int, sessions: int, *, opening: str, timeout: float) -> Run:
    """One run: fresh servers, one warm session each, then `sessions` pressing at once.

    `opening`: "staggered" opens the pages one after the other (each to its first completed
    run) before the buttons are pressed together; "together" opens them at once too."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signoff-sessions-")))
        started = stack.enter_context(servers(server_count, tmp))
        for number, (url, _) in enumerate(started):
            warm = stack.enter_context(Session(url, f"s_warm{number}", file, timeout))
            warm.open()
            warm.press()
        load_before = os.getloadavg()[0]
        rss = stack.enter_context(PeakRss(*(pid for _, pid in started)))
        base = rss.current()
        viewers = [
            stack.enter_context(Session(started[n % server_count][0], f"s_b{n}", file, timeout))
            for n in range(sessions)
        ]
        failures: list[str] = []
        if opening == "staggered":
            live = []
            for viewer in viewers:
                try:
                    viewer.open()
                    live.append(viewer)
                except SessionFailed as failed:
                    failures.append(str(failed))
        else:
            live = viewers
        hold = threading.Barrier(len(live)) if live else None
        timings: list[Timing] = []
        lock = threading.Lock()

        def drive(viewer: Session) -> None:
            assert hold is not None
            try:
                if opening != "staggered":
                    viewer.open()
            except SessionFailed as failed:
                with lock:
                    failures.append(str(failed))
                hold.abort()  # the others go on without it
                return
            # A page that failed to open breaks the barrier: press without waiting for it.
            with suppress(threading.BrokenBarrierError):
                hold.wait()
            try:
                timing = viewer.press()
            except SessionFailed as failed:
                with lock:
                    failures.append(str(failed))
                return
            with lock:
                timings.append(timing)

        threads = [threading.Thread(target=drive, args=(v,)) for v in live]
        cpu_before, wall_before = rss.cpu(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu_seconds, cpu_wall = rss.cpu() - cpu_before, time.perf_counter() - wall_before
        pressed = min((t.finished_at - t.to_gate1 for t in timings), default=0.0)
        makespan = max((t.finished_at for t in timings), default=0.0) - pressed
        time.sleep(1.0)  # the outputs after gate 1 (its state, the cells it stops)
        held = rss.current()
        return Run(
            file=file.name,
            servers=server_count,
            sessions=sessions,
            opening=opening,
            timings=timings,
            failures=failures,
            makespan=makespan,
            cpu_seconds=cpu_seconds,
            cpu_wall=cpu_wall,
            base_rss=base,
            held_rss=held,
            peak_rss=max(rss.peak, held),
            load_before=load_before,
            load_after=os.getloadavg()[0],
        )


def best(runs: Sequence[Run]) -> Run:
    """The repeat with the fewest failed sessions, then the lowest median: the machine is
    shared, so slower repeats measure the neighbours more than the server."""
    return min(runs, key=lambda r: (len(r.failures), r.p(0.5)))


def _page(run: Run) -> float:
    return statistics.median(t.ready for t in run.timings) if run.timings else math.nan


def _per_session(run: Run) -> float:
    return (run.held_rss - run.base_rss) / run.sessions / 1e6


def line(run: Run, repeat: int) -> str:
    return (
        f"{run.file:<20} {run.servers:>7} {run.sessions:>8} {repeat:>6} {run.p(0.5):>7.2f} "
        f"{run.p(0.95):>7.2f} {run.makespan:>8.2f} {run.per_minute:>7.1f} "
        f"{run.base_rss / 1e6:>8.0f} {run.held_rss / 1e6:>8.0f} {run.peak_rss / 1e6:>8.0f} "
        f"{_per_session(run):>9.1f} {_page(run):>7.2f} {run.cores:>6.2f} {len(run.failures):>6} "
        f"{run.load_before:>5.1f}→{run.load_after:<5.1f}"
    )


HEADER = (
    f"{'file':<20} {'servers':>7} {'sessions':>8} {'repeat':>6} {'p50 s':>7} {'p95 s':>7} "
    f"{'all s':>8} {'/min':>7} {'base MB':>8} {'held MB':>8} {'peak MB':>8} "
    f"{'MB/sess':>9} {'page s':>7} {'cores':>6} {'failed':>6} load"
)


def markdown(runs: Sequence[Run], repeats: int) -> str:
    rows = [
        "| file | servers | sessions | p50 s | p95 s | all at gate 1 s | sessions/min "
        "| server cores busy | base RSS MB | held RSS MB | peak RSS MB | MB per session "
        "| page s | failed | load avg |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    groups: dict[tuple[str, int, int, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.file, run.servers, run.sessions, run.opening), []).append(run)
    for group in groups.values():
        run = best(group)
        loads = [r.load_before for r in group] + [r.load_after for r in group]
        failed = sum(len(r.failures) for r in group)
        rows.append(
            f"| {run.file} | {run.servers} | {run.sessions} | {run.p(0.5):.2f} "
            f"| {run.p(0.95):.2f} | {run.makespan:.2f} | {run.per_minute:.1f} | {run.cores:.2f} "
            f"| {run.base_rss / 1e6:.0f} | {run.held_rss / 1e6:.0f} | {run.peak_rss / 1e6:.0f} "
            f"| {_per_session(run):.0f} | {_page(run):.2f} "
            f"| {failed} of {run.sessions * len(group)} "
            f"| {min(loads):.1f}–{max(loads):.1f} |"
        )
    return "\n".join(rows) + (
        f"\n\n(best of {repeats} by failures, then p50; failed and load average over all repeats)"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2], choices=[1, 2, 3, 4])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--opening",
        choices=["staggered", "together"],
        default="staggered",
        help="open the pages one after the other before pressing together, or all at once",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds a session may take per phase"
    )
    parser.add_argument("--markdown", action="store_true", help="end with a markdown table")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.sessions) or args.repeat < 1 or args.timeout <= 0:
        parser.error("--sessions, --repeat and --timeout take positive numbers")
    return args


def main() -> None:
    args = parse_args()
    print(
        f"{os.cpu_count()} cores; pages opened {args.opening}; p50/p95 = seconds from pressing "
        "the button to gate 1's form (nearest rank); all = until the last session's; page = "
        "opening to the first completed run (median)"
    )
    print(HEADER, flush=True)
    runs: list[Run] = []
    for file in args.files:
        for server_count in args.servers:
            for sessions in args.sessions:
                for repeat in range(1, args.repeat + 1):
                    run = measure(
                        file.resolve(),
                        server_count,
                        sessions,
                        opening=args.opening,
                        timeout=args.timeout,
                    )
                    runs.append(run)
                    print(line(run, repeat), flush=True)
                    for failure in run.failures:
                        print(f"    failed: {failure}", flush=True)
    if args.markdown:
        print()
        print(markdown(runs, args.repeat))


if __name__ == "__main__":
    main()
