"""The journal: nothing created is lost, nothing is paid for twice, keys stay out."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kit
from kit.core.journal import Journal, read_rows


@pytest.fixture
def book(tmp_path):
    with Journal(tmp_path / "journal.sqlite3") as journal:
        yield journal


async def test_created_task_is_journaled_before_create_returns(sandbox, book):
    async with kit.OutX(journal=book) as c:
        task = await c.fetch_profile("journal-first")
        rows = book.rows()  # nothing awaited since the create returned
        assert [r["task_id"] for r in rows] == [task.id]
        assert rows[0]["status"] == "pending" and rows[0]["input"] == '{"profile_slug": "journal-first"}'
        await c.wait([task], progress=False)
    [row] = book.rows()
    assert row["status"] == "completed" and '"name"' in row["output"]
    assert row["key_fp"] == c.key_fingerprint and sandbox.api_key("outx") not in str(row)
    with contextlib.closing(sqlite3.connect(book.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_journal_false_writes_nothing(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_JOURNAL", str(tmp_path / "env.sqlite3"))
    async with kit.OutX(journal=False, base_url=sandbox.url, api_key=sandbox.api_key()) as c:
        assert c.journal is None
        await c.fetch_profile("no-journal")
    async with kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key()) as c:
        assert str(c.journal.path) == sandbox.journal  # sandbox tasks stay out of yours
    async with kit.OutX(base_url="https://api.outx.ai", api_key="k") as c:
        assert c.journal.path == tmp_path / "env.sqlite3"  # KIT_JOURNAL
    async with kit.OutX(base_url="https://api.outx.ai", api_key="k",
                        journal=tmp_path / "arg.sqlite3") as c:
        assert c.journal.path == tmp_path / "arg.sqlite3"


def test_rerun_reuses_the_journal_and_fresh_pays_again(sandbox):
    slugs = ["rerun-a", "rerun-b", "https://www.linkedin.com/in/rerun-c/"]
    first = kit.profiles(slugs, progress=False)
    before = sum(sandbox.outx.creates.values())
    events = []

    class Sink(kit.progress.NullProgress):
        def update(self, e):
            events.append(e)

        close = update

    second = kit.profiles(slugs, progress=Sink())
    assert sum(sandbox.outx.creates.values()) == before  # nothing created again
    assert list(second["task_id"]) == list(first["task_id"])
    assert second.drop(columns=[]).equals(first)
    assert "3 reused from journal" in kit.progress.describe(events[-1])
    kit.profiles(slugs[:1], fresh=True, progress=False)
    assert sum(sandbox.outx.creates.values()) == before + 1


def test_resume_finishes_what_a_lost_kernel_left():
    async def create_and_forget():
        async with kit.Linkup() as c:
            return [t.id for t in await c.submit(
                [{"type": "search", "input": {"q": f"resume me {i}", "depth": "deep"}}
                 for i in range(5)])]

    with kit.Sandbox(speed=200) as sb:  # its own journal: only this test's tasks
        ids = kit.run(create_and_forget())  # the "kernel" dies: only the journal knows the ids
        creates = sum(sb.linkup.creates.values())
        df = kit.resume(progress=False)
        assert sorted(df["task_id"]) == sorted(ids)
        assert (df["status"] == "completed").all()
        assert {"service", "kind", "task_id", "status", "error", "q", "answer"} <= set(df.columns)
        assert sum(sb.linkup.creates.values()) == creates  # resume creates nothing
        assert kit.resume(progress=False).empty  # nothing left unfinished


def test_journal_frame_has_no_key(sandbox):
    kit.profiles(["journal-frame"], progress=False)
    df = kit.journal(sandbox.journal)
    assert {"service", "task_id", "key_fp", "status", "input", "output"} <= set(df.columns)
    assert "journal-frame" in " ".join(df["input"])
    assert sandbox.api_key("outx") not in df.to_csv()


def test_two_processes_write_at_once(tmp_path):
    path = tmp_path / "shared.sqlite3"
    code = textwrap.dedent(f"""
        import sys
        from kit.core.journal import Journal, read_rows
        from kit.core.task import Task
        j = Journal({str(path)!r})
        for i in range(300):
            j.record(Task("outx", f"{{sys.argv[1]}}-{{i}}", "fetch-profile",
                          input={{"profile_slug": f"p{{i}}"}}), origin="o", key_fp="f")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, name]) for name in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    rows = read_rows(path)
    assert len(rows) == 600
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_sandbox_never_stopped_leaves_no_journal_behind():
    from pathlib import Path

    code = textwrap.dedent("""
        import kit
        sb = kit.Sandbox(speed=100).start()   # and never sb.stop(), as a closed kernel
        print(sb.journal, flush=True)
        kit.profiles(["left-behind"], progress=False, pace=kit.Pace.unlimited())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.name.startswith("kit-sandbox-")
    assert not [p for p in path.parent.glob(path.name + "*")]  # the file, -wal and -shm are gone


def test_purge_forgets_a_job_old_work_or_everything_and_leaves_no_trace(sandbox, tmp_path):
    import datetime

    path = tmp_path / "purge.sqlite3"
    fast = kit.Pace.unlimited()
    first = kit.profiles(["williamhgates"], journal=str(path), pace=fast, progress=False)
    kit.profiles(["satyanadella", "stuck-forever"], journal=str(path), pace=fast,
                 poll_interval=1, patience=60, progress=False)  # B: the extension never takes one
    [job_a, job_b] = list(kit.jobs(str(path))["job_id"])

    def file_text() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("purge.sqlite3*"))

    assert b"Bill Gates" in file_text()
    left = kit.journal(str(path), purge=job_a)
    assert first.loc[0, "task_id"] not in set(left["task_id"]) and len(left) == 2
    assert list(kit.jobs(str(path))["job_id"]) == [job_b]
    assert b"Bill Gates" not in file_text()  # overwritten, not just unlinked
    # an age: finished loose tasks go; a job not ended (B outlived its wait) is kept whole
    with kit.Journal(path) as book:
        book.record(kit.Task(service="outx", id="t-loose", kind="fetch-profile",
                             status=kit.Status.COMPLETED), origin="o", key_fp="f")
    left = kit.journal(str(path), purge=datetime.timedelta(0))
    assert "t-loose" not in set(left["task_id"])
    assert sorted(left["status"]) == ["completed", "pending"]
    left = kit.journal(str(path), purge="all")
    assert left.empty and kit.jobs(str(path)).empty and b"Satya" not in file_text()
    for bad in ("no-such-job", -1, True, [1]):
        with pytest.raises(kit.InvalidRequest, match="purge"):
            kit.journal(str(path), purge=bad)


def test_purge_on_the_command_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "cli.sqlite3"
    with kit.Journal(path) as book:
        book.record(kit.Task(service="outx", id="t-old", kind="fetch-profile",
                             status=kit.Status.COMPLETED), origin="o", key_fp="f")
    result = subprocess.run([sys.executable, "-m", "kit", "journal", "--path", str(path),
                             "--purge", "all"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "purged; 0 tasks left" in result.stderr and "the journal is empty" in result.stdout


def test_purge_refuses_a_running_job_and_keeps_the_pace_record(tmp_path):
    import time

    with kit.Journal(tmp_path / "p.sqlite3") as book:
        job_id = book.add_job(helper="profiles", service="outx", origin="o", key_fp="f",
                              label="OutX fetch-profile", options={}, rows=[["a", 0, None]],
                              items=[("fetch-profile", {"profile_slug": "a"})])
        book.set_job_state(job_id, "running")  # as another process running it leaves it
        book._conn.execute("INSERT INTO sends VALUES ('outx', 'f', 'create', ?, ?, ?)",
                           (time.time() - 60, time.time() - 60, "profile_visit"))
        # a send of six days ago still counts against the weekly caps: kept too
        book._conn.execute("INSERT INTO sends VALUES ('outx', 'f', 'create', ?, ?, ?)",
                           (time.time() - 6 * 86400, time.time() - 6 * 86400, "message"))
        for target in ({"everything": True}, {"job_id": job_id}):
            with pytest.raises(kit.KitError, match="is running"):
                book.purge(**target)
        assert len(book.jobs()) == 1
        book.set_job_state(job_id, "cancelled")
        book.purge(everything=True)
        assert book.jobs() == [] and len(book.sends("outx", "f")) == 2  # the last week's sends


def test_a_journal_with_jobs_only_is_rekeyed(tmp_path):
    import contextlib
    import sqlite3

    from kit.core.journal import SCHEMA, SCHEMA_V2
    from kit.core.secrets import Secret

    path = tmp_path / "v2.sqlite3"
    legacy = Secret("abcde").legacy_fingerprint
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA + SCHEMA_V2)
        db.execute("PRAGMA user_version=2")
        db.execute("INSERT INTO jobs VALUES ('j1', 'profiles', 'outx', 'https://api.outx.ai', ?, "
                   "'OutX fetch-profile', '{}', '[]', 'stopped', NULL, '2025-01-01', '2025-01-01')",
                   (legacy,))
    client = kit.OutX(api_key="abcde", journal=str(path), base_url="https://api.outx.ai")
    assert [j["key_fp"] for j in client.journal.jobs()] == [client.key_fingerprint]


def test_journals_of_dead_sandbox_processes_are_swept_at_the_next_start(tmp_path):
    import tempfile
    from pathlib import Path

    import kit

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # a pid now dead
    folder = Path(tempfile.gettempdir())
    dead = [folder / f"kit-sandbox-{gone}-0badcafe.sqlite3{s}" for s in ("", "-wal", "-shm")]
    alive = folder / f"kit-sandbox-{os.getpid()}-0badcafe.sqlite3"
    for path in [*dead, alive]:
        path.write_text("")
    try:
        with kit.Sandbox():
            pass
        assert not any(p.exists() for p in dead)  # a killed kernel's leftovers
        assert alive.exists()  # a live process's sandbox may be running
    finally:
        for path in [*dead, alive]:
            path.unlink(missing_ok=True)


# -- the journal's own faults: refused before anything is sent, or a clear stop with the table --
@pytest.fixture
def used_journal(tmp_path, sandbox):
    """A journal that holds a finished job, closed (as the next kernel finds it)."""
    path = tmp_path / "used.sqlite3"
    kit.profiles([f"fault-{i}" for i in range(6)], journal=path, progress=False,
                 pace=kit.Pace.unlimited())
    journal = kit.core.journal._open.pop(str(path.resolve()))
    journal.close()
    return path


def test_a_damaged_journal_is_refused_before_anything_is_sent(used_journal, sandbox):
    with contextlib.closing(sqlite3.connect(used_journal)) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        [root] = db.execute("SELECT rootpage FROM sqlite_master WHERE name='items'").fetchone()
    data = bytearray(used_journal.read_bytes())
    at = (root - 1) * page  # the items table's page: random bytes over its cells
    data[at: at + page] = os.urandom(page)
    used_journal.write_bytes(bytes(data))
    creates = sum(sandbox.outx.creates.values())
    with pytest.raises(kit.KitError, match="is damaged") as info:
        kit.profiles(["after-damage"], journal=used_journal, progress=False)
    assert "nothing was sent" in str(info.value)
    assert sum(sandbox.outx.creates.values()) == creates


def test_an_emptied_journal_is_refused_not_taken_as_new(used_journal, sandbox):
    used_journal.write_bytes(b"")  # truncated: the record of six sends is gone
    creates = sum(sandbox.outx.creates.values())
    with pytest.raises(kit.KitError, match=r"is empty \(0 bytes\)"):
        kit.profiles([f"fault-{i}" for i in range(6)], journal=used_journal, progress=False)
    assert sum(sandbox.outx.creates.values()) == creates  # not one sent again
    assert used_journal.stat().st_size == 0  # left as it was


def _three_sent(path: Path, name: str) -> tuple[kit.Job, list[str]]:
    """A background job of 30 profiles with three of them created."""
    slugs = [f"{name}-{i}" for i in range(30)]
    job = kit.profiles(slugs, journal=path, wait=False,
                       pace=kit.Pace(per_hour=720, per_minute=None))
    deadline = time.monotonic() + 30
    while job.frame()["task_id"].notna().sum() < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    return job, slugs


def test_a_journal_deleted_mid_run_stops_the_job_with_its_table(tmp_path, sandbox):
    path = tmp_path / "deleted.sqlite3"
    job, slugs = _three_sent(path, "deleted")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(kit.JournalError, match="deleted or replaced") as info:
        job.wait(progress=False)
    made = {s for s in slugs if sandbox.outx.creates[("fetch-profile", s)]}
    assert 3 <= len(made) < 30
    df = info.value.frame
    assert list(df["input"]) == slugs and set(df.loc[df["task_id"].notna(), "input"]) == made


def test_a_full_disk_mid_run_stops_the_job_with_its_table_and_resume_carries_on(tmp_path, sandbox):
    path = tmp_path / "full.sqlite3"
    job, slugs = _three_sent(path, "full")
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # the next claim cannot be written
        db.execute("CREATE TRIGGER full BEFORE UPDATE OF state ON items WHEN NEW.state='claimed' "
                   "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    with pytest.raises(kit.JournalError, match="the disk is full") as info:
        job.wait(progress=False)
    df = info.value.frame
    made = {s for s in slugs if sandbox.outx.creates[("fetch-profile", s)]}
    assert list(df["input"]) == slugs and set(df.loc[df["task_id"].notna(), "input"]) == made
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TRIGGER full")  # space freed
    done = kit.resume(services=["outx"], journal=path, progress=False)
    assert list(done["input"]) == slugs and (done["status"] == "completed").all()
    assert max(sandbox.outx.creates[("fetch-profile", s)] for s in slugs) == 1


def test_an_older_journal_readable_by_others_is_tightened(tmp_path):
    path = tmp_path / "old.sqlite3"
    Journal(path).close()
    path.chmod(0o644)  # as an older kit left it
    with Journal(path) as journal:
        journal.rows()
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()
                 if p.name.startswith("old.sqlite3")}
    assert modes["old.sqlite3"] == 0o600 and set(modes.values()) == {0o600}, modes


def test_two_processes_making_a_new_journal_at_once_share_one(tmp_path):
    path = tmp_path / "new.sqlite3"
    code = f"from kit.core.journal import Journal; print(Journal({str(path)!r}).salt.hex())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    salts = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(salts) == 1 and all(procs[i].returncode == 0 for i in range(4))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".new")]  # no scratch left


def test_a_full_disk_as_tasks_are_settled_still_shows_every_task_made(tmp_path, sandbox):
    path = tmp_path / "full-settle.sqlite3"
    queries = [f"settle on a full disk {i}" for i in range(250)]
    kit.core.journal.Journal(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # the first answer cannot be journaled
        db.execute("CREATE TRIGGER full BEFORE UPDATE OF state ON items WHEN NEW.state='created' "
                   "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    with pytest.raises(kit.JournalError, match="the disk is full") as info:
        kit.search(queries, journal=path, progress=False)
    df = info.value.frame
    made = {q for (_, q), n in sandbox.linkup.creates.items() if n and q in queries}
    assert made and list(df["input"]) == queries
    shown = set(df.loc[df["task_id"].notna(), "input"])
    in_flight = set(df.loc[df["error"].fillna("").str.contains("its request went out"), "input"])
    assert made <= shown | in_flight  # no task made is shown as never sent
    assert not df.loc[df["input"].isin(made), "error"].fillna("").str.contains("not sent").any()


def test_outx_ids_that_arrived_on_a_full_disk_are_journaled_by_the_next_resume_here(tmp_path,
                                                                                    sandbox):
    """OutX has no list to find a task in again: ids that arrived while the journal could not
    be written are kept by this process and written first by its resume."""
    path = tmp_path / "full-outx.sqlite3"
    slugs = [f"full-outx-{i}" for i in range(8)]
    kit.core.journal.Journal(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TRIGGER full BEFORE UPDATE OF state ON items WHEN NEW.state='created' "
                   "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    with pytest.raises(kit.JournalError) as info:
        kit.profiles(slugs, journal=path, progress=False, pace=kit.Pace.unlimited())
    df = info.value.frame
    made = {s for s in slugs if sandbox.outx.creates[("fetch-profile", s)]}
    assert made and set(df.loc[df["task_id"].notna(), "input"]) == made  # the ids it received
    assert "queued" not in set(df.loc[df["input"].isin(made), "status"])
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TRIGGER full")  # space freed
    done = kit.resume(services=["outx"], journal=path, progress=False)
    assert list(done["input"]) == slugs and (done["status"] == "completed").all()
    assert max(sandbox.outx.creates[("fetch-profile", s)] for s in slugs) == 1
