"""The sandbox's ``durations_by_input``: a task's duration follows from its input and the seed, not
from the order tasks arrive in (the benchmark computes one limit for every contender from it)."""

from __future__ import annotations

import aiohttp
import pytest

import kit

SLOW = 1e-3  # service time barely moves: the durations read back are the drawn ones


async def _outx_durations(slugs: list[str], by_input: bool) -> dict[str, float]:
    with kit.Sandbox(speed=SLOW, seed=3, activate=False, outx_flag=None,
                     durations_by_input=by_input) as sb:
        headers = {"x-api-key": sb.api_key("outx")}
        async with aiohttp.ClientSession(headers=headers) as session:
            for slug in slugs:
                async with session.post(f"{sb.url}/linkedin-agent/fetch-profile",
                                        json={"profile_slug": slug}) as r:
                    assert r.status == 200
        return {t["input"]["profile_slug"]: t["duration"] for t in sb.outx.tasks.values()}


async def _linkup_durations(items: list[dict], by_input: bool) -> dict[str, float]:
    with kit.Sandbox(speed=SLOW, seed=3, activate=False, durations_by_input=by_input) as sb:
        headers = {"Authorization": f"Bearer {sb.api_key('linkup')}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(f"{sb.url}/v1/tasks", json=items) as r:
                assert r.status == 200
        return {t["input"]["q"]: t["due"] - t["created"] for t in sb.linkup.tasks.values()}


async def _agora_durations(contracts: list[str], by_input: bool) -> dict[str, float]:
    with kit.Sandbox(speed=SLOW, seed=3, activate=False, durations_by_input=by_input) as sb:
        headers = {"X-API-Key": sb.api_key("agora")}
        async with aiohttp.ClientSession(headers=headers) as session:
            for contract in contracts:  # create then confirm each, as a client would
                async with session.post(f"{sb.url}/v1/market/newtask/agent-deep-dive",
                                        json={"contract_address": contract}) as r:
                    task_id = (await r.json())["task_id"]
                async with session.post(f"{sb.url}/v1/market/confirmtask/{task_id}") as r:
                    assert r.status == 200
        return {t["contract_address"]: t["due"] - t["last_updated"]
                for t in sb.agora.tasks.values()}


@pytest.mark.asyncio
async def test_outx_durations_follow_the_input_not_the_order() -> None:
    slugs = [f"person-{i}" for i in range(8)]
    forward = await _outx_durations(slugs, by_input=True)
    backward = await _outx_durations(slugs[::-1], by_input=True)
    assert forward == backward
    assert len(set(forward.values())) == len(slugs)  # still drawn, not one constant
    # the default (one shared stream) depends on the order: the reason for the option
    assert await _outx_durations(slugs, False) != await _outx_durations(slugs[::-1], False)


@pytest.mark.asyncio
async def test_linkup_durations_follow_the_input_not_the_order() -> None:
    items = [{"type": "search", "input": {"q": f"question {i}?", "depth": "deep"}}
             for i in range(6)]
    forward = await _linkup_durations(items, by_input=True)
    backward = await _linkup_durations(items[::-1], by_input=True)
    assert forward == pytest.approx(backward, abs=1e-3)  # created at a barely moving clock
    assert all(5.0 <= d <= 30.5 for d in forward.values())  # a deep search's published range


@pytest.mark.asyncio
async def test_agora_durations_follow_the_contract_not_the_order() -> None:
    contracts = ["0x" + f"{i + 4096:040x}" for i in range(4)]  # within the 5/min limits
    forward = await _agora_durations(contracts, by_input=True)
    backward = await _agora_durations(contracts[::-1], by_input=True)
    assert forward == pytest.approx(backward, abs=1e-3)
    assert all(120.0 <= d <= 900.0 for d in forward.values())
