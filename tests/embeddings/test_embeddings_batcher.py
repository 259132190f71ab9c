"""The batcher and the merge/split of embedding requests (no network)."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.core.embeddings import EmbedInput, EmbedRequest, EmbedResponse
from switchyard.core.model import Usage
from switchyard.embeddings import Batcher, merge, split
from switchyard.embeddings.merge import apportion


class Recorder:
    """A flush that records its batches and answers each item doubled (or fails when told)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return [2 * i for i in items]


def test_concurrent_items_share_one_flush_and_get_their_own_results() -> None:
    async def main() -> None:
        flush = Recorder()
        batcher = Batcher(64, 0.05, flush)
        results = await asyncio.gather(*(batcher.submit("k", n, 1) for n in range(10)))
        assert results == [2 * n for n in range(10)]
        assert flush.batches == [list(range(10))]

    asyncio.run(main())


def test_full_batch_flushes_at_once_and_overflow_starts_the_next() -> None:
    async def main() -> None:
        flush = Recorder()
        batcher = Batcher(4, 60.0, flush)  # the timer never fires within the test
        results = await asyncio.gather(*(batcher.submit("k", n, 2) for n in range(4)))
        assert results == [0, 2, 4, 6]
        assert flush.batches == [[0, 1], [2, 3]]
        first = asyncio.ensure_future(batcher.submit("k", 10, 3))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(batcher.submit("k", 11, 3))  # 3 + 3 > 4: flushes 10 alone
        assert await first == 20
        assert flush.batches[2:] == [[10]]
        assert not second.done()  # waits for more (or its timer)
        second.cancel()

    asyncio.run(main())


def test_keys_are_batched_apart() -> None:
    async def main() -> None:
        flush = Recorder()
        batcher = Batcher(64, 0.01, flush)
        await asyncio.gather(batcher.submit("a", 1, 1), batcher.submit("b", 2, 1), batcher.submit("a", 3, 1))
        assert sorted(flush.batches) == [[1, 3], [2]]

    asyncio.run(main())


def test_a_failed_flush_fails_every_member() -> None:
    async def main() -> None:
        batcher = Batcher(64, 0.01, Recorder(fail=RuntimeError("upstream down")))
        results = await asyncio.gather(*(batcher.submit("k", n, 1) for n in range(3)), return_exceptions=True)
        assert [str(r) for r in results] == ["upstream down"] * 3

    asyncio.run(main())


def test_a_member_that_goes_away_leaves_the_batch_running() -> None:
    async def main() -> None:
        flush = Recorder()
        batcher = Batcher(64, 0.01, flush)
        gone = asyncio.ensure_future(batcher.submit("k", 1, 1))
        stays = asyncio.ensure_future(batcher.submit("k", 2, 1))
        await asyncio.sleep(0)
        gone.cancel()
        assert await stays == 4
        assert flush.batches == [[1, 2]]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (10, [1, 1], [5, 5]),
        (10, [1, 2], [3, 7]),
        (7, [1, 1, 1], [3, 2, 2]),
        (5, [0, 0], [3, 2]),
        (0, [3, 4], [0, 0]),
    ],
)
def test_apportion_adds_up(total: int, weights: list[int], shares: list[int]) -> None:
    assert apportion(total, weights) == shares
    assert sum(shares) == total


def test_merge_and_split_give_each_request_its_vectors_and_usage_share() -> None:
    one = EmbedRequest("m", [EmbedInput("short")])
    two = EmbedRequest("m", [EmbedInput("a much longer text " * 8), EmbedInput([1, 2, 3])])
    merged = merge([one, two])
    assert [i.value for i in merged.inputs] == ["short", "a much longer text " * 8, [1, 2, 3]]
    resp = EmbedResponse("served", [[1.0], [2.0], [3.0]], Usage(input_tokens=100, estimated=True))
    first, second = split(resp, [one, two])
    assert (first.vectors, second.vectors) == ([[1.0]], [[2.0], [3.0]])
    assert first.usage.input_tokens + second.usage.input_tokens == 100
    assert first.usage.input_tokens < second.usage.input_tokens
    assert first.usage.estimated and second.usage.estimated
    assert first.model == second.model == "served"


def test_a_cancelled_flush_leaves_no_member_waiting() -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def hangs(items: list[int]) -> list[int]:
            started.set()
            await asyncio.Event().wait()
            return items

        batcher = Batcher(2, 60.0, hangs)
        members = [asyncio.ensure_future(batcher.submit("k", n, 1)) for n in range(2)]
        await started.wait()
        for task in batcher._running:
            task.cancel()
        results = await asyncio.gather(*members, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)

    asyncio.run(main())
