"""The notebook helpers: one synchronous call in, one DataFrame out, progress in between.

Each helper validates every input before anything is sent, creates one task per distinct input
(or reuses the journal's task for it), waits for them all, and returns one row per input in input
order.  Errors about one input are that row's ``status``/``error``; errors about the whole call
raise.  When credits run out mid-batch, the tasks already created are still waited for, and the
``PaymentRequired`` raised carries the finished table as ``error.frame``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import frames
from .core.batch import create_many, rejected
from .core.client import ServiceClient
from .core.errors import AuthenticationError, InvalidRequest, KitError, PaymentRequired
from .core.journal import COLUMNS as JOURNAL_COLUMNS
from .core.journal import open_journal
from .core.policy import PollSchedule
from .core.poller import ProgressEvent, ProgressSink
from .core.task import Task
from .progress import make_progress
from .services import agora, linkup
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import OutX, to_slug
from .sync import run

# Keyword options every helper takes besides the service's own parameters.
CLIENT_OPTIONS = set(inspect.signature(ServiceClient.__init__).parameters) - {"self"}
HELPER_OPTIONS = {"timeout", "progress", "fresh", "errors"}


def as_input_list(values: Any, what: str) -> list[Any]:
    """A list of inputs from a list, tuple, Series or other iterable; clear errors otherwise."""
    if values is None:
        raise InvalidRequest(f"expected a list of {what}, got None.")
    if isinstance(values, (str, bytes)):
        raise InvalidRequest(
            f"expected a list of {what}, got a single string {values!r:.60}: wrap it in a list, "
            f"e.g. [{values!r:.40}]."
        )
    if isinstance(values, dict):
        raise InvalidRequest(f"expected a list of {what}, got a dict.")
    try:
        items = list(values)
    except TypeError:
        raise InvalidRequest(f"expected a list of {what}, got {type(values).__name__}.") from None
    if not items:
        raise InvalidRequest(f"the list of {what} is empty: nothing to do.")
    return items


@dataclass
class Batch:
    """A helper call's inputs, checked: ``keys[i]`` is input i's distinct request (``None``
    when input i was refused with ``errors="rows"``; its reason is ``refused[i]``)."""

    inputs: list[Any]
    keys: list[Hashable | None]
    unique: dict[Hashable, Any]
    refused: dict[int, str] = field(default_factory=dict)


def check_inputs(values: Any, what: str, check: Callable[[Any], Any], errors: str,
                 key: Callable[[Any], Hashable] = lambda item: item) -> Batch:
    """Check every input before anything is sent; ``errors="raise"`` raises at the first bad
    one, ``errors="rows"`` keeps it as a failed row and goes on with the rest."""
    if errors not in ("raise", "rows"):
        raise InvalidRequest(f"errors must be 'raise' or 'rows', not {errors!r}.")
    inputs = as_input_list(values, what)
    batch = Batch(inputs, [], {})
    for index, value in enumerate(inputs):
        try:
            item = check(value)
        except InvalidRequest as exc:
            if errors == "raise":
                raise
            batch.keys.append(None)
            batch.refused[index] = exc.message
            continue
        k = key(item)
        batch.keys.append(k)
        batch.unique.setdefault(k, item)
    return batch


def split_options(name: str, options: dict[str, Any], service_params: Iterable[str] = ()
                  ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(client options, helper options, service parameters); unknown names are refused."""
    allowed = set(service_params)
    client, helper, params = {}, {}, {}
    for key, value in options.items():
        if key in CLIENT_OPTIONS:
            client[key] = value
        elif key in HELPER_OPTIONS:
            helper[key] = value
        elif key in allowed:
            params[key] = value
        else:
            known = sorted(CLIENT_OPTIONS | HELPER_OPTIONS | allowed)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidRequest(f"{name}() got an unexpected keyword argument {key!r}.{hint} "
                                 f"It takes {', '.join(known)}.")
    timeout = helper.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        raise InvalidRequest(f"{name}(): timeout must be a positive number of seconds (or None "
                             f"for the default, math.inf for no limit), not {timeout!r}.")
    return client, helper, params


CreateAll = Callable[[list[Any], ProgressSink], Awaitable[list[Task | None]]]


