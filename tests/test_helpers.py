"""The notebook helpers and frames: one row per input, in order, typed; nothing lost."""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest

import kit
from kit.frames import PROFILE_FIELDS


def test_profiles_one_row_per_input_in_order(sandbox):
    inputs = ["williamhgates", "https://www.linkedin.com/in/satyanadella/", "ghost-profile-404",
              "WilliamHGates", "jane-doe-42", "williamhgates"]
    before = sandbox.outx.creates.copy()
    df = kit.profiles(inputs, progress=False, fresh=True)  # fresh: count creates afresh
    assert list(df["input"]) == inputs
    assert list(df.columns) == ["input", "profile_slug", "profile_urn", "task_id", "status",
                                "error", *PROFILE_FIELDS, "output"]
    assert df.loc[0, "profile_urn"].startswith("urn:li:fsd_profile:")
    assert df.loc[0, "output"]["name"] == df.loc[0, "name"]  # the raw output is kept
    assert list(df["profile_slug"]) == ["williamhgates", "satyanadella", "ghost-profile-404",
                                        "williamhgates", "jane-doe-42", "williamhgates"]
    assert list(df["status"]) == ["completed", "completed", "failed", "completed", "completed",
                                  "completed"]
    # duplicates: one task fills every matching row (case-insensitive)
    assert df.loc[0, "task_id"] == df.loc[3, "task_id"] == df.loc[5, "task_id"]
    created = sandbox.outx.creates - before
    assert created[("fetch-profile", "williamhgates")] == 1
    assert sum(created.values()) == 3  # the rejected slug created nothing
    # the rejected input is a row with its reason
    bad = df.iloc[2]
    assert pd.isna(bad["task_id"]) and "Missing or invalid 'profile_slug'" in bad["error"]
    # typed: nullable ints, lists kept as lists
    assert str(df["followers"].dtype) == "Int64" and str(df["connections"].dtype) == "Int64"
    assert df.loc[0, "followers"] == 35_000_000
    assert isinstance(df.loc[0, "skills"], list) and isinstance(df.loc[0, "experience"], list)
    truth = sandbox.outx.ground_truth("fetch-profile", {"profile_slug": "jane-doe-42"})
    assert df.loc[4, "name"] == truth["name"]


def test_profiles_refuses_bad_input_before_sending(sandbox):
    before = sandbox.log.count()
    with pytest.raises(kit.InvalidRequest, match="'not a slug'"):
        kit.profiles(["williamhgates", "not a slug"], progress=False)
    with pytest.raises(kit.InvalidRequest, match="single string"):
        kit.profiles("williamhgates", progress=False)
    with pytest.raises(kit.InvalidRequest, match="empty"):
        kit.profiles([], progress=False)
    with pytest.raises(kit.InvalidRequest, match="None"):
        kit.profiles(None, progress=False)
    assert sandbox.log.count() == before


def test_profiles_whole_call_errors_raise(sandbox):
    with pytest.raises(kit.PermissionDenied, match="Chrome"):
        kit.profiles(["williamhgates"], api_key=sandbox.api_key("outx", "no-extension"),
                     progress=False)
    with pytest.raises(kit.AuthenticationError):
        kit.profiles(["williamhgates"], api_key="wrong", progress=False)
    with pytest.raises(kit.InvalidRequest, match="plain http"):
        kit.profiles(["williamhgates"], base_url="http://example.com", api_key="k", progress=False)


def test_a_task_never_picked_up_holds_the_rest_back_until_patience_runs_out(sandbox, tmp_path):
    # Its own journal: the task left waiting would hold back the other tests' creates.
    book = str(tmp_path / "journal.sqlite3")
    df = kit.profiles(["stuck-forever", "williamhgates"], timeout=90, patience=300,
                      progress=False, journal=book)
    assert list(df["status"]) == ["pending", "queued"]  # waiting, not failed; nothing piled up
    assert re.search(r"waiting for your team's OutX Chrome extension: nothing picked up for "
                     r"5m [0-4]\ds — is LinkedIn open in Chrome", df.loc[0, "error"])
    assert df.loc[1, "error"].startswith("not sent: waiting for your team's OutX Chrome")
    assert "kit.resume()" in df.loc[1, "error"]
    assert pd.isna(df.loc[0, "name"]) and df.loc[0, "task_id"] and pd.isna(df.loc[1, "task_id"])
    assert kit.jobs(book)["state"].tolist() == ["stopped"]  # resumable


