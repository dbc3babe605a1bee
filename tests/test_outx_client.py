"""The OutX client against the sandbox: every endpoint, every documented error, the poller."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

import kit
from kit.services.outx import to_slug
from tests.conftest import FAST_RETRY


async def test_fetch_profile_and_wait(outx, sandbox):
    task = await outx.fetch_profile("williamhgates")
    assert task.id and task.status is kit.Status.PENDING and task.kind == "fetch-profile"
    [done] = await outx.wait([task], progress=False)
    assert done is task
    assert task.status is kit.Status.COMPLETED and task.service_status == "completed"
    assert task.output["name"] == "Bill Gates"
    assert task.output == sandbox.outx.ground_truth("fetch-profile", {"profile_slug": "williamhgates"})


async def test_every_create_endpoint_and_get_task(outx):
    posts = await outx.fetch_profiles_posts(["urn:li:fsd_profile:ACoAAJANEDOE"])
    like = await outx.like_post("urn:li:activity:7123456789012345678")
    comment = await outx.comment_post("urn:li:activity:7123456789012345678", "Great read!")
    done = await outx.wait([posts, like, comment], progress=False)
    assert [t.status for t in done] == [kit.Status.COMPLETED] * 3
    assert posts.input == {"profile_urns": ["urn:li:fsd_profile:ACoAAJANEDOE"]}
    assert isinstance(posts.output["posts"], list)
    assert like.output["liked"] is True
    assert comment.output["comment_text"] == "Great read!"
    again = await outx.get_task(comment.id)
    assert again.kind == "comment-post" and again.status is kit.Status.COMPLETED
    assert again.input["social_urn"] == "urn:li:activity:7123456789012345678"


async def test_missing_and_wrong_key(sandbox):
    with pytest.raises(kit.AuthenticationError, match="OUTX_API_KEY"):
        kit.OutX(base_url=sandbox.url, api_key="  ")
    async with kit.OutX(base_url=sandbox.url, api_key="not-a-key", retry=FAST_RETRY) as c:
        with pytest.raises(kit.AuthenticationError, match="Invalid API Key") as info:
            await c.fetch_profile("williamhgates")
    assert info.value.status == 401


async def test_no_extension_is_permission_denied_with_advice(sandbox):
    key = sandbox.api_key("outx", team="no-extension")
    async with kit.OutX(base_url=sandbox.url, api_key=key, retry=FAST_RETRY) as c:
        with pytest.raises(kit.PermissionDenied) as info:
            await c.fetch_profile("williamhgates")
    message = str(info.value)
    assert "Plugin installation required" in message
    assert "Chrome" in message and "extension" in message and "LinkedIn" in message


async def test_other_teams_task_is_not_found(outx, sandbox):
    task = await outx.fetch_profile("williamhgates")
    other = sandbox.api_key("outx", team="globex")
    async with kit.OutX(base_url=sandbox.url, api_key=other, retry=FAST_RETRY) as c:
        with pytest.raises(kit.NotFound, match="Agent task not found"):
            await c.get_task(task.id)
        # In a wait, a 404 is that task's failure, not an exception.
        foreign = kit.Task(service="outx", id=task.id, kind="fetch-profile")
        [t] = await c.wait([foreign], progress=False)
    assert t.status is kit.Status.FAILED and "not found" in t.error


async def test_service_400_is_invalid_request(outx):
    with pytest.raises(kit.InvalidRequest, match="Missing or invalid 'profile_slug'") as info:
        await outx.fetch_profile("ghost-profile-404")
    assert info.value.status == 400


async def test_no_admin_like_is_404(sandbox):
    key = sandbox.api_key("outx", team="no-admin")
    async with kit.OutX(base_url=sandbox.url, api_key=key, retry=FAST_RETRY) as c:
        with pytest.raises(kit.NotFound, match="No admin user"):
            await c.like_post("urn:li:activity:1")


@pytest.mark.parametrize("value, slug", [
    ("williamhgates", "williamhgates"),
    ("  williamhgates ", "williamhgates"),
    ("https://www.linkedin.com/in/williamhgates", "williamhgates"),
    ("https://www.linkedin.com/in/williamhgates/", "williamhgates"),
    ("http://linkedin.com/in/williamhgates/?trk=public_profile", "williamhgates"),
    ("www.linkedin.com/in/john-doe-123abc", "john-doe-123abc"),
    ("linkedin.com/in/john-doe-123abc/details/experience/", "john-doe-123abc"),
    ("https://de.linkedin.com/in/jos%C3%A9-garc%C3%ADa", "josé-garcía"),
    ("in/satyanadella", "satyanadella"),
])
def test_url_to_slug(value, slug):
    assert to_slug(value) == slug


@pytest.mark.parametrize("value", [
    "", "  ", "ab", None, 42, "john doe", "https://www.linkedin.com/company/microsoft",
    "https://example.com/in/someone", "https://www.linkedin.com/", "a/b", "x" * 101,
])
def test_bad_slugs_are_refused_naming_the_value(value):
    with pytest.raises(kit.InvalidRequest) as info:
        to_slug(value)
    assert repr(value)[:20] in str(info.value)


async def test_retries_reads_on_5xx_and_honours_retry_after(outx, sandbox):
    task = await outx.fetch_profile("retry-me")
    sandbox.faults.add("5xx", times=2, path="/linkedin-agent/get-task-status")
    sandbox.faults.add("429", times=1, retry_after=60, path="/linkedin-agent/get-task-status")
    loop = asyncio.get_running_loop()
    started = loop.time()
    again = await outx.get_task(task.id)
    assert loop.time() - started >= 0.3  # it waited what Retry-After asked: 60 service s, x200
    assert again.id == task.id
    assert outx.http.stats[("get-task-status", 503)] == 2
    assert outx.http.stats[("get-task-status", 429)] == 1


async def test_html_error_page_and_bad_json_are_retried_for_reads(outx, sandbox):
    task = await outx.fetch_profile("html-page")
    sandbox.faults.add("html", times=1, path="/linkedin-agent/get-task-status")
    sandbox.faults.add("bad_json", times=1, path="/linkedin-agent/get-task-status")
    again = await outx.get_task(task.id)
    assert again.id == task.id


async def test_reads_give_up_with_service_error_after_attempts(outx, sandbox):
    task = await outx.fetch_profile("always-502")
    sandbox.faults.add("html", path="/linkedin-agent/get-task-status")
    with pytest.raises(kit.ServiceError, match="HTML error page"):
        await outx.get_task(task.id)
    assert outx.http.stats[("get-task-status", 502)] == FAST_RETRY.attempts


async def test_create_is_not_retried_after_5xx(outx, sandbox):
    sandbox.faults.add("5xx", times=1, method="POST", after=True)
    with pytest.raises(kit.ServiceError):
        await outx.fetch_profile("created-once")
    assert sandbox.outx.creates[("fetch-profile", "created-once")] == 1
    assert outx.http.stats[("fetch-profile", 503)] == 1


async def test_create_is_not_retried_after_dropped_connection(outx, sandbox):
    sandbox.faults.add("drop", times=1, method="POST", after=True)
    with pytest.raises(kit.TransportError, match="did not repeat"):
        await outx.like_post("urn:li:activity:42")
    assert sandbox.outx.creates[("like-post", "urn:li:activity:42")] == 1


async def test_create_is_retried_after_429(outx, sandbox):
    sandbox.faults.add("429", times=2, method="POST", retry_after=0)
    task = await outx.fetch_profile("after-429")
    assert task.id
    assert sandbox.outx.creates[("fetch-profile", "after-429")] == 1


async def test_create_is_retried_when_the_connection_never_opened(sandbox):
    # Nothing listens on this port: the request cannot have been sent.
    async with kit.OutX(base_url="http://127.0.0.1:9", api_key="k",
                        retry=kit.RetryPolicy(attempts=3, base_delay=0.01)) as c:
        with pytest.raises(kit.TransportError) as info:
            await c.fetch_profile("nobody-home")
    assert c.http.stats[("fetch-profile", 0)] == 3
    assert "Check your network" in str(info.value)


async def test_slow_answer_times_out_and_read_is_retried(sandbox):
    key = sandbox.api_key("outx")
    async with kit.OutX(base_url=sandbox.url, api_key=key, http_timeout=0.3,
                        retry=FAST_RETRY) as c:
        task = await c.fetch_profile("slow-one")
        sandbox.faults.add("slow", times=1, delay=1.0, path="/linkedin-agent/get-task-status")
        again = await c.get_task(task.id)
    assert again.id == task.id
    assert c.http.stats[("get-task-status", 0)] == 1


async def test_slow_create_times_out_and_is_not_repeated(sandbox):
    key = sandbox.api_key("outx")
    async with kit.OutX(base_url=sandbox.url, api_key=key, http_timeout=0.3,
                        retry=FAST_RETRY) as c:
        sandbox.faults.add("slow", times=1, delay=0.6, method="POST")
        with pytest.raises(kit.TransportError, match="client timeout"):
            await c.fetch_profile("slow-create")
    await asyncio.sleep(0.6)  # the sandbox finishes handling it
    assert sandbox.outx.creates[("fetch-profile", "slow-create")] == 1


async def test_wait_timeout_leaves_a_readable_task(sandbox, tmp_path):
    # A task the extension never picks up: its own journal and no pending limit, so that it
    # holds back no other test's creates (they would wait for it to be picked up).
    async with kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key("outx"), retry=FAST_RETRY,
                        journal=str(tmp_path / "j.sqlite3"), pace=kit.Pace(pending=None)) as outx:
        stuck = await outx.fetch_profile("stuck-forever")
        quick = await outx.fetch_profile("quick-one")
        done = await outx.wait([stuck, quick], timeout=90, progress=False)  # 0.45 s here
    assert quick.status is kit.Status.COMPLETED and quick.error is None
    assert stuck.status is kit.Status.PENDING
    assert stuck.error is None  # not a failure: kit's own remark
    waited = int(re.search(r"stopped waiting after (\d+) s", stuck.note).group(1))
    assert 90 <= waited < 120 and "may still finish" in stuck.note  # the time really waited
    assert done == [stuck, quick]


async def test_wait_uses_docs_defaults_and_accepts_overrides(outx):
    assert outx.schedule.interval == 5 and outx.schedule.timeout == 180
    task = await outx.fetch_profile("no-limit")
    [t] = await outx.wait([task], timeout=math.inf, progress=False)
    assert t.status is kit.Status.COMPLETED
    with pytest.raises(kit.InvalidRequest, match="timeout must be a positive number"):
        await outx.wait([task], timeout=-1, progress=False)


async def test_wait_polls_at_the_scaled_interval(sandbox):
    key = sandbox.api_key("outx")
    poll = kit.PollSchedule(interval=20, first=20, timeout=600)  # 0.1 s real at x200
    async with kit.OutX(base_url=sandbox.url, api_key=key, poll=poll) as c:
        tasks = [await c.fetch_profile(f"paced-{i}") for i in range(5)]
        await c.wait(tasks, progress=False)
    reads = c.http.stats[("get-task-status", 200)]
    # 10-60 service s to finish, read every 20 service s: 1 to 4 reads per task.
    assert 5 <= reads <= 20


async def test_wait_raises_whole_call_errors(sandbox):
    good = kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key("outx"))
    async with good:
        task = await good.fetch_profile("williamhgates")
    noext = sandbox.api_key("outx", team="no-extension")
    async with kit.OutX(base_url=sandbox.url, api_key=noext) as c:
        with pytest.raises(kit.PermissionDenied):
            await c.wait([task], progress=False)


async def test_session_is_lazy_and_closed(sandbox):
    c = kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key("outx"))
    assert c.http._session is None
    async with c:
        await c.fetch_profile("lazy")
        session = c.http._session
        assert session is not None and not session.closed
    assert session.closed
