"""What the engine knows about a service: one frozen value per service, all data, no behaviour.

A service module (kit/services/*.py) states its spec; the engine reads it.  Changing how a
service authenticates, retries, polls or is paced is a change of data here, not of code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .pace import Pace
from .policy import PollSchedule, RetryPolicy


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # "outx": also the prefix of its environment variables (OUTX_API_KEY)
    label: str  # "OutX", for messages
    origin: str
    schedule: PollSchedule
    # How the key travels: the header's name and what comes before the key in it.
    auth_header: str
    auth_prefix: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # A 429 is retried unless it carries a code outside this set (None: every 429 is retried).
    # Linkup's 429s mean four things; only TOO_MANY_REQUESTS asks to slow down and retry.
    retry_429_codes: frozenset[str] | None = None
    max_connections: int = 20
    poll_concurrency: int = 16
    # No bulk read: learn from the batch when its tasks finish (see kit.core.learning).
    learn: bool = False
    # The budget of creates kept in the journal across processes (OutX: LinkedIn actions).
    pace: Pace | None = None
    # How many queued inputs a job sends in one request (Linkup: 100 per POST), and how many
    # such requests may be under way at once (the pace and the endpoint's rate still apply).
    batch_size: int = 1
    send_concurrency: int = 8
    # Service seconds the service's task list may take to show a create (a list can lag):
    # after a kill, a create it does not show is looked for again after that long, then left
    # 'may exist'.  None: no list to look a create up in (OutX).
    list_settles: float | None = None
    # Requests one sender claims ahead when no pace holds it back (sent concurrently).
    claim_ahead: int = 1
    # Who picks a created task up, when the action happens then (OutX: "your team's OutX
    # Chrome extension"): a pending task is waiting for it, not late, and the pace's
    # ``pending`` limit holds the next create back while the team's tasks wait.  None: the
    # service works a task as soon as it is created.
    worker: str | None = None
    worker_hint: str = ""  # what to check when the worker takes nothing
    # Each create kind's action kind, counted against the pace's caps per kind (OutX:
    # "fetch-profile" is a "profile_visit").
    actions: Mapping[str, str] = field(default_factory=dict)

    def action_of(self, kind: str) -> str:
        """The action kind a create of ``kind`` counts as (``""``: only the shared windows)."""
        return self.actions.get(kind, "")
