"""Every helper's frame follows one convention, as pandas users expect of anything that maps over
their data: the input in an ``input`` column, text typed as pandas types text (NaN where
missing), and a Series' own index on the rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import kit
from kit.frames import TEXT_DTYPE

CONTRACT = "0x" + "5c" * 20  # its own: a completed deep dive has no error


def _frames() -> dict[str, pd.DataFrame]:
    opts = {"progress": False, "errors": "rows"}
    return {
        "profiles": kit.profiles(["williamhgates", "ghost-profile-404", "x"], **opts),
        "search": kit.search(["what is kit?", ""], **opts),
        "fetch_pages": kit.fetch_pages(["https://example.com/a", "not a url"], **opts),
        "deep_dives": kit.deep_dives([CONTRACT, "0xnothex"], confirm=True, **opts),
    }


@pytest.fixture(scope="module")
def frames(sandbox):
    return _frames()


@pytest.mark.parametrize("helper", ["profiles", "search", "fetch_pages", "deep_dives"])
def test_one_input_column_one_text_dtype_one_missing_value(frames, helper):
    df = frames[helper]
    assert df.columns[0] == "input"
    for column in ("input", "task_id", "status", "error"):
        assert df[column].dtype == TEXT_DTYPE, (helper, column, df[column].dtype)
        # pandas' missing value: NaN, never None beside it
        assert not any(v is None for v in df[column]), (helper, column)
    assert df["error"].isna().any() and df["error"].notna().any()  # a good row and a bad one
    missing = df.loc[df["error"].isna(), "error"].iloc[0]
    assert isinstance(missing, float) and math.isnan(missing)
    # A refused input is a row with its error, not a lost row.
    assert (df["status"] == "failed").any()


def test_a_series_keeps_its_index_so_join_works(sandbox):
    people = pd.DataFrame({"team": ["a", "b", "c"],
                           "slug": ["williamhgates", "satyanadella", "williamhgates"]},
                          index=pd.Index([101, 205, 307], name="person_id"))
    df = kit.profiles(people["slug"], progress=False)
    assert df.index.equals(people.index)
    joined = people.join(df[["name", "status"]])
    assert list(joined["name"]) == ["Bill Gates", "Satya Nadella", "Bill Gates"]
    # A plain list keeps pandas' default numbering.
    assert list(kit.profiles(["williamhgates"], progress=False).index) == [0]


def test_a_series_index_survives_a_background_job(sandbox):
    queries = pd.Series(["first question?", "second question?"], index=["q1", "q2"])
    job = kit.search(queries, wait=False, progress=False)
    df = job.wait()
    assert list(df.index) == ["q1", "q2"] and list(df["input"]) == list(queries)
