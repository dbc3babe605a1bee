"""Agora against the sandbox: pacing under its limits, confirm, credits, expiry, frames."""

from __future__ import annotations

import asyncio
import math

import aiohttp
import pandas as pd
import pytest

import kit
from kit.services.agora import apply, check_expiration
from tests.conftest import FAST_RETRY

CONTRACTS = ["0x" + f"{i:040x}" for i in range(1, 41)]


@pytest.fixture
async def agora(sandbox):
    async with kit.Agora(base_url=sandbox.url, api_key=sandbox.api_key("agora"),
                         retry=FAST_RETRY) as c:
        yield c


async def test_create_confirm_wait_and_credits(agora, sandbox):
    credits = await agora.credits()
    assert isinstance(credits, int)
    task = await agora.deep_dive(CONTRACTS[0], x_handle="@AgoraAgent", expiration=48)
    assert task.status is kit.Status.PENDING and task.service_status == "1"
    assert task.input == {"contract_address": CONTRACTS[0], "x_handle": "AgoraAgent",
                          "expiration": 48}
    assert await agora.credits() == credits  # creating is free
    same = await agora.confirm_task(task)
    assert same is task and task.status is kit.Status.RUNNING and task.error is None
    assert await agora.credits() == credits - 1
    [task] = await agora.wait([task], progress=False)
    assert task.status is kit.Status.COMPLETED and task.service_status == "3"
    assert task.output["deliverable"].startswith("https://reports.agoraagent.io/")
    assert sandbox.agora.confirms[task.id] == 1


async def test_twenty_tasks_are_polled_without_a_429():
    # x50, not x200: at x200 a millisecond of scheduling jitter is 0.2 service seconds.
    speed = 50
    with kit.Sandbox(speed=speed, agora_delay=(60, 90, 180)) as sb:
        async with kit.Agora(poll=kit.PollSchedule(interval=5, first=5)) as c:

            async def start(address):
                return await c.confirm_task(await c.deep_dive(address))

            tasks = await asyncio.gather(*(start(a) for a in CONTRACTS[1:21]))
            sb.log.clear()
            await c.wait(tasks, progress=False)
        hits = list(sb.log.hits)
    assert all(t.status is kit.Status.COMPLETED for t in tasks)  # no task starved
    assert not [h for h in hits if h.status == 429]  # the sandbox enforces the limits
    checks = sorted(h.at * speed for h in hits if "/checkstatus/" in h.path)
    lists = sorted(h.at * speed for h in hits if h.path == "/v1/market/tasks/account")
    assert lists  # most reads go through the account list: one request for all 20 tasks
    duration = max(checks + lists) - min(checks + lists)
    assert len(checks) <= duration * 1.0 + 1
    assert len(lists) <= duration / 6 + 1
    assert len(checks) + len(lists) < 20 * 3


async def test_unconfirmed_and_stuck_tasks_expire(sandbox, agora):
    stuck = "0x" + "5" * 40
    with kit.Sandbox(speed=200, agora_stuck={stuck}) as sb:
        async with kit.Agora(retry=FAST_RETRY) as c:
            waiting = await c.deep_dive(CONTRACTS[30])
            running = await c.confirm_task(await c.deep_dive(stuck))
            sb.clock.advance(25 * 3600)
            [w, r] = [await c.get_task(waiting.id), await c.get_task(running.id)]
    assert w.status is r.status is kit.Status.EXPIRED and w.service_status == "4"
    assert "refunded" in r.error


def test_status_mapping_and_local_expiry():
    task = kit.Task("agora", "abcdefgh", "agent-deep-dive")
    for code, status in [("1", kit.Status.PENDING), ("2", kit.Status.RUNNING),
                         ("3", kit.Status.COMPLETED), ("4", kit.Status.EXPIRED)]:
        apply(task, {"status": code, "expiration_time": 2_000_000_000}, now=1_000_000_000)
        assert task.status is status
    apply(task, {"status": "2", "expiration_time": 1_000}, now=2_000)
    assert task.status is kit.Status.EXPIRED and "without a deliverable" in task.error


async def test_sandbox_enforces_the_published_limits(sandbox):
    # Without kit's pacing: the sixth create in a minute is refused with Retry-After.
    headers = {"X-API-Key": sandbox.api_key("agora", "globex")}
    statuses, retry_after = [], None
    async with aiohttp.ClientSession() as s:
        for address in CONTRACTS[31:37]:
            async with s.post(sandbox.url + "/v1/market/newtask/agent-deep-dive", headers=headers,
                              json={"contract_address": address}) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After", retry_after)
    assert statuses[:5] == [200] * 5 and statuses[5] == 429 and int(retry_after) >= 1


async def test_no_credits_is_payment_required(sandbox):
    async with kit.Agora(api_key=sandbox.api_key("agora", "broke")) as c:
        task = await c.deep_dive(CONTRACTS[37])
        with pytest.raises(kit.PaymentRequired, match="purchase_credits"):
            await c.confirm_task(task)


