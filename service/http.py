"""``licensing serve``'s HTTP connections: uvicorn's httptools protocol with a timeout for request headers.

uvicorn (0.55) times out only an idle keep-alive connection: its timer starts when a response is complete
and any byte received cancels it, and a fresh connection has no timer at all. So a client that connects
and sends part of a request line or of its headers, then nothing, keeps its connection (a file
descriptor, a slot of ``limit_concurrency``) as long as it likes; a few hundred of them hold a worker's
connections. :class:`HeaderTimeoutProtocol` closes a connection whose request headers are not complete
within ``header_timeout`` seconds of the connection opening or of the previous response ending. Bodies
are not timed: a request is in the application's hands once its headers are in (its size is bounded
by the body limit).

Nor does the httptools parser bound the size of a request line and headers (h11's
``h11_max_incomplete_event_size`` does not apply to it), so a fast client could fill a worker's memory
before any timeout: more than :data:`MAX_HEADER_BYTES` is answered 431 and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("licensing.http")
MAX_HEADER_BYTES = 64 * 1024
_TOO_LARGE_BODY = b"Request header fields too large.\n"
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE_BODY), _TOO_LARGE_BODY)
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None  # set while a request's headers are awaited
        self._header_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is None or self.transport.is_closing():
            return
        self._header_bytes += len(data)  # still reading a request line and headers: all of it theirs
        if self._header_bytes > MAX_HEADER_BYTES:
            self._disarm()
            self.transport.write(TOO_LARGE)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # idle, waiting for the next request (none pipelined)
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.debug("http.header_timeout", extra={"client": self.client and self.client[0]})
            self.transport.close()
