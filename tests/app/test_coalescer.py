"""Coalescer: concurrent submissions share batches; every caller gets its own outcome, and nothing waits forever."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from app.coalescer import Coalescer


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(main(), timeout=5))


class Recorder:
    """A batch function that takes a loop turn (a round trip), and records the batches and their overlap."""

    def __init__(self, fail_items: Sequence[int] = (), delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.in_flight = self.most_in_flight = 0
        self.fail_items = set(fail_items)
        self.delay = delay

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(items)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return [ValueError(f"item {item} refused") if item in self.fail_items else item * 10 for item in items]


def test_an_idle_coalescer_sends_an_item_at_once_and_alone():
    recorder = Recorder()
    assert run(lambda: Coalescer(recorder).submit(4)) == 40
    assert recorder.batches == [[4]]


def test_items_arriving_during_a_round_trip_go_together_in_the_next():
    recorder = Recorder(delay=0.01)

    async def main() -> list[int]:
        coalescer = Coalescer(recorder, concurrency=1)
        first = asyncio.ensure_future(coalescer.submit(0))
        await asyncio.sleep(0.001)  # the first batch is in flight
        return [await first, *await asyncio.gather(*(coalescer.submit(n) for n in range(1, 10)))]

    assert run(main) == [n * 10 for n in range(10)]
    assert recorder.batches == [[0], list(range(1, 10))]


def test_batches_respect_the_limit_and_the_concurrency():
    recorder = Recorder(delay=0.005)

    async def main() -> list[int]:
        coalescer = Coalescer(recorder, concurrency=2, limit=3)
        return await asyncio.gather(*(coalescer.submit(n) for n in range(20)))

    assert run(main) == [n * 10 for n in range(20)]
    assert max(len(batch) for batch in recorder.batches) == 3
    assert recorder.most_in_flight == 2
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(20))


def test_an_item_refused_fails_only_its_own_caller():
    recorder = Recorder(fail_items=[2])

    async def main() -> list[Any]:
        coalescer = Coalescer(recorder, concurrency=1)
        return await asyncio.gather(*(coalescer.submit(n) for n in range(4)), return_exceptions=True)

    outcomes = run(main)
    assert [outcome for n, outcome in enumerate(outcomes) if n != 2] == [0, 10, 30]
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "item 2 refused"


def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs():
    calls = 0

    async def flaky(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.005)
        if calls == 1:
            raise ConnectionError("server went away")
        return items

    async def main() -> tuple[list[Any], int]:
        coalescer = Coalescer(flaky, concurrency=1)
        first = await asyncio.gather(coalescer.submit(1), coalescer.submit(2), return_exceptions=True)
        return first, await coalescer.submit(3)

    first, later = run(main)
    assert [type(outcome) for outcome in first] == [ConnectionError, ConnectionError]
    assert later == 3


def test_a_wrong_number_of_outcomes_is_an_error_for_every_caller():
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    async def main() -> list[Any]:
        coalescer = Coalescer(short, concurrency=1)
        return await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)

    outcomes = run(main)
    assert all(isinstance(outcome, RuntimeError) and "2 outcomes for 3 items" in str(outcome) for outcome in outcomes)


def test_an_item_submitted_as_the_last_batch_ends_is_still_sent():
    """Regression: a finished drain task leaves the task set a loop turn after its last caller resumes; a
    caller that submitted in that turn saw all drainers busy, started none, and waited forever."""
    recorder = Recorder()

    async def main() -> tuple[int, int]:
        coalescer = Coalescer(recorder, concurrency=1)
        first = await coalescer.submit(1)
        return first, await coalescer.submit(2)  # in the very turn the first drainer finished

    assert run(main) == (10, 20)


def test_a_cancelled_caller_does_not_disturb_the_others():
    recorder = Recorder(delay=0.01)

    async def main() -> list[int]:
        coalescer = Coalescer(recorder, concurrency=1)
        busy = asyncio.ensure_future(coalescer.submit(0))
        await asyncio.sleep(0.001)
        waiting = [asyncio.ensure_future(coalescer.submit(n)) for n in (1, 2, 3)]
        await asyncio.sleep(0)
        waiting[1].cancel()
        return [await busy, await waiting[0], await waiting[2]]

    assert run(main) == [0, 10, 30]
    assert recorder.batches == [[0], [1, 3]]  # item 2 was cancelled before its batch started: not sent


def test_bad_settings_are_refused():
    async def nothing(items: list[int]) -> list[int]:
        return items

    with pytest.raises(ValueError, match="concurrency and limit must be at least 1, not 0 and 64"):
        Coalescer(nothing, concurrency=0)
