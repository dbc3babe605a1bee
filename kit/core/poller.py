"""The poller: waits for any number of tasks at once, each on its own schedule.

One poller serves every service (azure-core's LROPoller idea): it owns deadlines, scheduling,
concurrency and progress events; a service only says how to read a task (``refresh``) and when
to read it again (a :class:`~kit.core.policy.PollSchedule`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .errors import AuthenticationError, KitError, NotFound, PaymentRequired, PermissionDenied
from .learning import CompletionLearner
from .policy import PollSchedule
from .task import Status, Task, utcnow

log = logging.getLogger("kit.poller")

# Errors that concern the whole call, not one task: waiting on would only repeat them.
WHOLE_CALL_ERRORS = (AuthenticationError, PermissionDenied, PaymentRequired)

Refresh = Callable[[Task], Awaitable[None]]
# A bulk read: given the due tasks and every open task, update as many as one request (or a few)
# can, and return the due tasks whose state it established (the others get a read of their own).
BulkRefresh = Callable[[Sequence[Task], Sequence[Task]], Awaitable[Iterable[Task]]]
Schedule = PollSchedule | Callable[[Task], PollSchedule]


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


def snapshot(label: str, tasks: Sequence[Task], elapsed: float, finished: bool = False,
             notes: list[str] | None = None) -> ProgressEvent:
    counts = Counter(t.status.value for t in tasks)
    return ProgressEvent(label, len(tasks), counts, elapsed, finished, list(notes or []))


async def wait_for(
    tasks: Sequence[Task],
    *,
    refresh: Refresh,
    schedule: Schedule,
    timeout: float | None,
    bulk: BulkRefresh | None = None,
    bulk_min: int = 2,
    time_scale: float = 1.0,
    concurrency: int = 16,
    progress: ProgressSink | None = None,
    label: str = "tasks",
    tick: float = 0.25,
    on_update: Callable[[Task], None] | None = None,
    notes: Sequence[str] = (),
    learn: bool = False,
) -> list[Task]:
    """Read every unfinished task until it is final or ``timeout`` seconds have passed.

    ``timeout`` and the schedule are in the service's seconds; both are divided by ``time_scale``
    (the sandbox's ``speed``; 1 for a real service).

    ``schedule`` is one :class:`PollSchedule` or a function giving each task its own (a fast
    search and a research task want very different intervals).  With ``learn`` (one schedule,
    no bulk read), the batch's own completions shape the reads: see :mod:`kit.core.learning`.
    With ``bulk``, when a task is due and at least ``bulk_min`` are open, one bulk read (Linkup's
    task list, Agora's account list) reads them all; the due tasks it could not establish are
    read one by one.  The cadence is then the shortest schedule among the open tasks, and a
    read costs one request however many tasks there are.

    Returns ``tasks`` (the same objects, updated).  One task's failure never raises: it becomes
    that task's ``status``/``error``.  Errors about the whole call (bad key, no permission,
    no credits) raise at once.  Tasks still open at the deadline keep their last status and get
    an ``error`` that says kit stopped waiting, not that the task failed.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    scale = time_scale if time_scale > 0 else 1.0
    deadline = math.inf if timeout is None or math.isinf(timeout) else started + timeout / scale
    order = itertools.count()
    reads: dict[int, int] = {}
    heap: list[tuple[float, int, Task]] = []
    def plan(task: Task) -> PollSchedule:
        return schedule(task) if callable(schedule) else schedule

    learner = CompletionLearner(schedule) if learn and isinstance(schedule, PollSchedule) else None

    def service_now() -> float:
        return time.time() * scale

    def born(task: Task) -> float:
        return task.created_at.timestamp() * scale

    token: dict[int, int] = {}  # a task's live heap entry; older entries are stale

    def push(task: Task) -> None:
        token[id(task)] = ticket = next(order)
        if learner is None:
            delay = plan(task).delay(reads[id(task)])
        elif reads[id(task)] == 0:
            delay = too_young(task)
        else:
            delay = learner.next_delay(open_count / max(1, len(open_tasks)))
        heapq.heappush(heap, (loop.time() + delay / scale, ticket, task))

    def too_young(task: Task) -> float:
        """Service seconds until ``task`` is old enough to be worth a read (0: read it now)."""
        if learner is None:
            return 0.0
        return max(0.0, born(task) + learner.floor - service_now())

    open_tasks: list[Task] = []
    for task in tasks:
        if id(task) in reads or task.done or task.id is None:
            continue
        reads[id(task)] = 0
        open_tasks.append(task)
    open_count = len(open_tasks)  # kept up to date: counting 10,000 tasks per wake is waste
    for task in open_tasks:
        push(task)

    semaphore = asyncio.Semaphore(concurrency)
    wake = asyncio.Event()
    inflight: set[asyncio.Task[None]] = set()
    fatal: list[BaseException] = []

    def emit(finished: bool = False, extra: Sequence[str] = ()) -> None:
        if progress is not None:
            event = snapshot(label, tasks, loop.time() - started, finished, [*notes, *extra])
            (progress.close if finished else progress.update)(event)

    async def read(task: Task) -> None:
        try:
            async with semaphore:
                await refresh(task)
        except WHOLE_CALL_ERRORS as exc:
            fatal.append(exc)
        except NotFound as exc:
            task.status, task.error, task.updated_at = Status.FAILED, exc.message, utcnow()
        except KitError as exc:
            # A read that failed even after retries: the task itself is fine as far as we know.
            # Say so on the task and read it again on schedule.
            log.info("reading %s failed, will retry on schedule: %s", task.id, exc.message)
            task.error = f"last status read failed: {exc.message}"
        else:
            if task.error and task.error.startswith("last status read failed"):
                task.error = None
            if learner is not None and task.done:
                learner.observe(service_now() - born(task))
        finally:
            reads[id(task)] += 1
            settle(task)
            if not task.done and not fatal:
                push(task)
            wake.set()

    closed: set[int] = set()

    def settle(task: Task) -> None:
        nonlocal open_count
        if on_update is not None:
            on_update(task)
        if task.done and id(task) not in closed:
            closed.add(id(task))
            open_count -= 1

    bulk_busy = False

    async def read_many(due: list[Task]) -> None:
        """One bulk read for every open task: each one it establishes counts as read."""
        nonlocal bulk_busy
        bulk_busy = True
        established: set[int] = set()
        still_open = [t for t in open_tasks if not t.done]
        try:
            established = {id(t) for t in await bulk(due, still_open)}  # type: ignore[misc]
        except WHOLE_CALL_ERRORS as exc:
            fatal.append(exc)
            return
        except KitError as exc:
            log.info("bulk status read failed, reading tasks one by one: %s", exc.message)
        finally:
            bulk_busy = False
            wake.set()
        due_ids = {id(t) for t in due}
        for task in still_open:
            if id(task) in established:
                reads[id(task)] += 1
                settle(task)
                if not task.done:
                    push(task)
            elif id(task) in due_ids:
                launch(read(task))

    def launch(coro: Awaitable[None]) -> None:
        job = asyncio.ensure_future(coro)
        inflight.add(job)
        job.add_done_callback(inflight.discard)

    emit()
    last_emit = loop.time()
    try:
        while heap or inflight:
            now = loop.time()
            due: list[Task] = []
            while heap and heap[0][0] <= now and heap[0][0] <= deadline:
                _, ticket, task = heapq.heappop(heap)
                if task.done or token.get(id(task)) != ticket:  # finished, or read meanwhile
                    continue
                hold = too_young(task)  # the batch taught us it cannot be done yet
                if hold > 0:
                    token[id(task)] = ticket = next(order)
                    heapq.heappush(heap, (now + hold / scale, ticket, task))
                    continue
                due.append(task)
            if bulk is not None and due and not bulk_busy and open_count >= bulk_min:
                launch(read_many(due))
            elif bulk is not None and due and bulk_busy:
                for task in due:  # a bulk read is under way: it will cover these too
                    push(task)
            else:
                for task in due:
                    launch(read(task))
            if fatal:
                break
            if not heap and not inflight:
                break
            next_due = heap[0][0] if heap else math.inf
            if now >= deadline or (next_due > deadline and not inflight):
                break
            wait = min(next_due, deadline) - now
            try:
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, min(wait, tick)))
            except asyncio.TimeoutError:
                pass
            wake.clear()
            if loop.time() - last_emit >= tick:  # counting 10,000 tasks on every wake is waste
                last_emit = loop.time()
                emit()
    finally:
        for job in list(inflight):
            job.cancel()
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)

    if fatal:
        emit(finished=True, extra=["stopped"])
        raise fatal[0]
    timed_out = [t for t in tasks if not t.done and t.id is not None]
    if timed_out:
        waited = (timeout or 0)
        for task in timed_out:
            task.error = (
                f"still {task.status.value} when kit stopped waiting after {waited:g} s; "
                "the task may still finish at the service: wait for it again later"
            )
    emit(finished=True, extra=[f"{len(timed_out)} not finished in time"] if timed_out else [])
    return list(tasks)
