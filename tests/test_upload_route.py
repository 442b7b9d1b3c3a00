"""Uploads: the size limit held by the server, and the streaming route of `server`.

The route is exercised over real HTTP against `python -m server` in its own process;
every kept file is checked against `hashlib` and the bytes that were sent.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from review.audit import AuditTrail
from review.workspace import (
    IncomingSource,
    SourceTooLarge,
    keep_source,
    source_path,
    streamed_source,
)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "route-token-7f3a"
LIMIT_MB = 0.25
LIMIT = int(LIMIT_MB * 1024 * 1024)


def csv_bytes(size: int) -> bytes:
    """A CSV of exactly `size` bytes with varied content (so hashes differ by size)."""
    rows = b"".join(f"{i},{i * 7 % 13},value {i}\n".encode() for i in range(size // 8 + 1))
    return (b"id,group,label\n" + rows)[:size]


def chunks(data: bytes, size: int = 40_000) -> Iterator[bytes]:
    """A generator body: the client sends it chunked, with no Content-Length to trust."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def kept_files(workspace: Path) -> list[Path]:
    sources = workspace / "sources"
    return sorted(p for p in sources.rglob("*") if p.is_file()) if sources.exists() else []


def leftovers(workspace: Path) -> list[Path]:
    sources = workspace / "sources"
    return sorted(sources.glob(".incoming-*")) if sources.exists() else []


@pytest.fixture(scope="module")
def route(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from conftest import serve

    command = ["-m", "server", "--port", "{port}", "--token-password", TOKEN]
    tmp = tmp_path_factory.mktemp("route")
    yield from serve(tmp, command, SIGNOFF_MAX_MB=str(LIMIT_MB))


def post(route: dict, body, *, name: str = "data.csv", **kwargs) -> httpx2.Response:
    kwargs.setdefault("headers", {"Authorization": f"Bearer {TOKEN}"})
    return httpx2.post(f"{route['url']}/upload", params={"name": name}, content=body, **kwargs)


@pytest.mark.slow
def test_a_streamed_upload_is_kept_under_its_sha256(route: dict) -> None:
    data = csv_bytes(LIMIT - 1000)
    answer = post(route, chunks(data), name="../orders été.csv")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == expected
    assert body["bytes"] == len(data)
    assert body["url"] == f"/?upload={expected}"
    kept = source_path(expected, root=route["workspace"])
    assert kept is not None and kept.name == "orders_été.csv"
    assert kept.read_bytes() == data
    assert leftovers(route["workspace"]) == []


@pytest.mark.slow
def test_exactly_the_limit_is_accepted_one_byte_more_is_refused_mid_stream(route: dict) -> None:
    at_limit = csv_bytes(LIMIT)
    over = csv_bytes(LIMIT + 1)
    before = kept_files(route["workspace"])

    refused = post(route, chunks(over))
    assert refused.status_code == 413
    assert refused.json()["error"].endswith("so nothing was kept.")
    assert f"{LIMIT:,} bytes" in refused.json()["error"]
    assert kept_files(route["workspace"]) == before
    assert leftovers(route["workspace"]) == []
    assert source_path(hashlib.sha256(over).hexdigest(), root=route["workspace"]) is None

    accepted = post(route, chunks(at_limit))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["sha256"] == hashlib.sha256(at_limit).hexdigest()


@pytest.mark.slow
def test_a_declared_length_over_the_limit_is_refused_before_reading(route: dict) -> None:
    over = csv_bytes(LIMIT + 1)
    answer = post(route, over)  # bytes: httpx sends Content-Length
    assert answer.status_code == 413
    assert f"{LIMIT + 1:,} bytes" in answer.json()["error"]
    assert source_path(hashlib.sha256(over).hexdigest(), root=route["workspace"]) is None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.slow
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": basic("ada", "wrong")},
        {"Authorization": "Basic not-base64!"},
    ],
)
def test_a_missing_or_wrong_token_is_refused_and_nothing_kept(route: dict, headers) -> None:
    data = csv_bytes(5000) + b"# " + repr(headers).encode() + b"\n"
    answer = post(route, data, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert source_path(hashlib.sha256(data).hexdigest(), root=route["workspace"]) is None
    page = httpx2.get(f"{route['url']}/upload", headers=headers)
    assert page.status_code == 401


@pytest.mark.slow
def test_the_token_works_as_basic_password_and_query_param(route: dict) -> None:
    data = csv_bytes(3000)
    by_basic = post(route, data, headers={"Authorization": basic("ada", TOKEN)})
    assert by_basic.status_code == 200
    by_query = httpx2.post(
        f"{route['url']}/upload",
        params={"name": "q.csv", "access_token": TOKEN},
        content=data + b"\n",
    )
    assert by_query.status_code == 200
    assert by_query.json()["sha256"] == hashlib.sha256(data + b"\n").hexdigest()
    wrong_query = httpx2.post(
        f"{route['url']}/upload", params={"access_token": "nope"}, content=data + b"\n\n"
    )
    assert wrong_query.status_code == 401


@pytest.mark.slow
def test_signing_in_to_the_notebook_opens_the_upload_page(route: dict) -> None:
    with httpx2.Client(base_url=route["url"]) as client:
        assert client.get("/upload").status_code == 401
        assert client.get("/", follow_redirects=False).status_code in (302, 303, 307)
        login = client.post("/auth/login", data={"password": TOKEN}, follow_redirects=False)
        assert login.status_code in (302, 303)
        page = client.get("/upload")
        assert page.status_code == 200
        assert f"const limit = {LIMIT};" in page.text
        assert client.get("/").status_code == 200
    with httpx2.Client(base_url=route["url"]) as stranger:
        stranger.cookies.set("session", client.cookies["session"][:-2] + "xx")
        assert stranger.get("/upload").status_code == 401


@pytest.mark.slow
def test_each_kept_upload_is_an_event_and_an_identity_header_counts_for_nothing(
    route: dict,
) -> None:
    """Without SIGNOFF_USER_HEADER a client cannot name itself: the upload is nobody's."""
    data = csv_bytes(2000) + b"# mallory\n"
    answer = post(
        route, data, headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-User": "mallory"}
    )
    assert answer.status_code == 200
    event = AuditTrail(route["db"]).events(kind="upload")[-1]
    assert event.actor is None and event.analysis_id is None
    assert event.payload == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "name": "data.csv",
        "bytes": len(data),
    }


