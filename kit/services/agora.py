"""Agora marketplace: research on token contracts, paid in credits.

A deep dive is created in status "1" and does nothing until confirmed (which spends a credit);
it then takes about five minutes, sometimes hours, and delivers a report link.  An on-chain data
task starts at once (status "2", no confirm step), takes a minute or two, delivers raw JSON in a
string and is not charged if it fails.  A suggestion ("other") is read by Agora's team and never
completes.  Unfinished tasks expire and are refunded.  Status reads are limited to one request
per second per key; creates, credits and invoices to five a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from ..core.client import ServiceClient
from ..core.errors import (
    InvalidRequest,
    JournalError,
    KitError,
    PaymentRequired,
    ServiceError,
    ServiceUnreachable,
    TransportError,
    WholeCallError,
)
from ..core.http import Endpoint, ErrorReader
from ..core.policy import PollSchedule, Rate, RetryPolicy
from ..core.spec import ServiceSpec
from ..core.task import Status, Task, utcnow, valid_task_id

SPEC = ServiceSpec(
    name="agora",
    label="Agora",
    origin="https://api.agoraagent.io",
    auth_header="X-API-Key",
    send_concurrency=2,  # creates and confirms are paced to 5/min anyway
    list_settles=60.0,
    # Deep dives take ~5 min and may take hours: look after a minute, then every 5 s, which
    # with two tasks or more is one account-list read (10/min allowed, so every 6.6 s) for all
    # of them; stop waiting after an hour (the task goes on; kit.resume() picks it up).
    schedule=PollSchedule(interval=5.0, first=60.0, timeout=3600.0),
    retry=RetryPolicy(attempts=5, base_delay=1.0, max_delay=30.0),
)

# On-chain pulls take 1-2 min: look after 45 s, then every 5 s; stop waiting after 15 min.
ONCHAIN_SCHEDULE = PollSchedule(interval=5.0, first=45.0, timeout=900.0)

PER_MINUTE_5 = Rate(5, 60.0)
PER_MINUTE_10 = Rate(10, 60.0)

# Inferred path: Agora's docs have a page for it, but its text was not found (CONTRACTS.md §3).
SERVICES = Endpoint("services", "GET", "/v1/market/services", rate=Rate(1, 1.0))
OPEN_TASKS = Endpoint("open-tasks", "GET", "/v1/market/tasks/open", rate=PER_MINUTE_10)
ACCOUNT_TASKS = Endpoint("account-tasks", "GET", "/v1/market/tasks/account", rate=PER_MINUTE_10)
DEEP_DIVE = Endpoint("agent-deep-dive", "POST", "/v1/market/newtask/agent-deep-dive",
                     creates=True, rate=PER_MINUTE_5)
ONCHAIN = Endpoint("on-chain-data", "POST", "/v1/market/newtask/onchain", creates=True,
                  rate=PER_MINUTE_5)
SUGGEST = Endpoint("other", "POST", "/v1/market/newtask/other", creates=True, rate=PER_MINUTE_5)
CONFIRM = Endpoint("confirm-task", "POST", "/v1/market/confirmtask/{task_id}", creates=True,
                   rate=PER_MINUTE_5)
CHECK_STATUS = Endpoint("check-status", "GET", "/v1/market/tasks/checkstatus/bytaskid/{task_id}",
                        rate=Rate(1, 1.0))
PURCHASE = Endpoint("purchase-credits", "POST", "/v1/market/credits/purchase", creates=True,
                    rate=PER_MINUTE_5)
CREDITS = Endpoint("check-credits", "GET", "/v1/market/credits/check", rate=PER_MINUTE_5)
# Three paths, each documented at 5/min; one shared bucket, as whether Agora counts them
# together is not documented (sharing can only be slower, never a 429).
INVOICES_BY_ACCOUNT = Endpoint("invoices-by-account", "GET", "/v1/market/invoices/byaccount",
                               rate=PER_MINUTE_5, bucket="invoices")
INVOICES_BY_WALLET = Endpoint("invoices-by-wallet", "GET",
                              "/v1/market/invoices/bywallet/{payor_wallet}",
                              rate=PER_MINUTE_5, bucket="invoices")
INVOICES_BY_ID = Endpoint("invoices-by-id", "GET", "/v1/market/invoices/byinvoiceid/{invoice_id}",
                          rate=PER_MINUTE_5, bucket="invoices")

DEEP_DIVE_KIND, ONCHAIN_KIND, SUGGESTION_KIND = "agent-deep-dive", "on-chain-data", "other"

UNCONFIRMED = "1"  # received, not confirmed: nothing happens (and nothing is paid) until confirmed
STATUS_MAP = {UNCONFIRMED: Status.PENDING, "2": Status.RUNNING, "3": Status.COMPLETED,
              "4": Status.EXPIRED}

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")  # Solana mints
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_TASK_ID = re.compile(r"^[a-z]{8}$")
# Agora's invoice ids are 128 characters; their alphabet is not documented, so any URL-safe
# id up to twice that is let through (it goes into a path, hence no / ? # or spaces).
_INVOICE_ID = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")

INVOICE_STATUS = {"1": "payment not received", "2": "payment confirmed",
                  "3": "credits available", "4": "expired or canceled"}
ONCHAIN_MAX_HOURS = 72  # the on-chain endpoint documents 1-72 h; deep dives document no maximum
AWAITING_CONFIRMATION = ("awaiting confirmation: confirming spends a credit and starts the work "
                         "(confirm=True or Agora.confirm_task(); --confirm on the command line)")
SUGGESTION_NOTE = ("a suggestion: Agora's team reads it and it never completes, "
                   "so kit does not wait for it")


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(f"Agora: {message}", service="Agora")


def check_contract(value: Any) -> str:
    if not isinstance(value, str) or not (_EVM.match(value.strip()) or _BASE58.match(value.strip())):
        raise _bad(f"{value!r} is not a token contract address (0x followed by 40 hex digits, "
                   "or a base58 Solana address).")
    return value.strip()


def check_handle(value: Any) -> str | None:
    if value is None:
        return None
    handle = value.strip().lstrip("@") if isinstance(value, str) else value
    if not isinstance(handle, str) or not _HANDLE.match(handle):
        raise _bad(f"x_handle {value!r} is not an X handle (1-15 letters, digits or _).")
    return handle


def check_expiration(hours: Any, maximum: int | None = None) -> int | None:
    """A task's ``expiration`` in hours: any whole number from 1 (Agora's text says 24-72 for
    deep dives, but its own example sends 1: kit refuses nothing the service may accept), up to
    ``maximum`` where the endpoint documents one (on-chain: 72)."""
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1 or (
            maximum is not None and hours > maximum):
        bound = f"from 1 to {maximum}" if maximum is not None else "of at least 1"
        raise _bad(f"expiration must be a whole number of hours {bound}, got {hours!r}.")
    return hours


def check_task_id(value: Any) -> str:
    if not isinstance(value, str) or not _TASK_ID.match(value.strip()):
        raise _bad(f"{value!r} is not an Agora task id (8 lowercase letters).")
    return value.strip()


def deep_dive_input(contract_address: str, x_handle: str | None,
                    expiration: int | None = None) -> dict[str, Any]:
    """What a deep dive asks for: the task's ``input`` and the journal's key for reuse."""
    return {"contract_address": contract_address, "x_handle": x_handle,
            **({"expiration": expiration} if expiration else {})}


def onchain_input(contract_address: str, expiration: int | None = None) -> dict[str, Any]:
    """What an on-chain data pull asks for: the task's ``input`` and the journal's key."""
    return {"contract_address": contract_address,
            **({"expiration": expiration} if expiration else {})}


def check_wallet(value: Any, name: str = "payor_wallet") -> str:
    if not isinstance(value, str) or not _EVM.match(value.strip()):
        raise _bad(f"{name} {value!r} is not a wallet address (0x + 40 hex).")
    return value.strip()


def check_invoice_id(value: Any) -> str:
    if not isinstance(value, str) or not _INVOICE_ID.match(value.strip()) or value.strip() in (
            ".", ".."):
        raise _bad(f"invoice_id {value!r:.80} is not an Agora invoice id (letters and digits, "
                   "128 characters as purchase_credits() returns it).")
    return value.strip()


def with_meaning(invoice: Any) -> dict[str, Any]:
    """An invoice as Agora sent it, plus ``status_meaning`` (its status digit in words)."""
    if not isinstance(invoice, dict):
        raise ServiceError(f"Agora invoices: not an invoice object ({invoice!r:.120})",
                           service="Agora")
    status = str(invoice.get("status") or "")
    return {**invoice, "status_meaning": INVOICE_STATUS.get(status, f"unknown status {status!r}")}


class AgoraErrors(ErrorReader):
    def error(self, endpoint: Endpoint, status: int, message: str, code: str | None,
              service: str) -> KitError:
        if status == 402 or (status == 400 and "credit" in message.lower()):
            return PaymentRequired(
                f"Agora {endpoint.name}: HTTP {status}: {message}. Buy credits with "
                "Agora.purchase_credits(quantity, payor_wallet) and pay the invoice.",
                status=status, code=code, service=service)
        return super().error(endpoint, status, message, code, service)


def _seconds(value: Any) -> float | None:
    """A Unix time from the service, or None when it is not one (text, bool, inf, 1e400...)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return float(value)


