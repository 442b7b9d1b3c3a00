"""`POST /upload`: a file streamed to the workspace, and `GET /upload`, the page that sends one.

The body goes straight to the workspace: chunk by chunk, hashed on the way, refused the
moment it passes the size limit (`SIGNOFF_MAX_MB`), kept under its SHA-256 only when whole.
Three more bounds make the route safe to expose (`steps.settings.UploadSettings`):

- **Read timeout and minimum rate**: each piece of the body must arrive within
  `SIGNOFF_UPLOAD_TIMEOUT` seconds, and from then on the upload must have averaged at least
  `SIGNOFF_UPLOAD_MIN_KBPS`; past either, it is answered 408 and the connection closed. A
  client that sends the headers and then nothing, or a byte now and then, holds a connection
  for the timeout and no longer.
- **Daily allowance per person** (`SIGNOFF_UPLOAD_QUOTA_MB`, `SIGNOFF_UPLOAD_QUOTA_FILES`
  over 24 hours): counted from the `upload` events of the trail plus what that person is
  sending right now, so parallel uploads cannot slip past it; answered 429.
- Every kept upload is an `upload` event, naming who sent it when the server knows people.

The page never writes the token into an address: opened with `?access_token=`, it takes the
token out of the address bar, sends it as `Authorization: Bearer` with the file, and signs in
to the notebook through marimo's login form (a POST) before opening `/?upload=<sha256>`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from review.uploads import Usage, over_allowance, record_upload, usage_today
from review.workspace import IncomingSource
from server.auth import identity_in, is_authorized, refusal
from steps.errors import QuotaExceeded, SourceTooLarge, UploadTooSlow, WorkspaceError
from steps.settings import UploadSettings


class InFlight:
    """Bytes and files each person is sending right now (one per server, used on its event
    loop only), so that an allowance counts uploads still arriving."""

    def __init__(self) -> None:
        self.files: Counter[str | None] = Counter()
        self.bytes: Counter[str | None] = Counter()

    def of(self, person: str | None) -> Usage:
        return Usage(self.files[person], self.bytes[person])


async def paced(chunks: AsyncIterator[bytes], settings: UploadSettings) -> AsyncIterator[bytes]:
    """The body's pieces, as long as they keep coming fast enough; else `UploadTooSlow`.

    The wait for each piece ends at the earlier of: `read_timeout_s` from now, and the moment
    the average rate would fall under `min_bytes_per_s` (never before `read_timeout_s` from
    the start, so a slow start is not punished). A drip of one byte a second is therefore cut
    at the timeout, not at a multiple of it.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = 0
    iterator = aiter(chunks)
    while True:
        now = loop.time()
        floor = started + max(settings.read_timeout_s, received / settings.min_bytes_per_s)
        wait = min(settings.read_timeout_s, floor - now)
        try:
            if wait <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(anext(iterator), wait)
        except StopAsyncIteration:
            return
        except TimeoutError:
            elapsed = loop.time() - started
            raise UploadTooSlow(
                f"The upload stalled: {received:,} bytes arrived in {elapsed:,.0f} s, slower "
                f"than the {settings.min_bytes_per_s / 1024:,.0f} KiB/s this server waits for; "
                "nothing was kept."
            ) from None
        received += len(chunk)
        yield chunk


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw and raw.isdigit() else None


async def receive_upload(request: Request) -> Response:
    """Stream the body into the workspace; answer with the kept file's SHA-256."""
    state = request.app.state
    if not is_authorized(request, state.token):
        return refusal(401, "This upload needs the app's access token.")
    settings = state.settings
    identity = identity_in(request.scope)
    person = identity.name if identity is not None else None
    limit = settings.max_bytes
    name = request.query_params.get("name") or "upload.csv"
    length = declared_length(request)
    if length is not None and length > limit:
        return refusal(
            413,
            f"The upload is {length:,} bytes, over the limit of {limit:,} bytes; nothing was kept.",
        )
    in_flight: InFlight = state.in_flight
    kept_already = await run_in_threadpool(usage_today, state.trail, person)

    def check(extra: int) -> None:
        # Kept in the window, plus every upload of this person still arriving (this one
        # included), plus what this one declares it will still send.
        arriving = in_flight.of(person)
        used = kept_already.plus(arriving.files, arriving.bytes + extra)
        sentence = over_allowance(used, settings.upload)
        if sentence is not None:
            raise QuotaExceeded(sentence)

    in_flight.files[person] += 1
    arrived = 0
    try:
        check(length or 0)
        with IncomingSource(name, limit=limit, root=settings.workspace) as incoming:
            async for chunk in paced(request.stream(), settings.upload):
                incoming.write(chunk)
                arrived += len(chunk)
                in_flight.bytes[person] += len(chunk)
                check(0)
            if incoming.size == 0:
                return refusal(400, "The upload is empty; send the file as the request body.")
            kept = await run_in_threadpool(incoming.keep)
    except QuotaExceeded as error:
        return refusal(429, str(error))
    except SourceTooLarge as error:
        return refusal(413, str(error))
    except UploadTooSlow as error:
        return JSONResponse({"error": str(error)}, status_code=408, headers={"Connection": "close"})
    except ClientDisconnect:
        return refusal(400, "The upload was interrupted before it was complete; nothing was kept.")
    except (WorkspaceError, OSError):
        return refusal(500, "The upload could not be written to the workspace.")
    finally:
        in_flight.files[person] -= 1
        in_flight.bytes[person] -= arrived
    sha = kept.parent.name
    await run_in_threadpool(
        record_upload, state.trail, sha256=sha, name=kept.name, size=incoming.size, person=person
    )
    return JSONResponse(
        {"sha256": sha, "name": kept.name, "bytes": incoming.size, "url": f"/?upload={sha}"}
    )


async def upload_page(request: Request) -> Response:
    """A page that sends a file as the request body (streamed from disk by the browser)."""
    if not is_authorized(request, request.app.state.token):
        return refusal(401, "This page needs the app's access token.")
    limit = request.app.state.settings.max_bytes
    return HTMLResponse(
        UPLOAD_HTML.replace("{limit}", str(limit)), headers={"Cache-Control": "no-store"}
    )


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
// A token in the address is taken out of it (and out of this history entry) at once; it
// travels only in a header and a POST body from here on.
const token = new URLSearchParams(location.search).get("access_token");
if (token) history.replaceState(null, "", location.pathname);
function openApp(url) {
  if (!token) { location.href = url; return; }
  // marimo's login form sets the notebook's cookie and goes on to `url`.
  const form = document.createElement("form");
  form.method = "POST";
  form.action = "auth/login?next=" + encodeURIComponent(url);
  const field = document.createElement("input");
  field.type = "hidden"; field.name = "password"; field.value = token;
  form.append(field);
  document.body.append(form);
  form.submit();
}
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
  xhr.open("POST", "upload?name=" + encodeURIComponent(file.name));
  xhr.setRequestHeader("Content-Type", "application/octet-stream");
  if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
  progress.hidden = false;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; };
  xhr.onload = () => {
    let answer = {};
    try { answer = JSON.parse(xhr.responseText); } catch (e) {}
    if (xhr.status === 200) {
      status.textContent = "Uploaded; opening the app…";
      openApp(answer.url);
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
