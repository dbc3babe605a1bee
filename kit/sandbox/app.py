"""The sandbox's aiohttp application: every service's routes behind one origin."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .faults import Faults, middleware


@dataclass(frozen=True)
class Hit:
    """One request the sandbox answered (kept for tests and the benchmark)."""

    at: float  # time.monotonic() when the request arrived (what rate limits count)
    method: str
    path: str
    status: int
    route: str = ""  # the route's template, e.g. /v1/tasks/{task_id}


class RequestLog:
    def __init__(self, maxlen: int = 500_000) -> None:
        self.hits: collections.deque[Hit] = collections.deque(maxlen=maxlen)

    def middleware(self):
        @web.middleware
        async def record(request: web.Request, handler):
            status, arrived = 599, time.monotonic()
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                info = request.match_info
                route = getattr(getattr(info, "route", None), "resource", None)
                template = route.canonical if route is not None else request.path
                self.hits.append(Hit(arrived, request.method, request.path, status, template))

        return record

    def count(self, path_prefix: str = "", method: str | None = None,
              status: int | None = None) -> int:
        return sum(1 for h in list(self.hits)
                   if h.path.startswith(path_prefix)
                   and (method is None or h.method == method)
                   and (status is None or h.status == status))

    def clear(self) -> None:
        self.hits.clear()

    def summary(self) -> list[dict]:
        """Requests by method, route template and status."""
        counts = collections.Counter((h.method, h.route, h.status) for h in list(self.hits))
        return [{"method": m, "route": r, "status": s, "count": n}
                for (m, r, s), n in sorted(counts.items())]


async def _not_found(request: web.Request) -> web.Response:
    return web.json_response({"success": False, "error": f"No route for {request.path}"},
                             status=404)


def build_app(services: list, faults: Faults, log: RequestLog,
              stats: Callable[[], dict] | None = None) -> web.Application:
    # The log is outermost, so it records what the faults made of each request.
    app = web.Application(middlewares=[log.middleware(), middleware(faults)])
    for service in services:
        app.add_routes(service.routes())
    if stats is not None:
        # Not part of any service: lets a test in another process see what the sandbox holds.
        async def serve_stats(request: web.Request) -> web.Response:
            return web.json_response(stats())

        app.router.add_get("/_sandbox/stats", serve_stats)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
