"""The sandbox: the three services' documented contracts, served from this machine.

``kit.Sandbox()`` starts it on a free loopback port in a background thread; while it runs it is
the default target of kit's clients and helpers (an explicit ``base_url``/``api_key`` still
wins).  ``speed`` makes service time run faster: with ``speed=60`` a task that takes 30 s at the
service completes in half a second, and clients scale their poll intervals to match.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from ..core.config import Target, push_target, remove_target
from ..core.errors import InvalidRequest
from ..core.journal import discard, mark_temporary
from ..core.secrets import Secret
from .agora import AgoraAccount, AgoraConfig, AgoraSandbox
from .app import RequestLog, build_app
from .clock import Clock
from .faults import Faults
from .linkup import LinkupAccount, LinkupConfig, LinkupSandbox
from .outx import FLAG_PER_DAY, OutXConfig, OutXSandbox, Team, triangular

TEAMS = {
    "outx": ("acme", "globex", "no-extension", "no-admin"),
    "linkup": ("acme", "globex", "low-credits", "over-budget"),
    "agora": ("acme", "globex", "broke"),
}

__all__ = ["Sandbox"]


_JOURNAL_NAME = re.compile(r"^kit-sandbox-(\d+)-[0-9a-f]+\.sqlite3(?:-wal|-shm)?$")


def _sweep_dead_journals() -> None:
    """Remove sandbox journals left by processes that died without stopping their sandbox (a
    kernel killed outright skips atexit).  POSIX only: there signal 0 asks whether a process
    lives; another user's files are not ours to remove (the sticky /tmp refuses anyway)."""
    if os.name != "posix":
        return
    folder = tempfile.gettempdir()
    for name in os.listdir(folder):
        found = _JOURNAL_NAME.match(name)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
            continue  # alive (its sandbox may be running)
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue  # another user's process, or no such pid: leave it
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


