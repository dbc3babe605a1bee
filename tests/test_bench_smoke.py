"""The benchmark's smoke test: ``python -m bench --smoke`` (tiny batches of every scenario, well
under a minute) writes its report with every scenario and a PASS or FAIL line per target.  The
verdicts themselves are not asserted: a tiny batch says nothing about the targets."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("## 1. ", "## 2. ", "## 3. ", "## 4. ", "## 5. ", "## 6. ")
TARGET_LINES = ("1 wall", "1 reads", "1 pace", "1 flagged", "2 wall", "2 vs peers", "2 reads",
                "2 429s", "3 wall", "3 429s", "4 memory", "4 wall", "4 CPU", "5 frames",
                "6 flagged", "6 pace", "6 wall")


def test_smoke_run_writes_every_scenario_and_a_verdict_per_target(tmp_path: Path) -> None:
    pytest.importorskip("linkup")  # the Linkup peers use the official SDK (test extra)
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: some target failed
    report = (tmp_path / "results.md").read_text()
    for heading in SCENARIOS:
        assert heading in report
    assert "## The limit" in report
    verdicts = [line for line in report.splitlines() if line.startswith("- **")]
    for target in TARGET_LINES:
        assert any(line.startswith((f"- **PASS** {target}", f"- **FAIL** {target}"))
                   for line in verdicts), target
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["scenario"] for r in rows} == {"1", "2", "3", "4", "6"}
    assert not [r for r in rows if r.get("error")], "a contender crashed"
    assert (tmp_path / "results.png").exists()  # matplotlib comes with the test extra
