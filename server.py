"""The app with a streaming upload route: `uv run python -m server`.

`marimo run` takes an upload through `mo.ui.file`, which sends the whole file base64-encoded
in one message that the server holds in memory (a 100 MB file costs about 6x its size in
server memory; see bench/README.md). This module serves the same notebook through marimo's
ASGI app and mounts beside it `POST /upload`, which streams the request body straight to
the workspace: chunk by chunk, hashed on the way, refused the moment it passes the size limit
(`SIGNOFF_MAX_MB`), kept under its SHA-256 only when whole. The app then opens it from
`/?upload=<sha256>`. `GET /upload` is a small page that sends a file that way from a browser.

Authentication is the notebook's token. marimo checks it for the notebook (login page,
`?access_token=`, or `Authorization: Bearer`/`Basic`); the upload route accepts the same
token the same ways (`?access_token=`, a bearer token, the password of HTTP Basic with any
user name) and also marimo's login cookie, so a person signed in to the app is not asked
again. Without any of them the route answers 401 and reads nothing.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import secrets
import sys
from pathlib import Path

import itsdangerous
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flow.source import UPLOAD_META, UPLOAD_PATH
from review.workspace import IncomingSource, SourceTooLarge, WorkspaceError
from steps.errors import SignoffError
from steps.settings import Settings

_REALM = 'Basic realm="signoff", charset="UTF-8"'
_MARIMO_COOKIE = "session"
_COOKIE_MAX_AGE = 14 * 24 * 60 * 60


class UploadRouteMeta:
    """ASGI middleware that tells the notebook this process serves the streaming upload
    page, through marimo's public request metadata rather than a process-wide variable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["meta"] = {**scope.get("meta", {}), UPLOAD_META: UPLOAD_PATH}
        await self.app(scope, receive, send)


