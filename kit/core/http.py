"""One aiohttp session per client: timeouts, pacing, retries, and errors turned into kit's own.

Everything that touches the network goes through :class:`HttpEngine.request`.  It never lets an
aiohttp exception escape (their ``request_info`` carries the request headers, and so the key):
failures become :mod:`kit.core.errors` with messages built from the status, the path and the body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp

from .clock import ServiceClock
from .errors import (
    AnswerTooLarge,
    KitError,
    ServiceError,
    ServiceUnreachable,
    TransportError,
    error_for_status,
)
from .pacing import Pacer, pacer_for
from .policy import Attempt, Outcome, Rate, RetryPolicy, may_have_acted, may_retry, parse_retry_after
from .secrets import Secret
from .spec import ServiceSpec

log = logging.getLogger("kit.http")

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=15, sock_read=45)

# Failures in which the request certainly never reached the service: safe to repeat any request.
_NOT_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,)
if hasattr(aiohttp, "ConnectionTimeoutError"):  # aiohttp >= 3.10 tells connect timeouts apart
    _NOT_SENT += (aiohttp.ConnectionTimeoutError,)


MiB = 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One documented endpoint: how to call it and how carefully.

    ``creates`` marks a request that makes the service act or spend money (a POST that creates,
    confirms, likes, comments): kit repeats it only when the service certainly did not act.
    Endpoints that share ``bucket`` share one rate limiter (one published limit for several paths).
    """

    name: str
    method: str
    path: str
    creates: bool = False
    rate: Rate | None = None
    bucket: str | None = None
    # The largest answer kit reads (bytes): a status answer is kilobytes; an endless or huge body
    # from a broken or hostile service must not take the machine's memory.
    max_body: int = 8 * MiB
    # Where a 429 means a cap was reached, not "slow down" (OutX's connection requests: LinkedIn's
    # invitation cap): what to tell the user.  Such a 429 is final, never retried.
    cap_429: str | None = None

    def url_path(self, path_params: Mapping[str, str] | None) -> str:
        if not path_params:
            return self.path
        from urllib.parse import quote

        return self.path.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


class ErrorReader:
    """How a service words its errors: overridden per service (body shape, codes, hints)."""

    def describe(self, status: int, body: Any, text: str) -> tuple[str, str | None]:
        """(message, code) from an error answer; the service's own words where it gave any."""
        if isinstance(body, dict):
            for key in ("error", "message", "detail", "msg"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value, None
                if isinstance(value, dict):
                    return str(value.get("message") or value), value.get("code")
        snippet = " ".join(text.split())[:200]
        return (snippet or f"HTTP {status}"), None

    def error(
        self, endpoint: Endpoint, status: int, message: str, code: str | None, service: str
    ) -> KitError:
        cls = error_for_status(status)
        if status == 429 and endpoint.cap_429:
            message = f"{message}. {endpoint.cap_429}"
        return cls(
            f"{service} {endpoint.name}: HTTP {status}: {message}",
            status=status,
            code=code,
            service=service,
        )



# Set by a job around one request's inputs (kit.core.jobs): awaited just before a create goes
# out, after any wait for the endpoint's rate or a queue's room, so that an input is journaled as
# "sending" when it may act and not while it still waits (a kill then leaves it queued).
before_create: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "before_create", default=None)

