"""Stored notebooks read well without a widget manager (GitHub, nbconvert, a closed kernel)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_nbconvert_html_shows_the_final_progress_as_text(notebook):
    pytest.importorskip("nbconvert")
    html = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--stdout",
                           str(notebook)], capture_output=True, text=True, check=True).stdout
    finals = re.findall(r"\[kit\] [^<]*?: (\d+)/(\d+) done · [^<]*(?:finished|stopped)", html)
    assert finals, "no final progress line in the rendered notebook"
    bars = [dict(re.findall(r"(value|max)=[\"'](\d+)", tag))
            for tag in re.findall(r"<progress[^>]*>", html)]
    # each display ends as a static bar drawn to its final count, beside its text
    assert [(b["value"], b["max"]) for b in bars] == finals
    # No output is left as a bare widget placeholder (text only a widget manager could draw).
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in html
    assert "IntProgress(" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)
