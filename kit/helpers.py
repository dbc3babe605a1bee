"""The notebook helpers: one synchronous call in, one DataFrame out, progress in between."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from . import frames
from .core.batch import create_many, rejected
from .core.errors import InvalidRequest, KitError
from .core.policy import PollSchedule
from .core.poller import ProgressEvent
from .core.task import Task
from .progress import make_progress
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
        raise InvalidRequest(
            f"expected a list of {what}, got {type(values).__name__}."
        ) from None
    if not items:
        raise InvalidRequest(f"the list of {what} is empty: nothing to do.")
    return items


async def _outx_batch(
    values: Iterable[Any],
    kind: str,
    build: Callable[[list[tuple[Any, Task]]], pd.DataFrame],
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float | None,
    poll_interval: float | None,
    progress: Any,
    client_options: dict[str, Any],
) -> pd.DataFrame:
    inputs = as_input_list(values, "LinkedIn profile slugs or URLs")
    slugs = [to_slug(v) for v in inputs]  # every bad value is refused before any request
    # One task per distinct profile (slugs are case-insensitive); every matching row shares it.
    unique: dict[str, str] = {}
    for slug in slugs:
        unique.setdefault(slug.casefold(), slug)
    poll = None
    if poll_interval is not None:
        if poll_interval <= 0:
            raise InvalidRequest("poll_interval must be a positive number of seconds.")
        poll = PollSchedule(interval=poll_interval, first=poll_interval,
                            timeout=OutX.spec.schedule.timeout)
    label = f"OutX {kind}"
    async with OutX(api_key, base_url=base_url, poll=poll, **client_options) as client:
        sink = make_progress(progress, label, len(unique))
        create = client.fetch_profile if kind == "fetch-profile" else client.fetch_posts
        order = list(unique.values())

        def created(n: int) -> None:
            sink.update(ProgressEvent(label, len(order), notes=[f"created {n}/{len(order)}"]))

        tasks = await create_many(
            order,
            create,
            lambda slug, exc: rejected("outx", kind, {"profile_slug": slug}, exc.message),
            on_created=created,
        )
        await client.wait(tasks, timeout=timeout, progress=sink, label=label)
    by_slug = {t.input["profile_slug"].casefold(): t for t in tasks}
    return build([(raw, by_slug[slug.casefold()]) for raw, slug in zip(inputs, slugs, strict=True)])


def profiles(
    slugs: Iterable[str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    poll_interval: float | None = None,
    progress: Any = None,
    **client_options: Any,
) -> pd.DataFrame:
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


def posts(
    slugs: Iterable[str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    poll_interval: float | None = None,
    progress: Any = None,
    **client_options: Any,
) -> pd.DataFrame:
    """Fetch recent LinkedIn posts of profiles through OutX; one row per input with a ``posts``
    list (``kit.frames.long_table(df, "posts")`` for one row per post)."""
    return run(_outx_batch(slugs, "fetch-posts", frames.posts_frame, api_key=api_key,
                           base_url=base_url, timeout=timeout, poll_interval=poll_interval,
                           progress=progress, client_options=client_options))


def to_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """Any kit tasks -> a DataFrame (see :func:`kit.frames.to_frame`)."""
    return frames.to_frame(tasks)


__all__ = ["KitError", "as_input_list", "posts", "profiles", "to_frame"]
