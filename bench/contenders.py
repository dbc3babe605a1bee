"""The three contenders, run one at a time in their own process (so CPU and peak memory are
theirs alone): ``python -m bench.contenders SCENARIO CONTENDER N SPEED``.

- docs: what the services' docs show: create one task, poll it every 5 s until done, then the
  next (sequential, blocking HTTP).
- handwritten: what a competent user writes in an afternoon: create all, then asyncio.gather
  over per-task loops polling at a fixed interval with one shared aiohttp session (sleeping
  Retry-After on a 429).
- kit: the notebook helper.

The sandbox's origin and keys come from the environment (``*_BASE_URL``, ``*_API_KEY``).
Prints one JSON line: wall time and its start in service seconds, CPU seconds, peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp

DOCS_INTERVAL = 5.0  # the docs' poll interval (service seconds)
FIXED_INTERVAL = {"outx": 5.0, "linkup": 2.0, "agora": 5.0}  # hand-written choices


def inputs(scenario: str, n: int) -> list[Any]:
    if scenario in ("outx", "outx-10k"):
        return [f"bench-person-{i}" for i in range(n)]
    if scenario == "linkup":
        return [{"q": f"bench question {i}?", "depth": ("fast", "standard", "deep")[i % 3]}
                for i in range(n)]
    return ["0x" + f"{i + 4096:040x}" for i in range(n)]


def service_of(scenario: str) -> str:
    return "outx" if scenario.startswith("outx") else scenario


# -- what each service's create / status calls look like, as a user would write them ------------
def create_request(service: str, item: Any) -> tuple[str, str, Any]:
    if service == "outx":
        return "POST", "/linkedin-agent/fetch-profile", {"profile_slug": item}
    if service == "linkup":
        return "POST", "/v1/tasks", [{"type": "search", "input": item}]
    return "POST", "/v1/market/newtask/agent-deep-dive", {"contract_address": item}


def task_id_of(service: str, body: Any) -> str:
    if service == "outx":
        return body["api_agent_task_id"]
    if service == "linkup":
        return body[0]["id"]
    return body["task_id"]


def status_request(service: str, task_id: str) -> tuple[str, dict[str, str]]:
    if service == "outx":
        return "/linkedin-agent/get-task-status", {"api_agent_task_id": task_id}
    if service == "linkup":
        return f"/v1/tasks/{task_id}", {}
    return f"/v1/market/tasks/checkstatus/bytaskid/{task_id}", {}


def finished(service: str, body: Any) -> bool:
    if service == "outx":
        return body["data"]["status"] == "completed"
    if service == "linkup":
        return body["status"] in ("completed", "failed")
    return body["status"] in ("3", "4")


def headers(service: str) -> dict[str, str]:
    key = os.environ[f"{service.upper()}_API_KEY"]
    if service == "outx":
        return {"x-api-key": key}
    if service == "linkup":
        return {"Authorization": f"Bearer {key}"}
    return {"X-API-Key": key}


# -- docs pattern --------------------------------------------------------------------------------
def _call(url: str, method: str, hdrs: dict[str, str], body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    while True:
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={**hdrs, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(float(exc.headers.get("Retry-After") or 1) / SPEED)


def docs(service: str, items: list[Any]) -> None:
    base, hdrs = os.environ[f"{service.upper()}_BASE_URL"], headers(service)
    for item in items:
        method, path, body = create_request(service, item)
        task_id = task_id_of(service, _call(base + path, method, hdrs, body))
        if service == "agora":
            _call(f"{base}/v1/market/confirmtask/{task_id}", "POST", hdrs)
        path, params = status_request(service, task_id)
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        while True:
            time.sleep(DOCS_INTERVAL / SPEED)
            if finished(service, _call(base + path + query, "GET", hdrs)):
                break


# -- hand-written asyncio ------------------------------------------------------------------------
async def handwritten(service: str, items: list[Any]) -> None:
    base = os.environ[f"{service.upper()}_BASE_URL"]
    interval = FIXED_INTERVAL[service] / SPEED

    async with aiohttp.ClientSession(headers=headers(service)) as session:

        async def call(method: str, path: str, body: Any = None, params: Any = None) -> Any:
            while True:
                async with session.request(method, base + path, json=body, params=params) as r:
                    if r.status == 429:
                        await asyncio.sleep(float(r.headers.get("Retry-After") or 1) / SPEED)
                        continue
                    r.raise_for_status()
                    return await r.json()

        async def create(item: Any) -> str:
            method, path, body = create_request(service, item)
            task_id = task_id_of(service, await call(method, path, body))
            if service == "agora":
                await call("POST", f"/v1/market/confirmtask/{task_id}")
            return task_id

        if service == "linkup":  # the documented array POST, 100 at a time
            ids: list[str] = []
            for start in range(0, len(items), 100):
                chunk = [{"type": "search", "input": i} for i in items[start:start + 100]]
                ids += [t["id"] for t in await call("POST", "/v1/tasks", chunk)]
        else:
            ids = list(await asyncio.gather(*(create(i) for i in items)))

        async def poll(task_id: str) -> None:
            path, params = status_request(service, task_id)
            while True:
                await asyncio.sleep(interval)
                if finished(service, await call("GET", path, params=params or None)):
                    return

        await asyncio.gather(*(poll(t) for t in ids))


# -- kit -----------------------------------------------------------------------------------------
def with_kit(service: str, items: list[Any]) -> None:
    import kit

    opts = {"time_scale": SPEED, "progress": False,
            "journal": os.path.join(tempfile.mkdtemp(), "journal.sqlite3")}
    if service == "outx":  # the pace lifted: a burst, like the hand-written loop (not for a
        df = kit.profiles(items, pace=kit.Pace.unlimited(), **opts)  # real LinkedIn account)
    elif service == "linkup":
        df = kit.run(_linkup_mixed(items, opts))
    else:
        df = kit.deep_dives(items, confirm=True, **opts)
    assert (df["status"] == "completed").all(), df["status"].value_counts()


async def _linkup_mixed(items: list[dict[str, Any]], opts: dict[str, Any]):
    """250 searches of mixed depth: one submit, one wait (kit.search takes one depth per call)."""
    import kit

    async with kit.Linkup(time_scale=opts["time_scale"], journal=opts["journal"]) as client:
        tasks = await client.submit([{"type": "search", "input": i} for i in items])
        await client.wait(tasks, progress=False)
    return kit.to_frame(tasks)


def service_now(service: str) -> float:
    base = os.environ[f"{service.upper()}_BASE_URL"]
    with urllib.request.urlopen(base + "/_sandbox/stats") as r:
        return json.load(r)["now"]


SPEED = 1.0


def main(argv: list[str]) -> None:
    global SPEED
    scenario, contender, n, speed = argv[0], argv[1], int(argv[2]), float(argv[3])
    SPEED = speed
    service = service_of(scenario)
    items = inputs(scenario, n)
    if contender == "kit":
        import kit  # noqa: F401  (imported before the clock starts, like the others' imports)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started_at = service_now(service)
    t0 = time.perf_counter()
    if contender == "docs":
        docs(service, items)
    elif contender == "handwritten":
        asyncio.run(handwritten(service, items))
    else:
        with_kit(service, items)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    print(json.dumps({"wall_s": wall * speed, "wall_real_s": wall, "started_at": started_at,
                      "cpu_s": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
