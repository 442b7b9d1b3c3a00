"""Connections that never finish their request headers are closed (slowloris).

uvicorn closes an idle keep-alive connection after a few seconds, but a connection that has
sent *part* of a request's headers — one header line every few seconds — is held for as
long as the client cares to keep it (measured: 20 such connections held for as long as the
test ran). The route's own read timeout (`server.upload.paced`) cannot help: the app is
only called once the headers are complete. This is uvicorn's h11 protocol with one more
timer: the headers of each request must be complete within `header_timeout_s` of the
connection opening (or of the previous response), else the connection is closed.

It subclasses uvicorn's `H11Protocol` (the class `uvicorn.run(http=...)` accepts); if its
internals change, `tests/test_slow_clients.py` says so. A TLS proxy in front (nginx's
`client_header_timeout`, Caddy's `read_header` timeout) does the same job one hop earlier.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadline(H11Protocol):
    """`H11Protocol` that closes a connection whose request headers are late."""

    header_timeout_s: float = 15.0
    _deadline: asyncio.TimerHandle | None = None

    @classmethod
    def after(cls, seconds: float) -> type[HeaderDeadline]:
        """The protocol class with this deadline (uvicorn builds one per connection)."""
        return type(cls.__name__, (cls,), {"header_timeout_s": seconds})

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in: the route's own timeouts take over

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets a deadline of its own

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
