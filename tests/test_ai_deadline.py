"""Issue 20 item 5: one deadline per AI call, retries and waits included.

The real google-genai client (and Ollama's httpx2 client) talk to servers on 127.0.0.1 that
misbehave slowly: a raw socket server that drips its answer one byte at a time (every byte
arrives well inside any per-read timeout, so only a total deadline can stop it), and
pytest-httpserver handlers that answer 429 late with `Retry-After`. Each call must end within
`MARGIN_S` of its deadline, with the offline advisor's answer and a notice.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from test_ai_fixtures import step_results
from test_ai_gemini import GENERATE, KEY, gemini, gemini_body
from werkzeug import Request, Response

from ai.advisor import CallRecord
from ai.gemini import GeminiAdvisor
from ai.ollama import OllamaAdvisor
from ai.remote import retry_after

MARGIN_S = 0.5
"""Past the deadline: a thread and an event loop to start, a client to build, a socket to
close. Measured overshoot: 20-60 ms (bench/README.md)."""
DRIP_EVERY_S = 0.2

Handler = Callable[[socket.socket, threading.Event], None]


class DripServer:
    """A raw HTTP/1.1 server: each connection is handed to `handler` in a thread of its own."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}/"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            _read_request(conn)
            with contextlib.suppress(OSError):  # the client hung up: what a deadline does
                self._handler(conn, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._accepting.join()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()


def _read_request(conn: socket.socket) -> None:
    """Headers, then as many body bytes as Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def drip(conn: socket.socket, stop: threading.Event, data: bytes) -> None:
    for i in range(len(data)):
        if stop.wait(DRIP_EVERY_S):
            return
        conn.sendall(data[i : i + 1])


def drip_body(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then a 10 000-byte body one byte per `DRIP_EVERY_S` (33 min)."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    )
    drip(conn, stop, b" " * 10000)


def drip_headers(conn: socket.socket, stop: threading.Event) -> None:
    """Even the status line arrives one byte at a time."""
    drip(conn, stop, b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * 5000 + b"\r\n\r\n{}")


@pytest.fixture
def dripping(request: pytest.FixtureRequest) -> Iterator[DripServer]:
    server = DripServer(request.param)
    yield server
    server.close()


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "dripping", [drip_body, drip_headers], indirect=True, ids=["body", "headers"]
)
def test_a_dripping_gemini_server_is_cut_off_at_the_deadline(dripping: DripServer) -> None:
    calls: list[CallRecord] = []
    advisor = GeminiAdvisor(KEY, base_url=dripping.url, timeout_s=1.0, on_call=calls.append)
    insights, elapsed = timed(lambda: advisor.advise("overview", step_results()["overview"]))
    assert 1.0 <= elapsed < 1.0 + MARGIN_S
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini did not answer within 1 s; showing the offline advisor's findings instead."
    )
    assert [c.outcome for c in calls] == ["timeout"]
    assert dripping.connections == 1


@pytest.mark.parametrize("dripping", [drip_body], indirect=True)
def test_a_dripping_ollama_server_is_cut_off_at_the_deadline(dripping: DripServer) -> None:
    calls: list[CallRecord] = []
    advisor = OllamaAdvisor(dripping.url, timeout_s=1.0, on_call=calls.append)
    insights, elapsed = timed(lambda: advisor.advise("quality", step_results()["quality"]))
    assert 1.0 <= elapsed < 1.0 + MARGIN_S
    assert insights.advisor == "offline"
    assert insights.notice is not None and "did not answer within 1 s" in insights.notice
    assert [c.outcome for c in calls] == ["timeout"]


def _late_429(delay_s: float, arrivals: list[float], retry_after_value: str):
    def handler(request: Request) -> Response:
        arrivals.append(time.monotonic())
        time.sleep(delay_s)
        body = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
        return Response(
            json.dumps(body),
            status=429,
            content_type="application/json",
            headers={"Retry-After": retry_after_value},
        )

    return handler


@pytest.fixture
def fake() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_slow_429s_honour_retry_after_and_stop_when_the_next_wait_would_pass_the_deadline(
    fake: HTTPServer,
) -> None:
    """0.3 s to each 429, Retry-After 1 s, backoff 1 s then 2 s, deadline 3 s: the first wait
    fits (ends at 1.3 s), the second would end at 3.6 s, so the call ends after the second
    answer (1.6 s) instead of sleeping past its deadline. Each step has ~1 s of slack, so a
    busy machine's overheads do not change the sequence."""
    arrivals: list[float] = []
    fake.expect_request(GENERATE).respond_with_handler(_late_429(0.3, arrivals, "1"))
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=3.0, backoff=lambda n: float(n), sleep=time.sleep)
    insights, elapsed = timed(lambda: advisor.advise("quality", step_results()["quality"]))
    assert elapsed < 3.0
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 0.3 + 1.0
    assert [(c.attempt, c.outcome) for c in calls] == [(1, "rate_limited"), (2, "rate_limited")]
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini was rate-limited (HTTP 429) on 2 attempts and could not retry within the 3 s "
        "limit; showing the offline advisor's findings instead."
    )


