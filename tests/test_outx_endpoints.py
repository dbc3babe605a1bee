"""OutX's endpoints as CONTRACTS.md §1 lists them: posts by profile URN, companies, searches,
connections, messages, connection requests; the checks made before sending; the shapes read."""

from __future__ import annotations

import aiohttp
import pandas as pd
import pytest

import kit
from kit.services import outx as outx_service
from tests.conftest import FAST_RETRY

URN = "urn:li:fsd_profile:ACoAATEST0001"
FAST = kit.Pace.unlimited()


async def test_company_search_connections_and_messages(outx, sandbox):
    company = await outx.fetch_company("https://www.linkedin.com/company/microsoft/")
    company_posts = await outx.fetch_company_posts("openai")
    search = await outx.search_profiles(title="Data Scientist", geo_urn=["103644278"], count=5)
    connections = await outx.fetch_connections(keyword="a", sort_type="RECENTLY_ADDED", count=7)
    message = await outx.send_message("urn:li:person:ACoAAB12", "Hello!")
    invite = await outx.send_connection_request(URN, note="Met at the workshop")
    done = await outx.wait([company, company_posts, search, connections, message, invite],
                           progress=False)
    assert [t.status for t in done] == [kit.Status.COMPLETED] * 6
    assert company.input == {"company_slug": "microsoft"}
    assert company.output["name"] == "Microsoft" and "industry" in company.output
    assert isinstance(company_posts.output["posts"], list)
    assert search.input == {"title": "Data Scientist", "geo_urn": ["103644278"], "count": 5}
    found = outx_service.items_of(search.output, "profiles")
    assert found is not None and len(found) <= 5
    assert connections.input == {"keyword": "a", "sort_type": "RECENTLY_ADDED", "start": 0,
                                 "count": 7}
    assert len(connections.output["connections"]) <= 7
    assert message.output == {"sent": True} and invite.output == {"sent": True}
    again = await outx.get_task(invite.id)  # a task read by id knows what made it
    assert again.kind == "send-connection-request" and again.input["note"] == "Met at the workshop"


async def test_a_message_to_a_stranger_fails_with_the_service_reason(outx, sandbox):
    stranger = "urn:li:person:ACoAASTRANGER"
    sandbox.outx.config.strangers.add(stranger)
    try:
        task = await outx.send_message(stranger, "Hello!")
        [task] = await outx.wait([task], progress=False)
    finally:
        sandbox.outx.config.strangers.discard(stranger)
    assert task.status is kit.Status.FAILED
    assert "not a 1st-degree connection" in task.error


async def test_the_invitation_cap_is_a_clear_error_never_retried(sandbox):
    key = sandbox.api_key("outx", team="globex")
    cap = sandbox.outx.config.invitation_cap
    sent = sum(1 for t in sandbox.outx.tasks.values()
               if t["team"] == "globex" and t["kind"] == "send-connection-request")
    sandbox.outx.config.invitation_cap = sent
    try:
        async with kit.OutX(base_url=sandbox.url, api_key=key, retry=FAST_RETRY, pace=FAST) as c:
            before = sandbox.log.count("/linkedin-agent/send-connection-request")
            with pytest.raises(kit.RateLimited, match="invitation cap") as info:
                await c.send_connection_request(URN)
    finally:
        sandbox.outx.config.invitation_cap = cap
    assert sandbox.log.count("/linkedin-agent/send-connection-request") == before + 1
    assert info.value.status == 429 and key not in str(info.value)


@pytest.mark.parametrize(("call", "match"), [
    (lambda c: c.search_profiles(), "at least one filter"),
    (lambda c: c.search_profiles(title="x", count=51), "count must be a whole number from 1 to 50"),
    (lambda c: c.search_profiles(titel="x"), "Did you mean 'title'"),
    (lambda c: c.search_profiles(geo_urn="", title="x"), "geo_urn must be a list"),
    (lambda c: c.fetch_connections(count=101), "from 1 to 100"),
    (lambda c: c.fetch_connections(sort_type="OLDEST"), "RECENTLY_ADDED"),
    (lambda c: c.fetch_connections(start=-1), "start must be 0 or more"),
    (lambda c: c.send_message("williamhgates", "hi"), "person URN"),
    (lambda c: c.send_message(URN, "x" * 10_001), "at most 10,000"),
    (lambda c: c.send_message(URN, "  "), "non-empty"),
    (lambda c: c.send_connection_request(URN, note="x" * 301), "at most 300"),
    (lambda c: c.send_connection_request("urn:li:activity:1234567"), "profile URN"),
    (lambda c: c.fetch_profiles_posts(["williamhgates"]), "profile URN"),
    (lambda c: c.fetch_profiles_posts([]), "one or more profile URNs"),
    (lambda c: c.fetch_company("https://www.linkedin.com/in/williamhgates"), "company page"),
    (lambda c: c.fetch_company_posts(42), "company slug"),
])
async def test_bad_input_is_refused_before_sending(outx, sandbox, call, match):
    before = sandbox.log.count()
    with pytest.raises(kit.InvalidRequest, match=match):
        await call(outx)
    assert sandbox.log.count() == before


