"""The batch command line as a new user tries it: files, stdin, CSV columns, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.fakes import closed_port


def kit_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_profiles_from_a_file_to_parquet(tmp_path):
    slugs = tmp_path / "slugs.txt"
    slugs.write_text("williamhgates\n# a comment\n\nhttps://www.linkedin.com/in/satyanadella/\n")
    out = tmp_path / "profiles.parquet"
    result = kit_cli("profiles", str(slugs), "-o", str(out), "--sandbox", "--speed", "200")
    assert result.returncode == 0, result.stderr
    df = pd.read_parquet(out)
    assert list(df["name"]) == ["Bill Gates", "Satya Nadella"]
    assert "[kit] OutX fetch-profile: 2/2 done" in result.stderr  # the text progress line
    assert "2 rows: 2 completed" in result.stderr


def test_search_from_stdin_to_csv_on_stdout():
    result = kit_cli("search", "--sandbox", "--speed", "200", "-q", stdin="first question\nsecond one\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("input,task_id,status,error,answer,sources")
    df = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert list(df["input"]) == ["first question", "second one"]
    assert isinstance(json.loads(df.loc[0, "sources"]), list)  # lists as JSON text
    assert "[kit]" not in result.stderr  # -q: no progress


def test_deep_dives_from_a_csv_column(tmp_path):
    contracts = tmp_path / "tokens.csv"
    contracts.write_text("name,address\npepe,0x6982508145454Ce325dDbE47a25d4ec3d2311933\n")
    out = tmp_path / "reports.csv"
    result = kit_cli("deep-dives", str(contracts), "--column", "address", "--confirm",
                     "-o", str(out), "--sandbox", "--speed", "300")
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out)
    assert df.loc[0, "status"] == "completed" and df.loc[0, "deliverable"].startswith("https://")


@pytest.mark.parametrize("args, stdin, words", [
    (["profiles", "--sandbox", "--speed", "200"], "not a slug!\n", "cannot be a LinkedIn profile slug"),
    (["profiles", "/no/such/file.txt"], None, "no such file"),
    (["profiles", "--base-url", "http://example.com"], "williamhgates\n", "plain http"),
    (["deep-dives", "--sandbox", "--speed", "200"], "0x123\n", "not a token contract"),
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
    result = kit_cli("journal")  # reading makes no journal: a deleted sandbox's stays gone
    assert result.returncode == 0 and "no journal at" in result.stderr and "KIT_JOURNAL" in result.stderr
    assert not (tmp_path / "j.sqlite3").exists()
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
    result = kit_cli("search", "--sandbox", "--speed", "200", "--max-cost", "0.005", "-q",
                     stdin="q one\nq two\n")
    assert result.returncode == 2 and result.stdout == ""
    assert "up to $0.012" in result.stderr and "nothing was sent" in result.stderr
    contracts = "0x" + "12" * 20 + "\n"
    out = tmp_path / "onchain.csv"
    result = kit_cli("onchain", "--sandbox", "--speed", "2000", "--max-cost", "1", "-o", str(out),
                     stdin=contracts)
    assert result.returncode == 0, result.stderr
    assert "est. 1 credit for 1 task" in result.stderr
    assert pd.read_csv(out).loc[0, "status"] == "completed"


def test_the_output_is_checked_before_any_request(tmp_path):
    stdin = "williamhgates\n"
    for target, message in [("out.txt", "cannot tell the format"),
                            ("missing/out.csv", "does not exist"), (".", "is a folder")]:
        result = kit_cli("profiles", "--sandbox", "-o", str(tmp_path / target), stdin=stdin)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "OutX fetch-profile" not in result.stderr  # nothing ran
    result = kit_cli("profiles", "--sandbox", "--speed", "300", "-q", "-o",
                     str(tmp_path / "one.json"), stdin=stdin)
    assert result.returncode == 0 and "wrote 1 row to" in result.stderr
    text = (tmp_path / "one.json").read_text()
    assert "https://www.linkedin.com/in/williamhgates" in text and "\\/" not in text


def test_a_csv_without_header_keeps_its_first_line_and_unknown_flags_show_the_usage(tmp_path):
    plain = tmp_path / "slugs.csv"
    plain.write_text("williamhgates\nsatyanadella\nann-lee-1\n")
    result = kit_cli("profiles", str(plain), "--sandbox", "--speed", "300", "-q")
    assert result.returncode == 0 and "3 rows: 3 completed" in result.stderr
    assert "no header line" in result.stderr
    headed = tmp_path / "headed.csv"
    headed.write_text("slug\nwilliamhgates\n")
    result = kit_cli("profiles", str(headed), "--sandbox", "--speed", "300", "-q")
    assert "kit: 1 row: 1 completed" in result.stderr and "no header line" not in result.stderr
    result = kit_cli("profiles", "--sandbox", "--bogus", stdin="williamhgates\n")
    assert result.returncode == 2 and "usage: kit profiles" in result.stderr


def test_journal_paths_must_exist_and_be_journals(tmp_path):
    missing = kit_cli("journal", "--path", str(tmp_path / "typo.sqlite3"))
    assert missing.returncode == 2 and "no journal there" in missing.stderr
    assert not (tmp_path / "typo.sqlite3").exists()  # no new empty database
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello\n")
    result = kit_cli("jobs", "--path", str(text_file))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot be used" in result.stderr


def test_a_dead_service_is_one_error_for_a_batch_and_for_resume(tmp_path):
    import os

    import kit
    from kit.core.secrets import Secret

    origin = f"http://127.0.0.1:{closed_port()}"
    env = dict(os.environ, OUTX_API_KEY="dead-key-123456", KIT_JOURNAL=str(tmp_path / "j.sqlite3"),
               OUTX_BASE_URL=origin)
    run = lambda *args: subprocess.run([sys.executable, "-m", "kit", *args], input="ann-lee\n",  # noqa: E731
                                       capture_output=True, text=True, timeout=120, env=env)
    result = run("profiles", "-q")
    assert result.returncode == 2 and "Check your network" in result.stderr
    assert "connection refused" in result.stderr.lower() and "ssl:default" not in result.stderr
    assert "unsent inputs stay queued" in result.stderr  # and how to go on
    assert "created" not in result.stderr.split("error:")[-1]
    with kit.Journal(tmp_path / "j.sqlite3") as book:  # a task left unfinished at that origin
        book.record(kit.Task(service="outx", id="123e4567-e89b-42d3-a456-426614174000",
                             kind="fetch-profile"), origin=origin,
                    key_fp=Secret("dead-key-123456").fingerprint(book.salt))
    started = time.monotonic()
    result = run("resume", "--service", "outx", "-q")
    assert result.returncode == 2 and "Check your network" in result.stderr
    assert time.monotonic() - started < 60  # not the 3-minute wait


def test_messages_name_the_command_line_and_the_counter_says_what_it_counts(tmp_path):
    contract = "0x" + "cd" * 20
    result = kit_cli("deep-dives", "--sandbox", "--speed", "300", "-q", stdin=contract + "\n")
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert df.loc[0, "status"] == "pending" and "--confirm" in df.loc[0, "error"]

    # Rows that repeat an input: the counter counts requests and says so; a wait cut short
    # says it stopped waiting (not "finished") and how to carry on from here.
    slugs = tmp_path / "slugs.txt"
    slugs.write_text("anna-bell\nbob-carter\nanna-bell\n")
    result = kit_cli("profiles", str(slugs), "--sandbox", "--speed", "10", "--timeout", "1",
                     "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    final = result.stderr.replace("\r", "\n").strip().splitlines()[-3]
    assert "OutX fetch-profile · 2 distinct, 1 repeat: 0/2 done" in final, result.stderr
    assert "s stopped waiting (2 not finished in time" in final and "finished (" not in final
    assert not re.search(r"· 0\.0s ", final)  # the time it really waited
    rows = pd.read_csv(tmp_path / "out.csv")
    assert rows["error"].str.contains("`kit resume` reads it again").all()


@pytest.mark.parametrize("command", ["resume", "jobs", "journal"])
def test_journal_commands_say_where_a_sandboxs_journal_is(command):
    result = kit_cli(command, "--sandbox")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "run `kit sandbox` in another terminal and export what it prints" in result.stderr
    assert result.stderr.count("\n") == 1  # one line


def test_newcomer_slips_are_refused_before_anything_is_sent(tmp_path, monkeypatch):
    several = tmp_path / "people.csv"
    several.write_text("name,slug\nAna,ana-almeida\n")
    result = kit_cli("profiles", str(several), "--sandbox", "--speed", "300")
    assert result.returncode == 2 and "--column NAME" in result.stderr and "name, slug" in result.stderr
    result = kit_cli("profiles", "--speed", "3", stdin="ana-almeida\n")
    assert result.returncode == 2 and "--speed goes with --sandbox" in result.stderr
    # A leftover KIT_TIME_SCALE would speed the LinkedIn pace up against the real service.
    monkeypatch.setenv("KIT_TIME_SCALE", "100")
    monkeypatch.setenv("OUTX_API_KEY", "real-looking-key-123")
    monkeypatch.delenv("OUTX_BASE_URL", raising=False)
    result = kit_cli("profiles", "-q", stdin="ana-almeida\n")
    assert result.returncode == 2 and "Unset KIT_TIME_SCALE" in result.stderr
    assert kit_cli("--version").stdout.startswith("kit-research ")


def test_deep_dives_awaiting_confirmation_say_so_on_the_terminal():
    result = kit_cli("deep-dives", "--sandbox", "--speed", "300", "-q",
                     stdin="0x" + "de" * 20 + "\n")
    assert result.returncode == 0, result.stderr
    assert "1 deep dive awaits confirmation: run the same command with --confirm" in result.stderr


def test_the_linkedin_pace_on_the_command_line(tmp_path):
    # A pace that cannot be kept is refused before anything is sent, saying what to write.
    result = kit_cli("profiles", "--sandbox", "--hours", "19:00-08:00", "-q", stdin="ann-lee\n")
    assert result.returncode == 2 and "must end after it starts" in result.stderr
    assert "--hours" in result.stderr and "Pace(" not in result.stderr  # the flag's name
    result = kit_cli("profiles", "--sandbox", "--patience", "0", "-q", stdin="ann-lee\n")
    assert result.returncode == 2 and "not a positive number of seconds" in result.stderr
    result = kit_cli("profiles", "--sandbox", "--days", "Mon-Fry", "-q", stdin="ann-lee\n")
    assert result.returncode == 2 and "'Mon-Fri'" in result.stderr
    help_text = kit_cli("profiles", "--help").stdout
    for flag in ("--pending", "--hours", "--days", "--tz", "--patience"):
        assert flag in help_text
    # Working hours that always hold, two pending at once: the batch runs as asked.
    out = tmp_path / "p.csv"
    result = kit_cli("profiles", "--sandbox", "--speed", "600", "--hours", "00:00-24:00",
                     "--tz", "UTC", "--pending", "2", "--patience", "30", "-o", str(out),
                     stdin="ann-lee\nbob-carter\n")
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(out)["status"]) == ["completed", "completed"]
