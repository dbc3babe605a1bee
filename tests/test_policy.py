"""Retry, pacing and polling policies are plain values with predictable behaviour."""

from __future__ import annotations

import itertools
from datetime import timedelta
from email.utils import format_datetime

import pytest

import kit
from kit.core.policy import PollSchedule, RetryPolicy, parse_retry_after
from kit.core.task import utcnow


def test_backoff_grows_with_full_jitter_and_is_capped():
    policy = RetryPolicy(base_delay=1, max_delay=8, seed=3)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        for _ in range(50):
            d = policy.backoff(attempt)
            assert ceiling / 2 <= d <= ceiling


def test_retry_after_wins_over_backoff():
    policy = RetryPolicy(base_delay=0.5, seed=1)
    assert 7 <= policy.delay(1, 7.0) <= 7.5


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), (None, None),
                                             ("", None), ("soon", None)])
def test_parse_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    when = format_datetime(utcnow() + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(when) <= 31


def test_poll_schedule():
    s = PollSchedule(interval=5, first=10, growth=2, max_interval=30)
    assert [s.delay(n) for n in range(6)] == [10, 5, 10, 20, 30, 30]
    assert PollSchedule(interval=5).delay(0) == 5


def test_policies_are_frozen_values():
    with pytest.raises(AttributeError):
        kit.RetryPolicy().attempts = 3
    with pytest.raises(ValueError):
        kit.RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        kit.Rate(0)


def test_pacer_spaces_requests_and_is_shared_per_key():
    from kit.core.clock import ServiceClock
    from kit.core.pacing import Pacer, pacer_for

    pacer = Pacer(kit.Rate(5, 60), ServiceClock(60))  # 5/min at x60: one slot per ~0.2 s
    waits = [pacer.reserve() for _ in range(4)]
    assert waits[0] == 0
    gaps = [b - a for a, b in itertools.pairwise(waits)]
    assert all(abs(g - 0.204) < 0.005 for g in gaps)  # 0.2 s and the 2% margin
    a = pacer_for("Agora", "fp1", "create", kit.Rate(5, 60), ServiceClock())
    assert pacer_for("Agora", "fp1", "create", kit.Rate(5, 60), ServiceClock()) is a
    assert pacer_for("Agora", "fp2", "create", kit.Rate(5, 60), ServiceClock()) is not a