async def collect(
    client: ServiceClient,
    batch: Batch,
    *,
    request: Callable[[Any], tuple[str, dict[str, Any]]],
    create_all: CreateAll,
    label: str,
    options: dict[str, Any],
    prepare: Callable[[list[Task]], Awaitable[None]] | None = None,
    wait: bool = True,
) -> tuple[list[Task], PaymentRequired | None]:
    """Reuse or create a task per distinct input, wait, and give each input its task."""
    sink = make_progress(options.get("progress"), label, len(batch.unique))
    items = list(batch.unique.values())
    found: list[Task | None] = [None] * len(items)
    if not options.get("fresh"):
        found = [client.journaled(*request(item)) for item in items]
    todo = [i for i, t in enumerate(found) if t is None]
    reused = len(items) - len(todo)

    def missing(item: Any, why: str) -> Task:
        kind, task_input = request(item)
        return rejected(client.spec.name, kind, task_input, why)

    stopped: PaymentRequired | None = None
    try:
        made = await create_all([items[i] for i in todo], sink)
    except PaymentRequired as exc:
        stopped = exc
        made = list(getattr(exc, "tasks", []) or [])
        made += [None] * (len(todo) - len(made))
    for i, task in zip(todo, made, strict=True):
        found[i] = task if task is not None else missing(
            items[i], f"not created: {stopped.message}" if stopped else "not created")
    tasks: list[Task] = found  # type: ignore[assignment]
    if prepare is not None and stopped is None:
        try:
            await prepare(tasks)
        except PaymentRequired as exc:
            stopped = exc
    notes = [f"{reused} reused from journal"] if reused else []
    if wait:
        await client.wait([t for t in tasks if client._waitable(t)], timeout=options.get("timeout"),
                          progress=sink, label=label, notes=notes)
    else:
        sink.close(ProgressEvent(label, len(tasks), finished=True, notes=[
            *notes, f"{sum(1 for t in tasks if t.id)} created, not waited for"]))
    by_key = dict(zip(batch.unique, tasks, strict=True))
    rows = []
    for index, key in enumerate(batch.keys):
        if key is None:
            rows.append(rejected(client.spec.name, "invalid", {}, batch.refused[index]))
        else:
            rows.append(by_key[key])
    return rows, stopped


def finish(df: pd.DataFrame, stopped: PaymentRequired | None) -> pd.DataFrame:
    if stopped is not None:
        stopped.frame = df  # type: ignore[attr-defined]
        raise stopped
    return df


def _created_progress(sink: ProgressSink, label: str, total: int) -> Callable[[int], None]:
    return lambda n: sink.update(ProgressEvent(label, total, notes=[f"created {n}/{total}"]))


def _poll(poll_interval: Any, schedule: PollSchedule) -> PollSchedule | None:
    if poll_interval is None:
        return None
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or (
            poll_interval <= 0):
        raise InvalidRequest("poll_interval must be a positive number of seconds.")
    return PollSchedule(interval=poll_interval, first=poll_interval, timeout=schedule.timeout)


# -- OutX --------------------------------------------------------------------------------------
async def _outx_batch(values: Any, kind: str,
                      build: Callable[[list[tuple[Any, Task]]], pd.DataFrame],
                      options: dict[str, Any], name: str) -> pd.DataFrame:
    poll_interval = options.pop("poll_interval", None)
    if poll_interval is not None:
        options["poll"] = _poll(poll_interval, OutX.spec.schedule)
    client_opts, opts, _ = split_options(name, options, ())
    # Slugs are case-insensitive: one task per distinct profile fills every matching row.
    batch = check_inputs(values, "LinkedIn profile slugs or URLs", to_slug,
                         opts.get("errors", "raise"), key=str.casefold)
    label = f"OutX {kind}"
    async with OutX(**client_opts) as client:
        create = client.fetch_profile if kind == "fetch-profile" else client.fetch_posts

        def request(slug: str) -> tuple[str, dict[str, Any]]:
            return kind, {"profile_slug": slug}

        async def create_all(items: list[str], sink: ProgressSink) -> list[Task | None]:
            def failed(slug: str, exc: KitError) -> Task:
                return rejected("outx", kind, {"profile_slug": slug}, exc.message)

            return list(await create_many(items, create, failed,
                                          on_created=_created_progress(sink, label, len(items))))

        tasks, stopped = await collect(client, batch, request=request, create_all=create_all,
                                       label=label, options=opts)
    return finish(build(list(zip(batch.inputs, tasks, strict=True))), stopped)


