"""Ctrl-C as a user presses it: in a script, in a Jupyter kernel and on the command line, the
job stops in a final state that says what it left, with no traceback through kit's internals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import kit
with kit.Sandbox(speed=20) as sb:
    print("ready", flush=True)
    df = kit.profiles([f"person-{i:03d}" for i in range(30)])
"""
# Inside a sandbox the journal is the sandbox's own, which ends with it: the note says so.
STOPPED = re.compile(r"stopped: (\d+) created (?:is|are) in the journal of this sandbox "
                     r"\(job \w+\); kit\.resume\(\) carries on while the sandbox runs")


def _kit_frames(traceback_text: str) -> list[str]:
    return re.findall(r'File "[^"]*/kit/[^"]*", line \d+, in (\w+)', traceback_text)


def test_a_script_interrupted_says_what_the_job_left_from_the_callers_line(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2)  # a create or two at the pace
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (-signal.SIGINT, 130), err  # still exits as interrupted
    last = err.strip().splitlines()[-1]
    assert last.startswith("KeyboardInterrupt: stopped:") and STOPPED.search(last), err
    assert f'File "{script}", line 5' in err  # the user's own line
    assert _kit_frames(err) == ["public"], err  # one frame at kit's door, none inside
    assert re.search(r"done · .*s stopped \(stopped: ", err), err  # the progress line's end


def test_interrupting_job_wait_stops_only_the_waiting(tmp_path):
    script = tmp_path / "wait.py"
    script.write_text(SCRIPT.replace("df = kit.profiles(", "job = kit.profiles(wait=False, slugs=")
                      + "    try:\n        job.wait()\n    except KeyboardInterrupt as exc:\n"
                        "        print('interrupted:', exc, '| still running:', not job.done,"
                        " flush=True)\n        job.stop()\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert re.search(r"interrupted: stopped waiting; job \w+ goes on in the background "
                     r"\(job\.wait\(\) waits again, job\.stop\(\) stops it\) \| still running: "
                     r"True", out), out


def test_a_kernel_interrupt_closes_the_widget_in_its_final_state():
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        code = ("import kit\nsb = kit.Sandbox(speed=20).start()\n"
                "df = kit.profiles([f'person-{i:03d}' for i in range(30)])")
        msg_id = client.execute(code)
        messages, interrupted_at = [], None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                msg = client.get_iopub_msg(timeout=1)
            except Exception:
                msg = None
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                messages.append(msg)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            shown = any(m["msg_type"] == "display_data" for m in messages)
            if shown and interrupted_at is None:
                time.sleep(2)
                manager.interrupt_kernel()
                interrupted_at = time.monotonic()
        assert interrupted_at is not None, "the progress display never appeared"
        [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert error["ename"] == "KeyboardInterrupt" and STOPPED.search(error["evalue"]), error
        text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
        assert "/kit/" not in text, text  # IPython hides the one frame at kit's door
        [display] = [m["content"] for m in messages if m["msg_type"] == "display_data"]
        display_id = display["transient"]["display_id"]
        final = [m["content"]["data"] for m in messages if m["msg_type"] == "update_display_data"
                 and m["content"]["transient"]["display_id"] == display_id][-1]
        # The widget is replaced by its final state, as text and a static bar: not "waiting".
        assert "application/vnd.jupyter.widget-view+json" not in final
        assert STOPPED.search(final["text/plain"]) and "waiting" not in final["text/plain"]
        assert "<progress" in final["text/html"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_command_line_interrupted_says_how_to_carry_on(tmp_path):
    slugs = tmp_path / "slugs.txt"
    slugs.write_text("\n".join(f"cli-stop-{i}" for i in range(30)))
    env = {**os.environ, "KIT_JOURNAL": str(tmp_path / "journal.sqlite3")}
    proc = subprocess.Popen([sys.executable, "-m", "kit", "profiles", str(slugs), "--sandbox",
                             "--speed", "20", "-o", str(tmp_path / "out.csv")], env=env,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert STOPPED.search(err.replace("\r", "\n")), err  # the progress line's final state
    # The embedded sandbox died with the command: the advice says so, not "kit resume".
    last = err.strip().splitlines()[-1]
    assert "nothing was written to" in last and "nothing to resume" in last
    assert "run `kit sandbox` in another terminal" in last and "`kit resume`" not in err
    assert not (tmp_path / "out.csv").exists()
