"""Linkup's task API, as the sandbox serves it (contract: shared/api/CONTRACTS.md §2)."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from .clock import Clock
from .people import COMPANIES, rng_for

# Service seconds a task takes, by type (and search depth): the public figures.
DURATIONS = {
    ("search", "flash"): (0.2, 0.8),  # inferred: faster than fast
    ("search", "fast"): (0.5, 1.5),
    ("search", "standard"): (1.0, 3.0),
    ("search", "deep"): (5.0, 30.0),
    ("fetch", None): (1.0, 5.0),
    ("research", None): (120.0, 1200.0),
    ("extract", None): (1.0, 5.0),  # only planted (add_task): the tasks API refuses to create one
}
QUEUE_DELAY = (0.1, 0.5)  # pending -> processing
DOMAINS = ["reuters.com", "bloomberg.com", "nature.com", "wikipedia.org", "ft.com", "arxiv.org",
           "who.int", "worldbank.org", "theguardian.com", "sec.gov", "nytimes.com", "oecd.org"]


@dataclass
class LinkupAccount:
    name: str
    key: str = field(repr=False)
    credits: float = 1_000_000.0  # tasks it can still pay for
    budget_exceeded: bool = False


@dataclass
class LinkupConfig:
    queue_limit: int = 500  # tasks in flight (pending + processing) per account
    fail: set[str] = field(default_factory=set)  # queries / URLs whose task fails
    requests_per_second: float = 50.0  # TOO_MANY_REQUESTS above this, per account (service time)
    # Draw each task's queue delay and duration from its own (type, input) instead of the shared
    # stream, so that they do not depend on the order tasks arrive in (the benchmark's limit).
    durations_by_input: bool = False
    # Service seconds before a new task shows in the task list (an eventually consistent list;
    # a task read by id is there at once).
    list_lag: float = 0.0


def _error(status: int, code: str, message: str, details: list | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message,
                                        "details": details or []}}, status=status)


TYPES = ("search", "fetch", "research")
NOT_CREATABLE = ("extract",)  # a Linkup task type the tasks API answers 403 to
ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "search": {"depth": ("flash", "fast", "standard", "deep"),
               "outputType": ("searchResults", "sourcedAnswer", "structured")},
    "research": {"outputType": ("sourcedAnswer", "structured"),
                 "mode": ("answer", "auto", "investigate", "research"),
                 "reasoningDepth": ("S", "M", "L", "XL")},
    "fetch": {"mode": ("standard", "pro")},
}
# The input as the service echoes it: every field, defaults filled in (inferred where the
# contract says "…": maxResults' default and the nulls of optional fields).
ECHOED: dict[str, dict[str, Any]] = {
    "search": {"q": None, "depth": "standard", "outputType": "sourcedAnswer",
               "structuredOutputSchema": None, "includeImages": False, "includeDomains": None,
               "excludeDomains": None, "fromDate": None, "toDate": None, "maxResults": 10,
               "includeInlineCitations": False, "includeSources": False},
    "fetch": {"url": None, "renderJs": False, "includeRawHtml": False,
              "includeRawContent": False, "extractImages": False, "mode": "standard",
              "schema": None, "instructions": None},
    "research": {"q": None, "outputType": "sourcedAnswer", "structuredOutputSchema": None,
                 "mode": None, "reasoningDepth": None, "fromDate": None, "toDate": None,
                 "includeDomains": None, "excludeDomains": None},
}
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ].+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _day(value: Any) -> str | None:
    """The date of ``YYYY-MM-DD`` or of a full ISO datetime (which the service trims)."""
    found = _DAY.match(value) if isinstance(value, str) else None
    if found is None:
        return None
    try:
        if found.group(2):
            datetime.fromisoformat(value)
        return datetime.strptime(found.group(1), "%Y-%m-%d").date().isoformat()
    except ValueError:
        return None


def _schema(value: Any) -> dict[str, Any] | None:
    """A JSON schema object, from the string clients send (or an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def normalized(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The input as the service keeps and echoes it: defaults filled, schemas as objects,
    datetimes as dates; fields it does not know are dropped."""
    echoed: dict[str, Any] = dict(ECHOED[kind])
    for name, value in data.items():
        if name not in echoed or value is None:
            continue
        if name in ("structuredOutputSchema", "schema"):
            value = _schema(value)
        elif name in ("fromDate", "toDate"):
            value = _day(value)
        echoed[name] = value
    return echoed


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _validate(index: int, item: Any) -> list[dict[str, str]]:
    """Field errors of one task item, in the service's ``details`` shape."""
    where = f"[{index}]"
    if not isinstance(item, dict):
        return [{"field": where, "message": "must be an object"}]
    kind, data = item.get("type"), item.get("input")
    if kind not in TYPES:
        return [{"field": f"{where}.type", "message": "must be one of search, fetch, research"}]
    if not isinstance(data, dict):
        return [{"field": f"{where}.input", "message": "must be an object"}]
    errors = []
    required = "url" if kind == "fetch" else "q"
    if not isinstance(data.get(required), str) or not data[required].strip():
        errors.append({"field": f"{where}.input.{required}", "message": "is required"})
    for name, allowed in ENUMS[kind].items():
        if name in data and data[name] not in allowed:
            errors.append({"field": f"{where}.input.{name}",
                           "message": f"must be one of {', '.join(allowed)}"})
    for name in ("fromDate", "toDate"):
        if data.get(name) is not None and _day(data[name]) is None:
            errors.append({"field": f"{where}.input.{name}",
                           "message": "must be YYYY-MM-DD or an ISO datetime"})
    if data.get("outputType") == "structured":
        schema = data.get("structuredOutputSchema")
        if not (isinstance(schema, str) and _schema(schema) is not None):
            errors.append({"field": f"{where}.input.structuredOutputSchema",
                           "message": "is required as a JSON schema string with structured output"})
    if kind == "fetch" and data.get("schema") is not None and _schema(data["schema"]) is None:
        errors.append({"field": f"{where}.input.schema", "message": "must be a JSON schema object"})
    return errors


def _structured(schema: dict[str, Any], rng: random.Random, topic: str) -> Any:
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _structured(v, rng, k) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_structured(schema.get("items") or {}, rng, topic) for _ in range(rng.randint(1, 3))]
    if kind == "integer":
        return rng.randint(1, 5000)
    if kind == "number":
        return round(rng.uniform(1, 500), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return f"{topic.replace('_', ' ')} ({rng.choice(COMPANIES)})"


class LinkupSandbox:
    def __init__(self, clock: Clock, accounts: list[LinkupAccount], config: LinkupConfig,
                 seed: int) -> None:
        self.clock = clock
        self.accounts = {a.key: a for a in accounts}
        self.config = config
        self.seed = seed
        self.rng = random.Random(seed + 2)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.creates: Counter[tuple[str, str]] = Counter()
        self._recent: dict[str, list[float]] = {}

    def routes(self) -> list[web.RouteDef]:
        # Last, any other /v1 path or method (not Agora's /v1/market): a Linkup-shaped error,
        # as the service answers on every /v1 path.
        return [web.post("/v1/tasks", self.create), web.get("/v1/tasks", self.list),
                web.get("/v1/tasks/{task_id}", self.get),
                web.route("*", r"/v1{tail:(?!/market(?:/|$)).*}", self.elsewhere)]

    # -- state -----------------------------------------------------------------------------
    def _account(self, request: web.Request) -> LinkupAccount | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return _error(401, "UNAUTHORIZED", "Missing API key: send 'Authorization: Bearer <key>'.")
        account = self.accounts.get(header[7:].strip())
        if account is None:
            return _error(401, "UNAUTHORIZED", "Invalid API key.")
        # A per-account request rate, in service time.
        now = self.clock.now()
        recent = [t for t in self._recent.get(account.key, []) if now - t < 1.0]
        if len(recent) >= self.config.requests_per_second:
            return _error(429, "TOO_MANY_REQUESTS", "Too many requests, slow down.")
        recent.append(now)
        self._recent[account.key] = recent
        return account

    def status_of(self, task: dict[str, Any]) -> str:
        now = self.clock.now()
        if now >= task["due"]:
            return "failed" if task["fails"] else "completed"
        return "processing" if now >= task["starts"] else "pending"

    def ground_truth(self, task: dict[str, Any]) -> Any:
        kind, data = task["type"], task["input"]
        # Seeded by the input as sent (as before the echo was normalized): the same answers.
        sent = task.get("sent", data)
        rng = rng_for(self.seed, "linkup", kind, json.dumps(sent, sort_keys=True))
        if kind == "extract":
            return {"data": {"title": rng.choice(COMPANIES)}}  # inferred: never documented
        if kind == "fetch":
            host = re.sub(r"^https?://", "", data["url"]).split("/")[0]
            out: dict[str, Any] = {"markdown": f"# {host}\n\nPage text of {data['url']}.\n\n"
                                               f"{rng.choice(COMPANIES)} announced results today.",
                                   "favicon": f"https://{host}/favicon.ico"}
            if data.get("includeRawHtml"):
                out["rawHtml"] = f"<html><body><h1>{host}</h1></body></html>"
            if data.get("includeRawContent"):
                out["rawContent"] = f"<html><body><h1>{host}</h1></body></html>"
                out["contentType"] = "text/html"
            if data.get("extractImages"):
                out["images"] = [{"alt": f"{host} logo", "url": f"https://{host}/logo.png"}]
            if data.get("schema") is not None:
                out["data"] = _structured(data["schema"], rng, "value")
            return out
        q = data["q"]
        sources = [{"name": f"{q[:40]} - {d}", "url": f"https://{d}/{rng.randrange(10**6)}",
                    "snippet": f"{q[:60]}: findings reported by {d}.",
                    "favicon": f"https://{d}/favicon.ico"}
                   for d in rng.sample(DOMAINS, rng.randint(2, 5))]
        output_type = data.get("outputType", "sourcedAnswer")
        results = [{"type": "text", "name": s["name"], "url": s["url"], "content": s["snippet"],
                    "favicon": s["favicon"]} for s in sources]
        if output_type == "searchResults":
            images = [{"type": "image", "name": f"{q[:40]} (image)",
                       "url": f"https://{DOMAINS[0]}/img/{rng.randrange(10**6)}.jpg"}]
            return {"results": results + (images if data.get("includeImages") else [])}
        if output_type == "structured":
            value = _structured(data["structuredOutputSchema"], rng, "value")
            # With includeSources the sources are search results (type, content), not snippets.
            return {"data": value, "sources": results} if data.get("includeSources") else value
        return {"answer": f"In short: {q.rstrip('?')} - according to {sources[0]['url'].split('/')[2]}"
                          f", {rng.choice(COMPANIES)} leads with {rng.randint(2, 95)}%.",
                "sources": sources}

    @staticmethod
    def updated_at(task: dict[str, Any], status: str) -> float:
        return {"pending": task["created"], "processing": task["starts"]}.get(status, task["due"])

    def as_json(self, task_id: str, status: str | None = None) -> dict[str, Any]:
        task = self.tasks[task_id]
        status = status or self.status_of(task)
        updated = self.updated_at(task, status)
        return {"id": task_id, "type": task["type"], "status": status, "input": task["input"],
                "output": self.ground_truth(task) if status == "completed" else None,
                "error": task["fails"] if status == "failed" else None,
                "createdAt": _iso(self.clock.epoch(task["created"])),
                "updatedAt": _iso(self.clock.epoch(updated))}

    def in_flight(self, account: str) -> int:
        return sum(1 for t in self.tasks.values()
                   if t["account"] == account and self.status_of(t) in ("pending", "processing"))

    # -- handlers --------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "INVALID_JSON", "The body is not valid JSON.")
        if not isinstance(body, list) or not body:
            return _error(400, "VALIDATION_ERROR", "The body must be an array of 1 to 100 tasks.")
        if len(body) > 100:
            return _error(400, "VALIDATION_ERROR", f"At most 100 tasks per request, got {len(body)}.")
        refused = sorted({str(item.get("type")) for item in body if isinstance(item, dict)
                          and item.get("type") in NOT_CREATABLE})
        if refused:
            return _error(403, "TASK_TYPE_NOT_SUPPORTED",
                          f"Task type {refused[0]} is not supported by the tasks API.",
                          [{"field": "type", "message": f"{refused[0]} is not supported"}])
        details = [d for i, item in enumerate(body) for d in _validate(i, item)]
        if details:
            return _error(400, "VALIDATION_ERROR", "Invalid task parameters.", details)
        if account.budget_exceeded:
            return _error(429, "EXCEED_BUDGET_LIMIT", "The budget limit of this key is reached.")
        if account.credits < len(body):
            return _error(429, "INSUFFICIENT_FUNDS_CREDITS",
                          f"Not enough credits for {len(body)} tasks ({account.credits:g} left).")
        if self.in_flight(account.key) + len(body) > self.config.queue_limit:
            return _error(429, "TASKS_QUEUE_LIMIT_EXCEEDED",
                          f"Too many tasks in flight (limit {self.config.queue_limit}); wait for "
                          "some to finish.")
        answer = []
        now = self.clock.now()
        for item in body:
            task_id = self.add_task(account.key, item["type"], item["input"], now=now)
            key = self.tasks[task_id]["key"]
            self.creates[(item["type"], str(key))] += 1
            account.credits -= 1
            answer.append(self.as_json(task_id, status="pending"))  # as created
        return web.json_response(answer)

    def add_task(self, account_key: str, kind: str, data: dict[str, Any], *,
                 now: float | None = None) -> str:
        """Store a task (kept as the service echoes it, what was sent beside it); its id.
        Tests call it to plant a task the tasks API cannot create (``extract``)."""
        now = self.clock.now() if now is None else now
        echoed = normalized(kind, data) if kind in ECHOED else dict(data)
        depth = echoed.get("depth", "standard") if kind == "search" else None
        low, high = DURATIONS[(kind, depth)]
        timing = (random.Random(f"{self.seed}:linkup:{kind}:{json.dumps(echoed, sort_keys=True)}")
                  if self.config.durations_by_input else self.rng)
        starts = now + timing.uniform(*QUEUE_DELAY)
        key = echoed.get("url") if kind in ("fetch", "extract") else echoed.get("q")
        fails = None
        if key in self.config.fail:
            fails = ("FETCH_ERROR: the page could not be fetched" if kind == "fetch"
                     else "SEARCH_QUERY_NO_RESULT: no results for this query")
        task_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.tasks[task_id] = {"account": account_key, "type": kind, "input": echoed,
                               "sent": data, "key": key, "created": now, "starts": starts,
                               "due": starts + timing.uniform(low, high), "fails": fails}
        return task_id

    async def get(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        task_id = request.match_info["task_id"]
        if not _UUID.match(task_id):
            return _error(400, "VALIDATION_ERROR", "The task id must be a UUID.",
                          [{"field": "id", "message": "must be a UUID"}])
        task = self.tasks.get(task_id)
        if task is None or task["account"] != account.key:
            return _error(404, "TASK_NOT_FOUND", f"Task {task_id} not found.")
        return web.json_response(self.as_json(task_id))

    async def list(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        q = request.query
        try:
            page = int(q.get("page", "1"))
            size = int(q.get("pageSize", "20"))
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "page and pageSize must be integers.")
        sort_by = q.get("sortBy", "createdAt")
        direction = q.get("sortDirection", "desc")
        if page < 1 or not 1 <= size <= 100 or sort_by not in ("createdAt", "updatedAt") or (
                direction not in ("asc", "desc")):
            return _error(400, "VALIDATION_ERROR", "Invalid pagination or sort parameters.")
        statuses = {s for v in q.getall("status", []) for s in v.split(",") if s}
        types = {s for v in q.getall("type", []) for s in v.split(",") if s}
        rows = []  # (sort key, id): the full task is built only for the page served
        listed_before = self.clock.now() - self.config.list_lag
        for task_id, task in self.tasks.items():
            if task["account"] != account.key or (types and task["type"] not in types) or (
                    task["created"] > listed_before):
                continue
            status = self.status_of(task)
            if statuses and status not in statuses:
                continue
            at = task["created"] if sort_by == "createdAt" else self.updated_at(task, status)
            rows.append((at, task_id))
        rows.sort(reverse=direction == "desc")
        total = len(rows)
        return web.json_response({
            "data": [self.as_json(i) for _, i in rows[(page - 1) * size: page * size]],
            "metadata": {"page": page, "pageSize": size, "total": total,
                         "totalPages": -(-total // size)},  # 0 when there are none
            "quota": {"inFlight": self.in_flight(account.key), "limit": self.config.queue_limit},
        })

    async def elsewhere(self, request: web.Request) -> web.Response:
        """Any other /v1 path or method: 405 on the tasks paths, 404 elsewhere, Linkup-shaped."""
        known = {"/v1/tasks": ("GET", "POST")}
        allowed = known.get(request.path.rstrip("/")) or (
            ("GET",) if re.match(r"^/v1/tasks/[^/]+/?$", request.path) else None)
        if allowed and request.method not in allowed:
            return _error(405, "METHOD_NOT_ALLOWED",
                          f"{request.method} is not allowed on {request.path}; use "
                          f"{' or '.join(allowed)}.")
        return _error(404, "NOT_FOUND", f"No route for {request.method} {request.path}.")
