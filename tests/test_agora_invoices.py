"""Agora invoices: the documented shape, three ways to list them (this key's only), status
meanings, payment and expiry, the 5/min limit."""

from __future__ import annotations

import aiohttp
import pytest

import kit
from tests.conftest import FAST_RETRY

WALLET = "0x" + "12" * 20
OTHER_WALLET = "0x" + "34" * 20


@pytest.fixture
def sb():
    with kit.Sandbox(speed=200, seed=9) as sandbox:
        yield sandbox


async def test_an_invoice_as_documented(sb):
    async with kit.Agora(retry=FAST_RETRY) as c:
        invoice = await c.purchase_credits(3, WALLET)
    assert invoice["status"] == "1" and invoice["status_meaning"] == "payment not received"
    assert len(invoice["invoice_id"]) == 128 and invoice["credits"] == 3
    amount = invoice["payment_amount"]
    assert isinstance(amount, int) and 30_000 <= amount < 31_000  # ~10,000 $AGORA a credit
    assert (invoice["payment_token"], invoice["payment_network"]) == ("$AGORA", "BASE")
    assert invoice["from_wallet"] == WALLET and invoice["to_wallet"].startswith("0x")
    assert invoice["expiration_time"] - invoice["start_time"] == 3600
    assert invoice["last_updated"] == invoice["start_time"] and invoice["message"]
    assert "tx_id" not in invoice


async def test_three_ways_to_list_and_only_this_keys(sb):
    async with kit.Agora(retry=FAST_RETRY) as c, \
            kit.Agora(api_key=sb.api_key("agora", "globex"), retry=FAST_RETRY) as other:
        mine = await c.purchase_credits(1, WALLET)
        second = await c.purchase_credits(2, OTHER_WALLET)
        theirs = await other.purchase_credits(1, WALLET)
        ids = [i["invoice_id"] for i in await c.invoices()]
        assert ids == [mine["invoice_id"], second["invoice_id"]]
        by_wallet = await c.invoices(wallet=WALLET)
        assert [i["invoice_id"] for i in by_wallet] == [mine["invoice_id"]]  # not globex's
        [one] = await c.invoices(invoice_id=second["invoice_id"])
        assert one["credits"] == 2 and one["status_meaning"] == "payment not received"
        assert await c.invoices(invoice_id=theirs["invoice_id"]) == []  # another key's: unseen
    hits = {h.path.split("/")[4] for h in sb.log.hits if "/invoices/" in h.path}
    assert hits == {"byaccount", "bywallet", "byinvoiceid"}


async def test_paid_credited_and_expired(sb):
    async with kit.Agora(retry=FAST_RETRY) as c:
        paid = await c.purchase_credits(2, WALLET)
        pending = await c.purchase_credits(1, WALLET)
        unpaid = await c.purchase_credits(1, WALLET)
        before = await c.credits()
        sb.agora.pay(paid["invoice_id"])  # the payment happens outside kit
        sb.agora.pay(pending["invoice_id"], credited=False)
        assert await c.credits() == before + 2
        sb.clock.advance(3601)  # an hour of service time: the unpaid one expires
        by_id = {i["invoice_id"]: i for i in await c.invoices(wallet=WALLET)}
    assert by_id[paid["invoice_id"]]["status"] == "3"
    assert by_id[paid["invoice_id"]]["status_meaning"] == "credits available"
    assert by_id[paid["invoice_id"]]["tx_id"].startswith("0x")
    assert by_id[pending["invoice_id"]]["status_meaning"] == "payment confirmed"
    assert by_id[unpaid["invoice_id"]]["status"] == "4"
    assert by_id[unpaid["invoice_id"]]["status_meaning"] == "expired or canceled"
    assert "tx_id" not in by_id[unpaid["invoice_id"]]


@pytest.mark.parametrize("kwargs, message", [
    ({"wallet": WALLET, "invoice_id": "a" * 128}, "not both"),
    ({"wallet": "0x123"}, "not a wallet address"),
    ({"invoice_id": "../credits/check"}, "not an Agora invoice id"),
    ({"invoice_id": ""}, "not an Agora invoice id"),
])
async def test_bad_arguments_are_refused_before_sending(sb, kwargs, message):
    async with kit.Agora(retry=FAST_RETRY) as c:
        with pytest.raises(kit.InvalidRequest, match=message):
            await c.invoices(**kwargs)
    assert sb.log.count("/v1/market") == 0


async def test_the_sandbox_limits_invoices_to_five_a_minute(sb):
    headers = {"X-API-Key": sb.api_key("agora")}
    statuses, retry_after = [], None
    async with aiohttp.ClientSession() as s:
        for _ in range(6):
            async with s.get(sb.url + "/v1/market/invoices/byaccount", headers=headers) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After", retry_after)
    assert statuses == [200] * 5 + [429] and int(retry_after) >= 1


async def test_kit_paces_invoices_and_never_meets_the_429(sb):
    async with kit.Agora(retry=FAST_RETRY) as c:
        for _ in range(4):
            await c.invoices()
        for _ in range(3):
            await c.invoices(wallet=WALLET)
    hits = [h for h in sb.log.hits if "/invoices/" in h.path]
    assert len(hits) == 7 and all(h.status == 200 for h in hits)
    # Seven reads at five a minute (one bucket for the three paths): the sixth is at least a
    # minute of service time after the first.
    assert (hits[5].at - hits[0].at) * sb.speed >= 59
