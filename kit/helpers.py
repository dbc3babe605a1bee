"""The notebook helpers: one synchronous call in, one DataFrame out, progress in between.

Each helper validates every input before anything is sent and starts a job (kit.background): one
request per distinct input (or the journal's earlier task for it), sent at the service's pace and
polled as it is created.  ``wait=True`` returns one row per input in input order; ``wait=False``
returns the :class:`kit.Job` at once.  Errors about one input are that row's ``status``/``error``;
errors about the whole call raise.  When credits run out mid-batch, the tasks already created are
still waited for, and the error raised carries the table as ``error.frame``.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pandas as pd

from . import frames
from .background import (
    CLIENTS,
    WORKER_AWAY,
    Job,
    JobPlan,
    client_factory,
    interruptible,
    journal_for,
    open_jobs,
    running_job,
    start_job,
)
from .core.client import ServiceClient
from .core.errors import (
    AuthenticationError,
    InvalidRequest,
    check_flag,
    check_timeout,
    did_you_mean,
    is_positive,
)
from .core.journal import COLUMNS as JOURNAL_COLUMNS
from .core.pace import Pace
from .core.policy import PollSchedule
from .core.task import Task
from .core.wording import plural
from .progress import make_progress
from .services import agora, linkup, prices
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import (
    POSTS_PER_TASK_MAX,
    OutX,
    is_urn,
    profile_urn,
    search_input,
    to_company_slug,
    to_profile_urn,
    to_slug,
)
from .sync import run

# Keyword options every helper takes besides the service's own parameters.
CLIENT_OPTIONS = set(inspect.signature(ServiceClient.__init__).parameters) - {"self"}
HELPER_OPTIONS = {"timeout", "progress", "fresh", "errors", "wait", "max_cost"}


def as_input_list(values: Any, what: str) -> list[Any]:
    """A list of inputs from a list, tuple, Series or other iterable; clear errors otherwise."""
    if values is None:
        raise InvalidRequest(f"expected a list of {what}, got None.")
    if isinstance(values, (str, bytes)):
        raise InvalidRequest(
            f"expected a list of {what}, got a single string {values!r:.60}: wrap it in a list, "
            f"e.g. [{values!r:.40}]."
        )
    if isinstance(values, dict):
        raise InvalidRequest(f"expected a list of {what}, got a dict.")
    if isinstance(values, pd.DataFrame):  # iterating it would send its column names
        columns = [str(c) for c in values.columns]
        hint = ("profile_urn" if "URN" in what and "profile_urn" in columns
                else columns[0] if columns else "column")
        raise InvalidRequest(f"expected a list of {what}, got a DataFrame: pass one column, "
                             f"e.g. df[{hint!r}].")
    try:
        items = list(values)
    except TypeError:
        raise InvalidRequest(f"expected a list of {what}, got {type(values).__name__}.") from None
    if not items:
        raise InvalidRequest(f"the list of {what} is empty: nothing to do.")
    return items


@dataclass
class Batch:
    """A helper call's inputs, checked: ``keys[i]`` is input i's distinct request (``None``
    when input i was refused with ``errors="rows"``; its reason is ``refused[i]``)."""

    inputs: list[Any]
    keys: list[Hashable | None]
    unique: dict[Hashable, Any]
    refused: dict[int, str] = field(default_factory=dict)
    index: pd.Index | None = None  # a Series' index: the frame's rows keep it


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def check_inputs(values: Any, what: str, check: Callable[[Any], Any], errors: str,
                 key: Callable[[Any], Hashable] = lambda item: item) -> Batch:
    """Check every input before anything is sent; ``errors="raise"`` raises at the first bad
    one, ``errors="rows"`` keeps it as a failed row and goes on with the rest."""
    if errors not in ("raise", "rows"):
        raise InvalidRequest(f"errors must be 'raise' or 'rows', not {errors!r}.")
    inputs = as_input_list(values, what)
    batch = Batch(inputs, [], {}, index=values.index if isinstance(values, pd.Series) else None)
    for index, value in enumerate(inputs):
        try:
            if _missing(value):  # a failed row of an earlier frame (a profile without a URN...)
                raise InvalidRequest(
                    f"input {index} is missing ({value!r}): drop missing values first "
                    "(e.g. df[column].dropna()) or pass errors='rows' to keep each as a "
                    "failed row.")
            item = check(value)
        except InvalidRequest as exc:
            if errors == "raise":
                raise
            batch.keys.append(None)
            batch.refused[index] = exc.message
            continue
        k = key(item)
        batch.keys.append(k)
        batch.unique.setdefault(k, item)
    return batch


def split_options(name: str, options: dict[str, Any], service_params: Iterable[str] = ()
                  ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(client options, helper options, service parameters); unknown names are refused."""
    allowed = set(service_params)
    client, helper, params = {}, {}, {}
    for key, value in options.items():
        if key in CLIENT_OPTIONS:
            client[key] = value
        elif key in HELPER_OPTIONS:
            helper[key] = value
        elif key in allowed:
            params[key] = value
        else:
            known = sorted(CLIENT_OPTIONS | HELPER_OPTIONS | allowed)
            raise InvalidRequest(f"{name}() got an unexpected keyword argument {key!r}."
                                 f"{did_you_mean(key, known)} It takes {', '.join(known)}.")
    if not isinstance(helper.get("wait", True), bool):
        raise InvalidRequest(f"{name}(): wait must be True (block until done) or False (return "
                             f"a kit.Job at once), not {helper['wait']!r}.")
    check_timeout(helper.get("timeout"), f"{name}()")
    if "fresh" in helper:  # it repeats what the journal holds: a real bool only
        check_flag(helper["fresh"], "fresh", f"{name}()")
    return client, helper, params


