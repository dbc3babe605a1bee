"""Every contender, run alone in its own process (so its CPU and peak memory are its own):
``python -m bench.peers SERVICE CONTENDER N SPEED``.  Prints one JSON line: wall time (real and
service seconds), CPU seconds, peak RSS, tasks finished.

The sandbox's origin and keys come from the environment (``*_BASE_URL``, ``*_API_KEY``).  Every
interval below is in service seconds and divided by SPEED when slept, as kit does with
``time_scale``: all contenders see the same service.

**OutX**

- docs: the docs' curl loop: create, poll every 5 s until completed, then the next profile.
- mcp: OutX's MCP server's pattern (outx-mcp-server, ``pollTask``): create, read that task at
  once and then every 5 s, 30 reads at most, then the next (one task at a time; a task not done
  after 30 reads is left, as the MCP tool gives up with an error).
- asyncio-burst: create all at once (``gather``), poll each task every 5 s.
- asyncio-paced: a create every 72 s (50 per hour, evenly), each task polled every 5 s.

**Linkup** (each creates in POSTs of 100, in input order; a full queue answers 429
``TASKS_QUEUE_LIMIT_EXCEEDED``: they try again 2 s later, as the error says "wait")

- sdk-bulk: the official ``linkup-sdk`` (async client), bulk polling through ``list_tasks``
  (tasks pending or processing, pages of 100) every 2 s, as Linkup's best-practices page shows.
- sdk-per-task: the official ``linkup-sdk``, ``get_task`` per task every 2 s (the page's other way).
- asyncio: raw aiohttp, per-task polling every 2 s.

**Agora** (its docs give no poll interval: 5 s, as OutX's)

- docs: create, confirm, poll every 5 s until done, then the next (one at a time).
- asyncio-polite: within the published limits: a create and its confirm every 12 s (5/min),
  one status read per second in all, round-robin over unfinished tasks.
- asyncio-rude: creates and confirms all at once, each task polled every 5 s; a 429 is slept off
  (Retry-After) and retried.

**kit**: ``kit.profiles`` (its default safe pace; ``Pace.unlimited()`` where the pace is lifted),
``kit.Linkup`` submit + wait, ``kit.deep_dives(confirm=True)``; a fresh journal per run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import resource
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp

from .workloads import inputs

SPEED = 1.0  # set by main(): service seconds per real second
DOCS_POLL = 5.0  # OutX's and Agora's documented poll interval
MCP_ATTEMPTS = 30  # OutX's MCP server: 30 reads, 5 s apart, then it gives up
PACE_SPACING = 3600.0 / 50  # 50 LinkedIn actions per hour, evenly
LINKUP_POLL = 2.0  # Linkup's best-practices page: per-task polling about every 2 s
AGORA_CREATE_SPACING = 12.0  # 5 creates (and 5 confirms) per minute
AGORA_STATUS_SPACING = 1.0  # 1 status read per second


def env(service: str, what: str) -> str:
    return os.environ[f"{service.upper()}_{what}"]


def nap(service_seconds: float) -> None:
    time.sleep(service_seconds / SPEED)


async def anap(service_seconds: float) -> None:
    await asyncio.sleep(service_seconds / SPEED)


# -- sequential, blocking HTTP (the docs' loops, the MCP server) --------------------------------
def http(service: str, method: str, path: str, body: Any = None) -> Any:
    """One request as a script would send it; a 429 is slept off (Retry-After) and sent again."""
    headers = {"Content-Type": "application/json",
               **{"outx": {"x-api-key": env("outx", "API_KEY")},
                  "agora": {"X-API-Key": env("agora", "API_KEY")}}[service]}
    data = json.dumps(body).encode() if body is not None else None
    while True:
        request = urllib.request.Request(env(service, "BASE_URL") + path, data=data,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            nap(float(exc.headers.get("Retry-After") or 1))


def outx_status(task_id: str) -> str:
    return http("outx", "GET", f"/linkedin-agent/get-task-status?api_agent_task_id={task_id}"
                )["data"]["status"]


def outx_create(slug: str) -> str:
    return http("outx", "POST", "/linkedin-agent/fetch-profile",
                {"profile_slug": slug})["api_agent_task_id"]


def outx_docs(slugs: list[str]) -> int:
    done = 0
    for slug in slugs:
        task_id = outx_create(slug)
        while True:
            nap(DOCS_POLL)
            if outx_status(task_id) in ("completed", "failed"):
                done += 1
                break
    return done


def outx_mcp(slugs: list[str]) -> int:
    """outx-mcp-server's ``OutxClient.pollTask``: read at once, then every 5 s, 30 reads at most
    (~150 s), then an error naming the task; an agent calls the tool for the next profile."""
    done = 0
    for slug in slugs:
        task_id = outx_create(slug)
        for attempt in range(MCP_ATTEMPTS):
            if attempt:
                nap(DOCS_POLL)
            if outx_status(task_id) in ("completed", "failed"):
                done += 1
                break
    return done


def agora_docs(contracts: list[str]) -> int:
    done = 0
    for contract in contracts:
        task_id = http("agora", "POST", "/v1/market/newtask/agent-deep-dive",
                       {"contract_address": contract})["task_id"]
        http("agora", "POST", f"/v1/market/confirmtask/{task_id}")
        while True:
            nap(DOCS_POLL)
            status = http("agora", "GET", f"/v1/market/tasks/checkstatus/bytaskid/{task_id}")
            if status["status"] in ("3", "4"):
                done += status["status"] == "3"
                break
    return done


# -- hand-written asyncio ------------------------------------------------------------------------
class Api:
    """One aiohttp session; a 429 is slept off (Retry-After, else 1 s) and the request sent again."""

    def __init__(self, service: str, headers: dict[str, str]) -> None:
        self.base = env(service, "BASE_URL")
        self.session = aiohttp.ClientSession(headers=headers)

    async def call(self, method: str, path: str, body: Any = None, params: Any = None,
                   on_429: float | None = None) -> Any:
        while True:
            async with self.session.request(method, self.base + path, json=body,
                                            params=params) as r:
                if r.status == 429:
                    await anap(on_429 or float(r.headers.get("Retry-After") or 1))
                    continue
                r.raise_for_status()
                return await r.json()

    async def close(self) -> None:
        await self.session.close()


async def poll_until(read: Callable[[], Any], done: Callable[[Any], bool], every: float) -> Any:
    while True:
        await anap(every)
        answer = await read()
        if done(answer):
            return answer


def outx_api() -> Api:
    return Api("outx", {"x-api-key": env("outx", "API_KEY")})


async def outx_wait(api: Api, task_id: str) -> bool:
    answer = await poll_until(
        lambda: api.call("GET", "/linkedin-agent/get-task-status",
                         params={"api_agent_task_id": task_id}),
        lambda body: body["data"]["status"] in ("completed", "failed"), DOCS_POLL)
    return answer["data"]["status"] == "completed"


async def outx_burst(slugs: list[str]) -> int:
    api = outx_api()
    try:
        ids = await asyncio.gather(*(api.call("POST", "/linkedin-agent/fetch-profile",
                                              {"profile_slug": s}) for s in slugs))
        done = await asyncio.gather(*(outx_wait(api, b["api_agent_task_id"]) for b in ids))
        return sum(done)
    finally:
        await api.close()


async def outx_paced(slugs: list[str]) -> int:
    api = outx_api()
    start = time.perf_counter()
    waits = []
    try:
        for i, slug in enumerate(slugs):  # create i at i * 72 s from the start, evenly
            await asyncio.sleep(max(0.0, start + i * PACE_SPACING / SPEED - time.perf_counter()))
            body = await api.call("POST", "/linkedin-agent/fetch-profile", {"profile_slug": slug})
            waits.append(asyncio.create_task(outx_wait(api, body["api_agent_task_id"])))
        return sum(await asyncio.gather(*waits))
    finally:
        await api.close()


def linkup_chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [items[i:i + 100] for i in range(0, len(items), 100)]


async def linkup_asyncio(items: list[dict[str, Any]]) -> int:
    api = Api("linkup", {"Authorization": f"Bearer {env('linkup', 'API_KEY')}"})
    try:
        async def wait(task_id: str) -> bool:
            answer = await poll_until(lambda: api.call("GET", f"/v1/tasks/{task_id}"),
                                      lambda t: t["status"] in ("completed", "failed"),
                                      LINKUP_POLL)
            return answer["status"] == "completed"

        waits = []
        for chunk in linkup_chunks(items):  # a full queue: 429, slept off (2 s) and sent again
            created = await api.call("POST", "/v1/tasks", chunk, on_429=LINKUP_POLL)
            waits += [asyncio.create_task(wait(t["id"])) for t in created]
        return sum(await asyncio.gather(*waits))
    finally:
        await api.close()


def sdk_inputs(items: list[dict[str, Any]]) -> list[Any]:
    from linkup import LinkupFetchTaskInput, LinkupResearchTaskInput, LinkupSearchTaskInput

    models = {"search": LinkupSearchTaskInput, "fetch": LinkupFetchTaskInput,
              "research": LinkupResearchTaskInput}
    return [models[item["type"]].model_validate(item["input"]) for item in items]


async def sdk_submit(client: Any, chunk: list[Any]) -> list[str] | None:
    """One POST of ``chunk``, or None when Linkup's queue is full (try again later)."""
    from linkup import LinkupTasksQueueLimitExceededError

    try:
        return [t.id for t in await client.async_create_tasks(chunk)]
    except LinkupTasksQueueLimitExceededError:
        return None


