"""Small frozen values that say how kit retries, paces and polls (read by one engine).

A service module states its policies as data; changing how a service is paced is one line there.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from .task import utcnow

# Statuses after which a read is safe and useful to repeat.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: exponential backoff with full jitter, honouring
    ``Retry-After`` up to ``max_retry_after``.  ``attempts`` counts the first try.  *Whether* a
    failed attempt may be retried is :func:`may_retry`'s decision."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # A Retry-After longer than this is not waited for: the caller gets RateLimited at once.
    max_retry_after: float = 120.0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.seed is not None:
            self._rng.seed(self.seed)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1 for the first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # Wait what the service asks, plus a little jitter so that many tasks do not return
            # in the same instant.
            return retry_after + self._rng.uniform(0, min(1.0, self.base_delay))
        return self.backoff(attempt)


class Outcome(enum.Enum):
    """What became of a failed attempt, as far as the service's side is concerned."""

    NOT_SENT = "not sent"  # the connection never opened: the service saw nothing
    NO_ANSWER = "no answer"  # sent, then the connection failed or timed out
    UNREADABLE = "unreadable"  # a success whose body cannot be read
    TOO_LARGE = "too large"  # an answer over the endpoint's size cap: asking again gets the same
    REDIRECT = "redirect"  # never followed with a key
    ANSWERED = "answered"  # an error status, maybe with the service's own code


@dataclass(frozen=True)
class Attempt:
    """One failed attempt, classified once (by the HTTP engine)."""

    outcome: Outcome
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None  # service seconds


def may_retry(policy: RetryPolicy, attempt: Attempt, *, creates: bool,
              retry_429_codes: frozenset[str] | None = None, retry_429: bool = True) -> bool:
    """May this attempt be repeated?  The one place where kit decides a retry.

    A request the service never saw, always; one that may have acted (a create: it costs
    money or acts in public), only when the answer says it did not (a 429); a read, on
    429/5xx or a lost answer.  A Retry-After beyond ``policy.max_retry_after`` is not waited
    for, and a 429 whose code is not in ``retry_429_codes`` (when given), or from an endpoint
    whose 429 means a cap (``retry_429=False``: ``Endpoint.cap_429``), is final.
    """
    if attempt.retry_after is not None and attempt.retry_after > policy.max_retry_after:
        return False
    if attempt.outcome is Outcome.NOT_SENT:
        return True
    if attempt.outcome in (Outcome.REDIRECT, Outcome.TOO_LARGE):
        return False
    if attempt.outcome is not Outcome.ANSWERED:  # sent, answer lost or unreadable
        return not creates
    if attempt.status == 429:
        return retry_429 and (retry_429_codes is None or attempt.code is None
                              or attempt.code in retry_429_codes)
    return not creates and attempt.status in RETRY_STATUSES


def may_have_acted(attempt: Attempt, *, creates: bool) -> bool:
    """After a failed create: is it open whether the service acted (never repeat it then)?"""
    if not creates:
        return False
    return attempt.outcome in (Outcome.NO_ANSWER, Outcome.UNREADABLE, Outcome.TOO_LARGE) or (
        attempt.outcome is Outcome.ANSWERED and (attempt.status or 0) >= 500)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests per ``period`` seconds (a leaky bucket, see aiolimiter)."""

    count: float
    period: float = 1.0

    def __post_init__(self) -> None:
        if self.count <= 0 or self.period <= 0:
            raise ValueError("Rate needs a positive count and period")


@dataclass(frozen=True)
class PollSchedule:
    """When to read a task's status again, and when to stop waiting.

    ``first`` is the wait before the first read, then ``interval`` grows by ``growth`` per read up
    to ``max_interval``.  ``timeout`` is the default overall wait of ``client.wait``
    (``None``: no limit).  All values are in the service's real seconds; kit divides them by the
    client's ``time_scale`` (1 for real services, the sandbox's ``speed`` for the sandbox).
    """

    interval: float
    first: float | None = None
    growth: float = 1.0
    max_interval: float | None = None
    timeout: float | None = None

    def delay(self, reads: int) -> float:
        """Seconds before the next read, given how many reads were made already."""
        if reads == 0 and self.first is not None:
            return self.first
        d = self.interval * (self.growth ** max(0, reads - 1))
        return min(d, self.max_interval) if self.max_interval else d
