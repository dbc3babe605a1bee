"""The journal: every job, every input, every task kit creates, and the pace's send times.

A kernel restart loses the task ids, but the tasks (already paid for) go on at the service; the
journal keeps them so that ``kit.resume()`` can finish them and a re-run of the same cell reuses
them instead of paying again.  It is also the work queue of jobs: each distinct input of a job is
a row (``queued -> claimed -> sending -> created | failed | unknown``) claimed in a ``BEGIN
IMMEDIATE`` transaction together with its slot of the pace, marked ``sending`` just before its
request goes out and settled the moment its answer arrives.  So two processes sharing the journal
never send one input twice and share one budget; a process killed mid-request leaves ``sending``
(an input that may exist, never re-sent on a list's silence), one killed before its request
leaves ``claimed`` (never sent: queued again).

SQLite in WAL mode: two notebooks may write at once.  The schema is versioned (``PRAGMA
user_version``) and an older journal is migrated on open.  It holds a fingerprint of each key (a
short one-way digest), never the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import secrets
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

from .clock import ServiceClock
from .errors import InvalidRequest, JournalError, KitError
from .pace import Pace
from .task import Status, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    task_id TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    kind TEXT NOT NULL,
    input_key TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    service_status TEXT,
    output TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (service, origin, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_by_input ON tasks (service, origin, key_fp, kind, input_key);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (key_fp, status);
CREATE INDEX IF NOT EXISTS tasks_by_team ON tasks (key_fp, service, origin, status, updated_at);
"""
# Version 2: jobs, their inputs (the work queue), and the send times the pace counts.
SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    helper TEXT NOT NULL,
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    label TEXT NOT NULL,
    options TEXT NOT NULL,
    rows TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    input_key TEXT NOT NULL,
    input TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT,
    error TEXT,
    owner TEXT,
    reused INTEGER NOT NULL DEFAULT 0,
    sent_at REAL,
    PRIMARY KEY (job_id, position)
);
CREATE INDEX IF NOT EXISTS items_by_input ON items (input_key, state);
CREATE INDEX IF NOT EXISTS items_by_state ON items (state);
CREATE TABLE IF NOT EXISTS sends (
    service TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    bucket TEXT NOT NULL,
    sent_at REAL NOT NULL,
    not_before REAL NOT NULL,
    action TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sends_by_budget ON sends (service, key_fp, bucket, sent_at);
"""
# v3: the journal's own salt for key fingerprints (a keyed, slow digest: see Secret.fingerprint).
SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# v4: each send's action kind (LinkedIn caps profile visits, likes, messages... apart).
SCHEMA_VERSION = 4

# An input's states in a job.  Only `queued` is ever sent; `claimed`: taken by a process, its
# request not out yet; `sending`: its request may be out.
QUEUED, CLAIMED, SENDING = "queued", "claimed", "sending"
IN_FLIGHT = f"('{CLAIMED}', '{SENDING}')"  # (SQL) an owner's, while it lives
CREATED, FAILED, UNKNOWN = "created", "failed", "unknown"
# A job's states.
RUNNING, STOPPED, CANCELLED, DONE = "running", "stopped", "cancelled", "done"

# An input whose create may have reached the service (its answer was lost, or its process died
# mid-request, and the service has no list to look in): never sent again by kit.
MAY_EXIST = ("the create may have reached {service} but its answer was lost; kit does not send "
             "it again (that would spend another action): check at {service}, and to send it "
             "anyway, run the call again for these inputs with fresh=True")

# How long the pace's record of sends is kept through a purge: its longest window (a week).
PACE_MEMORY = 8 * 24 * 3600.0
# A task still waiting for the extension after this long (service seconds) is taken as skipped
# by it, not as a backlog: it no longer holds the team's next create back (at worst one more
# create a day waits beside it).
STUCK_AFTER = 24 * 3600.0

# How long a row claimed by another machine's process counts as that process's (a request, even
# one waiting for a queue's room, is over long before).
FOREIGN_OWNER_HOURS = 1.0
# This process, as an owner of `claimed` and `sending` rows: another process can tell whether it
# still lives.
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, since: float | None = None) -> bool:
    """Is the process that claimed a row (at ``since``, Unix seconds) still running?  On
    this machine, asked of the system; another machine's process is taken as alive for
    FOREIGN_OWNER_HOURS after its claim (a journal on a shared drive: it may be sending), then
    as gone (a Colab VM replaced, a container's new host name: else its rows wait forever)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return since is None or time.time() - since < FOREIGN_OWNER_HOURS * 3600
    if owner == OWNER:
        return True
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class Claim(NamedTuple):
    """What :meth:`Journal.claim` took: the inputs to send now, those settled without a send
    (adopted, or that may exist), the real seconds to wait before asking again (0: any time),
    and how many of the team's tasks wait to be picked up when they hold the next create back
    (0: they do not)."""

    taken: list[dict[str, Any]]
    settled: list[dict[str, Any]]
    wait: float
    waiting: int


class Pickups(NamedTuple):
    """The team's tasks waiting for their worker (OutX's Chrome extension): how many, the ids
    of the oldest (a hundred at most), when the oldest pending task was created (a skipped one
    too); and when one of the team's tasks was last seen leaving ``pending`` or finishing (the
    journal's latest status change)."""

    waiting: int
    ids: list[str]
    oldest: datetime | None
    last_seen: datetime | None

    def stalled(self, clock: ServiceClock) -> float | None:
        """Service seconds for which tasks have waited and no task was seen to move on (None:
        nothing waits)."""
        if self.oldest is None:
            return None
        since = max(self.oldest, self.last_seen or self.oldest)
        return max(0.0, clock.service(_utcnow().timestamp() - since.timestamp()))


# How often (service seconds) a job blocked by the backlog asks the journal again: the docs'
# status interval, at which pick-ups are seen.
PICKUP_CHECK = 5.0
# The pace's record of one job input's send (its slot's time is the input's sent_at): given
# back when the input goes back to the queue, moved when its task is picked up later.
_INPUT_SEND = ("bucket='create' AND rowid IN (SELECT s.rowid FROM sends s JOIN jobs j ON "
               "s.service=j.service AND s.key_fp=j.key_fp JOIN items i ON i.job_id=j.job_id "
               "WHERE j.job_id=? AND i.position=? AND s.sent_at=i.sent_at)")


def _pickup_wait(clock: ServiceClock) -> float:
    """Real seconds before a create held back by the backlog is asked for again."""
    return max(clock.real(PICKUP_CHECK), 0.05)
COLUMNS = ["service", "origin", "task_id", "key_fp", "kind", "input_key", "input", "status",
           "service_status", "output", "error", "created_at", "updated_at"]
# The task a request can reuse: completed, or still open; the newest completed one first.
_REUSABLE = ("SELECT {columns} FROM tasks WHERE service=? AND origin=? AND key_fp=? AND kind=? "
             "AND input_key=? AND status IN ('completed', 'pending', 'running'){since}")
_NEWEST_REUSABLE = " ORDER BY (status='completed') DESC, created_at DESC LIMIT 1"
_UPSERT = (f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           "ON CONFLICT (service, origin, task_id) DO UPDATE SET status=excluded.status, "
           "service_status=excluded.service_status, output=excluded.output, "
           "error=excluded.error, updated_at=excluded.updated_at, "
           "kind=CASE WHEN tasks.kind='unknown' THEN excluded.kind ELSE tasks.kind END")


def default_path() -> Path:
    """``KIT_JOURNAL``, else the per-user data directory of this platform."""
    env = os.environ.get("KIT_JOURNAL")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "kit" / "journal.sqlite3"


def input_key(kind: str, task_input: dict[str, Any]) -> str:
    """The identity of a request: same kind and same input, same key (order-insensitive)."""
    text = json.dumps({"kind": kind, "input": task_input}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Real seconds a write waits for another process's lock before kit stops (SQLite's own wait is
# 30 s; a purge's VACUUM of a large journal can take longer than that).
LOCK_PATIENCE = 300.0


def _retry_locked(step: Any, seconds: float = 30.0) -> Any:
    """Run ``step``, again while SQLite says the database is locked (a schema change elsewhere)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema, in one transaction (version 0/1: tasks only)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            had_rows = any(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]
                           for t in ("tasks", "jobs", "sends") if t in tables)
            for statement in (SCHEMA + SCHEMA_V2 + SCHEMA_V3).split(";"):
                if statement.strip():
                    conn.execute(statement)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(sends)")}
            if "action" not in columns:  # v3 and older
                conn.execute("ALTER TABLE sends ADD COLUMN action TEXT NOT NULL DEFAULT ''")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
            if had_rows and version < 3:  # written with unsalted fingerprints: re-keyed on use
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('legacy_fp', '1')")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create(path: Path) -> None:
    """Make a new journal whole, then put it in place, so that an empty file at a journal's
    path is never one kit made (it is a journal emptied: refused).  Two processes making it
    at once: the first one's is kept."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    os.close(os.open(scratch, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        with contextlib.closing(sqlite3.connect(scratch, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            _migrate(conn)
        try:
            os.link(scratch, path)  # never over another's
        except FileExistsError:
            pass
        except OSError:  # no hard links here (some network and FAT file systems)
            if not path.exists():
                os.replace(scratch, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


class Journal:
    """One journal file.  Thread-safe; each write is its own short transaction."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._file = str(self.path) != ":memory:"
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._salt: bytes | None = None
        self._identity: tuple[int, int] | None = None
        # Settles a failed write left to write (task rows, item outcomes): see settle_many.
        self._unwritten: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        self._settle_lock = threading.Lock()
        try:
            if self._file:
                # It holds people's profiles: a folder and a file only this user can read.
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not self.path.exists():
                    _create(self.path)
                elif self.path.is_file() and self.path.stat().st_size == 0:
                    raise JournalError(
                        f"the journal {self.path} is empty (0 bytes): it was emptied or "
                        "truncated, and with it the record of what kit sent. kit does not start "
                        "over in it (that would send every input again): restore it from a "
                        "backup, or delete the file to start a new journal knowingly.")
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            with self._lock:
                # busy_timeout first: a schema change elsewhere is waited for, not failed on.
                self._conn.execute("PRAGMA busy_timeout=30000")
                self._refuse_foreign()
                self._check_whole()
                _retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
                self._conn.execute("PRAGMA synchronous=NORMAL")
                _retry_locked(lambda: _migrate(self._conn))
            # Reads have a connection of their own: in WAL mode they never wait for a writer,
            # so a write waiting on another process's lock (in a worker thread) holds no read.
            self._reader, self._read_lock = self._conn, self._lock
            if self._file:
                self._reader = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                               check_same_thread=False)
                self._read_lock = threading.Lock()
                self._tighten()
                self._identity = self._stat()
        except BaseException as exc:  # refused: nothing of it stays open
            for conn in {getattr(self, "_conn", None), getattr(self, "_reader", None)} - {None}:
                conn.close()  # type: ignore[union-attr]
            if not isinstance(exc, sqlite3.Error):
                raise
            raise JournalError(f"the journal {self.path} cannot be used ({exc}); nothing was "
                               "sent. Point KIT_JOURNAL or journal= at a kit journal file, or "
                               "journal=False to run without one (a new journal does not know "
                               "what this one sent: its inputs may be sent again).") from None

    def _refuse_foreign(self) -> None:
        """Another application's SQLite database is left as it is: never switched to WAL, never
        given kit's tables."""
        tables = {r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - {"tasks", "jobs", "items", "sends", "meta"}:
            raise sqlite3.DatabaseError(f"not a kit journal: it has tables {sorted(tables)[:5]}")

    def _check_whole(self) -> None:
        """A damaged journal (a bad sector, a file written over) is refused before anything is
        sent: what it holds of earlier sends cannot be trusted, nor can a write land."""
        if not self._file:
            return
        try:
            problems = [r[0] for r in self._conn.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.DatabaseError as exc:  # too damaged to be checked
            problems = [str(exc)]
        if problems != ["ok"]:
            first = " ".join(problems[0].split())[:120]  # SQLite's report, on one line
            raise JournalError(
                f"the journal {self.path} is damaged ({first}); nothing was sent. It holds the "
                "record of what kit sent: restore it from a backup, or move it aside to start a "
                "new journal knowingly (its inputs may then be sent again).")

    def _tighten(self) -> None:
        """A journal made by an older kit (or a umask) readable by others: only this user's
        now, with its -wal and -shm files (SQLite gives them the database file's mode)."""
        for suffix in ("", "-wal", "-shm"):
            file = Path(f"{self.path}{suffix}")
            with contextlib.suppress(OSError):  # not there, or not ours: leave it
                found = file.stat()
                if found.st_mode & 0o077 and found.st_uid == os.getuid():
                    file.chmod(0o600)

    def _stat(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @property
    def salt(self) -> bytes:
        """This journal's salt for key fingerprints (random, made with the journal)."""
        if self._salt is None:
            [row] = self._query("SELECT value FROM meta WHERE name='salt'")
            self._salt = bytes.fromhex(row["value"])
        return self._salt

    def rekey(self, legacy_fp: str, key_fp: str) -> None:
        """Move rows written under a key's old unsalted fingerprint to its keyed one (in a
        journal made before fingerprints were salted, until no old one is left)."""
        if not self._query("SELECT 1 FROM meta WHERE name='legacy_fp'"):
            return
        with self._write() as conn:
            conn.execute("PRAGMA secure_delete=ON")  # the old digests do not linger in the file
            for table in ("tasks", "jobs", "sends"):
                conn.execute(f"UPDATE {table} SET key_fp=? WHERE key_fp=?", (key_fp, legacy_fp))
            # Old digests are 12 characters, keyed ones 16: when none is left, stop looking.
            if not any(conn.execute(f"SELECT 1 FROM {table} WHERE length(key_fp)=12 LIMIT 1")
                       .fetchone() for table in ("tasks", "jobs", "sends")):
                conn.execute("DELETE FROM meta WHERE name='legacy_fp'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._read_lock:
            self._reader.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


    @contextmanager
    def _write(self, then: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction.  A journal deleted or replaced under kit, a full disk, a lock
        held elsewhere for minutes: a :class:`JournalError` saying so, never a raw one."""
        with self._lock:
            self._check_in_place()
            try:
                _retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"), LOCK_PATIENCE)
            except sqlite3.Error as exc:
                raise self._failure(exc, then=then) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failure(exc, then=then) from None
                raise

    def _check_in_place(self) -> None:
        """Is the file kit opened still at the journal's path?  SQLite goes on writing to a
        deleted file unseen, and another process would then start a new journal there and
        send every input again."""
        if self._identity is not None and self._stat() != self._identity:
            raise JournalError(
                f"the journal {self.path} was deleted or replaced while kit used it: kit stops "
                "here and sends nothing more (what this run did is in its table). If it was "
                "moved, move it back and kit.resume() carries on.")

    def _failure(self, exc: sqlite3.Error, *, reading: bool = False, then: str | None = None
                 ) -> JournalError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            why = (f"another process has held it locked for over {LOCK_PATIENCE / 60:.0f} "
                   "minutes (a purge, a backup tool?)")
        elif "full" in text:
            why = "the disk is full"
        else:
            why = text
        then = then or ("kit stops sending; what was sent until now is in the journal and this "
                        "run's table, and kit.resume() carries on once it can write (free the "
                        "disk, end the other process)")
        return JournalError(f"the journal {self.path} cannot be "
                            f"{'read' if reading else 'written'}: {why}. {then}.")

    # -- writing ---------------------------------------------------------------------------
    def record(self, task: Task, *, origin: str, key_fp: str) -> None:
        """Store a task (new or changed)."""
        self.record_many([task], origin=origin, key_fp=key_fp)

    def record_many(self, tasks: Iterable[Task], *, origin: str, key_fp: str) -> None:
        rows = [self._row(t, origin, key_fp) for t in tasks if t.id]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(_UPSERT, rows)

    @staticmethod
    def _row(task: Task, origin: str, key_fp: str) -> tuple[Any, ...]:
        return (task.service, origin, task.id, key_fp, task.kind,
                input_key(task.kind, task.input), json.dumps(task.input, default=str),
                task.status.value, task.service_status,
                None if task.output is None else json.dumps(task.output, default=str),
                task.error, _iso(task.created_at), _iso(task.updated_at))

    # -- reading ---------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._read_lock:
            try:
                cursor = self._reader.execute(sql, args)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except sqlite3.Error as exc:  # damaged since it was opened
                raise self._failure(exc, reading=True) from None

    def find(self, service: str, origin: str, key_fp: str, kind: str,
             task_input: dict[str, Any]) -> Task | None:
        """The newest reusable task for this request: completed, or still open."""
        rows = self._query(_REUSABLE.format(columns="*", since="") + _NEWEST_REUSABLE,
                           (service, origin, key_fp, kind, input_key(kind, task_input)))
        return task_from_row(rows[0]) if rows else None

    def unfinished(self, service: str, origin: str, key_fp: str) -> list[Task]:
        rows = self._query(
            "SELECT * FROM tasks WHERE service=? AND origin=? AND key_fp=? "
            "AND status IN ('pending', 'running') ORDER BY created_at", (service, origin, key_fp))
        return [task_from_row(r) for r in rows]

    def rows(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM tasks ORDER BY created_at")

    def tasks_by_id(self, task_ids: Iterable[str]) -> dict[str, Task]:
        ids = list(dict.fromkeys(task_ids))
        found: dict[str, Task] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._query(f"SELECT * FROM tasks WHERE task_id IN ({', '.join('?' * len(chunk))})",
                               tuple(chunk))
            found.update({r["task_id"]: task_from_row(r) for r in rows})
        return found

    # -- forgetting ---------------------------------------------------------------------------
    def purge(self, *, job_id: str | None = None, before: str | None = None,
              everything: bool = False) -> dict[str, int]:
        """Delete what the journal holds and leave nothing of it in the file (secure delete,
        vacuum, the write-ahead log truncated).  One of: ``everything``; ``job_id`` (the job,
        its inputs and the tasks no other job uses); ``before`` (an ISO time: finished tasks and
        ended jobs last updated before it; unfinished tasks are kept, they may still finish or
        cost).  A running job is refused (another process may be sending its inputs), and the
        pace's record of the last day's sends is kept (it holds no data, and without it the
        next run could burst).  Returns the counts deleted."""
        final = "('completed', 'failed', 'expired')"
        counts: dict[str, int] = {}
        recent = time.time() - PACE_MEMORY
        with self._write() as conn:
            targeted = ("SELECT job_id FROM jobs" if everything else
                        "SELECT job_id FROM jobs WHERE job_id=?" if job_id is not None else None)
            if targeted is not None:
                args = () if everything else (job_id,)
                running = conn.execute(f"SELECT job_id FROM jobs WHERE state='running' AND "
                                       f"job_id IN ({targeted})", args).fetchone()
                if running:
                    raise KitError(
                        f"job {running[0]} is running (here or in another process): stop it "
                        f"first (job.stop(), or Ctrl-C in its terminal); if no process runs it "
                        f"any more, kit.job({running[0]!r}).cancel() marks it ended.")
            conn.execute("PRAGMA secure_delete=ON")
            if everything:
                for table in ("items", "jobs", "tasks"):
                    counts[table] = conn.execute(f"DELETE FROM {table}").rowcount
                before_sends = recent
            elif job_id is not None:
                counts["tasks"] = conn.execute(
                    "DELETE FROM tasks WHERE task_id IN (SELECT task_id FROM items WHERE job_id=? "
                    "AND task_id IS NOT NULL) AND task_id NOT IN (SELECT task_id FROM items "
                    "WHERE job_id != ? AND task_id IS NOT NULL)", (job_id, job_id)).rowcount
                counts["items"] = conn.execute("DELETE FROM items WHERE job_id=?",
                                               (job_id,)).rowcount
                counts["jobs"] = conn.execute("DELETE FROM jobs WHERE job_id=?",
                                              (job_id,)).rowcount
                before_sends = None
            elif before is not None:
                ended = ("SELECT job_id FROM jobs WHERE state IN ('done', 'cancelled') "
                         "AND updated_at < ?")
                counts["items"] = conn.execute(f"DELETE FROM items WHERE job_id IN ({ended})",
                                               (before,)).rowcount
                counts["jobs"] = conn.execute(f"DELETE FROM jobs WHERE job_id IN ({ended})",
                                              (before,)).rowcount
                counts["tasks"] = conn.execute(
                    f"DELETE FROM tasks WHERE status IN {final} AND updated_at < ? "
                    "AND task_id NOT IN (SELECT task_id FROM items WHERE task_id IS NOT NULL)",
                    (before,)).rowcount
                before_sends = min(datetime.fromisoformat(before).timestamp(), recent)
            else:
                raise ValueError("purge() needs job_id, before or everything")
            if before_sends is not None:
                counts["sends"] = conn.execute("DELETE FROM sends WHERE sent_at < ?",
                                               (before_sends,)).rowcount
        self._compact()
        return counts

    def _compact(self) -> None:
        """Rewrite the file without free pages, then empty the write-ahead log; an error when
        another connection holds the log (the purged data would linger until it closes)."""
        if str(self.path) == ":memory:":
            return
        try:
            with self._lock:
                self._conn.execute("VACUUM")
                busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as exc:
            busy, detail = 1, f" ({exc})"
        else:
            detail = ""
        if busy:
            raise KitError(f"purged, but another kit session holds the journal {self.path} "
                           f"open{detail}, so old pages may remain in the file until it closes: "
                           "close it (or restart that kernel) and purge again.")

    # -- jobs: the work queue ----------------------------------------------------------------
    def add_job(self, *, helper: str, service: str, origin: str, key_fp: str, label: str,
                options: dict[str, Any], rows: list[Any],
                items: list[tuple[str, dict[str, Any]]]) -> str:
        """Write a job, one row per distinct input (``queued``), before any request is sent."""
        job_id = uuid.uuid4().hex[:12]
        now = _iso(_utcnow())
        job = (job_id, helper, service, origin, key_fp, label, json.dumps(options, default=str),
               json.dumps(rows, default=str), RUNNING, now, now)
        inputs = [(job_id, i, kind, input_key(kind, inp), json.dumps(inp, default=str), QUEUED)
                  for i, (kind, inp) in enumerate(items)]
        # Before any request: nothing is sent that is not journaled.
        with self._write(then="nothing was sent. Free the disk or fix the file's permissions, "
                              "or point KIT_JOURNAL elsewhere") as conn:
            conn.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)", job)
            conn.executemany("INSERT INTO items (job_id, position, kind, input_key, input, "
                             "state) VALUES (?, ?, ?, ?, ?, ?)", inputs)
        return job_id

    def job(self, job_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            return None
        job = rows[0]
        job["options"], job["rows"] = json.loads(job["options"]), json.loads(job["rows"])
        return job

    def jobs(self) -> list[dict[str, Any]]:
        """Every job with its counts of inputs per state."""
        return self._query(
            "SELECT j.job_id, j.helper, j.service, j.origin, j.key_fp, j.label, j.state, j.error, "
            "j.created_at, j.updated_at, COUNT(i.position) AS inputs, "
            f"SUM(i.state='queued') AS queued, SUM(i.state IN {IN_FLIGHT}) AS sending, "
            "SUM(i.state='created') AS created, SUM(i.state='failed') AS failed, "
            "SUM(i.state='unknown') AS unknown, SUM(t.status='completed') AS completed "
            "FROM jobs j LEFT JOIN items i USING (job_id) "
            "LEFT JOIN tasks t ON t.task_id = i.task_id AND t.service = j.service "
            "AND t.origin = j.origin "
            "GROUP BY j.job_id ORDER BY j.created_at")

    def set_job_state(self, job_id: str, state: str, error: str | None = None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET state=?, error=?, updated_at=? WHERE job_id=?",
                         (state, error, _iso(_utcnow()), job_id))

    def set_job_options(self, job_id: str, options: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET options=? WHERE job_id=?",
                         (json.dumps(options, default=str), job_id))

    def items(self, job_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM items WHERE job_id=? ORDER BY position", (job_id,))
        for row in rows:
            row["input"] = json.loads(row["input"])
        return rows

    def claim(self, job_id: str, *, count: int, budget: tuple[str, str, str] = ("", "", ""),
              pace: Pace | None = None, clock: ServiceClock | None = None,
              fresh_since: str | None = None, action_of: Callable[[str], str] | None = None,
              pending_limit: int | None = None) -> Claim:
        """Take up to ``count`` queued inputs of a job to send, in one transaction (each one
        spends a slot of ``pace`` from ``budget`` ``(service, key_fp, bucket)``, counted against
        its action kind's caps: ``action_of(kind)``).

        Before an input is taken, an earlier task for the same request (this journal's, any
        job's, any process's) is adopted instead: a completed or open task unless the job is
        fresh (``fresh_since``: only tasks created since then count), and always one another
        process is sending right now (the input stays queued until that answer is in).  With
        ``pending_limit``, nothing is taken while that many of the team's tasks (any job's, any
        process's, and creates under way) still wait to be picked up by the service's worker.
        What is taken is marked ``claimed`` (:meth:`sending` once its request goes out).
        """
        clock = clock or ServiceClock()
        with self._write() as conn:
            job = conn.execute("SELECT service, origin, key_fp FROM jobs WHERE job_id=?",
                               (job_id,)).fetchone()
            if job is None:
                raise KitError(f"the journal has no job {job_id!r}")
            taken: list[dict[str, Any]] = []
            settled: list[dict[str, Any]] = []
            wait = 0.0
            busy = False
            waiting = self._waiting(conn, job, clock) if pending_limit is not None else 0
            blocked = 0
            # A few more than asked: some may be adopted instead of sent.
            queued = conn.execute("SELECT position, kind, input_key, input FROM items "
                                  "WHERE job_id=? AND state='queued' ORDER BY position LIMIT ?",
                                  (job_id, count + 64)).fetchall()
            for position, kind, key, text in queued:
                if len(taken) >= count:
                    break
                earlier = self._earlier(conn, job, job_id, kind, key, fresh_since)
                if earlier is not None and earlier[0] == SENDING:
                    busy = True
                    continue
                if earlier is not None:
                    state, task_id, error = CREATED, earlier[1], None
                    if earlier[0] == UNKNOWN:
                        state, task_id = UNKNOWN, None
                        error = (MAY_EXIST.format(service=job[0]) +
                                 f" (sent by job {earlier[1]})")
                    conn.execute("UPDATE items SET state=?, task_id=?, error=?, reused=1 "
                                 "WHERE job_id=? AND position=?",
                                 (state, task_id, error, job_id, position))
                    settled.append({"position": position, "state": state, "task_id": task_id,
                                    "error": error})
                    continue
                if pending_limit is not None and waiting + len(taken) >= pending_limit:
                    # The action happens when the worker picks a task up: a backlog sent now
                    # would be worked in a burst later.  Ask again after a status read's time.
                    blocked, wait = waiting + len(taken), _pickup_wait(clock)
                    break
                spent = None
                if pace is not None and pace.limited:  # one slot of the pace per input taken
                    action = action_of(kind) if action_of is not None else ""
                    wait, spent = self._spend(conn, budget, pace, clock, action)
                    if wait > 0:
                        break
                # sent_at: the pace slot's own time, so that an input put back can return it.
                conn.execute("UPDATE items SET state='claimed', owner=?, sent_at=? "
                             "WHERE job_id=? AND position=?",
                             (OWNER, spent if spent is not None else time.time(), job_id, position))
                taken.append({"position": position, "kind": kind, "input": json.loads(text)})
            if busy and not taken and wait == 0:
                wait = 0.5  # another process is sending one of these: ask again soon
        return Claim(taken, settled, wait, blocked)

    @staticmethod
    def _pending(conn: sqlite3.Connection, team: tuple[str, str, str], clock: ServiceClock,
                 what: str, tail: str = "") -> list[Any]:
        """``SELECT what`` over the team's tasks waiting to be picked up (pending, and not yet
        taken as stuck: created within STUCK_AFTER)."""
        service, origin, key_fp = team
        stuck = _iso(_utcnow() - timedelta(seconds=clock.real(STUCK_AFTER)))
        return conn.execute(
            f"SELECT {what} FROM tasks WHERE key_fp=? AND service=? AND origin=? "
            f"AND status='pending' AND created_at > ?{tail}",
            (key_fp, service, origin, stuck)).fetchall()

    def _waiting(self, conn: sqlite3.Connection, team: tuple[str, str, str],
                 clock: ServiceClock) -> int:
        """How many of the team's tasks wait to be picked up: pending, and the creates live
        processes have under way (their tasks will be pending)."""
        service, origin, key_fp = team
        [(pending,)] = self._pending(conn, team, clock, "COUNT(*)")
        sending = conn.execute(
            "SELECT i.owner, i.sent_at FROM items i JOIN jobs j USING (job_id) WHERE i.state IN "
            f"{IN_FLIGHT} AND j.service=? AND j.origin=? AND j.key_fp=?",
            (service, origin, key_fp)).fetchall()
        return int(pending) + sum(1 for owner, at in sending if owner_alive(owner, at))

    def pickups(self, service: str, origin: str, key_fp: str, clock: ServiceClock | None = None
                ) -> Pickups:
        """What the team's worker is doing, as every process's reads left it in the journal."""
        clock = clock or ServiceClock()
        team = (service, origin, key_fp)
        with self._read_lock:
            conn = self._reader
            [(count,)] = self._pending(conn, team, clock, "COUNT(*)")
            # Since when tasks have waited: the oldest pending one, a skipped one included (a
            # browser closed for days lets one more create go each day; the wait is the week's).
            [(oldest,)] = conn.execute(
                "SELECT MIN(created_at) FROM tasks WHERE key_fp=? AND service=? AND origin=? "
                "AND status='pending'", (key_fp, service, origin)).fetchall()
            ids = [r[0] for r in self._pending(conn, team, clock, "task_id",
                                               " ORDER BY created_at LIMIT 100")]
            # The latest status change away from pending: one index lookup per status.
            seen = [conn.execute(
                "SELECT MAX(updated_at) FROM tasks WHERE key_fp=? AND service=? AND origin=? "
                "AND status=?", (key_fp, service, origin, status)).fetchone()[0]
                for status in ("running", "completed", "failed")]
        last = max((at for at in seen if at), default=None)
        return Pickups(int(count), ids, datetime.fromisoformat(oldest) if oldest else None,
                       datetime.fromisoformat(last) if last else None)

    def _earlier(self, conn: sqlite3.Connection, job: tuple[str, str, str], job_id: str, kind: str,
                 key: str, fresh_since: str | None) -> tuple[str, str | None] | None:
        """What became of this request before: ``(CREATED, task_id)`` for a reusable task,
        ``(SENDING, None)`` while a live process sends it, ``(UNKNOWN, job_id)`` when an earlier
        create may have reached the service (never sent again, unless the job is fresh)."""
        service, origin, key_fp = job
        for state, other_job, owner, at in conn.execute(
                "SELECT i.state, i.job_id, i.owner, i.sent_at FROM items i JOIN jobs j USING (job_id) "
                "WHERE i.input_key=? AND i.state IN ('claimed', 'sending', 'unknown') "
                "AND j.service=? AND j.origin=? AND j.key_fp=? AND i.job_id != ?",
                (key, service, origin, key_fp, job_id)).fetchall():
            if state in (CLAIMED, SENDING) and owner_alive(owner, at):
                return SENDING, None
            if state != CLAIMED and fresh_since is None:  # (claimed by the dead: never sent)
                return UNKNOWN, other_job
        args: tuple[Any, ...] = (service, origin, key_fp, kind, key)
        since = ""
        if fresh_since is not None:
            since, args = " AND created_at >= ?", (*args, fresh_since)
        row = conn.execute(_REUSABLE.format(columns="task_id", since=since) + _NEWEST_REUSABLE,
                           args).fetchone()
        return (CREATED, row[0]) if row else None

    @staticmethod
    def _sends_since(conn: sqlite3.Connection, budget: tuple[str, str, str], since: float
                     ) -> list[tuple[float, float, str]]:
        """(sent_at, not_before, action) of ``budget``'s sends after ``since`` (Unix s)."""
        return conn.execute("SELECT sent_at, not_before, action FROM sends WHERE service=? AND "
                            "key_fp=? AND bucket=? AND sent_at > ? ORDER BY sent_at",
                            (*budget, since)).fetchall()

    def _spend(self, conn: sqlite3.Connection, budget: tuple[str, str, str], pace: Pace,
               clock: ServiceClock, action: str = "") -> tuple[float, float | None]:
        """Spend one slot of the pace for an ``action`` now: ``(0, the slot's time)``; or
        ``(the real seconds until one is free, None)``.

        Send times are stored as this machine's Unix time; the pace's windows are service
        seconds, converted by ``clock`` (a sandbox's run faster)."""
        now = clock.epoch()
        rows = self._sends_since(conn, budget, now - clock.real(pace.longest_window))
        not_before = max((nb for _, nb, _ in rows), default=0.0)
        at = clock.real(pace.next_send([(clock.service(t), kind) for t, _, kind in rows],
                                       clock.service(not_before), clock.service(now), action))
        if at > now + 1e-3:
            return at - now, None
        conn.execute("INSERT INTO sends VALUES (?, ?, ?, ?, ?, ?)",
                     (*budget, now, now + clock.real(pace.gap(self._rng)), action))
        # Sends older than any window no longer count: keep the table small.  The longest
        # window any pace may count (a week), not this one's: a pace that lifts the weekly caps
        # must not erase what another process's default pace still counts.
        conn.execute("DELETE FROM sends WHERE service=? AND key_fp=? AND bucket=? AND sent_at < ?",
                     (*budget, now - max(clock.real(pace.longest_window), PACE_MEMORY)))
        return 0.0, now

    def spend(self, budget: tuple[str, str, str], pace: Pace, clock: ServiceClock,
              action: str = "", *, origin: str = "", pending_limit: int | None = None
              ) -> tuple[float, int]:
        """Spend one slot of ``budget`` now: ``(0, 0)``; or ``(real seconds to wait, how many
        of the team's tasks wait to be picked up when that is why)``.  With ``pending_limit``
        (and the team's ``origin``) the waiting tasks are counted in the same transaction."""
        service, key_fp, _ = budget
        with self._write() as conn:
            if pending_limit is not None:
                waiting = self._waiting(conn, (service, origin, key_fp), clock)
                if waiting >= pending_limit:
                    return _pickup_wait(clock), waiting
            return self._spend(conn, budget, pace, clock, action)[0], 0

    def history(self, budget: tuple[str, str, str], since: float) -> tuple[list[tuple[float, str]], float]:
        """The sends counted for ``budget`` since ``since`` (Unix seconds) with their action
        kinds, and the latest instant the last of them asked the next to wait for."""
        with self._read_lock:
            rows = self._sends_since(self._reader, budget, since)
        return [(t, action) for t, _, action in rows], max((nb for _, nb, _ in rows), default=0.0)

    def moved_to_pickup(self, job_id: str, position: int, at: float, gap: float) -> None:
        """An input's task waited for the worker and was seen picked up at ``at`` (Unix s):
        its action happened then, not when it was sent, so its send counts from then (and the
        next one ``gap`` real seconds later): two actions never follow a night seconds apart."""
        with self._write() as conn:
            conn.execute("UPDATE sends SET sent_at=?, not_before=? WHERE " + _INPUT_SEND,
                         (at, at + gap, job_id, position))
            conn.execute("UPDATE items SET sent_at=? WHERE job_id=? AND position=?",
                         (at, job_id, position))

    def sends(self, service: str, key_fp: str, bucket: str = "create") -> list[float]:
        """The send times (Unix seconds) the pace has counted for this budget."""
        return [r["sent_at"] for r in self._query(
            "SELECT sent_at FROM sends WHERE service=? AND key_fp=? AND bucket=? ORDER BY sent_at",
            (service, key_fp, bucket))]

    def settle(self, job_id: str, position: int, state: str, *, task_id: str | None = None,
               error: str | None = None) -> None:
        """An input's outcome: ``created`` with its task, ``failed`` or ``unknown`` with why,
        or ``queued`` again (the service certainly did not act)."""
        self.settle_many(job_id, [(position, state, task_id, error)])

    def settle_many(self, job_id: str, outcomes: list[tuple[int, str, str | None, str | None]],
                    *, tasks: Iterable[Task] = (), origin: str = "", key_fp: str = "") -> None:
        """Outcomes ``(position, state, task_id, error)`` of a job's inputs and the tasks they
        made, in one transaction (a create's task and its input's state land together).

        Outcomes that could not be written (a full disk) are kept and written first by the
        next settle in this process (a resume here): task ids that arrived are never lost
        while the process lives, even where the service has no list to find them in."""
        rows = [self._row(t, origin, key_fp) for t in tasks if t.id]
        settles = [(job_id, position, state, task_id, error)
                   for position, state, task_id, error in outcomes]
        with self._settle_lock:
            backlog, self._unwritten = self._unwritten, ([], [])
            rows, settles = backlog[0] + rows, backlog[1] + settles
            try:
                with self._write() as conn:
                    if rows:
                        conn.executemany(_UPSERT, rows)
                    # An input put back in the queue was refused or never reached the service:
                    # no action was taken, so its slot of the pace is given back.
                    conn.executemany("DELETE FROM sends WHERE " + _INPUT_SEND,
                                     [(job, pos) for job, pos, state, _t, _e in settles
                                      if state == QUEUED])
                    conn.executemany("UPDATE items SET state=?, task_id=COALESCE(?, task_id), "
                                     "error=?, owner=NULL WHERE job_id=? AND position=?",
                                     [(state, task_id, error, job, pos)
                                      for job, pos, state, task_id, error in settles])
            except JournalError:
                self._unwritten = (rows, settles)
                raise

    def count(self, job_id: str, state: str) -> int:
        """How many of a job's inputs are in ``state`` now (in any process)."""
        return int(self._query("SELECT COUNT(*) AS n FROM items WHERE job_id=? AND state=?",
                               (job_id, state))[0]["n"])

    def created_for(self, job_id: str, item: dict[str, Any], margin: float = 300.0
                    ) -> Task | None:
        """The task journaled for a job's input since shortly before it was sent (``margin``
        seconds: clocks differ), when a process journaled the create's answer and died before
        it settled the input (Agora confirms between the two)."""
        since = datetime.fromtimestamp((item["sent_at"] or 0.0) - margin, timezone.utc)
        rows = self._query(
            "SELECT t.* FROM tasks t JOIN jobs j ON t.service=j.service AND t.origin=j.origin "
            "AND t.key_fp=j.key_fp WHERE j.job_id=? AND t.kind=? AND t.input_key=? "
            "AND t.created_at >= ? AND t.task_id NOT IN (SELECT task_id FROM items WHERE "
            "task_id IS NOT NULL) ORDER BY t.created_at DESC LIMIT 1",
            (job_id, item["kind"], input_key(item["kind"], item["input"]), _iso(since)))
        return task_from_row(rows[0]) if rows else None

    def mark_sending(self, job_id: str, positions: Iterable[int]) -> None:
        """This process's claimed inputs ``positions`` go out now (their request is sent next):
        a kill from here on leaves them 'may exist'."""
        with self._write() as conn:
            conn.executemany("UPDATE items SET state='sending' WHERE job_id=? AND position=? "
                             "AND state='claimed' AND owner=?",
                             [(job_id, position, OWNER) for position in positions])

    def release(self, job_id: str) -> None:
        """This process stops running the job: inputs it claimed and never sent are queued
        again (their pace slots given back), and inputs it left ``sending`` (a request cut
        short) lose their owner, so that the next run looks them up instead of waiting."""
        with self._write() as conn:
            self._unclaim(conn, job_id, [p for (p,) in conn.execute(
                "SELECT position FROM items WHERE job_id=? AND state='claimed' AND owner=?",
                (job_id, OWNER)).fetchall()])
            conn.execute("UPDATE items SET owner=NULL WHERE job_id=? AND state='sending' AND owner=?",
                         (job_id, OWNER))

    @staticmethod
    def _unclaim(conn: sqlite3.Connection, job_id: str, positions: list[int]) -> None:
        """Claimed inputs whose request never went out: queued again, pace slots given back."""
        conn.executemany("DELETE FROM sends WHERE " + _INPUT_SEND,
                         [(job_id, p) for p in positions])
        conn.executemany("UPDATE items SET state='queued', owner=NULL WHERE job_id=? AND "
                         "position=? AND state='claimed'", [(job_id, p) for p in positions])

    def orphans(self, job_id: str) -> list[dict[str, Any]]:
        """Inputs left ``sending`` by a process that is gone: their request may have arrived.
        (Those it left ``claimed`` never went out: they are queued again.)"""
        if self._unwritten[1]:  # what a failed write left: written first, before any look-up
            self.settle_many(job_id, [])
        items = self.items(job_id)
        # This process's own rows too: a job runs once per process, so a run starting finds
        # them left by an earlier run here whose end could not be journaled.
        gone = [r for r in items if r["owner"] == OWNER
                or not owner_alive(r["owner"], r["sent_at"])]
        dead = [r["position"] for r in gone if r["state"] == CLAIMED]
        if dead:
            with self._write() as conn:
                self._unclaim(conn, job_id, dead)
        return [r for r in gone if r["state"] == SENDING]

    def in_flight_elsewhere(self, job_id: str) -> int:
        """How many of the job's inputs another live process has claimed or is sending."""
        return sum(1 for r in self._query(
            f"SELECT owner, sent_at FROM items WHERE job_id=? AND state IN {IN_FLIGHT}",
            (job_id,)) if r["owner"] != OWNER and owner_alive(r["owner"], r["sent_at"]))


def task_from_row(row: dict[str, Any]) -> Task:
    return Task(service=row["service"], id=row["task_id"], kind=row["kind"],
                status=Status(row["status"]), service_status=row["service_status"],
                input=json.loads(row["input"]),
                output=None if row["output"] is None else json.loads(row["output"]),
                error=row["error"], created_at=datetime.fromisoformat(row["created_at"]),
                updated_at=datetime.fromisoformat(row["updated_at"]))


_open: dict[str, Journal] = {}
_open_lock = threading.Lock()


def open_journal(journal: Journal | str | os.PathLike[str] | bool | None) -> Journal | None:
    """``None``/``True``: the default journal; ``False``: none; a path or a Journal: that one."""
    if journal is False:
        return None
    if isinstance(journal, Journal):
        return journal
    if journal is not None and journal is not True and not isinstance(journal, (str, os.PathLike)):
        raise InvalidRequest(f"journal must be a path, a kit Journal, True (the default one) or "
                             f"False (none), not {journal!r:.40}.")
    path = default_path() if journal in (None, True) else Path(journal)  # type: ignore[arg-type]
    key = str(path.expanduser().resolve())
    with _open_lock:
        if key not in _open:
            _open[key] = Journal(path)
        return _open[key]


_temporary: set[str] = set()  # journals deleted when their owner (a sandbox) stops


def mark_temporary(path: str | os.PathLike[str]) -> None:
    """Say that the journal at ``path`` ends with its owner (a sandbox's own journal): what it
    holds cannot be resumed after that, and interrupted jobs say so."""
    _temporary.add(str(Path(path).expanduser().resolve()))


def is_temporary(path: str | os.PathLike[str]) -> bool:
    return str(Path(path).expanduser().resolve()) in _temporary


def discard(path: str | os.PathLike[str]) -> None:
    """Close and delete a journal file (the sandbox's own, when the sandbox stops)."""
    key = str(Path(path).expanduser().resolve())
    _temporary.discard(key)
    with _open_lock:
        journal = _open.pop(key, None)
    if journal is not None:
        journal.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{key}{suffix}").unlink(missing_ok=True)


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every row of the journal at ``path`` (opened and closed again)."""
    with Journal(path) as journal:
        return journal.rows()