def _poll(poll_interval: Any, schedule: PollSchedule) -> PollSchedule | None:
    if poll_interval is None:
        return None
    if not is_positive(poll_interval):
        raise InvalidRequest(f"poll_interval must be a positive number of seconds, not "
                             f"{poll_interval!r:.40}.")
    return PollSchedule(interval=poll_interval, first=poll_interval, timeout=schedule.timeout)


def _run(client_cls: type[ServiceClient], client_opts: dict[str, Any], helper: str, label: str,
         batch: Batch, request: Callable[[Any], tuple[str, dict[str, Any]]],
         opts: dict[str, Any], **job_options: Any) -> pd.DataFrame | Job:
    """Start the job of a checked batch: one row per input, one request per distinct input."""
    client = client_cls(**client_opts)  # the key and base URL are checked here, before sending
    positions = {key: i for i, key in enumerate(batch.unique)}
    rows = [(value, None if key is None else positions[key], batch.refused.get(index))
            for index, (value, key) in enumerate(zip(batch.inputs, batch.keys, strict=True))]
    items = [request(item) for item in batch.unique.values()]
    # The counter counts requests: say why it is short of the rows ("24 distinct, 1 repeat").
    repeats = sum(1 for key in batch.keys if key is not None) - len(items)
    if repeats:
        label += f" · {len(items)} distinct, {plural(repeats, 'repeat')}"
    return _start(client, helper, label, rows, items, opts, batch.index, **job_options)


def _start(client: ServiceClient, helper: str, label: str,
           rows: list[tuple[Any, int | None, str | None]], items: list[tuple[str, dict[str, Any]]],
           opts: dict[str, Any], index: pd.Index | None = None, **job_options: Any
           ) -> pd.DataFrame | Job:
    """Price the batch (refused over ``max_cost`` before anything is sent) and start its job."""
    cost = prices.estimate(client.spec.name, items,
                           prices.check_max_cost(opts.get("max_cost"), helper),
                           confirm=bool(job_options.get("confirm", True)))
    plan = JobPlan(helper=helper, label=f"{label} · {cost}" if cost else label, rows=rows,
                   items=items,
                   options={"timeout": opts.get("timeout"), "fresh": bool(opts.get("fresh")),
                            "pace": client.pace.options() if client.pace else None,
                            "patience": client.patience, **job_options},
                   index=index)
    return start_job(client, plan, wait=opts.get("wait", True), progress=opts.get("progress"))