def test_posts_frame_and_long_table(sandbox):
    df = kit.posts(["jane-doe-42", "https://www.linkedin.com/in/satyanadella"], progress=False)
    assert list(df.columns) == ["input", "profile_slug", "profile_urn", "task_id", "status",
                                "error", "post_count", "posts"]
    assert (df["status"] == "completed").all()
    long = kit.frames.long_table(df, "posts")
    assert len(long) == int(df["post_count"].sum())
    if len(long):
        assert {"profile_slug", "position", "urn", "text", "reactions"} <= set(long.columns)


def test_long_tables_keyed_by_slug(sandbox):
    df = kit.profiles(["williamhgates", "satyanadella", "williamhgates", "ghost-profile-404"],
                      progress=False)
    experience = kit.frames.long_table(df, "experience")
    assert list(experience.columns) == ["profile_slug", "position", "title", "company", "duration",
                                        "location"]
    assert list(experience["profile_slug"]) == ["williamhgates", "satyanadella"]  # dup counted once
    education = kit.frames.long_table(df, "education")
    assert education.loc[education.profile_slug == "satyanadella", "school"].tolist()[0].startswith(
        "University of Chicago")
    skills = kit.frames.long_table(df, "skills")
    assert list(skills.columns) == ["profile_slug", "position", "skill"]
    assert skills[skills.profile_slug == "williamhgates"]["skill"].tolist() == [
        "Public Speaking", "Philanthropy", "Technology"]
    with pytest.raises(KeyError, match="nope"):
        kit.frames.long_table(df, "nope")


def test_to_frame_any_tasks(sandbox):
    async def go():
        async with kit.OutX() as c:
            a = await c.fetch_profile("williamhgates")
            b = await c.like_post("urn:li:activity:9")
            return await c.wait([a, b], progress=False)

    df = kit.to_frame(kit.run(go()))
    assert list(df.columns[:6]) == ["service", "kind", "task_id", "status", "error", "service_status"]
    assert list(df["kind"]) == ["fetch-profile", "like-post"]
    assert df.loc[0, "name"] == "Bill Gates" and df.loc[1, "liked"] == True  # noqa: E712
    assert str(df["followers"].dtype) == "Int64"
    assert isinstance(df["created_at"].dtype, pd.DatetimeTZDtype)


def test_export_keeps_lists(tmp_path, sandbox):
    df = kit.profiles(["williamhgates", "ghost-profile-404"], progress=False)
    csv = kit.export(df, tmp_path / "p.csv")
    parquet = kit.export(df, tmp_path / "p.parquet")
    with pytest.raises(kit.InvalidRequest, match="does not exist"):  # never created silently
        kit.export(df, tmp_path / "missing" / "p.parquet")
    back = pd.read_parquet(parquet)
    assert list(back["skills"][0]) == ["Public Speaking", "Philanthropy", "Technology"]
    text = csv.read_text()
    assert '""Public Speaking""' in text  # JSON inside a CSV cell
    with pytest.raises(kit.InvalidRequest, match=r"\.csv"):
        kit.export(df, tmp_path / "p.txt")


def test_inside_a_sandbox_the_journal_view_is_the_sandboxs_own(sandbox):
    df = kit.profiles(["journal-view-one"], progress=False)
    journal = kit.journal()
    assert df.loc[0, "task_id"] in set(journal["task_id"])  # what re-runs reuse, shown
    # ... from the sandbox's own journal, never the user's (KIT_JOURNAL here)
    user_journal = kit.journal(os.environ["KIT_JOURNAL"])
    assert df.loc[0, "task_id"] not in set(user_journal["task_id"])
    assert kit.jobs()["label"].str.startswith("OutX fetch-profile").any()
    again = kit.profiles(["journal-view-one"], progress=False)
    assert again.loc[0, "task_id"] == df.loc[0, "task_id"]
