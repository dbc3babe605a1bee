"""Linkup tasks: search, fetch and research tasks, created up to 100 per POST, read singly or in bulk.

Public figures: search fast ≈1 s, standard 1-3 s, deep 5-30 s; research 2-20 min.  Each task is
billed like the synchronous call, so a duplicate submission costs real money.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..core.client import ServiceClient
from ..core.errors import (
    InvalidRequest,
    KitError,
    PaymentRequired,
    RateLimited,
    ServiceError,
    ServiceUnreachable,
    TransportError,
    did_you_mean,
)
from ..core.http import Endpoint, ErrorReader, MiB
from ..core.policy import PollSchedule, Rate, RetryPolicy
from ..core.spec import ServiceSpec
from ..core.task import Status, Task, utcnow, valid_task_id

# How long kit waits by default: for a search or fetch task, and for room in a full queue.
WAIT = 600.0

SPEC = ServiceSpec(
    name="linkup",
    label="Linkup",
    origin="https://api.linkup.so",
    auth_header="Authorization",
    auth_prefix="Bearer ",
    schedule=PollSchedule(interval=2.0, first=1.0, timeout=WAIT),
    retry=RetryPolicy(attempts=5, base_delay=0.5, max_delay=15.0),
    # Of Linkup's four 429 codes only this one asks to slow down and retry; the queue limit is
    # waited out by submit(), the two about money are final.
    retry_429_codes=frozenset({"TOO_MANY_REQUESTS"}),
    batch_size=100,  # a job sends its queue in POSTs of 100 as it fills
    send_concurrency=2,
    list_settles=60.0,
)

MAX_BATCH = 100  # tasks per POST /v1/tasks

CREATE = Endpoint("create-tasks", "POST", "/v1/tasks", creates=True, rate=Rate(5, 1.0))
# A fetched page's raw HTML and content ride in its task: reads get room for large pages (a
# list page holds up to 100 tasks).
GET_TASK = Endpoint("get-task", "GET", "/v1/tasks/{task_id}", rate=Rate(20, 1.0), bucket="read",
                    max_body=64 * MiB)
LIST_TASKS = Endpoint("list-tasks", "GET", "/v1/tasks", rate=Rate(20, 1.0), bucket="read",
                      max_body=256 * MiB)

STATUS_MAP = {
    "pending": Status.PENDING,
    "processing": Status.RUNNING,
    "completed": Status.COMPLETED,
    "failed": Status.FAILED,
}

# How long each kind of task takes, hence when to look (service seconds).
SCHEDULES = {
    ("search", "flash"): PollSchedule(interval=0.5, first=0.5, timeout=WAIT),
    ("search", "fast"): PollSchedule(interval=1.0, first=1.0, timeout=WAIT),
    ("search", "standard"): PollSchedule(interval=1.0, first=1.5, timeout=WAIT),
    ("search", "deep"): PollSchedule(interval=2.0, first=5.0, timeout=WAIT),
    ("fetch", None): PollSchedule(interval=1.0, first=1.5, timeout=WAIT),
    ("research", None): PollSchedule(interval=15.0, first=60.0, growth=1.2, max_interval=60.0,
                                     timeout=3600.0),
}

# 429 codes: which mean "slow down" and which "stop, tell the user".
QUEUE_FULL = "TASKS_QUEUE_LIMIT_EXCEEDED"
PAYMENT_CODES = {"INSUFFICIENT_FUNDS_CREDITS", "EXCEED_BUDGET_LIMIT"}

# Pythonic keyword -> the service's field, per task type.
PARAMS: dict[str, dict[str, str]] = {
    "search": {
        "q": "q", "depth": "depth", "output_type": "outputType",
        "structured_output_schema": "structuredOutputSchema", "include_images": "includeImages",
        "include_domains": "includeDomains", "exclude_domains": "excludeDomains",
        "from_date": "fromDate", "to_date": "toDate", "max_results": "maxResults",
        "include_inline_citations": "includeInlineCitations", "include_sources": "includeSources",
    },
    "fetch": {
        "url": "url", "render_js": "renderJs", "include_raw_html": "includeRawHtml",
        "include_raw_content": "includeRawContent", "extract_images": "extractImages",
        "mode": "mode", "schema": "schema", "instructions": "instructions",
    },
    "research": {
        "q": "q", "output_type": "outputType", "structured_output_schema": "structuredOutputSchema",
        "mode": "mode", "reasoning_depth": "reasoningDepth", "from_date": "fromDate",
        "to_date": "toDate", "include_domains": "includeDomains", "exclude_domains": "excludeDomains",
    },
}
REQUIRED = {"search": "q", "fetch": "url", "research": "q"}
# Always sent, as the docs' examples and the official SDK do (the helpers' defaults too).
SENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "search": {"depth": "standard", "outputType": "sourcedAnswer"},
    "research": {"outputType": "sourcedAnswer"},
}
# Task types Linkup lists but does not let the tasks API create (403 TASK_TYPE_NOT_SUPPORTED).
LISTED_ONLY = ("extract",)
CHOICES = {
    ("search", "depth"): ("flash", "fast", "standard", "deep"),
    ("search", "outputType"): ("searchResults", "sourcedAnswer", "structured"),
    ("research", "outputType"): ("sourcedAnswer", "structured"),
    ("research", "mode"): ("answer", "auto", "investigate", "research"),
    ("research", "reasoningDepth"): ("S", "M", "L", "XL"),
    ("fetch", "mode"): ("standard", "pro"),
}
BOOLEANS = {"includeImages", "includeInlineCitations", "includeSources", "renderJs",
            "includeRawHtml", "includeRawContent", "extractImages"}
DOMAIN_LISTS = {"includeDomains", "excludeDomains"}
SCHEMAS = {"structuredOutputSchema", "schema"}  # JSON schemas: sent as strings, echoed as objects
# A date, or an ISO datetime that starts with one (the service trims it to the date).
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ].+)?$")

# How Linkup echoes an input (inferred where the contract says "…"): the defaults it fills in.
# A field at its default and a field left out are the same request.
ECHO_DEFAULTS: dict[str, dict[str, Any]] = {
    "search": {"includeImages": False, "includeSources": False, "includeInlineCitations": False},
    "fetch": {"renderJs": False, "includeRawHtml": False, "includeRawContent": False,
              "extractImages": False, "mode": "standard"},
    "research": {},
}
# Fields Linkup may fill with a default kit does not know (inferred): a listed task that has one
# kit did not send can still be kit's request.
SERVICE_FILLED: dict[str, set[str]] = {"search": {"maxResults"}, "fetch": set(),
                                       "research": {"mode", "reasoningDepth"}}


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(f"Linkup: {message}", service="Linkup")


def build_input(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``params`` (pythonic or camelCase names) and return the service's ``input``."""
    if kind in LISTED_ONLY:
        raise _bad(f"the tasks API does not create {kind!r} tasks (Linkup answers 403 "
                   "TASK_TYPE_NOT_SUPPORTED); kit can list and read them, not create them. Use "
                   "'search', 'fetch' (schema= extracts data from a page) or 'research'.")
    if kind not in PARAMS:
        raise _bad(f"unknown task type {kind!r}; use 'search', 'fetch' or 'research'.")
    names = PARAMS[kind]
    camel = set(names.values())
    body: dict[str, Any] = {}
    for key, value in params.items():
        field_name = names.get(key) or (key if key in camel else None)
        if field_name is None:
            raise _bad(f"{kind} does not take {key!r}.{did_you_mean(key, set(names))} It takes: "
                       f"{', '.join(names)}.")
        if value is None:
            continue
        body[field_name] = _check(kind, field_name, value)
    for field_name, value in SENT_DEFAULTS.get(kind, {}).items():
        body.setdefault(field_name, value)
    required = REQUIRED[kind]
    if not isinstance(body.get(required), str) or not body[required].strip():
        raise _bad(f"{kind} needs {required!r} as a non-empty string, got "
                   f"{params.get(required)!r}.")
    if kind == "fetch" and not re.match(r"^https?://[^\s/]+\.[^\s]+", body["url"]):
        raise _bad(f"{body['url']!r} is not an http(s) URL to fetch.")
    structured = body.get("outputType") == "structured"
    if structured and "structuredOutputSchema" not in body:
        raise _bad("output_type='structured' needs structured_output_schema= (a JSON schema "
                   "as a dict or a JSON string).")
    if "structuredOutputSchema" in body and not structured:
        raise _bad("structured_output_schema is only used with output_type='structured'.")
    if "instructions" in body and "schema" not in body:
        raise _bad("instructions= guide the extraction of schema=: give a schema (a JSON schema "
                   "as a dict or a JSON string) too.")
    if "fromDate" in body and "toDate" in body and body["fromDate"] > body["toDate"]:
        raise _bad(f"from_date {body['fromDate']} is after to_date {body['toDate']}.")
    return body


