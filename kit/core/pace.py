"""The pace of actions that cost something outside the API: OutX's LinkedIn actions.

OutX does not pace requests ("You are responsible for pacing. If you burst, the underlying LinkedIn
account is what gets flagged", OutX's rate-limits page, CONTRACTS.md §1): about 50 LinkedIn-action
calls per hour, spread through the day.  A :class:`Pace` states such a budget as rolling windows;
:meth:`Pace.next_send` decides, from the send times already spent, when the next action may go.

Why our own and not a token bucket (aiolimiter): the budget belongs to a LinkedIn account, not to a
process.  Its send times live in the journal (kit.core.journal), so two notebooks, the command line
and a restarted kernel all count the same sends; a bucket in memory would forget them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

HOUR = 3600.0
# Windows are counted a little longer than published: kit stamps a send before its request
# leaves, the service counts it on arrival, and network delays differ from one request to the next.
WINDOW_MARGIN = 1.02


@dataclass(frozen=True)
class Pace:
    """At most ``per_hour`` actions in any rolling hour, ``per_minute`` in any rolling minute and
    ``per_day`` in any rolling day, per team (API key); consecutive actions are spaced evenly
    (``3600 / per_hour`` seconds by default) with ``jitter`` (± that share of the spacing), so
    that a batch never looks like a burst or a cron at a fixed cadence.

    The default follows OutX's published guidance (~50 LinkedIn actions per hour, spread out).
    **Raising it risks the LinkedIn account that runs your team's OutX extension** (usually the
    team admin's): LinkedIn flags accounts that act in bursts or beyond its own daily caps, and
    OutX does nothing to prevent it.  ``None`` for a window means no limit on it;
    :meth:`unlimited` lifts every limit (for a sandbox or a benchmark, never for a real account).
    """

    per_hour: float | None = 50
    per_minute: float | None = 5
    per_day: float | None = None
    jitter: float = 0.25

    def __post_init__(self) -> None:
        for name in ("per_hour", "per_minute", "per_day"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value <= 0):
                raise ValueError(f"Pace({name}=...) must be a positive number or None, not {value!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError("Pace(jitter=...) must be between 0 and 1 (a share of the spacing)")

    @classmethod
    def unlimited(cls) -> Pace:
        """No limit at all: every action is sent at once.  Not for a real LinkedIn account."""
        return cls(per_hour=None, per_minute=None, per_day=None, jitter=0.0)

    @property
    def windows(self) -> list[tuple[float, float]]:
        """(window seconds, most actions in it), for every limited window."""
        pairs = [(60.0, self.per_minute), (HOUR, self.per_hour), (24 * HOUR, self.per_day)]
        return [(seconds, count) for seconds, count in pairs if count is not None]

    @property
    def limited(self) -> bool:
        return bool(self.windows)

    @property
    def spacing(self) -> float:
        """Service seconds between two actions on average (the tightest window, spread)."""
        return max((seconds / count for seconds, count in self.windows), default=0.0)

    @property
    def longest_window(self) -> float:
        return max((seconds for seconds, _ in self.windows), default=0.0) * WINDOW_MARGIN

    def gap(self, rng: random.Random) -> float:
        """The spacing before the action after this one, jittered (service seconds)."""
        return self.spacing * (1 + rng.uniform(-self.jitter, self.jitter))

    def next_send(self, sent: Sequence[float], not_before: float, now: float) -> float:
        """The earliest instant (service seconds, on the same clock as ``sent`` and ``now``) at
        which one more action keeps within every window.

        ``sent``: the instants of earlier actions (any order; those older than the longest window
        do not matter); ``not_before``: the spaced, jittered instant the last action asked for.
        """
        at = max(now, not_before)
        times = sorted(sent)
        for published, count in self.windows:
            seconds = published * WINDOW_MARGIN
            limit = max(1, math.floor(count))
            while True:  # the window ending at `at` must hold fewer than `limit` actions
                inside = [t for t in times if at - seconds < t <= at]
                if len(inside) < limit:
                    break
                # wait until enough of them leave the window
                at = inside[len(inside) - limit] + seconds + 1e-6
        return at

    def describe(self) -> str:
        """``pace 5/min, 50/h`` (what a progress line shows)."""
        names = {60.0: "min", HOUR: "h", 24 * HOUR: "day"}
        parts = [f"{count:g}/{names[seconds]}" for seconds, count in self.windows]
        return "pace " + (", ".join(parts) if parts else "unlimited")
