"""Creating many tasks: bounded concurrency, per-input failures kept as rows, whole-call errors raised."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from .errors import KitError
from .poller import WHOLE_CALL_ERRORS
from .task import Status, Task

T = TypeVar("T")


def rejected(service: str, kind: str, task_input: dict[str, Any], error: str) -> Task:
    """The task of an input the service refused (or that could not be sent): a row, not a gap."""
    return Task(service=service, id=None, kind=kind, status=Status.FAILED, input=task_input,
                error=error)


async def create_many(
    items: Sequence[T],
    create: Callable[[T], Awaitable[Task]],
    on_error: Callable[[T, KitError], Task],
    *,
    concurrency: int = 8,
    on_created: Callable[[int], None] | None = None,
) -> list[Task]:
    """``create(item)`` for every item, at most ``concurrency`` at a time, results in input order.

    An error about one item becomes ``on_error(item, error)`` (a failed task with the reason);
    an error about the whole call (key, permission, payment) stops the batch and is raised, with
    ``error.tasks``: the tasks created so far, aligned with ``items`` (``None`` where none was).
    """
    results: list[Task | None] = [None] * len(items)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(items)):
        queue.put_nowait(index)
    done = 0
    stop: list[KitError] = []

    async def worker() -> None:
        nonlocal done
        # After a whole-call error no new item is started, but a create already under way is
        # let finish: cancelling it could lose a task the service has made.
        while not stop:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            item = items[index]
            try:
                results[index] = await create(item)
            except WHOLE_CALL_ERRORS as exc:
                stop.append(exc)
                return
            except KitError as exc:
                results[index] = on_error(item, exc)
            done += 1
            if on_created is not None:
                on_created(done)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    if stop:
        error = stop[0]
        error.tasks = list(results)  # type: ignore[attr-defined]
        raise error
    return [t for t in results if t is not None]
