"""Switchable fault injection for the sandbox, as one aiohttp middleware.

    sandbox.faults.add("5xx", times=3)                       # the next 3 requests answer 503
    sandbox.faults.add("429", times=2, retry_after=1)        # 429 with Retry-After: 1
    sandbox.faults.add("slow", delay=5, path="/linkedin-agent/get-task-status")
    sandbox.faults.add("drop", times=1, method="POST")       # connection closed, no answer
    sandbox.faults.add("5xx", times=1, method="POST", after=True)  # acted, then the answer was lost
    sandbox.faults.clear()

Kinds: ``5xx`` (JSON error, ``status``), ``html`` (an HTML error page, as a proxy shows),
``bad_json`` (200 with a truncated body), ``429`` (optional ``retry_after``), ``slow``
(answer after ``delay`` real seconds), ``drop`` (close the connection without answering).
With ``after=True`` the request is first handled (a task is created) and the answer replaced
(``slow``: delayed).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

KINDS = ("5xx", "html", "bad_json", "429", "slow", "drop")


@dataclass
class FaultRule:
    kind: str
    times: int | None = None  # how many requests it hits; None: until cleared
    rate: float = 1.0  # chance that a matching request is hit
    path: str | None = None  # path prefix to match
    method: str | None = None
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    after: bool = False
    hits: int = 0

    def matches(self, request: web.Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.path and not request.path.startswith(self.path):
            return False
        return not (self.method and request.method != self.method.upper())


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def add(self, kind: str, **options) -> FaultRule:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose one of {KINDS}")
        rule = FaultRule(kind, **options)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, request: web.Request) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(request) and self._rng.random() < rule.rate:
                    rule.hits += 1
                    return rule
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _body(request: web.Request, message: str, code: str) -> dict:
    """An error body in the shape of the service the path belongs to."""
    if request.path.startswith("/v1/tasks"):
        return {"error": {"code": code, "message": message, "details": []}}
    if request.path.startswith("/v1/market"):
        return {"detail": message}
    return {"success": False, "error": message}


def fault_response(rule: FaultRule, request: web.Request) -> web.StreamResponse:
    if rule.kind == "429":
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
        return web.json_response(_body(request, "Too many requests", "TOO_MANY_REQUESTS"),
                                 status=429, headers=headers)
    if rule.kind == "html":
        body = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>"
                "502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
        return web.Response(text=body, status=502, content_type="text/html")
    if rule.kind == "bad_json":
        return web.Response(text='{"success": true, "data": {"id": ', status=200,
                            content_type="application/json")
    return web.json_response(_body(request, "Internal server error", "INTERNAL_ERROR"),
                             status=rule.status)


def drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (what the client sees as a reset)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=599)  # never sent: the connection is gone


def middleware(faults: Faults) -> Callable:
    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        rule = faults.pick(request)
        if rule is None:
            return await handler(request)
        if rule.kind == "slow":
            # The request has arrived whole; only the answer is late (a slow backend), or with
            # ``after=True`` the work is done at once and its answer is late on its way back.
            await request.read()
            if rule.after:
                answer = await handler(request)
                await asyncio.sleep(rule.delay)
                return answer
            await asyncio.sleep(rule.delay)
            return await handler(request)
        if rule.after:
            await handler(request)
        if rule.kind == "drop":
            return drop(request)
        return fault_response(rule, request)

    return inject
