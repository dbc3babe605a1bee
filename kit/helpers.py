"""The notebook helpers: one synchronous call in, one DataFrame out, progress in between.

Each helper validates every input before anything is sent, creates one task per distinct input,
waits for them all, and returns one row per input in input order.  Errors about one input are
that row's ``status``/``error``; errors about the whole call raise.  When credits run out
mid-batch, the tasks already created are still waited for, and the ``PaymentRequired`` raised
carries the finished table as ``error.frame``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

import pandas as pd

from . import frames
from .core.batch import create_many, rejected
from .core.client import ServiceClient
from .core.errors import InvalidRequest, KitError, PaymentRequired
from .core.policy import PollSchedule
from .core.poller import ProgressEvent, ProgressSink
from .core.task import Task
from .progress import make_progress
from .services import agora, linkup
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import OutX, to_slug
from .sync import run


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


CreateAll = Callable[[list[Any], ProgressSink], Awaitable[list[Task | None]]]


async def _collect(
    client: ServiceClient,
    unique: dict[Hashable, Any],
    create_all: CreateAll,
    *,
    label: str,
    timeout: float | None,
    progress: Any,
    on_missing: Callable[[Any, str], Task],
    wait: bool = True,
    waitable: Callable[[Task], bool] = lambda task: True,
) -> tuple[dict[Hashable, Task], PaymentRequired | None]:
    """Create a task per distinct input, wait for them, map each input key to its task."""
    sink = make_progress(progress, label, len(unique))
    items = list(unique.values())
    stopped: PaymentRequired | None = None
    try:
        made = await create_all(items, sink)
    except PaymentRequired as exc:
        stopped = exc
        made = list(getattr(exc, "tasks", []) or [])
        made += [None] * (len(items) - len(made))
    tasks = [t if t is not None else on_missing(item, f"not created: {stopped.message}"
                                                if stopped else "not created")
             for item, t in zip(items, made, strict=True)]
    if wait:
        await client.wait([t for t in tasks if waitable(t)], timeout=timeout, progress=sink,
                          label=label)
    else:
        sink.close(ProgressEvent(label, len(tasks), finished=True,
                                 notes=[f"{sum(1 for t in tasks if t.id)} created, not waited for"]))
    return dict(zip(unique, tasks, strict=True)), stopped


def _finish(df: pd.DataFrame, stopped: PaymentRequired | None) -> pd.DataFrame:
    if stopped is not None:
        stopped.frame = df  # type: ignore[attr-defined]
        raise stopped
    return df


def _created_progress(sink: ProgressSink, label: str, total: int) -> Callable[[int], None]:
    return lambda n: sink.update(ProgressEvent(label, total, notes=[f"created {n}/{total}"]))


def _poll(poll_interval: float | None, schedule: PollSchedule) -> PollSchedule | None:
    if poll_interval is None:
        return None
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or (
            poll_interval <= 0):
        raise InvalidRequest("poll_interval must be a positive number of seconds.")
    return PollSchedule(interval=poll_interval, first=poll_interval, timeout=schedule.timeout)


# -- OutX --------------------------------------------------------------------------------------
async def _outx_batch(values: Iterable[Any], kind: str,
                      build: Callable[[list[tuple[Any, Task]]], pd.DataFrame], *,
                      api_key: str | None, base_url: str | None, timeout: float | None,
                      poll_interval: float | None, progress: Any,
                      client_options: dict[str, Any]) -> pd.DataFrame:
    inputs = as_input_list(values, "LinkedIn profile slugs or URLs")
    slugs = [to_slug(v) for v in inputs]  # every bad value is refused before any request
    # One task per distinct profile (slugs are case-insensitive); every matching row shares it.
    unique: dict[Hashable, str] = {}
    for slug in slugs:
        unique.setdefault(slug.casefold(), slug)
    label = f"OutX {kind}"
    poll = _poll(poll_interval, OutX.spec.schedule)
    async with OutX(api_key, base_url=base_url, poll=poll, **client_options) as client:
        create = client.fetch_profile if kind == "fetch-profile" else client.fetch_posts

        def missing(slug: str, why: str) -> Task:
            return rejected("outx", kind, {"profile_slug": slug}, why)

        async def create_all(items: list[str], sink: ProgressSink) -> list[Task | None]:
            return list(await create_many(items, create, lambda s, e: missing(s, e.message),
                                          on_created=_created_progress(sink, label, len(items))))

        by_key, stopped = await _collect(client, unique, create_all, label=label, timeout=timeout,
                                         progress=progress, on_missing=missing)
    return _finish(build([(raw, by_key[slug.casefold()]) for raw, slug in
                          zip(inputs, slugs, strict=True)]), stopped)


def profiles(slugs: Iterable[str], *, api_key: str | None = None, base_url: str | None = None,
             timeout: float | None = None, poll_interval: float | None = None,
             progress: Any = None, **client_options: Any) -> pd.DataFrame:
    """Fetch LinkedIn profiles through OutX; one row per input, in input order.

    ``slugs``: slugs (``"williamhgates"``) or profile URLs (``"https://www.linkedin.com/in/x/"``).
    A value that cannot be a slug raises ``InvalidRequest`` before anything is sent.  Repeated
    profiles are fetched once and fill every matching row.  Columns: ``input, profile_slug,
    task_id, status, error`` then ``name, headline, location, profile_url, connections,
    followers, about, experience, education, skills``.  A profile the service refused, a failed
    task or one still unfinished after ``timeout`` seconds (default 180, as OutX advises) is a
    row with ``status`` and ``error`` set.  Use :func:`kit.frames.long_table` for experience,
    education and skills as long tables.
    """
    return run(_outx_batch(slugs, "fetch-profile", frames.profiles_frame, api_key=api_key,
                           base_url=base_url, timeout=timeout, poll_interval=poll_interval,
                           progress=progress, client_options=client_options))


def posts(slugs: Iterable[str], *, api_key: str | None = None, base_url: str | None = None,
          timeout: float | None = None, poll_interval: float | None = None,
          progress: Any = None, **client_options: Any) -> pd.DataFrame:
    """Fetch recent LinkedIn posts of profiles through OutX; one row per input with a ``posts``
    list (``kit.frames.long_table(df, "posts")`` for one row per post)."""
    return run(_outx_batch(slugs, "fetch-posts", frames.posts_frame, api_key=api_key,
                           base_url=base_url, timeout=timeout, poll_interval=poll_interval,
                           progress=progress, client_options=client_options))


# -- Linkup ------------------------------------------------------------------------------------
LINKUP_OPTIONS = {"api_key", "base_url", "timeout", "progress"}


async def _linkup_batch(values: Iterable[Any], kind: str, field_name: str, what: str,
                        params: dict[str, Any],
                        build: Callable[[list[tuple[Any, Task]]], pd.DataFrame]) -> pd.DataFrame:
    opts = {k: params.pop(k) for k in list(params) if k in LINKUP_OPTIONS}
    inputs = as_input_list(values, what)
    for value in inputs:
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"Linkup: {value!r} is not a {field_name} (a non-empty string).")
    # Validated once, before anything is sent (bad keyword names, dates, enums...).
    specs = {v: {"type": kind, "input": linkup.build_input(kind, {field_name: v, **params})}
             for v in dict.fromkeys(inputs)}
    label = f"Linkup {kind}"
    async with Linkup(opts.get("api_key"), base_url=opts.get("base_url")) as client:

        def missing(spec: dict[str, Any], why: str) -> Task:
            return rejected("linkup", kind, spec["input"], why)

        async def create_all(items: list[dict[str, Any]], sink: ProgressSink) -> list[Task | None]:
            return list(await client.submit(items))

        by_key, stopped = await _collect(client, specs, create_all, label=label,
                                         timeout=opts.get("timeout"),
                                         progress=opts.get("progress"), on_missing=missing)
    return _finish(build([(v, by_key[v]) for v in inputs]), stopped)


def search(queries: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup searches, one row per query in input order: ``query, task_id, status, error,
    answer, sources, results, data``.

    Defaults suit a notebook: ``depth="standard"``, ``output_type="sourcedAnswer"``.  Other
    parameters in Python spelling (``include_domains=``, ``from_date=`` as ``datetime.date`` or
    ``"YYYY-MM-DD"``, ``output_type="structured"`` with ``structured_output_schema=`` a dict, ...)
    plus ``api_key``, ``base_url``, ``timeout``, ``progress``.  Each task is billed: a repeated
    query is sent once.  ``kit.frames.sources(df)`` gives the sources as a long table.
    """
    params = {"depth": "standard", "output_type": "sourcedAnswer", **params}
    return run(_linkup_batch(queries, "search", "q", "questions", params, frames.answers_frame))


