"""Slow clients cannot hold the server: raw sockets against `python -m server`.

Three kinds of slowloris, 20 connections each (`SIGNOFF_UPLOAD_TIMEOUT` = 2 s here): an
upload that sends its headers and then nothing; one that drips a byte a second; and a
request whose headers arrive one line every second and never end. Each must be answered
(408) or closed within the timeout plus a margin, keep nothing, and leave an ordinary
upload made meanwhile as fast as ever. The figures measured are printed (`-s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from helpers import run_coroutine
from test_upload_route import csv_bytes, kept_files, leftovers

from server.upload import paced
from steps.errors import UploadTooSlow
from steps.settings import UploadSettings

TIMEOUT_S = 2.0
CONNECTIONS = 20
MARGIN_S = 2.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from conftest import serve

    tmp = tmp_path_factory.mktemp("slow")
    command = ["-m", "server", "--port", "{port}", "--no-token"]
    yield from serve(tmp, command, SIGNOFF_UPLOAD_TIMEOUT=str(TIMEOUT_S))


def opened(url: str, first: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(first)
    sock.setblocking(False)
    return sock


UPLOAD_HEAD = (
    b"POST /upload?name=slow.csv HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nid,x\n"
)


def held_for(
    socks: list[socket.socket], drip: bytes | None, started: float, limit_s: float
) -> list[tuple]:
    """(seconds from `started` until the server closed, what it sent) per connection,
    sending `drip` on each open one every second meanwhile."""
    outcome: dict[int, tuple[float, bytes]] = {}
    answers = {i: b"" for i in range(len(socks))}
    last_drip = started
    while len(outcome) < len(socks) and time.monotonic() - started < limit_s:
        for i, sock in enumerate(socks):
            if i in outcome:
                continue
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                answers[i] += data
            else:
                outcome[i] = (time.monotonic() - started, answers[i])
        if drip is not None and time.monotonic() - last_drip >= 1.0:
            last_drip = time.monotonic()
            for i, sock in enumerate(socks):
                if i not in outcome:
                    try:
                        sock.send(drip)
                    except OSError:
                        outcome[i] = (time.monotonic() - started, answers[i])
        time.sleep(0.02)
    for sock in socks:
        sock.close()
    return [outcome.get(i, (None, answers[i])) for i in range(len(socks))]


def ordinary_upload(url: str) -> float:
    data = csv_bytes(50_000)
    started = time.monotonic()
    answer = httpx2.post(f"{url}/upload", params={"name": "ok.csv"}, content=data)
    assert answer.status_code == 200 and answer.json()["sha256"] == hashlib.sha256(data).hexdigest()
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "first", "drip"),
    [
        ("body that stalls", UPLOAD_HEAD, None),
        ("body that drips a byte a second", UPLOAD_HEAD, b"1"),
        ("headers that never end", b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X-A: b\r\n"),
    ],
)
def test_twenty_slow_connections_are_let_go_within_the_timeout(
    served: dict, kind: str, first: bytes, drip: bytes | None
) -> None:
    started = time.monotonic()
    socks = [opened(served["url"], first) for _ in range(CONNECTIONS)]
    ordinary_s = ordinary_upload(served["url"])  # while all twenty are held
    results = held_for(socks, drip, started, TIMEOUT_S + MARGIN_S + 5)
    times = [t for t, _ in results]
    assert None not in times, f"{kind}: {times.count(None)} of {CONNECTIONS} still held"
    assert max(times) <= TIMEOUT_S + MARGIN_S
    if first is UPLOAD_HEAD:
        assert all(answer.startswith(b"HTTP/1.1 408") for _, answer in results)
        assert b"nothing was kept" in results[0][1]
    print(
        f"\n{kind}: {CONNECTIONS} connections let go after {min(times):.2f}–{max(times):.2f} s "
        f"(timeout {TIMEOUT_S} s); an ordinary upload meanwhile took {ordinary_s * 1000:.0f} ms"
    )
    assert ordinary_s < 2.0
    assert [p.name for p in kept_files(served["workspace"])] == ["ok.csv"]
    assert leftovers(served["workspace"]) == []


# ------------------------------------------------------------------ the pacing rule


async def pieces(gaps_s: list[float], size: int = 1) -> AsyncIterator[bytes]:
    for gap in gaps_s:
        await asyncio.sleep(gap)
        yield b"x" * size


def read_all(gaps_s: list[float], settings: UploadSettings, size: int = 1) -> tuple[int, float]:
    async def run() -> int:
        return sum([len(c) async for c in paced(pieces(gaps_s, size), settings)])

    started = time.monotonic()
    total = run_coroutine(run())
    return total, time.monotonic() - started


QUICK = UploadSettings(read_timeout_s=0.3, min_bytes_per_s=100.0)


def test_a_steady_body_is_read_whole() -> None:
    assert read_all([0.01] * 20, QUICK, size=50) == (1000, pytest.approx(0.2, abs=0.2))


def test_a_body_that_stops_is_cut_at_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(UploadTooSlow, match="nothing was kept") as caught:
        read_all([0.0, 5.0], QUICK)
    assert time.monotonic() - started < 0.6
    assert str(caught.value).startswith("The upload stalled: 1 bytes arrived in")


def test_a_drip_under_the_minimum_rate_is_cut_at_the_timeout_not_later() -> None:
    started = time.monotonic()
    with pytest.raises(UploadTooSlow):
        read_all([0.2] * 50, QUICK)  # 5 bytes a second, each piece within the timeout
    assert time.monotonic() - started < 0.6


def test_a_slow_start_is_forgiven_once_the_rate_is_made_up() -> None:
    total, _ = read_all([0.25, 0.01, 0.01], QUICK, size=200)
    assert total == 600


@pytest.mark.slow
def test_a_websocket_and_a_kept_alive_connection_outlive_the_header_deadline(
    served: dict,
) -> None:
    """The deadline is for request headers only: once a request is in, it is lifted."""
    import websockets.sync.client

    ws_url = served["url"].replace("http://", "ws://") + "/ws?session_id=s_deadline"
    with websockets.sync.client.connect(ws_url, open_timeout=10) as ws:
        started = time.monotonic()
        while time.monotonic() - started < 2 * TIMEOUT_S + 0.5:
            with contextlib.suppress(TimeoutError):
                ws.recv(timeout=0.5)
        ws.ping().wait(timeout=5)  # still open
    with httpx2.Client(base_url=served["url"]) as client:
        assert client.get("/health").status_code == 200
        time.sleep(TIMEOUT_S / 2)  # under uvicorn's keep-alive, on the same connection
        assert client.get("/health").status_code == 200
