"""uvicorn's HTTP/1.1 protocol (httptools) with a ceiling on each request's head (request line and headers).

httptools buffers a header of any size: one 250 MB header took a worker from 150 MB to 480 MB (its
container limit is 512 MB), and 100,000 headers were parsed and answered. Traefik refuses heads over
1 MiB, but the workers listen on the container network too. Here the bytes that arrive while a head is
incomplete are counted, and once more than MAX_HEAD_BYTES have come without the head ending, the
connection ends with 431: a worker keeps at most the limit plus one network read (256 KiB) of any head.
A head that ends within the read that brought it (body bytes may follow in the same read) is served.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
_REFUSAL = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes".encode()


class BoundedHeadProtocol(HttpToolsProtocol):
    _reading_head = True
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._reading_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def _refuse_head(self) -> None:
        head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
        self.transport.write(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_REFUSAL) + _REFUSAL)
        self.transport.close()
