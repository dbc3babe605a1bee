"""Tasks to pandas DataFrames: one row per input, in input order, typed, lists kept as lists.

A task that failed, timed out or was rejected is a row with ``status`` and ``error`` set, never a
missing row.  Long tables (experience, education, skills, posts) come from :func:`long_table`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from .core.task import Status, Task
from .services import outx
from .services.outx import PROFILE_FIELDS

__all__ = [
    "PROFILE_FIELDS",
    "answers_frame",
    "companies_frame",
    "company_posts_frame",
    "conventional",
    "deep_dives_frame",
    "long_table",
    "onchain_frame",
    "pages_frame",
    "posts_frame",
    "profiles_frame",
    "search_profiles_frame",
    "sources",
    "to_frame",
]

_COUNT_FIELDS = {"connections", "followers", "post_count", "reactions", "comments", "reposts",
                 "shares", "employee_count", "profile_count"}
_BASE = ["task_id", "status", "error"]


# Text is typed as pandas itself types it in this version (what ``pd.read_csv`` gives): the
# ``str`` dtype from pandas 3, ``object`` before; either way a missing value is NaN.  Every
# frame follows it, so that frames concatenate, join and compare alike.
TEXT_DTYPE = pd.Series(["text", None]).dtype
# Columns that hold lists or objects (their items' names for long tables): never typed as
# text, even when every row lacks them.
_SINGULAR = {"skills": "skill", "posts": "post", "sources": "source", "results": "result"}
LIST_COLUMNS = {*_SINGULAR, "input", "output", "experience", "education", "data", "images"}


def conventional(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` typed like kit's frames: nullable integers for counts, text as
    :data:`TEXT_DTYPE` with NaN for missing values, lists and objects as they are."""
    return _typed(df.copy())


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Every frame's last step (in place: the frame is the builder's own)."""
    for column in df.columns:
        if column in _COUNT_FIELDS:
            df[column] = pd.to_numeric(df[column], errors="coerce").astype("Int64")
        elif (pd.api.types.is_object_dtype(df[column].dtype)
              or pd.api.types.is_string_dtype(df[column].dtype)):
            present = df[column].dropna()
            if all(isinstance(v, str) for v in present) and (len(present) or
                                                             column not in LIST_COLUMNS):
                df[column] = _text(df[column])
    return df


def _text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_object_dtype(TEXT_DTYPE):
        return values.astype(object).where(values.notna(), float("nan"))
    return values.astype(TEXT_DTYPE)


def _unclashed(data: dict[str, Any], reserved: Iterable[str], prefix: str) -> dict[str, Any]:
    """A service's fields as columns beside kit's own: a field named like one of kit's columns
    (``reserved``) is renamed ``prefix + name``, so service text never overwrites kit's."""
    taken = set(reserved)
    return {f"{prefix}{k}" if k in taken else k: v for k, v in data.items()}


def _base(task: Task) -> dict[str, Any]:
    # The service's reason first; else kit's own remark (stopped waiting, not confirmed...).
    return {"task_id": task.id, "status": task.status.value, "error": task.error or task.note}


