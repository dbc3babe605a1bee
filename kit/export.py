"""Write any kit frame to a file, the format chosen by the suffix.

Cells holding lists or dicts (experience, skills, sources) are kept native in Parquet and
written as JSON text in CSV and Excel, so that nothing is lost and every tool can read them.

Text from the services is data, never code: anyone writes their own LinkedIn headline, and a
researcher opens the export in a spreadsheet.  In CSV and Excel a text cell a spreadsheet would
evaluate (one that starts with ``= + - @``, a tab or a carriage return) is written with a leading
``'`` (OWASP's advice against CSV injection), and CSV quotes every line break.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .core.errors import InvalidRequest


def _is_nested(series: pd.Series) -> bool:
    return bool(series.dtype == object
                and series.map(lambda v: isinstance(v, (list, dict))).any())


def json_cells(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with list and dict cells as JSON text (for CSV, Excel, a terminal)."""
    out = df.copy()
    for column in out.columns:
        if _is_nested(out[column]):
            out[column] = out[column].map(
                lambda v: json.dumps(v, ensure_ascii=False, default=str)
                if isinstance(v, (list, dict)) else v
            )
    return out


# What makes a spreadsheet read a text cell as a formula (or split it into rows).
_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _inert(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and _FORMULA.match(value) else value


def neutralized(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, and column names (a service's field names become
    columns), a spreadsheet would evaluate start with ``'``."""
    out = df.copy()
    out.columns = [_inert(c) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(_inert)
    return out


# Each format kit writes: the library it needs (None: pandas alone) and how to install it.
FORMATS: dict[str, tuple[str | None, str]] = {
    ".csv": (None, ""),
    ".json": (None, ""),
    ".jsonl": (None, ""),
    ".parquet": ("pyarrow", 'pip install pyarrow'),
    ".pq": ("pyarrow", 'pip install pyarrow'),
    ".xlsx": ("openpyxl", 'pip install "kit-research[excel]" (or openpyxl)'),
}


def check_target(path: str | Path) -> Path:
    """The file ``path`` names, checked before any work is done: a known format whose library
    is installed, in a folder that exists.  ``InvalidRequest`` saying what to do otherwise."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidRequest(f"{str(target)!r} is a folder; give a file name such as "
                             f"{str(target / 'table.csv')!r}.")
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidRequest(f"cannot tell the format of {target.name!r}; use a name ending in "
                             f"{', '.join(FORMATS)}.")
    library, install = FORMATS[suffix]
    if library is not None and importlib.util.find_spec(library) is None:
        raise InvalidRequest(f"writing {suffix} files needs {library}, which is not installed: "
                             f"{install}.")
    if not target.parent.is_dir():
        raise InvalidRequest(f"the folder {str(target.parent)!r} does not exist; create it "
                             "first, or write somewhere else.")
    return target


def _json_text(text: str) -> str:
    """pandas writes "/" as "\\/" in JSON (legal, but it reads as unfinished): plain "/"."""
    return re.sub(r'(?<!\\)((?:\\\\)*)\\/', r"\1/", text)


def export(df: pd.DataFrame, path: str | Path, *, safe: bool = True, **options: Any) -> Path:
    """Write ``df`` to ``path`` (``.csv``, ``.parquet``, ``.xlsx``, ``.json``); return the path.

    The folder must exist; an existing file is replaced.  With ``safe=True`` (the default)
    text cells that a spreadsheet would run as a formula get a leading ``'`` in CSV and Excel,
    and CSV quotes line breaks: service text (a LinkedIn headline, a page's title) is written as
    data.  ``safe=False`` writes text as it came, for data you trust.  Extra keyword arguments
    go to the pandas writer.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidRequest(f"export() takes a pandas DataFrame, got {type(df).__name__}.")
    target = check_target(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        frame = json_cells(df)
        # CRLF rows (RFC 4180): a cell holding a lone \r or \n is then always quoted.
        options.setdefault("lineterminator", "\r\n")
        (neutralized(frame) if safe else frame).to_csv(target, index=False, **options)
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(target, index=False, engine="pyarrow", **options)
    elif suffix == ".xlsx":
        frame = neutralized(json_cells(df)) if safe else json_cells(df)
        for column in frame.columns:  # Excel has no time zones
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_localize(None)
        frame.to_excel(target, index=False, **options)
    else:  # .json, .jsonl
        text = df.to_json(orient="records", lines=suffix == ".jsonl", date_format="iso",
                          force_ascii=False, **options)
        target.write_text(_json_text(text), encoding="utf-8")
    return target
