"""The engine without a sandbox: the pace, the poller (fake clock, fake reader), the journal queue."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import kit
from kit.core.clock import ServiceClock
from kit.core.errors import AuthenticationError, NotFound, ServiceError
from kit.core.journal import Journal
from kit.core.pace import WINDOW_MARGIN, Pace
from kit.core.poller import Poller, StatusReader
from kit.core.task import Status, Task


# -- the pace ------------------------------------------------------------------------------------
def test_default_pace_is_outx_guidance():
    pace = kit.Pace()
    assert (pace.per_hour, pace.per_minute) == (50, 5)
    assert pace.spacing == 72.0 and pace.describe() == "pace 5/min, 50/h"
    assert not Pace.unlimited().limited and Pace.unlimited().next_send([1.0] * 1000, 0, 5) == 5


@pytest.mark.parametrize("bad", [{"per_hour": 0}, {"per_minute": -1}, {"per_day": True},
                                 {"jitter": 1.5}])
def test_pace_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        Pace(**bad)


def test_next_send_waits_for_the_oldest_to_leave_the_window():
    pace = Pace(per_hour=None, per_minute=5, jitter=0)
    sent = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert pace.next_send(sent, 0.0, 10.0) == pytest.approx(60.0 * WINDOW_MARGIN, abs=1e-3)
    assert pace.next_send(sent[:4], 0.0, 10.0) == 10.0  # room for one more now
    assert pace.next_send([], 50.0, 10.0) == 50.0  # the spacing the last send asked for


def test_a_long_run_at_the_pace_never_exceeds_any_window():
    pace, rng = Pace(per_hour=50, per_minute=5), random.Random(3)
    sent: list[float] = []
    not_before = now = 0.0
    while len(sent) < 400:
        now = pace.next_send(sent, not_before, now)
        sent.append(now)
        not_before = now + pace.gap(rng)
    for i, t in enumerate(sent):
        assert sum(1 for u in sent[i:] if u - t < 3600) <= 50
        assert sum(1 for u in sent[i:] if u - t < 60) <= 5
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 72 * 0.75 - 1e-6  # spread: never closer than the jittered spacing
    assert 72 <= sum(gaps) / len(gaps) <= 76  # (the hour's hard limit stretches a few gaps)
    assert len(set(round(g, 3) for g in gaps)) > 100  # not a fixed cadence
    hours = (sent[-1] - sent[0]) / 3600
    assert 7.5 < hours < 8.5  # about 50 an hour: 400 take 8 hours


# -- the poller ----------------------------------------------------------------------------------
class FakeClock(ServiceClock):
    """Time moves only when the poller waits: no sleeping, exact instants."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__(scale)
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def epoch(self) -> float:
        return 1_800_000_000.0 + self.t

    async def sleep(self, real_seconds: float) -> None:
        self.t += max(0.0, real_seconds)
        await asyncio.sleep(0)

    async def wait(self, event: asyncio.Event, real_seconds: float) -> None:
        for _ in range(3):  # let reads under way finish first
            await asyncio.sleep(0)
        if not event.is_set():
            self.t += max(0.0, real_seconds)


class FakeService:
    """Tasks finish at a given service instant; every read is logged."""

    def __init__(self, clock: FakeClock, done_at: dict[str, float]) -> None:
        self.clock, self.done_at, self.reads, self.bulk = clock, done_at, [], []
        self.fail: dict[str, Exception] = {}

    async def read_one(self, task: Task) -> None:
        self.reads.append((round(self.clock.service(self.clock.t), 6), task.id))
        if task.id in self.fail:
            raise self.fail.pop(task.id)
        if self.clock.service(self.clock.t) >= self.done_at.get(task.id, float("inf")):
            task.status = Status.COMPLETED

    async def read_many(self, due, open_tasks):
        self.bulk.append((round(self.clock.t, 6), len(open_tasks)))
        for task in open_tasks:
            if self.clock.t >= self.done_at.get(task.id, float("inf")):
                task.status = Status.COMPLETED
        return [t for t in open_tasks if t.id != "unlisted"]


def make_task(task_id: str, clock: FakeClock) -> Task:
    from datetime import datetime, timezone

    return Task(service="fake", id=task_id, kind="k",
                created_at=datetime.fromtimestamp(clock.epoch(), timezone.utc))


def poller_for(service: FakeService, schedule: kit.PollSchedule, **reader: object) -> Poller:
    return Poller(StatusReader(read_one=service.read_one, cadence=lambda task: schedule, **reader),
                  clock=service.clock)


