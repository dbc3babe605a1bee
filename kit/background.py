"""Jobs: a helper call's work, kept in the journal, run in the background of the kernel.

Every helper call is a job: its inputs are written to the journal before any request, then sent
at the service's pace and polled as they are created (:mod:`kit.core.jobs`), on a loop of its own
in a worker thread.  ``wait=True`` blocks until the job ends; ``wait=False`` hands back a
:class:`Job` at once.  After a restart, :func:`resume` carries unfinished jobs on.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from . import frames
from .core.client import ServiceClient
from .core.config import active_target
from .core.errors import (
    RESUME_HINT,
    AuthenticationError,
    InvalidRequest,
    JournalError,
    KitError,
    ServiceUnreachable,
)
from .core.jobs import SENT_UNANSWERED, JobRunner, placeholder
from .core.journal import CANCELLED, DONE, RUNNING, STOPPED, Journal, is_temporary, open_journal
from .core.pace import Pace
from .core.poller import LATE, ProgressEvent, ProgressSink
from .core.task import Status, Task
from .progress import NullProgress, TextProgress, WidgetProgress, in_notebook, make_progress
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import OutX
from .sync import LoopThread

CLIENTS: dict[str, type[ServiceClient]] = {"outx": OutX, "linkup": Linkup, "agora": Agora}
# How each helper's rows become its frame: a stored job is rebuilt with the same function.
FRAMES: dict[str, Callable[[list[tuple[Any, Task]]], pd.DataFrame]] = {
    "profiles": frames.profiles_frame,
    "posts": frames.posts_frame,
    "companies": frames.companies_frame,
    "company_posts": frames.company_posts_frame,
    "search_profiles": frames.search_profiles_frame,
    "search": frames.answers_frame,
    "research": frames.answers_frame,
    "fetch_pages": frames.pages_frame,
    "deep_dives": frames.deep_dives_frame,
    "onchain_data": frames.onchain_frame,
}
# A frame's attribute saying its job stopped, resumably, because the service's worker (OutX's
# Chrome extension) picked nothing up for the call's patience: scripts and the command line
# can tell that stop from a finished run.
WORKER_AWAY = "kit_worker_away"
# Helpers whose frame is a long table (several rows per input): their rows keep pandas' own
# numbering, not the input Series' index.
LONG_TABLES = {"search_profiles"}


def interruptible(call: Callable[..., Any]) -> Callable[..., Any]:
    """A public call whose interrupt is raised from the caller's line, its message the job's
    final state: no traceback through kit's internals (in a script, one frame at this door).
    Still a ``KeyboardInterrupt``, so that a script exits as interrupted."""

    @functools.wraps(call)
    def public(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # read by pytest
        try:
            return call(*args, **kwargs)
        except KeyboardInterrupt as exc:
            # IPython and Jupyter render an exception's own traceback when it has one: the
            # final state alone, which is all a user needs after pressing stop.
            shown = [f"KeyboardInterrupt: {exc}"]  # what the user pressed, whatever the subclass
            exc._render_traceback_ = lambda: shown  # type: ignore[attr-defined]
            raise exc.with_traceback(None) from None

    return public


@dataclass
class JobPlan:
    """What a helper asks for: one row per input (its value, the position of its distinct
    request, or why it was refused) and the distinct requests ``(kind, input)``."""

    helper: str
    label: str
    rows: list[tuple[Any, int | None, str | None]]
    items: list[tuple[str, dict[str, Any]]]
    options: dict[str, Any] = field(default_factory=dict)  # timeout, fresh, confirm, pace
    # The input Series' index, given to the frame's rows (kept in memory, not in the journal:
    # a job reopened later is numbered 0..n-1).
    index: pd.Index | None = None


class Job:
    """A helper call's work: in the journal, running in the background until done.

    ``job.frame()`` is one row per input at any moment (unfinished rows say ``queued`` or
    ``pending``); ``job.wait()`` blocks and returns the final frame; ``job.stop()`` stops it
    (resumable), ``job.cancel()`` stops it for good (what was created stays in the journal);
    displaying ``job`` in a notebook shows a live progress bar with counts, the pace and when
    the last create goes out.
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
        self._worker: LoopThread | None = None
        self._ending: str = STOPPED  # the state a stop leaves: stopped (resumable) or cancelled
        self._stop_requested = False
        self._final: ProgressEvent | None = None
        self._blocking = False
        self.index: pd.Index | None = None  # the input Series' index, for the frame's rows

    # -- what it is ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return str(self._record["label"])

    @property
    def state(self) -> str:
        """``running``, ``stopped`` (resumable), ``cancelled`` or ``done``."""
        record = self.journal.job(self.id)
        return str(record["state"]) if record else str(self._record["state"])

    @property
    def done(self) -> bool:
        """Finished for good: every input settled, or cancelled (a stopped job is resumable)."""
        return self.state in (DONE, CANCELLED)

    @property
    def _running(self) -> bool:
        return self._worker is not None and not self._worker.done.is_set()

    def tasks(self) -> list[Task]:
        """Each distinct input's task now (placeholders for those without one), in order."""
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
        if not error:
            return None
        error = error.rstrip()
        stop = "" if error.endswith((".", "?", "!")) else "."
        return f"not sent: {error}{stop} {RESUME_HINT} sends them later."

    def frame(self) -> pd.DataFrame:
        """One row per input, now, in input order (the helper's columns)."""
        tasks = self.tasks()
        runner = self._runner
        reason = None if self._running else self._unsent_reason()
        if self._running and runner is not None and runner.worker_note:
            reason = f"not sent yet: {runner.worker_note}"  # (a background job waits on)
        for task in tasks:
            if task.note == SENT_UNANSWERED and not self._running:
                task.status = Status.UNKNOWN  # stopped with its request out: it may exist
            elif reason and task.status is Status.QUEUED:
                task.note = reason
        service = self._record["service"]
        pairs: list[tuple[Any, Task]] = []
        for value, position, refused in self._record["rows"]:
            if position is None:
                pairs.append((value, Task(service=service, id=None, kind="invalid",
                                          status=Status.FAILED, error=refused)))
            else:
                pairs.append((value, tasks[position]))
        df = FRAMES[self._record["helper"]](pairs)
        if self.index is not None and self._record["helper"] not in LONG_TABLES:
            df.index = self.index  # one row per input: so that df.join(result) works
        if runner is not None and runner.gave_up:  # stopped, resumably: a script can tell
            df.attrs[WORKER_AWAY] = runner.gave_up
        return df

    def progress(self) -> ProgressEvent:
        if self._runner is not None:
            return self._runner.progress(finished=not self._running)
        tasks = self.tasks()
        event = ProgressEvent(self.label, len(tasks), finished=True)
        event.counts.update(t.status.value for t in tasks)
        return event

    def __repr__(self) -> str:
        event = self.progress()
        return f"<kit.Job {self.id} {self.label}: {event.done}/{event.total} done, {self.state}>"

    def _ipython_display_(self) -> None:
        """A live progress bar in the cell that shows the job (updated from its thread)."""
        sink = WidgetProgress(self.label, self.progress().total) if in_notebook() else TextProgress()
        if not self._running:
            sink.close(self.progress())
            return
        self._sinks.append(sink)
        sink.update(self.progress())

    # -- running ---------------------------------------------------------------------------
    def set_timeout(self, timeout: float | None) -> None:
        """How long to wait for each task from now on (service seconds; None: the default)."""
        options = dict(self._record["options"], timeout=timeout)
        self.journal.set_job_options(self.id, options)
        self._record["options"] = options

    def start(self, progress: ProgressSink | None = None, *, blocking: bool = False) -> Job:
        """Run the job on a loop of its own in a worker thread (its output lands where it was
        started).  A job this process runs already is not started twice.  ``blocking``: a
        caller waits for it, so it gives up (resumably) when the service's worker takes
        nothing for the client's ``patience`` (default 15 min; a background job waits on)."""
        if self._worker is not None:
            return self
        self._blocking = blocking
        if progress is not None:
            self._sinks.append(progress)
        with _running_lock:
            if self.id in _running:
                raise InvalidRequest(f"job {self.id} is running in this process already.")
            _running[self.id] = self
        self.journal.set_job_state(self.id, RUNNING)
        self._worker = LoopThread(self._run, f"kit-job-{self.id}").start()
        return self

    async def _run(self) -> None:
        try:
            await self._run_with_client()
        finally:
            with _running_lock:
                _running.pop(self.id, None)

    async def _run_with_client(self) -> None:
        options = self._record["options"]
        async with self._make_client() as client:
            runner = self._runner = JobRunner(
                client, self.journal, self.id, timeout=options.get("timeout"),
                fresh_since=options.get("fresh_since"), options=options, report=self._report,
                patience=client.patience_for(self._blocking, options.get("patience")))
            if self._stop_requested:
                runner.stop()
            notes: list[str] = []
            try:
                await runner.run()
            except BaseException as exc:  # every way out leaves the job resumable, and says why
                if isinstance(exc, ServiceUnreachable):  # nothing was lost: say how to go on
                    exc.message += (f" The job's unsent inputs stay queued: {RESUME_HINT} "
                                    "sends them later.")
                message = exc.message if isinstance(exc, KitError) else (
                    str(exc) or type(exc).__name__)
                with contextlib.suppress(JournalError):  # (then the journal is what failed)
                    self.journal.set_job_state(self.id, STOPPED, message)
                notes.append("stopped: " + _shortened(message, 120))
                raise
            finally:
                if runner.stopped and not notes:
                    notes.append(self._stop_note(runner))
                self._final = self._final_progress(runner, notes)
                for sink in list(self._sinks):
                    sink.close(self._final)
            if runner.settled:
                self.journal.set_job_state(self.id, DONE)
            elif runner.stopped:  # (a job that gave up on the worker says why: rows say it)
                self.journal.set_job_state(self.id, self._ending, runner.gave_up)
            else:  # some tasks outlived their wait: resume reads them again
                self.journal.set_job_state(self.id, STOPPED)

    @staticmethod
    def _final_progress(runner: JobRunner, notes: list[str]) -> ProgressEvent:
        open_tasks = runner.client.late(runner.task_of(p) for p in runner.items)
        if open_tasks and not notes:
            notes = [f"{open_tasks} {LATE}: {RESUME_HINT} reads them again"]
        return runner.progress(finished=True, notes=notes)

    def _stop_note(self, runner: JobRunner | None) -> str:
        created = sum(1 for r in runner.items.values() if r["task_id"]) if runner else 0
        held = f"{created} created {'is' if created == 1 else 'are'} in the journal"
        if self._ending == CANCELLED:
            return f"cancelled: {held}"
        if runner is not None and runner.gave_up:
            held = f"{runner.gave_up}; {held}"
        if is_temporary(self.journal.path):  # a sandbox's own journal ends with the sandbox
            return (f"stopped: {held} of this sandbox (job {self.id}); kit.resume() carries on "
                    "while the sandbox runs")
        return f"stopped: {held} (job {self.id}); {RESUME_HINT} carries on"

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
        """Stop sending and polling, and return once stopped (a create under way is let
        finish).  The job stays resumable: ``kit.resume()`` carries it on."""
        self._ending = state
        self._stop_requested = True  # seen by a job that has not made its runner yet
        worker, runner = self._worker, self._runner
        if worker is None:
            self.journal.set_job_state(self.id, state)
            return
        if runner is not None:
            worker.call_soon(runner.stop)
        if threading.current_thread() is not worker.thread:
            worker.done.wait()
            self._settle_displays()

    def cancel(self) -> None:
        """Stop creating (and waiting); what was created stays in the journal.  A cancelled
        job is not carried on by ``kit.resume()``."""
        self.stop(CANCELLED)
        self.journal.set_job_state(self.id, CANCELLED)

    @interruptible
    def wait(self, timeout: float | None = None, *, progress: Any = None) -> pd.DataFrame:
        """Block until the job ends (or ``timeout`` real seconds pass) and return its frame.

        A job reopened from the journal (``kit.job(id)``) that is not finished is carried on.
        Interrupting (Ctrl-C, the kernel's stop button) stops only the waiting: the job goes
        on in the background.  An error about the whole call (key, permission, credits) is
        raised with the frame as ``error.frame``.
        """
        if self._worker is None and self.state in (RUNNING, STOPPED):
            self.start(blocking=True)
        worker = self._worker
        if worker is None:  # done or cancelled before this handle: nothing to wait for
            return self.frame()
        if progress is not False and not self._sinks and not worker.done.is_set():
            self._sinks.append(make_progress(progress, self.label, self.progress().total))
        try:
            if not worker.done.wait(timeout):
                return self.frame()
        except KeyboardInterrupt as exc:
            raise type(exc)(f"stopped waiting; job {self.id} goes on in the background "
                            "(job.wait() waits again, job.stop() stops it)") from None
        return self._outcome()

    def _outcome(self) -> pd.DataFrame:
        self._settle_displays()
        df = self.frame()
        error = self._worker.error if self._worker is not None else None
        if isinstance(error, KitError):
            error.frame = df
        if error is not None:
            raise error
        return df

    def run_blocking(self) -> pd.DataFrame:
        """The helpers' ``wait=True``: block; an interrupt stops the job (resumable) and says
        how to carry on."""
        assert self._worker is not None
        try:
            while not self._worker.done.wait(0.1):
                pass
        except KeyboardInterrupt as exc:
            self.stop()
            note = self._stop_note(self._runner)
            if all(isinstance(sink, NullProgress) for sink in self._sinks):  # else the bar said it
                print(f"kit: {note}", file=sys.stderr)
            raise type(exc)(note) from None  # the same kind: SIGTERM's exits 143 in the CLI
        return self._outcome()