@pytest.mark.slow
def test_no_page_names_a_server_path(route: dict) -> None:
    """marimo writes the notebook's absolute path into its page; the server takes it out."""
    with httpx2.Client(base_url=route["url"], follow_redirects=True) as client:
        pages = [client.get("/", params={"access_token": TOKEN}), client.get("/upload")]
        pages.append(client.get("/auth/login"))
    absolute = [str(ROOT), str(ROOT / "app.py"), str(route["workspace"].resolve())]
    for page in pages:
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert [path for path in absolute if path in page.text] == []
        assert quote(str(ROOT), safe="") not in page.text
    assert "<marimo-filename hidden>app.py</marimo-filename>" in pages[0].text


@pytest.mark.slow
def test_the_upload_page_never_writes_the_token_into_an_address(route: dict) -> None:
    page = httpx2.get(f"{route['url']}/upload", params={"access_token": TOKEN}).text
    script = page[page.index("<script>") :]
    assert "access_token=" not in script and "location.href = url" in script
    assert 'history.replaceState(null, "", location.pathname)' in script
    assert '"Bearer " + token' in script and 'form.method = "POST"' in script


@pytest.mark.slow
def test_an_upload_of_nothing_is_refused(route: dict) -> None:
    answer = post(route, b"")
    assert answer.status_code == 400
    assert "empty" in answer.json()["error"]


# ------------------------------------------------------------- workspace pieces


def test_incoming_source_discards_everything_past_the_limit(tmp_path: Path) -> None:
    incoming = IncomingSource("x.csv", limit=10, root=tmp_path)
    incoming.write(b"12345")
    with pytest.raises(SourceTooLarge, match="nothing was kept"):
        incoming.write(b"678901")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert leftovers(tmp_path) == []


def test_a_kept_path_is_not_copied_again(tmp_path: Path) -> None:
    data = csv_bytes(2000)
    kept = keep_source(data, "a.csv", root=tmp_path)
    mtime = kept.stat().st_mtime_ns
    assert keep_source(kept, "other.csv", root=tmp_path) == kept
    assert kept.stat().st_mtime_ns == mtime
    assert kept_files(tmp_path) == [kept]


