"""Answers that are too big, too odd or carry the key: fake services on loopback send them, and
kit answers with clear errors, rows that say what happened, and nothing lost or leaked."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

import kit
from tests.fakes import FAST, KEY, closed_port, fake

UUID = "123e4567-e89b-42d3-a456-426614174000"


def outx_answering(status_body):
    """A fake OutX: creates succeed; every status read gets ``status_body`` (text or JSON)."""
    async def handler(request):
        if request.method == "POST":
            return web.json_response({"success": True, "api_agent_task_id": UUID})
        text = status_body if isinstance(status_body, str) else json.dumps(status_body)
        return web.Response(text=text, content_type="application/json")
    return handler


async def test_an_endless_answer_is_cut_off_and_not_read_again():
    hits: list[str] = []

    async def endless(request):
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"[" * 65536
        for _ in range(400):  # 25 MiB, more than any status answer may be
            await response.write(chunk)
        return response

    async with fake(kit.OutX, endless, hits) as client:
        task = kit.Task(service="outx", id=UUID, kind="fetch-profile")
        with pytest.raises(kit.ServiceError, match="over 8 MiB"):
            await client._refresh(task)
    assert hits == ["GET /linkedin-agent/get-task-status"]  # not retried


async def test_a_huge_answer_to_a_create_is_never_repeated():
    hits: list[str] = []

    async def huge(request):
        return web.Response(body=b" " * (9 * 1024 * 1024), content_type="application/json")

    async with fake(kit.OutX, huge, hits) as client:
        with pytest.raises(kit.ServiceError) as info:
            await client.fetch_profile("williamhgates")
    assert info.value.may_have_acted and len(hits) == 1


@pytest.mark.parametrize("depth", [950, 100_000])  # parses, but would break whatever walks it
async def test_absurd_nesting_is_read_safely(depth):
    async with fake(kit.OutX, outx_answering("[" * depth + "]" * depth)) as client:
        task = kit.Task(service="outx", id=UUID, kind="fetch-profile")
        with pytest.raises(kit.ServiceError, match="not JSON"):  # not a RecursionError
            await client._refresh(task)


async def test_non_numbers_are_read_as_missing():
    listing = '{"data": [], "metadata": {"page": 1, "pageSize": 1e400, "total": 1e400}}'

    async def linkup(request):
        return web.Response(text=listing, content_type="application/json")

    async with fake(kit.Linkup, linkup) as client:
        page = await client.list_tasks()  # 1e400 is no number: read as missing
    assert page.tasks == []
    agora_task = '{"task_id": "abcdefgh", "status": "1", "expiration_time": -Infinity, "start_time": 1e400}'

    async def agora(request):
        return web.Response(text=agora_task, content_type="application/json")

    async with fake(kit.Agora, agora) as client:
        task = await client.deep_dive("0x" + "1" * 40)
    assert task.id == "abcdefgh" and task.status is kit.Status.PENDING
    assert task.output["expiration_time"] is None and task.output["start_time"] is None


async def test_a_task_whose_answer_is_too_large_fails_instead_of_being_read_again():
    hits: list[str] = []

    async def handler(request):
        if request.method == "POST":
            return web.json_response({"success": True, "api_agent_task_id": UUID})
        return web.Response(body=b" " * (9 * 1024 * 1024), content_type="application/json")

    async with fake(kit.OutX, handler, hits) as client:
        task = await client.fetch_profile("williamhgates")
        [task] = await client.wait([task], timeout=1, progress=False)  # read once, at 1 s
    assert task.status is kit.Status.FAILED and "over 8 MiB" in task.error
    assert hits.count("GET /linkedin-agent/get-task-status") == 1


async def test_a_key_echoed_in_a_result_never_reaches_tasks_or_frames():
    body = {"success": True, "data": {"id": UUID, "status": "completed",
                                      "task_input": {"task_type": "agent_profile_fetch"},
                                      "task_output": {"name": f"Dr. {KEY}", "about": KEY}}}
    async with fake(kit.OutX, outx_answering(body)) as client:
        task = await client.get_task(UUID)
    assert task.output == {"name": "Dr. ***", "about": "***"}
    assert KEY not in kit.to_frame([task]).to_csv()


async def test_odd_items_in_a_create_answer_keep_every_row():
    async def answer(request):
        return web.json_response([None, {"id": UUID, "type": "search", "status": "pending"},
                                  {"id": ".."}])

    async with fake(kit.Linkup, answer) as client:
        tasks = await client.submit([{"type": "search", "input": {"q": q}} for q in "abc"])
    assert [t.status for t in tasks] == [kit.Status.UNKNOWN, kit.Status.PENDING, kit.Status.UNKNOWN]
    assert tasks[1].id == UUID and tasks[1].input["q"] == "b"  # the id seen is kept
    assert all("may exist" in t.error for t in (tasks[0], tasks[2]))


@pytest.mark.parametrize(("helper", "inputs"), [
    (kit.profiles, ["a-one", "b-two", "c-three"]),
    (kit.search, ["q one", "q two", "q three"]),
    (kit.deep_dives, ["0x" + f"{i:040x}" for i in (1, 2, 3)]),
])
def test_an_unreachable_service_stops_a_batch_at_once_and_keeps_it_queued(helper, inputs):
    key = KEY + "-unreachable"  # its own pace: Agora's 5/min is per key, for the whole process
    with pytest.raises(kit.ServiceUnreachable, match="Check your network") as info:
        helper(inputs, api_key=key, journal=False, retry=FAST,
               base_url=f"http://127.0.0.1:{closed_port()}", progress=False)
    frame = info.value.frame
    assert list(frame["status"]) == ["queued"] * 3  # nothing sent: a resume sends them all
    assert frame["error"].str.contains(r"\. kit.resume\(\) or `kit resume` sends them later").all()
    assert isinstance(info.value, kit.TransportError) and key not in str(info.value)


@pytest.mark.parametrize("call", [
    lambda big: kit.fetch_pages([big]),
    lambda big: kit.deep_dives([big]),
    lambda big: kit.search(["q"], depth=big),
    lambda big: kit.search(["q"], **{big: 1}),
    lambda big: kit.search_profiles([{"title": "x", big: 1}]),
    lambda big: kit.deep_dives([("0x" + "1" * 40, big)]),
])
def test_a_huge_input_makes_a_short_error_that_still_says_what_to_do(call):
    with pytest.raises(kit.InvalidRequest) as info:
        call("y" * 1_000_000)
    message = str(info.value)
    assert len(message) < 2100 and "characters cut" in message
    assert message.endswith((".", ")", "'"))  # the advice at the end survives


async def test_a_key_echoed_escaped_is_redacted_too():
    escaped = "\\u0065" + KEY[1:]  # JSON for the key itself ("e..."), written another way
    output = '{"name": "ESC", "ESC": 1}'.replace("ESC", escaped)
    body = ('{"success": true, "data": {"id": "' + UUID + '", "status": "completed", '
            '"task_output": ' + output + "}}")
    async with fake(kit.OutX, outx_answering(body)) as client:
        task = await client.get_task(UUID)
    assert task.output == {"name": "***", "***": 1}

    async def error(request):
        return web.Response(status=400, content_type="application/json",
                            text='{"error": "invalid key ESC"}'.replace("ESC", escaped))

    async with fake(kit.OutX, error) as client:
        with pytest.raises(kit.InvalidRequest) as info:
            await client.fetch_profile("williamhgates")
    assert KEY not in str(info.value) and "***" in str(info.value)


async def test_a_create_id_in_an_error_answer_is_kept():
    hits: list[str] = []

    async def agora(request):
        if request.method == "POST":
            return web.json_response({"task_id": "abcdefgh", "status": "1",
                                      "service": "agent-deep-dive"}, status=500)
        return web.json_response([])

    async with fake(kit.Agora, agora, hits) as client:
        task = await client.deep_dive("0x" + "1" * 40)
    assert task.id == "abcdefgh" and task.service_status == "1"
    assert hits.count("POST /v1/market/newtask/agent-deep-dive") == 1

    async def linkup(request):  # one more task than was asked for
        return web.json_response([
            {"id": UUID, "type": "search", "status": "pending", "input": {"q": "b"}},
            {"id": "223e4567-e89b-42d3-a456-426614174000", "type": "search", "status": "pending",
             "input": {"q": "a", "depth": "standard", "outputType": "sourcedAnswer"}}])

    async with fake(kit.Linkup, linkup) as client:
        [task] = await client.submit([{"type": "search", "input": {"q": "a"}}])
    assert task.id == "223e4567-e89b-42d3-a456-426614174000"  # paired by its input


async def test_a_create_the_list_does_not_show_yet_is_never_sent_again():
    posts: list[str] = []

    async def lossy(request):
        if request.method == "POST":
            posts.append(request.path)
            raise ConnectionResetError  # the request arrived; the answer is lost
        return web.json_response({"data": [], "metadata": {}})  # the list lags the create

    async with fake(kit.Linkup, lossy) as client:
        [task] = await client.submit([{"type": "search", "input": {"q": "lost"}}])
    assert task.status is kit.Status.UNKNOWN and "may exist" in task.error
    assert len(posts) == 1


async def test_an_unreadable_status_says_so_when_kit_stops_waiting():
    async with fake(kit.OutX, outx_answering({"success": True, "data": None})) as client:
        task = await client.fetch_profile("williamhgates")
        [task] = await client.wait([task], timeout=3, progress=False)
    assert task.status is kit.Status.PENDING
    assert task.note.startswith("last status read failed") and "stopped waiting" in task.note


@pytest.mark.parametrize("key", ["abc\x7fdef", "abc\u2028def", "abc def"])
def test_keys_no_header_can_carry_are_refused_at_once(key):
    with pytest.raises(kit.AuthenticationError, match="copy-paste"):
        kit.OutX(api_key=key, base_url="https://api.outx.ai")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/#", "http://127.0.0.1:9/a\r\nX-Evil: 1"])
def test_base_urls_that_would_change_the_request_are_refused(url):
    with pytest.raises(kit.InvalidRequest, match="origin"):
        kit.OutX(api_key=KEY, base_url=url)
