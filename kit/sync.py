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
from collections.abc import Callable, Coroutine
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


class LoopThread:
    """A coroutine run to completion on an event loop of its own in a worker thread, in a copy
    of the starting thread's context (so that its output, progress bar included, lands in the
    notebook cell that started it).  Used by :func:`run` and by background jobs."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Any]], name: str) -> None:
        self._make = make
        self.loop = asyncio.new_event_loop()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._task: asyncio.Task[Any] | None = None
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._work,), name=name,
                                       daemon=True)

    def start(self) -> LoopThread:
        self.thread.start()
        return self

    def _work(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._task = self.loop.create_task(self._make())
            self.result = self.loop.run_until_complete(self._task)
        except BaseException as exc:  # handed to whoever waits
            self.error = exc
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                self.loop.close()
                self.done.set()

    def call_soon(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the worker's loop (nothing once the loop is closed)."""
        try:
            self.loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop just closed: the work is over anyway
            pass

    def cancel(self) -> None:
        if self._task is not None:
            self.call_soon(self._task.cancel)


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    worker = LoopThread(lambda: coro, "kit-run").start()
    try:
        while not worker.done.wait(0.1):
            pass
    except KeyboardInterrupt:  # the user interrupted the kernel: stop the work, then raise
        worker.cancel()
        worker.done.wait()
        raise
    if worker.error is not None:
        raise worker.error
    return worker.result  # type: ignore[no-any-return]
