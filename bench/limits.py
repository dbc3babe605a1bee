"""The limit of a scenario: the earliest instant its last task can finish.

An *ideal client* sends every create the moment the service's **published** limits allow it, and
reads nothing (it knows when each task is done).  It runs against the sandbox's own code, in this
process, on a clock it sets by hand: the tasks' durations, OutX's extension queue and flagging,
Linkup's queue limit and Agora's rate windows are the sandbox's, with the seed every contender
gets.  The sandbox runs with ``durations_by_input``, so a task's duration follows from its input,
not from the order tasks arrive in: the same for the ideal client and for every contender.

- OutX at the safe pace: ~50 LinkedIn actions per hour, "spread out" (OutX's rate-limits page):
  create *i* at ``i * 3600 / 50`` s, in input order; the extensions work them as the sandbox does.
- OutX across nights (the browser closed part of each day): the action happens when the
  extension picks a task up, so task *i* is created the moment it can start at once: 72 s after
  the previous start, once the extension is free, at the first instant the browser is open.
  With the pace lifted (scenario 4, as many extensions as tasks, no flagging): every task created
  at 0, so the limit is the longest task.
- Linkup: at most 100 tasks per POST and never more than the queue limit in flight; the ideal
  client sends, in input order, as many tasks as fit whenever one finishes.  Linkup publishes no
  request rate, so the sandbox's (unpublished) 50 requests/s is lifted for it.
- Agora: creates and confirms at 5 per rolling minute each (status reads, 1/s, are not needed):
  task *i* created and confirmed at once, at ``60 * (i // 5)`` s.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

import kit
from kit.sandbox.clock import Clock

from .workloads import inputs

OUTX_PACE_PER_HOUR = 50.0  # OutX's published "~50 LinkedIn-action calls per hour"
LINKUP_PER_POST = 100
AGORA_PER_MINUTE = 5  # creates, and confirms, per rolling minute


class HandClock(Clock):
    """Service time that moves only when the ideal client sets it."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.at = 0.0

    def now(self) -> float:
        return self.at + self._offset


def _sandbox(options: dict[str, Any]) -> tuple[kit.Sandbox, HandClock]:
    sb = kit.Sandbox(activate=False, **options)
    clock = HandClock()
    for holder in (sb, sb.outx, sb.linkup, sb.agora):
        holder.clock = clock
    return sb, clock


async def _with_client(options: dict[str, Any], ideal) -> float:
    sb, clock = _sandbox(options)
    async with TestClient(TestServer(sb.app())) as client:
        return await ideal(sb, clock, client)


async def _outx_paced(items: list[str], per_hour: float):
    spacing = 3600.0 / per_hour

    async def ideal(sb: kit.Sandbox, clock: HandClock, client: TestClient) -> float:
        headers = {"x-api-key": sb.api_key("outx")}
        for i, slug in enumerate(items):
            clock.at = i * spacing
            async with client.post("/linkedin-agent/fetch-profile", headers=headers,
                                   json={"profile_slug": slug}) as r:
                assert r.status == 200, await r.text()
        assert not sb.outx.flagged, "the ideal client at the pace was flagged"
        return max(sb.outx.completion_times())

    return ideal


async def _outx_at_pickup(items: list[str], per_hour: float):
    spacing = 3600.0 / per_hour

    async def ideal(sb: kit.Sandbox, clock: HandClock, client: TestClient) -> float:
        headers = {"x-api-key": sb.api_key("outx")}
        crew = sb.outx._crew("acme")
        at = 0.0
        for slug in items:
            clock.at = at = sb.outx.online_from(crew, at)  # open, and not flagged
            async with client.post("/linkedin-agent/fetch-profile", headers=headers,
                                   json={"profile_slug": slug}) as r:
                assert r.status == 200, await r.text()
                task = sb.outx.tasks[(await r.json())["api_agent_task_id"]]
            assert task["start"] == at, "the ideal client's task waited for the extension"
            at = max(at + spacing, min(crew.free))  # the pace, and a free extension
        assert not sb.outx.flagged, "the ideal client at the pace was flagged"
        return max(sb.outx.completion_times())

    return ideal


