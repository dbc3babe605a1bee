"""The Agora marketplace, as the sandbox serves it (contract: shared/api/CONTRACTS.md §3).

Rate limits are enforced per key and endpoint in service time, with 429 and Retry-After.

Hooks for tests, on ``sandbox.agora``: ``config.stuck`` (contracts whose work never finishes),
``config.onchain_fail`` (contracts whose on-chain pull fails: status "4", credit refunded),
``config.onchain_garbled`` (contracts whose pull delivers text that is not JSON), and
``pay(invoice_id)`` (what happens outside the API: the invoice is paid, the credits arrive).
"""

from __future__ import annotations

import json
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
    {"service": "on-chain-data", "credits": 1,
     "description": "On-chain metrics of a token as JSON; not charged if it fails."},
    {"service": "other", "credits": 0, "description": "Suggest a new service type."},
]
HOUR = 3600.0
DAY = 24 * HOUR
AGORA_WALLET = "0x" + "a6" * 20  # where invoices are paid (made up)
TOKENS_PER_CREDIT = 10_000
CONTRACT = re.compile(r"^(0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})$")  # EVM or base58


@dataclass
class AgoraAccount:
    name: str
    key: str = field(repr=False)
    credits: int = 100


@dataclass
class AgoraConfig:
    delay: tuple[float, float, float] = (120.0, 300.0, 900.0)  # confirm -> report (min, mode, max)
    stuck: set[str] = field(default_factory=set)  # contracts whose work never finishes
    onchain_delay: tuple[float, float] = (60.0, 120.0)  # on-chain pull: 1-2 min, drawn uniformly
    onchain_fail: set[str] = field(default_factory=set)  # contracts whose pull fails ("4")
    onchain_garbled: set[str] = field(default_factory=set)  # pulls delivering text, not JSON
    # Draw each task's duration from its contract (and service) instead of the shared stream,
    # so that it does not depend on the order of creates and confirms (the benchmark's limit).
    durations_by_input: bool = False
    # Service seconds before a new task shows in the lists (eventually consistent lists; a
    # task read by id is there at once).
    list_lag: float = 0.0
    limits: dict[str, tuple[int, float]] = field(default_factory=lambda: {
        "open": (10, 60.0), "account": (10, 60.0), "create": (5, 60.0), "other": (5, 60.0),
        "onchain": (5, 60.0), "confirm": (5, 60.0), "status": (1, 1.0), "purchase": (5, 60.0),
        "credits": (5, 60.0), "invoices-account": (5, 60.0), "invoices-wallet": (5, 60.0),
        "invoices-id": (5, 60.0),
    })


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": message}, status=status, headers=headers)


