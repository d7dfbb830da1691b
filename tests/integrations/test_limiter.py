"""The rate limiter on its own: a test clock, no sleeps (``sleep`` records what it was asked)."""

from __future__ import annotations

import pytest

from integrations.base import Deferred, RateLimiter


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def limiter(
    per_minute: float = 60, burst: int = 3, max_wait: float = 0.5
) -> tuple[RateLimiter, Ticking]:
    clock = Ticking()
    return RateLimiter(
        per_minute, burst=burst, max_wait=max_wait, clock=clock, sleep=clock.sleep
    ), clock


def test_a_reservation_is_taken_whole_or_not_at_all() -> None:
    rl, clock = limiter()
    rl.acquire()
    with pytest.raises(Deferred) as info:  # 2 left, 3 wanted: held back, nothing taken
        with rl.reserve(3):
            raise AssertionError("never entered")
    assert info.value.retry_after == pytest.approx(1.0) and rl.tokens == pytest.approx(2.0)
    clock.now = 1.0
    with rl.reserve(3):
        for _ in range(3):
            rl.acquire()  # drawn from the reservation, never deferred
    assert rl.tokens == pytest.approx(0.0) and clock.slept == []


def test_unused_reserved_requests_go_back_and_extra_ones_are_never_deferred() -> None:
    rl, clock = limiter()
    with rl.reserve(3):
        rl.acquire()
    assert rl.tokens == pytest.approx(2.0)  # two given back
    with rl.reserve(2):
        rl.acquire()
        rl.acquire()
        rl.acquire()  # past the reservation: taken anyway, waiting at most max_wait
    assert clock.slept == [0.5] and rl.tokens == pytest.approx(-1.0)


def test_a_reservation_above_the_bucket_is_taken_from_a_full_bucket() -> None:
    rl, clock = limiter(burst=2)
    with rl.reserve(4):
        pass
    assert rl.tokens == pytest.approx(2.0)  # nothing used: all four back, capped at the bucket
    rl.tokens = 1.0
    with pytest.raises(Deferred):
        with rl.reserve(4):
            pass
