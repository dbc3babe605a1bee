"""The OutX LinkedIn agent, as the sandbox serves it (contract: shared/api/CONTRACTS.md §1).

The model of the work behind a task (deterministic, computed when a task is created; no
background coroutine):

* **Extensions as workers.**  Each team has ``OutXConfig.extensions`` active Chrome extensions.
  A team's tasks are picked up in creation order; an extension works on one task at a time, for a
  duration drawn from ``OutXConfig.delay`` with the seeded rng at creation.  A task's
  ``start = max(created, the earliest time one of the team's extensions is free)`` and
  ``due = start + duration``; its status is ``pending`` before ``start``, ``processing`` until
  ``due``, then ``completed`` (or ``failed``).  ``stuck`` slugs never start (and hold no
  extension); with ``extensions=0`` (browsers closed) no task ever starts.
* **Flagging.**  OutX says bursts get the LinkedIn account flagged, and publishes only "~50
  LinkedIn actions per hour, spread out".  The thresholds here are a *model*, not OutX's rule: a
  create that takes a team's creates above ``flag_per_minute`` in the last 60 service seconds, or
  above ``flag_per_hour`` in the last 3600, flags the team for ``flag_seconds`` from that create
  (a create while already flagged does not extend the flag).  While flagged, the team's extensions
  start no task: every task not yet started is rescheduled (same drawn duration) to start at the
  flag's end at the earliest.  Creates are still accepted while flagged.
* **Failing inputs.**  A fetch-profile task for an ``unavailable`` slug is worked like any other
  and ends ``failed`` with ``{"error": "Profile not available: ..."}``.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import people
from .clock import Clock

TASK_TYPES = {
    "fetch-profile": "agent_profile_fetch",
    "fetch-posts": "agent_profiles_tracking",
    "like-post": "agent_like_post",
    "comment-post": "agent_comment_post",
}

UNAVAILABLE = {"error": "Profile not available: the LinkedIn account running the extension cannot "
                        "see this profile"}

Delay = Callable[[random.Random], float]


def triangular(low: float, mode: float, high: float) -> Delay:
    """Work durations shaped like the docs' '10-60 s, most early'."""
    return lambda rng: rng.triangular(low, high, mode)


@dataclass
class Team:
    name: str
    key: str = field(repr=False)
    extension: bool = True  # a member runs the Chrome extension
    admin: bool = True  # like/comment need an admin user with a LinkedIn account


@dataclass
class OutXConfig:
    delay: Delay = field(default_factory=lambda: triangular(10, 20, 60))  # one task's work
    reject: set[str] = field(default_factory=set)  # slugs answered with 400
    stuck: set[str] = field(default_factory=set)  # slugs whose task never starts
    unavailable: set[str] = field(default_factory=set)  # fetch-profile slugs whose task fails
    extensions: int = 4  # active Chrome extensions per team (workers)
    flagging: bool = True  # the burst model below (False: never flagged)
    flag_per_minute: int = 10  # more creates than this in 60 service s flag the team
    flag_per_hour: int = 120  # more creates than this in 3600 service s flag the team
    flag_seconds: float = 21600.0  # how long a flag lasts (service s)

    def __post_init__(self) -> None:
        if self.extensions < 0:
            raise ValueError("extensions must be 0 or more")


@dataclass
class _Crew:
    """One team's workers: when each extension is free, its flags, its creates, its queue."""

    free: list[float]  # a heap: the time each extension is next free
    flags: list[tuple[float, float]] = field(default_factory=list)  # [start, end), in order
    creates: list[float] = field(default_factory=list)  # every create's service time, sorted
    queue: list[str] = field(default_factory=list)  # ids of the tasks that will run, in order


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status)


