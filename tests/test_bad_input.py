"""Bad input, table-driven, for every public helper: a clear error before any request, or with
errors="rows", a row with its error while the good inputs still run."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

import kit

GOOD = {"profiles": "williamhgates", "posts": "williamhgates", "search": "a fine question",
        "research": "a fine question", "fetch_pages": "https://example.com/page",
        "deep_dives": "0x" + "c" * 40, "onchain_data": "0x" + "c" * 40}
HELPERS = {name: getattr(kit, name) for name in GOOD}

CASES = [
    # (helper, inputs, options, error class, words the message must hold)
    *[(h, [], {}, kit.InvalidRequest, "empty") for h in GOOD],
    *[(h, None, {}, kit.InvalidRequest, "None") for h in GOOD],
    *[(h, GOOD[h], {}, kit.InvalidRequest, "single string") for h in GOOD],
    *[(h, [GOOD[h], 42], {}, kit.InvalidRequest, "42") for h in GOOD],
    *[(h, [GOOD[h], None], {}, kit.InvalidRequest, "None") for h in GOOD],
    *[(h, [GOOD[h]], {"colour": "blue"}, kit.InvalidRequest, "unexpected keyword argument 'colour'")
      for h in GOOD],
    *[(h, [GOOD[h]], {"base_url": "http://example.com", "api_key": "k"}, kit.InvalidRequest,
       "plain http") for h in GOOD],
    ("profiles", ["https://example.com/in/someone"], {}, kit.InvalidRequest, "not a LinkedIn profile"),
    ("profiles", ["https://www.linkedin.com/company/microsoft/"], {}, kit.InvalidRequest,
     "not a LinkedIn profile"),
    ("profiles", [GOOD["profiles"]], {"timeout": -5}, kit.InvalidRequest, "timeout"),
    ("profiles", [GOOD["profiles"]], {"poll_interval": 0}, kit.InvalidRequest, "poll_interval"),
    ("profiles", [GOOD["profiles"]], {"errors": "ignore"}, kit.InvalidRequest, "errors must be"),
    ("fetch_pages", ["not a url"], {}, kit.InvalidRequest, "not an http(s) URL"),
    ("fetch_pages", ["ftp://example.com/x"], {}, kit.InvalidRequest, "not an http(s) URL"),
    ("search", ["q"], {"from_date": "2025-02-30"}, kit.InvalidRequest, "not a date"),
    ("search", ["q"], {"to_date": 20250101}, kit.InvalidRequest, "not a date"),
    ("search", ["q"], {"depth": "very"}, kit.InvalidRequest, "depth"),
    ("research", ["q"], {"reasoning_depth": "XXL"}, kit.InvalidRequest, "reasoningDepth"),
    ("deep_dives", ["0xabc"], {}, kit.InvalidRequest, "not a token contract"),
    ("deep_dives", [GOOD["deep_dives"]], {"expiration": 0}, kit.InvalidRequest, "at least 1"),
    ("onchain_data", ["0xabc"], {}, kit.InvalidRequest, "not a token contract"),
    ("onchain_data", [GOOD["onchain_data"]], {"expiration": 73}, kit.InvalidRequest, "1 to 72"),
    # Options typed as strings or NaN: those that spend or repeat take a real bool only.
    ("deep_dives", [GOOD["deep_dives"]], {"confirm": "no"}, kit.InvalidRequest, "True or False"),
    ("deep_dives", [GOOD["deep_dives"]], {"confirm": "False"}, kit.InvalidRequest, "True or False"),
    ("deep_dives", [GOOD["deep_dives"]], {"confirm": 1}, kit.InvalidRequest, "True or False"),
    *[(h, [GOOD[h]], {"fresh": "no"}, kit.InvalidRequest, "fresh must be True or False")
      for h in GOOD],
    ("profiles", [GOOD["profiles"]], {"poll_interval": float("nan")}, kit.InvalidRequest,
     "poll_interval"),
    ("profiles", [GOOD["profiles"]], {"timeout": float("nan")}, kit.InvalidRequest, "timeout"),
    ("profiles", [GOOD["profiles"]], {"patience": float("nan")}, kit.InvalidRequest, "patience"),
    *[("search", ["q"], {"http_timeout": t}, kit.InvalidRequest, "http_timeout")
      for t in (-1, 0, float("nan"), "30")],
    *[("profiles", [GOOD["profiles"]], {"time_scale": t}, kit.InvalidRequest, "time_scale")
      for t in (0, -5, "360", float("nan"), float("inf"))],
    ("profiles", [GOOD["profiles"]], {"journal": 123}, kit.InvalidRequest, "journal must be"),
    ("search", ["q"], {"base_url": 8080}, kit.InvalidRequest, "base_url must be a URL"),
    ("search", ["q"], {"max_cost": float("nan")}, kit.InvalidRequest, "max_cost"),
]


@pytest.mark.parametrize("helper, inputs, options, error, words", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_fails_before_any_request(sandbox, helper, inputs, options, error, words):
    before = sandbox.log.count()
    with pytest.raises(error) as info:
        HELPERS[helper](inputs, progress=False, **options)
    assert words.lower() in str(info.value).lower()
    assert sandbox.log.count() == before


@pytest.mark.parametrize("helper", list(GOOD))
def test_missing_key_is_an_authentication_error(helper, monkeypatch, sandbox):
    for name in ("OUTX_API_KEY", "LINKUP_API_KEY", "AGORA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    before = sandbox.log.count()
    with pytest.raises(kit.AuthenticationError, match="API key"):
        # a real origin: the running sandbox's key does not apply there
        HELPERS[helper]([GOOD[helper]], base_url="https://api.invalid", progress=False)
    assert sandbox.log.count() == before


@pytest.mark.parametrize("helper, bad", [("profiles", "not a slug!"), ("posts", 7),
                                         ("search", ""), ("fetch_pages", "nope"),
                                         ("deep_dives", "0x1")])
def test_errors_rows_keeps_bad_items_as_rows(sandbox, helper, bad):
    extra = {"confirm": True} if helper == "deep_dives" else {}
    df = HELPERS[helper]([GOOD[helper], bad, GOOD[helper]], errors="rows", progress=False, **extra)
    assert len(df) == 3
    assert list(df["status"]) == ["completed", "failed", "completed"]
    assert pd.isna(df["task_id"].iloc[1]) and len(df["error"].iloc[1]) > 10


def test_ten_thousand_duplicates_create_one_task(sandbox):
    before = sandbox.outx.creates[("fetch-profile", "ten-k-duplicate")]
    df = kit.profiles(["ten-k-duplicate"] * 10_000, progress=False, fresh=True)
    assert len(df) == 10_000 and df["task_id"].nunique() == 1
    assert (df["status"] == "completed").all()
    assert sandbox.outx.creates[("fetch-profile", "ten-k-duplicate")] == before + 1


def test_dates_accept_date_objects(sandbox):
    df = kit.search(["dated question"], from_date=datetime.date(2025, 1, 1),
                    to_date=datetime.datetime(2025, 6, 30, 12), progress=False)
    sent = sandbox.linkup.tasks[df.loc[0, "task_id"]]["input"]
    assert (sent["fromDate"], sent["toDate"]) == ("2025-01-01", "2025-06-30")


@pytest.mark.parametrize("call, error", [
    (lambda: kit.to_frame([1, 2]), TypeError),
    (lambda: kit.export("not a frame", "x.csv"), kit.InvalidRequest),
    (lambda: kit.run("not a coroutine"), TypeError),
    (lambda: kit.resume(services=["myspace"]), kit.InvalidRequest),
    (lambda: kit.resume(base_url="http://127.0.0.1:9"), kit.InvalidRequest),
])
def test_other_entry_points_refuse_bad_input(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("call, message", [
    (lambda: kit.profiles(__import__("pandas").DataFrame({"slug": ["williamhgates"]})),
     "pass one column"),
    (lambda: kit.OutX(api_key="k", base_url="http://localhost./"), "plain http"),
    (lambda: kit.OutX(api_key="k", base_url="https://api.outx.ai/?x=1"), "without a query"),
    (lambda: kit.OutX(api_key="k", base_url="https://api.outx.ai/#top"), "without a query"),
    (lambda: kit.OutX(api_key="key\r\nX-Evil: 1", base_url="https://api.outx.ai"), "line break"),
])
def test_hostile_settings_are_refused_before_anything_is_sent(call, message):
    with pytest.raises(kit.KitError, match=message):
        call()


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "50", True])
def test_a_pace_refuses_what_is_not_a_positive_number(value):
    with pytest.raises(kit.InvalidRequest, match="positive number or None"):
        kit.Pace(per_hour=value)


def test_a_time_scale_in_the_environment_that_is_not_a_number_says_so(sandbox, monkeypatch):
    monkeypatch.setenv("KIT_TIME_SCALE", "abc")
    before = sandbox.log.count()
    with pytest.raises(kit.InvalidRequest, match="KIT_TIME_SCALE='abc' is not a number"):
        kit.search(["q"], base_url="http://127.0.0.1:9", api_key="k", progress=False)
    assert sandbox.log.count() == before


def test_the_sandbox_serves_on_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        kit.Sandbox(host="0.0.0.0")


@pytest.mark.parametrize("make", ["not sqlite", "another app", "a folder", "write fails"])
def test_a_journal_kit_cannot_use_stops_before_anything_is_sent(tmp_path, sandbox, make):
    import contextlib
    import sqlite3

    path = tmp_path / "j.sqlite3"
    if make == "not sqlite":
        path.write_text("hello, I am a text file\n" * 100)
    elif make == "another app":
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE recipes (name TEXT)")
    elif make == "a folder":
        path.mkdir()
    else:  # a kit journal whose writes fail (a full disk, a read-only mount: root ignores modes)
        kit.core.journal.Journal(path).close()
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TRIGGER full BEFORE INSERT ON jobs "
                       "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    before = path.read_bytes() if path.is_file() else None
    creates = sum(sandbox.outx.creates.values())
    with pytest.raises(kit.KitError, match=str(path)):
        kit.profiles(["journal-guard"], journal=path, progress=False)
    assert sum(sandbox.outx.creates.values()) == creates  # nothing was sent
    if make != "write fails":
        assert (path.read_bytes() if path.is_file() else None) == before  # nothing was changed
