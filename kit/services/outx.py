"""OutX LinkedIn agent: five endpoints, slugs, and how its tasks are read and mapped.

Work is done by a team member's Chrome extension, so a task may wait for as long as no extension
picks it up.  Docs: poll every 5 s, most tasks finish in 10-60 s, give up after 2-3 minutes.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.client import ServiceClient
from ..core.errors import InvalidRequest, KitError, PermissionDenied, ServiceError, WholeCallError
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
    pace=Pace(per_hour=50, per_minute=5),
)

# Status reads are not LinkedIn actions and no limit is published: this keeps a large batch
# polite without making it slow (10,000 tasks are each read once in 30 s).
_READ_RATE = Rate(300, 1.0)

# Creates have no rate of their own here: the pace (SPEC.pace) is their one limit.
FETCH_PROFILE = Endpoint("fetch-profile", "POST", "/linkedin-agent/fetch-profile", creates=True)
FETCH_POSTS = Endpoint("fetch-posts", "POST", "/linkedin-agent/fetch-posts", creates=True)
LIKE_POST = Endpoint("like-post", "POST", "/linkedin-agent/like-post", creates=True)
COMMENT_POST = Endpoint("comment-post", "POST", "/linkedin-agent/comment-post", creates=True)
_CREATES = {e.name: e for e in (FETCH_PROFILE, FETCH_POSTS, LIKE_POST, COMMENT_POST)}
GET_TASK_STATUS = Endpoint("get-task-status", "GET", "/linkedin-agent/get-task-status",
                           rate=_READ_RATE)

# task_type in task_input -> kit's kind (the endpoint that created it)
KINDS = {
    "agent_profile_fetch": "fetch-profile",
    "agent_profiles_tracking": "fetch-posts",
    "agent_like_post": "like-post",
    "agent_comment_post": "comment-post",
}

STATUS_MAP = {
    "pending": Status.PENDING,
    "processing": Status.RUNNING,  # not documented; harmless to understand
    "completed": Status.COMPLETED,
    "failed": Status.FAILED,
}

EXTENSION_HINT = (
    "No member of your OutX team has the Chrome extension running. Open LinkedIn in Chrome with "
    "the OutX extension installed and active (signed in with this team), then try again."
)

# LinkedIn custom URLs: 3-100 letters, digits, hyphens (and, in older profiles, underscores and
# non-Latin letters, which arrive percent-encoded in URLs).
_SLUG = re.compile(r"^[\w\-]{3,100}$", re.UNICODE)


def to_slug(value: Any) -> str:
    """The profile slug of a slug or a LinkedIn profile URL; ``InvalidRequest`` if there is none.

    Accepts ``williamhgates``, ``linkedin.com/in/williamhgates``,
    ``https://www.linkedin.com/in/williamhgates/?trk=...`` and percent-encoded slugs.
    """
    if not isinstance(value, str):
        raise InvalidRequest(
            f"OutX: {value!r:.80} is not a profile slug: expected a string such as 'williamhgates' "
            "or a URL such as 'https://www.linkedin.com/in/williamhgates'.",
            service="OutX",
        )
    text = value.strip()
    candidate = text
    lowered = text.lower()
    if "/" in text or "linkedin.com" in lowered:
        url = text if "://" in text else "https://" + text.lstrip("/")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        segments = [s for s in parts.path.split("/") if s]
        is_linkedin = host == "linkedin.com" or host.endswith(".linkedin.com")
        if text.startswith("in/") or text.startswith("/in/"):
            is_linkedin, segments = True, [s for s in text.split("?")[0].split("/") if s]
        if not is_linkedin or len(segments) < 2 or segments[0].lower() != "in":
            raise InvalidRequest(
                f"OutX: {value!r:.80} is not a LinkedIn profile: expected "
                "'https://www.linkedin.com/in/<slug>' or the slug alone.",
                service="OutX",
            )
        candidate = segments[1]
    candidate = unquote(candidate)
    if not _SLUG.match(candidate):
        raise InvalidRequest(
            f"OutX: {value!r:.80} cannot be a LinkedIn profile slug (3-100 letters, digits or "
            "hyphens, as in 'john-doe-123abc').",
            service="OutX",
        )
    return candidate


def to_social_urn(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^urn:li:[A-Za-z]+:\S+$", value.strip()):
        raise InvalidRequest(
            f"OutX: {value!r:.80} is not a LinkedIn post URN such as "
            "'urn:li:activity:7123456789012345678'.",
            service="OutX",
        )
    return value.strip()


class OutXErrors(ErrorReader):
    def error(self, endpoint: Endpoint, status: int, message: str, code: str | None,
              service: str) -> KitError:
        if status == 403:
            return PermissionDenied(f"OutX {endpoint.name}: HTTP 403: {message}. {EXTENSION_HINT}",
                                    status=403, service=service)
        return super().error(endpoint, status, message, code, service)


def apply(task: Task, data: dict[str, Any]) -> None:
    """Update ``task`` from a get-task-status ``data`` object."""
    service_status = str(data.get("status") or "")
    task.service_status = service_status
    task.status = STATUS_MAP.get(service_status, Status.PENDING)
    task.updated_at = utcnow()
    if task.status is Status.COMPLETED:
        task.output = data.get("task_output")
        task.error = None
    elif task.status is Status.FAILED:
        output = data.get("task_output")
        task.error = (output or {}).get("error") if isinstance(output, dict) else None
        task.error = task.error or "OutX reported the task as failed"


class OutX(ServiceClient):
    """Async client of the OutX LinkedIn agent (``x-api-key``; key from ``OUTX_API_KEY``).

    ``async with kit.OutX() as c: t = await c.fetch_profile("williamhgates"); [t] = await c.wait([t])``
    """

    spec = SPEC
    errors = OutXErrors()
    status_rate = _READ_RATE

    async def _create(self, endpoint: Endpoint, kind: str, body: dict[str, Any], *,
                      paced: bool = False) -> Task:
        """Send one create.  ``paced``: a job's claim spent its slot of the pace and journals
        the task with its input's state, in one transaction; else the pace is waited for here
        and the task journaled before this returns."""
        if not paced:
            await self._wait_for_pace()
        data = await self._call(endpoint, json_body=body)
        task_id = valid_task_id(data.get("api_agent_task_id")) if isinstance(data, dict) else None
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
                return await self._create(_CREATES[kind], kind, body, paced=True)
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

    async def fetch_profile(self, slug: str) -> Task:
        """Create a fetch-profile task for a slug or profile URL."""
        return await self._create(FETCH_PROFILE, "fetch-profile", {"profile_slug": to_slug(slug)})

    async def fetch_posts(self, slug: str) -> Task:
        """Create a fetch-posts task for a slug or profile URL."""
        return await self._create(FETCH_POSTS, "fetch-posts", {"profile_slug": to_slug(slug)})

    async def like_post(self, social_urn: str) -> Task:
        """Like a post as your team's LinkedIn account.  Acts in public: kit never repeats it."""
        return await self._create(LIKE_POST, "like-post", {"social_urn": to_social_urn(social_urn)})

    async def comment_post(self, social_urn: str, text: str) -> Task:
        """Comment on a post as your team's LinkedIn account.  Acts in public: never repeated."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest("OutX comment-post: the comment text must be a non-empty string.",
                                 service="OutX")
        body = {"social_urn": to_social_urn(social_urn), "comment_text": text}
        return await self._create(COMMENT_POST, "comment-post", body)

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