def _max_in_window(times: list[float], width: float) -> int:
    """The most of ``times`` (sorted) in any window ``(t - width, t]``."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class OutXSandbox:
    def __init__(self, clock: Clock, teams: list[Team], config: OutXConfig, seed: int) -> None:
        self.clock = clock
        self.teams = {t.key: t for t in teams}
        self.config = config
        self.seed = seed
        self.rng = random.Random(seed)
        self.tasks: dict[str, dict[str, Any]] = {}
        # How many tasks each input created: the fault tests' "at most one create per input".
        self.creates: Counter[tuple[str, str]] = Counter()
        self.crews: dict[str, _Crew] = {}
        self.flagged: set[str] = set()  # teams ever flagged

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/linkedin-agent/fetch-profile", self._creator("fetch-profile")),
            web.post("/linkedin-agent/fetch-posts", self._creator("fetch-posts")),
            web.post("/linkedin-agent/like-post", self._creator("like-post")),
            web.post("/linkedin-agent/comment-post", self._creator("comment-post")),
            web.get("/linkedin-agent/get-task-status", self.get_task_status),
        ]

    # -- helpers ---------------------------------------------------------------------------
    def _team(self, request: web.Request) -> Team | web.Response:
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401, "Missing API Key")
        team = self.teams.get(key)
        if team is None:
            return _error(401, "Invalid API Key")
        if not team.extension:
            return _error(403, "Plugin installation required: no member of your team has an "
                               "active OutX Chrome extension")
        return team

    def ground_truth(self, kind: str, task_input: dict[str, Any]) -> dict[str, Any]:
        if kind == "fetch-profile":
            return people.profile(task_input["profile_slug"], self.seed)
        if kind == "fetch-posts":
            return people.posts(task_input["profile_slug"], self.seed)
        if kind == "like-post":
            return {"liked": True, "social_urn": task_input["social_urn"]}
        return {"commented": True, "social_urn": task_input["social_urn"],
                "comment_text": task_input["comment_text"]}

    # -- the worker model ------------------------------------------------------------------
    def _crew(self, team: str) -> _Crew:
        if team not in self.crews:
            self.crews[team] = _Crew(free=[-math.inf] * self.config.extensions)
        return self.crews[team]

    def _flagged_at(self, crew: _Crew, t: float) -> bool:
        return any(start <= t < end for start, end in crew.flags)

    def _place(self, crew: _Crew, task: dict[str, Any]) -> None:
        """Give ``task`` (the next in ``crew``'s queue) to the first free extension."""
        if not crew.free:  # no extension: nothing ever starts
            task["start"] = task["due"] = None
            return
        start = max(task["created"], heapq.heappop(crew.free))
        for flag_start, flag_end in crew.flags:  # sorted, disjoint
            if flag_start <= start < flag_end:
                start = flag_end
        task["start"], task["due"] = start, start + task["duration"]
        heapq.heappush(crew.free, task["due"])

    def _reschedule(self, crew: _Crew) -> None:
        """Place the team's tasks again from the first (after a new flag).  Starts only grow
        along the queue, so tasks started before the flag keep their start and due."""
        crew.free = [-math.inf] * self.config.extensions
        for task_id in crew.queue:
            self._place(crew, self.tasks[task_id])

    def _count_create(self, team: str, crew: _Crew, now: float) -> bool:
        """Record a create at ``now``; True when it flags the team."""
        insort(crew.creates, now)
        cfg = self.config
        if not cfg.flagging or self._flagged_at(crew, now):
            return False
        last_minute = len(crew.creates) - bisect_right(crew.creates, now - 60.0)
        last_hour = len(crew.creates) - bisect_right(crew.creates, now - 3600.0)
        if last_minute <= cfg.flag_per_minute and last_hour <= cfg.flag_per_hour:
            return False
        crew.flags.append((now, now + cfg.flag_seconds))
        self.flagged.add(team)
        return True

    def status_of(self, task: dict[str, Any], now: float | None = None) -> str:
        now = self.clock.now() if now is None else now
        if task["start"] is None or now < task["start"]:
            return "pending"
        if now < task["due"]:
            return "processing"
        return "failed" if task["fails"] else "completed"

    # -- handlers --------------------------------------------------------------------------
    def _creator(self, kind: str):
        async def create(request: web.Request) -> web.Response:
            team = self._team(request)
            if isinstance(team, web.Response):
                return team
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {}
            field_name = "profile_slug" if kind in ("fetch-profile", "fetch-posts") else "social_urn"
            value = body.get(field_name)
            if not isinstance(value, str) or not value.strip() or value in self.config.reject:
                return _error(400, f"Missing or invalid '{field_name}'")
            task_input: dict[str, Any] = {"task_type": TASK_TYPES[kind], field_name: value}
            if kind == "comment-post":
                text = body.get("comment_text")
                if not isinstance(text, str) or not text.strip():
                    return _error(400, "Missing or invalid 'comment_text'")
                task_input["comment_text"] = text
            if kind in ("like-post", "comment-post") and not team.admin:
                return _error(404, "No admin user found in the team")
            task_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            stuck = value in self.config.stuck
            now = self.clock.now()
            task = {"team": team.name, "kind": kind, "input": task_input, "created": now,
                    "duration": None if stuck else max(0.0, self.config.delay(self.rng)),
                    "fails": kind == "fetch-profile" and value in self.config.unavailable,
                    "start": None, "due": None}
            self.tasks[task_id] = task
            self.creates[(kind, value)] += 1
            crew = self._crew(team.name)
            flags = self._count_create(team.name, crew, now)
            if not stuck:
                crew.queue.append(task_id)
                if flags:
                    self._reschedule(crew)
                else:
                    self._place(crew, task)
            elif flags:
                self._reschedule(crew)
            return web.json_response({
                "success": True,
                "api_agent_task_id": task_id,
                "message": f"{kind.replace('-', ' ').capitalize()} task created successfully",
            })

        return create

    async def get_task_status(self, request: web.Request) -> web.Response:
        team = self._team(request)
        if isinstance(team, web.Response):
            return team
        task_id = request.query.get("api_agent_task_id")
        if not task_id:
            return _error(400, "Missing or invalid 'api_agent_task_id'")
        task = self.tasks.get(task_id)
        if task is None or task["team"] != team.name:
            return _error(404, "Agent task not found")
        status = self.status_of(task)
        output = (dict(UNAVAILABLE) if status == "failed"
                  else self.ground_truth(task["kind"], task["input"]) if status == "completed"
                  else None)
        return web.json_response({
            "success": True,
            "data": {"id": task_id, "status": status, "task_input": task["input"],
                     "task_output": output},
        })

    # -- counting (stats, tests, the benchmark) -------------------------------------------
    def completion_times(self) -> list[float]:
        """Service-time instants at which tasks complete or fail (for the benchmark's physical
        limit); tasks that never start are left out."""
        return [t["due"] for t in self.tasks.values() if t["due"] is not None]

    def schedule(self) -> dict[str, dict[str, Any]]:
        """Per task id, in creation order: ``created``, ``start`` and ``due`` (service time;
        ``None`` for a task that never starts), ``team`` and ``status_final`` (``completed``,
        ``failed``, or ``pending`` for a task that never starts)."""
        return {task_id: {"created": t["created"], "start": t["start"], "due": t["due"],
                          "team": t["team"],
                          "status_final": self.status_of(t, math.inf)}
                for task_id, t in self.tasks.items()}

    def processing(self) -> int:
        """How many tasks an extension is working on now."""
        now = self.clock.now()
        return sum(1 for t in self.tasks.values() if self.status_of(t, now) == "processing")

    def max_actions(self, window: float) -> int:
        """The most creates of any one team in any rolling ``window`` service seconds."""
        return max((_max_in_window(c.creates, window) for c in self.crews.values()), default=0)