def test_a_retry_after_longer_than_the_deadline_gives_up_at_once(fake: HTTPServer) -> None:
    arrivals: list[float] = []
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    fake.expect_request(GENERATE).respond_with_handler(_late_429(0.2, arrivals, later))
    advisor = gemini(fake, [], timeout_s=3.0, sleep=time.sleep)
    insights, elapsed = timed(lambda: advisor.advise("overview", step_results()["overview"]))
    assert elapsed < 1.5 and len(arrivals) == 1  # not the 60 s asked, nor the 3 s deadline
    assert "on 1 attempt and could not retry within the 3 s limit" in (insights.notice or "")


def test_geminis_retry_info_in_the_body_counts_as_retry_after(fake: HTTPServer) -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
        }
    }
    fake.expect_request(GENERATE).respond_with_json(body, status=429)
    waits: list[float] = []
    advisor = gemini(fake, [], timeout_s=30.0, sleep=waits.append)
    advisor.advise("overview", step_results()["overview"])
    assert waits == [7.0, 7.0]


def test_a_backoff_that_would_pass_the_deadline_is_not_slept(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json({"error": {"code": 500}}, status=500)
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=1.0, backoff=lambda n: 5.0, sleep=time.sleep)
    insights, elapsed = timed(lambda: advisor.advise("overview", step_results()["overview"]))
    assert elapsed < 1.0 and len(calls) == 1  # the 5 s backoff was not slept
    assert insights.notice == (
        "Gemini failed with HTTP 500 on 1 attempt and could not retry within the 1 s limit; "
        "showing the offline advisor's findings instead."
    )


def test_the_deadline_runs_through_the_backoff_into_the_retry(fake: HTTPServer) -> None:
    """A fast 503, a 0.5 s backoff, then a retry the server answers after 3 s: the retry is
    cancelled when the call's 2 s are up, not after a timeout of its own."""
    answered = threading.Event()

    def slow_success(request: Request) -> Response:
        time.sleep(3.0)
        answered.set()
        return Response(json.dumps(gemini_body({"findings": []})), content_type="application/json")

    fake.expect_oneshot_request(GENERATE).respond_with_json({"error": {"code": 503}}, status=503)
    fake.expect_oneshot_request(GENERATE).respond_with_handler(slow_success)
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=2.0, backoff=lambda n: 0.5, sleep=time.sleep)
    insights, elapsed = timed(lambda: advisor.advise("statistics", step_results()["statistics"]))
    assert 2.0 <= elapsed < 2.0 + MARGIN_S
    assert [c.outcome for c in calls] == ["server_error", "timeout"]
    assert insights.notice == (
        "Gemini did not answer within 2 s on attempt 2; showing the offline advisor's "
        "findings instead."
    )
    answered.wait(5)  # the server's late answer lands before the fixture stops it


def test_a_call_inside_a_running_event_loop_keeps_its_deadline() -> None:
    """A marimo cell runs inside an event loop: the call must not need `asyncio.run`."""
    import asyncio

    server = DripServer(drip_body)
    try:
        advisor = GeminiAdvisor(KEY, base_url=server.url, timeout_s=0.5)

        async def cell() -> tuple[object, float]:
            return timed(lambda: advisor.advise("overview", step_results()["overview"]))

        insights, elapsed = asyncio.run(cell())
    finally:
        server.close()
    assert insights.advisor == "offline" and 0.5 <= elapsed < 0.5 + MARGIN_S


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_reads_delta_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


def test_retry_after_reads_an_http_date() -> None:
    seconds = retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert seconds is not None and 28 <= seconds <= 30
