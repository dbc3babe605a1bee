"""The job scheduler: sends a job's queued inputs at the service's pace and polls each task from
the moment it exists, so that creation, confirmation and polling overlap.

The journal is the queue (:mod:`kit.core.journal`): every input is claimed there before its
request goes out, so a job survives its process and two processes never send one input twice.
This module knows no pandas and no display: it reports progress events to a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .client import ServiceClient, journal_later
from .errors import JournalError, KitError, RateLimited, WholeCallError
from .http import before_create
from .journal import (
    CLAIMED,
    CREATED,
    FAILED,
    MAY_EXIST,
    QUEUED,
    SENDING,
    UNKNOWN,
    Journal,
)
from .pace import Pace
from .poller import WAITING_INTERVAL, Poller, ProgressEvent
from .task import Status, Task
from .wording import format_seconds, nothing_picked_up

REPORT_EVERY = 0.1  # real seconds between progress reports from the poller's ticks
# Real seconds between looks at the journal's pick-ups: twice a second, or every 30 service
# seconds on a faster clock (patience is kept to about that).
WORKER_CHECK_EVERY = 0.5
WORKER_CHECK_SERVICE = 30.0
ETA_EVERY = 2.0  # real seconds between two ETA simulations
ETA_SIMULATED = 5000  # queued inputs an ETA simulates one by one
ELSEWHERE_CHECK = 0.5  # real seconds between looks at inputs another process has under way


# What a row whose request went out, and whose answer is not in (yet), says.
SENT_UNANSWERED = ("its request went out and its answer is not in the journal: it may exist, so "
                   "kit never sends it again on its own; kit.resume() looks it up (in this "
                   "process's memory, the journal, the service's list where it has one)")


def _run_all(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
    for call, args in calls:
        call(*args)


def placeholder_status(item: dict[str, Any]) -> Status:
    """The status of an input without a task (yet): queued (also while its request is out, as
    nothing is created until the answer says so), failed, or may exist."""
    return {FAILED: Status.FAILED, UNKNOWN: Status.UNKNOWN}.get(item["state"], Status.QUEUED)


def placeholder(service: str, item: dict[str, Any]) -> Task:
    """The task shown for an input that has none (yet): see :func:`placeholder_status`."""
    status = placeholder_status(item)
    task = Task(service=service, id=item["task_id"], kind=item["kind"], status=status,
                input=item["input"])
    if item["state"] == SENDING and not item["error"]:
        task.note = SENT_UNANSWERED
    elif status is Status.FAILED:
        task.error = item["error"]  # the service's refusal
    else:
        task.note = item["error"]  # kit's remark: it may exist, or why it was not sent
    return task


class JobRunner:
    """Runs one job of a journal to its end (or until stopped) with one service client.

    ``timeout``: service seconds to wait for each task after it is created, or where a worker
    picks tasks up (OutX's Chrome extension) after it is picked up (None: the service's
    default).  ``patience``: service seconds to go on while the worker picks nothing up, then
    stop resumably (None: as long as it takes).  ``options``: the service's own send options
    (Agora's ``confirm``).
    """

    def __init__(self, client: ServiceClient, journal: Journal, job_id: str, *,
                 timeout: float | None = None, fresh_since: str | None = None,
                 options: dict[str, Any] | None = None, patience: float | None = None,
                 report: Callable[[ProgressEvent], None] | None = None) -> None:
        self.client = client
        self.journal = journal
        self.job_id = job_id
        self.timeout = timeout
        self.fresh_since = fresh_since
        self.options = options or {}
        self.report = report
        job = journal.job(job_id)
        if job is None:
            raise KitError(f"the journal has no job {job_id!r}")
        self.label = job["label"]
        self.items = {row["position"]: row for row in journal.items(job_id)}
        self.tasks: dict[str, Task] = journal.tasks_by_id(
            r["task_id"] for r in self.items.values() if r["task_id"])
        reader = client.status_reader(patient=True)
        self.poller = Poller(replace(reader, changed=self._changed(reader.changed)),
                             clock=client.clock, concurrency=client.spec.poll_concurrency)
        self.poller.on_tick = self._tick
        self.patience = patience
        self._no_more_sends = asyncio.Event()  # stopped, or an error about the whole call
        self._wake = asyncio.Event()  # the sender waits on it: a stop, or a task picked up
        # The worker (OutX's extension): how many of the team's tasks wait for it when they
        # hold the next create back, what the journal says of its pick-ups, and what a row
        # says when it has taken nothing for long (or why the job gave up on it).
        self._backlog = 0
        self._worker_note: str | None = None
        self.gave_up: str | None = None
        self._foreign_read = -math.inf
        self._waited: set[str] = set()  # tasks seen waiting for the worker, not yet picked up
        self._rng = random.Random()
        self._eta: tuple[float, float, str] | None = None  # (when, real seconds, holdup)
        self._fatal: KitError | None = None  # about the whole call, or the journal
        self._started = client.clock.now()
        self._next_send: float | None = None  # clock instant of the next paced create
        self._last_report = -math.inf
        # Inputs one sender takes at once: one per request, or a few ahead when the pace is
        # lifted (then sent concurrently, so that a burst is not one transaction per create).
        paced = client.pace is not None and client.pace.limited
        self._claim_size = client.spec.batch_size * (1 if paced else client.spec.claim_ahead)
        # Creates under way at once: what the connections hold beside the reads, so that an
        # input marked ``sending`` is a request on the wire, not one waiting for a connection.
        spec = client.spec
        self._requests = asyncio.Semaphore(max(1, spec.max_connections - spec.poll_concurrency))
        self._writes: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._writer: asyncio.Future[None] | None = None

    # -- rows --------------------------------------------------------------------------------
    def task_of(self, position: int) -> Task:
        """The task of input ``position`` now; a placeholder while it has none."""
        item = self.items[position]
        task = self.tasks.get(item["task_id"] or "")
        if task is None:
            return placeholder(self.client.spec.name, item)
        if self._worker_note and self.client.waiting_for_worker(task):
            task.note = self._worker_note  # waiting, not failed: say for what
        return task

    def progress(self, finished: bool = False, notes: list[str] | None = None) -> ProgressEvent:
        """Counts per state, and notes: reuse, the pace, the next create, the ETA of the last."""
        # Counted, not built: a placeholder Task per unsent input made each tick O(n) objects.
        counts: Counter[str] = Counter()
        for item in self.items.values():
            task = self.tasks.get(item["task_id"] or "")
            counts[(task.status if task is not None else placeholder_status(item)).value] += 1
        elapsed = self.client.clock.now() - self._started
        event = ProgressEvent(self.label, len(self.items), counts, elapsed, finished, [])
        reused = sum(1 for r in self.items.values() if r["reused"])
        if reused:
            event.notes.append(f"{reused} reused from journal")
        pace = self.client.pace
        queued = counts.get(Status.QUEUED.value, 0)
        if pace is not None and pace.limited and queued and not finished:
            event.notes.append(self._pace_note(pace))
        if self._worker_note and not finished:
            event.notes.append(self._worker_note)
        event.notes.extend(notes or [])
        return event

    @property
    def worker_note(self) -> str | None:
        """What the rows waiting for the worker say now (None: it is not away)."""
        return self._worker_note

    def _pace_note(self, pace: Pace) -> str:
        """``pace 5/min, 50/h · next create in 41s · all sent in ~3h 10m``, with what holds the
        next create back when it is not the spacing (the extension, a cap, working hours)."""
        clock = self.client.clock
        worker = self.client.spec.worker
        eta, holdup = self._forecast(pace)
        if self._backlog:
            upcoming = f"next create once {worker} picks up the last"
        else:
            wait = 0.0 if self._next_send is None else max(0.0, self._next_send - clock.now())
            upcoming = f"next create in {format_seconds(wait)}"
            if holdup and clock.service(wait) > 2 * pace.spacing + 1:
                upcoming += f" ({holdup})"
        if self._worker_note:
            return f"{pace.describe()} · {upcoming} · all sent: unknown while {worker} takes nothing"
        return f"{pace.describe()} · {upcoming} · all sent in ~{format_seconds(eta)}"

    def _forecast(self, pace: Pace) -> tuple[float, str]:
        """Real seconds until the last queued input is sent at ``pace`` (its caps and hours,
        and what every process of this team has spent), and what holds the next one back
        now (``""``: the spacing only); simulated every few seconds, not on every redraw."""
        now = time.monotonic()
        if self._eta is not None and now - self._eta[0] < ETA_EVERY:
            return max(0.0, self._eta[1] - (now - self._eta[0])), self._eta[2]
        clock = self.client.clock
        epoch = clock.epoch()
        sent, not_before = self.journal.history(self.client.budget,
                                                epoch - clock.real(pace.longest_window))
        history = [(clock.service(t), action) for t, action in sent]
        kinds = [self.items[p]["kind"] for p in sorted(self.items)
                 if self.items[p]["state"] == QUEUED]
        actions = [self.client.spec.action_of(kind) for kind in kinds]
        # A long queue: its first ETA_SIMULATED sends, and the rest at their rate.
        start = clock.service(epoch)
        last = pace.eta(actions[:ETA_SIMULATED], history, clock.service(not_before), start)
        last = start + (last - start) * max(1.0, len(actions) / ETA_SIMULATED)
        holdup = pace.holdup(history, clock.service(epoch), actions[0]) if actions else ""
        self._eta = (now, clock.real(last - clock.service(epoch)), holdup)
        return self._eta[1], holdup

    def _changed(self, record: Callable[[Task], None] | None) -> Callable[[Task], None]:
        """After each read: journal the task (in a worker thread: a journal locked by another
        process never stalls the reads); when a task that waited for the worker is seen
        picked up, its action counts from then; and wake the sender when it waits for that."""
        def changed(task: Task) -> None:
            if record is not None:  # (handed to the writer thread: see journal_later)
                record(task)
            if self.client.waiting_for_worker(task):
                self._waited.add(task.id or "")
            elif task.id in self._waited:
                self._waited.discard(task.id)
                self._picked_up(task)
            if self._backlog and not self.client.waiting_for_worker(task):
                self._wake.set()
        return changed

    def _picked_up(self, task: Task) -> None:
        """A task of this job that waited (a night, a busy extension) was just seen picked up:
        LinkedIn saw its action now, so the pace counts it from now."""
        position = next((p for p, item in self.items.items() if item["task_id"] == task.id), None)
        pace = self.client.pace
        if position is None or pace is None or not pace.limited:
            return
        clock = self.client.clock
        self._later(self.journal.moved_to_pickup, self.job_id, position, clock.epoch(),
                    clock.real(pace.gap(self._rng)))

    def _later(self, write: Callable[..., Any], *args: Any) -> None:
        """A journal write of this run's (the reads', the clients' own through
        :data:`journal_later`), done in order in a worker thread."""
        self._writes.append((write, args))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        """Do the writes :meth:`_later` queued, in order, off the event loop."""
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                await asyncio.to_thread(_run_all, batch)
            except JournalError as exc:  # nothing more may go out unjournaled: stop, say why
                self._fatal = self._fatal or exc
                self.stop()
                return

    async def _watch_worker(self) -> None:
        """Look at what the team's worker is doing, from the journal (every process's reads),
        twice a real second or every 30 service seconds on a faster clock: say so when it has
        taken nothing for long, stop after ``patience``, and read the team's waiting tasks no
        runner here watches (another job's, a process gone)."""
        clock = self.client.clock
        every = max(0.01, min(WORKER_CHECK_EVERY, clock.real(WORKER_CHECK_SERVICE)))
        while await self._check_worker():
            await clock.sleep(every)

    async def _check_worker(self) -> bool:
        """One look (see :meth:`_watch_worker`); False when there is nothing more to look at."""
        client = self.client
        found = self.journal.pickups(client.spec.name, client.base_url, client.key_fingerprint,
                                     client.clock)
        stalled = found.stalled(client.clock)
        # Said once the docs' "check the extension" point has passed (and a real second, so
        # that a sandbox's fast clock does not raise the alarm over one late read).
        quiet = client.spec.schedule.timeout or 0.0
        away = stalled is not None and stalled > quiet and client.clock.real(stalled) > 1.0
        self._worker_note = (nothing_picked_up(client.spec.worker or "", client.spec.worker_hint,
                                               stalled or 0.0) if away else None)
        # Patience counts from this run's start at the earliest: a resume after a night looks
        # before it gives up (the note says how long the extension has really been away).
        watched = client.clock.service(client.clock.now() - self._started)
        if stalled is not None and self.patience is not None and min(stalled, watched) > self.patience:
            # Out of patience: send nothing more and stop reading what waits for the worker;
            # the tasks it picked up are read to their end (a minute at most).
            self.gave_up = self._worker_note
            self._no_more_sends.set()
            self._wake.set()
            self.poller.release(client.waiting_for_worker)
            return False
        others = [i for i in found.ids if i not in self.tasks]
        if others and client.clock.now() - self._foreign_read > client.clock.real(WAITING_INTERVAL):
            self._foreign_read = client.clock.now()
            try:
                await client.read_waiting(self.journal.tasks_by_id(others).values())
            except WholeCallError as exc:  # a key, the extension's 403, no network at all
                self._fatal = self._fatal or exc
                self.stop()
                return False
        return True

    def _tick(self) -> None:
        # Displays redraw ten times a second at most: counting 100,000 inputs on every poller
        # tick was most of a large job's CPU.
        now = time.monotonic()
        if self.report is not None and now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self.report(self.progress())

    # -- running -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop sending and polling; a create under way is let finish, so that its task is
        journaled (what was sent stays in the journal for a resume)."""
        self._no_more_sends.set()
        self._wake.set()
        self.poller.stop()

    @property
    def stopped(self) -> bool:
        """Was sending stopped before the queue ran out (a stop, or a whole-call error)?"""
        return self._no_more_sends.is_set()

    @property
    def settled(self) -> bool:
        """Has every input an outcome: a final task, a refusal, or 'may exist'?"""
        return all(self.task_of(p).done or self.client.not_waited(self.task_of(p)) is not None
                   for p in self.items)

    async def run(self) -> None:
        """Send what is queued, poll what exists; return when all is settled or stopped.

        Whatever ends it, no input is left marked as being sent by this process: an input whose
        request was under way when the run was cut short is left for the next run to look up.
        """
        # The run's journal writes of tasks, the clients' own included, go to the writer thread.
        token = journal_later.set(self._later)
        try:
            await self._run()
        finally:
            journal_later.reset(token)

    async def _run(self) -> None:
        await self._orphans()
        for task in list(self.tasks.values()):
            await self.client.adopt(task, self.options)
            if self.client.waiting_for_worker(task):  # it has waited (a night, a closed lid):
                self._waited.add(task.id or "")  # its pick-up will be when LinkedIn sees it
            self._watch(task)
        poll = asyncio.ensure_future(self.poller.run())
        send = asyncio.ensure_future(self._send_all())
        # The worker's doings matter where it holds creates back or a caller has patience.
        watch = asyncio.ensure_future(self._watch_worker() if self.client.spec.worker and (
            self.client.pending_limit is not None or self.patience is not None)
            else asyncio.sleep(0))
        try:
            # An error about the whole call from either side stops both (a bad key is seen by
            # the poller hours before the last create at OutX's pace).
            await asyncio.wait({poll, send}, return_when=asyncio.FIRST_COMPLETED)
            if not send.done():  # the poller ended first: an error, or a stop
                self.stop()
                await asyncio.gather(send, return_exceptions=True)
                poll.result()  # its error, if any
                if self._fatal is not None:  # (found reading the team's other waiting tasks)
                    raise self._fatal
                return
            await send
            self._collect_others()
            self.poller.close()
            await poll  # what was created is still waited for after a whole-call error
            if self._fatal is not None:
                raise self._fatal
        finally:
            jobs = [send, poll, watch]
            for job in jobs:  # (all over already, unless cut short)
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            if self._writer is not None:  # the reads' last writes, then the journal's word
                await asyncio.gather(self._writer, return_exceptions=True)
            await self._write_all()
            with contextlib.suppress(JournalError):  # (the error that ended the run says so)
                self.journal.release(self.job_id)
            with contextlib.suppress(JournalError):
                self._sync()

    def _sync(self) -> None:
        """Take the journal's word for every input and task at the end: another process
        running this job (a ``kit resume`` in another terminal) may have settled inputs, and
        read tasks further, than this one saw.  Each process's table is then the journal's."""
        self._take_journal_items()
        ids = [r["task_id"] for r in self.items.values() if r["task_id"]]
        for task_id, stored in self.journal.tasks_by_id(ids).items():
            task = self.tasks.get(task_id)
            if task is None:
                self.tasks[task_id] = stored
            elif stored.updated_at > task.updated_at or (
                    stored.status != task.status and stored.done and not task.done):
                task.status, task.service_status = stored.status, stored.service_status
                task.output, task.error = stored.output, stored.error
                task.updated_at = stored.updated_at
                if task.done:
                    task.note = None

    def _collect_others(self) -> None:
        """Inputs another runner of this job (another process) settled: take their tasks on."""
        self._take_journal_items()
        missing = [r["task_id"] for r in self.items.values()
                   if r["task_id"] and r["task_id"] not in self.tasks]
        for task_id, task in self.journal.tasks_by_id(missing).items():
            self.tasks[task_id] = task
            self._watch(task)

    def _take_journal_items(self) -> None:
        """This run's copy of the job's inputs takes the journal's states and task ids, where
        the journal knows more (another process settled them), never less (this run's outcome
        the journal could not be written with)."""
        final = (CREATED, FAILED, UNKNOWN)
        for row in self.journal.items(self.job_id):
            mine = self.items[row["position"]]
            if (mine["task_id"] and not row["task_id"]) or (
                    mine["state"] in final and row["state"] not in final):
                continue
            if (row["state"], row["task_id"]) != (mine["state"], mine["task_id"]):
                mine.update(state=row["state"], task_id=row["task_id"], error=row["error"])

    def _watch(self, task: Task) -> None:
        if task.done or self.client.not_waited(task) is not None:
            return
        if self.gave_up and self.client.waiting_for_worker(task):
            return  # out of patience for the worker: a resume reads it again
        timeout = self.timeout if self.timeout is not None else self.client.default_timeout([task])
        self.poller.add(task, timeout)

    async def _orphans(self) -> None:
        """Inputs a killed process left ``sending``: the task the journal holds for one (its
        answer journaled, the input not yet settled), else the one the service lists.  A list
        may lag a create: what it does not show is looked for again once it has had time to
        settle, then left 'may exist' (OutX has no list: at once).  Never sent again on the
        strength of a list's silence."""
        unseen: list[dict[str, Any]] = []
        for item in self.journal.orphans(self.job_id):
            task = self.journal.created_for(self.job_id, item)
            if task is None:
                task = await self._listed(item)
            if task is not None:
                await self._settle(item["position"], CREATED, task=task)
            elif self.client.spec.list_settles is None:
                await self._settle(item["position"], UNKNOWN, error=self._may_exist())
            else:
                unseen.append(item)
        for item, task in zip(unseen, await self._listed_later(unseen), strict=True):
            if task is None:
                await self._settle(item["position"], UNKNOWN, error=self._may_exist())
            else:
                await self._settle(item["position"], CREATED, task=task)

    async def _listed_later(self, items: list[dict[str, Any]]) -> list[Task | None]:
        """The tasks the service lists for ``items`` once its list has had time to show
        creates sent at their ``sent_at`` (a list can lag a create)."""
        if not items:
            return []
        clock = self.client.clock
        settled_at = max(i.get("sent_at") or 0.0 for i in items) + clock.real(
            self.client.spec.list_settles or 0.0)
        await clock.sleep(max(0.0, settled_at - clock.epoch()))
        return [await self._listed(item) for item in items]

    async def _listed(self, item: dict[str, Any]) -> Task | None:
        """The task the service lists for an input (None: not shown, or no list to ask)."""
        try:
            return await self.client.find_created(item["kind"], item["input"],
                                                  item.get("sent_at") or 0.0)
        except JournalError:
            raise
        except KitError:
            return None

    def _may_exist(self) -> str:
        return MAY_EXIST.format(service=self.client.spec.label)

    async def _settle(self, position: int, state: str, *, task: Task | None = None,
                      error: str | None = None) -> None:
        """An orphan's outcome, with the task it found (journaled together, off the loop)."""
        task_id = task.id if task is not None else None
        await asyncio.to_thread(self.journal.settle_many, self.job_id,
                                [(position, state, task_id, error)],
                                tasks=[task] if task is not None else [],
                                origin=self.client.base_url, key_fp=self.client.key_fingerprint)
        self.items[position].update(state=state, error=error,
                                    task_id=task_id or self.items[position]["task_id"])
        if task is not None and task.id:
            self.tasks[task.id] = task

    async def _adopt(self, settled: list[dict[str, Any]]) -> None:
        """Inputs the journal settled without a send: adopted earlier tasks, or 'may exist'."""
        known = self.journal.tasks_by_id(r["task_id"] for r in settled if r["task_id"])
        for row in settled:
            self.items[row["position"]].update(state=row["state"], task_id=row["task_id"],
                                               error=row["error"], reused=1)
            task = known.get(row["task_id"] or "")
            if task is not None and task.id not in self.tasks:
                self.tasks[task.id] = task  # type: ignore[index]
                await self.client.adopt(task, self.options)  # (Agora: confirm if asked)
                self._watch(task)

    async def _send_all(self) -> None:
        """Several senders; the first error stops the others after their request under way."""
        failures: list[BaseException] = []

        async def sender() -> None:
            try:
                await self._sender()
            except BaseException as exc:
                failures.append(exc)
                self._no_more_sends.set()

        await asyncio.gather(*(sender() for _ in range(max(1, self.client.spec.send_concurrency))))
        if failures:
            raise failures[0]

    async def _sender(self) -> None:
        """Claim (at the pace), send, settle; until nothing is queued or the job stops."""
        client = self.client
        size = client.spec.batch_size
        while not self._no_more_sends.is_set():
            self._wake.clear()
            taken, settled, wait, self._backlog = await asyncio.to_thread(
                self.journal.claim, self.job_id, count=self._claim_size, pace=client.pace,
                budget=client.budget,
                clock=client.clock, fresh_since=self.fresh_since,
                action_of=client.spec.action_of, pending_limit=client.pending_limit)
            await self._adopt(settled)
            if taken:
                self._next_send = None
                for item in taken:
                    self.items[item["position"]].update(state=CLAIMED)
                # One request per batch, each settled the moment its answer arrives.
                sends = await asyncio.gather(*(self._send(taken[i:i + size])
                                               for i in range(0, len(taken), size)),
                                             return_exceptions=True)
                failure = next((r for r in sends if isinstance(r, BaseException)), None)
                if failure is not None:  # (each send ended: none is left running)
                    raise failure
                continue
            # Nothing to take now: done when the journal (not this runner's copy: another
            # process may run this job too) has nothing queued nor under way elsewhere (its
            # inputs may come back queued); else wait for the pace, for a pick-up, or for the
            # input another process is sending.
            if not self.journal.count(self.job_id, QUEUED):
                if not self.journal.in_flight_elsewhere(self.job_id):
                    return
                wait = max(wait, ELSEWHERE_CHECK)
            wait = wait if wait > 0 else 0.1
            self._next_send = client.clock.now() + wait
            await client.clock.wait(self._wake, min(wait, 30.0))

    async def _send(self, taken: list[dict[str, Any]]) -> None:
        """One request's inputs: marked ``sending`` just before its create goes out (after
        any wait for a rate or a queue's room: a kill before that leaves them claimed, never
        sent), settled with their tasks the moment its answer arrives."""
        positions = [t["position"] for t in taken]
        marked = False

        async def leaving() -> None:
            nonlocal marked
            if not marked:  # (once: Agora's confirm is a create of the same input)
                marked = True
                for item in taken:
                    item["sent_at"] = self.client.clock.epoch()
                await asyncio.to_thread(self.journal.mark_sending, self.job_id, positions)
                for position in positions:
                    self.items[position].update(state=SENDING)

        async with self._requests:  # no more requests out at once than connections
            if self._no_more_sends.is_set():  # stopped before this one went: never sent
                await self._settle_outcomes([(p, QUEUED, None, None) for p in positions], [])
                return
            token = before_create.set(leaving)
            try:
                await self._request(taken)
            finally:
                before_create.reset(token)

    async def _request(self, taken: list[dict[str, Any]]) -> None:
        results: list[Task | KitError | None]
        try:
            results = list(await self.client.send([(t["kind"], t["input"]) for t in taken],
                                                  self.options))
        except (WholeCallError, RateLimited) as exc:
            # About the whole call (a key, money, the service asking to slow down even after
            # retries): stop sending.  What was made before it is kept; the rest stays queued
            # (the service refused: it did not act on those) for a resume.
            made = list(exc.tasks or [])
            results = [*made, *([None] * (len(taken) - len(made)))]
            self._fatal = self._fatal or exc
            self._no_more_sends.set()
        except JournalError:  # nothing more may go out unjournaled
            raise
        except KitError as exc:  # about this request: each of its inputs says why
            results = [exc] * len(taken)
        outcomes: list[tuple[int, str, str | None, str | None]] = []
        created: list[Task] = []
        label = self.client.spec.label
        for item, result in zip(taken, results, strict=True):
            position = item["position"]
            if result is None:
                outcomes.append((position, QUEUED, None, None))
            elif isinstance(result, Task) and result.id:
                self.tasks[result.id] = result
                created.append(result)
                outcomes.append((position, CREATED, result.id, None))
            elif isinstance(result, Task):  # looked up after a lost answer: not made, or unknown
                state = UNKNOWN if result.status is Status.UNKNOWN else FAILED
                outcomes.append((position, state, None, result.error))
            elif result.may_have_acted:
                outcomes.append((position, UNKNOWN, None,
                                 f"{result.message} " + MAY_EXIST.format(service=label)))
            else:
                outcomes.append((position, FAILED, None, result.message))
        await self._look_again(taken, outcomes, created)
        await self._settle_outcomes(outcomes, created)

    async def _look_again(self, taken: list[dict[str, Any]],
                          outcomes: list[tuple[int, str, str | None, str | None]],
                          created: list[Task]) -> None:
        """A lost answer the service's list did not show yet: looked for once the list has
        settled, so that a task that was made is delivered, not left 'may exist'."""
        if self.client.spec.list_settles is None:
            return
        lost = [i for i, outcome in enumerate(outcomes) if outcome[1] == UNKNOWN]
        found = await self._listed_later([taken[i] for i in lost])
        for i, task in zip(lost, found, strict=True):
            if task is not None and task.id:
                await self.client.adopt(task, self.options)  # (Agora: confirmed if asked)
                self.tasks[task.id] = task
                created.append(task)
                outcomes[i] = (outcomes[i][0], CREATED, task.id, None)

    async def _settle_outcomes(self, outcomes: list[tuple[int, str, str | None, str | None]],
                               created: list[Task]) -> None:
        """Journal the tasks and their inputs' states in one transaction, then follow them.
        This run's rows say the outcome first: if the journal cannot be written, the table
        the error carries still shows every task made."""
        for position, state, task_id, error in outcomes:
            self.items[position].update(state=state, error=error,
                                        task_id=task_id or self.items[position]["task_id"])
        await asyncio.to_thread(self.journal.settle_many, self.job_id, outcomes, tasks=created,
                                origin=self.client.base_url, key_fp=self.client.key_fingerprint)
        self.client.remember(created)
        for task in created:
            self._watch(task)
        self._eta = None  # the queue changed: forecast again
