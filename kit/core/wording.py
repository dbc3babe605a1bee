"""Counts in messages, said as a person would: "1 row", "2 rows"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``plural(1, "row")`` -> ``"1 row"``; ``plural(3, "row")`` -> ``"3 rows"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"
