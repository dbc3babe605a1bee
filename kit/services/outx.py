"""OutX LinkedIn agent: its endpoints, the inputs they take, and how its tasks are read and mapped.

Work is done by a team member's Chrome extension, so a task may wait for as long as no extension
picks it up.  Docs: poll every 5 s, most tasks finish in 10-60 s, give up after 2-3 minutes.
Every create is a LinkedIn action on a real account (contract: shared/api/CONTRACTS.md §1).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.client import ServiceClient
from ..core.errors import (
    InvalidRequest,
    KitError,
    PermissionDenied,
    ServiceError,
    WholeCallError,
    did_you_mean,
)
from ..core.http import Endpoint, ErrorReader
from ..core.pace import Pace
from ..core.policy import PollSchedule, Rate, RetryPolicy
from ..core.spec import ServiceSpec
from ..core.task import Status, Task, utcnow, valid_task_id

SPEC = ServiceSpec(
    name="outx",
    label="OutX",
    origin="https://api.outx.ai",
    auth_header="x-api-key",
    # The docs: most tasks finish in 10-60 s (so look first at 10 s), poll every 5 s, stop after
    # 2-3 minutes.
    schedule=PollSchedule(interval=5.0, first=10.0, timeout=180.0),
    retry=RetryPolicy(attempts=5, base_delay=0.5, max_delay=15.0),
    learn=True,
    claim_ahead=16,
    max_connections=64,  # creates and reads of a large batch under way at once
    # Every create is a LinkedIn action on a real account: OutX asks for ~50 per hour, spread
    # out (CONTRACTS.md §1, "Pacing").  Kept in the journal, per team, across processes.
    pace=Pace(),
    # The LinkedIn action happens when a team member's extension picks the task up (the
    # get-task-status page: pending is "waiting to be picked up by the Chrome extension").
    worker="your team's OutX Chrome extension",
    worker_hint="is LinkedIn open in Chrome, with the OutX extension signed in to this team?",
    # What LinkedIn counts each create as (kit.core.pace.DAILY_CAPS holds the caps per kind).
    actions={
        "fetch-profile": "profile_visit",
        "fetch-profiles-posts": "post_fetch",
        "fetch-company": "company_fetch",
        "fetch-company-posts": "post_fetch",
        "search-profiles": "search",
        "fetch-connections": "connection_list",
        "like-post": "like",
        "comment-post": "comment",
        "send-message": "message",
        "send-connection-request": "connection_request",
    },
)

# Status reads are not LinkedIn actions and no limit is published: this keeps a large batch
# polite without making it slow (10,000 tasks are each read once in 30 s).
_READ_RATE = Rate(300, 1.0)


INVITATION_CAP = (
    "LinkedIn's invitation cap for your team's account is reached (a weekly limit, not a rate: "
    "it lifts in days). kit did not retry and sends no more connection requests now."
)


def _create(name: str, **options: Any) -> Endpoint:
    # Creates have no rate of their own: the pace (SPEC.pace) is their one limit.
    return Endpoint(name, "POST", f"/linkedin-agent/{name}", creates=True, **options)


CREATES = {e.name: e for e in (
    _create("fetch-profile"),
    _create("fetch-profiles-posts"),
    _create("fetch-company"),
    _create("fetch-company-posts"),
    _create("search-profiles"),
    _create("fetch-connections"),
    _create("like-post"),
    _create("comment-post"),
    _create("send-message"),
    # A 429 here is LinkedIn's weekly invitation cap, not "slow down": never retried.
    _create("send-connection-request", cap_429=INVITATION_CAP),
)}
GET_TASK_STATUS = Endpoint("get-task-status", "GET", "/linkedin-agent/get-task-status",
                           rate=_READ_RATE)

# task_type in task_input -> kit's kind (the endpoint that created it).  Documented: the first
# five; the others are **inferred** (OutX says "expect others"): an unknown type reads "unknown".
KINDS = {
    "agent_profile_fetch": "fetch-profile",
    "agent_profiles_tracking": "fetch-profiles-posts",
    "agent_like_post": "like-post",
    "agent_comment_post": "comment-post",
    "agent_send_message": "send-message",
    "agent_company_fetch": "fetch-company",
    "agent_company_posts_fetch": "fetch-company-posts",
    "agent_profiles_search": "search-profiles",
    "agent_connections_fetch": "fetch-connections",
    "agent_connection_request": "send-connection-request",
}

STATUS_MAP = {
    "pending": Status.PENDING,
    "processing": Status.RUNNING,
    "completed": Status.COMPLETED,
    "failed": Status.FAILED,
}

EXTENSION_HINT = (
    "OutX answers 403 when no member of your team has had its Chrome extension active in the "
    "last 48 hours. Open LinkedIn in Chrome with the OutX extension installed and signed in "
    "with this team (its heartbeat reaches OutX within minutes), then try again."
)

# LinkedIn custom URLs: 3-100 letters, digits, hyphens (and, in older profiles, underscores and
# non-Latin letters, which arrive percent-encoded in URLs).
_SLUG = re.compile(r"^[\w\-]{3,100}$", re.UNICODE)
_COMPANY_SLUG = re.compile(r"^[\w\-.&']{1,100}$", re.UNICODE)
_URN = re.compile(r"^urn:li:([A-Za-z_]+):(\S+)$")
# A profile's URN as fetch-profile gives it (fsd_profile) or as LinkedIn writes it elsewhere.
PROFILE_URN_TYPES = {"fsd_profile", "person", "member"}
# Profiles per fetch-profiles-posts task.  OutX publishes no maximum ("1 or more"): this is
# kit's own bound, so that one failed task loses at most this many profiles' posts.
POSTS_PER_TASK_MAX = 25
MESSAGE_LIMIT = 10_000
NOTE_LIMIT = 300


def _bad(value: Any, what: str) -> InvalidRequest:
    return InvalidRequest(f"OutX: {value!r:.80} {what}", service="OutX")


def _linkedin_path(value: str, section: str, example: str) -> str:
    """The slug after ``/<section>/`` in a LinkedIn URL, or ``value`` itself when it is no URL."""
    text = value.strip()
    if "/" not in text and "linkedin.com" not in text.lower():
        return unquote(text)
    url = text if "://" in text else "https://" + text.lstrip("/")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    is_linkedin = host == "linkedin.com" or host.endswith(".linkedin.com")
    if text.lstrip("/").startswith(f"{section}/"):
        is_linkedin, segments = True, [s for s in text.split("?")[0].split("/") if s]
    if not is_linkedin or len(segments) < 2 or segments[0].lower() != section:
        raise _bad(value, f"is not a LinkedIn {example}.")
    return unquote(segments[1])


def to_slug(value: Any) -> str:
    """The profile slug of a slug or a LinkedIn profile URL; ``InvalidRequest`` if there is none.

    Accepts ``williamhgates``, ``linkedin.com/in/williamhgates``,
    ``https://www.linkedin.com/in/williamhgates/?trk=...`` and percent-encoded slugs.
    """
    if not isinstance(value, str):
        raise _bad(value, "is not a profile slug: expected a string such as 'williamhgates' or a "
                          "URL such as 'https://www.linkedin.com/in/williamhgates'.")
    candidate = _linkedin_path(value, "in", "profile: expected "
                               "'https://www.linkedin.com/in/<slug>' or the slug alone")
    if not _SLUG.match(candidate):
        raise _bad(value, "cannot be a LinkedIn profile slug (3-100 letters, digits or hyphens, "
                          "as in 'john-doe-123abc').")
    return candidate


def to_company_slug(value: Any) -> str:
    """The company slug of ``microsoft`` or ``https://www.linkedin.com/company/microsoft/``."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(value, "is not a company slug: expected a string such as 'microsoft' or "
                          "'https://www.linkedin.com/company/microsoft'.")
    candidate = _linkedin_path(value, "company", "company page: expected "
                               "'https://www.linkedin.com/company/<slug>' or the slug alone")
    if not _COMPANY_SLUG.match(candidate):
        raise _bad(value, "cannot be a LinkedIn company slug (the part after "
                          "linkedin.com/company/, as in 'microsoft').")
    return candidate


