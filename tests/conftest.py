"""Shared fixtures: a real `marimo run` server and a real Debian chromium driven by playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from review.audit import AuditTrail
from review.audit_key import load_or_create_key

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's chromium, or None; CI sets SIGNOFF_REQUIRE_BROWSER so a missing one fails."""
    path = os.environ.get("SIGNOFF_BROWSER") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(path).exists():
        return path
    if os.environ.get("SIGNOFF_REQUIRE_BROWSER"):
        pytest.fail("SIGNOFF_REQUIRE_BROWSER is set but no chromium was found")
    pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless chromium for the session; each test opens its own context."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"marimo exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"marimo did not answer on {url}/health within {timeout} s")


def serve(tmp_path: Path, command: list[str], **extra_env: str) -> Iterator[dict]:
    """Run a server (`{port}` in `command` is filled in) on 127.0.0.1 with its own SQLite
    file and workspace under `tmp_path`, until the test is done with it."""
    port = free_port()
    env = {
        **os.environ,
        "SIGNOFF_DB": str(tmp_path / "signoff.db"),
        "SIGNOFF_WORKSPACE": str(tmp_path / "workspace"),
        **extra_env,
    }
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, *(arg.replace("{port}", str(port)) for arg in command)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(url, proc)
            yield {
                "url": url,
                "db": Path(env["SIGNOFF_DB"]),
                "workspace": Path(env["SIGNOFF_WORKSPACE"]),
                "log": log_path,
            }
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def server_trail(server: dict) -> AuditTrail:
    """The trail a test server writes, opened with the key it created on first start."""
    return AuditTrail(server["db"], key=load_or_create_key(server["workspace"] / "audit.key"))


MARIMO_RUN = ["-m", "marimo", "run", "app.py", "--headless", "--no-token"]
MARIMO_RUN += ["--host", "127.0.0.1", "--port", "{port}"]


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[dict]:
    yield from serve(tmp_path, MARIMO_RUN)


@pytest.fixture
def hosted_server(tmp_path: Path) -> Iterator[dict]:
    yield from serve(tmp_path, MARIMO_RUN, SIGNOFF_HOSTED="1")


def postgres_bindir_or_skip() -> Path:
    """Debian's PostgreSQL binaries; CI sets SIGNOFF_REQUIRE_POSTGRES so missing ones fail."""
    from tests.pgcluster import postgres_bindir

    bindir = postgres_bindir()
    if bindir is not None:
        return bindir
    if os.environ.get("SIGNOFF_REQUIRE_POSTGRES"):
        pytest.fail("SIGNOFF_REQUIRE_POSTGRES is set but no PostgreSQL binaries were found")
    pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One throwaway PostgreSQL cluster for the session; each test gets its own schema."""
    from tests.pgcluster import running_cluster

    with running_cluster(postgres_bindir_or_skip()) as cluster:
        yield cluster


@pytest.fixture
def pg_target(pg_cluster) -> Iterator[object]:
    """A fresh schema: its URL over TCP and over the unix socket (two roads, one database)."""
    from tests.rawdb import PgTarget

    target = PgTarget.create(pg_cluster)
    yield target
    target.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The review database on each backend: a SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "signoff.db")
    return request.getfixturevalue("pg_target").url
