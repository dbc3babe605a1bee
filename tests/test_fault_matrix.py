"""The same batch under every fault: one row per input, true results, no duplicate creates,
nothing the journal holds is lost.

Each fault runs 200 OutX profiles, 150 Linkup searches and 10 Agora deep dives against a fresh
sandbox (service time x200) with the fault switched on.  The pace is lifted and the sandbox's
extension model made roomy here: these tests are about faults (tests/test_jobs.py is about pace).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import kit
from kit.core.journal import read_rows

SLUGS = [f"fault-person-{i}" for i in range(200)]
QUERIES = [f"fault question {i}?" for i in range(150)]
CONTRACTS = ["0x" + f"{i + 1000:040x}" for i in range(10)]
RETRY = kit.RetryPolicy(attempts=8, base_delay=0.02, max_delay=0.25, seed=5)

FAULTS: dict[str, Callable[[kit.Sandbox], None]] = {
    "5xx bursts": lambda sb: sb.faults.add("5xx", rate=0.15, times=60),
    "429 storm with Retry-After": lambda sb: sb.faults.add("429", rate=0.3, times=150,
                                                           retry_after=2),
    "429 storm without Retry-After": lambda sb: sb.faults.add("429", rate=0.3, times=150),
    "reset before handling": lambda sb: sb.faults.add("drop", rate=0.1, times=40),
    "reset after handling": lambda sb: sb.faults.add("drop", rate=0.1, times=40, after=True),
    "slower than the client timeout": lambda sb: sb.faults.add("slow", rate=0.05, times=20,
                                                               delay=0.6),
    "malformed JSON": lambda sb: sb.faults.add("bad_json", rate=0.1, times=40),
    "HTML error pages": lambda sb: sb.faults.add("html", rate=0.15, times=60),
    "sandbox restarted mid-batch": lambda sb: sb.restart(downtime=0.3, after=0.15),
}


ROOMY = {"outx_extensions": 10_000, "outx_flag": None}


def run_batch(sb: kit.Sandbox):
    opts = {"retry": RETRY, "http_timeout": 0.3, "progress": False}
    profiles = kit.profiles(SLUGS, pace=kit.Pace.unlimited(), **opts)
    answers = kit.search(QUERIES, depth="fast", **opts)
    reports = kit.deep_dives(CONTRACTS, confirm=True, **opts)
    return profiles, answers, reports


def check_outcome(sb: kit.Sandbox, profiles, answers, reports) -> dict[str, int]:
    # Every input has exactly one row, in input order.
    assert list(profiles["input"]) == SLUGS
    assert list(answers["input"]) == QUERIES
    assert list(reports["contract_address"]) == CONTRACTS
    # Completed rows are the sandbox's ground truth.
    for row in profiles[profiles["status"] == "completed"].itertuples():
        truth = sb.outx.ground_truth("fetch-profile", {"profile_slug": row.profile_slug})
        assert row.name == truth["name"] and row.headline == truth["headline"]
    for row in answers[answers["status"] == "completed"].itertuples():
        assert row.answer == sb.linkup.ground_truth(sb.linkup.tasks[row.task_id])["answer"]
    for row in reports[reports["status"] == "completed"].itertuples():
        assert row.deliverable == sb.agora.tasks[row.task_id]["deliverable"]
    # A row that is not completed says why.
    for df in (profiles, answers, reports):
        assert df.loc[df["status"] != "completed", "error"].str.len().gt(10).all()
    # At most one create per distinct input.
    for creates in (sb.outx.creates, sb.linkup.creates, sb.agora.creates):
        assert max(creates.values(), default=0) <= 1
    # Nothing lost: every task the rows know is in the journal, and every task Linkup and Agora
    # created is known (found again after a lost answer); OutX has no list to look in, so a task
    # it created whose answer was lost shows as a row that says it may exist.
    journal = {r["task_id"] for r in read_rows(sb.journal)}
    for df in (profiles, answers, reports):
        assert set(df["task_id"].dropna()) <= journal
    assert set(sb.linkup.tasks) <= journal and set(sb.agora.tasks) <= journal
    unknown_outx = set(sb.outx.tasks) - journal
    may_exist = profiles["error"].fillna("").str.contains("may have reached").sum()
    assert len(unknown_outx) <= may_exist
    return {"rows": len(profiles) + len(answers) + len(reports),
            "completed": int(sum((df["status"] == "completed").sum()
                                 for df in (profiles, answers, reports))),
            "outx_unknown": len(unknown_outx)}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_batch_survives(fault):
    with kit.Sandbox(speed=200, seed=11, agora_delay=(60, 120, 240), **ROOMY) as sb:
        FAULTS[fault](sb)
        outcome = check_outcome(sb, *run_batch(sb))
        assert sum(r.hits for r in sb.faults.rules) > 0 or fault.startswith("sandbox")
    assert outcome["rows"] == 360


def test_tasks_that_outlive_the_wait_are_rows_and_resume_finishes_them():
    # Speed 40, not 200: a loaded machine must not read the batch late enough (0.125 real s at
    # x200) to find every task done.
    with kit.Sandbox(speed=40, seed=12, **ROOMY) as sb:
        # OutX tasks take 10-60 service seconds; wait 25.
        df = kit.profiles(SLUGS[:60], timeout=25, progress=False, pace=kit.Pace.unlimited())
        late = df[df["status"].isin(["pending", "running"])]  # (running: being worked)
        assert len(late) > 0 and late["error"].str.contains("stopped waiting").all()
        creates = sum(sb.outx.creates.values())
        done = kit.resume(progress=False)
        assert set(late["task_id"]) <= set(done["task_id"])
        assert (done["status"] == "completed").all()
        assert sum(sb.outx.creates.values()) == creates
