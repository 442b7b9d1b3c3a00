"""The app with a streaming upload route: `uv run python -m server`.

`marimo run` takes an upload through `mo.ui.file`, which sends the whole file base64-encoded
in one message that the server holds in memory (a 100 MB file costs about 6x its size in
server memory; see bench/README.md). This package serves the same notebook through marimo's
ASGI app and mounts beside it `POST /upload`, which streams the request body straight to
the workspace (`server.upload`); the app then opens it from `/?upload=<sha256>`.
`GET /upload` is a small page that sends a file that way from a browser.

Around both, from the outside in:

- `server.pages.HidePaths`: no server path in any page (marimo writes the notebook's
  absolute path into its HTML; this takes it out).
- `server.auth.Gatekeeper`: who is asking. With the shared token (marimo's
  `--token-password`) marimo checks it and the upload route checks the same token. With
  `SIGNOFF_USER_HEADER` (a trusted proxy) or `SIGNOFF_USERS_FILE` (a token per person) the
  server knows each person, refuses requests that name nobody, and tells the notebook who
  is asking through marimo's request metadata.

At start-up, and daily after, kept sources past `SIGNOFF_RETENTION_DAYS` are swept
(`review.retention`). Connections that never finish sending their headers are closed
after `SIGNOFF_UPLOAD_TIMEOUT` (`server.protocol`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from flow.source import UPLOAD_PATH
from review.audit import AuditTrail
from review.audit_key import key_for
from review.retention import sweep_sources
from review.users import UsersFile
from server.auth import LOGIN_PATH, LOGOUT_PATH, Gatekeeper, Sessions, login_endpoint, logout
from server.pages import HidePaths, path_replacements
from server.upload import InFlight, receive_upload, upload_page
from steps.errors import SignoffError
from steps.settings import Settings

SWEEP_EVERY_S = 24 * 60 * 60
_LOG = logging.getLogger("signoff.server")


def sweep(trail: AuditTrail, settings: Settings) -> None:
    """One retention sweep; a failure is logged, never fatal to the server."""
    days = settings.upload.retention_days
    if days is None:
        return
    try:
        swept = sweep_sources(trail, root=settings.workspace, older_than_days=days)
    except (SignoffError, OSError) as error:
        _LOG.error("The retention sweep failed: %s", error)
        return
    if swept.removed:
        count = len(swept.removed)
        _LOG.warning("Retention: removed %d kept sources unused for %s days.", count, days)


def create_app(*, token: str, settings: Settings, notebook: Path = Path("app.py")) -> ASGIApp:
    """The notebook (run mode, same token) at `/` with the upload route beside it."""
    import marimo

    trail = AuditTrail(settings.db, key=key_for(settings))
    users_file = settings.identity.users_file
    users = UsersFile(users_file) if users_file is not None else None
    sessions = Sessions()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(sweep, trail, settings)

        async def daily() -> None:
            while True:
                await asyncio.sleep(SWEEP_EVERY_S)
                await run_in_threadpool(sweep, trail, settings)

        task = asyncio.create_task(daily()) if settings.upload.retention_days else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    notebook_app = (
        marimo.create_asgi_app(quiet=True, token=token or None)
        .with_app(path="/", root=str(notebook))
        .build()
    )
    app = Starlette(
        routes=[
            Route(UPLOAD_PATH, receive_upload, methods=["POST"]),
            Route(UPLOAD_PATH, upload_page, methods=["GET"]),
            Route(LOGIN_PATH, login_endpoint(users, sessions), methods=["GET", "POST"]),
            Route(LOGOUT_PATH, logout, methods=["GET"]),
            Mount("/", app=notebook_app),
        ],
        lifespan=lifespan,
    )
    app.state.token = token
    app.state.settings = settings
    app.state.trail = trail
    app.state.in_flight = InFlight()
    gatekeeper = Gatekeeper(app, identities=settings.identity, users=users, sessions=sessions)
    return HidePaths(gatekeeper, path_replacements(notebook, (Path.cwd(), settings.workspace)))


def token_from(args: argparse.Namespace, settings: Settings) -> tuple[str, bool]:
    """(token, generated): like `marimo run`, a password or a file; else a random one.

    With a users file every person has a token of their own, so there is no shared one: a
    shared token given as well is refused rather than silently ignored.
    """
    if settings.identity.source == "token":
        if args.token_password or args.token_password_file:
            raise SystemExit(
                "SIGNOFF_USERS_FILE gives each person a token of their own: start the server "
                "without --token-password or --token-password-file."
            )
        return "", False
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
        token, generated = token_from(args, settings)
        app = create_app(token=token, settings=settings, notebook=args.app)
    except SignoffError as error:
        sys.exit(str(error))
    shown = f"?access_token={token}" if generated else ""
    print(f"signoff on http://{args.host}:{args.port}/{shown}", flush=True)

    import uvicorn

    from server.protocol import HeaderDeadline

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        http=HeaderDeadline.after(settings.upload.read_timeout_s),
    )
