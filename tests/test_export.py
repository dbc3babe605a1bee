"""Every frame exports cleanly: lists and dicts as JSON text in CSV and Excel, native in Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import kit


@pytest.fixture(scope="module")
def frames(sandbox):
    profiles = kit.profiles(["williamhgates", "export-person", "ghost-profile-404"],
                            progress=False)
    answers = kit.search(["export question"], progress=False)
    reports = kit.deep_dives(["0x" + "e" * 40], confirm=True, progress=False)
    return {
        "profiles": profiles,
        "experience": kit.frames.long_table(profiles, "experience"),
        "skills": kit.frames.long_table(profiles, "skills"),
        "answers": answers,
        "sources": kit.frames.sources(answers),
        "reports": reports,
        "journal": kit.journal(sandbox.journal),
    }


@pytest.mark.parametrize("name", ["profiles", "experience", "skills", "answers", "sources",
                                  "reports", "journal"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx", ".json"])
def test_every_frame_exports(frames, tmp_path, name, suffix):
    df = frames[name]
    path = kit.export(df, tmp_path / f"{name}{suffix}")
    if suffix == ".csv":
        back = pd.read_csv(path)
    elif suffix == ".parquet":
        back = pd.read_parquet(path)
    elif suffix == ".xlsx":
        back = pd.read_excel(path)
    else:
        back = pd.read_json(path, orient="records")
    assert len(back) == len(df) and list(back.columns) == list(df.columns)


def test_lists_are_json_in_csv_and_excel_and_native_in_parquet(frames, tmp_path):
    df = frames["profiles"]
    skills = df.loc[0, "skills"]
    for suffix, reader in ((".csv", pd.read_csv), (".xlsx", pd.read_excel)):
        back = reader(kit.export(df, tmp_path / f"p{suffix}"))
        assert json.loads(back.loc[0, "skills"]) == skills
        assert json.loads(back.loc[0, "experience"])[0]["company"] == \
            "Bill & Melinda Gates Foundation"
    back = pd.read_parquet(kit.export(df, tmp_path / "p.parquet"))
    assert list(back.loc[0, "skills"]) == skills
    assert str(back["followers"].dtype) == "Int64"


def test_timestamps_survive(frames, tmp_path):
    df = frames["reports"]
    back = pd.read_parquet(kit.export(df, tmp_path / "r.parquet"))
    assert back.loc[0, "expiration_time"] == df.loc[0, "expiration_time"]
    excel = pd.read_excel(kit.export(df, tmp_path / "r.xlsx"))  # Excel has no time zones
    assert excel.loc[0, "expiration_time"] == df.loc[0, "expiration_time"].tz_localize(None)
