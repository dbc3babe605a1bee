"""What a task costs, from the services' published prices: the one price table kit keeps.

Sources (read 2026-11, CONTRACTS.md §2 and §3): Linkup's tasks overview ("each task is billed as
the synchronous call"), in USD per task; Agora's docs, 1 credit per task (a deep dive is charged
when it is confirmed, an on-chain pull when it is created; a failed pull is refunded).  Reading a
task is free everywhere.  OutX does not charge per task: its limit is the LinkedIn pace.

An estimate is an upper bound: where the service's own default decides the price and kit does not
know that default, the dearest published price of the kind is counted.  A price nobody publishes
(Linkup research ``XL``, fetch ``mode="pro"``) cannot be kept under a budget: :func:`price` says
so with ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidRequest
from ..core.wording import plural
from .agora import DEEP_DIVE_KIND, ONCHAIN_KIND

# Linkup, USD per task.
_SEARCH = {  # depth -> (searchResults, sourcedAnswer or structured)
    "flash": (0.005, 0.006),  # flash is not priced apart: counted as fast (an upper bound)
    "fast": (0.005, 0.006),
    "standard": (0.005, 0.006),
    "deep": (0.05, 0.055),
}
_FETCH = {False: 0.001, True: 0.005}  # renderJs
_RESEARCH = {"S": 0.25, "M": 0.50, "L": 1.50}  # reasoningDepth; XL: "more", unpublished

# Agora, credits per task.
_AGORA = {DEEP_DIVE_KIND: 1.0, ONCHAIN_KIND: 1.0}


@dataclass(frozen=True)
class Currency:
    unit: str  # "USD", "credits"

    def format(self, amount: float) -> str:
        if self.unit == "USD":
            return f"${amount:,.3f}"
        return f"{amount:,.0f} credit{'' if amount == 1 else 's'}"


CURRENCIES = {"linkup": Currency("USD"), "agora": Currency("credits")}


def _linkup(kind: str, task_input: Mapping[str, Any]) -> float | None:
    if kind == "search":
        low, high = _SEARCH.get(str(task_input.get("depth") or "deep"), _SEARCH["deep"])
        return low if task_input.get("outputType") == "searchResults" else high
    if kind == "fetch":
        if task_input.get("mode") == "pro":
            return None
        return _FETCH[task_input.get("renderJs") is not False]
    if kind == "research":
        depth = task_input.get("reasoningDepth")
        return max(_RESEARCH.values()) if depth is None else _RESEARCH.get(str(depth))
    return None


def price(service: str, kind: str, task_input: Mapping[str, Any], *,
          confirm: bool = True) -> float | None:
    """One task's price in its service's currency; ``None`` when no price is published.
    ``confirm``: whether an Agora deep dive is confirmed (only then is it charged)."""
    if service == "linkup":
        return _linkup(kind, task_input)
    if service == "agora":
        if kind == DEEP_DIVE_KIND and not confirm:
            return 0.0
        return _AGORA.get(kind)
    return None  # OutX: no per-task price (see estimate)


def check_max_cost(max_cost: Any, where: str) -> float | None:
    if max_cost is None:
        return None
    if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float)) or not (
            max_cost >= 0):
        raise InvalidRequest(f"{where}: max_cost must be a number of 0 or more (USD for Linkup, "
                             f"credits for Agora), not {max_cost!r:.40}.")
    return float(max_cost)


def estimate(service: str, items: Iterable[tuple[str, Mapping[str, Any]]],
             max_cost: float | None, *, confirm: bool = True) -> str | None:
    """The batch's price as text (``"est. $0.600"``), checked against ``max_cost`` before
    anything is sent; ``None`` for a service that does not charge per task."""
    currency = CURRENCIES.get(service)
    if currency is None:
        if max_cost is not None:
            raise InvalidRequest(f"max_cost: {service} does not charge per task (OutX's limit "
                                 "is the LinkedIn pace): drop max_cost.")
        return None
    total, count = 0.0, 0
    for kind, task_input in items:
        cost = price(service, kind, task_input, confirm=confirm)
        if cost is None:
            if max_cost is not None:
                raise InvalidRequest(
                    f"max_cost: kit cannot estimate a {kind} task with {dict(task_input)!r:.120}: "
                    "its price is not published. Choose a priced option (research "
                    "reasoning_depth S, M or L; fetch mode 'standard') or drop max_cost.")
            return None
        total, count = total + cost, count + 1
    text = f"est. {currency.format(total)} for {plural(count, 'task')}"
    if max_cost is not None and total > max_cost + 1e-9:
        raise InvalidRequest(
            f"this batch would cost up to {currency.format(total)} ({plural(count, 'task')} at "
            f"{service}'s published prices), over max_cost={currency.format(max_cost)}; nothing "
            "was sent. Raise max_cost (--max-cost on the command line), or send fewer or "
            "cheaper tasks.")
    return text
