"""What LinkedIn sees, end to end against the sandbox: its extensions go away (a closed laptop, a
night) and come back, and what counts is when they *pick a task up*, not when kit creates it.

Each test has a sandbox and a journal of its own: a task left waiting for the extension holds
back every later create of its team (that is the point), so it must not leak into other tests.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

import kit
from kit.__main__ import main as kit_main

HOUR = 3600.0


def _created_between(sb: kit.Sandbox, start: float, end: float) -> int:
    return sum(1 for t in sb.outx.schedule().values() if start <= t["created"] < end)


def _wait_until(sb: kit.Sandbox, service_instant: float, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while sb.clock.now() < service_instant and time.monotonic() < deadline:
        time.sleep(0.02)


def _run_away(tmp_path, pace: kit.Pace) -> tuple[object, dict, int, list[str]]:
    """20 profiles; the one extension's browser closes 10 minutes in, for 5 hours."""
    away = (600.0, 600.0 + 5 * HOUR)
    with kit.Sandbox(speed=3600, seed=5, outx_extensions=1, outx_away=[away],
                     journal=str(tmp_path / f"j-{pace.pending}.sqlite3")) as sb:
        job = kit.profiles([f"away-{i}" for i in range(20)], wait=False, pace=pace, progress=False)
        _wait_until(sb, away[0] + 3 * HOUR)  # three hours into the night
        notes = job.progress().notes
        df = job.wait(progress=False)
        return df, sb.stats()["outx"], _created_between(sb, *away), notes


def test_the_browser_away_for_hours_mid_job_sends_nothing_then_finishes_at_the_pace(tmp_path):
    df, stats, while_away, notes = _run_away(tmp_path, kit.Pace())
    assert (df["status"] == "completed").all()  # every row, with the defaults
    assert while_away <= 1  # the one create that found the browser closed, then nothing
    assert stats["max_actions_per_hour"] <= 50 and stats["max_actions_per_minute"] <= 5
    assert stats["flagged_teams"] == [] and stats["most_creates_per_input"] == 1
    said = " ".join(notes)
    assert "waiting for your team's OutX Chrome extension: nothing picked up for" in said
    assert "is LinkedIn open in Chrome" in said
    assert "all sent: unknown while your team's OutX Chrome extension takes nothing" in said


def test_without_the_pending_limit_the_backlog_piles_up_while_the_browser_is_away(tmp_path):
    # The same night with pending=None (kit before this limit: the pace of creates only).
    df, stats, while_away, _ = _run_away(tmp_path, kit.Pace(pending=None))
    assert (df["status"] == "completed").all()
    assert while_away >= 10  # sent at 50 an hour to a closed browser, worked back to back later
    assert stats["max_creates_per_hour"] <= 50


