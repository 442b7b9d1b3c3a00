"""No server path in any page: the notebook's location is taken out of the HTML served.

marimo writes the notebook's absolute path into its page (`<marimo-filename>`, the mount
config's `filename`, `cwd` and `lspWorkspace`, the service worker's notebook id), and
offers no public option to leave it out. A viewer learns from it the server's directory
layout, often a user name. As a last resort this middleware rewrites HTML responses on
their way out: the notebook's path becomes its file name, and each directory named here
(the notebook's, the working directory, the workspace) disappears from any path below it
or becomes `.` where it stands alone. Only `text/html` bodies are touched (marimo's pages
are small and sent whole); everything else, websockets included, passes as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Replacements = tuple[tuple[bytes, bytes], ...]


def path_replacements(notebook: Path, directories: Iterable[Path]) -> Replacements:
    """What to replace, longest first: the notebook's path (plain and URL-encoded) by its
    name; each directory followed by `/` by nothing, and standing alone (before a quote) by
    `.`. The file system's root is never replaced (it would take every `/` with it)."""
    pairs: dict[str, str] = {}
    file = str(notebook.resolve())
    for form in (file, quote(file, safe="")):
        pairs[form] = notebook.name
    for directory in {notebook.resolve().parent, *(d.resolve() for d in directories)}:
        text = str(directory)
        if directory == Path(directory.anchor):
            continue
        pairs[text + "/"] = ""
        pairs[quote(text + "/", safe="")] = ""
        pairs[text + '"'] = '."'
    ordered = sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)
    return tuple((old.encode(), new.encode()) for old, new in ordered)


def hide_paths(body: bytes, replacements: Sequence[tuple[bytes, bytes]]) -> bytes:
    for old, new in replacements:
        body = body.replace(old, new)
    return body


class HidePaths:
    """ASGI middleware: HTML responses leave without the server's paths."""

    def __init__(self, app: ASGIApp, replacements: Sequence[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.replacements = replacements

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "HEAD":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        parts: list[bytes] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                html = headers.get("content-type", "").startswith("text/html")
                if html and "content-encoding" not in headers:
                    held.append(message)
                    return
            elif message["type"] == "http.response.body" and held:
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = hide_paths(b"".join(parts), self.replacements)
                start = held.pop()
                headers = MutableHeaders(raw=list(start["headers"]))
                headers["content-length"] = str(len(body))
                await send({**start, "headers": headers.raw})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, rewrite)