def _check(kind: str, name: str, value: Any) -> Any:
    choices = CHOICES.get((kind, name))
    if choices is not None:
        if value not in choices:
            raise _bad(f"{name}={value!r} is not one of {', '.join(choices)}.")
        return value
    if name in ("fromDate", "toDate"):
        # Sent as the date alone: what Linkup keeps of a datetime anyway, so the journal's
        # reuse key and the echoed input agree.  A datetime keeps its own (written) date.
        if isinstance(value, (date, str)) and (day := _day(value)) is not None:
            return day
        raise _bad(f"{name}={value!r} is not a date: use 'YYYY-MM-DD', an ISO datetime, "
                   "datetime.date or datetime.datetime.")
    if name in SCHEMAS:
        schema = _schema(value)
        if not isinstance(schema, dict):
            python = "structured_output_schema" if name == "structuredOutputSchema" else name
            raise _bad(f"{python} must be a JSON schema: a dict or a JSON string of an object.")
        return value if isinstance(value, str) else json.dumps(value)
    if name == "instructions" and not isinstance(value, str):
        raise _bad(f"instructions must be a string, got {type(value).__name__}.")
    if name in BOOLEANS:
        if not isinstance(value, bool):
            raise _bad(f"{name} must be True or False, got {value!r}.")
        return value
    if name in DOMAIN_LISTS:
        if isinstance(value, str):
            value = [value]
        if not all(isinstance(v, str) and v for v in value):
            raise _bad(f"{name} must be a list of domain names.")
        return list(value)
    if name == "maxResults":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _bad(f"maxResults must be a positive integer, got {value!r}.")
        return value
    if name in ("q", "url") and not isinstance(value, str):
        raise _bad(f"{name} must be a string, got {type(value).__name__}.")
    return value


