"""Learning, during one wait, when the tasks of a batch tend to finish.

For a service with no bulk read (OutX: one task per status request), blind polling every few
seconds costs many requests.  Two facts from the batch itself cut them without delaying the end:

- no task is likely to finish younger than the youngest completion seen so far: a task is not
  read before it is that old (before any completion, the documented first interval);
- the batch cannot end before its last-created task is that old either: until then a task found
  finished a little late still comes in before the last one does, so tasks are read at up to
  four times the documented interval while that point is far, and at the documented interval
  once it is near or past.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import PollSchedule


@dataclass
class CompletionLearner:
    schedule: PollSchedule
    youngest_done: float | None = None  # service seconds from creation to a seen completion
    last_created: float = 0.0  # service-time instant the batch's last task was created
    stretch: float = 4.0  # at most this many documented intervals between two reads

    @property
    def floor(self) -> float:
        """The age before which a task is not read."""
        if self.youngest_done is not None:
            return self.youngest_done
        return self.schedule.first if self.schedule.first is not None else self.schedule.interval

    def observe(self, age: float) -> None:
        """A task was seen finished at ``age`` (an upper bound of when it finished)."""
        if self.youngest_done is None or age < self.youngest_done:
            self.youngest_done = age

    def next_delay(self, now: float) -> float:
        """Seconds until the next read of a task found unfinished at ``now`` (service time)."""
        base = self.schedule.interval
        end_at_the_earliest = self.last_created + self.floor
        slack = end_at_the_earliest - now
        return min(base * self.stretch, max(base, slack / 2))
