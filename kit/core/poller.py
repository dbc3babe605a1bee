"""The poller: reads any number of tasks until each is final, each on its own schedule.

One poller serves every service (azure-core's ``LROPoller`` idea): it owns deadlines, scheduling,
concurrency and the wake-ups progress displays hang on.  A service only supplies a
:class:`StatusReader` (azure-core's ``PollingMethod``): how to read one task, how to read many in
one request if it can, when to read a task again.  Tasks may be added while it runs (a job adds
each task the moment it is created), so creation and polling overlap.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .clock import ServiceClock
from .errors import (
    RESUME_HINT,
    AnswerTooLarge,
    KitError,
    NotFound,
    ServiceUnreachable,
    WholeCallError,
)
from .learning import CompletionLearner
from .policy import PollSchedule
from .task import Status, Task, utcnow

log = logging.getLogger("kit.poller")

# A bulk read: given the due tasks and every open task, update as many as one request (or a few)
# can, and return the tasks whose state it established (the due ones it missed are read singly).
BulkRead = Callable[[Sequence[Task], Sequence[Task]], Awaitable[Iterable[Task]]]


@dataclass(frozen=True)
class StatusReader:
    """How one service's task statuses are read: data and functions, no state.

    ``read_one`` updates a task from one status request; ``read_many`` (optional) reads many in
    one request (Linkup's task list, Agora's account list); ``cadence`` says when to read a task
    again; with ``learn`` (no bulk read), the batch's own completions shape the reads
    (:mod:`kit.core.learning`); ``changed`` hears every task after a read (the journal).
    """

    read_one: Callable[[Task], Awaitable[None]]
    cadence: Callable[[Task], PollSchedule]
    read_many: BulkRead | None = None
    learn: bool = False
    changed: Callable[[Task], None] | None = None
    # A task still waiting for the service's worker (OutX's Chrome extension, away at night)
    # is not late: its wait counts from when it is picked up, and it is read slowly meanwhile.
    waiting: Callable[[Task], bool] | None = None


@dataclass
class ProgressEvent:
    """What a progress display shows: counts per status, elapsed time, and whether it is over."""

    label: str
    total: int
    counts: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    finished: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(n for s, n in self.counts.items() if Status(s).is_final)


class ProgressSink:
    """Receives progress events; kit.progress provides the widget and the text line."""

    def update(self, event: ProgressEvent) -> None:  # pragma: no cover - interface
        pass

    def close(self, event: ProgressEvent) -> None:  # pragma: no cover - interface
        pass


# The display a wait shows when its caller names none.  kit.progress installs the notebook
# widget and the terminal line here when it is imported; the engine itself knows no display.
DisplayFactory = Callable[[bool | None, str, int], ProgressSink]
_display: list[DisplayFactory] = []


def set_default_display(factory: DisplayFactory) -> None:
    _display[:] = [factory]


def display_for(progress: bool | ProgressSink | None, label: str, total: int) -> ProgressSink:
    """``progress`` as a sink: a sink as given, ``False`` nothing, else the installed display."""
    if isinstance(progress, ProgressSink):
        return progress
    if progress is False or not _display:
        return ProgressSink()
    return _display[0](progress, label, total)


def snapshot(label: str, tasks: Sequence[Task], elapsed: float, finished: bool = False,
             notes: list[str] | None = None) -> ProgressEvent:
    counts = Counter(t.status.value for t in tasks)
    return ProgressEvent(label, len(tasks), counts, elapsed, finished, list(notes or []))


READ_FAILED = "last status read failed"
# Service seconds between reads of a task that has waited for the worker longer than its
# timeout (a browser closed for the night: a read a minute, not every 5 s).
WAITING_INTERVAL = 60.0
LATE = "not finished in time"  # the note on tasks kit stopped waiting for


def stopped_waiting(task: Task, waited: float) -> str:
    """The remark on a task still open when kit stopped waiting (it is not a failure)."""
    return (f"still {task.status.value} when kit stopped waiting after {waited:.0f} s; the task "
            f"still exists and may still finish: {RESUME_HINT} reads it again (creating it "
            "again would spend another action)")


@dataclass
class _Record:
    task: Task
    deadline: float  # real seconds on the clock
    timeout: float | None  # service seconds, as asked
    added: float = 0.0  # real seconds on the clock
    reads: int = 0
    ticket: int = 0  # the live heap entry; older entries are stale


class Poller:
    """Reads the tasks it is given until each is final or past its deadline.

    ``add(task, timeout)`` at any time; ``close()`` says no more will come; ``run()`` returns
    when every task added is final or was given up on.  Errors about one task are that task's
    ``status``/``error``; an error about the whole call (key, permission, payment) stops the run
    and is raised.
    """

    def __init__(self, reader: StatusReader, *, clock: ServiceClock | None = None,
                 concurrency: int = 16, tick: float = 0.25) -> None:
        self.reader = reader
        self.clock = clock or ServiceClock()
        self.tick = tick
        self._semaphore = asyncio.Semaphore(concurrency)
        self._records: dict[int, _Record] = {}
        self._heap: list[tuple[float, int, _Record]] = []
        self._order = itertools.count(1)
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Future[None]] = set()
        self._closed = False
        self._stopped = False
        self._bulk_busy = False
        self._fatal: KitError | None = None
        self._reached = False  # a read has succeeded: the service can be reached
        self._learner: CompletionLearner | None = None
        self._added = 0  # tasks ever added: the learner reads looser while most are open
        self.on_tick: Callable[[], None] | None = None  # called about every `tick` while running

    # -- input -------------------------------------------------------------------------------
    def add(self, task: Task, timeout: float | None = None) -> None:
        """Watch ``task``; give up on it ``timeout`` service seconds from now (None: never)."""
        if task.done or task.id is None or id(task) in self._records:
            return
        now = self.clock.now()
        deadline = math.inf if timeout is None or math.isinf(timeout) else (
            now + self.clock.real(timeout))
        record = self._records[id(task)] = _Record(task, deadline, timeout, added=now)
        self._added += 1
        self._schedule(record, self._first_delay(record))

    def close(self) -> None:
        """No more tasks will be added: ``run`` returns once those added are settled."""
        self._closed = True
        self._wake.set()

    def stop(self) -> None:
        """Stop reading now: ``run`` returns, the open tasks keep their last status."""
        self._stopped = True
        self._wake.set()

    def release(self, which: Callable[[Task], bool]) -> None:
        """Stop reading the tasks ``which`` picks (they keep their last status); the others
        are read on to the end."""
        for record in list(self._records.values()):
            if which(record.task):
                self._forget(record)

    @property
    def open_count(self) -> int:
        return len(self._records)

    # -- scheduling --------------------------------------------------------------------------
    def _learn(self, task: Task) -> CompletionLearner | None:
        if not self.reader.learn or self.reader.read_many is not None:
            return None
        if self._learner is None:
            self._learner = CompletionLearner(self.reader.cadence(task))
        return self._learner

    def _first_delay(self, record: _Record) -> float:
        """Service seconds before a new task's first read."""
        learner = self._learn(record.task)
        if learner is None:  # a task older than the first delay (a resume) is read now
            # (A sandbox's clock runs ahead of this one: a task "from the future" is new.)
            age = max(0.0, self.clock.service(self.clock.epoch()
                                              - record.task.created_at.timestamp()))
            return max(0.0, self.reader.cadence(record.task).delay(0) - age)
        return self._too_young(record.task, learner)

    def _too_young(self, task: Task, learner: CompletionLearner) -> float:
        """Service seconds until ``task`` is old enough to be worth a read (0: now)."""
        age = self.clock.service(self.clock.epoch() - task.created_at.timestamp())
        return max(0.0, learner.floor - age)

    def _next_delay(self, record: _Record) -> float:
        learner = self._learn(record.task)
        if learner is None:
            delay = self.reader.cadence(record.task).delay(record.reads)
        else:
            delay = learner.next_delay(self.open_count / max(1, self._added))
        if self._waiting(record):
            age = self.clock.service(self.clock.now() - record.added)
            if age > (record.timeout or 0.0):
                delay = max(delay, WAITING_INTERVAL)
        return delay

    def _waiting(self, record: _Record) -> bool:
        return self.reader.waiting is not None and self.reader.waiting(record.task)

    def _schedule(self, record: _Record, delay: float) -> None:
        due = self.clock.now() + self.clock.real(delay)
        if record.reads == 0:
            due = min(due, record.deadline)  # every task is read at least once
        self._schedule_at(record, due)

    def _schedule_at(self, record: _Record, due: float) -> None:
        record.ticket = next(self._order)
        heapq.heappush(self._heap, (due, record.ticket, record))
        # The loop may be asleep until a later read (or a whole 0.25 s tick: 15 service
        # minutes at x3600) while this one comes first.
        self._wake.set()

    def _settle(self, record: _Record) -> None:
        """After a read: hand the task on; read it again, give up on it, or forget it."""
        task = record.task
        record.reads += 1
        if self.reader.changed is not None:
            self.reader.changed(task)
        if task.done:
            self._forget(record)
            return
        delay = self._next_delay(record)
        now = self.clock.now()
        if self._waiting(record) and record.timeout is not None:
            # Not picked up yet: the wait for it to finish has not begun.
            record.deadline = max(record.deadline, now + self.clock.real(record.timeout + delay))
        if now + self.clock.real(delay) > record.deadline:
            if record.deadline - now > 1e-6:  # one last read when the wait ends, not before
                self._schedule_at(record, record.deadline)
                return
            # The time really waited (a first read may come late on a busy machine), and why
            # the status is old when the last read failed (an answer kit could not read).
            failed = task.note if (task.note or "").startswith(READ_FAILED) else None
            task.note = stopped_waiting(task, self.clock.service(now - record.added))
            if failed:
                task.note = f"{failed}; {task.note}"
            self._forget(record)
            return
        self._schedule(record, delay)

    def _forget(self, record: _Record) -> None:
        self._records.pop(id(record.task), None)
        self._wake.set()

    # -- reading -----------------------------------------------------------------------------
    async def _read(self, record: _Record) -> None:
        task = record.task
        try:
            async with self._semaphore:
                await self.reader.read_one(task)
        except ServiceUnreachable as exc:
            if not self._reached:  # never reached at all: say so now, not after every wait
                self._fatal = exc
                return
            task.note = f"{READ_FAILED}: {exc.message}"  # a blip: read again later
        except WholeCallError as exc:
            self._fatal = exc
            return
        except (NotFound, AnswerTooLarge) as exc:  # reading again would get the same
            task.status, task.error, task.updated_at = Status.FAILED, exc.message, utcnow()
        except KitError as exc:
            # A read that failed even after retries: the task itself is fine as far as we know.
            log.info("reading %s failed, will retry on schedule: %s", task.id, exc.message)
            task.note = f"{READ_FAILED}: {exc.message}"
        else:
            self._reached = True
            task.note = None
            learner = self._learn(task)
            if learner is not None and task.done:
                learner.observe(self.clock.service(self.clock.epoch() - task.created_at.timestamp()))
        self._settle(record)

    async def _read_many(self, due: list[_Record]) -> None:
        """One bulk read for every open task: each one it establishes counts as read."""
        assert self.reader.read_many is not None
        self._bulk_busy = True
        open_records = list(self._records.values())
        try:
            established = {id(t) for t in await self.reader.read_many(
                [r.task for r in due], [r.task for r in open_records])}
            self._reached = True
        except ServiceUnreachable as exc:
            if not self._reached:
                self._fatal = exc
                return
            log.info("bulk status read failed, reading tasks one by one: %s", exc.message)
            established = set()
        except WholeCallError as exc:
            self._fatal = exc
            return
        except KitError as exc:
            log.info("bulk status read failed, reading tasks one by one: %s", exc.message)
            established = set()
        finally:
            self._bulk_busy = False
            self._wake.set()
        due_ids = {id(r) for r in due}
        for record in open_records:
            if id(record.task) in established:
                record.task.note = None
                self._settle(record)
            elif id(record) in due_ids:
                self._launch(self._read(record))

    def _launch(self, coro: Awaitable[None]) -> None:
        job = asyncio.ensure_future(coro)
        self._inflight.add(job)
        job.add_done_callback(self._inflight.discard)

    def _pop_due(self) -> list[_Record]:
        now = self.clock.now()
        due: list[_Record] = []
        while self._heap and self._heap[0][0] <= now:
            _, ticket, record = heapq.heappop(self._heap)
            if record.ticket != ticket or id(record.task) not in self._records:
                continue  # read meanwhile, or settled
            learner = self._learn(record.task)
            hold = self._too_young(record.task, learner) if learner is not None else 0.0
            if hold > 0 and now + self.clock.real(hold) < record.deadline:
                self._schedule(record, hold)  # the batch taught us it cannot be done yet
                continue
            due.append(record)
        return due

    # -- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Read until every task added is settled and ``close()`` was called."""
        last_tick = self.clock.now()
        try:
            while self._fatal is None and not self._stopped:
                due = self._pop_due()
                if due and self.reader.read_many is not None and self.open_count >= 2:
                    if self._bulk_busy:  # a bulk read is under way: it will cover these too
                        for record in due:
                            self._schedule(record, 0.0 if record.reads == 0 else
                                           self.reader.cadence(record.task).interval)
                    else:
                        self._launch(self._read_many(due))
                else:
                    for record in due:
                        self._launch(self._read(record))
                if self._closed and not self._records and not self._inflight:
                    break
                next_due = self._heap[0][0] if self._heap else math.inf
                self._wake.clear()
                await self.clock.wait(self._wake, min(next_due - self.clock.now(), self.tick))
                if self.on_tick is not None and self.clock.now() - last_tick >= self.tick:
                    last_tick = self.clock.now()
                    self.on_tick()
        finally:
            for job in list(self._inflight):
                job.cancel()
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._fatal is not None:
            raise self._fatal