def _day(value: Any) -> str | None:
    """``'YYYY-MM-DD'`` of a date, a datetime or an ISO date(time) string; None if not one."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not (found := _DATE.match(value.strip())):
        return None
    try:
        if found.group(2):  # (Python 3.10's fromisoformat does not read a trailing Z)
            datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value.strip()))
        return date.fromisoformat(found.group(1)).isoformat()
    except ValueError:
        return None


def _schema(value: Any) -> Any:
    """A JSON schema as an object: parsed from a string (as sent), as is otherwise (as echoed)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return dict(value) if isinstance(value, Mapping) else value


def normalize_input(kind: str, task_input: Mapping[str, Any]) -> dict[str, Any]:
    """An input in one canonical form, whether as kit sent it or as Linkup echoes it: schemas as
    objects, dates as ``YYYY-MM-DD``, no nulls, no field at the default Linkup fills in."""
    defaults = ECHO_DEFAULTS.get(kind, {})
    canonical: dict[str, Any] = {}
    for name, value in task_input.items():
        if name in SCHEMAS:
            value = _schema(value)
        elif name in ("fromDate", "toDate"):
            value = _day(value) or value
        elif name in DOMAIN_LISTS and isinstance(value, (list, tuple)):
            value = list(value)
        if value is None or (name in defaults and value == defaults[name]):
            continue
        canonical[name] = value
    return canonical


