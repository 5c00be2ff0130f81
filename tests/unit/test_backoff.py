"""Restart delays of a supervised process: doubling, capped, jittered, reset by a healthy run."""

from __future__ import annotations

import pytest

from switchboard.backoff import RestartBackoff

pytestmark = pytest.mark.unit


def test_delays_double_up_to_the_cap() -> None:
    backoff = RestartBackoff(base_s=0.5, cap_s=4.0, reset_after_s=60.0)
    delays = [backoff.next_delay(ran_s=1.0, rand=1.0) for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_keeps_at_least_half_the_delay() -> None:
    low = RestartBackoff(base_s=1.0, cap_s=8.0)
    high = RestartBackoff(base_s=1.0, cap_s=8.0)
    lows = [low.next_delay(ran_s=0.0, rand=0.0) for _ in range(4)]
    highs = [high.next_delay(ran_s=0.0, rand=0.999) for _ in range(4)]
    assert lows == [0.5, 1.0, 2.0, 4.0]
    assert all(h == pytest.approx(2 * lo, rel=1e-3) for h, lo in zip(highs, lows, strict=True))


def test_a_healthy_run_resets_the_delay() -> None:
    backoff = RestartBackoff(base_s=0.5, cap_s=30.0, reset_after_s=60.0)
    for _ in range(5):
        backoff.next_delay(ran_s=2.0, rand=1.0)
    assert backoff.next_delay(ran_s=59.9, rand=1.0) == 16.0  # not long enough
    assert backoff.next_delay(ran_s=60.0, rand=1.0) == 0.5  # ran a minute: starts over


def test_a_process_that_never_stays_up_stays_at_the_cap() -> None:
    backoff = RestartBackoff(base_s=0.5, cap_s=30.0)
    delays = [backoff.next_delay(ran_s=0.1, rand=1.0) for _ in range(5000)]
    assert delays[-1] == 30.0


@pytest.mark.parametrize(
    "bad", [{"base_s": 0.0}, {"cap_s": 0.1, "base_s": 1.0}, {"reset_after_s": 0.0}]
)
def test_nonsense_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid restart backoff"):
        RestartBackoff(**bad)
