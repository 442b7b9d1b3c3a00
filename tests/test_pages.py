"""No server path in any page: the rewrite of HTML on its way out (`server.pages`).

The served pages themselves are fetched from `python -m server` in
`tests/test_upload_route.py` (shared token) and `tests/test_people.py` (a person signed in).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from helpers import run_coroutine

from server.pages import HidePaths, path_replacements

NOTEBOOK = Path("/srv/team/signoff/app.py")
PAGE = (
    "<marimo-filename hidden>/srv/team/signoff/app.py</marimo-filename>"
    '"filename": "/srv/team/signoff/app.py", "cwd": "/srv/team/signoff", '
    '"lspWorkspace": {"documentUri": "file:///srv/team/signoff/app.py", '
    '"rootUri": "file:///srv/team/signoff"}, '
    f'notebookId = "{quote("/srv/team/signoff/app.py", safe="")}"; '
    '<img src="/srv/data/workspace/sources/x.png"> <a href="/srv/teamwork">ok</a>'
)


def served(body: bytes, content_type: str, method: str = "GET") -> tuple[list[dict], bytes]:
    """What leaves HidePaths when the app behind it answers `body` in two pieces."""

    async def app(scope, receive, send) -> None:
        headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = len(body) // 2
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": body[half:]})

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    replacements = path_replacements(NOTEBOOK, [Path("/srv/data/workspace")])
    run_coroutine(HidePaths(app, replacements)({"type": "http", "method": method}, None, send))
    return sent, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_notebook_path_and_its_folders_leave_no_trace_in_html() -> None:
    sent, body = served(PAGE.encode(), "text/html; charset=utf-8")
    text = body.decode()
    assert "/srv/team/signoff" not in text and "%2Fsrv%2Fteam" not in text
    assert "/srv/data/workspace" not in text
    assert "<marimo-filename hidden>app.py</marimo-filename>" in text
    assert '"filename": "app.py"' in text and '"cwd": "."' in text
    assert 'notebookId = "app.py"' in text
    assert '<img src="sources/x.png">' in text
    assert '<a href="/srv/teamwork">' in text  # a path that only begins like one is left alone
    start = sent[0]
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()


def test_anything_but_html_passes_untouched() -> None:
    body = PAGE.encode()
    assert served(body, "application/json")[1] == body
    assert served(body, "text/html", method="HEAD")[1] == body


def test_the_root_folder_is_never_replaced() -> None:
    replacements = path_replacements(Path("/app.py"), [Path("/")])
    assert sorted(old for old, _ in replacements) == [b"%2Fapp.py", b"/app.py"]