def to_urn(value: Any, types: set[str] | None, what: str) -> str:
    """A LinkedIn URN (``urn:li:<type>:<id>``) of one of ``types`` (any type when None)."""
    match = _URN.match(value.strip()) if isinstance(value, str) else None
    if match is None or (types is not None and match.group(1) not in types):
        raise _bad(value, f"is not {what}.")
    return value.strip()


def to_profile_urn(value: Any) -> str:
    return to_urn(value, PROFILE_URN_TYPES, "a LinkedIn profile URN such as "
                  "'urn:li:fsd_profile:ACoAAA...' (fetch-profile gives it as profile_urn)")


def to_social_urn(value: Any) -> str:
    return to_urn(value, None, "a LinkedIn post URN such as 'urn:li:activity:7123456789012345678'")


def is_urn(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith("urn:")


def _text(value: Any, name: str, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"OutX: {name} must be a non-empty string.", service="OutX")
    if limit is not None and len(value) > limit:
        raise InvalidRequest(f"OutX: {name} has {len(value):,} characters; OutX takes at most "
                             f"{limit:,}. Shorten it.", service="OutX")
    return value


# search-profiles: the filters OutX takes, and which of them are lists (of LinkedIn ids).
SEARCH_TEXT = ("keywords", "title", "company", "first_name", "last_name", "school")
SEARCH_LISTS = ("geo_urn", "current_company", "industry", "past_company", "profile_language")
SEARCH_MAX = 50


def _count(value: Any, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidRequest(f"OutX: {name} must be a whole number from 1 to {high}, not "
                             f"{value!r:.40}.", service="OutX")
    return value


def search_input(filters: Mapping[str, Any]) -> dict[str, Any]:
    """A search-profiles body from filters; at least one filter, ``count`` at most 50."""
    if not isinstance(filters, Mapping):
        raise _bad(filters, "is not a search: give a dict of filters such as "
                            "{'title': 'Data Scientist', 'company': 'Spotify'}.")
    known = [*SEARCH_TEXT, *SEARCH_LISTS, "count"]
    body: dict[str, Any] = {}
    for name, value in filters.items():
        if name not in known:
            raise InvalidRequest(f"OutX search-profiles: unknown filter {name!r}."
                                 f"{did_you_mean(str(name), known)} Filters: {', '.join(known)}.",
                                 service="OutX")
        if value is None:
            continue
        if name == "count":
            body[name] = _count(value, "count", SEARCH_MAX)
        elif name in SEARCH_LISTS:
            items = [value] if isinstance(value, (str, int)) else value
            if not isinstance(items, (list, tuple)) or not items or not all(
                    isinstance(v, (str, int)) and str(v).strip() for v in items):
                raise InvalidRequest(f"OutX search-profiles: {name} must be a list of LinkedIn "
                                     f"ids (e.g. ['103644278']), not {value!r:.60}.",
                                     service="OutX")
            body[name] = [str(v).strip() for v in items]
        else:
            body[name] = _text(value, name)
    if not any(name in body for name in (*SEARCH_TEXT, *SEARCH_LISTS)):
        raise InvalidRequest("OutX search-profiles: give at least one filter (keywords, title, "
                             "company, first_name, last_name, school, geo_urn, current_company, "
                             "industry, past_company or profile_language).", service="OutX")
    return body


def connections_input(keyword: str | None = None, sort_type: str | None = None,
                      start: int = 0, count: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if keyword is not None:
        body["keyword"] = _text(keyword, "keyword")
    if sort_type is not None:
        if sort_type != "RECENTLY_ADDED":
            raise InvalidRequest("OutX fetch-connections: sort_type takes 'RECENTLY_ADDED' (newest "
                                 f"first) or None, not {sort_type!r:.40}.", service="OutX")
        body["sort_type"] = sort_type
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise InvalidRequest(f"OutX fetch-connections: start must be 0 or more, not {start!r:.40}.",
                             service="OutX")
    body["start"] = start
    if count is not None:
        body["count"] = _count(count, "count", 100)
    return body


class OutXErrors(ErrorReader):
    def error(self, endpoint: Endpoint, status: int, message: str, code: str | None,
              service: str) -> KitError:
        if status == 403:
            return PermissionDenied(f"OutX {endpoint.name}: HTTP 403: {message}. {EXTENSION_HINT}",
                                    status=403, service=service)
        return super().error(endpoint, status, message, code, service)


# -- what a task's output holds ------------------------------------------------------------------
# The docs show one flat profile; public clients read a nested ``task_output.profile`` with
# ``full_name`` and ``positions``.  Every other output is **inferred** (nothing public shows one):
# these readers are the one place that knows a shape, and every frame keeps the raw output.
PROFILE_FIELDS = ["name", "headline", "location", "profile_url", "connections", "followers",
                  "about", "experience", "education", "skills"]
_PROFILE_ALIASES = {"name": ("name", "full_name"), "about": ("about", "summary"),
                    "experience": ("experience", "positions"),
                    "profile_urn": ("profile_urn", "urn", "entity_urn")}
COMPANY_FIELDS = ["name", "industry", "employee_count", "description", "headquarters",
                  "website", "logo"]


def _first(source: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((source[n] for n in names if source.get(n) is not None), None)


def profile_fields(output: Any) -> dict[str, Any]:
    """``PROFILE_FIELDS`` and ``profile_urn`` from a fetch-profile output, flat or nested."""
    if not isinstance(output, Mapping):
        return dict.fromkeys([*PROFILE_FIELDS, "profile_urn"])
    nested = output.get("profile")
    source = {**output, **nested} if isinstance(nested, Mapping) else output
    return {name: _first(source, _PROFILE_ALIASES.get(name, (name,)))
            for name in [*PROFILE_FIELDS, "profile_urn"]}


def profile_urn(output: Any) -> str | None:
    urn = profile_fields(output)["profile_urn"]
    return urn if isinstance(urn, str) and _URN.match(urn) else None


def posts_of(output: Any, urn: str | None = None, carried: int = 1) -> list[Any] | None:
    """The posts in a fetch-profiles-posts (or company posts) output; with ``urn``, that
    profile's posts out of a task that ``carried`` profiles.  **Inferred**: a list, ``posts``
    (each post naming its ``profile_urn``), or ``profiles: [{profile_urn, posts}]``.  ``None``
    when the output does not say which of several profiles a post belongs to: never guessed."""
    if isinstance(output, Mapping) and isinstance(output.get("profiles"), list):
        for entry in output["profiles"]:
            if isinstance(entry, Mapping) and (urn is None or entry.get("profile_urn") == urn):
                found = entry.get("posts")
                return found if isinstance(found, list) else None
        return [] if urn is not None else None
    posts = output.get("posts") if isinstance(output, Mapping) else output
    if not isinstance(posts, list):
        return None
    if urn is None:
        return posts
    if posts and all(isinstance(p, Mapping) and "profile_urn" in p for p in posts):
        return [p for p in posts if p["profile_urn"] == urn]
    return posts if carried == 1 else None


def items_of(output: Any, *names: str) -> list[Any] | None:
    """The list of found profiles (search) or connections in an output (**inferred** keys)."""
    if isinstance(output, list):
        return output
    if isinstance(output, Mapping):
        for name in names:
            if isinstance(output.get(name), list):
                return output[name]
    return None


def failure_reason(output: Any) -> str:
    """A failed task's reason: its ``error`` field, else the whole output (OutX's MCP does so)."""
    if isinstance(output, Mapping) and output.get("error"):
        return str(output["error"])
    if output in (None, {}, ""):
        return "OutX reported the task as failed (no reason given)"
    return f"OutX reported the task as failed: {output!r:.500}"


def apply(task: Task, data: Mapping[str, Any]) -> None:
    """Update ``task`` from a get-task-status ``data`` object."""
    service_status = str(data.get("status") or "")
    task.service_status = service_status
    task.status = STATUS_MAP.get(service_status, Status.PENDING)
    task.updated_at = utcnow()
    if task.status is Status.COMPLETED:
        task.output = data.get("task_output")
        task.error = None
    elif task.status is Status.FAILED:
        task.output = data.get("task_output")
        task.error = failure_reason(task.output)


class OutX(ServiceClient):
    """Async client of the OutX LinkedIn agent (``x-api-key``; key from ``OUTX_API_KEY``).

    ``async with kit.OutX() as c: t = await c.fetch_profile("williamhgates"); [t] = await c.wait([t])``

    Every create is a LinkedIn action on your team's account and waits for its slot of the pace
    (``pace=``, default ``kit.Pace()``: 50 an hour, spread out).  kit never repeats a create
    that may have reached OutX: after a timeout, read the task again (``get_task``).
    """

    spec = SPEC
    errors = OutXErrors()
    status_rate = _READ_RATE

    async def _create(self, kind: str, body: dict[str, Any], *, paced: bool = False) -> Task:
        """Send one create.  ``paced``: a job's claim spent its slot of the pace and journals
        the task with its input's state, in one transaction; else the pace is waited for here
        and the task journaled before this returns."""
        endpoint = CREATES[kind]
        async with contextlib.nullcontext() if paced else self._direct_create(kind):
            data = await self._call(endpoint, json_body=body)
            task_id = (valid_task_id(data.get("api_agent_task_id")) if isinstance(data, dict)
                       else None)
            if not task_id:
                raise ServiceError(
                    f"OutX {endpoint.name}: the answer has no usable api_agent_task_id "
                    f"({data!r:.200}); "
                    "the task may exist at OutX: check before creating it again.",
                    service="OutX", may_have_acted=True,
                )
            task = Task(service="outx", id=str(task_id), kind=kind, input=body,
                        service_status="pending")
            if not paced:
                self._record([task])
        return task

    async def send(self, items: list[tuple[str, dict[str, Any]]], options: dict[str, Any]
                   ) -> list[Task | KitError]:
        """A job's claimed inputs (one per request: each is one LinkedIn action)."""
        async def one(kind: str, body: dict[str, Any]) -> Task | KitError:
            try:
                return await self._create(kind, body, paced=True)
            except KitError as exc:
                return exc

        # All of them finish (none is cancelled half-sent), then a whole-call error is raised
        # with every task that was made, in order.
        results = list(await asyncio.gather(*(one(kind, body) for kind, body in items)))
        fatal = next((r for r in results if isinstance(r, WholeCallError)), None)
        if fatal is not None:
            fatal.tasks = [r if isinstance(r, Task) else None for r in results]
            raise fatal
        return results

    # -- data ------------------------------------------------------------------------------
    async def fetch_profile(self, slug: str) -> Task:
        """A profile, by slug or profile URL; its output carries the ``profile_urn``."""
        return await self._create("fetch-profile", {"profile_slug": to_slug(slug)})

    async def fetch_profiles_posts(self, profile_urns: list[str] | str) -> Task:
        """Recent posts of one or more profiles, by profile URN (``fetch_profile`` gives it).
        One task, one LinkedIn action, whatever the number of profiles."""
        urns = [profile_urns] if isinstance(profile_urns, str) else profile_urns
        if not isinstance(urns, (list, tuple)) or not urns:
            raise InvalidRequest("OutX fetch-profiles-posts: give one or more profile URNs.",
                                 service="OutX")
        return await self._create("fetch-profiles-posts",
                                  {"profile_urns": [to_profile_urn(u) for u in urns]})

    async def fetch_company(self, slug: str) -> Task:
        """A company page, by slug or ``linkedin.com/company/<slug>`` URL."""
        return await self._create("fetch-company", {"company_slug": to_company_slug(slug)})

    async def fetch_company_posts(self, slug: str) -> Task:
        """A company page's recent posts, by slug or company URL."""
        return await self._create("fetch-company-posts", {"company_slug": to_company_slug(slug)})

    async def search_profiles(self, **filters: Any) -> Task:
        """Search LinkedIn profiles: at least one of ``keywords, title, company, first_name,
        last_name, school`` (text) or ``geo_urn, current_company, industry, past_company,
        profile_language`` (lists of LinkedIn ids); ``count`` 1-50 (OutX's default 25)."""
        return await self._create("search-profiles", search_input(filters))

    async def fetch_connections(self, *, keyword: str | None = None,
                                sort_type: str | None = None, start: int = 0,
                                count: int | None = None) -> Task:
        """Your team admin's 1st-degree connections, a page at a time (``start``, ``count``
        up to 100; ``sort_type="RECENTLY_ADDED"`` for newest first)."""
        return await self._create("fetch-connections",
                                  connections_input(keyword, sort_type, start, count))

    # -- public actions: each is done as your team's oldest admin, and never repeated --------
    async def like_post(self, social_urn: str) -> Task:
        """Like a post as your team's LinkedIn account.  Acts in public: kit never repeats it."""
        return await self._create("like-post", {"social_urn": to_social_urn(social_urn)})

    async def comment_post(self, social_urn: str, text: str) -> Task:
        """Comment on a post as your team's LinkedIn account.  Acts in public: never repeated."""
        body = {"social_urn": to_social_urn(social_urn), "comment_text": _text(text, "the comment")}
        return await self._create("comment-post", body)

    async def send_message(self, recipient_urn: str, message: str) -> Task:
        """Message a 1st-degree connection (up to 10,000 characters) as your team's admin; to
        anyone else the task fails.  Acts in public: never repeated."""
        body = {"recipient_urn": to_urn(recipient_urn, PROFILE_URN_TYPES,
                                        "a LinkedIn person URN such as 'urn:li:person:ACoAAB...'"),
                "message": _text(message, "the message", MESSAGE_LIMIT)}
        return await self._create("send-message", body)

    async def send_connection_request(self, profile_urn: str, note: str | None = None) -> Task:
        """Invite a profile to connect, with an optional note (up to 300 characters).  Acts in
        public: never repeated; LinkedIn's invitation cap raises ``RateLimited`` at once."""
        body: dict[str, Any] = {"profile_urn": to_profile_urn(profile_urn)}
        if note is not None:
            body["note"] = _text(note, "the note", NOTE_LIMIT)
        return await self._create("send-connection-request", body)

    # -- reading ---------------------------------------------------------------------------
    async def get_task(self, task_id: str) -> Task:
        """Read one task by id (any task of your team, also one created elsewhere)."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise InvalidRequest(f"OutX get-task-status: {task_id!r} is not a task id.",
                                 service="OutX")
        task = Task(service="outx", id=task_id.strip(), kind="unknown")
        await self._refresh(task)
        return task

    async def _refresh(self, task: Task) -> None:
        body = await self._call(GET_TASK_STATUS, params={"api_agent_task_id": task.id})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ServiceError(f"OutX get-task-status: unexpected answer {body!r:.200}",
                               service="OutX")
        task_input = data.get("task_input")
        if isinstance(task_input, dict):
            if task.kind == "unknown":
                task.kind = KINDS.get(str(task_input.get("task_type")), "unknown")
            if not task.input:
                task.input = {k: v for k, v in task_input.items() if k != "task_type"}
        apply(task, data)
