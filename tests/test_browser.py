"""The progress bar as a person sees it: JupyterLab in headless Chromium runs notebook 01.

Needs Debian's chromium (``/usr/bin/chromium``), Playwright's Python package and JupyterLab
(all in the ``test`` extra but the browser; ``.ci/run`` installs it).  Skipped where they are
missing.  Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (apt-get install chromium chromium-driver)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    pytest.importorskip("jupyterlab")
    # A copy of the notebook, slowed down so that the wait lasts long enough to watch.
    notebook = json.loads((ROOT / "notebooks" / "01-linkedin-profiles.ipynb").read_text())
    for cell in notebook["cells"]:
        cell["source"] = "".join(cell["source"]).replace("speed=360", "speed=40")
        cell["outputs"] = [] if cell["cell_type"] == "code" else cell.get("outputs")
        if cell["cell_type"] != "code":
            cell.pop("outputs", None)
    (tmp_path / "profiles.ipynb").write_text(json.dumps(notebook))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--allow-root", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}").close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start")
    yield f"{base}/lab/tree/profiles.ipynb?token={token}"
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def dismiss_news(page) -> None:
    """JupyterLab asks about news in a toast that would cover the screenshot."""
    with contextlib.suppress(Exception):
        page.click(".Toastify button:has-text('No')", timeout=300)


def test_progress_bar_in_jupyterlab(lab):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=60_000)
        page.click(".jp-Notebook .jp-Cell >> nth=0")
        page.click("text=Run", timeout=10_000)
        page.click("text=Run All Cells", timeout=10_000)

        bar = page.wait_for_selector(".widget-hprogress", timeout=60_000)
        values, labels, shot = [], [], False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                bar.scroll_into_view_if_needed(timeout=500)
                width = page.eval_on_selector(".widget-hprogress .progress-bar",
                                              "e => parseFloat(e.style.width || '0')")
                label = page.inner_text(".widget-hbox .widget-html", timeout=500)
            except Exception:
                break  # the widget was replaced by its final, static state
            values.append(width)
            labels.append(label)
            if not shot and 0 < width < 100 and "pending" in label:
                dismiss_news(page)
                page.screenshot(path=str(ARTIFACTS / "progress-mid-wait.png"))
                shot = True
            time.sleep(0.1)
        # The bar rose while tasks were polled; the label counted tasks per status.
        assert shot, f"no mid-wait state seen: {values}"
        assert values == sorted(values) and values[-1] > values[0]
        assert any("pending" in text for text in labels)
        assert any("completed" in text and "done" in text and "s waiting" in text
                   for text in labels)

        # The end: a full bar with its final counts, and the table.
        page.wait_for_selector("text=10/10 done", timeout=60_000)
        done = page.eval_on_selector("progress", "e => [e.value, e.max]")
        assert done[0] == done[1] == 10
        page.wait_for_selector("table.dataframe >> text=Bill Gates", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=60_000)
        table = page.query_selector("table.dataframe")
        table.scroll_into_view_if_needed()
        dismiss_news(page)
        page.screenshot(path=str(ARTIFACTS / "progress-after.png"))
        assert "Satya Nadella" in table.inner_text()
        browser.close()