def profiles(slugs: Iterable[str], *, api_key: str | None = None, base_url: str | None = None,
             timeout: float | None = None, poll_interval: float | None = None,
             progress: Any = None, fresh: bool = False, errors: str = "raise",
             **client_options: Any) -> pd.DataFrame:
    """Fetch LinkedIn profiles through OutX; one row per input, in input order.

    ``slugs``: slugs (``"williamhgates"``) or profile URLs (``"https://www.linkedin.com/in/x/"``).
    A value that cannot be a slug raises ``InvalidRequest`` before anything is sent
    (``errors="rows"``: it becomes a failed row instead and the rest runs).  Repeated profiles
    are fetched once and fill every matching row; profiles the journal already holds are reused
    (``fresh=True`` fetches them again).  Columns: ``input, profile_slug, task_id, status,
    error`` then ``name, headline, location, profile_url, connections, followers, about,
    experience, education, skills``.  A profile the service refused, a failed task or one still
    unfinished after ``timeout`` seconds (default 180, as OutX advises; ``poll_interval``
    default 5) is a row with ``status`` and ``error`` set.  Use :func:`kit.frames.long_table`
    for experience, education and skills as long tables.
    """
    options = dict(api_key=api_key, base_url=base_url, timeout=timeout, progress=progress,
                   fresh=fresh, errors=errors, poll_interval=poll_interval, **client_options)
    return run(_outx_batch(slugs, "fetch-profile", frames.profiles_frame, options, "profiles"))


def posts(slugs: Iterable[str], *, api_key: str | None = None, base_url: str | None = None,
          timeout: float | None = None, poll_interval: float | None = None,
          progress: Any = None, fresh: bool = False, errors: str = "raise",
          **client_options: Any) -> pd.DataFrame:
    """Fetch recent LinkedIn posts of profiles through OutX; one row per input with a ``posts``
    list (``kit.frames.long_table(df, "posts")`` for one row per post).  Options as
    :func:`profiles`."""
    options = dict(api_key=api_key, base_url=base_url, timeout=timeout, progress=progress,
                   fresh=fresh, errors=errors, poll_interval=poll_interval, **client_options)
    return run(_outx_batch(slugs, "fetch-posts", frames.posts_frame, options, "posts"))


# -- Linkup ------------------------------------------------------------------------------------
async def _linkup_batch(values: Any, kind: str, field_name: str, what: str,
                        options: dict[str, Any], name: str,
                        build: Callable[[list[tuple[Any, Task]]], pd.DataFrame]) -> pd.DataFrame:
    camel = set(linkup.PARAMS[kind].values())
    client_opts, opts, params = split_options(name, options, set(linkup.PARAMS[kind]) | camel)
    params.pop(field_name, None)

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"Linkup: {value!r} is not a {field_name} (a non-empty string).")
        # Validated once, before anything is sent (names, dates, choices...).
        return {"type": kind, "input": linkup.build_input(kind, {field_name: value, **params})}

    batch = check_inputs(values, what, check, opts.get("errors", "raise"),
                         key=lambda spec: spec["input"][field_name])
    async with Linkup(**client_opts) as client:

        async def create_all(items: list[dict[str, Any]], sink: ProgressSink) -> list[Task | None]:
            return list(await client.submit(items)) if items else []

        tasks, stopped = await collect(client, batch,
                                       request=lambda spec: (spec["type"], spec["input"]),
                                       create_all=create_all, label=f"Linkup {kind}", options=opts)
    return finish(build(list(zip(batch.inputs, tasks, strict=True))), stopped)