def same_input(kind: str, sent: Mapping[str, Any], listed: Mapping[str, Any]) -> bool:
    """Whether a listed task's (echoed) input is the request kit sent: equal once normalized,
    except for fields only the listed one has that Linkup fills with defaults kit does not
    know, or that kit does not know at all."""
    a, b = normalize_input(kind, sent), normalize_input(kind, listed)
    strict = set(PARAMS.get(kind, {}).values()) - SERVICE_FILLED.get(kind, set())
    return all(a.get(k) == b.get(k) for k in a.keys() | (b.keys() & strict))


def check_task(spec: Any) -> dict[str, Any]:
    """One ``{"type", "input"}`` item for :meth:`Linkup.submit`, validated."""
    if not isinstance(spec, Mapping) or "type" not in spec or "input" not in spec:
        raise _bad(f"each task is a dict {{'type': 'search'|'fetch'|'research', 'input': {{...}}}}, "
                   f"got {spec!r:.80}.")
    if spec["type"] in LISTED_ONLY:  # before the input: the type alone settles it
        build_input(spec["type"], {})
    if not isinstance(spec["input"], Mapping):
        raise _bad(f"task input must be a dict, got {type(spec['input']).__name__}.")
    return {"type": spec["type"], "input": build_input(spec["type"], spec["input"])}


class LinkupErrors(ErrorReader):
    def error(self, endpoint: Endpoint, status: int, message: str, code: str | None,
              service: str) -> KitError:
        text = f"Linkup {endpoint.name}: HTTP {status}" + (f" {code}" if code else "") + f": {message}"
        if code in PAYMENT_CODES:
            return PaymentRequired(text + " Add credits or raise the budget limit in your Linkup "
                                   "dashboard.", status=status, code=code, service=service)
        if code == QUEUE_FULL:
            return RateLimited(text, status=status, code=code, service=service)
        return super().error(endpoint, status, message, code, service).__class__(
            text, status=status, code=code, service=service)

    def describe(self, status: int, body: Any, text: str) -> tuple[str, str | None]:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            details = error.get("details") or []
            if details:
                message += " (" + "; ".join(f"{d.get('field')}: {d.get('message')}"
                                            for d in details if isinstance(d, dict)) + ")"
            return message, error.get("code")
        return super().describe(status, body, text)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def apply(task: Task, data: Mapping[str, Any]) -> None:
    """Update ``task`` from a Linkup task object."""
    service_status = str(data.get("status") or "")
    task.service_status = service_status
    task.status = STATUS_MAP.get(service_status, Status.PENDING)
    task.updated_at = _parse_time(data.get("updatedAt")) or utcnow()
    if task.status is Status.COMPLETED:
        task.output, task.error = data.get("output"), None
    elif task.status is Status.FAILED:
        task.error = str(data.get("error") or "Linkup reported the task as failed")


def to_task(data: Mapping[str, Any]) -> Task:
    task_id = valid_task_id(data.get("id")) if isinstance(data, Mapping) else None
    if task_id is None:
        raise ServiceError(f"Linkup: a task object without a usable id ({data!r:.200})",
                           service="Linkup", may_have_acted=True)
    # Any type (extract included) and any input shape become a Task: a list is read, not judged.
    task_input = data.get("input")
    task = Task(service="linkup", id=task_id, kind=str(data.get("type") or "unknown"),
                input=dict(task_input) if isinstance(task_input, Mapping) else {},
                created_at=_parse_time(data.get("createdAt")) or utcnow())
    apply(task, data)
    return task


