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


HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
           "-2+3", "\t=1+1", "\r=1+1", "plain text", "a line\nbreak"]


def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path):
    import csv

    import openpyxl

    df = pd.DataFrame({"input": [f"p{i}" for i in range(len(HOSTILE))], "headline": HOSTILE,
                       "skills": [["=1+1", "ok"]] * len(HOSTILE), "followers": range(len(HOSTILE))})
    kit.export(df, tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(HOSTILE) + 1  # no cell split into extra rows
    headlines = [r[1] for r in rows[1:]]
    assert headlines[:5] == ["'" + h for h in HOSTILE[:5]]
    assert b'"\'\r=1+1"' in (tmp_path / "x.csv").read_bytes()  # the lone CR is quoted
    assert headlines[6:] == HOSTILE[6:]
    kit.export(df, tmp_path / "x.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    cells = [sheet.cell(row=i + 2, column=2) for i in range(len(HOSTILE))]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    assert [c.value for c in cells[:5]] == ["'" + h for h in HOSTILE[:5]]
    assert cells[5].value.startswith("'")  # (XML reads the lone CR back as LF)
    kit.export(df, tmp_path / "raw.csv", safe=False)  # the opt-out writes text as it came
    assert pd.read_csv(tmp_path / "raw.csv")["headline"].iloc[0] == HOSTILE[0]


def test_the_journal_is_private(tmp_path):
    import stat

    from kit.core.journal import Journal

    path = tmp_path / "private" / "journal.sqlite3"
    with Journal(path) as book:
        book.rows()
        _job_id = book.add_job(helper="profiles", service="outx", origin="o", key_fp="fp",
                               label="l", options={}, rows=[], items=[])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for side in path.parent.glob("journal.sqlite3-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600