async def test_each_task_is_read_on_its_schedule_until_final():
    clock = FakeClock()
    service = FakeService(clock, {"a": 30.0, "b": 12.0})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    a, b = make_task("a", clock), make_task("b", clock)
    poller.add(a)
    poller.add(b)
    poller.close()
    await poller.run()
    assert a.done and b.done
    assert [t for t, i in service.reads if i == "a"] == [10, 15, 20, 25, 30]
    assert [t for t, i in service.reads if i == "b"] == [10, 15]


async def test_time_scale_divides_every_interval():
    clock = FakeClock(scale=10)
    service = FakeService(clock, {"a": 20.0})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    task = make_task("a", clock)
    poller.add(task)
    poller.close()
    await poller.run()
    assert [t for t, _ in service.reads] == [10, 15, 20]  # service seconds
    assert clock.t == pytest.approx(2.0)  # real seconds


async def test_a_task_past_its_timeout_keeps_its_status_and_says_why():
    clock = FakeClock()
    service = FakeService(clock, {})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    task = make_task("never", clock)
    poller.add(task, timeout=22)
    poller.close()
    await poller.run()
    assert [t for t, _ in service.reads] == [10, 15, 20, 22]  # the last read when the wait ends
    assert task.status is Status.PENDING and task.error is None
    assert "stopped waiting after 22 s" in task.note and "kit.resume()" in task.note


async def test_a_timeout_shorter_than_the_first_read_still_reads_once():
    clock = FakeClock()
    service = FakeService(clock, {})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    task = make_task("short", clock)
    poller.add(task, timeout=3)
    poller.close()
    await poller.run()
    assert [t for t, _ in service.reads] == [3]
    assert "stopped waiting after 3 s" in task.note  # the time really waited, after a read


async def test_tasks_added_while_running_are_polled_from_then():
    clock = FakeClock()
    service = FakeService(clock, {"first": 10.0, "late": 100.0})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    poller.add(make_task("first", clock))
    added: list[float] = []

    async def add_later() -> None:
        while clock.t < 40:
            await clock.sleep(1)
        added.append(clock.t)
        poller.add(make_task("late", clock))
        poller.close()

    await asyncio.gather(poller.run(), add_later())
    late = [t for t, i in service.reads if i == "late"]
    assert late[0] == pytest.approx(added[0] + 10)  # first read 10 s after it was added
    assert late[-1] >= 100 and all(b - a == pytest.approx(5) for a, b in itertools.pairwise(late))


async def test_one_bulk_read_serves_every_open_task():
    clock = FakeClock()
    service = FakeService(clock, {f"t{i}": 10.0 * (i + 1) for i in range(5)})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=5), read_many=service.read_many)
    tasks = [make_task(f"t{i}", clock) for i in range(5)]
    for task in tasks:
        poller.add(task)
    poller.close()
    await poller.run()
    assert all(t.done for t in tasks)
    assert service.reads == [] or all(i == "t4" for _, i in service.reads)  # the last one alone
    assert len(service.bulk) <= 10  # one request per cycle for all five, not five


async def test_read_failures_are_notes_then_cleared_not_found_fails_whole_call_raises():
    clock = FakeClock()
    service = FakeService(clock, {"flaky": 20.0})
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    flaky, gone = make_task("flaky", clock), make_task("gone", clock)
    service.fail = {"flaky": ServiceError("HTTP 503"), "gone": NotFound("Agent task not found")}
    notes = []
    poller.add(flaky)
    poller.add(gone)
    poller.on_tick = lambda: notes.append(flaky.note)
    poller.close()
    await poller.run()
    assert flaky.status is Status.COMPLETED and flaky.note is None
    assert any(n and n.startswith("last status read failed") for n in notes)
    assert gone.status is Status.FAILED and "not found" in gone.error

    poller = poller_for(service, kit.PollSchedule(interval=5, first=10))
    key = make_task("key", clock)
    service.fail = {"key": AuthenticationError("Invalid API Key")}
    poller.add(key)
    poller.close()
    with pytest.raises(AuthenticationError):
        await poller.run()


async def test_learning_holds_reads_until_the_youngest_completion_age():
    clock = FakeClock()
    done = {f"t{i}": 40.0 + i for i in range(20)}
    service = FakeService(clock, done)
    poller = poller_for(service, kit.PollSchedule(interval=5, first=10), learn=True)
    for i in range(20):
        poller.add(make_task(f"t{i}", clock))
    poller.close()
    await poller.run()
    reads_per_task = len(service.reads) / 20
    assert reads_per_task < 5  # blind polling every 5 s from 10 s would read each 7+ times


