"""Linkup against the sandbox: batching, validation, 429 codes, failures, lists, frames."""

from __future__ import annotations

import datetime
import json
import time

import pandas as pd
import pytest

import kit
from kit.services.linkup import build_input, normalize_input, same_input
from tests.conftest import FAST_RETRY


def _searches(n: int, prefix: str) -> list[dict]:
    return [{"type": "search", "input": {"q": f"{prefix} {i}", "depth": "fast"}} for i in range(n)]


@pytest.fixture
async def linkup(sandbox):
    async with kit.Linkup(base_url=sandbox.url, api_key=sandbox.api_key("linkup"),
                          retry=FAST_RETRY) as c:
        yield c


@pytest.mark.parametrize("n, posts", [(99, 1), (100, 1), (101, 2), (250, 3)])
async def test_submit_batches_at_most_100_and_keeps_order(linkup, sandbox, n, posts):
    before = sandbox.log.count("/v1/tasks", "POST")
    tasks = await linkup.submit(_searches(n, f"batch{n}"))
    assert sandbox.log.count("/v1/tasks", "POST") - before == posts
    assert [t.input["q"] for t in tasks] == [f"batch{n} {i}" for i in range(n)]
    assert len({t.id for t in tasks}) == n
    assert all(t.status is kit.Status.PENDING and t.service == "linkup" for t in tasks)


async def test_250_searches_wait_with_few_requests(linkup, sandbox):
    specs = [{"type": "search", "input": {"q": f"mix {i}", "depth": ("fast", "standard", "deep")[i % 3]}}
             for i in range(250)]
    tasks = await linkup.submit(specs)
    before = sandbox.log.count("/v1/tasks", "GET")
    await linkup.wait(tasks, progress=False)
    reads = sandbox.log.count("/v1/tasks", "GET") - before
    assert all(t.status is kit.Status.COMPLETED for t in tasks)
    assert reads / 250 <= 0.25, reads  # bulk reads through the task list
    truth = sandbox.linkup.ground_truth(sandbox.linkup.tasks[tasks[7].id])
    assert tasks[7].output == truth


def test_search_frame_sources_and_duplicates(sandbox):
    queries = ["What is Microsoft's 2024 revenue?", "Who leads EU AI policy?",
               "What is Microsoft's 2024 revenue?"]
    before = sandbox.linkup.creates.copy()
    df = kit.search(queries, progress=False)
    assert list(df.columns) == ["input", "task_id", "status", "error", "answer", "sources",
                                "results", "data"]
    assert list(df["input"]) == queries and (df["status"] == "completed").all()
    assert df.loc[0, "task_id"] == df.loc[2, "task_id"]
    created = sandbox.linkup.creates - before
    assert created[("search", queries[0])] == 1 and sum(created.values()) == 2
    task = sandbox.linkup.tasks[df.loc[0, "task_id"]]
    assert task["input"]["depth"] == "standard" and task["input"]["outputType"] == "sourcedAnswer"
    src = kit.frames.sources(df)
    assert list(src.columns[:3]) == ["task_id", "input", "position"]
    assert {"name", "url", "snippet", "domain"} <= set(src.columns)
    assert len(src) == sum(len(s) for s in df["sources"].iloc[:2])  # the repeat counts once
    assert src["domain"].str.contains(r"\.").all()


def test_failed_task_is_a_row_with_the_service_error(sandbox):
    with kit.Sandbox(speed=200, linkup_fail={"no such thing"}):
        df = kit.search(["no such thing", "fine question"], progress=False)
    assert list(df["status"]) == ["failed", "completed"]
    assert "SEARCH_QUERY_NO_RESULT" in df.loc[0, "error"] and pd.isna(df.loc[0, "answer"])


def test_fetch_pages_and_research(sandbox):
    pages = kit.fetch_pages(["https://example.com/report", "https://example.org/"],
                            include_raw_html=True, progress=False)
    assert list(pages.columns[:4]) == ["input", "task_id", "status", "error"]
    assert pages.loc[0, "markdown"].startswith("# example.com")
    assert pages.loc[0, "raw_html"].startswith("<html>")
    research = kit.research(["Where is battery recycling heading?"], progress=False)
    assert research.loc[0, "status"] == "completed" and "In short" in research.loc[0, "answer"]