def presented_secrets(request: Request) -> list[str]:
    """Every token the request offers: `?access_token=`, a bearer token, a Basic password."""
    offered = [request.query_params.get("access_token", "")]
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        offered.append(credentials.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        offered.append(decoded.partition(":")[2])
    return [s for s in offered if s]


def signed_in_to_notebook(request: Request, token: str) -> bool:
    """True when the request carries the notebook's login cookie for this token.

    marimo keeps its login in starlette's signed session cookie (`session`, holding a keyed
    hash of the token). Checking it with marimo's own key and hash means a person who signed
    in to the app is not asked again by the upload page. These are marimo internals: if they
    move, this answers False and the page asks for the token instead (it never lets one in).
    """
    cookie = request.cookies.get(_MARIMO_COOKIE)
    if not cookie:
        return False
    try:
        from marimo._server.api.auth import SESSION_SECRET, hash_access_token

        signer = itsdangerous.TimestampSigner(str(SESSION_SECRET))
        session = json.loads(base64.b64decode(signer.unsign(cookie, max_age=_COOKIE_MAX_AGE)))
        return hmac.compare_digest(str(session.get("access_token", "")), hash_access_token(token))
    except (ImportError, AttributeError, itsdangerous.BadData, ValueError, TypeError):
        return False


def is_authorized(request: Request, token: str) -> bool:
    """No token configured means an open server (like `--no-token`); else one must match."""
    if not token:
        return True
    expected = token.encode()
    if any(hmac.compare_digest(s.encode(), expected) for s in presented_secrets(request)):
        return True
    return signed_in_to_notebook(request, token)


def refusal(status: int, sentence: str) -> JSONResponse:
    headers = {"WWW-Authenticate": _REALM} if status == 401 else None
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw and raw.isdigit() else None


async def receive_upload(request: Request) -> Response:
    """Stream the body into the workspace; answer with the kept file's SHA-256."""
    token = request.app.state.token
    if not is_authorized(request, token):
        return refusal(401, "This upload needs the app's access token.")
    limit = request.app.state.settings.max_bytes
    name = request.query_params.get("name") or "upload.csv"
    length = declared_length(request)
    if length is not None and length > limit:
        return refusal(
            413,
            f"The upload is {length:,} bytes, over the limit of {limit:,} bytes; nothing was kept.",
        )
    try:
        with IncomingSource(
            name, limit=limit, root=request.app.state.settings.workspace
        ) as incoming:
            async for chunk in request.stream():
                incoming.write(chunk)
            if incoming.size == 0:
                return refusal(400, "The upload is empty; send the file as the request body.")
            kept = await run_in_threadpool(incoming.keep)
    except SourceTooLarge as error:
        return refusal(413, str(error))
    except ClientDisconnect:
        return refusal(400, "The upload was interrupted before it was complete; nothing was kept.")
    except (WorkspaceError, OSError):
        return refusal(500, "The upload could not be written to the workspace.")
    sha = kept.parent.name
    return JSONResponse(
        {"sha256": sha, "name": kept.name, "bytes": incoming.size, "url": f"/?upload={sha}"}
    )


async def upload_page(request: Request) -> Response:
    """A page that sends a file as the request body (streamed from disk by the browser)."""
    if not is_authorized(request, request.app.state.token):
        return refusal(401, "This page needs the app's access token.")
    return HTMLResponse(UPLOAD_HTML.replace("{limit}", str(request.app.state.settings.max_bytes)))


UPLOAD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>signoff · upload</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
progress{width:100%}#error{color:#b00020}</style></head>
<body>
<h1>Upload a data file</h1>
<p>The file is streamed to the server (no size blow-up in the page or on the server), then
the app opens it.</p>
<form id="form"><input id="file" type="file" accept=".csv,.tsv,.txt,.xlsx,.xls" required>
<button type="submit">Upload</button></form>
<p><progress id="progress" max="1" value="0" hidden></progress></p>
<p id="status" role="status"></p><p id="error" role="alert"></p>
<script>
const limit = {limit};
const token = new URLSearchParams(location.search).get("access_token");
const withToken = (url) => token ? url + "&access_token=" + encodeURIComponent(token) : url;
document.getElementById("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  const error = document.getElementById("error");
  const progress = document.getElementById("progress");
  const status = document.getElementById("status");
  error.textContent = "";
  if (!file) return;
  if (file.size > limit) {
    error.textContent = file.name + " is over the limit of " + limit.toLocaleString() + " bytes.";
    return;
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", withToken("upload?name=" + encodeURIComponent(file.name)));
  xhr.setRequestHeader("Content-Type", "application/octet-stream");
  progress.hidden = false;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; };
  xhr.onload = () => {
    let answer = {};
    try { answer = JSON.parse(xhr.responseText); } catch (e) {}
    if (xhr.status === 200) {
      status.textContent = "Uploaded; opening the app…";
      location.href = withToken(answer.url);
    } else {
      error.textContent = answer.error || ("The upload failed (HTTP " + xhr.status + ").");
    }
  };
  xhr.onerror = () => { error.textContent = "The upload failed: the server did not answer."; };
  status.textContent = "Uploading " + file.name + "…";
  xhr.send(file);
});
</script>
</body></html>
"""


def create_app(*, token: str, settings: Settings, notebook: Path = Path("app.py")) -> Starlette:
    """The notebook (run mode, same token) at `/` with the upload route beside it."""
    import marimo

    notebook_app: ASGIApp = UploadRouteMeta(
        marimo.create_asgi_app(quiet=True, token=token or None)
        .with_app(path="/", root=str(notebook))
        .build()
    )
    app = Starlette(
        routes=[
            Route(UPLOAD_PATH, receive_upload, methods=["POST"]),
            Route(UPLOAD_PATH, upload_page, methods=["GET"]),
            Mount("/", app=notebook_app),
        ]
    )
    app.state.token = token
    app.state.settings = settings
    return app


def token_from(args: argparse.Namespace) -> tuple[str, bool]:
    """(token, generated): like `marimo run`, a password or a file; else a random one."""
    if args.no_token:
        return "", False
    if args.token_password:
        return args.token_password, False
    if args.token_password_file:
        return Path(args.token_password_file).read_text().strip(), False
    return secrets.token_urlsafe(24), True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2718)
    parser.add_argument("--app", type=Path, default=Path("app.py"), help="the notebook")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token-password", help="the access token (password)")
    auth.add_argument("--token-password-file", help="a file holding the access token")
    auth.add_argument("--no-token", action="store_true", help="no authentication at all")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SignoffError as error:
        sys.exit(str(error))
    token, generated = token_from(args)
    app = create_app(token=token, settings=settings, notebook=args.app)
    shown = f"?access_token={token}" if generated else ""
    print(f"signoff on http://{args.host}:{args.port}/{shown}", flush=True)

    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
