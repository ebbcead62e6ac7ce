"""The SCIM server's HTTP connections: uvicorn's own protocol (httptools), with a deadline for a request's
head. uvicorn times out an idle keep-alive connection but waits as long as a client likes for the request
line and headers: a client that opens connections and then sends its headers a byte at a time, or never
(slowloris), held each one (a descriptor, a coroutine) for good, until the server ran out of files. Here a
request's head must arrive whole within the deadline from its first byte (or from the connection's start),
else the connection is closed. Together with a cap on concurrent connections (``--max-connections``: beyond
it uvicorn answers 503), a client cannot hold more than the cap for longer than the deadline."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tui.scim_limits import HEADER_TIMEOUT


class _TimelyHttpProtocol(HttpToolsProtocol):
    head_timeout = HEADER_TIMEOUT  # seconds; timely_protocol gives each server its own
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection: its head has the same deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def timely_protocol(head_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline of ``head_timeout`` seconds for each request's head."""
    return type("TimelyHttpProtocol", (_TimelyHttpProtocol,), {"head_timeout": head_timeout})