async def sdk_retry(call: Callable[[], Any]) -> Any:
    from linkup import LinkupTooManyRequestsError

    while True:
        try:
            return await call()
        except LinkupTooManyRequestsError:
            await anap(1.0)


def sdk_client() -> Any:
    from linkup import LinkupClient

    return LinkupClient(api_key=env("linkup", "API_KEY"), base_url=env("linkup", "BASE_URL") + "/v1")


async def linkup_sdk_per_task(items: list[dict[str, Any]]) -> int:
    client = sdk_client()

    async def wait(task_id: str) -> bool:
        while True:
            await anap(LINKUP_POLL)
            task = await sdk_retry(lambda: client.async_get_task(task_id))
            if task.status in ("completed", "failed"):
                return task.status == "completed"

    waits = []
    for chunk in linkup_chunks(sdk_inputs(items)):
        while (ids := await sdk_submit(client, chunk)) is None:
            await anap(LINKUP_POLL)
        waits += [asyncio.create_task(wait(i)) for i in ids]
    return sum(await asyncio.gather(*waits))


async def linkup_sdk_bulk(items: list[dict[str, Any]]) -> int:
    client = sdk_client()
    chunks = linkup_chunks(sdk_inputs(items))
    mine: set[str] = set()  # created, not yet seen finished
    finished = 0
    while chunks or mine:
        while chunks and (ids := await sdk_submit(client, chunks[0])) is not None:
            mine.update(ids)
            chunks.pop(0)
        await anap(LINKUP_POLL)
        in_flight: set[str] = set()  # one sweep of the list: every task pending or processing
        for page in itertools.count(1):
            listed = await sdk_retry(lambda page=page: client.async_list_tasks(
                page=page, page_size=100, status=["pending", "processing"]))
            in_flight.update(t.id for t in listed.data)
            if page >= listed.metadata.total_pages:
                break
        finished += len(mine - in_flight)
        mine &= in_flight
    # the results: the finished tasks, through the list too (100 a page)
    for page in itertools.count(1):
        listed = await sdk_retry(lambda page=page: client.async_list_tasks(
            page=page, page_size=100, status=["completed"]))
        if page >= listed.metadata.total_pages:
            break
    return finished