# -- the journal as a queue ------------------------------------------------------------------------
BUDGET = ("outx", "fp", "create")


def _job(book: Journal, n: int, service: str = "outx") -> str:
    return book.add_job(helper="profiles", service=service, origin="http://o", key_fp="fp",
                        label="OutX fetch-profile", options={}, rows=[[f"s{i}", i, None] for i in range(n)],
                        items=[("fetch-profile", {"profile_slug": f"s{i}"}) for i in range(n)])


def test_two_connections_never_take_one_input_twice(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as first:
        job_id = _job(first, 200)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with Journal(path) as book:  # a connection of its own, as another process has
            while True:
                got, *_ = book.claim(job_id, count=3)
                if not got:
                    return
                with lock:
                    taken.extend(item["position"] for item in got)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(200))


def test_claims_spend_the_pace_and_the_budget_survives_a_restart(tmp_path):
    path = tmp_path / "j.sqlite3"
    pace = Pace(per_hour=None, per_minute=2, jitter=0)
    with Journal(path) as book:
        job_id = _job(book, 5)
        assert len(book.claim(job_id, count=1, pace=pace, budget=BUDGET)[0]) == 1
        got, _, wait, _ = book.claim(job_id, count=1, pace=pace, budget=BUDGET)
        assert got == [] and 29 < wait <= 30  # spaced: 60 s / 2
    with Journal(tmp_path / "fast.sqlite3") as book:  # 60 times faster (a sandbox's speed)
        fast = _job(book, 5)
        assert len(book.claim(fast, count=1, pace=pace, budget=BUDGET, clock=ServiceClock(60))[0]) == 1
        got, _, wait, _ = book.claim(fast, count=1, pace=pace, budget=BUDGET, clock=ServiceClock(60))
        assert got == [] and 0.45 < wait <= 0.5
    with Journal(path) as book:  # a new process: the same budget
        got, _, wait, _ = book.claim(job_id, count=1, pace=pace, budget=BUDGET)
        assert got == [] and wait > 25
        assert len(book.sends("outx", "fp")) == 1


def test_an_input_put_back_unsent_returns_its_pace_slot(tmp_path):
    pace = Pace(per_hour=None, per_minute=2, jitter=0)
    with Journal(tmp_path / "j.sqlite3") as book:
        job_id = _job(book, 2)
        [taken], *_ = book.claim(job_id, count=1, pace=pace, budget=BUDGET)
        assert len(book.sends("outx", "fp")) == 1
        # the service was never reached (or refused before acting): back in the queue
        book.settle_many(job_id, [(taken["position"], "queued", None, None)])
        assert book.sends("outx", "fp") == []
        got, _, wait, _ = book.claim(job_id, count=1, pace=pace, budget=BUDGET)
        assert len(got) == 1 and wait == 0  # sent at once, not a pace gap later


