"""Jobs: a helper call's work, kept in the journal, run in the background of the kernel.

Every helper call is a job: its inputs are written to the journal before any request, then sent
at the service's pace and polled as they are created (:mod:`kit.core.jobs`), on a loop of its own
in a worker thread.  ``wait=True`` blocks until the job ends; ``wait=False`` hands back a
:class:`Job` at once.  After a restart, :func:`resume` carries unfinished jobs on.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import frames
from .core.client import ServiceClient
from .core.config import active_target
from .core.errors import AuthenticationError, InvalidRequest, WholeCallError
from .core.jobs import JobRunner, placeholder
from .core.journal import CANCELLED, DONE, RUNNING, STOPPED, Journal, open_journal
from .core.pace import Pace
from .core.poller import ProgressEvent, ProgressSink
from .core.task import Status, Task
from .progress import NullProgress, TextProgress, WidgetProgress, in_notebook, make_progress
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import OutX

CLIENTS: dict[str, type[ServiceClient]] = {"outx": OutX, "linkup": Linkup, "agora": Agora}
# How each helper's rows become its frame: a stored job is rebuilt with the same function.
FRAMES: dict[str, Callable[[list[tuple[Any, Task]]], pd.DataFrame]] = {
    "profiles": frames.profiles_frame,
    "posts": frames.posts_frame,
    "search": frames.answers_frame,
    "research": frames.answers_frame,
    "fetch_pages": frames.pages_frame,
    "deep_dives": frames.deep_dives_frame,
}


@dataclass
class JobPlan:
    """What a helper asks for: one row per input (its value, the position of its distinct
    request, or why it was refused) and the distinct requests ``(kind, input)``."""

    helper: str
    label: str
    rows: list[tuple[Any, int | None, str | None]]
    items: list[tuple[str, dict[str, Any]]]
    options: dict[str, Any] = field(default_factory=dict)  # timeout, fresh, confirm, pace


def pace_options(pace: Pace | None) -> dict[str, Any] | None:
    if pace is None:
        return None
    return {"per_hour": pace.per_hour, "per_minute": pace.per_minute, "per_day": pace.per_day,
            "jitter": pace.jitter}


class Job:
    """A helper call's work: in the journal, running in the background until done.

    ``job.frame()`` is one row per input at any moment (unfinished rows say ``queued`` or
    ``pending``); ``job.wait()`` blocks and returns the final frame; ``job.cancel()`` stops
    sending (what was created stays in the journal); displaying ``job`` in a notebook shows a
    live progress bar with counts, the pace and when the last create goes out.
    """

    def __init__(self, journal: Journal, job_id: str, make_client: Callable[[], ServiceClient]
                 ) -> None:
        record = journal.job(job_id)
        if record is None:
            raise InvalidRequest(f"the journal {journal.path} has no job {job_id!r}; "
                                 "kit.jobs() lists them.")
        self.id = job_id
        self.journal = journal
        self._record = record
        self._make_client = make_client
        self._sinks: list[ProgressSink] = []
        self._runner: JobRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._ending: str = STOPPED  # the state a stop leaves: stopped (resumable) or cancelled
        self._stop_requested = False
        self._final: ProgressEvent | None = None

    # -- what it is ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return str(self._record["label"])

    @property
    def state(self) -> str:
        """``running``, ``stopped`` (resumable), ``cancelled`` or ``done``."""
        record = self.journal.job(self.id)
        return str(record["state"]) if record else self._record["state"]

    @property
    def done(self) -> bool:
        """Finished for good: every input settled, or cancelled (a stopped job is resumable)."""
        return self.state in (DONE, CANCELLED)

    def _tasks(self) -> list[Task]:
        """Each distinct input's task now (placeholders for those without one)."""
        runner = self._runner
        if runner is not None:
            return [runner.task_of(p) for p in sorted(runner.items)]
        items = self.journal.items(self.id)
        known = self.journal.tasks_by_id(i["task_id"] for i in items if i["task_id"])
        return [known.get(i["task_id"] or "") or placeholder(self._record["service"], i)
                for i in items]

    def _unsent_reason(self) -> str | None:
        """Why the queued inputs of a stopped job were not sent (its whole-call error)."""
        record = self.journal.job(self.id)
        error = record["error"] if record else None
        return f"not sent: {error} kit.resume() sends them later." if error else None

    def frame(self) -> pd.DataFrame:
        """One row per input, now, in input order (the helper's columns)."""
        tasks = self._tasks()
        reason = self._unsent_reason() if self._finished.is_set() or self._thread is None else None
        if reason:
            for task in tasks:
                if task.status is Status.QUEUED:
                    task.error = reason
        service = self._record["service"]
        pairs: list[tuple[Any, Task]] = []
        for value, position, refused in self._record["rows"]:
            if position is None:
                pairs.append((value, Task(service=service, id=None, kind="invalid",
                                          status=Status.FAILED, error=refused)))
            else:
                pairs.append((value, tasks[position]))
        return FRAMES[self._record["helper"]](pairs)

    def progress(self) -> ProgressEvent:
        if self._runner is not None:
            return self._runner.progress(finished=self._finished.is_set())
        tasks = self._tasks()
        event = ProgressEvent(self.label, len(tasks), finished=True)
        event.counts.update(t.status.value for t in tasks)
        return event

    def __repr__(self) -> str:
        event = self.progress()
        return f"<kit.Job {self.id} {self.label}: {event.done}/{event.total} done, {self.state}>"

    def _ipython_display_(self) -> None:
        """A live progress bar in the cell that shows the job (updated from its thread)."""
        sink = WidgetProgress(self.label, self.progress().total) if in_notebook() else TextProgress()
        if self._finished.is_set() or self._thread is None:
            sink.close(self.progress())
            return
        self._sinks.append(sink)
        sink.update(self.progress())

    # -- running ---------------------------------------------------------------------------
    def start(self, progress: ProgressSink | None = None) -> Job:
        """Run the job in a worker thread of its own (its output lands where it was started)."""
        if self._thread is not None:
            return self
        if progress is not None:
            self._sinks.append(progress)
        self.journal.set_job_state(self.id, RUNNING)
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._main,), daemon=True,
                                        name=f"kit-job-{self.id}")
        self._thread.start()
        return self

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._run())
        except BaseException as exc:  # handed to whoever waits
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                self._finished.set()

    async def _run(self) -> None:
        options = self._record["options"]
        async with self._make_client() as client:
            runner = self._runner = JobRunner(
                client, self.journal, self.id, timeout=options.get("timeout"),
                fresh_since=options.get("fresh_since"), options=options, report=self._report)
            if self._stop_requested:
                runner.stop()
            notes: list[str] = []
            try:
                await runner.run()
            except WholeCallError as exc:
                self.journal.set_job_state(self.id, STOPPED, exc.message)
                notes.append("stopped: " + exc.message[:120])
                raise
            finally:
                if runner.stopped and self._error is None and not notes:
                    notes.append(self._stop_note(runner))
                self._final = self.progress_final(runner, notes)
                for sink in list(self._sinks):
                    sink.close(self._final)
            if runner.settled:
                self.journal.set_job_state(self.id, DONE)
            elif runner.stopped:
                self.journal.set_job_state(self.id, self._ending)
            else:  # some tasks outlived their wait: resume reads them again
                self.journal.set_job_state(self.id, STOPPED)

    def progress_final(self, runner: JobRunner, notes: list[str]) -> ProgressEvent:
        open_tasks = sum(1 for p in runner.items if not runner.task_of(p).done)
        if open_tasks and not notes:
            notes = [f"{open_tasks} not finished in time: kit.resume() reads them again"]
        return runner.progress(finished=True, notes=notes)

    def _stop_note(self, runner: JobRunner) -> str:
        created = sum(1 for r in runner.items.values() if r["task_id"])
        if self._ending == CANCELLED:
            return f"cancelled: {created} created are in the journal"
        return (f"stopped: {created} created are in the journal (job {self.id}); "
                "kit.resume() or `kit resume` carries on")

    def _settle_displays(self) -> None:
        """Close the widgets again from the caller's thread (the cell now running).  The job's
        own thread closed them already, which a live front end shows; nbconvert and nbclient
        apply a display update only from the cell that is running."""
        if self._final is None:
            return
        for sink in self._sinks:
            if isinstance(sink, WidgetProgress):
                sink.close(self._final)

    def _report(self, event: ProgressEvent) -> None:
        for sink in list(self._sinks):
            sink.update(event)

    def stop(self, state: str = STOPPED) -> None:
        """Stop sending and polling, and return once stopped.  The job stays resumable: what
        was sent is in the journal, and ``kit.resume()`` (or ``job.wait()``) carries it on."""
        self._ending = state
        self._stop_requested = True  # seen by a job that has not made its runner yet
        loop, runner = self._loop, self._runner
        if loop is not None and runner is not None and not self._finished.is_set():
            try:
                loop.call_soon_threadsafe(runner.stop)
            except RuntimeError:  # the loop just closed: the job is over anyway
                pass
        if self._thread is None:
            self.journal.set_job_state(self.id, state)
        elif threading.current_thread() is not self._thread:
            self._finished.wait()
            self._settle_displays()

    def cancel(self) -> None:
        """Stop creating (and waiting); what was created stays in the journal.  A cancelled
        job is not carried on by ``kit.resume()``."""
        self.stop(CANCELLED)
        self.journal.set_job_state(self.id, CANCELLED)

    def wait(self, timeout: float | None = None, *, progress: Any = None) -> pd.DataFrame:
        """Block until the job ends (or ``timeout`` real seconds pass) and return its frame.

        Interrupting (Ctrl-C, the kernel's stop button) stops only the waiting: the job goes
        on in the background.  An error about the whole call (key, permission, credits) is
        raised with the frame as ``error.frame``.
        """
        if self._thread is None and self.state in (RUNNING, STOPPED):
            self.start()  # a job reopened from the journal: carry it on
        if progress is not False and not self._sinks and not self._finished.is_set():
            self._sinks.append(make_progress(progress, self.label, self.progress().total))
        deadline = math.inf if timeout is None else timeout
        waited = 0.0
        while not self._finished.wait(0.1):
            waited += 0.1
            if waited >= deadline:
                return self.frame()
        return self._outcome()

    def _outcome(self) -> pd.DataFrame:
        self._settle_displays()
        df = self.frame()
        if isinstance(self._error, WholeCallError):
            self._error.frame = df
            raise self._error
        if self._error is not None:
            raise self._error
        return df

    def run_blocking(self) -> pd.DataFrame:
        """The helpers' ``wait=True``: block; an interrupt stops the job (resumable) and says
        how to carry on."""
        try:
            while not self._finished.wait(0.1):
                pass
        except KeyboardInterrupt:
            self.stop()
            print(f"kit: {self._stop_note(self._runner) if self._runner else 'stopped'}",
                  file=sys.stderr)
            raise
        return self._outcome()


