"""Progress while kit waits: an ipywidgets bar in a notebook, one compact text line elsewhere.

In a notebook the display carries the widget and a text and HTML rendering of the same state,
so front ends without a widget manager show readable text.  When the wait ends the widget is
replaced by a static rendering of its final state (a finished bar and its counts): that is what
a saved notebook keeps, and what GitHub, nbconvert or a closed kernel show.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Any

from .core.poller import LATE, ProgressEvent, ProgressSink, set_default_display
from .core.task import Status

_ORDER = [s.value for s in (Status.COMPLETED, Status.FAILED, Status.EXPIRED, Status.UNKNOWN,
                            Status.RUNNING, Status.PENDING, Status.QUEUED)]


def describe(event: ProgressEvent, *, brief: bool = False) -> str:
    """One line: ``[kit] OutX fetch-profile 24/25 done · 23 completed · 1 failed · 1 pending · 12.3s``.
    ``brief``: without the label's extras, the completed count and the notes (a narrow
    terminal's redrawn line)."""
    # (brief: "completed" goes, the done count says it)
    parts = [f"{event.counts[s]} {s}" for s in _ORDER
             if event.counts.get(s) and not (brief and s == Status.COMPLETED.value)]
    stopped = any(n.startswith(("stopped", "cancelled")) for n in event.notes)
    # "stopped waiting" when kit gave up on late tasks; tasks it does not wait for (an Agora
    # task awaiting confirmation) leave a finished wait.
    late = any(LATE in n for n in event.notes)
    state = ("stopped" if stopped else "waiting" if not event.finished
             else "stopped waiting" if late else "finished")
    label = event.label.split(" · ")[0] if brief else event.label
    text = " · ".join([f"[kit] {label}: {event.done}/{event.total} done", *parts,
                       f"{event.elapsed:.1f}s {state}"])
    notes = [n for n in event.notes if n != state]  # "stopped (stopped)" says it once
    if notes and not brief:
        text += " (" + "; ".join(notes) + ")"
    return text


def in_notebook() -> bool:
    """True inside a Jupyter/Colab/VS Code kernel (a front end that may show widgets)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


class NullProgress(ProgressSink):
    def update(self, event: ProgressEvent) -> None:
        pass

    def close(self, event: ProgressEvent) -> None:
        pass


class TextProgress(ProgressSink):
    """A text line on stderr: redrawn in place on a terminal, sparse lines in a log file."""

    def __init__(self, stream: IO[str] | None = None, *, every: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # On a terminal the line is redrawn often; in a log a line every 15 s at most.
        self.every = every if every is not None else (0.2 if self.tty else 15.0)
        self._last = 0.0
        self._width = 0

    def update(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        line = describe(event)
        if self.tty and len(line) >= shutil.get_terminal_size((100, 24)).columns:
            line = describe(event, brief=True)  # the counts and the time before the details
        self._write(line, final=False)

    def close(self, event: ProgressEvent) -> None:
        self._write(describe(event), final=True)

    def _write(self, line: str, *, final: bool) -> None:
        if self.tty:
            # A line redrawn in place must fit one row: a wrapped one leaves a cut copy behind
            # at every redraw (tqdm would do this too, but not say what kit's line says).
            columns = shutil.get_terminal_size((100, 24)).columns
            if not final and len(line) >= columns:
                line = line[:max(10, columns - 2)] + "…"
            pad = " " * max(0, min(self._width, columns - 1) - len(line))
            self._width = len(line)
            self.stream.write("\r" + line + pad + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class WidgetProgress(ProgressSink):
    """An ipywidgets bar and label in one display, updated at most ten times a second."""

    def __init__(self, label: str, total: int) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info",
                                       layout=widgets.Layout(width="40%"))
        self.label = widgets.HTML(value="")
        self.box = widgets.HBox([self.bar, self.label])
        self._last = 0.0
        first = ProgressEvent(label, total)
        self._apply(first)
        self.handle = display(self._bundle(first), raw=True, display_id=True)

    def _bundle(self, event: ProgressEvent, *, live: bool = True) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": describe(event), "text/html": static_html(event)}
        if live:
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 0, "model_id": self.box.model_id}
        return bundle

    def _apply(self, event: ProgressEvent) -> None:
        self.bar.value = event.done
        text = describe(event).removeprefix("[kit] ")
        self.label.value = f"<span style='font-family:monospace'>{_html(text)}</span>"

    def update(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._apply(event)

    def close(self, event: ProgressEvent) -> None:
        self._apply(event)
        bad = event.counts.get("failed", 0) + event.counts.get("expired", 0)
        unfinished = event.total - event.done
        self.bar.bar_style = "danger" if bad else ("warning" if unfinished else "success")
        if self.handle is not None:
            # The final state, static: what a saved notebook keeps and any viewer can show.
            self.handle.update(self._bundle(event, live=False), raw=True)
            self.box.close()


def static_html(event: ProgressEvent) -> str:
    """The progress display as plain HTML: a bar and its counts, no JavaScript needed."""
    return (f"<div><progress value='{event.done}' max='{max(event.total, 1)}' "
            f"style='width:40%'></progress> <span style='font-family:monospace'>"
            f"{_html(describe(event))}</span></div>")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_progress(progress: bool | ProgressSink | None, label: str, total: int) -> ProgressSink:
    """``None``: widget in a notebook, text elsewhere; ``True``: the same, always shown;
    ``False``: nothing; a ``ProgressSink``: used as given."""
    if isinstance(progress, ProgressSink):
        return progress
    if progress is False:
        return NullProgress()
    if in_notebook():
        try:
            return WidgetProgress(label, total)
        except ImportError:
            pass
    return TextProgress()


set_default_display(make_progress)  # what every wait shows unless told otherwise