def _count(value: Any, default: Any) -> Any:
    """A whole number the service gave, or ``default`` when it gave none (or nonsense)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return default
    return int(value)


def _cut(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _may_exist(item: Mapping[str, Any], why: str) -> Task:
    """The task of a sent item whose creation kit cannot confirm or rule out."""
    return Task(service="linkup", id=None, kind=item["type"], status=Status.UNKNOWN,
                input=item["input"],
                error=f"{why}: the task may exist; kit does not submit it again (check Linkup's "
                      "task list; to send it anyway, run the call again for these inputs with "
                      "fresh=True).")


@dataclass
class TaskList:
    """One page of ``GET /v1/tasks``."""

    tasks: list[Task]
    page: int
    page_size: int
    total: int
    total_pages: int
    quota: dict[str, int] = field(default_factory=dict)


def _take_match(recent: list[Task], kind: str, task_input: dict[str, Any]) -> Task | None:
    """The first of ``recent`` that is this request (same type, same normalized input: Linkup
    echoes defaults, schemas as objects, dates); taken out of the list, so that two equal
    requests match two tasks."""
    match = next((t for t in recent if t.kind == kind and same_input(kind, task_input, t.input)),
                 None)
    if match is not None:
        recent.remove(match)
        match.input = task_input
    return match


def schedule_for(task: Task) -> PollSchedule:
    depth = task.input.get("depth", "standard") if task.kind == "search" else None
    return SCHEDULES.get((task.kind, depth)) or SCHEDULES[("search", "standard")]


class Linkup(ServiceClient):
    """Async client of Linkup's task API (Bearer key from ``LINKUP_API_KEY``)."""

    spec = SPEC
    errors = LinkupErrors()

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        super().__init__(api_key, **options)
        self._watermark: datetime | None = None  # the newest updatedAt the last bulk read saw
        self._bulk_seen: set[str | None] = set()  # tasks a bulk read established already
        # The queue as the last list read showed it (limit, in flight), and what this client
        # created since: a POST is sized to the room left instead of taking a 429 to learn it.
        self._quota: tuple[int, int] | None = None
        self._created_since_quota = 0
        self._room_lock = asyncio.Lock()
        self._posting = 0  # tasks in POSTs not answered yet (a list read may not count them)
        self._reserved = 0  # tasks ever reserved for a POST (less those refused): a clock of sorts

    # -- creating --------------------------------------------------------------------------
    async def submit(self, tasks: Iterable[Mapping[str, Any]], *,
                     queue_wait: float | None = WAIT) -> list[Task]:
        """Create any number of tasks (``{"type", "input"}`` each), in POSTs of at most 100.

        Returns the tasks in input order.  Every item is validated before anything is sent.
        When Linkup's queue is full (``TASKS_QUEUE_LIMIT_EXCEEDED``) kit waits for tasks in
        flight to finish (up to ``queue_wait`` service seconds), then sends the rest.  When
        credits or budget run out it raises ``PaymentRequired`` with ``.tasks``: those created.
        """
        items = [check_task(t) for t in tasks]
        if not items:
            raise _bad("submit() needs at least one task.")
        created: list[Task] = []
        size = MAX_BATCH
        while len(created) < len(items):
            async with self._room_lock:  # concurrent senders reserve room one at a time
                if self._created_since_quota and self._quota is None:
                    await self._queue_room()  # a second POST: learn the queue's limit first
                if (room := self._known_room()) < min(size, len(items) - len(created)):
                    size = room or await self._room(queue_wait)
                    if size == 0:
                        full = RateLimited(f"Linkup's queue stayed full for {queue_wait} "
                                           f"service seconds; {len(created)} of {len(items)} "
                                           "tasks were created, the rest were not sent",
                                           code=QUEUE_FULL, service="Linkup")
                        full.tasks = created
                        raise full
                batch = items[len(created):len(created) + size]
                self._created_since_quota += len(batch)  # reserved before the POST goes
                self._reserved += len(batch)
            try:
                data = await self._post(batch)
            except ServiceUnreachable as exc:  # nothing was sent: the rest stays to send later
                exc.tasks = created
                raise
            except (TransportError, ServiceError) as exc:
                # The answer was lost, not necessarily the request: find what Linkup created
                # instead of paying twice; what it did not create becomes a failed task.
                created.extend(await self._reconcile(batch, exc))
                continue
            except (PaymentRequired, RateLimited) as exc:
                self._created_since_quota -= len(batch)  # refused: nothing was created
                self._reserved -= len(batch)
                if exc.code != QUEUE_FULL:
                    exc.tasks = created
                    raise
                # The queue is full and nothing was created: not a retry of a failed request
                # but a wait for capacity (like the pace), then only what fits is sent.
                size = await self._room(queue_wait)
                if size == 0:
                    exc.tasks = created
                    raise
                continue
            created.extend(self._created(batch, data))
            size = MAX_BATCH
        return created

    async def _post(self, batch: list[dict[str, Any]]) -> Any:
        """The create request, counted while it is out (a list read may not show its tasks)."""
        self._posting += len(batch)
        try:
            return await self._call(CREATE, json_body=batch)
        finally:
            self._posting -= len(batch)

    def _known_room(self) -> int:
        """Tasks that fit in Linkup's queue by the last list read and what was created since
        (a lower bound: tasks finished since then made more room); MAX_BATCH when unknown."""
        if self._quota is None:
            return MAX_BATCH
        limit, in_flight = self._quota
        return max(0, min(MAX_BATCH, limit - in_flight - self._created_since_quota))

    def _created(self, batch: list[dict[str, Any]], data: Any) -> list[Task]:
        """The tasks of an answered create, in the batch's order, journaled at once.  An item kit
        cannot read (or an answer it cannot pair with what was sent) is a task that may exist:
        a row saying so, never a lost row, and never sent again."""
        if not isinstance(data, list) or len(data) != len(batch):
            # Not one task per item, in order: pair what it holds by normalized input; every
            # task it shows is journaled (it exists), the items without one may exist.
            why = (f"Linkup create-tasks answered {_cut(data)} where {len(batch)} tasks were "
                   "expected")
            seen = []
            for answered in data if isinstance(data, list) else []:
                with contextlib.suppress(ServiceError):
                    seen.append(to_task(answered))
            self._record(seen)
            unpaired = list(seen)
            paired = [_take_match(unpaired, item["type"], item["input"]) for item in batch]
            return [task if task is not None else _may_exist(item, why)
                    for task, item in zip(paired, batch, strict=True)]
        tasks = []
        for item, answered in zip(batch, data, strict=True):
            try:
                task = to_task(answered)
            except ServiceError as exc:
                task = _may_exist(item, exc.message)
            else:
                task.input = item["input"]  # what was asked: the journal's key for reuse
            tasks.append(task)
        self._record([t for t in tasks if t.id])
        return tasks

    async def _reconcile(self, batch: list[dict[str, Any]], failure: KitError) -> list[Task]:
        """After a create whose answer was lost: the batch's tasks as Linkup has them, matched
        by normalized input among the most recent ones.  An item the list does not show, or not
        yet (a list may lag a create), or a list that cannot be read, leaves the item's task
        ``unknown``: it may exist, and kit does not submit it again."""
        try:
            recent = await self._unjournaled(limit=len(batch) + 200)
        except KitError as exc:  # cannot look: never say "not created" without looking
            why = f"{failure.message} Linkup's task list could not be read ({exc.message})"
            return [_may_exist(item, why) for item in batch]
        recent.reverse()  # oldest first: the batch's order
        found: list[Task] = []
        for item in batch:
            match = _take_match(recent, item["type"], item["input"])
            # The list may lag the create: what it does not show yet may still exist.
            found.append(match if match is not None else _may_exist(
                item, f"{failure.message} Linkup's list does not show it yet"))
        self._record(found)
        return found

    async def find_created(self, kind: str, task_input: dict[str, Any], sent_at: float
                           ) -> Task | None:
        """The task Linkup lists for this input (a create whose answer was lost), if any: among
        those created since shortly before ``sent_at`` (Unix seconds).  Raises ``KitError`` when
        the list cannot be read: the input then stays 'may exist', never 'not created'."""
        # Created since shortly before it was sent (clocks differ a little), and not too many.
        recent = await self._unjournaled(limit=500, since=sent_at - 300.0 if sent_at else None)
        match = _take_match(recent, kind, task_input)
        if match is not None:
            self._record([match])
        return match

    async def _unjournaled(self, *, limit: int | None = None, since: float | None = None
                           ) -> list[Task]:
        """This key's newest tasks that no journal entry of this client knows, newest first:
        ``limit`` of them, or those created since ``since`` (Unix seconds)."""
        known = set(self._journaled)
        recent: list[Task] = []
        async for task in self.iter_tasks(sort_by="createdAt", sort_direction="desc", page_size=100):
            if since is not None and task.created_at.timestamp() < since:
                break
            if task.id not in known:
                recent.append(task)
            if limit is not None and len(recent) >= limit:
                break
        return recent

    async def send(self, items: list[tuple[str, dict[str, Any]]], options: dict[str, Any]
                   ) -> list[Task | KitError]:
        """A job's claimed inputs, in one POST (at most 100)."""
        created = await self.submit([{"type": kind, "input": task_input}
                                     for kind, task_input in items])
        return list(created)

    async def _room(self, patience: float | None) -> int:
        """Wait until Linkup's queue has room (up to ``patience`` service seconds, None: no
        limit), reading its quota with a growing pause; how many tasks fit (0: no room came)."""
        waited, pause = 0.0, 1.0
        while (room := min(MAX_BATCH, await self._queue_room())) == 0:
            if patience is not None and waited >= patience:
                return 0
            await self.clock.sleep(self.clock.real(pause))
            waited, pause = waited + pause, min(pause * 2, 30.0)
        return room

    async def _queue_room(self) -> int:
        """Room in Linkup's queue by a fresh list read, less the tasks of POSTs it cannot count
        yet (one under way, or reserved and about to go)."""
        page = await self.list_tasks(page_size=1, status=["pending", "processing"])
        if page.quota.get("limit") is None or page.quota.get("inFlight") is None:
            return 0
        return self._known_room()

    async def search(self, q: str, **params: Any) -> Task:
        """Create one search task (``depth`` flash|fast|standard|deep, ``output_type``,
        ``include_domains``, ``from_date``, ...); ``depth`` and ``output_type`` are always sent
        (default ``SENT_DEFAULTS``: standard, sourcedAnswer)."""
        [task] = await self.submit([{"type": "search", "input": {"q": q, **params}}])
        return task

    async def fetch(self, url: str, **params: Any) -> Task:
        """Create one fetch task (``render_js``, ``include_raw_html``, ``mode``; ``schema`` a JSON
        schema and ``instructions`` to extract ``data`` from the page)."""
        [task] = await self.submit([{"type": "fetch", "input": {"url": url, **params}}])
        return task

    async def research(self, q: str, **params: Any) -> Task:
        """Create one research task (``mode``, ``reasoning_depth``, ``output_type``, ...);
        ``output_type`` is always sent (default sourcedAnswer)."""
        [task] = await self.submit([{"type": "research", "input": {"q": q, **params}}])
        return task

    # -- reading ---------------------------------------------------------------------------
    async def get_task(self, task_id: str) -> Task:
        if not isinstance(task_id, str) or not task_id.strip():
            raise _bad(f"{task_id!r} is not a task id.")
        return to_task(await self._call(GET_TASK, path_params={"task_id": task_id.strip()}))

    async def list_tasks(
        self,
        *,
        page: int = 1,
        page_size: int = 100,
        sort_by: str = "createdAt",
        sort_direction: str = "desc",
        status: str | Sequence[str] | None = None,
        type: str | Sequence[str] | None = None,
    ) -> TaskList:
        """One page of this key's tasks, filtered and sorted; ``.quota`` holds inFlight/limit."""
        if sort_by not in ("createdAt", "updatedAt"):
            raise _bad("sort_by must be 'createdAt' or 'updatedAt'.")
        if sort_direction not in ("asc", "desc"):
            raise _bad("sort_direction must be 'asc' or 'desc'.")
        if not isinstance(page, int) or page < 1 or not isinstance(page_size, int) or not (
                1 <= page_size <= 100):
            raise _bad("page must be >= 1 and page_size between 1 and 100.")
        params: list[tuple[str, str]] = [("page", str(page)), ("pageSize", str(page_size)),
                                         ("sortBy", sort_by), ("sortDirection", sort_direction)]
        types = (*PARAMS, *LISTED_ONLY)
        for name, values, allowed in (("status", status, STATUS_MAP), ("type", type, types)):
            if values is None:
                continue
            for v in [values] if isinstance(values, str) else list(values):
                if v not in allowed:
                    raise _bad(f"{name}={v!r} is not one of {', '.join(allowed)}.")
                params.append((name, v))
        # What the list's quota cannot count yet: POSTs out when it was asked for, and tasks
        # reserved since (answered before the list, they are not in its inFlight).
        reserved, posting = self._reserved, self._posting
        body = await self._call(LIST_TASKS, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ServiceError(f"Linkup list-tasks: unexpected answer {body!r:.200}",
                               service="Linkup")
        meta: dict[str, Any] = body.get("metadata") or {}
        quota: dict[str, Any] = body.get("quota") or {}
        meta, quota = (m if isinstance(m, dict) else {} for m in (meta, quota))
        limit, in_flight = _count(quota.get("limit"), None), _count(quota.get("inFlight"), None)
        if limit is not None and in_flight is not None:
            self._quota = (limit, in_flight)
            self._created_since_quota = posting + self._reserved - reserved
        return TaskList(tasks=[to_task(d) for d in body["data"]],
                        page=_count(meta.get("page"), page),
                        page_size=_count(meta.get("pageSize"), page_size),
                        total=_count(meta.get("total"), len(body["data"])),
                        total_pages=_count(meta.get("totalPages"), 1),
                        quota={k: n for k, v in quota.items() if (n := _count(v, None)) is not None})

    async def iter_tasks(self, **filters: Any) -> AsyncIterator[Task]:
        """Every task over every page: ``async for task in client.iter_tasks(status="failed")``."""
        page = 1
        while True:
            result = await self.list_tasks(page=page, **filters)
            for task in result.tasks:
                yield task
            if page >= result.total_pages or not result.tasks:
                return
            page += 1

    async def _refresh(self, task: Task) -> None:
        data = await self._call(GET_TASK, path_params={"task_id": task.id})
        apply(task, data)

    async def _refresh_many(self, due: Sequence[Task], open_tasks: Sequence[Task]) -> list[Task]:
        """Read the list sorted by updatedAt, newest first, down to the last such read's newest
        update: every change since then is on those pages (usually one), so every open task is
        established by a request or two however large the batch."""
        by_id = {t.id: t for t in open_tasks}
        unseen = [t.updated_at for t in open_tasks if t.id not in self._bulk_seen]
        horizon = min([*unseen, *([self._watermark] if self._watermark else [])], default=None)
        newest = None
        listed: set[str | None] = set()
        page = 1
        while True:
            result = await self.list_tasks(page=page, page_size=100, sort_by="updatedAt",
                                           sort_direction="desc")
            oldest = None
            for seen in result.tasks:
                newest = newest or seen.updated_at
                task = by_id.get(seen.id)
                if task is not None:
                    listed.add(seen.id)
                    apply(task, {"status": seen.service_status, "output": seen.output,
                                 "error": seen.error,
                                 "updatedAt": seen.updated_at.isoformat()})
                oldest = seen.updated_at
            if (not result.tasks or page >= result.total_pages
                    or (horizon is not None and oldest is not None and oldest < horizon)):
                break
            page += 1
        if newest is not None:
            self._watermark = newest
        self._bulk_seen.update(listed)
        # A task the list has never shown (a list can lag a create) is not established by it:
        # it is read by its id until the list shows it.
        return [t for t in open_tasks if t.id in self._bulk_seen]

    def _schedule_for(self, task: Task) -> PollSchedule:
        return schedule_for(task)

    _bulk_refresh = _refresh_many
