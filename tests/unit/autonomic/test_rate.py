"""The push rate's token bucket, on a fake clock (nothing here waits for real)."""

from __future__ import annotations

import asyncio

import pytest

from autonomic.rate import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_full_bucket_gives_its_burst_then_one_token_per_period() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10.0, burst=3, clock=fake.clock, sleep=fake.sleep)

    async def scenario() -> None:
        for _ in range(3):
            await bucket.take()
        assert fake.slept == []  # the burst
        for _ in range(2):
            await bucket.take()
        assert fake.slept == [0.1, 0.1]  # then 10 a second
        fake.now += 60  # idle: the bucket refills to its burst, no more
        assert bucket.wait_for() == 0.0
        for _ in range(3):
            await bucket.take()
        assert fake.slept == [0.1, 0.1]
        assert bucket.wait_for() == pytest.approx(0.1)

    asyncio.run(scenario())


def test_the_burst_defaults_to_a_seconds_worth_and_a_rate_is_positive() -> None:
    assert TokenBucket(50.0).burst == 50.0
    assert TokenBucket(0.2).burst == 1.0
    with pytest.raises(ValueError):
        TokenBucket(0.0)