def _shortened(text: str, limit: int) -> str:
    """``text`` cut at a word before ``limit`` characters, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" (,;:") + "…"


# The jobs this process runs now: kit.resume() waits for these instead of running them twice.
_running: dict[str, Job] = {}
_running_lock = threading.Lock()


def running_job(job_id: str) -> Job | None:
    """The handle of a job this process runs now, if it does."""
    with _running_lock:
        return _running.get(job_id)


# -- starting and resuming ---------------------------------------------------------------------
def start_job(client: ServiceClient, plan: JobPlan, *, wait: bool, progress: Any
              ) -> pd.DataFrame | Job:
    """Write the job to the journal (before any request), start it on ``client``, and wait or
    hand it back."""
    journal = client.book
    options = dict(plan.options)
    if options.get("fresh"):  # only tasks created from now on may be reused
        options["fresh_since"] = datetime.now(timezone.utc).isoformat()
    job_id = journal.add_job(helper=plan.helper, service=client.spec.name, origin=client.base_url,
                             key_fp=client.key_fingerprint, label=plan.label, options=options,
                             rows=[list(r) for r in plan.rows], items=plan.items)
    job = Job(journal, job_id, lambda: client)
    job.index = plan.index
    if not wait:
        return job.start(NullProgress() if progress is False else None)
    sink = make_progress(progress, plan.label, len(plan.items))
    return job.start(sink, blocking=True).run_blocking()


def journal_for(journal: Any) -> Journal:
    if journal is None:
        target = active_target()
        journal = target.journal if target is not None else None
    book = open_journal(journal if journal is not None else True)
    assert book is not None
    return book


def client_factory(record: dict[str, Any], client_options: dict[str, Any]
                    ) -> Callable[[], ServiceClient]:
    """A client for a stored job: its service and origin, the key at hand, its pace."""
    cls = CLIENTS[record["service"]]
    options = {"base_url": record["origin"], **client_options}
    pace = record["options"].get("pace")
    if "pace" not in options and pace is not None:  # the job's own pace, unless told otherwise
        options["pace"] = Pace.from_options(pace)
    return lambda: cls(**options)


def open_jobs(journal: Journal, *, api_key: str | None, client_options: dict[str, Any],
              services: Sequence[str] | None = None) -> tuple[list[Job], list[str]]:
    """The journal's unfinished jobs that the key at hand can carry on, and notes on the rest."""
    jobs: list[Job] = []
    notes: list[str] = []
    for row in journal.jobs():
        if row["state"] not in (RUNNING, STOPPED):
            continue
        with _running_lock:
            live = _running.get(row["job_id"])
        if live is not None:  # running in this process: wait for it, do not run it twice
            jobs.append(live)
            continue
        if services is not None and row["service"] not in services:
            continue
        record = journal.job(row["job_id"])
        assert record is not None
        options = dict(client_options, journal=journal)
        if api_key is not None:
            options["api_key"] = api_key
        factory = client_factory(record, options)
        try:
            probe = factory()
        except AuthenticationError:
            notes.append(f"job {row['job_id']} ({row['label']}): no {row['service']} key here")
            continue
        # Read again: making the probe re-keyed a pre-salt journal's rows of its key.
        if probe.key_fingerprint != (journal.job(row["job_id"]) or {}).get("key_fp"):
            notes.append(f"job {row['job_id']} ({row['label']}) belongs to another key")
            continue
        jobs.append(Job(journal, row["job_id"], factory))
    return jobs, notes
