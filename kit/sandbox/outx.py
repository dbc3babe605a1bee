"""The OutX LinkedIn agent, as the sandbox serves it (contract: shared/api/CONTRACTS.md §1)."""

from __future__ import annotations

import random
import uuid
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

Delay = Callable[[random.Random], float]


def triangular(low: float, mode: float, high: float) -> Delay:
    """Completion delays shaped like the docs' '10-60 s, most early'."""
    return lambda rng: rng.triangular(low, high, mode)


@dataclass
class Team:
    name: str
    key: str = field(repr=False)
    extension: bool = True  # a member runs the Chrome extension
    admin: bool = True  # like/comment need an admin user with a LinkedIn account


@dataclass
class OutXConfig:
    delay: Delay = field(default_factory=lambda: triangular(10, 20, 60))
    reject: set[str] = field(default_factory=set)  # slugs answered with 400
    stuck: set[str] = field(default_factory=set)  # slugs whose task never completes


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status)


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
            due = None if stuck else self.clock.now() + max(0.0, self.config.delay(self.rng))
            self.tasks[task_id] = {"team": team.name, "kind": kind, "input": task_input,
                                   "due": due, "created": self.clock.now()}
            self.creates[(kind, value)] += 1
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
        done = task["due"] is not None and self.clock.now() >= task["due"]
        return web.json_response({
            "success": True,
            "data": {
                "id": task_id,
                "status": "completed" if done else "pending",
                "task_input": task["input"],
                "task_output": self.ground_truth(task["kind"], task["input"]) if done else None,
            },
        })

    def completion_times(self) -> list[float]:
        """Service-time instants at which tasks complete (for the benchmark's physical limit)."""
        return [t["due"] for t in self.tasks.values() if t["due"] is not None]
