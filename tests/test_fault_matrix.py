"""The same batch under every fault: one row per input, true results, no duplicate creates,
nothing the journal holds is lost.

Each fault runs 200 OutX profiles, 150 Linkup searches and 10 Agora deep dives against a fresh
sandbox (service time x200) with the fault switched on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
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


def run_batch(sb: kit.Sandbox):
    opts = {"retry": RETRY, "http_timeout": 0.3, "progress": False}
    profiles = kit.profiles(SLUGS, **opts)
    answers = kit.search(QUERIES, depth="fast", **opts)
    reports = kit.deep_dives(CONTRACTS, confirm=True, **opts)
    return profiles, answers, reports


def check_outcome(sb: kit.Sandbox, profiles, answers, reports) -> dict[str, int]:
    # Every input has exactly one row, in input order.
    assert list(profiles["input"]) == SLUGS
    assert list(answers["query"]) == QUERIES
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
    with kit.Sandbox(speed=200, seed=11, agora_delay=(60, 120, 240)) as sb:
        FAULTS[fault](sb)
        outcome = check_outcome(sb, *run_batch(sb))
        assert sum(r.hits for r in sb.faults.rules) > 0 or fault.startswith("sandbox")
    assert outcome["rows"] == 360


def test_tasks_that_outlive_the_wait_are_rows_and_resume_finishes_them():
    with kit.Sandbox(speed=200, seed=12) as sb:
        # OutX tasks take 10-60 service seconds; wait 25.
        df = kit.profiles(SLUGS[:60], timeout=25, progress=False)
        late = df[df["status"] == "pending"]
        assert len(late) > 0 and late["error"].str.contains("stopped waiting").all()
        creates = sum(sb.outx.creates.values())
        done = kit.resume(progress=False)
        assert set(late["task_id"]) <= set(done["task_id"])
        assert (done["status"] == "completed").all()
        assert sum(sb.outx.creates.values()) == creates


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_killed_mid_batch_and_a_new_process_resumes(tmp_path):
    port, speed = _free_port(), 20
    server = subprocess.Popen([sys.executable, "-m", "kit", "sandbox", "--port", str(port),
                               "--speed", str(speed)], stdout=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(4)]
        key = re.search(r"OUTX_API_KEY=(\S+)", "".join(lines)).group(1)
        env = {**os.environ, "KIT_JOURNAL": str(tmp_path / "journal.sqlite3"),
               "OUTX_API_KEY": key, "OUTX_BASE_URL": f"http://127.0.0.1:{port}"}
        code = textwrap.dedent(f"""
            import kit
            kit.profiles({SLUGS!r}, time_scale={speed}, progress=False)
        """)
        client = subprocess.Popen([sys.executable, "-c", code], env=env)
        journal = tmp_path / "journal.sqlite3"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it once it has created some tasks
            if journal.exists() and len(read_rows(journal)) >= 50:
                break
            time.sleep(0.05)
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
        journaled = {r["task_id"] for r in read_rows(journal)}
        assert 50 <= len(journaled) < 200

        resume = textwrap.dedent(f"""
            import kit
            df = kit.resume(services=["outx"], time_scale={speed}, progress=False)
            print(df["status"].value_counts().to_dict())
        """)
        out = subprocess.run([sys.executable, "-c", resume], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        counts = eval(out.stdout.strip())  # a dict printed by the resuming process
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/stats") as r:
            stats = json.load(r)
        # The journal lost nothing it had; resume created nothing and finished every task.
        assert stats["outx"]["creates"] == stats["outx"]["tasks"]
        assert journaled <= set(stats["outx_task_ids"])
        assert set(read_rows(journal)[i]["status"] for i in range(len(journaled))) == {
            "completed"}
        assert sum(counts.values()) <= len(journaled) and set(counts) <= {"completed"}
        # Tasks created in the instant of the kill, answer not yet journaled: at most the
        # creates in flight.
        assert stats["outx"]["tasks"] - len(journaled) <= 8
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