# -- OutX ------------------------------------------------------------------------------------
# Each frame keeps the task's raw ``output`` last: OutX's shapes are partly inferred, and what
# kit does not read yet must not be lost.
def profiles_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(input, task)`` pairs of fetch-profile tasks -> the ``kit.profiles`` frame."""
    records = []
    for raw, task in rows:
        done = task.status is Status.COMPLETED
        fields = outx.profile_fields(task.output if done else None)
        records.append({"input": raw, "profile_slug": task.input.get("profile_slug"),
                        "profile_urn": fields.pop("profile_urn"), **_base(task), **fields,
                        "output": task.output})
    columns = ["input", "profile_slug", "profile_urn", *_BASE, *PROFILE_FIELDS, "output"]
    return _typed(pd.DataFrame.from_records(records, columns=columns))


def posts_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """Rows of ``kit.posts`` -> one row per input profile with its ``posts`` list.

    Each row's value is ``{"input", "profile_slug", "profile_urn"}`` (one task may carry
    several profiles: the row takes its own profile's posts from the task's output)."""
    records = []
    for value, task in rows:
        row = value if isinstance(value, dict) else {"input": value}
        urn = row.get("profile_urn")
        posts, base = None, _base(task)
        if task.status is Status.COMPLETED:
            carried = len(task.input.get("profile_urns") or [urn])
            posts = outx.posts_of(task.output, urn, carried)
            if posts is None and carried > 1:
                base["error"] = (f"OutX's answer does not say which of the task's {carried} "
                                 "profiles each post belongs to; fetch with per_task=1")
        records.append({
            "input": row.get("input"), "profile_slug": row.get("profile_slug"),
            "profile_urn": urn, **base,
            "post_count": len(posts) if posts is not None else None, "posts": posts,
        })
    columns = ["input", "profile_slug", "profile_urn", *_BASE, "post_count", "posts"]
    return _typed(pd.DataFrame.from_records(records, columns=columns))


def companies_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(input, task)`` pairs of fetch-company tasks -> the ``kit.companies`` frame."""
    records = []
    for raw, task in rows:
        out = task.output if task.status is Status.COMPLETED and isinstance(task.output, dict) else {}
        records.append({"input": raw, "company_slug": task.input.get("company_slug"),
                        **_base(task), **{name: out.get(name) for name in outx.COMPANY_FIELDS},
                        "output": task.output})
    columns = ["input", "company_slug", *_BASE, *outx.COMPANY_FIELDS, "output"]
    return _typed(pd.DataFrame.from_records(records, columns=columns))


def company_posts_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(input, task)`` pairs of fetch-company-posts tasks -> one row per company with its
    ``posts`` list (``long_table(df, "posts", key="company_slug")`` for one row per post)."""
    records = []
    for raw, task in rows:
        posts = outx.posts_of(task.output) if task.status is Status.COMPLETED else None
        records.append({"input": raw, "company_slug": task.input.get("company_slug"),
                        **_base(task), "post_count": len(posts) if posts is not None else None,
                        "posts": posts})
    columns = ["input", "company_slug", *_BASE, "post_count", "posts"]
    return _typed(pd.DataFrame.from_records(records, columns=columns))


SEARCH_COLUMNS = ["search", "input", *_BASE, "position", "name", "headline", "location",
                  "profile_slug", "profile_urn", "connection_degree"]


def search_profiles_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(filters, task)`` pairs of search-profiles tasks -> a long table: one row per profile
    found, keyed by ``search`` (the search's position in the input); a search that failed, is
    unfinished or found nobody is one row with ``position`` empty; ``input`` is its filters."""
    records: list[dict[str, Any]] = []
    for number, (filters, task) in enumerate(rows):
        key = {"search": number, "input": filters, **_base(task)}
        found = (outx.items_of(task.output, "profiles", "results")
                 if task.status is Status.COMPLETED else None)
        if not found:
            records.append(dict(key, position=None))
            continue
        for position, person in enumerate(found):
            fields = person if isinstance(person, dict) else {"name": person}
            records.append({**key, "position": position,
                            **_unclashed(fields, [*key, "position"], "profile.")})
    df = pd.DataFrame.from_records(records)
    df = df.reindex(columns=[*SEARCH_COLUMNS, *(c for c in df.columns if c not in SEARCH_COLUMNS)])
    df["position"] = df["position"].astype("Int64")
    return _typed(df)


_KEYS = ("profile_slug", "profile_urn", "company_slug", "task_id")


def _default_key(df: pd.DataFrame, column: str) -> str:
    """The first of ``_KEYS`` that names every row holding a list (kit.posts by URN has no
    slugs: its rows are keyed by profile_urn)."""
    holding = df[column].map(lambda cell: isinstance(cell, list))
    for key in _KEYS:
        if key in df.columns and df.loc[holding, key].notna().all():
            return key
    raise KeyError(f"no column names every row of {column!r}: pass key=... (one of "
                   f"{list(df.columns)})")