class Sandbox:
    """A running emulation of OutX (and the other services) on ``127.0.0.1``.

    ``with kit.Sandbox(speed=60) as sb: df = kit.profiles([...])``

    Accounts per service (``"acme"`` is the default key everywhere; ``"globex"`` another team):
    OutX ``"no-extension"`` (no member runs the Chrome extension: 403) and ``"no-admin"`` (like
    and comment answer 404); Linkup ``"low-credits"`` (120 tasks' worth) and ``"over-budget"``;
    Agora ``"broke"`` (no credits).  Keys are random per sandbox: ``api_key(service, team)``.
    ``clock.advance(seconds)`` moves service time forward (expiry without waiting a day).

    OutX tasks are worked by each team's ``outx_extensions`` Chrome extensions, one task each at
    a time, for ``outx_delay`` service seconds, while the browser is open: never inside
    ``outx_away`` (``[(start, end), ...]`` in service seconds from the start), nor nightly with
    ``outx_night=(start hour, hours)``, nor while ``sb.outx.set_online("acme", False)``.
    ``outx_flag`` = (per minute, per hour, seconds) and ``outx_flag_per_day`` (per task kind)
    model LinkedIn flagging a team whose *executions* (an extension starting a task) burst
    (``None``: never); see ``kit.sandbox.outx``.
    ``durations_by_input``: every task's duration is drawn from its own input (and the seed), not
    from one shared stream, so it is the same whatever order tasks arrive in (the benchmark).
    ``list_lag``: service seconds before a new Linkup or Agora task shows in their task lists
    (eventually consistent lists; ``sb.linkup.config.list_lag`` changes it while running).
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        activate: bool = True,
        outx_delay: tuple[float, float, float] | Any = (10.0, 20.0, 60.0),
        outx_reject: Iterable[str] = (),
        outx_stuck: Iterable[str] = (),
        outx_unavailable: Iterable[str] = (),
        outx_extensions: int = 4,
        outx_flag: tuple[int, int, float] | None = (10, 120, 21600.0),
        outx_flag_per_day: dict[str, int] | None = FLAG_PER_DAY,
        outx_away: Iterable[tuple[float, float]] = (),
        outx_night: tuple[float, float] | None = None,
        linkup_fail: Iterable[str] = (),
        linkup_queue_limit: int = 500,
        agora_delay: tuple[float, float, float] = (120.0, 300.0, 900.0),
        agora_stuck: Iterable[str] = (),
        agora_credits: int = 100,
        journal: str | None = None,
        durations_by_input: bool = False,
        list_lag: float = 0.0,
    ) -> None:
        from ..core.secrets import is_loopback_host

        if not is_loopback_host(host):  # its keys open nothing, but it should not face a network
            raise ValueError(f"the sandbox serves on a loopback address only, not {host!r}; "
                             "use 127.0.0.1 (the default)")
        self.clock = Clock(speed)
        # Clients of this sandbox journal to a file of its own, so that sandbox tasks never mix
        # with real ones in the user's journal.
        self._own_journal = journal is None
        self.journal = journal or os.path.join(
            tempfile.gettempdir(), f"kit-sandbox-{os.getpid()}-{secrets.token_hex(4)}.sqlite3")
        self.seed = seed
        self.host, self.port = host, port
        self.activate = activate
        self.faults = Faults(seed)
        self.log = RequestLog()
        self._keys = {(service, team): f"sbx-{service}-{team}-{secrets.token_hex(12)}"
                      for service, teams in TEAMS.items() for team in teams}
        outx_key = {team: self._keys[("outx", team)] for team in TEAMS["outx"]}
        teams = [Team("acme", outx_key["acme"]), Team("globex", outx_key["globex"]),
                 Team("no-extension", outx_key["no-extension"], extension=False),
                 Team("no-admin", outx_key["no-admin"], admin=False)]
        delay = triangular(*outx_delay) if isinstance(outx_delay, tuple) else outx_delay
        per_minute, per_hour, flag_seconds = outx_flag or (10, 120, 21600.0)
        self.outx = OutXSandbox(self.clock, teams,
                                OutXConfig(delay=delay, reject=set(outx_reject),
                                           stuck=set(outx_stuck), unavailable=set(outx_unavailable),
                                           extensions=outx_extensions, flagging=outx_flag is not None,
                                           flag_per_minute=per_minute, flag_per_hour=per_hour,
                                           flag_seconds=flag_seconds,
                                           flag_per_day=(None if outx_flag_per_day is None
                                                         else dict(outx_flag_per_day)),
                                           away=[(float(start), float(end))
                                                 for start, end in outx_away],
                                           night=outx_night,
                                           durations_by_input=durations_by_input), seed)
        linkup_key = {team: self._keys[("linkup", team)] for team in TEAMS["linkup"]}
        self.linkup = LinkupSandbox(
            self.clock,
            [LinkupAccount("acme", linkup_key["acme"]), LinkupAccount("globex", linkup_key["globex"]),
             LinkupAccount("low-credits", linkup_key["low-credits"], credits=120),
             LinkupAccount("over-budget", linkup_key["over-budget"], budget_exceeded=True)],
            LinkupConfig(queue_limit=linkup_queue_limit, fail=set(linkup_fail),
                         durations_by_input=durations_by_input, list_lag=list_lag), seed)
        agora_key = {team: self._keys[("agora", team)] for team in TEAMS["agora"]}
        self.agora = AgoraSandbox(
            self.clock,
            [AgoraAccount("acme", agora_key["acme"], credits=agora_credits),
             AgoraAccount("globex", agora_key["globex"]),
             AgoraAccount("broke", agora_key["broke"], credits=0)],
            AgoraConfig(delay=agora_delay, stuck=set(agora_stuck),
                        durations_by_input=durations_by_input, list_lag=list_lag), seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._target: Target | None = None
        self.url = ""

    @property
    def speed(self) -> float:
        return self.clock.speed

    def api_key(self, service: str = "outx", team: str = "acme") -> str:
        """The sandbox key of ``team`` for ``service`` (sandbox keys open nothing real)."""
        try:
            return self._keys[(service, team)]
        except KeyError:
            raise KeyError(f"the sandbox has no {service!r} account {team!r}; it has "
                           f"{TEAMS.get(service)}") from None

    def app(self) -> web.Application:
        return build_app([self.outx, self.linkup, self.agora], self.faults, self.log,
                         self.stats)

    def stats(self) -> dict[str, Any]:
        """What the sandbox holds (served at ``/_sandbox/stats`` for other processes)."""
        executions = self.outx.executions()
        return {"outx": {"tasks": len(self.outx.tasks), "creates": sum(self.outx.creates.values()),
                         "most_creates_per_input": max(self.outx.creates.values(), default=0),
                         "processing": self.outx.processing(),
                         # What LinkedIn sees: executions (an extension starting a task).
                         "executions": sum(executions.values()),
                         "executions_by_kind": dict(executions),
                         "max_actions_per_minute": self.outx.max_actions(60.0),
                         "max_actions_per_hour": self.outx.max_actions(3600.0),
                         "max_actions_per_day": self.outx.max_actions(86400.0),
                         "max_actions_per_day_by_kind": {
                             kind: self.outx.max_actions(86400.0, kind) for kind in executions},
                         "max_creates_per_minute": self.outx.max_creates(60.0),
                         "max_creates_per_hour": self.outx.max_creates(3600.0),
                         "creates_while_offline": self.outx.created_offline(),
                         "flagged_teams": sorted(self.outx.flagged)},
                "linkup": {"tasks": len(self.linkup.tasks),
                           "creates": sum(self.linkup.creates.values()),
                           "most_creates_per_input": max(self.linkup.creates.values(), default=0),
                           "sent_twice": sum(1 for n in self.linkup.creates.values() if n > 1)},
                "agora": {"tasks": len(self.agora.tasks),
                          "creates": sum(self.agora.creates.values()),
                          "most_creates_per_input": max(self.agora.creates.values(), default=0),
                          "sent_twice": sum(1 for n in self.agora.creates.values() if n > 1),
                          "confirms": sum(self.agora.confirms.values()),
                          "most_confirms_per_task": max(self.agora.confirms.values(), default=0),
                          "confirms_refused": self.agora.confirms_refused},
                "outx_task_ids": sorted(self.outx.tasks),
                "now": self.clock.now(),
                "last_completion": {
                    "outx": max(self.outx.completion_times(), default=None),
                    "linkup": max((t["due"] for t in self.linkup.tasks.values()), default=None),
                    "agora": max((t["due"] for t in self.agora.tasks.values()
                                  if t["due"] is not None), default=None)},
                "requests": self.log.summary()}

    # -- lifetime --------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Serve in a background thread; returns once the port is open."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # report to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=serve, name="kit-sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        # A kernel shut down without stop() still removes the sandbox's journal and its files.
        atexit.register(self.stop)
        if self._own_journal:
            mark_temporary(self.journal)
            _sweep_dead_journals()
        if self.activate:
            keys = {service: Secret(self._keys[(service, "acme")]) for service in TEAMS}
            self._target = Target(self.url, keys, self.speed, self.journal)
            push_target(self._target)
        return self

    async def _open(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self._site = site
        server = site._server  # the bound socket tells which free port was given
        sockets = getattr(server, "sockets", None)
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.port = port
        self.url = f"http://{self.host}:{port}"

    async def _restart(self, downtime: float) -> None:
        assert self._site is not None and self._runner is not None  # (started)
        await self._site.stop()  # new connections are refused, as during a deploy
        await asyncio.sleep(downtime)
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()

    def restart(self, downtime: float = 0.5, *, after: float = 0.0) -> None:
        """Take the server down for ``downtime`` real seconds, ``after`` seconds from now, keeping
        every task (a service restart loses no data).  Returns at once."""
        if self._loop is None:
            raise RuntimeError("the sandbox is not running")

        async def later() -> None:
            await asyncio.sleep(after)
            await self._restart(downtime)

        asyncio.run_coroutine_threadsafe(later(), self._loop)

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self._target is not None:
            remove_target(self._target)
            self._target = None
            if self._own_journal:  # its tasks die with the sandbox
                discard(self.journal)
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url or "not started"
        return f"Sandbox({state}, speed={self.speed:g}, seed={self.seed})"

    # -- foreground ------------------------------------------------------------------------
    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in the foreground until interrupted (``python -m kit sandbox``); ``on_ready``
        is called once the port is bound (so nothing is announced for a port in use)."""
        port = self.port or 8765
        try:
            web.run_app(self.app(), host=self.host, port=port, access_log=None,
                        print=(lambda *_: on_ready()) if on_ready else None)
        except OSError as exc:
            raise InvalidRequest(f"the sandbox cannot serve on {self.host}:{port} "
                                 f"({exc.strerror or exc}): choose another --port.") from None
        finally:
            if self._own_journal:  # the journal clients were told to use goes with it
                discard(self.journal)
