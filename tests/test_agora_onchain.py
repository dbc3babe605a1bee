"""Agora on-chain data: started at once (never confirmed), JSON deliverable parsed into columns,
not charged when it fails, a lost answer looked up instead of paid twice."""

from __future__ import annotations

import json
import time

import aiohttp
import pandas as pd
import pytest

import kit
from kit.frames import onchain_frame
from kit.sandbox.agora import AgoraConfig, AgoraSandbox
from kit.sandbox.clock import Clock
from kit.services.agora import check_expiration
from tests.conftest import FAST_RETRY

CONTRACTS = ["0x" + f"{i:040x}" for i in range(101, 121)]
SOLANA = "So11111111111111111111111111111111111111112"


@pytest.fixture
def sb():
    # A sandbox of the test's own: these tests spend credits and read the request log.
    with kit.Sandbox(speed=200, seed=5) as sandbox:
        yield sandbox


async def test_a_pull_starts_at_once_is_charged_and_delivers_json(sb):
    async with kit.Agora(retry=FAST_RETRY) as c:
        before = await c.credits()
        task = await c.onchain(CONTRACTS[0], expiration=2)
        assert task.kind == "on-chain-data" and task.service_status == "2"
        assert task.status is kit.Status.RUNNING and task.note is None  # nothing to confirm
        assert task.input == {"contract_address": CONTRACTS[0], "expiration": 2}
        assert await c.credits() == before - 1
        [task] = await c.wait([task], progress=False)
    assert task.status is kit.Status.COMPLETED and task.service_status == "3"
    data = json.loads(task.output["deliverable"])  # raw JSON in a string, kept as sent
    assert data["chain"] == "base" and data["contract_address"] == CONTRACTS[0]
    assert {"holders", "total_supply", "price_usd", "liquidity_usd", "volume_24h"} <= set(data)
    assert sb.log.count("/v1/market/confirmtask") == 0
    stored = sb.agora.tasks[task.id]
    assert 60 <= stored["due"] - stored["start"] <= 120  # the contract's 1-2 min


async def test_a_failed_pull_is_not_charged(sb):
    sb.agora.config.onchain_fail.add(CONTRACTS[1])
    async with kit.Agora(retry=FAST_RETRY) as c:
        before = await c.credits()
        [task] = await c.wait([await c.onchain(CONTRACTS[1])], progress=False)
        assert await c.credits() == before  # spent at create, refunded on failure
    assert task.status is kit.Status.EXPIRED and task.service_status == "4"
    assert "not charged" in task.error and "failed" in task.error


async def test_a_lost_answer_is_looked_up_not_paid_twice(sb):
    # Agora created the task (and took the credit), then the answer was lost.
    sb.faults.add("5xx", times=1, method="POST", path="/v1/market/newtask/onchain", after=True)
    async with kit.Agora(retry=FAST_RETRY) as c:
        before = await c.credits()
        task = await c.onchain(CONTRACTS[2])
        assert await c.credits() == before - 1
    assert task.id in sb.agora.tasks and task.kind == "on-chain-data"
    assert sb.agora.creates[("on-chain-data", CONTRACTS[2])] == 1


async def test_no_credits_is_payment_required(sb):
    async with kit.Agora(api_key=sb.api_key("agora", "broke")) as c:
        with pytest.raises(kit.PaymentRequired, match="purchase_credits"):
            await c.onchain(CONTRACTS[3])
    assert not sb.agora.tasks


def test_onchain_data_frame(sb):
    sb.agora.config.onchain_garbled.add(CONTRACTS[5])
    sb.agora.config.onchain_fail.add(CONTRACTS[6])
    inputs = [CONTRACTS[4], {"contract_address": CONTRACTS[5]}, "not-an-address",
              CONTRACTS[4].replace("0x", "0X").upper().replace("0X", "0x"), CONTRACTS[6], SOLANA]
    df = kit.onchain_data(inputs, errors="rows", progress=False)
    assert list(df.columns[:8]) == ["input", "contract_address", "task_id", "status",
                                    "service_status", "error", "expiration_time", "deliverable"]
    assert list(df["input"]) == inputs  # one row per input, in input order
    assert list(df["status"]) == ["completed", "completed", "failed", "completed", "expired",
                                  "completed"]
    # A repeated contract (hex compares without case) is pulled once and fills both rows.
    assert df.loc[0, "task_id"] == df.loc[3, "task_id"]
    assert sb.agora.creates[("on-chain-data", CONTRACTS[4])] == 1
    assert sum(sb.agora.creates.values()) == 4
    assert sb.log.count("/v1/market/confirmtask") == 0  # never confirmed: already "2"
    # The JSON as columns: top-level keys, nested objects as a.b, whole numbers stay whole.
    assert df.loc[0, "chain"] == "base" and df.loc[5, "chain"] == "solana"
    assert isinstance(df.loc[0, "token.symbol"], str) and "token" not in df.columns
    assert str(df["holders"].dtype) == "Int64" and df.loc[0, "holders"] > 0
    assert pd.isna(df.loc[2, "holders"]) and pd.isna(df.loc[0, "deliverable"])
    # Kit's columns are not overwritten by the deliverable's own contract_address.
    assert df.loc[0, "data.contract_address"] == CONTRACTS[4]
    # Not JSON: the text is kept and the row says so.
    assert df.loc[1, "deliverable"].startswith("upstream indexer timeout")
    assert "not valid JSON" in df.loc[1, "error"] and df.loc[1, "status"] == "completed"
    assert "not a token contract" in df.loc[2, "error"] and pd.isna(df.loc[2, "task_id"])
    assert "not charged" in df.loc[4, "error"]
    assert isinstance(df["expiration_time"].dtype, pd.DatetimeTZDtype)


