"""app/bounded_http.py HeadWithBody: a response's head and body leave in one write, nothing is held past the
next turn of the event loop, and an interim `100 Continue` is never held (the client waits for it)."""

from __future__ import annotations

import asyncio

from app.bounded_http import HeadWithBody

HEAD = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def wrapped() -> tuple[RecordingTransport, HeadWithBody]:
    inner = RecordingTransport()
    return inner, HeadWithBody(inner, asyncio.get_running_loop())  # type: ignore[arg-type]


def test_head_and_body_leave_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        inner, transport = wrapped()
        transport.write(HEAD)
        transport.write(b"{}")
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(scenario()) == [HEAD + b"{}"]


def test_a_head_without_a_body_leaves_on_the_next_turn_of_the_loop() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        inner, transport = wrapped()
        transport.write(HEAD)
        held = list(inner.writes)
        await asyncio.sleep(0)
        return held, inner.writes

    assert asyncio.run(scenario()) == ([], [HEAD])


def test_100_continue_and_bodies_are_not_held() -> None:
    async def scenario() -> list[bytes]:
        inner, transport = wrapped()
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        transport.write(b"a chunk of a streamed body\r\n")
        return list(inner.writes)

    assert asyncio.run(scenario()) == [b"HTTP/1.1 100 Continue\r\n\r\n", b"a chunk of a streamed body\r\n"]


def test_close_sends_a_held_head_first_and_the_rest_is_the_wrapped_transport() -> None:
    async def scenario() -> tuple[list[bytes], bool, str]:
        inner, transport = wrapped()
        transport.write(HEAD)
        transport.close()
        await asyncio.sleep(0)
        return inner.writes, inner.closed, transport.get_extra_info("peername")

    assert asyncio.run(scenario()) == ([HEAD], True, "extra peername")


def test_a_head_held_when_the_peer_went_away_is_dropped() -> None:
    async def scenario() -> list[bytes]:
        inner, transport = wrapped()
        transport.write(HEAD)
        inner.closed = True
        await asyncio.sleep(0)
        return inner.writes

    assert asyncio.run(scenario()) == []
