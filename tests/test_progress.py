"""Progress: one readable line, a terminal that is redrawn, a log that is not flooded, a widget
whose stored text is its final state."""

from __future__ import annotations

import io
from collections import Counter

import pytest

import kit
from kit.core.poller import ProgressEvent
from kit.progress import NullProgress, TextProgress, WidgetProgress, describe, make_progress


def _event(done=3, pending=2, finished=False):
    return ProgressEvent("OutX fetch-profile", done + pending,
                         Counter({"completed": done, "pending": pending}), 1.25, finished)


def test_describe_counts_per_status_and_elapsed():
    text = describe(_event())
    assert text == "[kit] OutX fetch-profile: 3/5 done · 3 completed · 2 pending · 1.2s waiting"
    assert describe(_event(5, 0, True)).endswith("· 5 completed · 1.2s finished")


def test_text_progress_in_a_log_does_not_flood():
    stream = io.StringIO()
    sink = TextProgress(stream)  # not a tty: at most a line every 15 s
    for _ in range(500):
        sink.update(_event())
    sink.close(_event(5, 0, True))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].endswith("finished")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_text_progress_on_a_terminal_redraws_one_line():
    stream = _Tty()
    sink = TextProgress(stream, every=0)
    sink.update(_event())
    sink.close(_event(5, 0, True))
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.count("\r") == 2


def test_a_narrow_terminal_keeps_the_counts_and_the_time(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    event = ProgressEvent("OutX fetch-profile · 23 distinct, 2 repeats", 23,
                          Counter({"completed": 9, "pending": 1, "queued": 13}), 42.0, False,
                          ["pace 5/min, 50/h · next create in 7s · all sent in ~2m 36s"])
    stream = _Tty()
    TextProgress(stream, every=0).update(event)
    line = stream.getvalue().strip("\r").rstrip()
    assert len(line) < 80 and line.endswith("· 42.0s waiting"), line
    assert line.startswith("[kit] OutX fetch-profile: 9/23 done · 1 pending · 13 queued")


def test_progress_choice():
    assert isinstance(make_progress(False, "x", 1), NullProgress)
    assert isinstance(make_progress(None, "x", 1), TextProgress)  # not in a notebook here
    sink = NullProgress()
    assert make_progress(sink, "x", 1) is sink


def test_widget_display_carries_readable_text(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj, raw=False):
            shown.append(obj)

    def fake_display(obj, raw=False, display_id=False):
        shown.append(obj)
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    sink = WidgetProgress("OutX fetch-profile", 5)
    sink.update(_event())
    assert sink.bar.value == 3 and "2 pending" in sink.label.value
    sink.close(_event(5, 0, True))
    first, last = shown
    assert "application/vnd.jupyter.widget-view+json" in first
    assert first["text/plain"].startswith("[kit] OutX fetch-profile: 0/5 done")
    assert "<progress value='0' max='5'" in first["text/html"]
    # The final state replaces the widget: static text and HTML any viewer can show.
    assert set(last) == {"text/plain", "text/html"}
    assert "IntProgress" not in last["text/plain"]
    assert last["text/plain"].endswith("finished") and "5 completed" in last["text/plain"]
    assert "<progress value='5' max='5'" in last["text/html"] and "5 completed" in last["text/html"]
    assert sink.bar.bar_style == "success" and sink.bar.value == 5


def test_wait_reports_progress_events(sandbox):
    events: list[ProgressEvent] = []

    class Sink(NullProgress):
        def update(self, event):
            events.append(event)

        def close(self, event):
            events.append(event)

    async def go():
        async with kit.OutX() as c:
            tasks = [await c.fetch_profile(f"progress-{i}") for i in range(4)]
            return await c.wait(tasks, progress=Sink())

    kit.run(go())
    assert events[0].done == 0 and events[-1].finished and events[-1].done == 4
    assert events[-1].counts["completed"] == 4
    assert [e.done for e in events] == sorted(e.done for e in events)


def test_wait_rejects_non_tasks(sandbox):
    async def go():
        async with kit.OutX() as c:
            await c.wait(["abc"], progress=False)

    with pytest.raises(TypeError, match=r"kit\.Task"):
        kit.run(go())