# -- starting and resuming ---------------------------------------------------------------------
def start_job(client: ServiceClient, plan: JobPlan, *, wait: bool, progress: Any,
              make_client: Callable[[], ServiceClient]) -> pd.DataFrame | Job:
    """Write the job to the journal (before any request), start it, and wait or hand it back."""
    journal = client.journal or Journal(":memory:")
    options = dict(plan.options)
    job_id = journal.add_job(helper=plan.helper, service=client.spec.name, origin=client.base_url,
                             key_fp=client.key_fingerprint, label=plan.label, options=options,
                             rows=[list(r) for r in plan.rows], items=plan.items)
    if options.get("fresh"):
        record = journal.job(job_id)
        assert record is not None
        options["fresh_since"] = record["created_at"]
        journal.set_job_options(job_id, options)
    job = Job(journal, job_id, make_client)
    if not wait:
        return job.start(NullProgress() if progress is False else None)
    sink = make_progress(progress, plan.label, len(plan.items))
    return job.start(sink).run_blocking()


def _journal_for(journal: Any) -> Journal:
    if journal is None:
        target = active_target()
        journal = target.journal if target is not None else None
    book = open_journal(journal if journal is not None else True)
    assert book is not None
    return book


def _client_factory(record: dict[str, Any], client_options: dict[str, Any]
                    ) -> Callable[[], ServiceClient]:
    """A client for a stored job: its service and origin, the key at hand, its pace."""
    cls = CLIENTS[record["service"]]
    options = {"base_url": record["origin"], **client_options}
    pace = record["options"].get("pace")
    if "pace" not in options and pace is not None and record["service"] == "outx":
        options["pace"] = Pace(**pace)
    return lambda: cls(**options)


def open_jobs(journal: Journal, *, api_key: str | None, client_options: dict[str, Any],
              services: Sequence[str] | None = None) -> tuple[list[Job], list[str]]:
    """The journal's unfinished jobs that the key at hand can carry on, and notes on the rest."""
    jobs: list[Job] = []
    notes: list[str] = []
    for row in journal.jobs():
        if row["state"] not in (RUNNING, STOPPED):
            continue
        if services is not None and row["service"] not in services:
            continue
        record = journal.job(row["job_id"])
        assert record is not None
        options = dict(client_options, journal=journal)
        if api_key is not None:
            options["api_key"] = api_key
        factory = _client_factory(record, options)
        try:
            probe = factory()
        except AuthenticationError:
            notes.append(f"job {row['job_id']} ({row['label']}): no {row['service']} key here")
            continue
        if probe.key_fingerprint != row["key_fp"]:
            notes.append(f"job {row['job_id']} ({row['label']}) belongs to another key")
            continue
        jobs.append(Job(journal, row["job_id"], factory))
    return jobs, notes
