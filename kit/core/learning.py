"""Learning, during one wait, when the tasks of a batch tend to finish.

For a service with no bulk read (OutX: one task per status request), blind polling every few
seconds costs many requests.  Two facts from the batch itself cut them without delaying the end:

- no task is likely to finish younger than the youngest completion seen so far: a task is not
  read before it is that old (before any completion, the documented first interval);
- while most of the batch is still open, its end is far: a task found finished a little late
  still comes in before the last ones do.  So the interval between two reads of a task is the
  documented one times four times the share of the batch still open (at most four, at least
  a half): loose while many tasks are open, the documented interval once a quarter is left,
  and half of it for the last eighth, which is when the last tasks finish and when reading
  often costs little.  (A batch whose tasks all finish at the same age
  is the case this reads too loosely for; its end is then found up to three intervals late.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import PollSchedule


@dataclass
class CompletionLearner:
    schedule: PollSchedule
    youngest_done: float | None = None  # service seconds from creation to a seen completion
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

    def next_delay(self, open_share: float) -> float:
        """Seconds until the next read of a task found unfinished, ``open_share`` of the batch
        being still open."""
        return self.schedule.interval * min(self.stretch, max(0.5, self.stretch * open_share))