def test_onchain_data_out_of_credits_keeps_every_row(sb):
    with pytest.raises(kit.PaymentRequired) as info:
        kit.onchain_data(CONTRACTS[7:9], api_key=sb.api_key("agora", "broke"), progress=False)
    df = info.value.frame
    assert list(df["input"]) == CONTRACTS[7:9] and df["task_id"].isna().all()
    assert df["error"].notna().all()


def test_onchain_expiration_is_checked_before_sending(sb):
    before = sb.log.count("/v1/market")
    for bad in (0, 73, 2.5, True):
        with pytest.raises(kit.InvalidRequest, match="from 1 to 72"):
            kit.onchain_data([CONTRACTS[9]], expiration=bad, progress=False)
    assert sb.log.count("/v1/market") == before
    assert check_expiration(1, 72) == 1 and check_expiration(72, 72) == 72


def test_the_sandbox_deliverable_is_deterministic():
    def pull(seed: int, address: str) -> dict:
        agora = AgoraSandbox(Clock(1.0), [], AgoraConfig(), seed)
        data = json.loads(agora._onchain_deliverable({"contract_address": address, "due": 0.0}))
        data.pop("as_of")
        return data

    assert pull(3, CONTRACTS[0]) == pull(3, CONTRACTS[0])
    assert pull(3, CONTRACTS[0]) != pull(3, CONTRACTS[1])
    assert pull(3, CONTRACTS[0]) != pull(4, CONTRACTS[0])


def _done(deliverable: object) -> kit.Task:
    return kit.Task("agora", "abcdefgh", "on-chain-data", status=kit.Status.COMPLETED,
                    service_status="3", input={"contract_address": CONTRACTS[0]},
                    output={"deliverable": deliverable, "expiration_time": 2_000_000_000})


def test_onchain_frame_keeps_what_it_cannot_parse():
    rows = [("a", _done('{"status": "ok", "error": null, "pool": {"dex": {"name": "x"}}, '
                        '"supply": 100000000000000000000000000, "tags": [1, 2]}')),
            ("b", _done("[1, 2, 3]")),
            ("c", _done(None)),
            ("d", kit.Task("agora", None, "invalid", status=kit.Status.FAILED, error="refused"))]
    df = onchain_frame(rows)
    assert list(df["input"]) == ["a", "b", "c", "d"]
    assert df.loc[0, "status"] == "completed" and df.loc[0, "data.status"] == "ok"
    assert pd.isna(df.loc[0, "error"]) and df.loc[0, "pool.dex.name"] == "x"
    assert df.loc[0, "supply"] == 10**26 and df.loc[0, "tags"] == [1, 2]  # beyond int64: kept
    assert df.loc[1, "deliverable"] == "[1, 2, 3]" and "not an object" in df.loc[1, "error"]
    assert pd.isna(df.loc[2, "deliverable"]) and df.loc[3, "error"] == "refused"


async def test_a_job_finds_its_orphaned_pull_in_the_account_list(sb):
    # What a resumed job does for an input a killed process left "sending": look it up.
    sent_at = time.time()
    async with aiohttp.ClientSession() as s:  # made behind kit's back: no journal knows it
        async with s.post(sb.url + "/v1/market/newtask/onchain",
                          headers={"X-API-Key": sb.api_key("agora")},
                          json={"contract_address": CONTRACTS[10]}) as r:
            made = (await r.json())["task_id"]
    async with kit.Agora(retry=FAST_RETRY) as c:
        found = await c.find_created("on-chain-data", {"contract_address": CONTRACTS[10]}, sent_at)
        assert found is not None and found.id == made and found.kind == "on-chain-data"
        assert found.input == {"contract_address": CONTRACTS[10]}
        again = await c.find_created("on-chain-data", {"contract_address": CONTRACTS[10]}, sent_at)
        assert again is None  # now journaled: never adopted twice
        assert await c.find_created("on-chain-data", {"contract_address": CONTRACTS[11]},
                                    sent_at) is None
