"""Linkup's official SDK (``linkup-sdk``) against the sandbox: every answer the sandbox gives must
parse into the SDK's typed models, and every error it gives must raise the SDK's documented
exception.  A mismatch here is a sandbox bug (the SDK is the reference), never the test's."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Iterator

import pytest

linkup = pytest.importorskip("linkup")  # the test extra installs it

from linkup import (  # noqa: E402
    LinkupAuthenticationError,
    LinkupBudgetLimitExceededError,
    LinkupClient,
    LinkupFetchResponse,
    LinkupFetchTask,
    LinkupFetchTaskInput,
    LinkupInsufficientCreditError,
    LinkupInvalidRequestError,
    LinkupResearchTask,
    LinkupResearchTaskInput,
    LinkupSearchResults,
    LinkupSearchStructuredResponse,
    LinkupSearchTask,
    LinkupSearchTaskInput,
    LinkupSourcedAnswer,
    LinkupTaskNotFoundError,
    LinkupTasksPage,
    LinkupTasksQueueLimitExceededError,
    LinkupTooManyRequestsError,
    LinkupUnknownError,
    LinkupUnsupportedTaskTypeError,
)

SCHEMA = {"type": "object", "properties": {"revenue": {"type": "number"},
                                           "company": {"type": "string"}}}
PAGE_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}


@pytest.fixture
def client(sandbox) -> LinkupClient:
    return LinkupClient(api_key=sandbox.api_key("linkup"), base_url=f"{sandbox.url}/v1")


def _client(sandbox, team: str) -> LinkupClient:
    return LinkupClient(api_key=sandbox.api_key("linkup", team), base_url=f"{sandbox.url}/v1")


def _finished(client: LinkupClient, ids: list[str], timeout: float = 30.0) -> list:
    """The tasks once none is pending or processing (research takes up to 6 s at x200)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = [client.get_task(i) for i in ids]
        if all(t.status in ("completed", "failed") for t in tasks) or time.monotonic() > deadline:
            return tasks
        time.sleep(0.1)


@pytest.fixture
def sandbox_setting(sandbox) -> Iterator:
    """Change one attribute of the sandbox for a test, put back afterwards."""
    saved: list[tuple[object, str, object]] = []

    def change(target: object, name: str, value: object) -> None:
        saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    yield change
    for target, name, value in reversed(saved):
        setattr(target, name, value)


# -- every task type, created, read and parsed ----------------------------------------------------
SEARCHES = [
    LinkupSearchTaskInput(query=f"sdk {output} {depth}", depth=depth, output_type=output,
                          structured_output_schema=SCHEMA if output == "structured" else None)
    for output in ("searchResults", "sourcedAnswer", "structured")
    for depth in ("flash", "fast", "standard", "deep")
]
EXTRA = [
    LinkupSearchTaskInput(query="sdk structured with sources", depth="fast", output_type="structured",
                          structured_output_schema=json.dumps(SCHEMA), include_sources=True,
                          include_images=False, from_date="2025-01-01T10:00:00Z",
                          to_date=datetime.date(2025, 6, 30), include_domains=["reuters.com"],
                          max_results=5, include_inline_citations=True),
    LinkupSearchTaskInput(query="sdk results with images", depth="fast",
                          output_type="searchResults", include_images=True),
    LinkupFetchTaskInput(url="https://example.com/plain"),
    LinkupFetchTaskInput(url="https://example.com/product", schema=PAGE_SCHEMA,
                         instructions="The product's title.", render_js=True,
                         include_raw_content=True, extract_images=True, mode="pro"),
    LinkupResearchTaskInput(query="sdk research answer", output_type="sourcedAnswer",
                            mode="answer", reasoning_depth="S"),
    LinkupResearchTaskInput(query="sdk research structured", output_type="structured",
                            structured_output_schema=SCHEMA, from_date="2025-01-01"),
]


