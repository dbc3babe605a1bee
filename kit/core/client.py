"""The base every service client stands on: settings, one HTTP engine, waiting, context manager."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import math
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import aiohttp

from .clock import ServiceClock
from .config import resolve
from .errors import (
    InvalidRequest,
    KitError,
    NotFound,
    WholeCallError,
    WorkerAway,
    check_timeout,
    is_positive,
)
from .http import DEFAULT_TIMEOUT, Endpoint, ErrorReader, HttpEngine
from .journal import Journal, open_journal
from .pace import Pace
from .policy import PollSchedule, Rate, RetryPolicy
from .poller import LATE, BulkRead, Poller, ProgressSink, StatusReader, display_for, snapshot
from .secrets import Secret
from .spec import ServiceSpec
from .task import Status, Task
from .wording import nothing_picked_up

# Set by a job runner (kit.core.jobs) for its run: takes a journal write to do in order in its
# writer thread, so that a journal locked by another process never stalls the event loop.
journal_later: ContextVar[Callable[[Callable[[], Any]], None] | None] = ContextVar(
    "journal_later", default=None)

# Service seconds a blocking call waits while the worker picks nothing up (OutX's docs give up
# on a task after 2-3 minutes; a closed laptop lid is worth a longer wait, not a night's).
PATIENCE = 900.0


def check_patience(patience: Any, label: str) -> float | None:
    """``patience`` as service seconds (None: the call's default); a clear error otherwise."""
    if patience is not None and not is_positive(patience, infinite=True):
        raise InvalidRequest(f"{label}: patience must be a positive number of seconds "
                             f"(math.inf: wait as long as it takes), not {patience!r:.40}.",
                             service=label)
    return None if patience is None else float(patience)


class ServiceClient:
    """Shared part of ``kit.OutX``, ``kit.Linkup`` and ``kit.Agora``.

    A client holds one aiohttp session, opened on first use and closed by ``async with`` or
    :meth:`close`.  Keys come from ``api_key``, a running :class:`kit.Sandbox`, or the
    environment; they are kept as :class:`~kit.core.secrets.Secret` and shown nowhere.
    """

    spec: ClassVar[ServiceSpec]
    errors: ClassVar[ErrorReader] = ErrorReader()

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        http_timeout: aiohttp.ClientTimeout | float | None = None,
        poll: PollSchedule | None = None,
        time_scale: float | None = None,
        journal: Journal | str | os.PathLike[str] | bool | None = None,
        pace: Pace | None = None,
        patience: float | None = None,
    ) -> None:
        spec = self.spec
        settings = resolve(
            spec.name,
            label=spec.label,
            api_key=api_key,
            base_url=base_url,
            default_origin=spec.origin,
            time_scale=time_scale,
        )
        self._key = settings.key
        self.base_url = settings.base_url
        self.clock = ServiceClock(settings.time_scale)  # converts every interval kit reads
        if pace is not None and not isinstance(pace, Pace):
            raise InvalidRequest(f"{spec.label}: pace must be a kit.Pace, such as "
                                 f"kit.Pace(per_hour=50, per_minute=5), not {pace!r}.",
                                 service=spec.label)
        self.pace = pace if pace is not None else spec.pace
        # Service seconds to wait while the service's worker picks nothing up (None: the
        # call's default: a blocking call gives up resumably after PATIENCE, a background job
        # waits as long as it takes; math.inf: never give up).
        self.patience = check_patience(patience, spec.label)
        self._create_lock = asyncio.Lock()  # direct creates, one at a time under a pending limit
        self.schedule = poll or spec.schedule
        self._poll_override = poll
        self.journal = open_journal(settings.journal if journal is None else journal)
        self._journaled: dict[str, tuple[str, str | None]] = {}
        self._memory: Journal | None = None  # stands in for the journal when there is none
        self._fingerprint: str | None = None
        if self.journal is not None:  # an older journal's rows of this key, under its digest now
            self.journal.rekey(self._key.legacy_fingerprint, self.key_fingerprint)
        if http_timeout is not None and not isinstance(http_timeout, aiohttp.ClientTimeout):
            if not is_positive(http_timeout):
                raise InvalidRequest(f"{spec.label}: http_timeout must be a positive number of "
                                     f"seconds per request, not {http_timeout!r:.40}.",
                                     service=spec.label)
            http_timeout = aiohttp.ClientTimeout(total=float(http_timeout))
        self.http = HttpEngine(spec, base_url=self.base_url, key=self._key, errors=self.errors,
                               retry=retry or spec.retry, timeout=http_timeout or DEFAULT_TIMEOUT,
                               clock=self.clock)

    # -- identity ---------------------------------------------------------------------------
    @property
    def key_fingerprint(self) -> str:
        """A digest that tells keys apart in the journal (keyed by its salt); never the key."""
        if self._fingerprint is None:
            self._fingerprint = self._key.fingerprint(self.book.salt)
        return self._fingerprint

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<hidden>)"

    # -- lifetime ---------------------------------------------------------------------------
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()

    # -- journal ----------------------------------------------------------------------------
    def _record(self, tasks: Sequence[Task]) -> None:
        """Write new or changed tasks to the journal (before a create returns to its caller;
        inside a job, handed in order to its writer thread: see :data:`journal_later`)."""
        if self.journal is None:
            return
        changed = [t for t in tasks if t.id and self._journaled.get(t.id) != (t.status.value, t.error)]
        if not changed:
            return
        later = journal_later.get()
        if later is None:
            self.journal.record_many(changed, origin=self.base_url, key_fp=self.key_fingerprint)
        else:  # copies: the loop goes on changing the tasks while the thread writes them
            later(functools.partial(self.journal.record_many, [copy.copy(t) for t in changed],
                                    origin=self.base_url, key_fp=self.key_fingerprint))
        self.remember(changed)

    @property
    def book(self) -> Journal:
        """Where this client's jobs and pace are kept: the journal, or with ``journal=False``
        one in memory (this client's alone, gone with it)."""
        if self.journal is not None:
            return self.journal
        if self._memory is None:
            self._memory = Journal(":memory:")
        return self._memory

    def remember(self, tasks: Iterable[Task]) -> None:
        """Note the journal's state of ``tasks``, so that only real changes are written again."""
        for t in tasks:
            if t.id:
                self._journaled[t.id] = (t.status.value, t.error)

    def not_waited(self, task: Task) -> str | None:
        """Why waiting for ``task`` is useless, or None (Agora: an unconfirmed task never moves
        on its own; a suggestion never completes)."""
        return None

    def late(self, tasks: Iterable[Task]) -> int:
        """How many of ``tasks`` kit stopped waiting for while they could still finish (not
        those nothing will move, such as an unconfirmed deep dive)."""
        return sum(1 for t in tasks if not t.done and t.id is not None
                   and self.not_waited(t) is None)

    def _waited(self, tasks: Iterable[Task]) -> list[Task]:
        """The tasks worth waiting for; the others get a note saying why they are not."""
        waited = []
        for task in tasks:
            reason = None if task.done else self.not_waited(task)
            if reason is None:
                waited.append(task)
            else:
                task.note = task.note or reason
        return waited

    async def resume(self, *, timeout: float | None = None, progress: Any = None,
                     skip: Iterable[str] = ()) -> list[Task]:
        """Finish what the journal holds unfinished for this key and origin (but the ids in
        ``skip``); creates nothing."""
        if self.journal is None:
            return []
        skipped = set(skip)
        tasks = [t for t in self.journal.unfinished(self.spec.name, self.base_url,
                                                    self.key_fingerprint) if t.id not in skipped]
        if not tasks:
            return []
        self.remember(tasks)
        await self.wait(self._waited(tasks), timeout=timeout, progress=progress,
                        label=f"{self.spec.label} resume")
        return tasks

    @property
    def time_scale(self) -> float:
        """How many times faster than ours the service's clock runs (a sandbox's ``speed``)."""
        return self.clock.scale

    # -- pace -------------------------------------------------------------------------------
    @property
    def budget(self) -> tuple[str, str, str]:
        """The journal's key of this team's pace: (service, key fingerprint, bucket)."""
        return (self.spec.name, self.key_fingerprint, "create")

    @property
    def pending_limit(self) -> int | None:
        """How many of the team's tasks may wait for the service's worker before the next
        create is held back (the pace's ``pending``; None where no worker picks tasks up)."""
        return self.pace.pending if self.pace is not None and self.spec.worker else None

    def patience_for(self, blocking: bool, stored: float | None = None) -> float | None:
        """Service seconds a run goes on while the worker picks nothing up (None: as long as
        it takes): this client's ``patience``, else the job's ``stored`` one, else
        :data:`PATIENCE` for a caller that blocks and no limit for a background job."""
        chosen = self.patience if self.patience is not None else stored
        if chosen is None:
            chosen = PATIENCE if blocking else math.inf
        return None if math.isinf(chosen) else chosen

    def waiting_for_worker(self, task: Task) -> bool:
        """Is ``task`` created and still waiting for the service's worker to pick it up?"""
        return self.spec.worker is not None and task.id is not None and (
            task.status is Status.PENDING)

    async def read_waiting(self, tasks: Iterable[Task]) -> None:
        """Read tasks that hold the team's next create back (another job's, a direct create's)
        and journal what they are now; one the service does not know waits for nothing.  An
        error about the whole call (a key, the extension's 403) is raised; others are left for
        the next look."""
        for task in tasks:
            try:
                await self._refresh(task)
            except NotFound as exc:
                task.status, task.error = Status.FAILED, exc.message
            except WholeCallError:
                raise
            except KitError:
                continue
            self._record([task])

    @asynccontextmanager
    async def _direct_create(self, kind: str) -> AsyncIterator[None]:
        """Around a direct create of ``kind`` (a job spends its slot when it claims an input):
        wait for the pace's slot and spend it, and where a worker picks tasks up, for fewer
        than ``pace.pending`` of the team's tasks to wait (reading them meanwhile: reads are
        not actions; ``WorkerAway`` after ``patience``).  One create of this client at a time
        while a pending limit holds, until its task is journaled: the next one counts it."""
        if self.pace is None or not self.pace.limited:
            yield
            return
        limit = self.pending_limit
        async with self._create_lock if limit is not None else contextlib.nullcontext():
            patience = self.patience_for(blocking=True)
            action = self.spec.action_of(kind)
            started = self.clock.now()
            while True:
                wait, waiting = self.book.spend(self.budget, self.pace, self.clock, action,
                                                origin=self.base_url, pending_limit=limit)
                if wait <= 0:
                    break
                if waiting:
                    found = self.book.pickups(self.spec.name, self.base_url,
                                              self.key_fingerprint, self.clock)
                    stalled = found.stalled(self.clock) or 0.0
                    waited = self.clock.service(self.clock.now() - started)
                    if patience is not None and min(stalled, waited) > patience:
                        raise WorkerAway(nothing_picked_up(
                            self.spec.worker or "", self.spec.worker_hint, stalled)
                            + " Nothing was sent.", service=self.spec.label)
                    await self.read_waiting(self.book.tasks_by_id(found.ids).values())
                await self.clock.sleep(min(wait, 30.0))
            yield

    # -- requests ---------------------------------------------------------------------------
    async def _call(self, endpoint: Endpoint, **kwargs: Any) -> Any:
        return await self.http.request(endpoint, **kwargs)

    # -- waiting ----------------------------------------------------------------------------
    async def _refresh(self, task: Task) -> None:  # pragma: no cover - each service sets its own
        raise NotImplementedError

    # A service that can read many tasks in one request sets this (see kit.core.poller).
    _bulk_refresh: BulkRead | None = None
    # The paced rate of one-task status reads, when there is no bulk read: a default wait then
    # allows for reading every task twice at that rate (10,000 OutX tasks: 400 s of reads).
    status_rate: ClassVar[Rate | None] = None

    def _schedule_for(self, task: Task) -> PollSchedule:
        """When to read ``task`` again; services with task types of different speeds override."""
        return self.schedule

    def _default_timeout(self, tasks: Sequence[Task]) -> float | None:
        """The longest wait any of ``tasks`` needs by its schedule (None: no limit)."""
        timeouts = [self._schedule_for(t).timeout for t in tasks] or [self.schedule.timeout]
        return None if None in timeouts else max(t for t in timeouts if t is not None)

    def status_reader(self, *, patient: bool = False) -> StatusReader:
        """How the poller reads this client's tasks; ``patient``: a task still waiting for the
        service's worker is not given up on (a job's reads)."""
        cadence = self._schedule_for
        if self._poll_override is not None:
            override = self._poll_override
            cadence = lambda task: override  # noqa: E731
        return StatusReader(read_one=self._refresh, cadence=cadence, read_many=self._bulk_refresh,
                            # A poll interval the caller chose is honoured as given: no learning.
                            learn=self.spec.learn and self._poll_override is None,
                            changed=lambda task: self._record([task]),
                            waiting=self.waiting_for_worker if patient else None)

    def default_timeout(self, tasks: Sequence[Task]) -> float | None:
        """The service's default wait for ``tasks`` (service seconds), with time to read each
        once at the paced status rate when there is no bulk read."""
        timeout = self._default_timeout(tasks)
        rate = self.status_rate if self._bulk_refresh is None else None
        if timeout is not None and rate is not None:
            timeout += 2 * sum(1 for t in tasks if not t.done) * rate.period / rate.count
        return timeout

    async def wait(
        self,
        tasks: Iterable[Task],
        *,
        timeout: float | None = None,
        progress: bool | ProgressSink | None = None,
        label: str | None = None,
    ) -> list[Task]:
        """Poll until every task is final or ``timeout`` seconds pass; return the tasks.

        ``timeout=None`` uses the service's default (OutX: 180 s, as its docs advise; Linkup:
        10 min, an hour with research tasks; Agora: an hour);
        ``math.inf`` waits without limit.  One task's failure never raises: it is that task's
        ``status`` and ``error``; a task still open at the end keeps its status and gets a
        ``note`` saying kit stopped waiting.  ``progress``: ``None`` shows a widget in a notebook
        and a text line elsewhere, ``False`` shows nothing, or pass your own sink.
        """
        task_list: Sequence[Task] = list(tasks)
        for t in task_list:
            if not isinstance(t, Task):
                raise TypeError(f"wait() takes kit.Task objects, got {type(t).__name__}")
        if timeout is None:
            timeout = self.default_timeout(task_list)
        check_timeout(timeout, f"{self.spec.label} wait()")
        if label is None:
            kinds = {t.kind for t in task_list}
            label = f"{self.spec.label} {kinds.pop()}" if len(kinds) == 1 else self.spec.label
        sink = display_for(progress, label, len(task_list))
        poller = Poller(self.status_reader(), clock=self.clock,
                        concurrency=self.spec.poll_concurrency)
        started = self.clock.now()
        poller.on_tick = lambda: sink.update(snapshot(label, task_list, self.clock.now() - started))
        for task in self._waited(task_list):
            poller.add(task, timeout)
        poller.close()
        sink.update(snapshot(label, task_list, 0.0))
        try:
            await poller.run()
        except KitError:
            sink.close(snapshot(label, task_list, self.clock.now() - started, True, ["stopped"]))
            raise
        unfinished = self.late(task_list)
        sink.close(snapshot(label, task_list, self.clock.now() - started, True,
                            [f"{unfinished} {LATE}"] if unfinished else []))
        return list(task_list)

    # -- jobs -------------------------------------------------------------------------------
    async def send(self, items: list[tuple[str, dict[str, Any]]], options: dict[str, Any]
                   ) -> list[Task | KitError]:
        """Create the tasks of a job's claimed inputs ``(kind, input)``, one result per input:
        its task, or the error that refused it.  An error about the whole call raises, with
        ``tasks`` set to what was created before it (aligned with ``items``)."""
        raise NotImplementedError  # pragma: no cover - each service sets its own

    async def adopt(self, task: Task, options: dict[str, Any]) -> None:
        """A job takes on an earlier task (reused, or found after a restart): bring it to where
        the job's options want it (Agora confirms one that awaits confirmation)."""

    async def find_created(self, kind: str, task_input: dict[str, Any], sent_at: float
                           ) -> Task | None:
        """After a create whose answer was lost (sent at ``sent_at``, Unix seconds): the task
        the service made for it, if its list shows one; ``None`` if it shows none.  Raises
        ``KitError`` when the service cannot be asked (OutX has no list at all): the input then
        stays 'may exist'."""
        raise KitError(f"{self.spec.label} has no task list to look a lost create up in",
                       service=self.spec.label)