async def test_invoices_and_purchase(agora, sandbox):
    wallet = "0x" + "12" * 20
    invoice = await agora.purchase_credits(10, wallet)
    assert {"status", "invoice_id", "credits", "payment_amount", "payment_token", "to_wallet",
            "expiration_time"} <= set(invoice)
    assert invoice["credits"] == 10 and invoice["from_wallet"] == wallet
    before = await agora.credits()
    sandbox.agora.pay(invoice["invoice_id"])  # the payment happens outside kit
    assert await agora.credits() == before + 10
    assert invoice["invoice_id"] in [i["invoice_id"] for i in await agora.invoices()]
    with pytest.raises(kit.InvalidRequest, match="payor_wallet"):
        await agora.purchase_credits(1, "not-a-wallet")


async def test_lists_services_and_suggestions(agora):
    services = await agora.services()
    assert {"agent-deep-dive", "on-chain-data", "other"} <= {s["service"] for s in services}
    task = await agora.deep_dive(CONTRACTS[38])
    assert task.id in [t.id for t in await agora.open_tasks()]
    assert task.id in [t.id for t in await agora.account_tasks()]
    other = await agora.suggest_service("Daily holder concentration alerts")
    assert other.status is kit.Status.RUNNING and other.kind == "other"
    assert "never completes" in other.note


@pytest.mark.parametrize("bad, message", [
    ("0x123", "not a token contract"), (None, "is missing"),
    (("0x" + "a" * 40, "@way_too_long_handle_here"), "not an X handle"),
])
def test_bad_contracts_are_refused_before_sending(sandbox, bad, message):
    before = sandbox.log.count("/v1/market")
    with pytest.raises(kit.InvalidRequest, match=message):
        kit.deep_dives(["0x" + "b" * 40, bad], progress=False)
    assert sandbox.log.count("/v1/market") == before


def test_deep_dives_frame(sandbox):
    contracts = [CONTRACTS[10], (CONTRACTS[11], "@AgoraAgent"), CONTRACTS[10].upper().replace("0X", "0x")]
    df = kit.deep_dives(contracts, confirm=True, progress=False)
    assert list(df.columns) == ["input", "contract_address", "x_handle", "task_id", "status",
                                "service_status", "error", "deliverable", "expiration_time"]
    assert df.loc[0, "task_id"] == df.loc[2, "task_id"]  # a repeated contract is created once
    assert (df["status"] == "completed").all() and (df["service_status"] == "3").all()
    assert df.loc[1, "x_handle"] == "AgoraAgent"
    assert isinstance(df["expiration_time"].dtype, pd.DatetimeTZDtype)
    unconfirmed = kit.deep_dives([CONTRACTS[12]], progress=False)
    assert unconfirmed.loc[0, "status"] == "pending" and "confirm" in unconfirmed.loc[0, "error"]
    assert sandbox.agora.confirms[unconfirmed.loc[0, "task_id"]] == 0


def test_deep_dives_out_of_credits_keeps_the_created_rows(sandbox):
    with pytest.raises(kit.PaymentRequired) as info:
        kit.deep_dives([CONTRACTS[13], CONTRACTS[14]], confirm=True,
                       api_key=sandbox.api_key("agora", "broke"), progress=False)
    df = info.value.frame
    assert list(df["contract_address"]) == [CONTRACTS[13], CONTRACTS[14]]
    created = df[df["task_id"].notna()]
    assert len(created) >= 1  # created, not confirmed: nothing was paid
    assert created["error"].str.contains("not confirmed").all()
    assert (created["status"] == "pending").all()
    assert df.loc[df["task_id"].isna(), "error"].str.startswith("not created").all()


async def test_expiration_accepts_what_the_service_may_accept(agora, sandbox):
    # The docs' text says 24-72 hours, their own example sends 1: kit refuses neither.
    task = await agora.deep_dive(CONTRACTS[39], expiration=1)
    stored = sandbox.agora.tasks[task.id]
    assert stored["expires"] - stored["start"] == 3600
    assert check_expiration(100) == 100  # deep dives document no maximum
    before = sandbox.log.count("/v1/market")
    for bad in (0, -5, 1.5, "24", True):
        with pytest.raises(kit.InvalidRequest, match="at least 1"):
            await agora.deep_dive(CONTRACTS[39], expiration=bad)
    assert sandbox.log.count("/v1/market") == before


async def test_a_suggestion_is_never_waited_for():
    with kit.Sandbox(speed=200, seed=3) as sb:
        async with kit.Agora(retry=FAST_RETRY) as c:
            other = await c.suggest_service("Weekly liquidity-pool snapshots")
            stored = sb.agora.tasks[other.id]
            assert stored["expires"] - stored["start"] == 90 * 24 * 3600
            # Without a limit: a suggestion polled until it completes would never return.
            [same] = await asyncio.wait_for(c.wait([other], timeout=math.inf, progress=False), 5)
        assert same.status is kit.Status.RUNNING and "never completes" in same.note
        async with kit.Agora(retry=FAST_RETRY) as fresh:  # another kernel: found in the journal
            resumed = await asyncio.wait_for(fresh.resume(timeout=math.inf, progress=False), 5)
        assert [t.id for t in resumed] == [other.id] and "never completes" in resumed[0].note
        assert sb.log.count("/v1/market/tasks/checkstatus") == 0
        assert sb.log.count("/v1/market/tasks/account") == 0