def test_every_task_type_is_created_read_and_parsed(client, sandbox):
    created = client.create_tasks(SEARCHES + EXTRA)
    assert [type(t) for t in created] == ([LinkupSearchTask] * (len(SEARCHES) + 2)
                                          + [LinkupFetchTask] * 2 + [LinkupResearchTask] * 2)
    assert all(t.status == "pending" and t.output is None and t.error is None for t in created)
    assert [t.input.depth for t in created[:4]] == ["flash", "fast", "standard", "deep"]
    # The echoed input is the normalized one: schemas as objects, datetimes as dates, defaults.
    structured = created[len(SEARCHES)]
    assert structured.input.structured_output_schema == SCHEMA
    # (sent as "2025-01-01T10:00:00Z"; the SDK keeps a str as a str in its ``date | str``)
    assert str(structured.input.from_date) == "2025-01-01"
    assert structured.input.include_sources is True and structured.input.max_results == 5
    plain_search = created[0]
    assert plain_search.input.include_images is False and plain_search.input.include_sources is False
    assert created[-3].input.schema_ == PAGE_SCHEMA and created[-3].input.mode == "pro"

    done = _finished(client, [t.id for t in created])
    assert all(t.status == "completed" for t in done), [t.status for t in done]
    by_output = {t.input.query: t.output for t in done if isinstance(t, LinkupSearchTask)}
    for depth in ("flash", "fast", "standard", "deep"):
        assert isinstance(by_output[f"sdk searchResults {depth}"], LinkupSearchResults)
        assert isinstance(by_output[f"sdk sourcedAnswer {depth}"], LinkupSourcedAnswer)
        assert set(by_output[f"sdk structured {depth}"]) == {"revenue", "company"}  # raw object
    with_sources = by_output["sdk structured with sources"]
    assert isinstance(with_sources, LinkupSearchStructuredResponse)
    assert set(with_sources.data) == {"revenue", "company"} and with_sources.sources
    images = by_output["sdk results with images"].results
    assert {r.type for r in images} == {"text", "image"}
    plain, product = done[-4].output, done[-3].output
    assert isinstance(plain, LinkupFetchResponse) and plain.data is None and plain.markdown
    assert isinstance(product, LinkupFetchResponse) and set(product.data) == {"title"}
    assert product.raw_content and product.content_type and product.images
    assert isinstance(done[-2].output, LinkupSourcedAnswer)
    assert set(done[-1].output) == {"revenue", "company"}
    assert sandbox.linkup.creates[("search", "sdk sourcedAnswer flash")] == 1


async def test_async_twins_parse_the_same(client):
    [task] = await client.async_create_tasks([LinkupSearchTaskInput(
        query="sdk async", depth="flash", output_type="sourcedAnswer")])
    assert isinstance(task, LinkupSearchTask)
    again = await client.async_get_task(task.id)
    assert again.id == task.id and again.input.query == "sdk async"
    page = await client.async_list_tasks(page_size=5, task_type="search")
    assert isinstance(page, LinkupTasksPage) and len(page.data) <= 5


