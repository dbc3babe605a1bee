"""max_cost: a batch is priced from the published table before anything is sent."""

from __future__ import annotations

import math

import pytest

import kit
from kit.services import prices


def test_published_prices():
    assert prices.price("linkup", "search", {"depth": "standard", "outputType": "searchResults"}) == 0.005
    assert prices.price("linkup", "search", {"depth": "fast", "outputType": "sourcedAnswer"}) == 0.006
    assert prices.price("linkup", "search", {"depth": "deep", "outputType": "structured"}) == 0.055
    assert prices.price("linkup", "search", {"depth": "flash", "outputType": "searchResults"}) == 0.005
    assert prices.price("linkup", "fetch", {"renderJs": False}) == 0.001
    assert prices.price("linkup", "fetch", {"renderJs": True}) == 0.005
    assert prices.price("linkup", "fetch", {}) == 0.005  # the service's default: the dearer price
    assert prices.price("linkup", "fetch", {"mode": "pro"}) is None
    assert prices.price("linkup", "research", {"reasoningDepth": "S"}) == 0.25
    assert prices.price("linkup", "research", {"reasoningDepth": "XL"}) is None
    assert prices.price("linkup", "research", {}) == 1.5
    assert prices.price("agora", "agent-deep-dive", {}, confirm=False) == 0
    assert prices.price("agora", "agent-deep-dive", {}) == prices.price("agora", "on-chain-data", {}) == 1


def test_over_budget_is_refused_before_sending(sandbox):
    before = sandbox.log.count()
    questions = [f"budget question {i}" for i in range(10)]  # 10 x $0.006 = $0.06
    with pytest.raises(kit.InvalidRequest, match=r"up to \$0.060 .*max_cost=\$0.050") as info:
        kit.search(questions, max_cost=0.05, progress=False)
    assert "nothing was sent" in str(info.value)
    with pytest.raises(kit.InvalidRequest, match="not published"):
        kit.research(["q"], reasoning_depth="XL", max_cost=100, progress=False)
    with pytest.raises(kit.InvalidRequest, match="3 credits"):
        kit.deep_dives(["0x" + f"{i:040x}" for i in range(1, 4)], confirm=True, max_cost=2,
                       progress=False)
    with pytest.raises(kit.InvalidRequest, match="does not charge per task"):
        kit.profiles(["williamhgates"], max_cost=1)
    with pytest.raises(kit.InvalidRequest, match="does not charge per task"):
        kit.posts(["williamhgates"], max_cost=1)
    with pytest.raises(kit.InvalidRequest, match="max_cost must be a number"):
        kit.search(["q"], max_cost=-1)
    with pytest.raises(kit.InvalidRequest, match="max_cost must be a number"):
        kit.search(["q"], max_cost=math.nan)
    assert sandbox.log.count() == before


def test_within_budget_runs_and_shows_the_estimate(sandbox, capsys):
    questions = ["budget ok 1", "budget ok 2", "budget ok 1"]  # two distinct tasks: $0.012
    df = kit.search(questions, max_cost=0.012, progress=True)
    assert list(df["status"]) == ["completed"] * 3
    label = "Linkup search · 2 distinct, 1 repeat · est. $0.012 for 2 tasks"
    assert f"{label}: 2/2 done" in capsys.readouterr().err
    # unconfirmed deep dives are free: no budget needed
    dives = kit.deep_dives(["0x" + "ab" * 20], max_cost=0, progress=False)
    assert dives.loc[0, "status"] == "pending"
    assert "est. 0 credits" in kit.jobs()["label"].iloc[-1]