def long_table(df: pd.DataFrame, column: str, *, key: str | None = None) -> pd.DataFrame:
    """Turn a list column into a long table keyed by ``key``: one row per list item.

    ``long_table(profiles, "experience")`` gives ``profile_slug, title, company, duration,
    location``; ``long_table(profiles, "skills")`` gives ``profile_slug, skill``.  By default
    the key is the first of ``profile_slug``, ``profile_urn``, ``company_slug``, ``task_id``
    that every row holding a list has.  Inputs that appear twice count once; rows without the
    list (failed tasks) are left out.
    """
    if column not in df.columns:
        raise KeyError(f"{column!r} is not a column of this frame; it has {list(df.columns)}")
    key = key or _default_key(df, column)
    if key not in df.columns:
        raise KeyError(f"{key!r} is not a column of this frame: pass key=... (one of "
                       f"{list(df.columns)})")
    items: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for key_value, cell in zip(df[key], df[column], strict=True):
        if key_value in seen or not isinstance(cell, list):
            continue
        seen.add(key_value)
        for position, item in enumerate(cell):
            row: dict[str, Any] = {key: key_value, "position": position}
            if isinstance(item, dict):
                row.update(item)
            else:
                row[_SINGULAR.get(column, column)] = item
            items.append(row)
    if not items:
        return pd.DataFrame(columns=[key, "position"])
    return _typed(pd.DataFrame.from_records(items))


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}{k}" if not prefix else f"{prefix}.{k}", v, into)
    else:
        into[prefix] = value


def to_frame(tasks: Iterable[Task]) -> pd.DataFrame:
    """Any tasks -> one row each: ``service, kind, task_id, status, service_status, error``,
    the input fields, the output flattened (nested objects as ``a.b`` columns, lists kept),
    ``created_at, updated_at``."""
    records = []
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"to_frame() takes kit.Task objects, got {type(task).__name__}")
        record: dict[str, Any] = {"service": task.service, "kind": task.kind, **_base(task),
                                  "service_status": task.service_status}
        for k, v in (task.input or {}).items():
            record.setdefault(k, v)
        if isinstance(task.output, dict):
            flat: dict[str, Any] = {}
            _flatten("", task.output, flat)
            for k, v in flat.items():
                record.setdefault(k, v)
        elif task.output is not None:
            record["output"] = task.output
        record["created_at"] = task.created_at
        record["updated_at"] = task.updated_at
        records.append(record)
    base = ["service", "kind", *_BASE, "service_status"]
    df = pd.DataFrame.from_records(records)
    if df.empty:
        return pd.DataFrame(columns=[*base, "created_at", "updated_at"])
    rest = [c for c in df.columns if c not in base and c not in ("created_at", "updated_at")]
    return _typed(df[[*base, *rest, "created_at", "updated_at"]])


# -- Linkup ----------------------------------------------------------------------------------
def _answer_parts(task: Task) -> dict[str, Any]:
    """answer / sources / results / data from a search or research output, whatever its type."""
    out = task.output
    parts: dict[str, Any] = {"answer": None, "sources": None, "results": None, "data": None}
    if task.input.get("outputType") == "structured":
        if task.input.get("includeSources") and isinstance(out, dict) and "data" in out:
            parts["data"], parts["sources"] = out.get("data"), out.get("sources")
        else:
            parts["data"] = out
    elif isinstance(out, dict):
        parts["answer"], parts["sources"], parts["results"] = (out.get("answer"), out.get("sources"),
                                                               out.get("results"))
    return parts


def answers_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(query, task)`` pairs of search or research tasks -> ``kit.search`` / ``kit.research``."""
    records = [{"input": raw, **_base(task), **_answer_parts(task)} for raw, task in rows]
    columns = ["input", *_BASE, "answer", "sources", "results", "data"]
    return _typed(pd.DataFrame.from_records(records, columns=columns))


FETCH_FIELDS = {"markdown": "markdown", "favicon": "favicon", "rawContent": "raw_content",
                "rawHtml": "raw_html", "contentType": "content_type", "images": "images",
                "data": "data"}  # data: what a fetch with schema= extracted


def pages_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(url, task)`` pairs of fetch tasks -> the ``kit.fetch_pages`` frame."""
    records = []
    for raw, task in rows:
        out = task.output if isinstance(task.output, dict) else {}
        records.append({"input": raw, **_base(task),
                        **{column: out.get(name) for name, column in FETCH_FIELDS.items()}})
    return _typed(pd.DataFrame.from_records(records,
                                            columns=["input", *_BASE, *FETCH_FIELDS.values()]))


