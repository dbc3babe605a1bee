"""The Agora marketplace, as the sandbox serves it (contract: shared/api/CONTRACTS.md §3).

Rate limits are enforced per key and endpoint in service time, with 429 and Retry-After.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .clock import Clock

SERVICES = [
    {"service": "agent-deep-dive", "credits": 1,
     "description": "A research report on a token: contract, holders, team, socials."},
    {"service": "onchain-data", "credits": 1, "description": "A custom on-chain data pull."},
    {"service": "other", "credits": 0, "description": "Suggest a new service type."},
]
HOUR = 3600.0


@dataclass
class AgoraAccount:
    name: str
    key: str = field(repr=False)
    credits: int = 100


@dataclass
class AgoraConfig:
    delay: tuple[float, float, float] = (120.0, 300.0, 900.0)  # confirm -> report (min, mode, max)
    stuck: set[str] = field(default_factory=set)  # contracts whose deep dive never finishes
    limits: dict[str, tuple[int, float]] = field(default_factory=lambda: {
        "open": (10, 60.0), "account": (10, 60.0), "create": (5, 60.0), "other": (5, 60.0),
        "confirm": (5, 60.0), "status": (1, 1.0), "purchase": (5, 60.0), "credits": (5, 60.0),
    })


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": message}, status=status, headers=headers)


class AgoraSandbox:
    def __init__(self, clock: Clock, accounts: list[AgoraAccount], config: AgoraConfig,
                 seed: int) -> None:
        self.clock = clock
        self.accounts = {a.key: a for a in accounts}
        self.config = config
        self.rng = random.Random(seed + 3)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.creates: Counter[tuple[str, str]] = Counter()
        self.confirms: Counter[str] = Counter()
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/market/services", self.services),
            web.get("/v1/market/tasks/open", self.open_tasks),
            web.get("/v1/market/tasks/account", self.account_tasks),
            web.post("/v1/market/newtask/agent-deep-dive", self.deep_dive),
            web.post("/v1/market/newtask/other", self.other),
            web.post("/v1/market/confirmtask/{task_id}", self.confirm),
            web.get("/v1/market/tasks/checkstatus/bytaskid/{task_id}", self.check_status),
            web.post("/v1/market/credits/purchase", self.purchase),
            web.get("/v1/market/credits/check", self.credits),
            web.get("/v1/market/invoices", self.list_invoices),
        ]

    # -- helpers ---------------------------------------------------------------------------
    def _account(self, request: web.Request, bucket: str | None) -> AgoraAccount | web.Response:
        key = request.headers.get("X-API-Key")
        account = self.accounts.get(key or "")
        if account is None:
            return _error(401, "Invalid or missing API key")
        if bucket is not None:
            count, period = self.config.limits[bucket]
            window = self._windows[(account.key, bucket)]
            now = self.clock.now()
            while window and now - window[0] >= period:
                window.popleft()
            if len(window) >= count:
                wait = math.ceil(period - (now - window[0]))
                return _error(429, f"Rate limit exceeded: {count} per {period:g} s",
                              {"Retry-After": str(max(1, wait))})
            window.append(now)
        return account

    def _settle(self, task: dict[str, Any]) -> None:
        now = self.clock.now()
        if task["status"] == "2" and task["due"] is not None and now >= task["due"]:
            task["status"] = "3"
            task["last_updated"] = task["due"]
            task["deliverable"] = (f"https://reports.agoraagent.io/{int(self.clock.epoch(task['start']))}"
                                   f"/{task['task_id']}/report.html")
        if task["status"] in ("1", "2") and now >= task["expires"]:
            task["status"] = "4"
            task["last_updated"] = task["expires"]
            if task.get("confirmed"):
                self.accounts_by_name[task["account"]].credits += 1  # refunded

    @property
    def accounts_by_name(self) -> dict[str, AgoraAccount]:
        return {a.name: a for a in self.accounts.values()}

    def as_json(self, task: dict[str, Any]) -> dict[str, Any]:
        self._settle(task)
        messages = {"1": "Task received. Confirm it to start (1 credit).",
                    "2": "Payment confirmed; your task is in progress.",
                    "3": "Your task has been completed! A link to the report is in the "
                         "'deliverable' parameter.",
                    "4": "Your task expired or was canceled; credits were refunded."}
        out = {"status": task["status"], "message": messages[task["status"]],
               "service": task["service"], "task_id": task["task_id"],
               "x_handle": task.get("x_handle"), "contract_address": task.get("contract_address"),
               "start_time": int(self.clock.epoch(task["start"])),
               "last_updated": int(self.clock.epoch(task["last_updated"])),
               "expiration_time": int(self.clock.epoch(task["expires"]))}
        if task.get("description"):
            out["description"] = task["description"]
        if task["status"] == "3":
            out["deliverable"] = task["deliverable"]
        return out

    def _new_task(self, account: AgoraAccount, service: str, **fields: Any) -> dict[str, Any]:
        while True:
            task_id = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(8))
            if task_id not in self.tasks:
                break
        now = self.clock.now()
        task = {"task_id": task_id, "account": account.name, "service": service, "status": "1",
                "start": now, "last_updated": now, "expires": now + 24 * HOUR, "due": None,
                **fields}
        self.tasks[task_id] = task
        return task

    def _start(self, task: dict[str, Any]) -> None:
        now = self.clock.now()
        task["status"], task["last_updated"], task["confirmed"] = "2", now, True
        stuck = task.get("contract_address") in self.config.stuck
        low, mode, high = self.config.delay
        task["due"] = None if stuck else now + self.rng.triangular(low, high, mode)

    def _own_task(self, request: web.Request, account: AgoraAccount) -> dict[str, Any] | None:
        """The task in the path, if it is this account's (another's is as unknown as none)."""
        task = self.tasks.get(request.match_info["task_id"])
        return task if task is not None and task["account"] == account.name else None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    # -- handlers --------------------------------------------------------------------------
    async def services(self, request: web.Request) -> web.Response:
        account = self._account(request, None)
        return account if isinstance(account, web.Response) else web.json_response(SERVICES)

    async def open_tasks(self, request: web.Request) -> web.Response:
        account = self._account(request, "open")
        if isinstance(account, web.Response):
            return account
        rows = [self.as_json(t) for t in self.tasks.values()]
        return web.json_response([r for r in rows if r["status"] == "1"])

    async def account_tasks(self, request: web.Request) -> web.Response:
        account = self._account(request, "account")
        if isinstance(account, web.Response):
            return account
        return web.json_response([self.as_json(t) for t in self.tasks.values()
                                  if t["account"] == account.name])

    async def deep_dive(self, request: web.Request) -> web.Response:
        account = self._account(request, "create")
        if isinstance(account, web.Response):
            return account
        body = await self._body(request)
        contract = body.get("contract_address")
        if not isinstance(contract, str) or not re.match(r"^(0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})$",
                                                         contract):
            return _error(400, "Invalid or missing contract_address")
        handle = body.get("x_handle")
        if handle is not None and (not isinstance(handle, str) or handle.startswith("@")):
            return _error(400, "x_handle must be a handle without @")
        hours = body.get("expiration", 24)
        if isinstance(hours, bool) or not isinstance(hours, int) or not 24 <= hours <= 72:
            return _error(400, "expiration must be an integer number of hours from 24 to 72")
        task = self._new_task(account, "agent-deep-dive", contract_address=contract,
                              x_handle=handle)
        task["expires"] = task["start"] + hours * HOUR
        self.creates[("agent-deep-dive", contract)] += 1
        return web.json_response(self.as_json(task))

    async def other(self, request: web.Request) -> web.Response:
        account = self._account(request, "other")
        if isinstance(account, web.Response):
            return account
        description = (await self._body(request)).get("description")
        if not isinstance(description, str) or not description.strip():
            return _error(400, "Missing description")
        task = self._new_task(account, "other", description=description)
        task["status"] = "2"  # suggestions need no confirmation; a human reads them
        self.creates[("other", description)] += 1
        return web.json_response(self.as_json(task))

    async def confirm(self, request: web.Request) -> web.Response:
        account = self._account(request, "confirm")
        if isinstance(account, web.Response):
            return account
        task = self._own_task(request, account)
        if task is None:
            return _error(404, "Task not found")
        self._settle(task)
        if task["status"] != "1":
            return _error(400, f"Task is not awaiting confirmation (status {task['status']})")
        if account.credits < 1:
            return _error(402, "Insufficient credits: purchase credits to confirm this task")
        account.credits -= 1
        self.confirms[task["task_id"]] += 1
        self._start(task)
        return web.json_response(self.as_json(task))

    async def check_status(self, request: web.Request) -> web.Response:
        account = self._account(request, "status")
        if isinstance(account, web.Response):
            return account
        task = self._own_task(request, account)
        if task is None:
            return _error(404, "Task not found")
        return web.json_response(self.as_json(task))

    async def purchase(self, request: web.Request) -> web.Response:
        account = self._account(request, "purchase")
        if isinstance(account, web.Response):
            return account
        body = await self._body(request)
        quantity, wallet = body.get("credit_quantity"), body.get("payor_wallet")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            return _error(400, "credit_quantity must be a positive integer")
        if not isinstance(wallet, str) or not re.match(r"^0x[0-9a-fA-F]{40}$", wallet):
            return _error(400, "payor_wallet must be a Base wallet address")
        now = int(self.clock.epoch())
        invoice_id = "inv_" + "".join(self.rng.choice(string.ascii_lowercase + string.digits)
                                      for _ in range(12))
        invoice = {"status": "pending", "invoice_id": invoice_id, "credits": quantity,
                   "message": "Send the payment amount to the wallet below within one hour.",
                   "payment_amount": f"{quantity * 25:.2f}", "payment_token": "USDC",
                   "payment_network": "base", "from_wallet": wallet,
                   "to_wallet": "0x" + "a1" * 20, "start_time": now, "expiration_time": now + 3600,
                   "last_updated": now, "account": account.name}
        self.invoices[invoice_id] = invoice
        return web.json_response({k: v for k, v in invoice.items() if k != "account"})

    def pay(self, invoice_id: str) -> None:
        """What happens outside the API: the user pays; the credits arrive."""
        invoice = self.invoices[invoice_id]
        invoice["status"] = "paid"
        self.accounts_by_name[invoice["account"]].credits += invoice["credits"]

    async def credits(self, request: web.Request) -> web.Response:
        account = self._account(request, "credits")
        return account if isinstance(account, web.Response) else web.json_response(account.credits)

    async def list_invoices(self, request: web.Request) -> web.Response:
        account = self._account(request, None)
        if isinstance(account, web.Response):
            return account
        return web.json_response([{k: v for k, v in i.items() if k != "account"}
                                  for i in self.invoices.values() if i["account"] == account.name])