async def test_errors_have_the_documented_body_and_advice(sandbox):
    key = sandbox.api_key("outx", team="no-extension")
    async with kit.OutX(base_url=sandbox.url, api_key=key, retry=FAST_RETRY) as c:
        with pytest.raises(kit.PermissionDenied, match="48 hours"):
            await c.fetch_company("microsoft")
    async with aiohttp.ClientSession() as session:  # the raw body, as any client sees it
        async with session.post(sandbox.url + "/linkedin-agent/fetch-company", json={},
                                headers={"x-api-key": sandbox.api_key("outx")}) as response:
            assert response.status == 400
            assert await response.json() == {"error": "Missing or invalid 'company_slug'"}


def test_shapes_read_flat_and_nested_profiles_and_failure_reasons():
    flat = {"name": "Ann", "experience": [{"title": "CTO"}], "profile_urn": URN}
    nested = {"profile": {"full_name": "Ann", "positions": [{"title": "CTO"}],
                          "profile_urn": URN, "summary": "Hi"}}
    for output in (flat, nested):
        fields = outx_service.profile_fields(output)
        assert fields["name"] == "Ann" and fields["experience"] == [{"title": "CTO"}]
        assert outx_service.profile_urn(output) == URN
    assert outx_service.profile_fields(nested)["about"] == "Hi"
    assert outx_service.profile_urn({"profile_urn": "not a urn"}) is None
    # a failed task without an error field reports its whole output
    assert outx_service.failure_reason({"error": "Profile not available"}) == "Profile not available"
    assert "{'reason': 'blocked'}" in outx_service.failure_reason({"reason": "blocked"})
    assert "no reason" in outx_service.failure_reason(None)
    # posts of one profile, from the shapes a several-profile task may have
    mine, other = {"profile_urn": URN, "text": "a"}, {"profile_urn": "urn:li:fsd_profile:X", "text": "b"}
    assert outx_service.posts_of({"posts": [mine, other]}, URN) == [mine]
    assert outx_service.posts_of({"profiles": [{"profile_urn": URN, "posts": [mine]}]}, URN) == [mine]
    assert outx_service.posts_of([{"text": "c"}], URN) == [{"text": "c"}]  # one profile, no urn
    assert outx_service.posts_of([{"text": "c"}], URN, carried=2) is None  # whose? never guessed
    assert outx_service.posts_of({"profiles": []}, URN) == []
    assert outx_service.posts_of(None, URN) is None


def test_posts_by_slug_reuse_profiles_and_group_urns(sandbox):
    slugs = ["posts-ann-1", "posts-ben-2", "posts-cai-3"]
    profiles = kit.profiles(slugs, pace=FAST, progress=False)
    urns = list(profiles["profile_urn"])
    before = sandbox.outx.creates.copy()
    inputs = [*slugs, urns[0], "POSTS-ANN-1", "urn:li:fsd_profile:ACoAAPOSTSFIVE"]
    df = kit.posts(inputs, per_task=2, pace=FAST, progress=False)
    created = sandbox.outx.creates - before
    # No profile fetched again; four distinct URNs in two tasks (two LinkedIn actions).
    assert not any(kind == "fetch-profile" for kind, _ in created)
    assert sum(n for (kind, _), n in created.items() if kind == "fetch-profiles-posts") == 2
    assert list(df["input"]) == inputs
    assert list(df["profile_urn"]) == [*urns, urns[0], urns[0], "urn:li:fsd_profile:ACoAAPOSTSFIVE"]
    assert (df["status"] == "completed").all()
    # groups of sorted URNs: the same profiles make the same tasks, in any input order
    ordered = sorted(set(df["profile_urn"]))
    groups = df.groupby("task_id")["profile_urn"].agg(lambda u: sorted(set(u))).tolist()
    assert sorted(groups) == [ordered[:2], ordered[2:]]
    # each row holds its own profile's posts, though its task carried two profiles
    for urn, posts in zip(df["profile_urn"], df["posts"], strict=True):
        assert all(post["profile_urn"] == urn for post in posts)
    long = kit.frames.long_table(df, "posts", key="profile_urn")
    assert len(long) == int(df.drop_duplicates("profile_urn")["post_count"].sum())


