"""Issue 20 item 5: one deadline per AI call, whatever the server does.

The real google-genai client (and Ollama's httpx2 client) talk to a raw socket server on
127.0.0.1 that drips its answer one byte at a time: every byte arrives well inside any
per-read timeout, so only a total deadline can stop it. Each call must end within
`MARGIN_S` of its deadline, with the offline advisor's answer and a notice. The slow 429s,
`Retry-After` and backoff against the deadline are in `test_ai_gemini.py`, beside the other
faults of its fake server.
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from test_ai_gemini import KEY, MARGIN_S, advise, timed

from ai.gemini import GeminiAdvisor
from ai.ollama import OllamaAdvisor
from ai.remote import retry_after
from ai.types import CallRecord

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


@pytest.mark.parametrize(
    "dripping", [drip_body, drip_headers], indirect=True, ids=["body", "headers"]
)
def test_a_dripping_gemini_server_is_cut_off_at_the_deadline(dripping: DripServer) -> None:
    calls: list[CallRecord] = []
    advisor = GeminiAdvisor(KEY, base_url=dripping.url, timeout_s=1.0, on_call=calls.append)
    insights, elapsed = timed(lambda: advise(advisor, "overview"))
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
    insights, elapsed = timed(lambda: advise(advisor, "quality"))
    assert 1.0 <= elapsed < 1.0 + MARGIN_S
    assert insights.advisor == "offline"
    assert insights.notice is not None and "did not answer within 1 s" in insights.notice
    assert [c.outcome for c in calls] == ["timeout"]


def test_a_call_inside_a_running_event_loop_keeps_its_deadline() -> None:
    """A marimo cell runs inside an event loop: the call must not need `asyncio.run`."""
    import asyncio

    server = DripServer(drip_body)
    try:
        advisor = GeminiAdvisor(KEY, base_url=server.url, timeout_s=0.5)

        async def cell() -> tuple[object, float]:
            return timed(lambda: advise(advisor, "overview"))

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
