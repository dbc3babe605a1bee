"""Fake services on loopback for tests of hostile or broken answers."""

from __future__ import annotations

import contextlib

from aiohttp import web

import kit

KEY = "echo-me-0123456789abcdef"
FAST = kit.RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, seed=1)


@contextlib.asynccontextmanager
async def fake(client_cls, handler, hits=None):
    """A fake service on loopback answering every request with ``handler``; yields a client."""
    async def counted(request):
        if hits is not None:
            hits.append(f"{request.method} {request.path}")
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counted)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    extra = {"pace": kit.Pace.unlimited()} if client_cls is kit.OutX else {}
    try:
        async with client_cls(api_key=KEY, base_url=f"http://127.0.0.1:{port}", journal=False,
                              retry=FAST, **extra) as client:
            yield client
    finally:
        await runner.cleanup()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed again): a dead service."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
