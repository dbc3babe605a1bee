"""The Task every service's create methods return, and the one status vocabulary."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Status(str, enum.Enum):
    """kit's status, the same for every service (the service's own word is ``Task.service_status``)."""

    QUEUED = "queued"  # a job's input not sent yet
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # a create whose answer was lost: the task may exist, kit cannot tell

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    def __str__(self) -> str:
        return self.value


_FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.EXPIRED, Status.UNKNOWN})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(eq=False)
class Task:
    """One unit of work at a service.

    ``input`` is what was asked (``{"profile_slug": ...}``), ``output`` the result once
    ``status`` is ``COMPLETED``, ``error`` the service's reason when the task failed, expired or
    was rejected; ``note`` is kit's own remark (kit stopped waiting, the last read failed, the
    task awaits confirmation).  ``id`` is ``None`` only for an input that has no task (refused,
    not sent yet, or lost), so that every input still has its row.
    """

    service: str
    id: str | None
    kind: str
    status: Status = Status.PENDING
    service_status: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    error: str | None = None
    note: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def done(self) -> bool:
        return self.status.is_final

    def __repr__(self) -> str:
        extra = f", error={self.error!r}" if self.error else ""
        extra += f", note={self.note!r}" if self.note else ""
        return (
            f"Task(service={self.service!r}, kind={self.kind!r}, id={self.id!r}, "
            f"status={self.status.value!r}{extra})"
        )


def rejected(service: str, kind: str, task_input: dict[str, Any], error: str) -> Task:
    """The task of an input the service refused (or that could not be sent): a row, not a gap."""
    return Task(service=service, id=None, kind=kind, status=Status.FAILED, input=task_input,
                error=error)


# A task id a service gave: used in URL paths and queries, so nothing that could change the
# path's meaning ("", ".", "..", slashes) is accepted from a service.
_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def valid_task_id(value: Any) -> str | None:
    """``value`` as a task id if it can be one, else None."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if _TASK_ID.match(text) and text not in (".", "..") else None
