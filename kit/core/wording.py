"""Counts and durations in messages, said as a person would: "1 row", "2 rows", "2h 10m"."""

from __future__ import annotations

import math


def plural(count: int, word: str, many: str | None = None) -> str:
    """``plural(1, "row")`` -> ``"1 row"``; ``plural(3, "row")`` -> ``"3 rows"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def format_seconds(seconds: float) -> str:
    """``41s``, ``12m 05s``, ``39h 12m``: for ETAs and waits."""
    if math.isinf(seconds):
        return "∞"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def nothing_picked_up(worker: str, hint: str, seconds: float) -> str:
    """What a job says while the service's worker takes nothing (its tasks are waiting, not
    failed)."""
    return (f"waiting for {worker}: nothing picked up for {format_seconds(seconds)} — {hint}")
