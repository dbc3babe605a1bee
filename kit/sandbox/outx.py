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
* **The browser is not always open.**  A team's extensions work only while it is online: never
  inside ``OutXConfig.away`` (service-second spans, every team), nor in the nightly
  ``OutXConfig.night`` (start hour, hours; service day 0 starts at the sandbox's start), nor
  while switched off at run time (:meth:`OutXSandbox.set_online`).  A task created meanwhile
  waits, ``pending``; one under way when the browser closes is finished.
* **Flagging counts what LinkedIn sees: executions** (the instant an extension starts a task),
  not creates.  OutX says bursts get the LinkedIn account flagged, and publishes only "~50
  LinkedIn actions per hour, spread out"; the thresholds here are a *model*, not OutX's rule: an
  execution that takes a team's executions above ``flag_per_minute`` in the last 60 service
  seconds, above ``flag_per_hour`` in the last 3600, or a kind's above ``flag_per_day[kind]`` in
  the last day, flags the team for ``flag_seconds`` from it (one while flagged does not extend
  the flag).  While flagged, the team's extensions start no task: later tasks start at the flag's
  end at the earliest.  Creates are still accepted while flagged.
* **Failing inputs.**  A fetch-profile task for an ``unavailable`` slug is worked like any other
  and ends ``failed`` with ``{"error": "Profile not available: ..."}``.
"""

from __future__ import annotations

import heapq
import json
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

TASK_TYPES = {  # the first five are documented; the others are a guess (CONTRACTS.md §1)
    "fetch-profile": "agent_profile_fetch",
    "fetch-profiles-posts": "agent_profiles_tracking",
    "like-post": "agent_like_post",
    "comment-post": "agent_comment_post",
    "send-message": "agent_send_message",
    "fetch-company": "agent_company_fetch",
    "fetch-company-posts": "agent_company_posts_fetch",
    "search-profiles": "agent_profiles_search",
    "fetch-connections": "agent_connections_fetch",
    "send-connection-request": "agent_connection_request",
}
# The field the config's reject/stuck sets name a task by.
SUBJECTS = {"fetch-profile": "profile_slug", "fetch-company": "company_slug",
            "fetch-company-posts": "company_slug", "like-post": "social_urn",
            "comment-post": "social_urn", "send-message": "recipient_urn",
            "send-connection-request": "profile_urn"}
# Done as the team's oldest admin: a team without one gets 404 "No admin user found".
ADMIN_ACTIONS = {"like-post", "comment-post", "send-message", "send-connection-request",
                 "fetch-connections"}
SEARCH_FIELDS = {"keywords": str, "title": str, "company": str, "first_name": str,
                 "last_name": str, "school": str, "geo_urn": list, "current_company": list,
                 "industry": list, "past_company": list, "profile_language": list}

UNAVAILABLE = {"error": "Profile not available: the LinkedIn account running the extension cannot "
                        "see this profile"}
NOT_CONNECTED = {"error": "Message not sent: the recipient is not a 1st-degree connection"}

Delay = Callable[[random.Random], float]
DAY = 86400.0
# The per-kind daily flagging model: executions in a rolling day beyond these flag the team.
FLAG_PER_DAY = {"fetch-profile": 150, "like-post": 60, "comment-post": 60, "send-message": 100,
                "send-connection-request": 50}


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
    strangers: set[str] = field(default_factory=set)  # URNs a message to fails (not 1st-degree)
    invitation_cap: int = 100  # connection requests per team before LinkedIn's cap (429)
    extensions: int = 4  # active Chrome extensions per team (workers)
    flagging: bool = True  # the burst model below (False: never flagged)
    flag_per_minute: int = 10  # more executions than this in 60 service s flag the team
    flag_per_hour: int = 120  # more executions than this in 3600 service s flag the team
    flag_seconds: float = 21600.0  # how long a flag lasts (service s)
    # Executions of one kind in a rolling service day that flag the team (LinkedIn's own caps, a
    # model: above what careful tools keep to).  None: no per-kind model.
    flag_per_day: dict[str, int] | None = field(default_factory=lambda: dict(FLAG_PER_DAY))
    away: list[tuple[float, float]] = field(default_factory=list)  # browsers closed [start, end)
    night: tuple[float, float] | None = None  # (start hour, hours): browsers closed nightly
    # Draw each task's duration from its own input (seed, kind, subject) instead of the shared
    # stream, so that it does not depend on the order tasks arrive in (the benchmark's limit).
    durations_by_input: bool = False

    def __post_init__(self) -> None:
        if self.extensions < 0:
            raise ValueError("extensions must be 0 or more")


@dataclass
class _Crew:
    """One team's workers: when each extension is free, its flags, its creates, its
    executions, its queue, and when its browsers were switched off."""

    free: list[float]  # a heap: the time each extension is next free
    flags: list[tuple[float, float]] = field(default_factory=list)  # [start, end), in order
    creates: list[float] = field(default_factory=list)  # every create's service time, sorted
    starts: list[float] = field(default_factory=list)  # every execution's time, sorted
    kinds: dict[str, list[float]] = field(default_factory=dict)  # executions per kind, sorted
    queue: list[str] = field(default_factory=list)  # ids of the tasks that will run, in order
    offline: list[list[float]] = field(default_factory=list)  # [start, end) switched off


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _urn(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("urn:li:") and len(value) > 10


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def task_input(kind: str, body: dict[str, Any]) -> dict[str, Any] | str:
    """The task_input OutX stores for a create's body, or the name of the field it refuses."""
    if kind == "fetch-profile":
        fields = {"profile_slug": body.get("profile_slug")}
        bad = [] if _nonempty(fields["profile_slug"]) else ["profile_slug"]
    elif kind == "fetch-profiles-posts":
        urns = body.get("profile_urns")
        fields = {"profile_urns": urns}
        bad = [] if isinstance(urns, list) and urns and all(map(_urn, urns)) else ["profile_urns"]
    elif kind in ("fetch-company", "fetch-company-posts"):
        fields = {"company_slug": body.get("company_slug")}
        bad = [] if _nonempty(fields["company_slug"]) else ["company_slug"]
    elif kind in ("like-post", "comment-post"):
        fields = {"social_urn": body.get("social_urn")}
        bad = [] if _urn(fields["social_urn"]) else ["social_urn"]
        if kind == "comment-post":
            fields["comment_text"] = body.get("comment_text")
            bad += [] if _nonempty(fields["comment_text"]) else ["comment_text"]
    elif kind == "send-message":
        fields = {"recipient_urn": body.get("recipient_urn"), "message": body.get("message")}
        bad = [] if _urn(fields["recipient_urn"]) else ["recipient_urn"]
        message = fields["message"]
        bad += [] if _nonempty(message) and len(str(message)) <= 10_000 else ["message"]
    elif kind == "send-connection-request":
        fields = {"profile_urn": body.get("profile_urn")}
        bad = [] if _urn(fields["profile_urn"]) else ["profile_urn"]
        if body.get("note") is not None:
            fields["note"] = body["note"]
            bad += [] if isinstance(body["note"], str) and len(body["note"]) <= 300 else ["note"]
    elif kind == "search-profiles":
        fields = {k: v for k, v in body.items() if k in SEARCH_FIELDS and v not in (None, "", [])}
        bad = [k for k, v in fields.items() if not isinstance(v, SEARCH_FIELDS[k])]
        if not fields:
            bad.append("keywords")  # "at least one filter"
        count = body.get("count", 25)
        fields["count"] = count
        bad += [] if isinstance(count, int) and 1 <= count <= 50 else ["count"]
    else:  # fetch-connections: every field optional
        fields = {"keyword": body.get("keyword"), "sort_type": body.get("sort_type"),
                  "start": body.get("start", 0), "count": body.get("count", 40)}
        bad = [] if isinstance(fields["start"], int) and fields["start"] >= 0 else ["start"]
        bad += [] if isinstance(fields["count"], int) and 1 <= fields["count"] <= 100 else ["count"]
    if bad:
        return bad[0]
    return {"task_type": TASK_TYPES[kind], **{k: v for k, v in fields.items() if v is not None}}


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

    def routes(self) -> list[web.RouteDef]:
        return [
            *(web.post(f"/linkedin-agent/{kind}", self._creator(kind)) for kind in TASK_TYPES),
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
            return _error(403, "Plugin installation required: install the OutX Chrome extension "
                               "to use this endpoint. The plugin must have been active within "
                               "the last 48 hours.")
        return team

    def ground_truth(self, kind: str, task_input: dict[str, Any]) -> dict[str, Any]:
        """The output of a completed task (shapes beyond fetch-profile are a guess: CONTRACTS.md)."""
        seed = self.seed
        if kind == "fetch-profile":
            return people.profile(task_input["profile_slug"], seed)
        if kind == "fetch-profiles-posts":
            return {"posts": [post for urn in task_input["profile_urns"]
                              for post in people.profile_posts(urn, seed)]}
        if kind == "fetch-company":
            return people.company(task_input["company_slug"], seed)
        if kind == "fetch-company-posts":
            return {"company_slug": task_input["company_slug"],
                    "posts": people.company_posts(task_input["company_slug"], seed)}
        if kind == "search-profiles":
            return {"profiles": people.search(task_input, seed)}
        if kind == "fetch-connections":
            return {"connections": people.connections(task_input.get("keyword"),
                                                      task_input["start"], task_input["count"],
                                                      seed)}
        if kind in ("send-message", "send-connection-request"):
            return {"sent": True}
        if kind == "like-post":
            return {"liked": True, "social_urn": task_input["social_urn"]}
        return {"commented": True, "social_urn": task_input["social_urn"],
                "comment_text": task_input["comment_text"]}

    def _failure(self, kind: str, task_input: dict[str, Any]) -> dict[str, Any] | None:
        """The output of a task that will fail, or None."""
        if kind == "fetch-profile" and task_input["profile_slug"] in self.config.unavailable:
            return dict(UNAVAILABLE)
        if kind == "send-message" and task_input["recipient_urn"] in self.config.strangers:
            return dict(NOT_CONNECTED)
        return None

    # -- the worker model ------------------------------------------------------------------
    def duration_of(self, kind: str, value: str) -> float:
        """The work a new task of ``kind`` on ``value`` (its subject) takes, in service seconds:
        the next draw of the shared stream, or with ``durations_by_input`` a draw of its own."""
        rng = (random.Random(f"{self.seed}:outx:{kind}:{value}") if self.config.durations_by_input
               else self.rng)
        return max(0.0, self.config.delay(rng))

    def _crew(self, team: str) -> _Crew:
        if team not in self.crews:
            self.crews[team] = _Crew(free=[-math.inf] * self.config.extensions)
        return self.crews[team]

    def _flagged_at(self, crew: _Crew, t: float) -> bool:
        return any(start <= t < end for start, end in crew.flags)

    def _closed(self, crew: _Crew) -> list[tuple[float, float]]:
        """The spans when the team's browsers are closed, besides the nightly pattern."""
        return [*self.config.away, *((start, end) for start, end in crew.offline)]

    def online_from(self, crew: _Crew, t: float) -> float:
        """The first instant from ``t`` at which the team's extensions work (online, not
        flagged)."""
        night = self.config.night
        for _ in range(10_000):
            start = t
            for begin, end in (*self._closed(crew), *crew.flags):
                if begin <= t < end:
                    t = end
            if math.isinf(t):  # switched off until further notice
                return t
            if night is not None:
                begin = night[0] * 3600.0
                day = math.floor((t - begin) / DAY)
                into = t - begin - day * DAY
                if into < night[1] * 3600.0:  # inside a night: the next morning
                    t = begin + day * DAY + night[1] * 3600.0
            if t == start:
                return t
        return t  # pragma: no cover

    def _place(self, crew: _Crew, task: dict[str, Any]) -> None:
        """Give ``task`` (the next in ``crew``'s queue) to the first free extension, at the first
        instant the team is online; its execution may flag the team."""
        if not crew.free:  # no extension: nothing ever starts
            task["start"] = task["due"] = None
            return
        start = self.online_from(crew, max(task["created"], heapq.heappop(crew.free)))
        if math.isinf(start):  # switched off until further notice
            task["start"] = task["due"] = None
            heapq.heappush(crew.free, start)
            return
        task["start"], task["due"] = start, start + task["duration"]
        heapq.heappush(crew.free, task["due"])
        insort(crew.starts, start)
        insort(crew.kinds.setdefault(task["kind"], []), start)
        self._count_execution(crew, task["kind"], start)

    def _reschedule(self, crew: _Crew) -> None:
        """Place the team's tasks again from the first (after the browser was switched on or
        off).  The past is placed as it was; what changed starts now."""
        crew.free = [-math.inf] * self.config.extensions
        crew.flags, crew.starts, crew.kinds = [], [], {}
        for task_id in crew.queue:
            self._place(crew, self.tasks[task_id])

    def _count_execution(self, crew: _Crew, kind: str, t: float) -> None:
        """An extension starts a task at ``t``: flag the team if that takes it over the model."""
        cfg = self.config
        if not cfg.flagging or self._flagged_at(crew, t):
            return
        def inside(times: list[float], width: float) -> int:
            return bisect_right(times, t) - bisect_right(times, t - width)
        over = (inside(crew.starts, 60.0) > cfg.flag_per_minute
                or inside(crew.starts, 3600.0) > cfg.flag_per_hour
                or inside(crew.kinds[kind], DAY) > (cfg.flag_per_day or {}).get(kind, math.inf))
        if over:
            crew.flags.append((t, t + cfg.flag_seconds))

    def set_online(self, team: str, online: bool) -> None:
        """Switch a team's browsers off (``False``: its extensions pick nothing up from now on)
        or on again.  Tasks not started yet are placed again."""
        crew = self._crew(team)
        now = self.clock.now()
        if not online and not (crew.offline and math.isinf(crew.offline[-1][1])):
            crew.offline.append([now, math.inf])
        elif online and crew.offline and math.isinf(crew.offline[-1][1]):
            crew.offline[-1][1] = now
        self._reschedule(crew)

    @property
    def flagged(self) -> set[str]:
        """Teams whose executions flagged them (the schedule's, at any time)."""
        return {team for team, crew in self.crews.items() if crew.flags}

    def status_of(self, task: dict[str, Any], now: float | None = None) -> str:
        now = self.clock.now() if now is None else now
        if task["start"] is None or now < task["start"]:
            return "pending"
        if now < task["due"]:
            return "processing"
        return "failed" if task["failure"] else "completed"

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
            fields = task_input(kind, body)
            if isinstance(fields, str):
                return _error(400, f"Missing or invalid '{fields}'")
            subject = SUBJECTS.get(kind)
            # One input per distinct request (the fault tests count creates per input).
            value = (str(fields.get(subject, "")) if subject
                     else json.dumps(fields, sort_keys=True))
            if subject and value in self.config.reject:
                return _error(400, f"Missing or invalid '{subject}'")
            if kind in ADMIN_ACTIONS and not team.admin:
                return _error(404, "No admin user found in the team")
            if kind == "send-connection-request":
                sent = sum(1 for t in self.tasks.values()
                           if t["team"] == team.name and t["kind"] == kind)
                if sent >= self.config.invitation_cap:
                    return _error(429, "LinkedIn invitation limit reached for this account")
            task_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            stuck = value in self.config.stuck
            now = self.clock.now()
            task = {"team": team.name, "kind": kind, "input": fields, "created": now,
                    "duration": None if stuck else self.duration_of(kind, value),
                    "failure": self._failure(kind, fields), "start": None, "due": None}
            self.tasks[task_id] = task
            self.creates[(kind, value)] += 1
            crew = self._crew(team.name)
            insort(crew.creates, now)
            if not stuck:
                crew.queue.append(task_id)
                self._place(crew, task)
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
        output = (task["failure"] if status == "failed"
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

    def max_creates(self, window: float) -> int:
        """The most creates of any one team in any rolling ``window`` service seconds."""
        return max((_max_in_window(c.creates, window) for c in self.crews.values()), default=0)

    def max_actions(self, window: float, kind: str | None = None) -> int:
        """The most executions (what LinkedIn sees: an extension starting a task) of any one
        team in any rolling ``window`` service seconds, so far; of one ``kind`` if given."""
        now = self.clock.now()
        return max((_max_in_window([t for t in (c.starts if kind is None else c.kinds.get(kind, []))
                                    if t <= now], window)
                    for c in self.crews.values()), default=0)

    def created_offline(self) -> int:
        """Tasks created while their team's browser was closed (or the team flagged): a backlog
        its extension works when it comes back."""
        count = 0
        for task in self.tasks.values():
            crew = self.crews.get(task["team"])
            if crew is not None and self.online_from(crew, task["created"]) > task["created"]:
                count += 1
        return count

    def executions(self) -> Counter[str]:
        """Executions so far per kind (every team)."""
        now = self.clock.now()
        counts: Counter[str] = Counter()
        for crew in self.crews.values():
            for kind, times in crew.kinds.items():
                counts[kind] += bisect_right(times, now)
        return counts