def _outx_unpaced(items: list[str], options: dict[str, Any]) -> float:
    """All created at 0 with an extension each: the longest task (the sandbox's own draw)."""
    sb, _ = _sandbox(options)
    assert sb.outx.config.extensions >= len(items) and not sb.outx.config.flagging
    return max(sb.outx.duration_of("fetch-profile", slug) for slug in items)


async def _linkup(sb: kit.Sandbox, clock: HandClock, client: TestClient,
                  items: list[dict[str, Any]]) -> float:
    sb.linkup.config.requests_per_second = math.inf  # not published: not a limit
    key = sb.api_key("linkup")
    headers = {"Authorization": f"Bearer {key}"}
    limit = sb.linkup.config.queue_limit
    queue = list(items)
    while queue:
        free = limit - sb.linkup.in_flight(key)
        while free > 0 and queue:
            chunk, queue = queue[:min(free, LINKUP_PER_POST)], queue[min(free, LINKUP_PER_POST):]
            async with client.post("/v1/tasks", headers=headers, json=chunk) as r:
                assert r.status == 200, await r.text()
            free -= len(chunk)
        if queue:  # the next instant a slot frees
            clock.at = min(t["due"] for t in sb.linkup.tasks.values() if t["due"] > clock.at)
    return max(t["due"] for t in sb.linkup.tasks.values())


async def _agora(sb: kit.Sandbox, clock: HandClock, client: TestClient,
                 items: list[str]) -> float:
    headers = {"X-API-Key": sb.api_key("agora")}
    for i, contract in enumerate(items):
        clock.at = 60.0 * (i // AGORA_PER_MINUTE)
        async with client.post("/v1/market/newtask/agent-deep-dive", headers=headers,
                               json={"contract_address": contract}) as r:
            assert r.status == 200, await r.text()
            task_id = (await r.json())["task_id"]
        async with client.post(f"/v1/market/confirmtask/{task_id}", headers=headers) as r:
            assert r.status == 200, await r.text()
    return max(t["due"] for t in sb.agora.tasks.values())


def limit(service: str, n: int, options: dict[str, Any], paced: bool = True,
          pickup: bool = False) -> float:
    """The scenario's limit for its first ``n`` inputs (service seconds from the first create);
    ``pickup``: each task starts when the pace and the extension allow (its browser closes)."""
    items = inputs(service, n)
    if service == "outx" and not paced:
        return _outx_unpaced(items, options)

    async def compute() -> float:
        if service == "outx":
            ideal_outx = _outx_at_pickup if pickup else _outx_paced
            return await _with_client(options, await ideal_outx(items, OUTX_PACE_PER_HOUR))
        ideal = _linkup if service == "linkup" else _agora
        return await _with_client(options, lambda sb, clock, client: ideal(sb, clock, client,
                                                                            items))

    return asyncio.run(compute())


def kit_pace_last_create(n: int, seeds: int = 5) -> float:
    """Where kit's own pace rule (``kit.Pace()``, its default) puts the last of ``n`` creates
    with no latency at all, averaged over ``seeds`` jitter draws: what kit's design costs
    against the ideal ``(n - 1) * 72`` s before any request is sent (evidence for target 1)."""
    import random

    pace = kit.Pace()
    lasts = []
    for seed in range(seeds):
        rng, sent, not_before = random.Random(seed), [0.0], pace.gap(random.Random(seed))
        for _ in range(n - 1):
            at = pace.next_send(sent[-120:], not_before, sent[-1])
            sent.append(at)
            not_before = at + pace.gap(rng)
        lasts.append(sent[-1])
    return sum(lasts) / len(lasts)
