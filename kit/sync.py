"""Run kit's coroutines from synchronous code: scripts, Jupyter, Colab.

With no event loop running (a script), a fresh loop runs the coroutine.

Inside Jupyter or Colab a loop is already running in this thread, and the cell blocks it while
it waits for ``kit.run``.  The default then runs the coroutine to completion on a loop of its own
in a worker thread, in a copy of this context (so its output, progress bar included, lands in
this cell), and waits for it; an interrupt cancels it.  Nothing is patched.

Why not nest-asyncio by default: it re-enters the kernel's own loop, and ipykernel 7 keeps the
next queued cells there as tasks, so "Run All" in JupyterLab ran the next cell inside this one
and hung (tests/test_browser.py saw it).  ``mode="nest"`` still applies nest-asyncio to the
running loop, at the first call that asks (never at import), for a coroutine that must run on
the kernel's own loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], *, mode: Literal["thread", "nest"] = "thread") -> T:
    """Run ``coro`` to completion and return its result, from any synchronous context."""
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"kit.run() takes a coroutine, got {type(coro).__name__}")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        return asyncio.run(coro)
    if mode == "nest":
        import nest_asyncio

        nest_asyncio.apply(loop)
        return loop.run_until_complete(coro)
    if mode != "thread":
        coro.close()
        raise ValueError("mode must be 'thread' or 'nest'")
    return _run_in_thread(coro)


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    worker_loop = asyncio.new_event_loop()
    outcome: list[tuple[bool, Any]] = []
    main: list[asyncio.Task[T]] = []

    def work() -> None:
        asyncio.set_event_loop(worker_loop)
        try:
            main.append(worker_loop.create_task(coro))
            outcome.append((True, worker_loop.run_until_complete(main[0])))
        except BaseException as exc:  # handed to the calling thread
            outcome.append((False, exc))
        finally:
            try:
                worker_loop.run_until_complete(worker_loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                worker_loop.close()

    context = contextvars.copy_context()  # the cell's output context travels with the work
    thread = threading.Thread(target=context.run, args=(work,), name="kit-run", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:  # the user interrupted the kernel: stop the work, then raise
        if main:
            worker_loop.call_soon_threadsafe(main[0].cancel)
        thread.join()
        raise
    ok, value = outcome[0]
    if ok:
        return value
    raise value