def agora_api() -> Api:
    return Api("agora", {"X-API-Key": env("agora", "API_KEY")})


async def agora_create_confirm(api: Api, contract: str) -> str:
    task = await api.call("POST", "/v1/market/newtask/agent-deep-dive",
                          {"contract_address": contract})
    await api.call("POST", f"/v1/market/confirmtask/{task['task_id']}")
    return task["task_id"]


def agora_done(task: dict[str, Any]) -> bool:
    return task["status"] in ("3", "4")


async def agora_polite(contracts: list[str]) -> int:
    api = agora_api()
    try:
        ids: list[str] = []
        finished: dict[str, bool] = {}

        async def create_all() -> None:
            for i, contract in enumerate(contracts):
                if i:
                    await anap(AGORA_CREATE_SPACING)
                ids.append(await agora_create_confirm(api, contract))

        async def read_round_robin() -> None:  # one status read per second, in all
            while len(finished) < len(contracts):
                await anap(AGORA_STATUS_SPACING)
                for task_id in [i for i in ids if i not in finished][:1]:
                    ids.remove(task_id)
                    ids.append(task_id)  # to the back of the round
                    task = await api.call("GET", f"/v1/market/tasks/checkstatus/bytaskid/{task_id}")
                    if agora_done(task):
                        finished[task_id] = task["status"] == "3"

        await asyncio.gather(create_all(), read_round_robin())
        return sum(finished.values())
    finally:
        await api.close()


