"""The Task every service's create methods return, and the one status vocabulary."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Status(str, enum.Enum):
    """kit's status, the same for every service (the service's own word is ``Task.service_status``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    def __str__(self) -> str:
        return self.value


_FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.EXPIRED})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(eq=False)
class Task:
    """One unit of work at a service.

    ``input`` is what was asked (``{"profile_slug": ...}``), ``output`` the result once
    ``status`` is ``COMPLETED``, ``error`` a readable reason when the task failed, expired, was
    rejected or was not finished when kit stopped waiting.  ``id`` is ``None`` only for an input
    the service rejected, so that every input still has its task and its row.
    """

    service: str
    id: str | None
    kind: str
    status: Status = Status.PENDING
    service_status: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def done(self) -> bool:
        return self.status.is_final

    def __repr__(self) -> str:
        extra = f", error={self.error!r}" if self.error else ""
        return (
            f"Task(service={self.service!r}, kind={self.kind!r}, id={self.id!r}, "
            f"status={self.status.value!r}{extra})"
        )
