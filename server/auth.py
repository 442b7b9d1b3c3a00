"""Who is asking: the shared token, and the people a proxy or the users file names.

Two ways in, one per deployment (`steps.settings.IdentitySettings`):

- **The shared token** (marimo's `--token-password`): marimo checks it for the notebook;
  `is_authorized` checks the same token for the upload route (`?access_token=`, a bearer
  token, the password of HTTP Basic, or marimo's login cookie). Everyone holding it is the
  same person to the server, so reviewers type their names.
- **People** (`SIGNOFF_USER_HEADER` or `SIGNOFF_USERS_FILE`): `Gatekeeper`, in front of
  everything, decides who each request and websocket comes from — the trusted proxy's
  header, or a person's own token (bearer, Basic password, `?access_token=`, or the session
  cookie `/login` sets) — and refuses any that names nobody. It puts the person in
  `scope["user"]` and the source in `scope["meta"]`, which marimo hands to the notebook as
  `mo.app_meta().request` (read back by `review.identity.identity_from`).

A token in a page's address is taken out at once: the request is answered with a redirect
to the same address without it, carrying the session cookie instead, so the token does
not stay in the browser's history.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import itsdangerous
from starlette.authentication import SimpleUser
from starlette.datastructures import URL
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from flow.source import UPLOAD_META, UPLOAD_PATH
from review.identity import IDENTITY_META, Identity
from review.users import UsersFile, checked_person
from steps.errors import IdentityError
from steps.settings import IdentitySettings

TOKEN_PARAM = "access_token"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
# Reachable without saying who you are: the health check (load balancers, the tests) and
# the sign-in page itself.
OPEN_PATHS = frozenset({"/health", "/healthz", LOGIN_PATH, LOGOUT_PATH})
SESSION_COOKIE = "signoff_session"
SESSION_MAX_AGE = 14 * 24 * 60 * 60
IDENTITY_SCOPE_KEY = "signoff.identity"
_REALM = 'Basic realm="signoff", charset="UTF-8"'
_MARIMO_COOKIE = "session"
_MAX_FORM_BYTES = 4096
_LOG = logging.getLogger("signoff.server")


def presented_secrets(conn: HTTPConnection) -> list[str]:
    """Every token the request offers: `?access_token=`, a bearer token, a Basic password."""
    offered = [conn.query_params.get(TOKEN_PARAM, "")]
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        offered.append(credentials.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        offered.append(decoded.partition(":")[2])
    return [s for s in offered if s]


def signed_in_to_notebook(conn: HTTPConnection, token: str) -> bool:
    """True when the request carries the notebook's login cookie for this token.

    marimo keeps its login in starlette's signed session cookie (`session`, holding a keyed
    hash of the token). Checking it with marimo's own key and hash means a person who signed
    in to the app is not asked again by the upload page. These are marimo internals: if they
    move, this answers False and the page asks for the token instead (it never lets one in).
    """
    cookie = conn.cookies.get(_MARIMO_COOKIE)
    if not cookie:
        return False
    try:
        from marimo._server.api.auth import SESSION_SECRET, hash_access_token

        signer = itsdangerous.TimestampSigner(str(SESSION_SECRET))
        session = json.loads(base64.b64decode(signer.unsign(cookie, max_age=SESSION_MAX_AGE)))
        return hmac.compare_digest(str(session.get("access_token", "")), hash_access_token(token))
    except (ImportError, AttributeError, itsdangerous.BadData, ValueError, TypeError):
        return False


def is_authorized(conn: HTTPConnection, token: str) -> bool:
    """The shared token: none configured means an open server (like `--no-token`, or a
    server whose people sign in through `Gatekeeper`); else one must match."""
    if not token:
        return True
    expected = token.encode()
    if any(hmac.compare_digest(s.encode(), expected) for s in presented_secrets(conn)):
        return True
    return signed_in_to_notebook(conn, token)


def identity_in(scope: Scope) -> Identity | None:
    """The person `Gatekeeper` found for this request (None: nobody, or no people)."""
    found = scope.get(IDENTITY_SCOPE_KEY)
    return found if isinstance(found, Identity) else None


def refusal(status: int, sentence: str, *, realm: str = _REALM) -> JSONResponse:
    headers = {"WWW-Authenticate": realm} if status == 401 else None
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


def local_path(raw: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    target = (raw or "").strip()
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target


def without_token(url: URL) -> str:
    """The path and query of `url` with `access_token` taken out."""
    query = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != TOKEN_PARAM]
    return url.path + (f"?{urlencode(query)}" if query else "")


class Sessions:
    """The session cookie of a person who signed in with their token.

    It is signed with a key made at start (a restart signs everyone out, like marimo's own
    cookie) and names the person and a keyed fingerprint of their token's hash: the token
    is not in it, and replacing or deleting the person's line in the users file ends the
    session on its next request.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._serializer = itsdangerous.URLSafeTimedSerializer(self._key, salt="signoff-session")

    def _fingerprint(self, token_sha256: str) -> str:
        return hmac.new(self._key, token_sha256.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie_for(self, name: str, token_sha256: str) -> str:
        return self._serializer.dumps({"name": name, "token": self._fingerprint(token_sha256)})

    def person(self, cookie: str | None, token_sha256_by_name: Mapping[str, str]) -> str | None:
        """The person a cookie signs in, while their token is still the one in the file."""
        if not cookie:
            return None
        try:
            session = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE)
        except itsdangerous.BadData:
            return None
        name = session.get("name") if isinstance(session, dict) else None
        current = token_sha256_by_name.get(name) if isinstance(name, str) else None
        if current is None:
            return None
        matches = hmac.compare_digest(str(session.get("token")), self._fingerprint(current))
        return name if matches else None

    def set_on(self, response: Response, name: str, token_sha256: str, *, secure: bool) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.cookie_for(name, token_sha256),
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=secure,
        )