def _domain(url: Any) -> Any:
    if not isinstance(url, str):
        return None
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def sources(df: pd.DataFrame, column: str = "sources") -> pd.DataFrame:
    """The sources (or ``column="results"``) of a search/research frame as a long table:
    ``task_id, input, position, name, url, snippet, favicon, domain``; a repeated query counts
    once."""
    long = long_table(df, column, key="task_id")
    if long.empty:
        return pd.DataFrame(columns=["task_id", "input", "position", "name", "url", "domain"])
    if "input" in df.columns:
        queries = dict(zip(df["task_id"], df["input"], strict=True))
        long.insert(1, "input", long["task_id"].map(queries))
    long["domain"] = long["url"].map(_domain) if "url" in long.columns else None
    return _typed(long)


# -- Agora -----------------------------------------------------------------------------------
def _when(value: Any) -> Any:
    if value is None:
        return pd.NaT
    return pd.to_datetime(value, unit="s", utc=True)


def deep_dives_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(input, task)`` pairs of Agora tasks -> the ``kit.deep_dives`` frame."""
    records = []
    for raw, task in rows:
        out = task.output if isinstance(task.output, dict) else {}
        records.append({
            "input": raw, "contract_address": task.input.get("contract_address"),
            "x_handle": task.input.get("x_handle"), **_base(task),
            "service_status": task.service_status, "deliverable": out.get("deliverable"),
            "expiration_time": _when(out.get("expiration_time")),
        })
    columns = ["input", "contract_address", "x_handle", "task_id", "status", "service_status",
               "error", "deliverable", "expiration_time"]
    df = pd.DataFrame.from_records(records, columns=columns)
    df["expiration_time"] = pd.to_datetime(df["expiration_time"], utc=True)
    return _typed(df)


_ONCHAIN_BASE = ["input", "contract_address", "task_id", "status", "service_status", "error",
                 "expiration_time", "deliverable"]


def _onchain_data(task: Task) -> tuple[dict[str, Any], str | None, str | None]:
    """(flattened data, raw text kept, error) from an on-chain task's JSON-in-a-string."""
    out = task.output if isinstance(task.output, dict) else {}
    raw = out.get("deliverable")
    if task.status is not Status.COMPLETED or raw is None:
        return {}, None, None
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except ValueError as exc:
        return {}, str(raw), f"the deliverable is not valid JSON ({exc}); its text is in 'deliverable'"
    if not isinstance(data, dict):
        text = raw if isinstance(raw, str) else json.dumps(raw)
        return {}, text, "the deliverable is JSON but not an object; its text is in 'deliverable'"
    flat: dict[str, Any] = {}
    _flatten("", data, flat)
    # A key named like one of kit's columns (status, error...) never overwrites it.
    return _unclashed(flat, _ONCHAIN_BASE, "data."), None, None


def onchain_frame(rows: Sequence[tuple[Any, Task]]) -> pd.DataFrame:
    """``(input, task)`` pairs of on-chain tasks -> the ``kit.onchain_data`` frame: the input,
    kit's columns, then the deliverable's JSON as columns (nested objects as ``a.b``; lists
    kept).  A deliverable that is not a JSON object keeps its text in ``deliverable``."""
    records, data_columns = [], {}
    for raw, task in rows:
        out = task.output if isinstance(task.output, dict) else {}
        data, text, problem = _onchain_data(task)
        data_columns.update(dict.fromkeys(data))
        records.append({"input": raw, "contract_address": task.input.get("contract_address"),
                        **_base(task), "service_status": task.service_status,
                        "expiration_time": _when(out.get("expiration_time")),
                        "deliverable": text, **data})
        if problem:
            records[-1]["error"] = problem
    df = pd.DataFrame.from_records(records, columns=[*_ONCHAIN_BASE, *data_columns])
    df["expiration_time"] = pd.to_datetime(df["expiration_time"], utc=True)
    for column in data_columns:  # whole numbers stay whole beside rows without data
        values = [r[column] for r in records if r.get(column) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool)  # (token supplies
                          and -2**63 <= v < 2**63 for v in values):      # can pass int64)
            df[column] = pd.array([r.get(column) for r in records], dtype="Int64")
    return _typed(df)
