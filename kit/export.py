"""Write any kit frame to a file, the format chosen by the suffix.

Cells holding lists or dicts (experience, skills, sources) are kept native in Parquet and
written as JSON text in CSV and Excel, so that nothing is lost and every tool can read them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .core.errors import InvalidRequest


def _is_nested(series: pd.Series) -> bool:
    return series.dtype == object and series.map(lambda v: isinstance(v, (list, dict))).any()


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


def export(df: pd.DataFrame, path: str | Path, **options: Any) -> Path:
    """Write ``df`` to ``path`` (``.csv``, ``.parquet``, ``.xlsx``, ``.json``); return the path.

    Parent folders are created.  Extra keyword arguments go to the pandas writer.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidRequest(f"export() takes a pandas DataFrame, got {type(df).__name__}.")
    target = Path(path)
    suffix = target.suffix.lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        json_cells(df).to_csv(target, index=False, **options)
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(target, index=False, engine="pyarrow", **options)
    elif suffix in (".xlsx", ".xls"):
        frame = json_cells(df)
        for column in frame.columns:  # Excel has no time zones
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_localize(None)
        frame.to_excel(target, index=False, **options)
    elif suffix in (".json", ".jsonl"):
        df.to_json(target, orient="records", lines=suffix == ".jsonl", date_format="iso",
                   force_ascii=False, **options)
    else:
        raise InvalidRequest(
            f"export(): cannot tell the format of {target.name!r}; use a name ending in .csv, "
            ".parquet, .xlsx, .json or .jsonl."
        )
    return target
