"""Run the benchmark against the sandbox: python -m bench [--quick | --smoke] [--only 1,6].

``python -m bench`` is the full run (~20 min on 2 cores), ``--quick`` a small one (~3 min),
``--smoke`` the CI test's (under a minute), ``--only 1,3`` some scenarios.

For every scenario: its limit (bench.limits: an ideal client against the sandbox's own model),
then every contender against a fresh sandbox process (same seed, same options), the contender in
a process of its own (bench.peers), then the sandbox's own count of requests, LinkedIn actions
and flags.  Times are service seconds (real seconds times the sandbox's speed).  Writes
bench/results/results.md, results.csv and results.png (bench.report).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import limits, report
from .frames import frame_build
from .scenarios import Run, Scenario, scenarios

ROOT = Path(__file__).resolve().parent.parent

# Requests that read status, per service (route templates as the sandbox logs them).
STATUS_ROUTES = {
    "outx": {"/linkedin-agent/get-task-status"},
    "linkup": {"/v1/tasks", "/v1/tasks/{task_id}"},
    "agora": {"/v1/market/tasks/checkstatus/bytaskid/{task_id}", "/v1/market/tasks/account"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(speed: float, options: dict[str, Any]) -> tuple[subprocess.Popen, dict, str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.serve", str(free_port()), str(speed),
                             json.dumps(options)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    started = json.loads(proc.stdout.readline())
    for _ in range(200):  # until it answers
        try:
            urllib.request.urlopen(started["url"] + "/_sandbox/stats").close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, started["env"], started["url"]


def sandbox_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_sandbox/stats") as r:
        return json.load(r)


def _proc_figures(pid: int) -> dict[str, float]:
    """CPU seconds and peak RSS of a live process, from /proc (Linux): for a run stopped at its
    cap, which cannot report them itself."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return {"cpu_s": (int(fields[11]) + int(fields[12])) / ticks, "peak_rss_mb": peak_kb / 1024}


