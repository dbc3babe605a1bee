"""The task journal: every task kit creates, on disk before the create call returns.

A kernel restart loses the task ids, but the tasks (already paid for) go on at the service; the
journal keeps them so that ``kit.resume()`` can finish them and a re-run of the same cell reuses
them instead of paying again.  SQLite in WAL mode: two notebooks may write at once.  It holds a
fingerprint of each key (a short one-way digest), never the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
"""
COLUMNS = ["service", "origin", "task_id", "key_fp", "kind", "input_key", "input", "status",
           "service_status", "output", "error", "created_at", "updated_at"]


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


class Journal:
    """One journal file.  Thread-safe; each write is its own short transaction."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                     check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.executescript(SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- writing ---------------------------------------------------------------------------
    def record(self, task: Task, *, origin: str, key_fp: str) -> None:
        """Store a task (new or changed)."""
        self.record_many([task], origin=origin, key_fp=key_fp)

    def record_many(self, tasks: Iterable[Task], *, origin: str, key_fp: str) -> None:
        rows = [self._row(t, origin, key_fp) for t in tasks if t.id]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                "ON CONFLICT (service, origin, task_id) DO UPDATE SET status=excluded.status, "
                "service_status=excluded.service_status, output=excluded.output, "
                "error=excluded.error, updated_at=excluded.updated_at, "
                "kind=CASE WHEN tasks.kind='unknown' THEN excluded.kind ELSE tasks.kind END",
                rows)

    @staticmethod
    def _row(task: Task, origin: str, key_fp: str) -> tuple[Any, ...]:
        return (task.service, origin, task.id, key_fp, task.kind,
                input_key(task.kind, task.input), json.dumps(task.input, default=str),
                task.status.value, task.service_status,
                None if task.output is None else json.dumps(task.output, default=str),
                task.error, _iso(task.created_at), _iso(task.updated_at))

    # -- reading ---------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._conn.execute(sql, args)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def find(self, service: str, origin: str, key_fp: str, kind: str,
             task_input: dict[str, Any]) -> Task | None:
        """The newest reusable task for this request: completed, or still open."""
        rows = self._query(
            "SELECT * FROM tasks WHERE service=? AND origin=? AND key_fp=? AND kind=? "
            "AND input_key=? AND status IN ('completed', 'pending', 'running') "
            "ORDER BY (status='completed') DESC, created_at DESC LIMIT 1",
            (service, origin, key_fp, kind, input_key(kind, task_input)))
        return to_task(rows[0]) if rows else None

    def unfinished(self, service: str, origin: str, key_fp: str) -> list[Task]:
        rows = self._query(
            "SELECT * FROM tasks WHERE service=? AND origin=? AND key_fp=? "
            "AND status IN ('pending', 'running') ORDER BY created_at", (service, origin, key_fp))
        return [to_task(r) for r in rows]

    def rows(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM tasks ORDER BY created_at")


def to_task(row: dict[str, Any]) -> Task:
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
    path = default_path() if journal in (None, True) else Path(journal)  # type: ignore[arg-type]
    key = str(path.expanduser().resolve())
    with _open_lock:
        if key not in _open:
            _open[key] = Journal(path)
        return _open[key]


def discard(path: str | os.PathLike[str]) -> None:
    """Close and delete a journal file (the sandbox's own, when the sandbox stops)."""
    key = str(Path(path).expanduser().resolve())
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
