"""Jobs against the sandbox: the pace, rows from the first instant, two processes on one journal,
kills at several instants and the resume after them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import kit

SPEED = 600  # an hour of the pace (50 creates) in 6 s


def _env(sb: kit.Sandbox, journal: os.PathLike[str]) -> dict[str, str]:
    return {**os.environ, "KIT_JOURNAL": str(journal), "OUTX_API_KEY": sb.api_key("outx"),
            "OUTX_BASE_URL": sb.url}


def _count(journal: os.PathLike[str], sql: str) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
            return int(db.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_job_has_one_row_per_input_from_the_first_instant(sandbox):
    slugs = ["row-a", "row-b", "ROW-A", "not a slug!", "row-c"]
    job = kit.profiles(slugs, wait=False, errors="rows", pace=kit.Pace(per_hour=3600, per_minute=60))
    first = job.frame()
    assert list(first["input"]) == slugs  # at once, before anything came back
    assert set(first["status"]) <= {"queued", "pending", "completed", "failed"}
    assert first.loc[3, "status"] == "failed" and "cannot be" in first.loc[3, "error"]
    df = job.wait(progress=False)
    assert job.done and job.state == "done"
    assert list(df["status"]) == ["completed", "completed", "completed", "failed", "completed"]
    assert df.loc[0, "task_id"] == df.loc[2, "task_id"]  # one task for the repeated profile
    listed = kit.jobs().set_index("job_id").loc[job.id]
    assert (listed["state"], listed["inputs"], listed["created"]) == ("done", 3, 3)  # distinct requests
    assert "3/3 done" in repr(job)


def test_the_pace_holds_and_a_burst_gets_the_team_flagged():
    slugs = [f"paced-{i}" for i in range(24)]
    with kit.Sandbox(speed=3600, seed=3) as sb:  # flagging on: 10 a minute, 120 an hour
        started = time.monotonic()
        df = kit.profiles(slugs, progress=False)
        wall = time.monotonic() - started
        stats = sb.stats()["outx"]
        assert (df["status"] == "completed").all()
        assert stats["max_actions_per_minute"] <= 5 and stats["max_actions_per_hour"] <= 50
        assert stats["flagged_teams"] == []
        assert wall >= 23 * 72 * 0.75 / 3600  # spread out, not sent at once
    with kit.Sandbox(speed=3600, seed=3, outx_extensions=8) as sb:
        df = kit.profiles(slugs, progress=False, pace=kit.Pace.unlimited(), timeout=600)
        stats = sb.stats()["outx"]
        assert stats["flagged_teams"] == ["acme"]  # what OutX warns of
        assert stats["max_actions_per_minute"] > 10  # LinkedIn saw the burst: executions
        assert (df["status"] != "completed").sum() > 0  # the extension stopped taking tasks


def test_cancel_stops_creating_and_resume_skips_a_cancelled_job(sandbox):
    slugs = [f"cancel-{i}" for i in range(40)]
    job = kit.profiles(slugs, wait=False, pace=kit.Pace(per_hour=360, per_minute=None))
    time.sleep(0.3)
    job.cancel()  # 50 ms apart at x200: about six are out
    created = sum(1 for s in slugs if sandbox.outx.creates[("fetch-profile", s)])
    assert 0 < created < 40 and job.state == "cancelled"
    df = job.frame()
    assert len(df) == 40 and (df["status"] == "queued").sum() == 40 - created
    kit.resume(services=["outx"], progress=False)
    assert sum(1 for s in slugs if sandbox.outx.creates[("fetch-profile", s)]) == created


def test_two_processes_on_one_journal_share_the_pace_and_send_each_input_once(tmp_path):
    slugs = [f"shared-{i}" for i in range(40)]
    code = textwrap.dedent(f"""
        import kit
        df = kit.profiles({slugs!r}, time_scale={SPEED}, progress=False)
        print(df["status"].value_counts().to_dict())
    """)
    with kit.Sandbox(speed=SPEED, seed=5, activate=False) as sb:
        env = _env(sb, tmp_path / "journal.sqlite3")
        procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        stats = sb.stats()["outx"]
    assert [json.loads(o.replace("'", '"')) for o, _ in outs] == [{"completed": 40}] * 2
    assert stats["creates"] == 40 and stats["most_creates_per_input"] == 1
    assert stats["max_actions_per_minute"] <= 5 and stats["max_actions_per_hour"] <= 50
    assert stats["flagged_teams"] == []


KILL_POINTS = {
    "after the first create": "SELECT COUNT(*) FROM items WHERE state='created'",
    "after ten creates": "SELECT COUNT(*) >= 10 FROM items WHERE state='created'",
    "while a create is in flight": "SELECT COUNT(*) FROM items WHERE state='sending' AND position >= 5",
    "all created, still polling": "SELECT COUNT(*) = 20 FROM items WHERE state='created'",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume_sends_each_input_at_most_once_and_keeps_every_row(tmp_path, point):
    slugs = [f"killed-{i}" for i in range(20)]
    journal = tmp_path / "journal.sqlite3"
    code = textwrap.dedent(f"""
        import kit
        kit.profiles({slugs!r}, time_scale={SPEED}, progress=False)
    """)
    with kit.Sandbox(speed=SPEED, seed=9, activate=False) as sb:
        stuck = sb.outx.config.stuck
        if point == "all created, still polling":
            stuck.add(slugs[-1])  # the last task is never picked up: the process still polls
        env = _env(sb, journal)
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        deadline = time.monotonic() + 60
        if point == "while a create is in flight":  # after five, the next answer takes 3 s
            while time.monotonic() < deadline and _count(
                    journal, "SELECT COUNT(*) FROM items WHERE state='created'") < 5:
                time.sleep(0.005)
            sb.faults.add("slow", delay=3.0, method="POST", path="/linkedin-agent/fetch-profile",
                          times=1)
        while time.monotonic() < deadline and not _count(journal, KILL_POINTS[point]):
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        created_before = sb.stats()["outx"]["creates"]
        assert created_before < 20 or point == "all created, still polling"

        resume = textwrap.dedent(f"""
            import kit
            df = kit.resume(services=["outx"], time_scale={SPEED}, progress=False, timeout=120)
            print(df[["input", "status", "error"]].to_json(orient="records"))
        """)
        out = subprocess.run([sys.executable, "-c", resume], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        stats = sb.stats()["outx"]
    assert [r["input"] for r in rows] == slugs  # every row, in input order
    assert stats["most_creates_per_input"] <= 1  # nothing sent twice
    statuses = [r["status"] for r in rows]
    unknown = [r for r in rows if r["status"] == "unknown"]
    if point == "while a create is in flight":
        assert len(unknown) == 1 and "may have reached OutX" in unknown[0]["error"]
    else:
        assert not unknown
    if point == "all created, still polling":
        assert statuses.count("completed") == 19 and statuses.count("pending") == 1
        assert stats["creates"] == 20  # resume created nothing
    else:
        assert statuses.count("completed") == 20 - len(unknown)  # the rest were sent by resume
    assert stats["max_actions_per_minute"] <= 5 and stats["flagged_teams"] == []


def test_resume_with_only_a_key_finds_the_service_and_origin_in_the_journal(tmp_path):
    book = str(tmp_path / "journal.sqlite3")
    slugs = [f"by-key-{i}" for i in range(12)]
    with kit.Sandbox(speed=SPEED, seed=2, activate=False) as sb:
        key = sb.api_key("outx")
        job = kit.profiles(slugs, api_key=key, base_url=sb.url, time_scale=SPEED, wait=False,
                           journal=book)
        time.sleep(0.4)
        job.stop()  # as a dead kernel leaves it
        assert job.state == "stopped" and 0 < sb.stats()["outx"]["creates"] < 12
        df = kit.resume(api_key=key, time_scale=SPEED, progress=False, journal=book)
        stats = sb.stats()["outx"]
    assert list(df["input"]) == slugs and set(df["job_id"]) == {job.id}
    assert (df["status"] == "completed").all()
    assert stats["creates"] == 12 and stats["most_creates_per_input"] == 1
    assert kit.jobs(book).set_index("job_id").loc[job.id, "state"] == "done"


def test_a_whole_call_error_mid_burst_loses_no_task_and_sends_none_twice(sandbox):
    slugs = [f"burst-403-{i}" for i in range(64)]
    key_fault = sandbox.faults.add("5xx", status=403, rate=0.1, times=1, method="POST",
                                   path="/linkedin-agent/fetch-profile")
    with pytest.raises(kit.PermissionDenied) as info:
        kit.profiles(slugs, pace=kit.Pace.unlimited(), progress=False)
    assert key_fault.hits == 1
    df = info.value.frame
    assert list(df["input"]) == slugs
    made = {s for s in slugs if sandbox.outx.creates[("fetch-profile", s)]}
    journaled = set(df.loc[df["task_id"].notna(), "input"])
    assert made == journaled  # every task the service made is in the rows and the journal
    assert set(df.loc[df["task_id"].isna(), "status"]) <= {"queued"}
    sandbox.faults.clear()
    done = kit.resume(services=["outx"], progress=False)
    mine = done[done["input"].isin(slugs)]
    assert len(mine) == 64 and (mine["status"] == "completed").all()
    assert all(sandbox.outx.creates[("fetch-profile", s)] == 1 for s in slugs)


def test_reopening_a_running_job_gives_the_same_handle(sandbox):
    job = kit.profiles([f"twice-{i}" for i in range(6)], wait=False,
                       pace=kit.Pace(per_hour=3600, per_minute=None))
    assert kit.job(job.id) is job
    df = kit.job(job.id).wait(progress=False)
    assert (df["status"] == "completed").all() and job.state == "done"
    assert kit.job(job.id) is not job  # finished: a fresh view from the journal
    assert kit.job(job.id).frame().equals(df)


def test_linkup_still_rate_limited_after_retries_stops_the_job_resumably(sandbox):
    queries = [f"throttled {i}?" for i in range(5)]
    sandbox.faults.add("429", retry_after=0.001, method="POST", path="/v1/tasks")
    retry = kit.RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
    with pytest.raises(kit.RateLimited) as info:
        kit.search(queries, depth="fast", retry=retry, progress=False)
    df = info.value.frame
    assert (df["status"] == "queued").all() and df["error"].str.startswith("not sent:").all()
    sandbox.faults.clear()
    done = kit.resume(services=["linkup"], progress=False)
    mine = done[done["input"].isin(queries)] if "input" in done else done
    assert len(mine) == 5 and (mine["status"] == "completed").all()
    assert all(n == 1 for (kind, q), n in sandbox.linkup.creates.items() if q in queries)


def test_a_journal_locked_elsewhere_does_not_stall_the_polling(tmp_path):
    """Another process holding the journal's write lock for 3 s: creates wait for it, reads
    of the tasks under way go on (the journal is written off the event loop)."""
    path = tmp_path / "journal.sqlite3"
    slugs = [f"locked-{i}" for i in range(36)]
    with kit.Sandbox(speed=20, seed=6, outx_delay=(40.0, 60.0, 80.0), outx_extensions=64,
                     outx_flag=None) as sb:
        job = kit.profiles(slugs, journal=path, wait=False, time_scale=20,
                           poll_interval=2.0, pace=kit.Pace(per_hour=1800, per_minute=None,
                                                            pending=None))
        deadline = time.monotonic() + 30
        while sb.stats()["outx"]["creates"] < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # a purge, a backup tool...
            held = time.monotonic()
            time.sleep(3.0)
            db.execute("COMMIT")
            released = time.monotonic()
        df = job.wait(progress=False)
        reads = sorted(h.at for h in sb.log.hits if h.method == "GET" and held <= h.at <= released)
    gaps = [b - a for a, b in zip([held, *reads], [*reads, released], strict=True)]
    print(f"longest gap in reads while the journal was locked: {max(gaps):.2f} s")
    assert max(gaps) < 1.0
    assert (df["status"] == "completed").all()



async def test_inside_a_job_a_clients_own_journal_writes_go_to_the_writer_thread(tmp_path):
    """Linkup and Agora journal inside their creates: in a job those writes are handed to the
    job's writer (journal_later), never done on the event loop."""
    from kit.core.client import journal_later

    with kit.Sandbox(speed=20, activate=False) as sb:
        client = kit.Linkup(api_key=sb.api_key("linkup"), base_url=sb.url, time_scale=20,
                            journal=tmp_path / "j.sqlite3")
        task = kit.Task(service="linkup", id="t-1", kind="search", input={"q": "x"})
        queued: list = []
        token = journal_later.set(queued.append)
        try:
            client._record([task])
        finally:
            journal_later.reset(token)
        assert client.journal.rows() == [] and len(queued) == 1  # not written on the loop
        task.status = kit.Status.COMPLETED  # the loop goes on changing it...
        queued[0]()  # ...the writer thread writes the copy taken when it was queued
        assert [r["status"] for r in client.journal.rows()] == ["pending"]
        await client.close()