def research(queries: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup research tasks (minutes each, billed per task), one row per query, like
    :func:`search`; waits up to an hour by default (``timeout=`` to change)."""
    params = {"output_type": "sourcedAnswer", **params}
    return run(_linkup_batch(queries, "research", "q", "questions", params, frames.answers_frame))


def fetch_pages(urls: Iterable[str], **params: Any) -> pd.DataFrame:
    """Linkup fetch tasks, one row per URL: ``url, task_id, status, error, markdown, favicon,
    raw_content, raw_html, content_type, images`` (``render_js=``, ``include_raw_html=``, ...)."""
    return run(_linkup_batch(urls, "fetch", "url", "URLs", dict(params), frames.pages_frame))


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


async def _deep_dives(values: Iterable[Any], *, confirm: bool, expiration: int | None,
                      api_key: str | None, base_url: str | None, timeout: float | None,
                      progress: Any, client_options: dict[str, Any]) -> pd.DataFrame:
    inputs = as_input_list(values, "token contract addresses")
    items = [_contract_item(v) for v in inputs]  # all checked before anything is sent
    unique: dict[Hashable, tuple[str, str | None]] = {}
    for address, handle in items:
        unique.setdefault(address.lower(), (address, handle))
    label = "Agora agent-deep-dive"
    async with Agora(api_key, base_url=base_url, **client_options) as client:

        def missing(item: tuple[str, str | None], why: str) -> Task:
            return rejected("agora", "agent-deep-dive",
                            {"contract_address": item[0], "x_handle": item[1]}, why)

        async def create_one(item: tuple[str, str | None]) -> Task:
            return await client.deep_dive(item[0], item[1], expiration)

        async def create_all(todo: list[tuple[str, str | None]],
                             sink: ProgressSink) -> list[Task | None]:
            created = await create_many(todo, create_one, lambda i, e: missing(i, e.message),
                                        concurrency=2,
                                        on_created=_created_progress(sink, label, len(todo)))
            if confirm:
                # Confirming spends a credit per task: confirm each created task once.
                try:
                    await create_many([t for t in created if t.id], client.confirm_task,
                                      _confirm_failed, concurrency=2)
                except PaymentRequired as exc:
                    for task in created:
                        if task.service_status == "1":
                            task.error = f"created, not confirmed: {exc.message}"
                    exc.tasks = created  # type: ignore[attr-defined]
                    raise
            return list(created)

        # Tasks awaiting confirmation do nothing: waiting for them would only wait for expiry.
        by_key, stopped = await _collect(client, unique, create_all, label=label, timeout=timeout,
                                         progress=progress, on_missing=missing, wait=confirm,
                                         waitable=lambda t: t.service_status != "1")
    return _finish(frames.deep_dives_frame([(raw, by_key[address.lower()])
                                            for raw, (address, _h) in zip(inputs, items, strict=True)]),
                   stopped)


def _confirm_failed(task: Task, error: KitError) -> Task:
    task.error = f"not confirmed: {error.message}"
    return task


def deep_dives(contracts: Sequence[Any], *, confirm: bool = False, expiration: int | None = None,
               api_key: str | None = None, base_url: str | None = None,
               timeout: float | None = None, progress: Any = None,
               **client_options: Any) -> pd.DataFrame:
    """Agora deep dives on token contracts, one row per contract in input order.

    ``contracts``: addresses, or ``(address, x_handle)`` pairs, or dicts with
    ``contract_address`` and ``x_handle``.

    **With ``confirm=True`` every task is confirmed, which spends one Agora credit each**, and
    kit waits for the reports (deep dives take about five minutes, sometimes hours; by default
    kit waits up to an hour, ``timeout=`` to change, ``math.inf`` for no limit; an unfinished
    task is a row with status ``running`` and an error saying kit stopped waiting).  Without it,
    the tasks are only created (status ``pending``, free) and returned: confirm them later with
    ``Agora.confirm_task``.  A repeated contract is created once.  Columns: ``contract_address,
    x_handle, task_id, status, service_status, error, deliverable, expiration_time``.
    Creates and confirms are paced to Agora's five per minute.
    """
    return run(_deep_dives(contracts, confirm=confirm, expiration=expiration, api_key=api_key,
                           base_url=base_url, timeout=timeout, progress=progress,
                           client_options=client_options))


def to_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """Any kit tasks -> a DataFrame (see :func:`kit.frames.to_frame`)."""
    return frames.to_frame(tasks)
