"""uvicorn's HTTP/1.1 protocol (httptools) with a ceiling on each request's head (request line and headers).

httptools buffers a header of any size: one 250 MB header took a worker from 150 MB to 480 MB (its
container limit is 512 MB), and 100,000 headers were parsed and answered. Traefik refuses heads over
1 MiB, but the workers listen on the container network too. Here the bytes that arrive while a head is
incomplete are counted, and once more than MAX_HEAD_BYTES have come without the head ending, the
connection ends with 431: a worker keeps at most the limit plus one network read (256 KiB) of any head.
A head that ends within the read that brought it (body bytes may follow in the same read) is served.

A head must also arrive within HEAD_SECONDS of the connection opening or of its first byte (408 and the
connection ends): uvicorn has no such clock, so a client trickling a head byte by byte ("slowloris"),
or opening connections and sending nothing, held them for ever. Between requests on a kept-alive
connection uvicorn's own keep-alive timeout applies.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_SECONDS = 10.0
_TOO_LARGE = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes".encode()
_TOO_SLOW = f"the request line and headers did not arrive within {HEAD_SECONDS:.0f} seconds".encode()


class BoundedHeadProtocol(HttpToolsProtocol):
    _reading_head = True
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(b"431 Request Header Fields Too Large", _TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._start_head_clock()

    def on_headers_complete(self) -> None:
        self._reading_head, self._head_bytes = False, 0
        self._stop_head_clock()
        super().on_headers_complete()

    def _start_head_clock(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout", _TOO_SLOW)

    def _refuse(self, status: bytes, reason: bytes) -> None:
        head = b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        self.transport.write(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(reason) + reason)
        self.transport.close()