def _contender(command: list[str], env: dict[str, str], cap: float | None
               ) -> dict[str, Any] | str:
    """Run the contender's process: its JSON line, its error, or (stopped at ``cap`` real
    seconds) what /proc says of it with ``"capped": True``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=cap or 3600)
    except subprocess.TimeoutExpired:
        figures = _proc_figures(proc.pid)
        proc.kill()
        proc.communicate()
        return {"capped": True, "wall_real_s": time.perf_counter() - t0, "completed": None,
                **figures}
    if proc.returncode != 0:
        print(stderr[-3000:], file=sys.stderr)
        return (stderr.strip().splitlines() or ["?"])[-1][:160]
    return json.loads(stdout.strip().splitlines()[-1])


def measure(scenario: Scenario, run: Run, cap: float | None
            ) -> tuple[dict[str, Any] | str, dict[str, Any]]:
    """The contender's own figures (or its error) and the sandbox's stats after it."""
    n, speed = run.n or scenario.n, run.speed or scenario.speed
    proc, env, url = start_sandbox(speed, scenario.options())
    try:
        command = [sys.executable, "-m", "bench.peers", scenario.service, run.contender, str(n),
                   str(speed)] + ([] if scenario.paced else ["unpaced"])
        measured = _contender(command, env, cap)
        if isinstance(measured, dict) and measured.get("capped"):
            measured["wall_s"] = measured["wall_real_s"] * speed
        stats = sandbox_stats(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    return measured, stats


def row(scenario: Scenario, run: Run, limit_of: dict[int, float], cap: float | None
        ) -> dict[str, Any]:
    n, speed = run.n or scenario.n, run.speed or scenario.speed
    base = {"scenario": scenario.key, "title": scenario.title, "contender": run.contender,
            "tasks": scenario.n, "measured_tasks": n, "speed": speed}
    measured, stats = measure(scenario, run, cap)
    if isinstance(measured, str):
        return {**base, "error": measured, "note": "FAILED: " + measured}
    requests = stats["requests"]
    status_reads = sum(r["count"] for r in requests
                       if r["method"] == "GET" and r["route"] in STATUS_ROUTES[scenario.service])
    # Sequential contenders' samples scale linearly; a burst's sample is compared with the limit
    # for the same sample (its wall does not scale).
    scale = scenario.n / n if run.extrapolate else 1.0
    limit = limit_of[scenario.n if run.extrapolate or n == scenario.n else n]
    wall = measured["wall_s"] * scale
    outx = stats["outx"]
    note = ""
    if measured.get("capped"):
        note = (f"STOPPED at the cap ({cap:.0f} real s, {run.cap[1]:g} x {run.cap[0]}'s wall) "
                f"after {stats[scenario.service]['creates']:,} creates: wall, CPU and RSS are "
                "lower bounds")
    elif n != scenario.n:
        note = (f"sample of {n} at x{speed:g}, wall and CPU extrapolated x{scale:g}"
                if run.extrapolate else f"sample of {n} at x{speed:g}, not extrapolated: "
                                        f"wall and limit are for {n} tasks")
    if measured["completed"] is not None and measured["completed"] < n:
        note += ("; " if note else "") + (f"gave up on {n - measured['completed']:,} tasks "
                                          "(left unfinished)")
    if run.contender == "asyncio-burst" and scenario.paced and status_reads:
        # A burst asks for a read every 5 s; at a high speed the client may not keep up.
        note += (f"; it read each task every {measured['wall_s'] * n / status_reads:.1f} s "
                 "on average (5 s asked)")
    return {
        **base, "completed": measured["completed"], "capped": bool(measured.get("capped")),
        "wall_s": round(wall, 1), "wall_real_s": round(measured["wall_real_s"] * scale, 2),
        "limit_s": round(limit, 1), "wall_over_limit": round(wall / limit, 3),
        "excess_s": round(wall - limit, 1),
        "status_reads_per_task": round(status_reads / n, 3),
        "requests": sum(r["count"] for r in requests if r["route"] != "/_sandbox/stats"),
        "http_429": sum(r["count"] for r in requests if r["status"] == 429),
        "http_429_by_route": "; ".join(f"{r['method']} {r['route']}: {r['count']}"
                                       for r in requests if r["status"] == 429),
        "max_actions_per_minute": outx["max_actions_per_minute"] if scenario.service == "outx"
        else "", "max_actions_per_hour": outx["max_actions_per_hour"]
        if scenario.service == "outx" else "",
        "flagged": bool(outx["flagged_teams"]) if scenario.service == "outx" else "",
        "creates_while_closed": outx["creates_while_offline"] if scenario.pickup else "",
        "cpu_s": round(measured["cpu_s"] * scale, 2),
        "peak_rss_mb": round(measured["peak_rss_mb"], 1), "comparable": n == scenario.n or
        run.extrapolate, "note": note,
    }


def add_best_peer(rows: list[dict[str, Any]]) -> None:
    """Each row's wall against the best peer's (whole-batch or extrapolated walls only)."""
    # A peer that gave up on tasks (the MCP pattern after 150 s) finished nothing to compare.
    peers = [r["wall_s"] for r in rows if r["contender"] != "kit" and r.get("comparable")
             and r.get("completed") == r.get("measured_tasks")]
    best = min(peers, default=None)
    for r in rows:
        if best and r.get("comparable"):
            r["wall_vs_best_peer"] = round(r["wall_s"] / best, 3)


def run_scenario(scenario: Scenario) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sizes = {scenario.n} | {r.n for r in scenario.runs if r.n and not r.extrapolate}
    limit_of = {n: limits.limit(scenario.service, n, scenario.options(), scenario.paced,
                                scenario.pickup)
                for n in sorted(sizes)}
    rows = []
    for run in scenario.runs:
        print(f"... {scenario.key}. {scenario.title}: {run.contender}", file=sys.stderr, flush=True)
        cap = None
        if run.cap:
            other = next((r for r in rows if r["contender"] == run.cap[0] and "wall_real_s" in r),
                         None)
            cap = run.cap[1] * other["wall_real_s"] if other else None
        rows.append(row(scenario, run, limit_of, cap))
    add_best_peer(rows)
    info = {"key": scenario.key, "title": scenario.title, "service": scenario.service,
            "n": scenario.n, "speed": scenario.speed, "limit_s": round(limit_of[scenario.n], 1),
            "sandbox": scenario.options(), "paced": scenario.paced, "pickup": scenario.pickup}
    if scenario.service == "outx" and scenario.paced and not scenario.pickup:
        info["ideal_last_create_s"] = (scenario.n - 1) * 3600.0 / limits.OUTX_PACE_PER_HOUR
        info["kit_rule_last_create_s"] = round(limits.kit_pace_last_create(scenario.n), 1)
    return info, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small batches (under 2 minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny batches (the CI smoke test)")
    parser.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,3 (5: frames)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="folder for results.md/.csv/.png (default bench/results)")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    chosen = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    all_scenarios, frame_n = scenarios(mode)
    infos, rows = [], []
    for scenario in all_scenarios:
        if chosen and scenario.key not in chosen:
            continue
        info, scenario_rows = run_scenario(scenario)
        infos.append(info)
        rows += scenario_rows
    frame = frame_build(frame_n) if not chosen or "5" in chosen else None
    elapsed = time.perf_counter() - started
    verdicts = report.verdicts(infos, rows, frame)
    report.write(args.out, mode, elapsed, infos, rows, frame, verdicts)
    return 0 if all(v.startswith("PASS") for v in verdicts) else 1