def test_structured_output_takes_a_dict_schema(sandbox):
    schema = {"type": "object", "properties": {"revenue": {"type": "number"},
                                               "company": {"type": "string"}}}
    df = kit.search(["Microsoft revenue"], output_type="structured",
                    structured_output_schema=schema, progress=False)
    assert set(df.loc[0, "data"]) == {"revenue", "company"}
    task = sandbox.linkup.tasks[df.loc[0, "task_id"]]
    sent = task["sent"]["structuredOutputSchema"]
    assert isinstance(sent, str) and '"revenue"' in sent
    assert task["input"]["structuredOutputSchema"] == schema  # echoed as an object


def test_inputs_are_mapped_and_validated():
    body = build_input("search", {"q": "x", "include_domains": ["a.com"], "from_date":
                                  datetime.date(2025, 1, 1), "toDate": "2025-02-01",
                                  "max_results": 5})
    assert body == {"q": "x", "includeDomains": ["a.com"], "fromDate": "2025-01-01",
                    "toDate": "2025-02-01", "maxResults": 5, "depth": "standard",
                    "outputType": "sourcedAnswer"}


@pytest.mark.parametrize("params, message", [
    ({"depth": "deepest"}, "depth='deepest' is not one of flash, fast, standard, deep"),
    ({"output_type": "answer"}, "outputType='answer'"),
    ({"output_type": "structured"}, "needs structured_output_schema"),
    ({"from_date": "2025-13-01"}, "not a date"),
    ({"from_date": "01/02/2025"}, "not a date"),
    ({"from_date": "2025-03-01", "to_date": "2025-01-01"}, "after to_date"),
    ({"include_domain": ["a.com"]}, "Did you mean 'include_domains'"),
    ({"max_results": 0}, "positive integer"),
])
def test_bad_search_parameters_are_refused_before_sending(sandbox, params, message):
    before = sandbox.log.count("/v1/tasks")
    with pytest.raises(kit.InvalidRequest, match=message.replace("(", r"\(")):
        kit.search(["q"], progress=False, **params)
    assert sandbox.log.count("/v1/tasks") == before


async def test_too_many_requests_is_retried(linkup, sandbox):
    sandbox.faults.add("429", times=2, method="POST", path="/v1/tasks", retry_after=0)
    tasks = await linkup.submit(_searches(3, "throttled"))
    assert len(tasks) == 3
    assert sandbox.linkup.creates[("search", "throttled 0")] == 1
    assert linkup.http.stats[("create-tasks", 429)] == 2


async def test_queue_limit_waits_for_room_and_sends_the_rest():
    with kit.Sandbox(speed=200, linkup_queue_limit=40) as sb:
        async with kit.Linkup(retry=FAST_RETRY) as c:
            tasks = await c.submit(_searches(130, "queued"))
            assert [t.input["q"] for t in tasks] == [f"queued {i}" for i in range(130)]
            assert sum(sb.linkup.creates.values()) == 130  # each created once
            # The first POST (100 > 40) learns the limit; after that each POST fits the room.
            assert c.http.stats[("create-tasks", 429)] == 1
            await c.wait(tasks, progress=False)
        assert all(t.status is kit.Status.COMPLETED for t in tasks)


def test_a_large_batch_is_sized_to_the_queue_and_never_refused():
    with kit.Sandbox(speed=200, linkup_queue_limit=150) as sb:
        df = kit.search([f"sized {i}" for i in range(400)], depth="fast", progress=False)
        assert (df["status"] == "completed").all() and len(df) == 400
        assert sb.log.count("/v1/tasks", method="POST", status=429) == 0
        assert sum(sb.linkup.creates.values()) == 400


def test_out_of_credits_stops_the_batch_and_keeps_what_was_created(sandbox):
    key = sandbox.api_key("linkup", "low-credits")  # 120 tasks' worth
    queries = [f"paid {i}" for i in range(150)]
    with pytest.raises(kit.PaymentRequired, match="INSUFFICIENT_FUNDS_CREDITS") as info:
        kit.search(queries, api_key=key, depth="fast", progress=False)
    df = info.value.frame
    assert list(df["input"]) == queries
    assert (df["status"].iloc[:100] == "completed").all()  # created, then waited for
    # Not sent: still queued in the (stopped) job, which kit.resume() carries on later.
    assert (df["status"].iloc[100:] == "queued").all()
    assert df["error"].iloc[100].startswith("not sent: Linkup create-tasks: HTTP 429")
    jobs = kit.jobs()
    [job] = jobs[jobs["label"].str.startswith("Linkup search")
                 & (jobs["state"] == "stopped")].itertuples()  # (the label may carry a cost)
    assert job.queued == 50 and job.created == 100