def search(queries: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup searches, one row per query in input order: ``query, task_id, status, error,
    answer, sources, results, data``.

    Defaults suit a notebook: ``depth="standard"``, ``output_type="sourcedAnswer"``.  Other
    parameters in Python spelling (``include_domains=``, ``from_date=`` as ``datetime.date`` or
    ``"YYYY-MM-DD"``, ``output_type="structured"`` with ``structured_output_schema=`` a dict, ...)
    plus ``api_key``, ``base_url``, ``timeout``, ``progress``, ``fresh``, ``errors``.  Each task
    is billed: a repeated query is sent once, and the journal's earlier answers are reused
    unless ``fresh=True``.  ``kit.frames.sources(df)`` gives the sources as a long table.
    """
    params = {"depth": "standard", "output_type": "sourcedAnswer", **params}
    return run(_linkup_batch(queries, "search", "q", "questions", params, "search",
                             frames.answers_frame))


def research(queries: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup research tasks (minutes each, billed per task), one row per query, like
    :func:`search`; waits up to an hour by default (``timeout=`` to change)."""
    params = {"output_type": "sourcedAnswer", **params}
    return run(_linkup_batch(queries, "research", "q", "questions", params, "research",
                             frames.answers_frame))


def fetch_pages(urls: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup fetch tasks, one row per URL: ``url, task_id, status, error, markdown, favicon,
    raw_content, raw_html, content_type, images`` (``render_js=``, ``include_raw_html=``, ...)."""
    return run(_linkup_batch(urls, "fetch", "url", "URLs", dict(params), "fetch_pages",
                             frames.pages_frame))


# -- Agora -------------------------------------------------------------------------------------
def _contract_item(value: Any) -> tuple[str, str | None]:
    """A contract from ``"0x..."``, ``("0x...", "handle")`` or ``{"contract_address", "x_handle"}``."""
    if isinstance(value, dict):
        address, handle = value.get("contract_address"), value.get("x_handle")
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        address, handle = value
    else:
        address, handle = value, None
    return agora.check_contract(address), agora.check_handle(handle)


async def _deep_dives(values: Any, confirm: bool, expiration: int | None,
                      options: dict[str, Any]) -> pd.DataFrame:
    client_opts, opts, _ = split_options("deep_dives", options, ())
    agora.check_expiration(expiration)
    batch = check_inputs(values, "token contract addresses", _contract_item,
                         opts.get("errors", "raise"), key=lambda item: item[0].lower())
    label = "Agora agent-deep-dive"
    async with Agora(**client_opts) as client:

        def request(item: tuple[str, str | None]) -> tuple[str, dict[str, Any]]:
            return "agent-deep-dive", agora.deep_dive_input(item[0], item[1], expiration)

        created: dict[tuple[str, str | None], Task] = {}

        async def create_one(item: tuple[str, str | None]) -> Task:
            task = created[item] = await client.deep_dive(item[0], item[1], expiration)
            if confirm:  # confirmed at once: the work starts while the rest are created
                try:
                    await client.confirm_task(task)
                except PaymentRequired:
                    raise
                except KitError as exc:
                    _confirm_failed(task, exc)
            return task

        async def create_all(todo: list[tuple[str, str | None]],
                             sink: ProgressSink) -> list[Task | None]:
            def failed(item: tuple[str, str | None], exc: KitError) -> Task:
                return rejected("agora", "agent-deep-dive", request(item)[1], exc.message)

            try:
                return list(await create_many(todo, create_one, failed, concurrency=2,
                                              on_created=_created_progress(sink, label, len(todo))))
            except PaymentRequired as exc:
                exc.tasks = [t if t is not None else created.get(item)  # type: ignore[attr-defined]
                             for item, t in zip(todo, exc.tasks, strict=True)]  # type: ignore[attr-defined]
                _unconfirmed(exc.tasks, exc)  # type: ignore[attr-defined]
                raise

        async def confirm_all(tasks: list[Task]) -> None:
            # Tasks reused from the journal may still await confirmation: confirm each once.
            unconfirmed = [t for t in tasks if t.id and t.service_status == "1"]
            try:
                await create_many(unconfirmed, client.confirm_task, _confirm_failed,
                                  concurrency=2)
            except PaymentRequired as exc:
                _unconfirmed(unconfirmed, exc)
                raise

        tasks, stopped = await collect(client, batch, request=request, create_all=create_all,
                                       label=label, options=opts,
                                       prepare=confirm_all if confirm else None, wait=confirm)
    return finish(frames.deep_dives_frame(list(zip(batch.inputs, tasks, strict=True))), stopped)


def _unconfirmed(tasks: Iterable[Task | None], error: PaymentRequired) -> None:
    for task in tasks:
        if task is not None and task.service_status == "1":
            task.error = f"created, not confirmed: {error.message}"


def _confirm_failed(task: Task, error: KitError) -> Task:
    task.error = f"not confirmed: {error.message}"
    return task


def deep_dives(contracts: Sequence[Any], *, confirm: bool = False, expiration: int | None = None,
               **options: Any) -> pd.DataFrame:
    """Agora deep dives on token contracts, one row per contract in input order.

    ``contracts``: addresses, or ``(address, x_handle)`` pairs, or dicts with
    ``contract_address`` and ``x_handle``.

    **With ``confirm=True`` every task is confirmed, which spends one Agora credit each**, and
    kit waits for the reports (deep dives take about five minutes, sometimes hours; by default
    kit waits up to an hour, ``timeout=`` to change, ``math.inf`` for no limit; an unfinished
    task is a row with status ``running`` and an error saying kit stopped waiting).  Without it,
    the tasks are only created (status ``pending``, free) and returned: confirm them later with
    ``Agora.confirm_task`` or by calling again with ``confirm=True`` (the journal's tasks are
    reused, not created again).  A repeated contract is created once.  Columns:
    ``contract_address, x_handle, task_id, status, service_status, error, deliverable,
    expiration_time``.  Creates and confirms are paced to Agora's five per minute.  Options:
    ``api_key``, ``base_url``, ``timeout``, ``progress``, ``fresh``, ``errors``.
    """
    return run(_deep_dives(contracts, confirm, expiration, options))


def to_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """Any kit tasks -> a DataFrame (see :func:`kit.frames.to_frame`)."""
    return frames.to_frame(tasks)


# -- journal -----------------------------------------------------------------------------------
SERVICE_CLIENTS: dict[str, type[ServiceClient]] = {"outx": OutX, "linkup": Linkup, "agora": Agora}


async def _resume(services: Sequence[str], options: dict[str, Any]) -> pd.DataFrame:
    client_opts, opts, _ = split_options("resume", options, ())
    unknown = [s for s in services if s not in SERVICE_CLIENTS]
    if unknown:
        raise InvalidRequest(f"resume(): unknown service {unknown[0]!r}; choose from "
                             f"{', '.join(SERVICE_CLIENTS)}.")
    if len(services) > 1 and ("api_key" in client_opts or "base_url" in client_opts):
        raise InvalidRequest("resume(): api_key= and base_url= belong to one service: pass "
                             "services=['outx'] (or 'linkup', 'agora') with them.")
    tasks: list[Task] = []
    for name in services:
        try:
            client = SERVICE_CLIENTS[name](**client_opts)
        except AuthenticationError:
            continue  # no key for this service here: nothing of it can be resumed
        async with client:
            tasks += await client.resume(timeout=opts.get("timeout"), progress=opts.get("progress"))
    return frames.to_frame(tasks)


def resume(*, services: Sequence[str] = ("outx", "linkup", "agora"), **options: Any
           ) -> pd.DataFrame:
    """Finish the tasks the journal holds unfinished, for the keys at hand; create nothing.

    For each service with a key (argument, sandbox or environment), reads the journal's pending
    and running tasks of that key and origin, polls them to the end (or ``timeout``), and
    returns them as one frame (the columns of :func:`kit.to_frame`).  Agora tasks awaiting
    confirmation are listed, not waited for.  Options: ``timeout``, ``progress``, ``journal``
    (a path), and with one service in ``services``: ``api_key``, ``base_url``.
    """
    return run(_resume(list(services), options))


def journal(path: Any = None) -> pd.DataFrame:
    """The journal as a DataFrame (one row per task kit created or reused), for inspection and
    export.  It holds a fingerprint of each key, never the key."""
    book = open_journal(path if path is not None else None)
    rows = book.rows() if book is not None else []
    df = pd.DataFrame.from_records(rows, columns=JOURNAL_COLUMNS)
    for column in ("created_at", "updated_at"):
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return df