class AgoraSandbox:
    def __init__(self, clock: Clock, accounts: list[AgoraAccount], config: AgoraConfig,
                 seed: int) -> None:
        self.clock = clock
        self.accounts = {a.key: a for a in accounts}
        self.config = config
        self.seed = seed
        self.rng = random.Random(seed + 3)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.creates: Counter[tuple[str, str]] = Counter()
        self.confirms_refused = 0
        self.confirms: Counter[str] = Counter()
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/market/services", self.services),
            web.get("/v1/market/tasks/open", self.open_tasks),
            web.get("/v1/market/tasks/account", self.account_tasks),
            web.post("/v1/market/newtask/agent-deep-dive", self.deep_dive),
            web.post("/v1/market/newtask/onchain", self.onchain),
            web.post("/v1/market/newtask/other", self.other),
            web.post("/v1/market/confirmtask/{task_id}", self.confirm),
            web.get("/v1/market/tasks/checkstatus/bytaskid/{task_id}", self.check_status),
            web.post("/v1/market/credits/purchase", self.purchase),
            web.get("/v1/market/credits/check", self.credits),
            web.get("/v1/market/invoices/byaccount", self.invoices_by_account),
            web.get("/v1/market/invoices/bywallet/{payor_wallet}", self.invoices_by_wallet),
            web.get("/v1/market/invoices/byinvoiceid/{invoice_id}", self.invoices_by_id),
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
            task["last_updated"] = task["due"]
            if task["service"] != "on-chain-data":
                task["status"] = "3"
                task["deliverable"] = (f"https://reports.agoraagent.io/"
                                       f"{int(self.clock.epoch(task['start']))}"
                                       f"/{task['task_id']}/report.html")
            elif task["contract_address"] in self.config.onchain_fail:
                task["status"], task["failed"] = "4", True  # a failed pull is not charged
                self.accounts_by_name[task["account"]].credits += 1
            else:
                task["status"] = "3"
                task["deliverable"] = self._onchain_deliverable(task)
        if task["status"] in ("1", "2") and now >= task["expires"]:
            task["status"] = "4"
            task["last_updated"] = task["expires"]
            if task.get("confirmed"):
                self.accounts_by_name[task["account"]].credits += 1  # refunded

    @property
    def accounts_by_name(self) -> dict[str, AgoraAccount]:
        return {a.name: a for a in self.accounts.values()}

    def _onchain_deliverable(self, task: dict[str, Any]) -> str:
        """Plausible on-chain metrics, the same for a contract on every run of a seed."""
        address = task["contract_address"]
        if address in self.config.onchain_garbled:
            return "upstream indexer timeout; partial data: holders=1"
        rng = random.Random(f"{self.seed}:{address.lower() if address.startswith('0x') else address}")
        supply = rng.choice([10**9, 10**10, 21 * 10**6, 10**12])
        price = round(10 ** rng.uniform(-6, 1), 8)
        letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(3, 5)))
        data = {
            "contract_address": address,
            "chain": "base" if address.startswith("0x") else "solana",
            "token": {"name": f"{letters.title()} Token", "symbol": letters, "decimals": 18},
            "holders": rng.randint(50, 250_000),
            "total_supply": supply,
            "price_usd": price,
            "market_cap_usd": round(price * supply, 2),
            "liquidity_usd": round(price * supply * rng.uniform(0.005, 0.08), 2),
            "volume_24h": round(price * supply * rng.uniform(0.001, 0.2), 2),
            "top10_holders_pct": round(rng.uniform(8, 85), 2),
            "as_of": int(self.clock.epoch(task["due"])),
        }
        return json.dumps(data)

    def as_json(self, task: dict[str, Any]) -> dict[str, Any]:
        self._settle(task)
        messages = {"1": "Task received. Confirm it to start (1 credit).",
                    "2": "Payment confirmed; your task is in progress.",
                    "3": "Your task has been completed! A link to the report is in the "
                         "'deliverable' parameter.",
                    "4": "Your task expired or was canceled; credits were refunded."}
        if task["service"] == "on-chain-data":
            messages["2"] = "Your on-chain data task is in progress."
            messages["3"] = "Your task has been completed! The data is in the 'deliverable' parameter."
        if task["service"] == "other":
            messages["2"] = "Thank you for your suggestion; our team will review it."
        if task.get("failed"):
            messages["4"] = "The on-chain data task failed; you were not charged."
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
        rng = self._timing(task)
        task["due"] = None if stuck else now + rng.triangular(low, high, mode)

    def _timing(self, task: dict[str, Any]) -> random.Random:
        """Where a task's duration is drawn from: the shared stream, or its own input's."""
        if not self.config.durations_by_input:
            return self.rng
        return random.Random(f"{self.seed}:agora:{task['service']}:{task.get('contract_address')}")

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
        listed_before = self.clock.now() - self.config.list_lag
        return web.json_response([self.as_json(t) for t in self.tasks.values()
                                  if t["account"] == account.name and t["start"] <= listed_before])

    async def _contract_request(self, request: web.Request, bucket: str
                                ) -> tuple[Any, dict[str, Any], str] | web.Response:
        """A create's account, body and contract address, or the error answer."""
        account = self._account(request, bucket)
        if isinstance(account, web.Response):
            return account
        body = await self._body(request)
        contract = body.get("contract_address")
        if not isinstance(contract, str) or not CONTRACT.match(contract):
            return _error(400, "Invalid or missing contract_address")
        return account, body, contract

    async def deep_dive(self, request: web.Request) -> web.Response:
        checked = await self._contract_request(request, "create")
        if isinstance(checked, web.Response):
            return checked
        account, body, contract = checked
        handle = body.get("x_handle")
        if handle is not None and (not isinstance(handle, str) or handle.startswith("@")):
            return _error(400, "x_handle must be a handle without @")
        hours = body.get("expiration", 24)
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
            return _error(400, "expiration must be a positive integer number of hours")
        task = self._new_task(account, "agent-deep-dive", contract_address=contract,
                              x_handle=handle)
        task["expires"] = task["start"] + hours * HOUR
        self.creates[("agent-deep-dive", contract)] += 1
        return web.json_response(self.as_json(task))

    async def onchain(self, request: web.Request) -> web.Response:
        checked = await self._contract_request(request, "onchain")
        if isinstance(checked, web.Response):
            return checked
        account, body, contract = checked
        hours = body.get("expiration", 24)
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 72:
            return _error(400, "expiration must be an integer number of hours from 1 to 72")
        if account.credits < 1:
            return _error(402, "Insufficient credits: purchase credits to request on-chain data")
        account.credits -= 1  # no confirm step: paid (status "2") at once
        task = self._new_task(account, "on-chain-data", contract_address=contract)
        task["expires"] = task["start"] + hours * HOUR
        now = self.clock.now()
        task["status"], task["last_updated"], task["confirmed"] = "2", now, True
        stuck = contract in self.config.stuck
        task["due"] = None if stuck else now + self._timing(task).uniform(*self.config.onchain_delay)
        self.creates[("on-chain-data", contract)] += 1
        return web.json_response(self.as_json(task))

    async def other(self, request: web.Request) -> web.Response:
        account = self._account(request, "other")
        if isinstance(account, web.Response):
            return account
        description = (await self._body(request)).get("description")
        if not isinstance(description, str) or not description.strip():
            return _error(400, "Missing description")
        task = self._new_task(account, "other", description=description)
        task["status"] = "2"  # suggestions need no confirmation; a human reads them, never done
        task["expires"] = task["start"] + 90 * DAY
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
            self.confirms_refused += 1  # a confirm sent again (answered, nothing spent)
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
        now = self.clock.now()
        while True:
            invoice_id = "".join(self.rng.choice(string.ascii_letters + string.digits)
                                 for _ in range(128))
            if invoice_id not in self.invoices:
                break
        # Pay exactly this: ~10,000 $AGORA a credit, the last digits telling payments apart.
        amount = quantity * TOKENS_PER_CREDIT + self.rng.randint(1, 999)
        invoice = {"status": "1", "invoice_id": invoice_id, "credits": quantity,
                   "message": f"Send exactly {amount} $AGORA on Base to the to_wallet within "
                              "one hour; your credits are added once the payment is confirmed.",
                   "payment_amount": amount, "payment_token": "$AGORA", "payment_network": "BASE",
                   "from_wallet": wallet, "to_wallet": AGORA_WALLET, "start": now,
                   "expires": now + HOUR, "updated": now, "account": account.name}
        self.invoices[invoice_id] = invoice
        return web.json_response(self._invoice_json(invoice))

    def _invoice_json(self, invoice: dict[str, Any]) -> dict[str, Any]:
        if invoice["status"] == "1" and self.clock.now() >= invoice["expires"]:
            invoice["status"], invoice["updated"] = "4", invoice["expires"]  # never paid
        out = {k: v for k, v in invoice.items()
               if k not in ("account", "start", "expires", "updated")}
        out.update(start_time=int(self.clock.epoch(invoice["start"])),
                   expiration_time=int(self.clock.epoch(invoice["expires"])),
                   last_updated=int(self.clock.epoch(invoice["updated"])))
        return out

    def pay(self, invoice_id: str, *, credited: bool = True) -> None:
        """What happens outside the API: the user pays the invoice (it gains ``tx_id``, status
        "2"); with ``credited`` Agora has added the credits too (status "3")."""
        invoice = self.invoices[invoice_id]
        invoice["tx_id"] = "0x" + "".join(self.rng.choice("0123456789abcdef") for _ in range(64))
        invoice["status"], invoice["updated"] = "2", self.clock.now()
        if credited:
            invoice["status"] = "3"
            self.accounts_by_name[invoice["account"]].credits += invoice["credits"]

    async def credits(self, request: web.Request) -> web.Response:
        account = self._account(request, "credits")
        return account if isinstance(account, web.Response) else web.json_response(account.credits)

    def _invoices(self, request: web.Request, bucket: str, keep: Any) -> web.Response:
        """This account's invoices that ``keep`` accepts (another's are never shown)."""
        account = self._account(request, bucket)
        if isinstance(account, web.Response):
            return account
        return web.json_response([self._invoice_json(i) for i in self.invoices.values()
                                  if i["account"] == account.name and keep(i)])

    async def invoices_by_account(self, request: web.Request) -> web.Response:
        return self._invoices(request, "invoices-account", lambda invoice: True)

    async def invoices_by_wallet(self, request: web.Request) -> web.Response:
        wallet = request.match_info["payor_wallet"]
        return self._invoices(request, "invoices-wallet",
                              lambda invoice: invoice["from_wallet"].lower() == wallet.lower())

    async def invoices_by_id(self, request: web.Request) -> web.Response:
        # An unknown id (or another account's) is an empty list: shape inferred, not documented.
        invoice_id = request.match_info["invoice_id"]
        return self._invoices(request, "invoices-id",
                              lambda invoice: invoice["invoice_id"] == invoice_id)