def test_an_earlier_task_is_adopted_and_a_may_exist_input_is_never_sent_again(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as book:
        first = _job(book, 2)
        got, *_ = book.claim(first, count=2)
        book.record(Task(service="outx", id="task-0", kind="fetch-profile",
                         input={"profile_slug": "s0"}, status=Status.COMPLETED),
                    origin="http://o", key_fp="fp")
        book.settle(first, 0, "created", task_id="task-0")
        book.settle(first, 1, "unknown", error="answer lost")
        second = _job(book, 3)
        got, settled, *_ = book.claim(second, count=3)
        assert [g["position"] for g in got] == [2]  # only the input never sent before
        assert {s["position"]: s["state"] for s in settled} == {0: "created", 1: "unknown"}
        assert settled[0]["task_id"] == "task-0"


def test_an_input_left_sending_by_a_dead_process_is_an_orphan(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as book:
        job_id = _job(book, 2)
        book.claim(job_id, count=2)
        book.mark_sending(job_id, [0])  # input 0's request went out; input 1 was only claimed
        with contextlib.closing(sqlite3.connect(book.path)) as db, db:  # another live process's
            db.execute("UPDATE items SET owner='{}:{}'".format(
                __import__("socket").gethostname(), os.getppid()))
        assert book.orphans(job_id) == []
        with contextlib.closing(sqlite3.connect(book.path)) as db, db:
            db.execute("UPDATE items SET owner='{}:999999999'".format(
                __import__("socket").gethostname()))
        assert [o["position"] for o in book.orphans(job_id)] == [0]  # it may exist
        states = {i["position"]: i["state"] for i in book.items(job_id)}
        assert states == {0: "sending", 1: "queued"}  # never sent: queued again


def test_an_old_journal_is_migrated_and_keeps_its_tasks(tmp_path):
    path = tmp_path / "old.sqlite3"
    from kit.core.journal import SCHEMA

    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO tasks VALUES ('outx', 'o', 't1', 'fp', 'fetch-profile', 'k', '{}', "
                   "'completed', 'completed', NULL, NULL, '2025-01-01T00:00:00+00:00', "
                   "'2025-01-01T00:00:00+00:00')")
    with Journal(path) as book:
        assert [r["task_id"] for r in book.rows()] == ["t1"]
        assert book.jobs() == []
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        # v4: each send's action kind, for the caps per kind
        assert "action" in {r[1] for r in db.execute("PRAGMA table_info(sends)")}


def test_fingerprints_are_salted_per_journal_and_old_rows_are_rekeyed(tmp_path):
    from kit.core.journal import SCHEMA
    from kit.core.secrets import Secret

    key = "abcde"  # short keys were the weak point of an unsalted sha256
    path = tmp_path / "old.sqlite3"
    legacy = Secret(key).legacy_fingerprint
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO tasks VALUES ('outx', 'https://api.outx.ai', 't1', ?, "
                   "'fetch-profile', 'k', '{}', 'pending', 'pending', NULL, NULL, "
                   "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')", (legacy,))
    origin = "https://api.outx.ai"  # (not the tests' sandbox)
    client = kit.OutX(api_key=key, journal=str(path), base_url=origin)
    fingerprint = client.key_fingerprint
    assert fingerprint != legacy and key not in fingerprint
    assert [t.id for t in client.journal.unfinished("outx", client.base_url, fingerprint)] == ["t1"]
    assert legacy not in {r["key_fp"] for r in client.journal.rows()}
    other = Journal(tmp_path / "new.sqlite3")  # another journal, another salt
    assert Secret(key).fingerprint(other.salt) != fingerprint
    again = kit.OutX(api_key=key, journal=str(path), base_url=origin)
    assert again.key_fingerprint == fingerprint  # stable


def test_processes_opening_a_new_journal_at_once_all_succeed(tmp_path):
    path = tmp_path / "new.sqlite3"
    code = textwrap.dedent(f"""
        import time
        from kit.core.journal import Journal
        time.sleep(max(0, {__import__('time').time() + 1.5} - time.time()))
        with Journal({str(path)!r}) as j:
            j.rows()
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]


# -- the retry decision and the error mapping ------------------------------------------------------
from kit.core.policy import Attempt, Outcome, may_have_acted, may_retry  # noqa: E402

POLICY = kit.RetryPolicy(max_retry_after=60)
LINKUP_CODES = frozenset({"TOO_MANY_REQUESTS"})


@pytest.mark.parametrize("attempt, creates, codes, retry, acted", [
    (Attempt(Outcome.NOT_SENT), True, None, True, False),  # the service saw nothing
    (Attempt(Outcome.NO_ANSWER), False, None, True, False),
    (Attempt(Outcome.NO_ANSWER), True, None, False, True),  # a create may have happened
    (Attempt(Outcome.UNREADABLE, 200), True, None, False, True),
    (Attempt(Outcome.UNREADABLE, 200), False, None, True, False),
    (Attempt(Outcome.REDIRECT, 302), False, None, False, False),  # never followed with a key
    (Attempt(Outcome.ANSWERED, 503), False, None, True, False),
    (Attempt(Outcome.ANSWERED, 503), True, None, False, True),
    (Attempt(Outcome.ANSWERED, 400), False, None, False, False),
    (Attempt(Outcome.ANSWERED, 429), True, None, True, False),  # the service did not act
    (Attempt(Outcome.ANSWERED, 429, retry_after=61), False, None, False, False),  # too long
    (Attempt(Outcome.ANSWERED, 429, "TOO_MANY_REQUESTS"), True, LINKUP_CODES, True, False),
    (Attempt(Outcome.ANSWERED, 429, "INSUFFICIENT_FUNDS_CREDITS"), True, LINKUP_CODES, False, False),
    (Attempt(Outcome.ANSWERED, 429, "TASKS_QUEUE_LIMIT_EXCEEDED"), False, LINKUP_CODES, False, False),
    (Attempt(Outcome.ANSWERED, 429), False, LINKUP_CODES, True, False),  # no code: slow down
])
def test_one_function_decides_a_retry(attempt, creates, codes, retry, acted):
    assert may_retry(POLICY, attempt, creates=creates, retry_429_codes=codes) is retry
    assert may_have_acted(attempt, creates=creates) is acted


@pytest.mark.parametrize("status, cls", [
    (400, kit.InvalidRequest), (422, kit.InvalidRequest), (401, kit.AuthenticationError),
    (402, kit.PaymentRequired), (403, kit.PermissionDenied), (404, kit.NotFound),
    (429, kit.RateLimited), (500, kit.ServiceError), (503, kit.ServiceError), (418, kit.KitError),
])
def test_statuses_map_to_errors(status, cls):
    from kit.core.errors import error_for_status

    assert error_for_status(status) is cls
    assert issubclass(kit.PaymentRequired, kit.WholeCallError)
    assert not issubclass(kit.RateLimited, kit.WholeCallError)


@pytest.mark.parametrize("service, body, message, code", [
    ("outx", {"error": "Missing or invalid 'profile_slug'"}, "Missing or invalid 'profile_slug'", None),
    ("linkup", {"error": {"code": "SEARCH_QUERY_NO_RESULT", "message": "no result",
                          "details": [{"field": "q", "message": "empty"}]}},
     "no result (q: empty)", "SEARCH_QUERY_NO_RESULT"),
    ("agora", {"detail": "Task not found"}, "Task not found", None),
    ("agora", None, "HTTP 400", None),  # no body: the status says it
])
def test_each_service_error_body_is_read(service, body, message, code):
    reader = {"outx": kit.OutX, "linkup": kit.Linkup, "agora": kit.Agora}[service].errors
    assert reader.describe(400, body, "") == (message, code)


async def test_the_retry_loop_waits_retry_after_through_the_clock_and_never_repeats_a_create(sandbox):
    from kit.services.outx import GET_TASK_STATUS

    clock = FakeClock(scale=10)  # no sleeping: the loop's waits move this clock
    async with kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key("outx")) as client:
        client.http.clock = clock
        task = await client.fetch_profile("retry-through-the-clock")
        rule = sandbox.faults.add("429", times=2, retry_after=30,
                                  path="/linkedin-agent/get-task-status")
        await client.http.request(GET_TASK_STATUS, params={"api_agent_task_id": task.id})
        assert rule.hits == 2
        assert 6.0 <= clock.t <= 7.0  # twice 30 service seconds at x10, plus a little jitter

        failing = sandbox.faults.add("5xx", times=5, method="POST",
                                     path="/linkedin-agent/fetch-profile")
        with pytest.raises(kit.ServiceError) as info:
            await client.fetch_profile("answered-503")
        assert failing.hits == 1  # a create is not repeated after a 5xx
        assert info.value.may_have_acted


def test_another_machines_claim_is_its_own_for_an_hour_then_an_orphan(tmp_path):
    """A journal on a shared drive: another host's row may be under way; an hour later (a Colab
    VM replaced, a container renamed) it is an orphan, or a resume would wait forever."""
    with Journal(tmp_path / "j.sqlite3") as book:
        job_id = _job(book, 2)
        book.claim(job_id, count=2)
        book.mark_sending(job_id, [0])
        with contextlib.closing(sqlite3.connect(book.path)) as db, db:
            db.execute("UPDATE items SET owner='another-host:42', sent_at=?", (time.time(),))
        assert book.orphans(job_id) == [] and book.in_flight_elsewhere(job_id) == 2
        with contextlib.closing(sqlite3.connect(book.path)) as db, db:
            db.execute("UPDATE items SET sent_at=?", (time.time() - 2 * 3600,))
        assert [o["position"] for o in book.orphans(job_id)] == [0]
        assert book.in_flight_elsewhere(job_id) == 0
        assert {i["position"]: i["state"] for i in book.items(job_id)} == {0: "sending", 1: "queued"}


def test_a_run_takes_this_processs_own_leftover_rows_as_orphans(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as book:  # an earlier run here could not release them
        job_id = _job(book, 2)
        book.claim(job_id, count=2)
        book.mark_sending(job_id, [1])
        assert [o["position"] for o in book.orphans(job_id)] == [1]
        assert book.items(job_id)[0]["state"] == "queued"