class HttpEngine:
    """The HTTP layer of one client (one service, one key, one base URL)."""

    def __init__(self, spec: ServiceSpec, *, base_url: str, key: Secret, errors: ErrorReader,
                 retry: RetryPolicy, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
                 clock: ServiceClock | None = None) -> None:
        self.spec = spec
        self.service = spec.label
        self.base_url = base_url
        self._key = key
        self._errors = errors
        self.retry = retry
        self.timeout = timeout
        self.clock = clock or ServiceClock()
        self._session: aiohttp.ClientSession | None = None
        # What this client asked and was answered, by endpoint name and status: for tests, the
        # benchmark and anyone curious about how many requests a batch cost.
        self.stats: Counter[tuple[str, int]] = Counter()

    def __repr__(self) -> str:
        return f"HttpEngine(service={self.service!r}, base_url={self.base_url!r})"

    # -- session -------------------------------------------------------------------------
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.spec.max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": "kit/0.1 (+aiohttp)", "Accept": "application/json"},
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- pacing --------------------------------------------------------------------------
    def _pacer(self, endpoint: Endpoint) -> Pacer | None:
        if endpoint.rate is None:
            return None
        return pacer_for(self.service, self._key.pace_key, endpoint.bucket or endpoint.name,
                         endpoint.rate, self.clock)

    # -- requests ------------------------------------------------------------------------
    async def request(
        self,
        endpoint: Endpoint,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send one request (with the retries :func:`may_retry` allows) and return its JSON."""
        try:
            return await self._request(endpoint, path_params, params, json_body)
        except KitError as error:
            # No aiohttp exception may hang off kit's errors (its request_info holds the headers,
            # and so the key). Python 3.10 can attach one as implicit context even when kit
            # raises outside the except block.
            error.__context__ = error.__cause__ = None
            raise

    async def _request(
        self,
        endpoint: Endpoint,
        path_params: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        json_body: Any,
    ) -> Any:
        policy = self.retry
        path = endpoint.url_path(path_params)
        url = self.base_url + path
        for number in range(1, policy.attempts + 1):
            try:
                return await self._once(endpoint, url, path, params, json_body)
            except _Failed as failed:
                error, attempt = failed.error, failed.attempt
            error.may_have_acted = may_have_acted(attempt, creates=endpoint.creates)
            if number == policy.attempts or not may_retry(
                    policy, attempt, creates=endpoint.creates,
                    retry_429_codes=self.spec.retry_429_codes, retry_429=endpoint.cap_429 is None):
                raise error
            # Retry-After is in the service's seconds (the sandbox's run faster).
            delay = policy.delay(number, None if attempt.retry_after is None else
                                 self.clock.real(attempt.retry_after))
            log.debug("%s %s: %s; retry %d/%d in %.2fs", endpoint.method, path, error.message,
                      number, policy.attempts - 1, delay)
            await self.clock.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    async def _once(
        self,
        endpoint: Endpoint,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
    ) -> Any:
        pacer = self._pacer(endpoint)
        if pacer is not None:
            await pacer.wait()
        leaving = before_create.get() if endpoint.creates else None
        if leaving is not None:  # the job journals its inputs as sending: from here they may act
            await leaving()
        session = self._get_session()
        headers = {self.spec.auth_header: self.spec.auth_prefix + self._key.reveal()}
        started = time.perf_counter()
        failure: KitError | None = None
        outcome = Outcome.NOT_SENT
        try:
            async with session.request(
                endpoint.method,
                url,
                params=params,
                json=json_body,
                headers=headers,
                allow_redirects=False,  # a redirect would carry the key somewhere else
            ) as resp:
                status = resp.status
                resp_headers = dict(resp.headers)
                raw = await _read_capped(resp, endpoint.max_body)
        except _NOT_SENT as exc:
            failure = self._transport_error(endpoint, path, exc, sent=False)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            failure = self._transport_error(endpoint, path, exc, sent=True)
            outcome = Outcome.NO_ANSWER
        if failure is not None:
            if pacer is not None and outcome is Outcome.NOT_SENT:
                pacer.release()  # the service saw nothing: its limit is untouched
            # Raised outside the except block: no aiohttp exception is chained to kit's error.
            self.stats[(endpoint.name, 0)] += 1
            log.debug("%s %s -> %s", endpoint.method, path, failure.message)
            raise _Failed(failure, Attempt(outcome))

        elapsed = (time.perf_counter() - started) * 1000
        self.stats[(endpoint.name, status)] += 1
        log.debug("%s %s -> %d (%.0f ms)", endpoint.method, path, status, elapsed)
        err: KitError
        if raw is None:
            err = AnswerTooLarge(
                f"{self.service} {endpoint.name}: HTTP {status} with an answer over "
                f"{endpoint.max_body // MiB} MiB; kit stopped reading it (a broken or hostile "
                "service?). " + ("The request may have acted: kit does not repeat it."
                                 if endpoint.creates else "Not retried."),
                status=status, service=self.service)
            raise _Failed(err, Attempt(Outcome.TOO_LARGE, status))
        # A service may echo the key back (in an error, in a task's text): it never reaches
        # kit's messages, tasks, frames, exports or journal.
        text = raw.decode("utf-8", errors="replace").replace(self._key.reveal(), "***")
        del raw
        try:
            body: Any = _parse(text, self._key.reveal())
            parsed = True
        except (ValueError, RecursionError):
            body, parsed = None, False

        if 200 <= status < 300:
            if not parsed:
                # The service answered but kit cannot read it.  A read may be retried; a create
                # has happened and must not be repeated.
                err = ServiceError(
                    f"{self.service} {endpoint.name}: HTTP {status} with an answer that is not "
                    f"JSON ({_snippet(text)!r}); the service may be having trouble.",
                    status=status,
                    service=self.service,
                )
                raise _Failed(err, Attempt(Outcome.UNREADABLE, status))
            return body

        if 300 <= status < 400:
            raise _Failed(
                KitError(
                    f"{self.service} {endpoint.name}: the service redirected (HTTP {status}) and "
                    "kit does not follow redirects with your key; check base_url.",
                    status=status,
                    service=self.service,
                ),
                Attempt(Outcome.REDIRECT, status),
            )
        message, code = self._errors.describe(status, body, text)
        if not parsed and "<html" in text.lower():
            message = f"an HTML error page ({_snippet(text)!r})"
        error = self._errors.error(endpoint, status, message, code, self.service)
        error.body = body  # a create's answer may hold the id of what was made, error or not
        retry_after = parse_retry_after(resp_headers.get("Retry-After"))
        raise _Failed(error, Attempt(Outcome.ANSWERED, status, code, retry_after))

    def _transport_error(
        self, endpoint: Endpoint, path: str, exc: BaseException, *, sent: bool
    ) -> TransportError:
        what = type(exc).__name__
        if isinstance(exc, asyncio.TimeoutError):
            detail = f"no answer within the client timeout ({self.timeout.total} s)"
        elif isinstance(exc, aiohttp.ClientConnectorError):  # said plainly, not aiohttp's repr
            errno = getattr(exc.os_error, "errno", None)
            reason = os.strerror(errno) if errno else "connection failed"
            detail = f"cannot connect to {exc.host}:{exc.port}: {reason.lower()}"
        else:
            detail = f"{what}: {exc}"
        hint = (
            " The request may have reached the service: kit did not repeat it, so nothing is "
            "created twice."
            if sent and endpoint.creates
            else " Check your network connection and base_url; nothing was sent."
        )
        cls = TransportError if sent else ServiceUnreachable
        return cls(
            f"{self.service} {endpoint.name}: {endpoint.method} {path} failed ({detail}).{hint}",
            service=self.service,
        )


class _Failed(Exception):
    """Internal: a failed attempt, its error and what became of it (for :func:`may_retry`)."""

    def __init__(self, error: KitError, attempt: Attempt) -> None:
        self.error, self.attempt = error, attempt


# No answer of any service nests deeper; a deeper one would break the code that walks it
# (frames, the journal's JSON) far from here.
MAX_DEPTH = 64


def _finite(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _parse(text: str, secret: str) -> Any:
    """JSON as kit reads it: NaN, Infinity and 1e400 are no numbers (null), an answer nested
    deeper than ``MAX_DEPTH`` is unreadable (``ValueError``), and ``secret`` is replaced by
    ``***`` in every string and name (also where the service wrote it escaped, ``\\u0073...``)."""
    if not text.strip():
        return None
    body = json.loads(text, parse_constant=lambda _: None, parse_float=_finite)
    if isinstance(body, str):
        return body.replace(secret, "***")
    stack = [(body, 1)]
    while stack:  # iterative: the walk itself must not recurse
        value, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for name in [n for n in value if secret in n]:
                value[name.replace(secret, "***")] = value.pop(name)
            slots: Any = value.items()
        else:
            slots = enumerate(value)
        for slot, item in list(slots):
            if isinstance(item, str):
                if secret in item:
                    value[slot] = item.replace(secret, "***")
            else:
                stack.append((item, depth + 1))
    return body


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytearray | None:
    """The body, or None when it is longer than ``limit`` bytes (read no further)."""
    if resp.content_length is not None and resp.content_length > limit:
        return None
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return body


def _snippet(text: str, n: int = 80) -> str:
    return " ".join(text.split())[:n]
