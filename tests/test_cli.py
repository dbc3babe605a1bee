"""The command line as a new user runs it: the demo, and the sandbox in the foreground."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pandas as pd

import kit


def test_demo_writes_the_table(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "kit", "demo", "-o", str(out), "--speed", "60"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "25 rows (24 completed, 1 failed)" in result.stdout
    assert "[kit] OutX fetch-profile · 24 distinct, 1 repeat: 24/24 done" in result.stderr
    parquet = pd.read_parquet(out / "profiles.parquet")
    csv = pd.read_csv(out / "profiles.csv")
    assert len(parquet) == len(csv) == 25
    assert parquet.loc[0, "name"] == "Bill Gates" and parquet.loc[24, "name"] == "Bill Gates"
    failed = parquet[parquet["status"] == "failed"]
    assert list(failed["input"]) == ["ghost-profile-404"] and failed["error"].str.contains("400").all()
    assert "sbx-" not in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_in_the_foreground_serves_another_process():
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kit", "sandbox", "--port", str(port),
                             "--speed", "100"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        key = re.search(r"OUTX_API_KEY=(\S+)", "".join(lines)).group(1)

        async def use():
            async with kit.OutX(api_key=key, base_url=f"http://127.0.0.1:{port}", time_scale=100) as c:
                for _ in range(50):  # the server may need a moment to bind
                    try:
                        task = await c.fetch_profile("williamhgates")
                        break
                    except kit.TransportError:
                        import asyncio
                        await asyncio.sleep(0.1)
                [task] = await c.wait([task], progress=False)
                return task

        task = kit.run(use())
        assert task.status is kit.Status.COMPLETED and task.output["name"] == "Bill Gates"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "kit", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout and "sandbox" in result.stdout


def test_a_foreground_job_stops_on_sigterm_and_kit_resume_carries_it_on(tmp_path):
    import json
    import signal
    import time
    import urllib.request

    port, speed = _free_port(), 600
    server = subprocess.Popen([sys.executable, "-m", "kit", "sandbox", "--port", str(port),
                               "--speed", str(speed)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        text = "".join(server.stdout.readline() for _ in range(5))
        # Everything the sandbox prints to export, its journal too: every command pointed at
        # it shares one journal view (jobs, resume), kept out of the user's own.
        env = {**os.environ, **dict(re.findall(r"(OUTX_\w+|KIT_\w+)=(\S+)", text))}
        assert env["KIT_TIME_SCALE"] == str(speed)
        sandbox_journal = env["KIT_JOURNAL"]
        assert sandbox_journal != os.environ.get("KIT_JOURNAL")
        slugs = tmp_path / "slugs.txt"
        slugs.write_text("\n".join(f"cli-job-{i}" for i in range(20)))
        cli = [sys.executable, "-m", "kit"]
        job = subprocess.Popen([*cli, "profiles", str(slugs), "-o", str(tmp_path / "a.csv")],
                               env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # a few creates at 72 service seconds apart (0.12 s here)
        job.send_signal(signal.SIGTERM)
        _, err = job.communicate(timeout=30)
        assert job.returncode == 143, err
        assert "stopped:" in err and "kit resume" in err and "Traceback" not in err
        assert "pace 5/min, 50/h" in err  # the progress line shows the pace

        listed = subprocess.run([*cli, "jobs"], env=env, capture_output=True, text=True)
        assert "stopped" in listed.stdout and "OutX fetch-profile" in listed.stdout

        done = subprocess.run([*cli, "resume", "-o", str(tmp_path / "b.csv")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        df = pd.read_csv(tmp_path / "b.csv")
        assert list(df["input"]) == [f"cli-job-{i}" for i in range(20)]
        assert (df["status"] == "completed").all()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/stats") as r:
            stats = json.load(r)["outx"]
        assert stats["creates"] == 20 and stats["most_creates_per_input"] == 1
        assert stats["max_actions_per_minute"] <= 5
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
    assert not os.path.exists(sandbox_journal)  # its journal went with it


def test_the_sandbox_announces_only_a_bound_port_and_says_what_to_unset():
    port = _free_port()
    first = subprocess.Popen([sys.executable, "-m", "kit", "sandbox", "--port", str(port)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert first.stdout.readline().startswith("kit sandbox on")
        second = subprocess.run([sys.executable, "-m", "kit", "sandbox", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "choose another --port" in second.stderr
        assert "export" not in second.stdout and "Traceback" not in second.stderr
    finally:
        first.terminate()
        out, _ = first.communicate(timeout=10)
    assert "unset OUTX_BASE_URL OUTX_API_KEY" in out and "KIT_TIME_SCALE KIT_JOURNAL" in out
