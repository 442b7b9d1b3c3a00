"""People on a served app, over real HTTP against `python -m server`: a token each from the
users file, or a trusted proxy's header; the daily allowance per person; sign-in that
never leaves a token in an address; and the person reaching the notebook.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import websockets.sync.client
from test_upload_route import chunks, csv_bytes, kept_files, leftovers

from review.audit import AuditTrail
from review.users import new_token, users_file_line

TOKENS = {"ada": new_token(), "grace": new_token(), "bob": new_token()}
QUOTA_FILES = 3
QUOTA_MB = 0.1
QUOTA = int(QUOTA_MB * 1024 * 1024)


def write_users(path: Path, names: tuple[str, ...]) -> None:
    lines = "\n".join(users_file_line(name, TOKENS[name]) for name in names)
    path.write_text(f"# who may sign in\n[users]\n{lines}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from conftest import serve

    tmp = tmp_path_factory.mktemp("people")
    users = tmp / "users.toml"
    write_users(users, ("ada", "grace", "bob"))
    command = ["-m", "server", "--port", "{port}"]
    extra = {
        "SIGNOFF_USERS_FILE": str(users),
        "SIGNOFF_UPLOAD_QUOTA_FILES": str(QUOTA_FILES),
        "SIGNOFF_UPLOAD_QUOTA_MB": str(QUOTA_MB),
    }
    for server in serve(tmp, command, **extra):
        yield {**server, "users": users}


def bearer(name: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def upload(server: dict, body, headers: dict, name: str = "data.csv") -> httpx2.Response:
    return httpx2.post(
        f"{server['url']}/upload", params={"name": name}, content=body, headers=headers
    )


def uploads_by(server: dict) -> list[tuple[str | None, int]]:
    return [(e.actor, e.payload["bytes"]) for e in AuditTrail(server["db"]).events(kind="upload")]


@pytest.mark.slow
def test_nobody_gets_in_without_a_token_of_their_own(people: dict) -> None:
    url = people["url"]
    assert httpx2.get(f"{url}/health").status_code == 200  # the health check stays open
    page = httpx2.get(f"{url}/?x=1", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F%3Fx%3D1"
    refused = upload(people, b"a,b\n1,2\n", {"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and "own token" in refused.json()["error"]
    assert httpx2.get(f"{url}/upload").status_code == 401
    ws_url = url.replace("http://", "ws://") + "/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus) as closed:
        websockets.sync.client.connect(ws_url, open_timeout=10).close()
    assert closed.value.response.status_code == 403
    assert uploads_by(people) == []


@pytest.mark.slow
def test_a_token_in_a_page_address_is_swapped_for_a_cookie_at_once(people: dict) -> None:
    url = people["url"]
    with httpx2.Client(base_url=url) as browser:
        first = browser.get(
            "/upload", params={"access_token": TOKENS["ada"], "keep": "1"}, follow_redirects=False
        )
        assert first.status_code == 303 and first.headers["location"] == "/upload?keep=1"
        cookie = first.headers["set-cookie"]
        assert "signoff_session=" in cookie and "httponly" in cookie.lower()
        assert TOKENS["ada"] not in cookie
        assert browser.get("/upload?keep=1").status_code == 200
        notebook = browser.get("/")
        assert notebook.status_code == 200 and "<marimo-filename" in notebook.text
        answer = browser.post("/upload", params={"name": "c.csv"}, content=b"x,y\n1,2\n")
        assert answer.status_code == 200, answer.text
        browser.get("/logout")
        assert browser.get("/upload").status_code == 401
    assert uploads_by(people)[-1] == ("ada", 8)


@pytest.mark.slow
def test_the_login_form_signs_a_person_in_and_a_removed_line_signs_them_out(people: dict) -> None:
    with httpx2.Client(base_url=people["url"]) as browser:
        form = browser.get("/login", params={"next": "//evil.example/"})
        assert form.status_code == 200 and 'action="/login?next=%2F"' in form.text
        wrong = browser.post("/login?next=/upload", data={"token": "guess"})
        assert wrong.status_code == 401 and "not one of this server" in wrong.text
        signed = browser.post(
            "/login?next=/upload", data={"token": TOKENS["bob"]}, follow_redirects=False
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/upload"
        assert browser.get("/upload").status_code == 200
        write_users(people["users"], ("ada", "grace"))  # bob's line removed
        try:
            assert browser.get("/upload").status_code == 401
        finally:
            write_users(people["users"], ("ada", "grace", "bob"))
        assert browser.get("/upload").status_code == 200  # the same token, back in the file


@pytest.mark.slow
def test_each_person_has_a_daily_allowance_of_files_and_bytes(people: dict) -> None:
    small = [csv_bytes(1000) + f"# {i}\n".encode() for i in range(QUOTA_FILES + 1)]
    already = sum(1 for actor, _ in uploads_by(people) if actor == "grace")
    for body in small[: QUOTA_FILES - already]:
        assert upload(people, body, bearer("grace")).status_code == 200
    refused = upload(people, small[-1], bearer("grace"))
    assert refused.status_code == 429
    assert f"uploaded {QUOTA_FILES:,} files in the last 24 hours" in refused.json()["error"]
    assert hashlib.sha256(small[-1]).hexdigest() not in {
        p.parent.name for p in kept_files(people["workspace"])
    }

    big = csv_bytes(QUOTA // 2 + 1000)
    assert upload(people, big, bearer("bob")).status_code == 200  # someone else's allowance
    declared = upload(people, big + b"\n", bearer("bob"))  # Content-Length: refused unread
    assert declared.status_code == 429 and "past 0.1 MB in 24 hours" in declared.json()["error"]
    streamed = upload(people, chunks(big + b"\n\n"), bearer("bob"))  # no length: mid-stream
    assert streamed.status_code == 429
    assert leftovers(people["workspace"]) == []
    kept = {p.parent.name for p in kept_files(people["workspace"])}
    assert hashlib.sha256(big + b"\n\n").hexdigest() not in kept
    assert ("bob", len(big)) in uploads_by(people)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from conftest import serve

    tmp = tmp_path_factory.mktemp("proxied")
    command = ["-m", "server", "--port", "{port}", "--no-token"]
    yield from serve(tmp, command, SIGNOFF_USER_HEADER="X-Forwarded-User")


@pytest.mark.slow
def test_behind_a_proxy_the_person_is_its_header_and_none_means_no_entry(proxied: dict) -> None:
    anonymous = upload(proxied, b"a,b\n1,2\n", {})
    assert anonymous.status_code == 401 and "X-Forwarded-User" in anonymous.json()["error"]
    assert httpx2.get(proxied["url"] + "/", headers={"Accept": "text/html"}).status_code == 401
    named = upload(proxied, b"a,b\n1,2\n", {"X-Forwarded-User": "Ada Lovelace"})
    assert named.status_code == 200
    assert uploads_by(proxied) == [("Ada Lovelace", 8)]
    too_long = upload(proxied, b"a,b\n3,4\n", {"X-Forwarded-User": "a" * 201})
    assert too_long.status_code == 401


WHOAMI = """import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo

    from review.identity import identity_from
    from steps.settings import Settings

    request = mo.app_meta().request
    person = identity_from(request.user, request.meta, Settings.from_env().identity)
    shown = f"{person.name} ({person.source})" if person else "nobody"
    mo.md(f"signed in as {shown}")
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.mark.slow
@pytest.mark.browser
def test_the_signed_in_person_reaches_the_notebook(browser, tmp_path: Path) -> None:
    from conftest import serve

    notebook = tmp_path / "whoami.py"
    notebook.write_text(WHOAMI, encoding="utf-8")
    users = tmp_path / "users.toml"
    write_users(users, ("ada", "grace"))
    command = ["-m", "server", "--port", "{port}", "--app", str(notebook)]
    for server in serve(tmp_path, command, SIGNOFF_USERS_FILE=str(users)):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server['url']}/?access_token={TOKENS['grace']}")
        page.get_by_text("signed in as grace (token)").wait_for(timeout=60_000)
        assert "access_token" not in page.url
        assert str(tmp_path) not in page.content()
        context.close()


def test_users_file_lines_are_toml_the_server_reads(tmp_path: Path) -> None:
    from review.users import read_users

    path = tmp_path / "users.toml"
    write_users(path, ("ada", "grace"))
    assert read_users(path).who(TOKENS["grace"]) == "grace"
    assert all(token not in path.read_text() for token in TOKENS.values())
    assert json.loads(users_file_line('a "quoted" name', "t").split(" = ")[0]) == 'a "quoted" name'