class Gatekeeper:
    """ASGI middleware in front of the notebook and the upload route.

    On every request and websocket it tells the notebook that this server streams uploads
    (`UPLOAD_META`) and, when the server knows people, who is asking. Without people
    configured it only does the former, and the shared token (marimo's, `is_authorized`)
    stays the lock.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        identities: IdentitySettings,
        users: UsersFile | None = None,
        sessions: Sessions | None = None,
    ) -> None:
        if identities.source == "token" and users is None:
            raise IdentityError("Signing people in by token needs the users file.")
        self.app = app
        self.identities = identities
        self.users = users
        self.sessions = sessions or Sessions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        meta = {**scope.get("meta", {}), UPLOAD_META: UPLOAD_PATH}
        conn = HTTPConnection(scope)
        identity, by_token = self.identify(conn)
        if identity is not None:
            scope["user"] = SimpleUser(identity.name)
            scope[IDENTITY_SCOPE_KEY] = identity
            meta[IDENTITY_META] = identity.source
        scope["meta"] = meta
        if identity is None and self.identities.source is not None:
            if scope["path"] not in OPEN_PATHS:
                await self.refuse(scope, receive, send)
                return
        elif identity is not None and by_token is not None and self._leaks_token(conn):
            await self.strip_token(conn, identity, by_token)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _is_page(scope: Scope) -> bool:
        return scope["type"] == "http" and scope.get("method") == "GET"

    def _leaks_token(self, conn: HTTPConnection) -> bool:
        """A page opened with the token in its address (a link someone was sent)."""
        return self._is_page(conn.scope) and TOKEN_PARAM in conn.query_params

    def identify(self, conn: HTTPConnection) -> tuple[Identity | None, str | None]:
        """(the person, the hash of the token that named them if one did)."""
        if self.identities.user_header is not None:
            raw = conn.headers.get(self.identities.user_header)
            try:
                return (Identity(checked_person(raw), "header"), None) if raw else (None, None)
            except IdentityError:
                return None, None
        if self.users is None:
            return None, None
        try:
            users = self.users.current()
        except IdentityError as error:
            _LOG.error("Nobody can sign in: %s", error)
            return None, None
        for token in presented_secrets(conn):
            name = users.who(token)
            if name is not None:
                return Identity(name, "token"), users.token_sha256_by_name[name]
        cookie = conn.cookies.get(SESSION_COOKIE)
        person = self.sessions.person(cookie, users.token_sha256_by_name)
        return (Identity(person, "token"), None) if person is not None else (None, None)

    def strip_token(self, conn: HTTPConnection, identity: Identity, digest: str) -> Response:
        """A page opened with `?access_token=`: go to it again without, signed in by cookie."""
        response = RedirectResponse(without_token(conn.url), status_code=303)
        self.sessions.set_on(response, identity.name, digest, secure=conn.url.scheme == "https")
        return response

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Nobody named: a websocket is closed, a page goes to sign-in, anything else is 401."""
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008})
            return
        conn = HTTPConnection(scope)
        if self.identities.source == "header":
            sentence = (
                f"This server learns who you are from the {self.identities.user_header} header "
                "its proxy sets, and this request has none."
            )
            response: Response = refusal(401, sentence, realm='Bearer realm="signoff"')
        elif self._is_page(scope) and "text/html" in conn.headers.get("accept", ""):
            next_path = without_token(conn.url)
            response = RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': next_path})}", 303)
        else:
            sentence = "Sign in with your own token (Authorization: Bearer, or /login)."
            response = refusal(401, sentence, realm='Bearer realm="signoff"')
        await response(scope, receive, send)


LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>signoff · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input{width:100%;box-sizing:border-box;padding:.5rem;margin:.5rem 0}#error{color:#b00020}</style>
</head><body>
<h1>Sign in to signoff</h1>
<form method="post" action="{action}">
<label for="token">Your token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
<p id="error" role="alert">{error}</p>
</body></html>
"""


def login_page(action: str, error: str = "", status: int = 200) -> HTMLResponse:
    page = LOGIN_HTML.replace("{action}", html.escape(action)).replace(
        "{error}", html.escape(error)
    )
    headers = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
    return HTMLResponse(page, status_code=status, headers=headers)


def login_endpoint(
    users_file: UsersFile | None, sessions: Sessions
) -> Callable[[Request], Awaitable[Response]]:
    """`/login`: the form (GET) and signing in with a token (POST), then on to `next`."""

    async def login(request: Request) -> Response:
        next_path = local_path(request.query_params.get("next"))
        action = f"{LOGIN_PATH}?{urlencode({'next': next_path})}"
        if users_file is None:
            return refusal(404, "This server does not sign people in with tokens.")
        if request.method != "POST":
            return login_page(action)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM_BYTES:
                return login_page(action, "That is not a sign-in form.", 413)
        token = dict(parse_qsl(body.decode("utf-8", "replace"))).get("token", "")
        try:
            users = users_file.current()
        except IdentityError:
            return login_page(action, "Signing in is not possible right now; tell the admin.", 503)
        name = users.who(token)
        if name is None:
            return login_page(action, "That token is not one of this server's.", 401)
        response = RedirectResponse(next_path, status_code=303)
        secure = request.url.scheme == "https"
        sessions.set_on(response, name, users.token_sha256_by_name[name], secure=secure)
        return response

    return login


async def logout(request: Request) -> Response:
    """Forget the session cookie and show the sign-in form."""
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
