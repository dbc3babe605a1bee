"""What LinkedIn sees, decided without a sandbox: "may the next create go now?" on a fake clock.

The pending limit (no backlog for the extension to burst through), the shared windows, the caps
per action kind across a day and a week, working hours, and the ETA that follows from them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import kit
from kit.core.clock import ServiceClock
from kit.core.journal import STUCK_AFTER, Journal
from kit.core.pace import DAILY_CAPS, DAY, WEEK, WEEKLY_CAPS, WINDOW_MARGIN, Pace
from kit.services.outx import SPEC

BUDGET = ("outx", "fp", "create")
UNSPACED = {"per_hour": None, "per_minute": None, "jitter": 0.0}


def test_defaults_cap_each_kind_as_linkedin_counts_it_with_sources_in_one_table():
    pace = kit.Pace()
    assert pace.daily["profile_visit"] == 80 and pace.pending == 1
    assert pace.weekly["connection_request"] == 100
    assert pace.caps("like") == [(60.0, 5, None), (3600.0, 50, None), (DAY, 30, "like")]
    assert pace.caps("search") == [(60.0, 5, None), (3600.0, 50, None)]  # no public figure
    assert set(DAILY_CAPS) == set(SPEC.actions.values())  # every OutX create has a kind
    assert set(WEEKLY_CAPS) <= set(DAILY_CAPS)
    # a mapping is merged over the defaults; None lifts one kind, per_day=None all of them
    mine = Pace(per_day={"profile_visit": 10, "like": None})
    assert mine.daily["profile_visit"] == 10 and mine.daily["like"] is None
    assert mine.daily["message"] == 50
    assert not any(Pace(per_day=None).daily.values())
    # a number caps every action together, on top of the caps per kind
    assert Pace(per_day=200).caps("search")[-1] == (DAY, 200, None)
    assert (DAY, 80, "profile_visit") in Pace(per_day=200).caps("profile_visit")
    # what a job stores in the journal gives the same pace back
    stored = json.loads(json.dumps(mine.options()))
    assert Pace.from_options(stored) == mine and hash(Pace.from_options(stored)) == hash(mine)
    # a job stored before the caps per kind (per_day None, no pending) keeps today's defaults
    old = {"per_hour": 50, "per_minute": 5, "per_day": None, "jitter": 0.25}
    assert Pace.from_options(old) == Pace()
    assert not Pace.unlimited().limited and Pace.unlimited().pending is None


@pytest.mark.parametrize("bad, words", [
    ({"per_day": {"profile_visits": 3}}, "unknown action kind 'profile_visits'"),
    ({"per_week": {"like": 0}}, "must be a positive number"),
    ({"pending": 0}, "whole number of 1 or more"),
    ({"hours": "8-19"}, "not a time such as '08:00'"),
    ({"hours": "19:00-08:00"}, "must end after it starts"),
    ({"hours": "08:00-24:59"}, "not a time such as"),
    ({"days": "Mon-Fry"}, "'Mon-Fri'"),
    ({"tz": "Paris"}, "not a time zone name"),
])
def test_a_pace_that_cannot_be_kept_is_refused_with_what_to_write(bad, words):
    with pytest.raises(ValueError, match=words):
        Pace(**bad)


def test_a_daily_cap_waits_for_its_window_while_other_kinds_go_on():
    pace = Pace(per_day={"like": 3}, **UNSPACED)
    liked = [(0.0, "like"), (10.0, "like"), (20.0, "like")]
    day = DAY * WINDOW_MARGIN
    assert pace.next_send(liked, 0, 100.0, "like") == pytest.approx(day, abs=1e-3)
    assert pace.next_send(liked, 0, 100.0, "profile_visit") == 100.0  # its own cap, untouched
    assert pace.holdup(liked, 100.0, "like") == "like: 3 a day"
    # across the day boundary: the first like has left the window, the others not yet
    assert pace.next_send(liked, 0, day + 1, "like") == day + 1
    assert pace.next_send([*liked, (day + 1, "like")], 0, day + 2, "like") == pytest.approx(
        10.0 + day, abs=1e-3)


def test_a_weekly_cap_outlasts_the_days():
    pace = Pace(per_day={"connection_request": None}, per_week={"connection_request": 4},
                **UNSPACED)
    sent = [(i * DAY, "connection_request") for i in range(4)]
    at = pace.next_send(sent, 0, 4 * DAY, "connection_request")
    assert at == pytest.approx(WEEK * WINDOW_MARGIN, abs=1e-3)  # the first leaves the week


def test_the_shared_hour_counts_every_kind():
    pace = Pace(per_minute=None, per_hour=3, jitter=0.0)
    sent = [(0.0, "like"), (1.0, "profile_visit"), (2.0, "message")]
    assert pace.next_send(sent, 0, 3.0, "search") == pytest.approx(3600 * WINDOW_MARGIN, abs=1e-3)


def _at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_working_hours_and_days_in_a_time_zone():
    pace = Pace(hours="08:00-19:00", days="Mon-Fri", tz="Europe/Paris", **UNSPACED)
    friday = _at("2026-12-04 18:59:00", "Europe/Paris")
    assert pace.next_send([], 0, friday, "profile_visit") == friday
    evening = _at("2026-12-04 19:00:00", "Europe/Paris")
    monday = _at("2026-12-07 08:00:00", "Europe/Paris")
    assert pace.next_send([], 0, evening, "profile_visit") == pytest.approx(monday)
    assert pace.holdup([], evening, "profile_visit") == "outside working hours"
    early = _at("2026-12-08 06:30:00", "Europe/Paris")  # a Tuesday before opening
    assert pace.open_at(early) == pytest.approx(_at("2026-12-08 08:00:00", "Europe/Paris"))
    assert Pace(days=["Sat", "Sun"], tz="UTC").open_at(friday) > friday
    assert "Mon-Fri 08:00-19:00" in pace.describe()


def test_working_hours_on_a_sandbox_clock_beyond_year_9999():
    # A sandbox at x3600 reads Unix time x3600: past what datetime holds, counted with the offset.
    pace = Pace(hours="08:00-19:00", tz="UTC", **UNSPACED)
    far = 6e12 - (6e12 % DAY)  # a midnight, UTC
    assert pace.open_at(far) == far + 8 * 3600
    assert pace.open_at(far + 12 * 3600) == far + 12 * 3600
    assert pace.open_at(far + 20 * 3600) == far + DAY + 8 * 3600


def test_the_eta_follows_the_caps_and_the_hours():
    now = 1_000_000.0
    # 100 profile visits at the default pace: 80 today, the rest once the day has rolled on
    eta = Pace().eta(["profile_visit"] * 100, [], 0, now)
    assert DAY * WINDOW_MARGIN < eta - now < DAY * WINDOW_MARGIN + 20 * 72 + 10
    # mixed kinds are held by the hourly pace only
    mixed = ["profile_visit", "like", "company_fetch", "message"] * 10
    assert Pace().eta(mixed, [], 0, now) - now == pytest.approx(39 * 72, rel=0.05)
    # what other processes spent counts: 80 visits already today
    spent = [(now - 3600 - i * 60, "profile_visit") for i in range(80)]
    assert Pace().eta(["profile_visit"], spent, 0, now) - now > DAY - 3 * 3600
    # hours: 20 actions from Friday 18:00 at 12 an hour end on Monday morning
    pace = Pace(per_hour=12, hours="08:00-19:00", days="Mon-Fri", tz="UTC", per_day=None)
    friday = datetime(2026, 12, 4, 18, tzinfo=timezone.utc).timestamp()
    last = datetime.fromtimestamp(pace.eta(["profile_visit"] * 20, [], 0, friday), timezone.utc)
    assert (last.weekday(), last.hour) == (0, 8)


# -- the pending limit, in the journal (shared by every process) ---------------------------------
def _job(book: Journal, n: int, prefix: str = "s") -> str:
    return book.add_job(helper="profiles", service="outx", origin="o", key_fp="fp", label="t",
                        options={}, rows=[],
                        items=[("fetch-profile", {"profile_slug": f"{prefix}-{i}"})
                               for i in range(n)])


def _created(book: Journal, job_id: str, position: int, status: kit.Status,
             age: timedelta = timedelta(0)) -> kit.Task:
    then = datetime.now(timezone.utc) - age
    task = kit.Task(service="outx", id=f"t-{job_id}-{position}", kind="fetch-profile",
                    status=status, input={"profile_slug": f"{job_id}-{position}"},
                    created_at=then, updated_at=then)
    book.settle_many(job_id, [(position, "created", task.id, None)], tasks=[task], origin="o",
                     key_fp="fp")
    return task


def test_no_create_goes_while_the_teams_last_task_waits_for_the_extension(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as book, Journal(path) as other_process:
        job = _job(book, 4)
        [first], _, wait, waiting = book.claim(job, count=1, pending_limit=1)
        assert wait == 0 and waiting == 0
        # while its request is out, the create counts as waiting (its task will be pending)
        taken, _, wait, waiting = other_process.claim(_job(other_process, 1, "o"), count=1,
                                                      pending_limit=1)
        assert taken == [] and waiting == 1 and wait > 0
        task = _created(book, job, first["position"], kit.Status.PENDING)
        taken, _, wait, waiting = book.claim(job, count=1, pending_limit=1)
        assert taken == [] and waiting == 1  # created, not picked up: nothing more goes
        assert other_process.claim(job, count=1, pending_limit=1).waiting == 1  # the team's, shared
        task.status = kit.Status.RUNNING  # the extension picked it up
        book.record(task, origin="o", key_fp="fp")
        [second], *_ = other_process.claim(job, count=1, pending_limit=1)
        assert second["position"] == 1
        assert book.claim(job, count=1, pending_limit=2).taken  # a larger limit lets one more wait


def test_a_task_pending_for_a_day_is_taken_as_skipped_not_as_a_backlog(tmp_path):
    with Journal(tmp_path / "journal.sqlite3") as book:
        job = _job(book, 2)
        [first], *_ = book.claim(job, count=1, pending_limit=1)
        _created(book, job, first["position"], kit.Status.PENDING,
                 age=timedelta(seconds=STUCK_AFTER + 60))
        [second] = book.claim(job, count=1, pending_limit=1).taken
        book.settle(job, second["position"], "failed", error="refused")
        # on a sandbox's clock, a day passes sooner
        other = _job(book, 2, "o")
        [first], *_ = book.claim(other, count=1, pending_limit=2)
        _created(book, other, first["position"], kit.Status.PENDING, age=timedelta(seconds=300))
        fast = ServiceClock(3600)
        assert book.claim(other, count=1, pending_limit=1, clock=fast).taken


def test_pickups_say_how_long_nothing_was_picked_up(tmp_path):
    with Journal(tmp_path / "journal.sqlite3") as book:
        job = _job(book, 3)
        clock = ServiceClock(1)
        assert book.pickups("outx", "o", "fp", clock).stalled(clock) is None  # nothing waits
        _created(book, job, 0, kit.Status.COMPLETED, age=timedelta(hours=3))
        _created(book, job, 1, kit.Status.PENDING, age=timedelta(hours=2))
        found = book.pickups("outx", "o", "fp", clock)
        assert found.waiting == 1 and len(found.ids) == 1
        assert found.stalled(clock) == pytest.approx(2 * 3600, abs=5)


def test_claims_count_each_kinds_cap_in_the_journal(tmp_path):
    pace = Pace(per_day={"profile_visit": 2}, **UNSPACED)
    with Journal(tmp_path / "journal.sqlite3") as book:
        job = _job(book, 3)
        kinds = {"fetch-profile": "profile_visit"}.get
        for _ in range(2):
            assert book.claim(job, count=1, pace=pace, budget=BUDGET, action_of=kinds).taken
        taken, _, wait, _ = book.claim(job, count=1, pace=pace, budget=BUDGET, action_of=kinds)
        assert taken == [] and DAY < wait <= DAY * WINDOW_MARGIN + 1
        sent, _ = book.history(BUDGET, 0)
        assert [action for _, action in sent] == ["profile_visit"] * 2


def test_a_pace_without_weekly_caps_keeps_the_weeks_sends_for_the_others(tmp_path):
    # One process lifts the weekly caps; another keeps LinkedIn's 100 invitations a week.
    with Journal(tmp_path / "journal.sqlite3") as book:
        now = ServiceClock().epoch()
        with book._write() as conn:
            conn.executemany("INSERT INTO sends VALUES ('outx', 'fp', 'create', ?, ?, ?)",
                             [(now - 3 * DAY + i, now - 3 * DAY + i, "connection_request")
                              for i in range(100)])
        assert book.spend(BUDGET, Pace(per_week=None, **UNSPACED), ServiceClock(),
                          "profile_visit") == (0, 0)
        wait, _ = book.spend(BUDGET, Pace(**UNSPACED), ServiceClock(), "connection_request")
        assert wait > 3 * DAY  # the week's invitations still count


def test_a_task_that_waited_counts_from_its_pick_up(tmp_path):
    # After a night, the waiting task is worked when the browser opens: the next action must
    # be spaced from then, not from when the task was sent the evening before.
    pace = Pace(per_day=None, jitter=0.0)
    with Journal(tmp_path / "journal.sqlite3") as book:
        job = _job(book, 2)
        [first], *_ = book.claim(job, count=1, pace=pace, budget=BUDGET)
        evening = book.history(BUDGET, 0)[0][0][0]
        morning = evening + 10 * 3600
        book.moved_to_pickup(job, first["position"], morning, 72.0)
        sent, not_before = book.history(BUDGET, 0)
        assert [t for t, _ in sent] == [morning] and not_before == morning + 72.0
        assert book.claim(job, count=1, pace=pace, budget=BUDGET).wait > 0  # spaced from then
