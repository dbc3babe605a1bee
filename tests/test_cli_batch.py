"""The batch command line as a new user tries it: files, stdin, CSV columns, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest


def kit_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_profiles_from_a_file_to_parquet(tmp_path):
    slugs = tmp_path / "slugs.txt"
    slugs.write_text("williamhgates\n# a comment\n\nhttps://www.linkedin.com/in/satyanadella/\n")
    out = tmp_path / "profiles.parquet"
    result = kit_cli("profiles", str(slugs), "-o", str(out), "--sandbox", "200")
    assert result.returncode == 0, result.stderr
    df = pd.read_parquet(out)
    assert list(df["name"]) == ["Bill Gates", "Satya Nadella"]
    assert "[kit] OutX fetch-profile: 2/2 done" in result.stderr  # the text progress line
    assert "2 rows: 2 completed" in result.stderr


def test_search_from_stdin_to_csv_on_stdout():
    result = kit_cli("search", "--sandbox", "200", "-q", stdin="first question\nsecond one\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("query,task_id,status,error,answer,sources")
    df = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert list(df["query"]) == ["first question", "second one"]
    assert isinstance(json.loads(df.loc[0, "sources"]), list)  # lists as JSON text
    assert "[kit]" not in result.stderr  # -q: no progress


def test_deep_dives_from_a_csv_column(tmp_path):
    contracts = tmp_path / "tokens.csv"
    contracts.write_text("name,address\npepe,0x6982508145454Ce325dDbE47a25d4ec3d2311933\n")
    out = tmp_path / "reports.csv"
    result = kit_cli("deep-dives", str(contracts), "--column", "address", "--confirm",
                     "-o", str(out), "--sandbox", "300")
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out)
    assert df.loc[0, "status"] == "completed" and df.loc[0, "deliverable"].startswith("https://")


@pytest.mark.parametrize("args, stdin, words", [
    (["profiles", "--sandbox", "200"], "not a slug!\n", "cannot be a LinkedIn profile slug"),
    (["profiles", "/no/such/file.txt"], None, "no such file"),
    (["profiles", "--base-url", "http://example.com"], "williamhgates\n", "plain http"),
    (["deep-dives", "--sandbox", "200"], "0x123\n", "not a token contract"),
])
def test_whole_call_errors_exit_non_zero_with_a_clear_message(args, stdin, words):
    result = kit_cli(*args, stdin=stdin)
    assert result.returncode == 2 and words in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_key_says_which_variable(monkeypatch):
    monkeypatch.delenv("OUTX_API_KEY", raising=False)
    result = kit_cli("profiles", stdin="williamhgates\n")
    assert result.returncode == 2 and "OUTX_API_KEY" in result.stderr


def test_resume_and_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_JOURNAL", str(tmp_path / "j.sqlite3"))
    result = kit_cli("journal")
    assert result.returncode == 0 and "empty" in result.stdout
    result = kit_cli("resume", "-q", "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr  # no keys here: nothing to resume, no error


@pytest.mark.parametrize("command", ["profiles", "posts", "search", "fetch-pages", "research",
                                     "deep-dives", "resume", "journal", "demo", "sandbox"])
def test_every_command_has_complete_help(command):
    result = kit_cli(command, "--help")
    assert result.returncode == 0
    assert "usage: kit " + command in result.stdout
    assert len(result.stdout) > 200


def test_max_cost_refuses_a_batch_before_sending_and_onchain_runs(tmp_path):
    result = kit_cli("search", "--sandbox", "200", "--max-cost", "0.005", "-q",
                     stdin="q one\nq two\n")
    assert result.returncode == 2 and result.stdout == ""
    assert "up to $0.012" in result.stderr and "nothing was sent" in result.stderr
    contracts = "0x" + "12" * 20 + "\n"
    out = tmp_path / "onchain.csv"
    result = kit_cli("onchain", "--sandbox", "2000", "--max-cost", "1", "-o", str(out),
                     stdin=contracts)
    assert result.returncode == 0, result.stderr
    assert "est. 1 credit for 1 task" in result.stderr
    assert pd.read_csv(out).loc[0, "status"] == "completed"