def _timestamp(value: Any) -> datetime | None:
    seconds = _seconds(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def apply(task: Task, data: dict[str, Any], now: float | None = None) -> None:
    """Update ``task`` from an Agora task object; past expiry and not completed is EXPIRED."""
    service_status = str(data.get("status") or "")
    task.service_status = service_status
    task.status = STATUS_MAP.get(service_status, Status.PENDING)
    task.updated_at = _timestamp(data.get("last_updated")) or utcnow()
    task.output = {k: data.get(k) for k in ("deliverable", "message", "start_time", "last_updated",
                                            "expiration_time") if k in data}
    expires = _seconds(data.get("expiration_time"))
    for field_name in ("start_time", "last_updated", "expiration_time"):  # times or nothing
        if field_name in task.output:
            task.output[field_name] = _seconds(task.output[field_name])
    now = time.time() if now is None else now
    task.error = task.note = None
    service = data.get("service") or task.kind
    if task.status is Status.COMPLETED:
        pass
    elif task.status is Status.EXPIRED and service == ONCHAIN_KIND:
        # Agora has no "failed" digit: a pull that fails ends in "4" and is not charged.
        said = f" ({data['message']})" if data.get("message") else ""
        task.error = f"Agora: the on-chain data task failed, expired or was canceled; it is not charged{said}"
    elif task.status is Status.EXPIRED:
        task.error = "Agora: the task expired or was canceled; its credit is refunded"
    elif isinstance(expires, (int, float)) and expires < now:
        task.status = Status.EXPIRED
        task.error = f"Agora: expired at {_timestamp(expires):%Y-%m-%d %H:%M} UTC without a deliverable"
    elif service_status == UNCONFIRMED:
        task.note = AWAITING_CONFIRMATION
    elif service == SUGGESTION_KIND:
        task.note = SUGGESTION_NOTE


def to_task(data: dict[str, Any], kind: str | None = None, now: float | None = None) -> Task:
    task_id = valid_task_id(data.get("task_id")) if isinstance(data, dict) else None
    if task_id is None:
        raise ServiceError(f"Agora: a task object without a usable task_id ({data!r:.200})",
                           service="Agora", may_have_acted=True)
    task = Task(service="agora", id=task_id, kind=kind or str(data.get("service") or "unknown"),
                input={k: data.get(k) for k in ("contract_address", "x_handle", "description")
                       if data.get(k) is not None},
                created_at=_timestamp(data.get("start_time")) or utcnow())
    apply(task, data, now)
    return task


def _answers_create(kind: str, task_input: dict[str, Any], sent_at: float
                    ) -> Callable[[dict[str, Any]], bool]:
    """Does a listed task answer a create of ``kind`` for ``task_input`` sent at ``sent_at``?

    A deep dive: still unconfirmed, same contract and handle.  An on-chain pull starts at once
    and may have finished: same contract, started since the send (less the few minutes the
    service's clock may lag this machine's)."""
    address = task_input["contract_address"]
    if kind == ONCHAIN_KIND:
        since = sent_at - 300
        return lambda data: (data.get("service") == ONCHAIN_KIND
                             and data.get("contract_address") == address
                             and isinstance(data.get("start_time"), (int, float))
                             and data["start_time"] >= since)
    handle = task_input.get("x_handle")
    return lambda data: (data.get("status") == UNCONFIRMED
                         and data.get("contract_address") == address
                         and data.get("x_handle") == handle)


class Agora(ServiceClient):
    """Async client of the Agora marketplace (``X-API-Key`` from ``AGORA_API_KEY``).

    Every endpoint is paced to its published limit for this key (status checks one per second,
    creates and confirms five per minute, task lists ten per minute), shared by every client of
    the key in this process, so kit never triggers Agora's 429s.
    """

    spec = SPEC
    errors = AgoraErrors()

    def _now(self) -> float:
        """This machine's Unix time (the client's clock), to judge expiry locally.  A sandbox's
        service clock runs ahead of it, so there a task is judged expired late, never early."""
        return self.clock.epoch()

    async def services(self) -> list[dict[str, Any]]:
        """The marketplace's services and what they cost."""
        return list(await self._call(SERVICES) or [])

    async def open_tasks(self) -> list[Task]:
        """All users' tasks still awaiting confirmation (10 requests/minute)."""
        return [to_task(d, now=self._now()) for d in await self._call(OPEN_TASKS) or []]

    async def account_tasks(self) -> list[Task]:
        """This key's tasks (10 requests/minute)."""
        return [to_task(d, now=self._now()) for d in await self._call(ACCOUNT_TASKS) or []]

    async def deep_dive(self, contract_address: str, x_handle: str | None = None,
                        expiration: int | None = None) -> Task:
        """Create a deep-dive task (status "1": not started, not paid until confirmed).

        ``expiration``: hours (1 or more) after which an unfinished task expires and is refunded.
        """
        body: dict[str, Any] = {"contract_address": check_contract(contract_address)}
        handle = check_handle(x_handle)
        if handle:
            body["x_handle"] = handle
        if check_expiration(expiration) is not None:
            body["expiration"] = expiration
        return await self._create(DEEP_DIVE, DEEP_DIVE_KIND, body,
                                  deep_dive_input(body["contract_address"], handle, expiration))

    async def onchain(self, contract_address: str, expiration: int | None = None) -> Task:
        """Pull on-chain data for a token contract.  **Spends one credit at once**: the task
        starts in status "2" (no confirm step), takes a minute or two, and is not charged if
        it fails.  The deliverable is raw JSON in a string (``kit.onchain_data`` parses it).

        ``expiration``: hours (1-72) after which an unfinished task expires.
        """
        body: dict[str, Any] = {"contract_address": check_contract(contract_address)}
        if check_expiration(expiration, ONCHAIN_MAX_HOURS) is not None:
            body["expiration"] = expiration
        return await self._create(ONCHAIN, ONCHAIN_KIND, body,
                                  onchain_input(body["contract_address"], expiration))

    async def _create(self, endpoint: Endpoint, kind: str, body: dict[str, Any],
                      task_input: dict[str, Any]) -> Task:
        """Send one create; when its answer is lost, look the task up before anyone pays twice."""
        sent_at = self._now()
        try:
            data = await self._call(endpoint, json_body=body)
        except ServiceUnreachable:  # never sent: nothing to look for
            raise
        except (TransportError, ServiceError) as exc:
            if isinstance(exc.body, dict) and valid_task_id(exc.body.get("task_id")):
                data = exc.body  # an error status, yet the answer holds the task it made
            else:
                try:
                    found = await self._find_listed(kind, body, sent_at)
                except KitError:
                    raise exc from None  # cannot look: the task may exist (exc.may_have_acted)
                if found is None:
                    if exc.may_have_acted:  # the list may lag the create: never "not created"
                        exc.message += (" Agora lists no such task yet: it may exist, so kit "
                                        "does not send it again; its row stays 'may exist' "
                                        "(Agora's account list shows it if it was created).")
                    raise exc from None
                data = found
        task = to_task(data, kind, now=self._now())
        task.input = task_input
        self._record([task])
        return task

    async def _find_listed(self, kind: str, task_input: dict[str, Any], sent_at: float
                           ) -> dict[str, Any] | None:
        """The newest task the account list shows for this create that no journal knows."""
        listed = await self._call(ACCOUNT_TASKS) or []
        known = set(self._journaled)
        matches = _answers_create(kind, task_input, sent_at)
        return next((data for data in reversed(listed)
                     if isinstance(data, dict) and data.get("task_id") not in known
                     and matches(data)), None)

    async def send(self, items: list[tuple[str, dict[str, Any]]], options: dict[str, Any]
                   ) -> list[Task | KitError]:
        """A job's claimed inputs: on-chain pulls created (they start at once), deep dives
        created and with ``options["confirm"]`` confirmed at once (the work starts while the
        rest are created).  Out of credits: raised, with the tasks so far."""
        results: list[Task | KitError] = []
        for kind, body in items:
            try:
                if kind == ONCHAIN_KIND:
                    task = await self.onchain(body["contract_address"], body.get("expiration"))
                else:
                    task = await self.deep_dive(body["contract_address"], body.get("x_handle"),
                                                body.get("expiration"))
            except WholeCallError as exc:
                exc.tasks = [*results, *([None] * (len(items) - len(results)))]
                raise
            except JournalError:  # made, perhaps, but not journaled: the job stops
                raise
            except KitError as exc:
                results.append(exc)
                continue
            results.append(task)
            if (kind != ONCHAIN_KIND and options.get("confirm")
                    and task.service_status == UNCONFIRMED):
                await self._confirm_in_job(task, results, len(items))
        return results

    async def _confirm_in_job(self, task: Task, results: list[Task | KitError], total: int) -> None:
        try:
            await self.confirm_task(task)
        except WholeCallError as exc:
            task.note = f"created, not confirmed: {exc.message}"
            self._record([task])
            exc.tasks = [*results, *([None] * (total - len(results)))]
            raise
        except KitError as exc:
            # Refused, or its answer lost: the task's own status says whether it went through
            # (a confirm that arrived spent the credit; it is never sent again).
            if not await self._read_status(task) or task.service_status == UNCONFIRMED:
                task.note = f"not confirmed: {exc.message}"

    async def _read_status(self, task: Task) -> bool:
        """Read ``task``'s status from Agora and journal it (False: it could not be read)."""
        try:
            await self._refresh(task)
        except KitError:
            return False
        self._record([task])
        return True

    async def adopt(self, task: Task, options: dict[str, Any]) -> None:
        """A job takes on a deep dive the journal says awaits confirmation: its status is read
        first (a confirm whose answer a killed process never saw has spent the credit and
        started the work), and it is confirmed only if it still awaits it and the job asks."""
        if task.service_status != UNCONFIRMED:
            return
        if not await self._read_status(task):  # unread: a confirm may have gone already
            task.note = "not confirmed: its status could not be read; kit.resume() tries again"
            return
        if options.get("confirm") and task.service_status == UNCONFIRMED:
            await self._confirm_in_job(task, [], 0)

    async def find_created(self, kind: str, task_input: dict[str, Any], sent_at: float
                           ) -> Task | None:
        """The task Agora lists for this input (a create whose answer was lost), if any."""
        data = await self._find_listed(kind, task_input, sent_at)
        if data is None:
            return None
        task = to_task(data, kind, now=self._now())
        task.input = task_input
        self._record([task])
        return task

    async def suggest_service(self, description: str) -> Task:
        """Suggest a new kind of service to the marketplace (an "other" task).

        Agora's team reads it; it stays in status "2" and never completes, so ``wait`` and
        ``resume`` do not poll it (its ``note`` says so)."""
        if not isinstance(description, str) or not description.strip():
            raise _bad("suggest_service needs a non-empty description.")
        data = await self._call(SUGGEST, json_body={"description": description.strip()})
        task = to_task(data, SUGGESTION_KIND, now=self._now())
        self._record([task])
        return task

    async def confirm_task(self, task_id: str | Task) -> Task:
        """Confirm a task: **spends one credit** and starts the work.  Never repeated by kit."""
        source = task_id if isinstance(task_id, Task) else None
        tid = check_task_id(source.id if source else task_id)
        data = await self._call(CONFIRM, path_params={"task_id": tid})
        confirmed = to_task(data, source.kind if source else None, now=self._now())
        if source is not None:
            apply(source, data, self._now())
            confirmed = source
        self._record([confirmed])
        return confirmed

    async def get_task(self, task_id: str) -> Task:
        data = await self._call(CHECK_STATUS, path_params={"task_id": check_task_id(task_id)})
        return to_task(data, now=self._now())

    async def credits(self) -> int:
        """Credits left on this key."""
        value = await self._call(CREDITS)
        if isinstance(value, dict):
            value = value.get("credits")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ServiceError(f"Agora check-credits: not a number: {value!r:.80}",
                               service="Agora") from None

    async def purchase_credits(self, quantity: int, payor_wallet: str) -> dict[str, Any]:
        """Ask for an invoice for ``quantity`` credits, paid from ``payor_wallet`` (on Base).

        Returns the invoice.  **Payment happens outside kit**: send ``payment_amount`` of
        ``payment_token`` to ``to_wallet`` before ``expiration_time`` (one hour); the credits
        arrive once Agora sees the payment.
        """
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise _bad(f"quantity must be a positive whole number of credits, got {quantity!r}.")
        wallet = check_wallet(payor_wallet)
        return with_meaning(await self._call(PURCHASE, json_body={"credit_quantity": quantity,
                                                                  "payor_wallet": wallet}))

    async def invoices(self, *, wallet: str | None = None, invoice_id: str | None = None
                       ) -> list[dict[str, Any]]:
        """This key's invoices: all of them, those paid from ``wallet``, or the one
        ``invoice_id`` (a list either way; another key's invoices are never shown).

        Each is Agora's invoice (``status`` a digit) plus ``status_meaning``: "payment not
        received", "payment confirmed", "credits available" or "expired or canceled"; a paid
        one has ``tx_id``.  Five requests a minute (shared by the three ways of asking).
        """
        if wallet is not None and invoice_id is not None:
            raise _bad("invoices() takes wallet= or invoice_id=, not both: an invoice id "
                       "names one invoice already.")
        if invoice_id is not None:
            answer = await self._call(INVOICES_BY_ID,
                                      path_params={"invoice_id": check_invoice_id(invoice_id)})
        elif wallet is not None:
            answer = await self._call(INVOICES_BY_WALLET,
                                      path_params={"payor_wallet": check_wallet(wallet, "wallet")})
        else:
            answer = await self._call(INVOICES_BY_ACCOUNT)
        if isinstance(answer, dict):  # one invoice where a list was documented: still a list
            answer = [answer]
        if answer is not None and not isinstance(answer, list):
            raise ServiceError(f"Agora invoices: not a list ({answer!r:.120})", service="Agora")
        return [with_meaning(invoice) for invoice in answer or []]

    async def _refresh(self, task: Task) -> None:
        data = await self._call(CHECK_STATUS, path_params={"task_id": task.id})
        apply(task, data, self._now())

    async def _refresh_many(self, due: Sequence[Task], open_tasks: Sequence[Task]) -> list[Task]:
        """One account-list read establishes every task of this key it lists."""
        now = self._now()
        by_id = {t.id: t for t in open_tasks}
        listed = []
        for data in await self._call(ACCOUNT_TASKS) or []:
            task = by_id.get(data.get("task_id"))
            if task is not None:
                apply(task, data, now)
                listed.append(task)
        return listed

    _bulk_refresh = _refresh_many

    def _schedule_for(self, task: Task) -> PollSchedule:
        return ONCHAIN_SCHEDULE if task.kind == ONCHAIN_KIND else self.schedule

    def not_waited(self, task: Task) -> str | None:
        if task.service_status == UNCONFIRMED:  # nothing happens until confirm_task
            return AWAITING_CONFIRMATION
        if task.kind == SUGGESTION_KIND:
            return SUGGESTION_NOTE
        return None