async def test_budget_limit_is_payment_required(sandbox):
    async with kit.Linkup(api_key=sandbox.api_key("linkup", "over-budget")) as c:
        with pytest.raises(kit.PaymentRequired, match="EXCEED_BUDGET_LIMIT") as info:
            await c.search("anything")
    assert info.value.tasks == []


async def test_get_list_and_iterate(linkup, sandbox):
    tasks = await linkup.submit(_searches(5, "listed"))
    await linkup.wait(tasks, progress=False)
    one = await linkup.get_task(tasks[0].id)
    assert one.status is kit.Status.COMPLETED and one.input["q"] == "listed 0"
    page = await linkup.list_tasks(page_size=2, status="completed", type="search")
    assert len(page.tasks) == 2 and page.total_pages == -(-page.total // 2)
    assert set(page.quota) == {"inFlight", "limit"}
    ids = [t.id async for t in linkup.iter_tasks(page_size=50, sort_by="updatedAt",
                                                   sort_direction="asc")]
    assert len(ids) == len(set(ids)) == (await linkup.list_tasks()).total
    with pytest.raises(kit.InvalidRequest):
        await linkup.list_tasks(status="done")
    other = sandbox.api_key("linkup", "globex")
    async with kit.Linkup(base_url=sandbox.url, api_key=other) as c:
        with pytest.raises(kit.NotFound, match="TASK_NOT_FOUND"):
            await c.get_task(tasks[0].id)


async def test_processing_maps_to_running_and_errors_keep_service_words(linkup, sandbox):
    from kit.services.linkup import apply

    task = kit.Task("linkup", "x", "search")
    apply(task, {"status": "processing"})
    assert task.status is kit.Status.RUNNING
    apply(task, {"status": "failed", "error": "FETCH_ERROR: boom"})
    assert task.status is kit.Status.FAILED and task.error == "FETCH_ERROR: boom"
    async with kit.Linkup(base_url=sandbox.url, api_key="wrong") as c:
        with pytest.raises(kit.AuthenticationError, match="Invalid API key"):
            await c.search("q")


# -- lost answers: matching what was sent to what Linkup echoes --------------------------------
SCHEMA = {"type": "object", "properties": {"revenue": {"type": "number"},
                                           "company": {"type": "string"}}}


def _lose_next_create(sandbox, kind: str = "5xx") -> None:
    """The next POST /v1/tasks is handled (the task is created) and its answer lost."""
    sandbox.faults.add(kind, times=1, method="POST", path="/v1/tasks", after=True)


@pytest.mark.parametrize("schema", [SCHEMA, json.dumps(SCHEMA)], ids=["dict", "string"])
@pytest.mark.parametrize("lost", ["5xx", "drop"])
async def test_structured_search_with_a_lost_answer_is_found_not_sent_again(
        linkup, sandbox, schema, lost):
    q = f"lost structured {lost} {type(schema).__name__}"
    _lose_next_create(sandbox, lost)
    task = await linkup.search(q, output_type="structured", structured_output_schema=schema,
                               include_sources=True, from_date="2025-01-01T08:30:00Z",
                               to_date=datetime.datetime(2025, 6, 30, 23, 59))
    assert sandbox.faults.rules[0].hits == 1
    assert sandbox.linkup.creates[("search", q)] == 1  # created once, not paid twice
    assert task.id in sandbox.linkup.tasks and task.status is not kit.Status.FAILED
    assert task.input["structuredOutputSchema"] == build_input(
        "search", {"q": q, "output_type": "structured", "structured_output_schema": schema}
    )["structuredOutputSchema"]  # what was sent: the journal's reuse key
    await linkup.wait([task], progress=False)
    assert set(task.output["data"]) == {"revenue", "company"}
    assert {"type", "content"} <= set(task.output["sources"][0])


def test_helper_recovers_a_lost_structured_search(sandbox):
    q = "lost structured through a job"
    _lose_next_create(sandbox)
    df = kit.search([q], output_type="structured", structured_output_schema=json.dumps(SCHEMA),
                    progress=False, fresh=True)
    assert sandbox.faults.rules[0].hits == 1
    assert df.loc[0, "status"] == "completed" and set(df.loc[0, "data"]) == {"revenue", "company"}
    assert sandbox.linkup.creates[("search", q)] == 1


async def test_a_lookup_that_fails_leaves_the_task_unknown_never_not_created(linkup, sandbox):
    q = "lost and the list is down"
    _lose_next_create(sandbox)
    sandbox.faults.add("5xx", method="GET", path="/v1/tasks")  # every list read fails
    task = await linkup.search(q, output_type="structured", structured_output_schema=SCHEMA)
    assert task.status is kit.Status.UNKNOWN and task.id is None
    assert "may exist" in task.error and "not created" not in task.error
    assert sandbox.linkup.creates[("search", q)] == 1
    with pytest.raises(kit.KitError):  # a job's orphan then stays "may exist"
        await linkup.find_created("search", task.input, 0.0)


async def test_find_created_matches_an_echoed_input(linkup, sandbox):
    # Sent by someone else, as the official SDK does: a string schema, an ISO datetime.
    sent = {"q": "sent elsewhere", "depth": "fast", "outputType": "structured",
            "structuredOutputSchema": json.dumps(SCHEMA), "fromDate": "2025-03-01T00:00:00+00:00"}
    key = sandbox.api_key("linkup")
    task_id = sandbox.linkup.add_task(key, "search", sent)
    echoed = sandbox.linkup.tasks[task_id]["input"]
    assert echoed["fromDate"] == "2025-03-01" and echoed["includeImages"] is False
    mine = build_input("search", {"q": "sent elsewhere", "depth": "fast",
                                  "output_type": "structured", "structured_output_schema": SCHEMA,
                                  "from_date": datetime.date(2025, 3, 1)})
    found = await linkup.find_created("search", mine, time.time())
    assert found is not None and found.id == task_id and found.input == mine
    other = {**mine, "includeSources": True}  # not the same request
    assert await linkup.find_created("search", other, time.time()) is None


@pytest.mark.parametrize("listed, same", [
    ({"includeImages": False, "includeSources": False, "maxResults": 10,
      "structuredOutputSchema": None, "includeDomains": None}, True),
    ({"maxResults": 3}, True),  # a default Linkup fills in that kit does not know
    ({"includeImages": True}, False),
    ({"includeDomains": ["a.com"]}, False),
    ({"depth": "deep"}, False),
    ({"fromDate": "2025-01-02"}, False),
    ({"futureField": 1}, True),  # unknown extra fields are ignored
])
def test_same_input_compares_normalized_inputs(listed, same):
    sent = build_input("search", {"q": "n", "from_date": "2025-01-01T12:00:00Z"})
    echoed = {**sent, "fromDate": "2025-01-01", **listed}
    assert same_input("search", sent, echoed) is same
    assert normalize_input("search", sent) == normalize_input("search", {
        "q": "n", "depth": "standard", "outputType": "sourcedAnswer", "fromDate": "2025-01-01",
        "includeImages": False, "structuredOutputSchema": None})


# -- inputs --------------------------------------------------------------------------------------
async def test_client_methods_always_send_depth_and_output_type(linkup, sandbox):
    search = await linkup.search("always sent")
    research = await linkup.research("always sent research")
    flash = await linkup.search("flash search", depth="flash", output_type="searchResults")
    assert sandbox.linkup.tasks[search.id]["sent"] == {"q": "always sent", "depth": "standard",
                                                       "outputType": "sourcedAnswer"}
    assert sandbox.linkup.tasks[research.id]["sent"] == {"q": "always sent research",
                                                         "outputType": "sourcedAnswer"}
    assert sandbox.linkup.tasks[flash.id]["sent"]["depth"] == "flash"
    await linkup.wait([flash], progress=False)
    assert flash.status is kit.Status.COMPLETED and flash.output["results"]


@pytest.mark.parametrize("value, sent", [
    ("2025-01-01", "2025-01-01"),
    ("2025-01-01T23:30:00Z", "2025-01-01"),
    ("2025-01-01T23:30:00-05:00", "2025-01-01"),  # the date as written
    (datetime.datetime(2025, 1, 1, 23, 30), "2025-01-01"),
    (datetime.date(2025, 1, 1), "2025-01-01"),
])
def test_dates_and_datetimes_are_sent_as_dates(value, sent):
    assert build_input("research", {"q": "x", "from_date": value})["fromDate"] == sent


@pytest.mark.parametrize("params, message", [
    ({"from_date": "2025-01-01T25:00:00"}, "not a date"),
    ({"schema": "[1, 2]"}, "schema must be a JSON schema"),
    ({"schema": "{not json"}, "schema must be a JSON schema"),
    ({"instructions": "the title"}, "give a schema"),
])
def test_bad_fetch_and_date_inputs_are_refused(params, message):
    kind = "search" if "from_date" in params else "fetch"
    base = {"q": "x"} if kind == "search" else {"url": "https://example.com/"}
    with pytest.raises(kit.InvalidRequest, match=message):
        build_input(kind, {**base, **params})


def test_fetch_with_a_schema_has_a_data_column(sandbox):
    schema = {"type": "object", "properties": {"title": {"type": "string"},
                                               "price": {"type": "number"}}}
    df = kit.fetch_pages(["https://example.com/product"], schema=schema,
                         instructions="The product's title and price.", progress=False)
    assert "data" in df.columns and set(df.loc[0, "data"]) == {"title", "price"}
    task = sandbox.linkup.tasks[df.loc[0, "task_id"]]
    assert json.loads(task["sent"]["schema"]) == schema and task["input"]["schema"] == schema
    plain = kit.fetch_pages(["https://example.com/plain"], progress=False)
    assert pd.isna(plain.loc[0, "data"])


async def test_extract_tasks_are_listed_and_read_but_not_created(sandbox):
    key = sandbox.api_key("linkup", "globex")
    planted = sandbox.linkup.add_task(key, "extract", {"url": "https://example.com/x"})
    async with kit.Linkup(base_url=sandbox.url, api_key=key, retry=FAST_RETRY) as c:
        listed = [t async for t in c.iter_tasks(type="extract")]
        assert [t.id for t in listed] == [planted] and listed[0].kind == "extract"
        everything = {t.id: t for t in (await c.list_tasks()).tasks}
        assert everything[planted].kind == "extract"
        one = await c.get_task(planted)
        assert one.kind == "extract" and one.input == {"url": "https://example.com/x"}
        before = sandbox.log.count("/v1/tasks", "POST")
        with pytest.raises(kit.InvalidRequest, match="TASK_TYPE_NOT_SUPPORTED"):
            await c.submit([{"type": "extract", "input": {"url": "https://example.com/x"}}])
        assert sandbox.log.count("/v1/tasks", "POST") == before  # refused before sending


# -- the sandbox speaks Linkup on every /v1 path ---------------------------------------------------
@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/v1/nope", 404, "NOT_FOUND"),
    ("DELETE", "/v1/tasks", 405, "METHOD_NOT_ALLOWED"),
    ("POST", "/v1/tasks/00000000-0000-4000-8000-000000000000", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/v1/tasks/not-a-uuid", 400, "VALIDATION_ERROR"),
    ("GET", "/v1/tasks/00000000-0000-4000-8000-000000000000", 404, "TASK_NOT_FOUND"),
])
async def test_sandbox_errors_are_linkup_shaped(sandbox, method, path, status, code):
    import aiohttp

    headers = {"Authorization": f"Bearer {sandbox.api_key('linkup')}"}
    async with aiohttp.ClientSession() as s, s.request(method, sandbox.url + path,
                                                       headers=headers) as r:
        body = await r.json()
    assert r.status == status and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["details"], list)


async def test_a_non_uuid_task_id_is_an_invalid_request(linkup):
    with pytest.raises(kit.InvalidRequest, match="UUID"):
        await linkup.get_task("not-a-uuid")


async def test_an_empty_list_has_no_pages(sandbox):
    async with kit.Linkup(base_url=sandbox.url, api_key=sandbox.api_key("linkup", "over-budget"),
                          retry=FAST_RETRY) as c:
        page = await c.list_tasks()
        assert (page.tasks, page.total, page.total_pages) == ([], 0, 0)
        assert [t async for t in c.iter_tasks()] == []
