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

A response leaves in one write: uvicorn writes its status line and headers, then its body, and uvloop sends
each write at once, so every response cost two send calls and woke the client twice (with the loopback
peer's wake-up paid in the sender's system call). The head is held until the body follows, in the same
turn of the event loop for a plain response, or until the next turn at the latest.
"""

from __future__ import annotations

import asyncio
from typing import Any

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
        self.transport = HeadWithBody(transport, self.loop)  # type: ignore[assignment]
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


class HeadWithBody:
    """A transport that holds a response's status line and headers until the next write (its body) or the
    next turn of the event loop, and sends both in one call; anything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif _is_final_head(data):
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _is_final_head(data: bytes) -> bool:
    """A response's status line and headers, not an interim `100 Continue` (the client waits for that one)."""
    return data.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")) and data[9:10] != b"1" and data.endswith(b"\r\n\r\n")
