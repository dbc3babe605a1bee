"""What each scenario asks for: the same inputs, in the same order, for every contender and for
the ideal client that defines the limit."""

from __future__ import annotations

from typing import Any

# Linkup's mixed batch: one kind per position, cycling; a research task every 200 tasks
# (positions 100, 300, ...): "a few research tasks" among searches of three depths and fetches.
LINKUP_CYCLE = ("fast", "standard", "fetch", "fast", "standard", "deep", "fetch", "fast",
                "standard", "fetch")
RESEARCH_EVERY = 200


def outx_slugs(n: int) -> list[str]:
    return [f"bench-person-{i}" for i in range(n)]


def linkup_items(n: int) -> list[dict[str, Any]]:
    """``n`` Linkup tasks as the API takes them (``{"type", "input"}``), input fields the way the
    docs' examples and the official SDK send them (``depth`` and ``outputType`` always)."""
    items = []
    for i in range(n):
        if i % RESEARCH_EVERY == RESEARCH_EVERY // 2:
            items.append({"type": "research", "input": {"q": f"bench research {i}?",
                                                        "outputType": "sourcedAnswer"}})
            continue
        kind = LINKUP_CYCLE[i % len(LINKUP_CYCLE)]
        if kind == "fetch":
            items.append({"type": "fetch", "input": {"url": f"https://example.com/bench/{i}"}})
        else:
            items.append({"type": "search", "input": {"q": f"bench question {i}?", "depth": kind,
                                                      "outputType": "sourcedAnswer"}})
    return items


def agora_contracts(n: int) -> list[str]:
    return ["0x" + f"{i + 4096:040x}" for i in range(n)]


def inputs(service: str, n: int) -> list[Any]:
    return {"outx": outx_slugs, "linkup": linkup_items, "agora": agora_contracts}[service](n)