# -- OutX --------------------------------------------------------------------------------------
def _outx_options(helper: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    poll_interval = options.pop("poll_interval", None)
    if poll_interval is not None:
        options["poll"] = _poll(poll_interval, OutX.spec.schedule)
    client_opts, opts, _ = split_options(helper, options, ())
    # OutX has no per-task price: its limit is the pace.
    prices.estimate("outx", [], prices.check_max_cost(opts.get("max_cost"), helper))
    return client_opts, opts


def _outx(values: Any, kind: str, helper: str, options: dict[str, Any], *, what: str,
          check: Callable[[Any], Any], field_name: str) -> pd.DataFrame | Job:
    """A job of one OutX create per distinct input (slugs are case-insensitive: one task per
    distinct profile or company fills every matching row)."""
    client_opts, opts = _outx_options(helper, options)
    batch = check_inputs(values, what, check, opts.get("errors", "raise"), key=str.casefold)
    return _run(OutX, client_opts, helper, f"OutX {kind}", batch,
                lambda slug: (kind, {field_name: slug}), opts)


@interruptible
def profiles(slugs: Iterable[str], *, wait: bool = True, pace: Pace | None = None,
             timeout: float | None = None, progress: Any = None, errors: str = "raise",
             **options: Any) -> pd.DataFrame | Job:
    """Fetch LinkedIn profiles through OutX; one row per input, in input order.

    ``slugs``: slugs (``"williamhgates"``) or profile URLs (``"https://www.linkedin.com/in/x/"``).
    A value that cannot be a slug raises ``InvalidRequest`` before anything is sent
    (``errors="rows"``: it becomes a failed row instead and the rest runs).  Repeated profiles
    are fetched once and fill every matching row; profiles the journal already holds are reused
    (``fresh=True`` fetches them again).

    **Each fetch is a LinkedIn action on your team's account**, done when your team's OutX
    Chrome extension picks the task up, and sent at ``pace`` (default ``kit.Pace()``: at most
    50 an hour and 5 a minute, spread out; 80 profile visits a day; the next create only once
    the last one was picked up, so that no backlog builds while the browser is closed; shared
    with every process using this key and journal): 2,000 profiles take about 25 days.  A task waiting
    for the extension is waiting, not failed: a blocking call stops (resumably) when the
    extension has picked nothing up for ``patience`` service seconds (default 900), a
    background job waits on.  ``wait=False`` returns a :class:`kit.Job` at once (display it
    for a live bar; ``job.frame()``, ``job.wait()``, ``job.stop()``, ``job.cancel()``); after
    a restart ``kit.resume()`` carries it on.

    Columns: ``input, profile_slug, profile_urn, task_id, status, error`` then ``name, headline,
    location, profile_url, connections, followers, about, experience, education, skills`` and
    the raw ``output``.  A profile the service refused, a failed task or one still unfinished
    ``timeout`` seconds after it was created (default 180, as OutX advises) is a row with
    ``status`` and ``error`` set (the wait starts when the extension picks the task up).
    :func:`kit.frames.long_table` gives experience, education and skills as long tables.

    Other ``options``: ``api_key``, ``base_url``, ``fresh``, ``poll_interval`` (seconds between
    two reads of a task; by default kit learns it from the batch), ``journal``, ``retry``,
    ``http_timeout``, ``time_scale``.
    """
    options.update(wait=wait, pace=pace, timeout=timeout, progress=progress, errors=errors)
    return _outx(slugs, "fetch-profile", "profiles", options, check=to_slug,
                 what="LinkedIn profile slugs or URLs", field_name="profile_slug")


@interruptible
def companies(slugs: Iterable[str], **options: Any) -> pd.DataFrame | Job:
    """Fetch LinkedIn company pages through OutX (slugs such as ``"microsoft"`` or
    ``linkedin.com/company/<slug>`` URLs); one row per input: ``input, company_slug, task_id,
    status, error, name, industry, employee_count, description, headquarters, website, logo,
    output``.  Each fetch is a LinkedIn action, sent at the pace; options as :func:`profiles`."""
    return _outx(slugs, "fetch-company", "companies", options, check=to_company_slug,
                 what="LinkedIn company slugs or URLs", field_name="company_slug")


@interruptible
def company_posts(slugs: Iterable[str], **options: Any) -> pd.DataFrame | Job:
    """Recent posts of LinkedIn company pages through OutX; one row per company with its
    ``posts`` list (``kit.frames.long_table(df, "posts", key="company_slug")`` for one row per
    post).  Each fetch is a LinkedIn action, sent at the pace; options as :func:`profiles`."""
    return _outx(slugs, "fetch-company-posts", "company_posts", options, check=to_company_slug,
                 what="LinkedIn company slugs or URLs", field_name="company_slug")


@interruptible
def search_profiles(searches: Iterable[dict[str, Any]], **options: Any) -> pd.DataFrame | Job:
    """LinkedIn profile searches through OutX, as a long table: one row per profile found,
    keyed by ``search`` (the search's position in ``searches``) with its filters as ``input``.

    Each search is a dict of filters, at least one of ``keywords, title, company, first_name,
    last_name, school`` (text) or ``geo_urn, current_company, industry, past_company,
    profile_language`` (lists of LinkedIn ids), and ``count`` (1-50, OutX's default 25).
    Checked before anything is sent.  Columns: ``search, input, task_id, status, error,
    position, name, headline, location, profile_slug, profile_urn, connection_degree``.  A
    search that failed or found nobody is one row with ``position`` empty.  Each search is a
    LinkedIn action, sent at the pace; options as :func:`profiles`.
    """
    client_opts, opts = _outx_options("search_profiles", options)
    batch = check_inputs(searches, "searches (dicts of filters)", search_input,
                         opts.get("errors", "raise"),
                         key=lambda body: json.dumps(body, sort_keys=True))
    return _run(OutX, client_opts, "search_profiles", "OutX search-profiles", batch,
                lambda body: ("search-profiles", body), opts)


def _profile_ref(value: Any) -> tuple[str, str]:
    """``("urn", urn)`` or ``("slug", slug)`` for one input of :func:`posts`."""
    return ("urn", to_profile_urn(value)) if is_urn(value) else ("slug", to_slug(value))


def _urns_of(slugs: list[str], client_opts: dict[str, Any], opts: dict[str, Any]
             ) -> dict[str, tuple[str | None, str | None]]:
    """slug (casefolded) -> (its profile URN, or why there is none), from the journal's profiles
    or, with ``wait=True``, by fetching the missing ones first (a profiles job: never twice)."""
    if not slugs:
        return {}
    if opts.get("wait", True):
        batch = check_inputs(slugs, "LinkedIn profile slugs", to_slug, "rows", key=str.casefold)
        stage = {"wait": True, "timeout": opts.get("timeout"), "progress": opts.get("progress")}
        df = _run(OutX, client_opts, "profiles", "OutX fetch-profile", batch,
                  lambda slug: ("fetch-profile", {"profile_slug": slug}), stage)
        assert isinstance(df, pd.DataFrame)
        return {str(slug).casefold(): (urn if isinstance(urn, str) else None,
                                       None if isinstance(urn, str) else
                                       f"its profile has no URN ({error or status})")
                for slug, urn, status, error in zip(df["profile_slug"], df["profile_urn"],
                                                    df["status"], df["error"], strict=True)}
    client = OutX(**client_opts)
    found: dict[str, tuple[str | None, str | None]] = {}
    for slug in slugs:
        task = client.book.find("outx", client.base_url, client.key_fingerprint, "fetch-profile",
                                {"profile_slug": slug})
        urn = profile_urn(task.output) if task is not None else None
        found[slug.casefold()] = (urn, None)
    missing = [slug for slug in slugs if found[slug.casefold()][0] is None]
    if missing:
        raise InvalidRequest(
            f"posts(wait=False) needs each profile's URN, and the journal has none for "
            f"{len(missing)} of these profiles (e.g. {missing[0]!r}). Fetch them first: "
            f"job = kit.profiles(slugs, wait=False); once it is done, kit.posts(slugs, "
            f"wait=False) reuses their URNs (or call kit.posts(slugs) with wait=True).")
    return found


@interruptible
def posts(profiles: Iterable[str], *, per_task: int = 10, wait: bool = True,
          pace: Pace | None = None, timeout: float | None = None, progress: Any = None,
          errors: str = "raise", **options: Any) -> pd.DataFrame | Job:
    """Recent LinkedIn posts of profiles through OutX (fetch-profiles-posts); one row per input
    with a ``posts`` list (``kit.frames.long_table(df, "posts")`` for one row per post).

    ``profiles``: profile URNs (``"urn:li:fsd_profile:ACoAA..."``, as ``kit.profiles`` gives
    them) or slugs / profile URLs.  A slug's URN is taken from the journal's profile, or, with
    ``wait=True``, fetched first (one more LinkedIn action each, never twice).  ``per_task``
    profiles share one task (one LinkedIn action; 1-25, default 10).  Columns: ``input,
    profile_slug, profile_urn, task_id, status, error, post_count, posts``.  Pace and options
    as :func:`profiles`.
    """
    if isinstance(per_task, bool) or not isinstance(per_task, int) or not (
            1 <= per_task <= POSTS_PER_TASK_MAX):
        raise InvalidRequest(f"posts(): per_task must be a whole number from 1 to "
                             f"{POSTS_PER_TASK_MAX}, not {per_task!r:.40}.")
    options.update(wait=wait, pace=pace, timeout=timeout, progress=progress, errors=errors)
    client_opts, opts = _outx_options("posts", options)
    # Slugs are case-insensitive, URNs are not.
    batch = check_inputs(profiles, "LinkedIn profile URNs, slugs or URLs", _profile_ref,
                         opts.get("errors", "raise"),
                         key=lambda ref: (ref[0], ref[1].casefold() if ref[0] == "slug" else ref[1]))
    slugs = list(dict.fromkeys(ref[1] for ref in batch.unique.values() if ref[0] == "slug"))
    # A profile's URN does not change: fresh= (a helper option) fetches the posts again, never
    # the profiles.
    urns = _urns_of(slugs, client_opts, opts)
    wanted: list[tuple[dict[str, Any], str | None, str | None]] = []  # (row, URN, why none)
    for index, (value, key) in enumerate(zip(batch.inputs, batch.keys, strict=True)):
        if key is None:
            wanted.append(({"input": value, "profile_slug": None, "profile_urn": None}, None,
                           batch.refused.get(index)))
            continue
        form, name = cast("tuple[str, str]", key)  # ("urn", URN) or ("slug", slug)
        if form == "urn":
            wanted.append(({"input": value, "profile_slug": None, "profile_urn": name},
                           name, None))
        else:
            urn, reason = urns.get(name.casefold(), (None, None))
            wanted.append(({"input": value, "profile_slug": name, "profile_urn": urn}, urn,
                           None if urn else f"posts not fetched: {reason or 'no profile URN'}"))
    # Groups of sorted URNs: the same profiles make the same tasks, which the journal reuses,
    # whatever the order they are given in.
    order = sorted({urn for _row, urn, _why in wanted if urn})
    if not order:
        raise InvalidRequest("posts(): no profile has a URN, nothing to fetch: "
                             + next(why for _row, _urn, why in wanted if why))
    position = {urn: i // per_task for i, urn in enumerate(order)}
    rows = [(row, position[urn] if urn else None, why) for row, urn, why in wanted]
    items = [("fetch-profiles-posts", {"profile_urns": order[i:i + per_task]})
             for i in range(0, len(order), per_task)]
    label = f"OutX fetch-profiles-posts · {plural(len(order), 'profile')} in {plural(len(items), 'task')}"
    return _start(OutX(**client_opts), "posts", label, rows, items, opts, batch.index)


# -- Linkup ------------------------------------------------------------------------------------
def _linkup(values: Any, kind: str, field_name: str, what: str, options: dict[str, Any],
            helper: str) -> pd.DataFrame | Job:
    camel = set(linkup.PARAMS[kind].values())
    client_opts, opts, params = split_options(helper, options, set(linkup.PARAMS[kind]) | camel)
    params.pop(field_name, None)

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"Linkup: {value!r} is not a {field_name} (a non-empty string).")
        # Validated once, before anything is sent (names, dates, choices...).
        return {"type": kind, "input": linkup.build_input(kind, {field_name: value, **params})}

    batch = check_inputs(values, what, check, opts.get("errors", "raise"),
                         key=lambda spec: spec["input"][field_name])
    return _run(Linkup, client_opts, helper, f"Linkup {kind}", batch,
                lambda spec: (spec["type"], spec["input"]), opts)


@interruptible
def search(queries: Iterable[str], **params: Any) -> pd.DataFrame | Job:
    """Linkup searches, one row per query in input order: ``input, task_id, status, error,
    answer, sources, results, data``.

    Defaults suit a notebook: ``depth="standard"``, ``output_type="sourcedAnswer"``.  Other
    parameters in Python spelling (``include_domains=``, ``from_date=`` as ``datetime.date``,
    ``"YYYY-MM-DD"`` or an ISO datetime, sent as its date, ``output_type="structured"`` with
    ``structured_output_schema=`` a dict, ...)
    plus ``api_key``, ``base_url``, ``timeout``, ``progress``, ``fresh``, ``errors``, ``wait``.
    Each task is billed: a repeated query is sent once, and the journal's earlier answers are
    reused unless ``fresh=True``.  ``max_cost=`` (USD): the batch is priced from Linkup's
    published prices before anything is sent, and refused if it could cost more (the estimate
    shows in the progress label).  ``kit.frames.sources(df)`` gives the sources as a long table.
    """
    return _linkup(queries, "search", "q", "questions", params, "search")


@interruptible
def research(queries: Iterable[str], **params: Any) -> pd.DataFrame | Job:
    """Linkup research tasks (minutes each, billed per task), one row per query, like
    :func:`search`; waits up to an hour per task by default (``timeout=`` to change).
    ``max_cost=`` (USD) as :func:`search`: research costs $0.25 (``reasoning_depth="S"``) to
    $1.50 (``"L"``) a task."""
    return _linkup(queries, "research", "q", "questions", params, "research")


@interruptible
def fetch_pages(urls: Iterable[str], **params: Any) -> pd.DataFrame | Job:
    """Linkup fetch tasks, one row per URL: ``input, task_id, status, error, markdown, favicon,
    raw_content, raw_html, content_type, images, data`` (``render_js=``, ``include_raw_html=``,
    ...; ``schema=`` a JSON schema, dict or string, and ``instructions=`` fill ``data``).
    ``max_cost=`` (USD) as :func:`search`: $0.001 a page, $0.005 with ``render_js=True`` (a
    page sent without ``render_js`` is counted at the dearer price)."""
    return _linkup(urls, "fetch", "url", "URLs", dict(params), "fetch_pages")


# -- Agora -------------------------------------------------------------------------------------
def _contract_item(value: Any) -> tuple[str, str | None]:
    """A contract from ``"0x..."``, ``("0x...", "handle")`` or ``{"contract_address", "x_handle"}``."""
    if isinstance(value, dict):
        address, handle = value.get("contract_address"), value.get("x_handle")
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        address, handle = value
    else:
        address, handle = value, None
    return agora.check_contract(address), agora.check_handle(handle)


@interruptible
def deep_dives(contracts: Sequence[Any], *, confirm: bool = False, expiration: int | None = None,
               **options: Any) -> pd.DataFrame | Job:
    """Agora deep dives on token contracts, one row per contract in input order.

    ``contracts``: addresses, or ``(address, x_handle)`` pairs, or dicts with
    ``contract_address`` and ``x_handle``.

    **With ``confirm=True`` every task is confirmed as soon as it is created, which spends one
    Agora credit each**, and kit waits for the reports (deep dives take about five minutes,
    sometimes hours; by default kit waits up to an hour per task, ``timeout=`` to change,
    ``math.inf`` for no limit; an unfinished task is a row with status ``running`` and an
    error saying kit stopped waiting).  Without it, the tasks are only created (status
    ``pending``, free) and returned: confirm them later with ``Agora.confirm_task`` or by
    calling again with ``confirm=True`` (the journal's tasks are reused and confirmed, not
    created again).  A repeated contract is created once.  Columns: ``contract_address,
    x_handle, task_id, status, service_status, error, deliverable, expiration_time``.  Creates
    and confirms are paced to Agora's five per minute.  ``max_cost=`` (credits): with
    ``confirm=True``, a batch of more distinct contracts is refused before anything is sent.
    Options: ``api_key``, ``base_url``, ``timeout``, ``progress``, ``fresh``, ``errors``, ``wait``.
    """
    client_opts, opts, _ = split_options("deep_dives", options, ())
    agora.check_expiration(expiration)
    batch = check_inputs(contracts, "token contract addresses", _contract_item,
                         opts.get("errors", "raise"), key=lambda item: item[0].lower())
    return _run(Agora, client_opts, "deep_dives", "Agora agent-deep-dive", batch,
                lambda item: ("agent-deep-dive", agora.deep_dive_input(item[0], item[1], expiration)),
                opts, confirm=check_flag(confirm, "confirm", "deep_dives()"))


def _onchain_item(value: Any) -> str:
    """A contract from ``"0x..."`` or ``{"contract_address": ...}``."""
    if isinstance(value, dict):
        value = value.get("contract_address")
    return agora.check_contract(value)


@interruptible
def onchain_data(contracts: Sequence[Any], *, expiration: int | None = None,
                 **options: Any) -> pd.DataFrame | Job:
    """Agora on-chain data on token contracts, one row per contract in input order.

    ``contracts``: addresses (``0x`` + 40 hex, or base58 Solana mints) or dicts with
    ``contract_address``.  **Each distinct contract spends one Agora credit as soon as it is
    sent** (there is no confirm step; a pull that fails is not charged).  Pulls take a minute
    or two; kit waits up to 15 minutes per task by default (``timeout=`` to change).  A
    repeated contract is pulled once (0x addresses compare without case); the journal's
    earlier pulls are reused unless ``fresh=True``.  ``expiration``: hours (1-72).

    Columns: ``input, contract_address, task_id, status, service_status, error,
    expiration_time, deliverable``, then the deliverable's JSON as columns (nested objects as
    ``a.b``, a key named like one of kit's columns as ``data.<key>``).  A deliverable that is
    not a JSON object stays as text in ``deliverable``, with an error saying so.  Creates are
    paced to Agora's five per minute.  ``max_cost=`` (credits): a batch of more distinct
    contracts is refused before anything is sent.  Options: ``api_key``, ``base_url``,
    ``timeout``, ``progress``, ``fresh``, ``errors``, ``wait``.
    """
    client_opts, opts, _ = split_options("onchain_data", options, ())
    agora.check_expiration(expiration, agora.ONCHAIN_MAX_HOURS)
    # Hex addresses are case-insensitive; base58 ones are not.
    batch = check_inputs(contracts, "token contract addresses", _onchain_item,
                         opts.get("errors", "raise"),
                         key=lambda address: address.lower() if address.startswith("0x") else address)
    return _run(Agora, client_opts, "onchain_data", "Agora on-chain-data", batch,
                lambda address: (agora.ONCHAIN_KIND, agora.onchain_input(address, expiration)),
                opts)


def to_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """Any kit tasks -> a DataFrame (see :func:`kit.frames.to_frame`)."""
    return frames.to_frame(tasks)


# -- jobs and the journal ----------------------------------------------------------------------
async def _resume_loose(services: Sequence[str], client_opts: dict[str, Any],
                        opts: dict[str, Any], skip: set[str]) -> list[Task]:
    """Tasks the journal holds unfinished outside any job (made with the async clients)."""
    tasks: list[Task] = []
    for name in services:
        try:
            client = CLIENTS[name](**client_opts)
        except AuthenticationError:
            continue  # no key for this service here: nothing of it can be resumed
        async with client:
            tasks += await client.resume(timeout=opts.get("timeout"), progress=opts.get("progress"),
                                         skip=skip)
    return tasks


@interruptible
def resume(*, services: Sequence[str] = ("outx", "linkup", "agora"), api_key: str | None = None,
           **options: Any) -> pd.DataFrame:
    """Carry on every unfinished job in the journal, for the keys at hand; return one frame.

    For each job that was stopped (an interrupt, a kernel restart, a kill, tasks that outlived
    their wait): sends the inputs never sent, at the pace, and polls the rest to the end.  It
    never sends a create twice: an input whose create may have reached the service is looked
    up (Linkup, Agora) or reported as "may exist" (OutX).  ``api_key=``: the jobs of that key
    (the journal knows their service).  Tasks created outside jobs (the async clients) are
    polled too.  Returns a row per input of every job carried on (with a ``job_id`` column),
    each job's rows in input order, then the loose tasks.  Options: ``timeout``, ``progress``,
    ``journal`` (a path), ``time_scale``, ``pace``, and with one service: ``base_url``.
    """
    client_opts, opts, _ = split_options("resume", options, ())
    unknown = [s for s in services if s not in CLIENTS]
    if unknown:
        raise InvalidRequest(f"resume(): unknown service {unknown[0]!r}; choose from "
                             f"{', '.join(CLIENTS)}.")
    if len(services) > 1 and "base_url" in client_opts:
        raise InvalidRequest("resume(): base_url= belongs to one service: pass "
                             "services=['outx'] (or 'linkup', 'agora') with it.")
    book = journal_for(client_opts.pop("journal", None))
    job_opts = {k: v for k, v in client_opts.items() if k != "base_url"}
    jobs, notes = open_jobs(book, api_key=api_key, client_options=job_opts, services=services)
    for note in notes:
        print(f"kit: resume: {note}", file=sys.stderr)
    parts: list[pd.DataFrame] = []
    handled: set[str] = set()
    away: str | None = None
    for job in jobs:
        # The first call's timeout was about that call's wait: a resume waits its own.
        job.set_timeout(opts.get("timeout"))
        job.start(make_progress(opts.get("progress"), job.label, job.progress().total),
                  blocking=True)
        df = job.run_blocking()
        handled |= {t.id for t in job.tasks() if t.id}
        away = df.attrs.get(WORKER_AWAY) or away
        parts.append(df.assign(job_id=job.id))
    loose_opts = dict(client_opts, journal=book)
    if api_key is not None:
        loose_opts["api_key"] = api_key
    loose = run(_resume_loose(services, loose_opts, opts, handled))
    if loose or not parts:
        parts.append(frames.to_frame(loose))
    result = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if away:
        result.attrs[WORKER_AWAY] = away
    return result


def jobs(journal: Any = None) -> pd.DataFrame:
    """The journal's jobs, one row each: ``job_id, label, state, inputs`` and how many are
    ``queued, sending, created`` (of which ``completed``), ``failed`` (refused) or ``unknown``
    (may exist), with ``created_at``/``updated_at``.  Inside a ``kit.Sandbox`` this is the
    sandbox's own journal."""
    book = journal_for(journal)
    columns = ["job_id", "label", "service", "state", "inputs", "queued", "sending", "created",
               "completed", "failed", "unknown", "error", "created_at", "updated_at"]
    df = pd.DataFrame.from_records(book.jobs(), columns=columns)
    for column in ("inputs", "queued", "sending", "created", "completed", "failed", "unknown"):
        df[column] = df[column].astype("Int64").fillna(0)
    for column in ("created_at", "updated_at"):
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return frames.conventional(df)


def job(job_id: str, *, journal: Any = None, **client_options: Any) -> Job:
    """Reopen a job of the journal: ``.frame()`` now, ``.wait()`` carries it on if unfinished
    (with the key at hand, or ``api_key=``)."""
    book = journal_for(journal)
    live = running_job(job_id)
    if live is not None:  # this process runs it: the same handle, not a second runner
        return live
    record = book.job(job_id)
    if record is None:
        raise InvalidRequest(f"the journal {book.path} has no job {job_id!r}; kit.jobs() lists them.")
    return Job(book, job_id, client_factory(record, dict(client_options, journal=book)))


def journal(path: Any = None, *, purge: Any = None) -> pd.DataFrame:
    """The journal's tasks as a DataFrame (one row per task kit created or reused), for
    inspection and export.  It holds a fingerprint of each key, never the key, and what the
    services answered (people's profiles among them): it is readable by your user only.

    ``purge`` forgets, then returns what is left: ``"all"``; a job id (the job and the tasks no
    other job uses); or an age (``datetime.timedelta``, or a number of days): finished tasks and
    ended jobs older than that (unfinished tasks are kept: they may still finish or cost).  The
    data is overwritten in the file, not just unlinked.  **What is forgotten can be sent again**:
    kit no longer knows it was created (``kit.resume`` cannot carry on a purged job).
    """
    book = journal_for(path)
    if purge is not None:
        book.purge(**_purge_target(book, purge))
    df = pd.DataFrame.from_records(book.rows(), columns=JOURNAL_COLUMNS)
    for column in ("created_at", "updated_at"):
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return frames.conventional(df)


def _purge_target(book: Any, purge: Any) -> dict[str, Any]:
    """``Journal.purge``'s arguments for ``kit.journal(purge=...)`` (which refuses running jobs)."""
    if isinstance(purge, str) and purge == "all":
        return {"everything": True}
    if isinstance(purge, str):
        if book.job(purge) is None:
            raise InvalidRequest(f"journal(purge={purge!r}): the journal {book.path} has no such "
                                 "job (kit.jobs() lists them); purge='all' forgets everything, "
                                 "purge=30 what ended more than 30 days ago.")
        return {"job_id": purge}
    if isinstance(purge, (int, float)) and not isinstance(purge, bool) and purge >= 0:
        purge = timedelta(days=purge)
    if isinstance(purge, timedelta) and purge >= timedelta(0):
        return {"before": (datetime.now(timezone.utc) - purge).isoformat()}
    raise InvalidRequest(f"journal(): purge takes 'all', a job id, or an age (a timedelta or a "
                         f"number of days), not {purge!r:.60}.")
