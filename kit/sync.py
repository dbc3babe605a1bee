"""Run kit's coroutines from synchronous code: scripts, Jupyter, Colab.

With no event loop running (a script), a fresh loop runs the coroutine.  Inside Jupyter or
Colab a loop is already running in the same thread; then nest-asyncio is applied to *that* loop,
at the first call that needs it (never at import), so that the coroutine can run to completion
while the cell waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, from any synchronous context."""
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"kit.run() takes a coroutine, got {type(coro).__name__}")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        return asyncio.run(coro)
    import nest_asyncio

    nest_asyncio.apply(loop)
    return loop.run_until_complete(coro)