def test_two_processes_on_one_team_share_the_pending_limit_while_the_extension_is_away(tmp_path):
    away = (300.0, 300.0 + 4 * HOUR)
    code = textwrap.dedent("""
        import math, sys, kit
        slugs = [f"{sys.argv[1]}-{i}" for i in range(8)]
        df = kit.profiles(slugs, time_scale=3600, progress=False, patience=math.inf)
        print(df["status"].value_counts().to_dict())
    """)
    with kit.Sandbox(speed=3600, seed=6, activate=False, outx_extensions=2,
                     outx_away=[away]) as sb:
        env = {**os.environ, "KIT_JOURNAL": str(tmp_path / "journal.sqlite3"),
               "OUTX_API_KEY": sb.api_key("outx"), "OUTX_BASE_URL": sb.url}
        procs = [subprocess.Popen([sys.executable, "-c", code, name], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name in ("left", "right")]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        stats = sb.stats()["outx"]
        while_away = _created_between(sb, *away)
    assert [json.loads(o.replace("'", '"')) for o, _ in outs] == [{"completed": 8}] * 2
    assert while_away <= 1  # one limit for the team, not one per process
    assert stats["creates"] == 16 and stats["most_creates_per_input"] == 1
    assert stats["max_actions_per_hour"] <= 50 and stats["flagged_teams"] == []


def test_a_blocking_call_runs_out_of_patience_and_resume_carries_on(tmp_path):
    slugs = ["pat-a", "pat-b", "pat-c"]
    with kit.Sandbox(speed=600, seed=7, journal=str(tmp_path / "journal.sqlite3")) as sb:
        sb.outx.set_online("acme", False)  # the laptop is shut
        started = time.monotonic()
        df = kit.profiles(slugs, patience=1800, progress=False)
        assert time.monotonic() - started < 30
        assert list(df["status"]) == ["pending", "queued", "queued"]  # waiting, not failed
        # (looked at twice a real second: 5 service minutes at x600)
        assert re.search(r"nothing picked up for 3\dm \d\ds — is LinkedIn open", df.loc[0, "error"])
        assert all(e.startswith("not sent: waiting for") for e in df["error"][1:])
        assert sb.stats()["outx"]["creates"] == 1  # nothing piled up behind it
        assert kit.jobs()["state"].tolist() == ["stopped"]
        assert "nothing picked up for" in df.attrs["kit_worker_away"]  # a script can tell
        # the command line says it too, with its own exit status
        slugs_file = tmp_path / "slugs.txt"
        slugs_file.write_text("pat-cli\n")
        out = tmp_path / "cli.csv"
        assert kit_main(["profiles", str(slugs_file), "--patience", "1800", "-q",
                         "-o", str(out)]) == 4
        assert out.exists() and sb.stats()["outx"]["creates"] == 1  # it waited, sent nothing
        # direct creates do not go onto the backlog either, not even three at once: they say
        # why, and nothing is sent
        async def direct() -> list:
            async with kit.OutX(patience=600) as client:
                return await asyncio.gather(*(client.fetch_profile(f"pat-direct-{i}")
                                              for i in range(3)), return_exceptions=True)
        outcomes = kit.run(direct())
        assert all(isinstance(o, kit.WorkerAway) for o in outcomes), outcomes
        assert "nothing picked up for" in str(outcomes[0]) and "Nothing was sent" in str(outcomes[0])
        assert sb.stats()["outx"]["creates"] == 1
        sb.outx.set_online("acme", True)  # opened again
        again = kit.resume(progress=False)
        stats = sb.stats()["outx"]
    assert list(again["input"]) == [*slugs, "pat-cli"]  # both jobs, each in its order
    assert (again["status"] == "completed").all()
    assert again.loc[0, "task_id"] == df.loc[0, "task_id"]  # read again, not created again
    assert stats["creates"] == 3 + 1 and stats["most_creates_per_input"] == 1  # (+ pat-cli)


def test_a_daily_cap_per_kind_holds_across_the_day_boundary(tmp_path):
    # x10,000: a day in 8.6 s, and the pace's 2% margin on a day (1,728 s) is 0.17 real s of
    # request latency under load (what the margin is for).
    pace = kit.Pace(per_day={"profile_visit": 3})
    with kit.Sandbox(speed=10_000, seed=8, journal=str(tmp_path / "journal.sqlite3")) as sb:
        started = time.monotonic()
        job = kit.profiles([f"cap-{i}" for i in range(6)], wait=False, pace=pace, progress=False)
        deadline = time.monotonic() + 30
        while sb.stats()["outx"]["creates"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # an hour of service time: the cap holds, the note says why
        note = " ".join(job.progress().notes)
        df = job.wait(progress=False)
        wall = time.monotonic() - started
        stats = sb.stats()["outx"]
    assert sb.stats is not None and (df["status"] == "completed").all()
    assert "(profile_visit: 3 a day)" in note
    assert stats["max_actions_per_day_by_kind"]["fetch-profile"] == 3
    assert wall >= 86400 / 10_000  # the last three waited for the first to leave the day
    assert stats["creates"] == 6 and not math.isnan(wall)


def test_the_extension_gone_for_48_hours_stops_the_job_resumably_and_fails_no_row(tmp_path):
    with kit.Sandbox(speed=600, seed=9, journal=str(tmp_path / "journal.sqlite3")) as sb:
        job = kit.profiles([f"gone-{i}" for i in range(6)], wait=False, progress=False)
        deadline = time.monotonic() + 30
        while sb.stats()["outx"]["creates"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        [team] = [t for t in sb.outx.teams.values() if t.name == "acme"]
        team.extension = False  # no heartbeat for 48 hours: every call answers 403
        with pytest.raises(kit.PermissionDenied) as stopped:
            job.wait(progress=False)
        assert "Plugin installation required" in str(stopped.value)
        assert "Open LinkedIn in Chrome with the OutX extension" in str(stopped.value)
        frame = stopped.value.frame
        assert len(frame) == 6 and "failed" not in set(frame["status"])  # no row lost or failed
        assert job.state == "stopped"
        team.extension = True
        df = kit.resume(progress=False)
        stats = sb.stats()["outx"]
    assert (df["status"] == "completed").all()
    assert stats["creates"] == 6 and stats["most_creates_per_input"] == 1


def test_a_task_left_waiting_by_a_stopped_job_counts_from_its_pick_up_on_resume(tmp_path):
    # The evening's task is worked when the browser opens; the resume then sends 50 more at the
    # pace: LinkedIn must not see 51 in that hour.
    slugs = [f"evening-{i}" for i in range(60)]
    with kit.Sandbox(speed=1200, seed=4, outx_extensions=8,
                     journal=str(tmp_path / "journal.sqlite3")) as sb:
        sb.outx.set_online("acme", False)
        job = kit.profiles(slugs, wait=False, progress=False)
        time.sleep(1.0)
        job.stop()
        sb.outx.set_online("acme", True)
        df = kit.resume(progress=False, pace=kit.Pace(per_day=None))
        stats = sb.stats()["outx"]
    assert (df["status"] == "completed").all() and stats["most_creates_per_input"] == 1
    assert stats["max_actions_per_hour"] <= 50 and stats["max_actions_per_minute"] <= 5