def test_streamed_source_names_a_kept_upload_or_nothing(tmp_path: Path) -> None:
    data = csv_bytes(1000)
    kept = keep_source(data, "orders.csv", root=tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    assert streamed_source(sha, root=tmp_path) == kept
    assert streamed_source(sha.upper(), root=tmp_path) == kept
    assert streamed_source("0" * 64, root=tmp_path) is None
    assert streamed_source("../../etc/passwd", root=tmp_path) is None
    assert streamed_source(None, root=tmp_path) is None


def test_a_staged_upload_is_read_in_place_and_kept_without_a_second_copy(tmp_path: Path) -> None:
    data = csv_bytes(3000)
    with IncomingSource("staged.csv", root=tmp_path) as incoming:
        incoming.write(data[:1000])
        incoming.write(data[1000:])
        staged = incoming.staged()
        assert staged.read_bytes() == data  # the loader can read it before it is kept
        inode = staged.stat().st_ino
        kept = incoming.keep()
    assert kept.read_bytes() == data and kept.stat().st_ino == inode  # moved, not rewritten
    assert kept_files(tmp_path) == [kept] and leftovers(tmp_path) == []


def test_the_server_tells_the_notebook_of_its_upload_route_in_request_metadata() -> None:
    """Through each request's `scope["meta"]` (marimo's `mo.app_meta().request.meta`),
    never through the process environment."""
    from helpers import run_coroutine

    from flow.source import UPLOAD_META, UPLOAD_PATH
    from server.auth import Gatekeeper
    from steps.settings import IdentitySettings

    seen: list[dict] = []

    async def notebook(scope, receive, send) -> None:
        seen.append(scope)

    app = Gatekeeper(notebook, identities=IdentitySettings())
    for scope in ({"type": "http", "meta": {"other": 1}}, {"type": "websocket"}, {"type": "x"}):
        run_coroutine(app(scope, None, None))
    assert seen[0]["meta"] == {"other": 1, UPLOAD_META: UPLOAD_PATH}
    assert seen[1]["meta"] == {UPLOAD_META: UPLOAD_PATH}
    assert "meta" not in seen[2]


# ------------------------------------------------------------- the limit in the app


@pytest.mark.slow
def test_the_app_refuses_an_upload_over_the_limit_with_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mo.ui.file(max_size=…)` is checked in the browser only: the server must refuse too."""
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("SIGNOFF_MAX_MB", "0.01")
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        monkeypatch.delenv(key, raising=False)
    from app import app
    from flow.source import Source, load_and_keep
    from flow.views import attempt
    from steps.settings import Settings

    limit = int(0.01 * 1024 * 1024)
    over = Source("big.csv", csv_bytes(limit + 1))
    sentence = (
        f"big.csv is 0.0 MB ({limit + 1:,} bytes), over the limit of 0.0 MB ({limit:,} bytes)."
    )
    _, defs = app.run(defs={"source": over})
    assert defs["load_error"] == sentence
    assert defs["opened"] is None  # load_cell stopped: nothing downstream ran
    assert "loaded" not in defs and "analysis_id" not in defs and "record0" not in defs
    loaded, refused = attempt("Loading the file", load_and_keep, over, Settings.from_env())
    assert (loaded, refused) == (None, sentence)
    assert kept_files(tmp_path / "workspace") == []
    assert AuditTrail(tmp_path / "signoff.db").events(kind="load") == []

    _, defs = app.run(defs={"source": Source("ok.csv", csv_bytes(limit))})
    assert defs["loaded"].report.bytes == limit


@pytest.mark.slow
@pytest.mark.browser
def test_the_upload_page_streams_a_file_from_chromium_and_opens_the_app(browser, route) -> None:
    sample = ROOT / "samples" / "penguins.csv"
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{route['url']}/upload?access_token={TOKEN}")
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    assert "access_token" not in page.url  # taken out of the address bar at once
    page.locator("#file").set_input_files(str(sample))
    page.get_by_role("button", name="Upload").click()
    expected = hashlib.sha256(sample.read_bytes()).hexdigest()
    page.wait_for_url(f"**/?upload={expected}", timeout=60_000)
    # Signed in to the notebook through its login form: it opens, and no address the page
    # went to since carried the token.
    page.get_by_role("tab", name="Upload").wait_for(timeout=60_000)
    assert visited and not [url for url in visited if "access_token" in url]
    context.close()
    kept = source_path(expected, root=route["workspace"])
    assert kept is not None and kept.read_bytes() == sample.read_bytes()