def test_posts_fetch_missing_profiles_first_and_keep_failed_rows(sandbox):
    df = kit.posts(["posts-dee-4", "ghost-profile-404", "not a slug!"], errors="rows", pace=FAST,
                   progress=False)
    assert list(df["status"]) == ["completed", "failed", "failed"]
    assert df.loc[0, "profile_urn"].startswith("urn:li:fsd_profile:")
    assert "posts not fetched" in df.loc[1, "error"] and "400" in df.loc[1, "error"]
    assert "cannot be a LinkedIn profile slug" in df.loc[2, "error"]


def test_posts_without_waiting_need_known_urns(sandbox):
    before = sandbox.log.count()
    with pytest.raises(kit.InvalidRequest, match=r"kit.profiles\(slugs, wait=False\)"):
        kit.posts(["never-fetched-yet"], wait=False, pace=FAST)
    with pytest.raises(kit.InvalidRequest, match="per_task"):
        kit.posts([URN], per_task=26)
    assert sandbox.log.count() == before
    kit.profiles(["posts-eve-5"], pace=FAST, progress=False)
    job = kit.posts(["posts-eve-5"], wait=False, pace=FAST, progress=False, poll_interval=2)
    assert job.wait().loc[0, "status"] == "completed"


def test_frames_keep_kit_columns_and_never_guess_a_posts_owner():
    from kit.frames import posts_frame, search_profiles_frame

    search = kit.Task(service="outx", id="t1", kind="search-profiles", status=kit.Status.COMPLETED,
                      input={"title": "x"},
                      output={"profiles": [{"name": "Ann", "status": "open to work",
                                            "position": "CTO", "error": "none"}]})
    df = search_profiles_frame([({"title": "x"}, search)])
    assert df.loc[0, "status"] == "completed" and pd.isna(df.loc[0, "error"])
    assert df.loc[0, "position"] == 0 and df.loc[0, "profile.position"] == "CTO"
    assert df.loc[0, "profile.status"] == "open to work"
    other = "urn:li:fsd_profile:ACoAAOTHER"
    posts = kit.Task(service="outx", id="t2", kind="fetch-profiles-posts",
                     status=kit.Status.COMPLETED, input={"profile_urns": [URN, other]},
                     output={"posts": [{"text": "whose?"}]})
    rows = [({"input": u, "profile_slug": None, "profile_urn": u}, posts) for u in (URN, other)]
    df = posts_frame(rows)
    assert df["posts"].isna().all() and df["error"].str.contains("per_task=1").all()


def test_companies_company_posts_and_search_helpers(sandbox):
    companies = kit.companies(["microsoft", "linkedin.com/company/openai", "Microsoft"], pace=FAST,
                              progress=False)
    assert list(companies["company_slug"]) == ["microsoft", "openai", "microsoft"]
    assert companies.loc[0, "task_id"] == companies.loc[2, "task_id"]  # case-insensitive
    assert companies["employee_count"].dtype == "Int64" and companies.loc[0, "name"] == "Microsoft"
    posts = kit.company_posts(["openai"], pace=FAST, progress=False)
    assert posts.loc[0, "post_count"] == len(posts.loc[0, "posts"])
    searches = [{"title": "Economist", "count": 4}, {"keywords": "nobody at all", "count": 1},
                {"title": "Economist", "count": 4}, {}]
    df = kit.search_profiles(searches, errors="rows", pace=FAST, progress=False)
    assert list(df.columns[:12]) == ["search", "input", "task_id", "status", "error", "position",
                                     "name", "headline", "location", "profile_slug",
                                     "profile_urn", "connection_degree"]
    by_search = df.groupby("search")
    assert set(by_search.groups) == {0, 1, 2, 3}  # every search has a row, found or not
    first, third = df[df.search == 0], df[df.search == 2]
    assert len(first) <= 4 and list(first["task_id"]) == list(third["task_id"])  # sent once
    assert df[df.search == 3]["status"].tolist() == ["failed"]
    assert "at least one filter" in df[df.search == 3]["error"].iloc[0]
    assert pd.isna(df[df.search == 3]["position"].iloc[0])