# -- lists: filters, sort, pages -----------------------------------------------------------------
def test_list_tasks_filters_sorts_and_pages(client):
    created = client.create_tasks([LinkupFetchTaskInput(url=f"https://example.com/list/{i}")
                                   for i in range(5)])
    _finished(client, [t.id for t in created])
    page = client.list_tasks(status="completed", task_type="fetch", sort_by="updatedAt",
                             sort_direction="asc", page=1, page_size=100)
    assert isinstance(page, LinkupTasksPage)
    assert page.data and all(t.status == "completed" and t.type == "fetch" for t in page.data)
    assert [t.updated_at for t in page.data] == sorted(t.updated_at for t in page.data)
    assert {t.id for t in created} <= {t.id for t in page.data}
    assert page.metadata.total >= 5 and page.quota.limit >= page.quota.in_flight >= 0
    both = client.list_tasks(status=["pending", "completed"], task_type=["search", "fetch"])
    assert all(t.type in ("search", "fetch") for t in both.data)
    first = client.list_tasks(page=1, page_size=2, task_type="fetch", sort_by="createdAt",
                              sort_direction="desc")
    second = client.list_tasks(page=2, page_size=2, task_type="fetch", sort_by="createdAt",
                               sort_direction="desc")
    assert (first.metadata.page, first.metadata.page_size) == (1, 2) and len(first.data) == 2
    assert not {t.id for t in first.data} & {t.id for t in second.data}
    assert first.metadata.total_pages == -(-first.metadata.total // 2)
    assert first.data[0].created_at >= first.data[1].created_at >= second.data[0].created_at


def test_an_empty_list_parses(sandbox):
    page = _client(sandbox, "over-budget").list_tasks()
    assert page.data == [] and (page.metadata.total, page.metadata.total_pages) == (0, 0)


def test_a_listed_extract_task_is_the_sdks_unsupported_type(sandbox):
    # The SDK knows no extract tasks: a list holding one raises its documented error (kit's
    # own client reads them: tests/test_linkup.py).
    sandbox.linkup.add_task(sandbox.api_key("linkup", "globex"), "extract",
                            {"url": "https://example.com/extract"})
    with pytest.raises(LinkupUnsupportedTaskTypeError):
        _client(sandbox, "globex").list_tasks(task_type="extract")


# -- every error the sandbox gives -----------------------------------------------------------------
def test_a_bad_key_is_an_authentication_error(sandbox):
    bad = LinkupClient(api_key="not-a-key", base_url=f"{sandbox.url}/v1")
    with pytest.raises(LinkupAuthenticationError, match="Invalid API key"):
        bad.list_tasks()
    with pytest.raises(LinkupAuthenticationError):
        bad.get_task(str(uuid.uuid4()))
    with pytest.raises(LinkupAuthenticationError):
        bad.create_tasks([LinkupFetchTaskInput(url="https://example.com/")])


def test_invalid_parameters_are_invalid_request_errors(client, sandbox):
    before = sum(sandbox.linkup.creates.values())
    # Past the SDK's own validation (model_construct), as a caller of an older SDK would send.
    bad_depth = LinkupSearchTaskInput.model_construct(query="q", depth="deepest",
                                                      output_type="sourcedAnswer")
    with pytest.raises(LinkupInvalidRequestError, match="depth"):
        client.create_tasks([bad_depth])
    no_schema = LinkupSearchTaskInput(query="q", depth="fast", output_type="structured")
    with pytest.raises(LinkupInvalidRequestError, match="structuredOutputSchema"):
        client.create_tasks([no_schema])
    with pytest.raises(LinkupInvalidRequestError, match="fromDate"):
        client.create_tasks([LinkupSearchTaskInput(query="q", depth="fast",
                                                   output_type="sourcedAnswer",
                                                   from_date="01/02/2025")])
    with pytest.raises(LinkupInvalidRequestError, match="At most 100"):
        client.create_tasks([LinkupFetchTaskInput(url=f"https://example.com/{i}")
                             for i in range(101)])
    with pytest.raises(LinkupInvalidRequestError):
        client.list_tasks(page=0)
    with pytest.raises(LinkupInvalidRequestError):
        client.list_tasks(sort_by="name")  # type: ignore[arg-type]
    assert sum(sandbox.linkup.creates.values()) == before


def test_task_ids_not_uuid_not_found_and_other_accounts(client, sandbox):
    with pytest.raises(LinkupInvalidRequestError, match="UUID"):
        client.get_task("not-a-uuid")
    with pytest.raises(LinkupTaskNotFoundError):
        client.get_task(str(uuid.uuid4()))
    [mine] = client.create_tasks([LinkupFetchTaskInput(url="https://example.com/mine")])
    with pytest.raises(LinkupTaskNotFoundError):
        _client(sandbox, "globex").get_task(mine.id)


def test_extract_tasks_are_refused_with_403(client, sandbox):
    before = sum(sandbox.linkup.creates.values())
    # The SDK cannot build an extract task (TypeError), so the raw payload goes through its
    # request method: the point is how it reads the sandbox's answer.
    with pytest.raises(TypeError):
        client.create_tasks([{"type": "extract"}])  # type: ignore[list-item]
    with pytest.raises(LinkupUnsupportedTaskTypeError, match="not supported"):
        client._request("POST", "/tasks", json=[{"type": "extract", "input": {
            "url": "https://example.com/"}}], timeout=10)
    assert sum(sandbox.linkup.creates.values()) == before


def test_a_full_queue_is_the_queue_limit_error(client, sandbox, sandbox_setting):
    sandbox_setting(sandbox.linkup.config, "queue_limit", 0)
    with pytest.raises(LinkupTasksQueueLimitExceededError):
        client.create_tasks([LinkupFetchTaskInput(url="https://example.com/queued")])
    assert client.list_tasks(page_size=1).quota.limit == 0


def test_too_many_requests(client, sandbox, sandbox_setting):
    sandbox_setting(sandbox.linkup.config, "requests_per_second", 0)
    with pytest.raises(LinkupTooManyRequestsError):
        client.list_tasks()
    with pytest.raises(LinkupTooManyRequestsError):
        client.create_tasks([LinkupFetchTaskInput(url="https://example.com/throttled")])


def test_money_errors(client, sandbox, sandbox_setting):
    with pytest.raises(LinkupBudgetLimitExceededError):
        _client(sandbox, "over-budget").create_tasks([LinkupFetchTaskInput(
            url="https://example.com/budget")])
    sandbox_setting(sandbox.linkup.accounts[sandbox.api_key("linkup")], "credits", 0.0)
    with pytest.raises(LinkupInsufficientCreditError):
        client.create_tasks([LinkupFetchTaskInput(url="https://example.com/credits")])


def test_paths_and_faults_outside_the_tasks_api_are_linkup_shaped(client, sandbox):
    # The sandbox serves only the tasks API: the synchronous /fetch is an unknown path, which
    # must still answer a Linkup error body (the SDK reads every error body as JSON).
    with pytest.raises(LinkupUnknownError, match="404"):
        client.fetch("https://example.com/")
    sandbox.faults.add("5xx", times=1, path="/v1/tasks")
    with pytest.raises(LinkupUnknownError, match="503"):
        client.list_tasks()