async def agora_rude(contracts: list[str]) -> int:
    api = agora_api()
    try:
        ids = await asyncio.gather(*(agora_create_confirm(api, c) for c in contracts))

        async def wait(task_id: str) -> bool:
            task = await poll_until(
                lambda: api.call("GET", f"/v1/market/tasks/checkstatus/bytaskid/{task_id}"),
                agora_done, DOCS_POLL)
            return task["status"] == "3"

        return sum(await asyncio.gather(*(wait(i) for i in ids)))
    finally:
        await api.close()


# -- kit -----------------------------------------------------------------------------------------
def kit_options() -> dict[str, Any]:
    return {"time_scale": SPEED, "progress": False,
            "journal": os.path.join(tempfile.mkdtemp(), "journal.sqlite3")}


def kit_outx(slugs: list[str], paced: bool) -> int:
    import kit

    # Paced: OutX's hourly guidance and the pending limit, LinkedIn's caps per kind lifted (the
    # limit assumes the hourly pace alone); a job of days waits out the nights (patience).
    # Unpaced: lifted altogether, a sandbox-only benchmark.
    pace = (kit.Pace(per_day=None, per_week=None) if paced else kit.Pace.unlimited())
    df = kit.profiles(slugs, pace=pace, patience=math.inf, **kit_options())
    return int((df["status"] == "completed").sum())


def kit_linkup(items: list[dict[str, Any]]) -> int:
    import kit

    async def submit_and_wait():
        opts = kit_options()
        async with kit.Linkup(time_scale=opts["time_scale"], journal=opts["journal"]) as client:
            tasks = await client.submit(items)
            await client.wait(tasks, progress=False)
        return kit.to_frame(tasks)

    df = kit.run(submit_and_wait())
    return int((df["status"] == "completed").sum())


def kit_agora(contracts: list[str]) -> int:
    import kit

    df = kit.deep_dives(contracts, confirm=True, **kit_options())
    return int((df["status"] == "completed").sum())


def contender(service: str, name: str, paced: bool) -> Callable[[list[Any]], int]:
    table: dict[tuple[str, str], Callable[[list[Any]], int]] = {
        ("outx", "docs"): outx_docs,
        ("outx", "mcp"): outx_mcp,
        ("outx", "asyncio-burst"): lambda x: asyncio.run(outx_burst(x)),
        ("outx", "asyncio-paced"): lambda x: asyncio.run(outx_paced(x)),
        ("outx", "kit"): lambda x: kit_outx(x, paced),
        ("linkup", "sdk-bulk"): lambda x: asyncio.run(linkup_sdk_bulk(x)),
        ("linkup", "sdk-per-task"): lambda x: asyncio.run(linkup_sdk_per_task(x)),
        ("linkup", "asyncio"): lambda x: asyncio.run(linkup_asyncio(x)),
        ("linkup", "kit"): kit_linkup,
        ("agora", "docs"): agora_docs,
        ("agora", "asyncio-polite"): lambda x: asyncio.run(agora_polite(x)),
        ("agora", "asyncio-rude"): lambda x: asyncio.run(agora_rude(x)),
        ("agora", "kit"): kit_agora,
    }
    return table[(service, name)]


def main(argv: list[str]) -> None:
    global SPEED
    service, name, n, SPEED = argv[0], argv[1], int(argv[2]), float(argv[3])
    paced = argv[4:5] != ["unpaced"]
    items = inputs(service, n)
    run = contender(service, name, paced)
    if name == "kit":
        import kit  # noqa: F401  (imported before the clock starts, like the others' modules)
    elif service == "linkup":
        import linkup  # noqa: F401  (the SDK's import is not the peer's run time either)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    done = run(items)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    print(json.dumps({"wall_real_s": wall, "wall_s": wall * SPEED, "cpu_s": cpu,
                      "peak_rss_mb": usage.ru_maxrss / 1024, "completed": done}))


if __name__ == "__main__":
    main(sys.argv[1:])
