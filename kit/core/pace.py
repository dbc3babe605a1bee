"""The pace of actions that cost something outside the API: OutX's LinkedIn actions.

OutX does not pace requests ("You are responsible for pacing. If you burst, the underlying LinkedIn
account is what gets flagged", OutX's rate-limits page, CONTRACTS.md §1): about 50 LinkedIn-action
calls per hour, spread through the day.  LinkedIn counts each kind of action against caps of its
own (a day, a week), and an action happens when the team's Chrome extension *picks the task up*,
not when kit's request arrives.  A :class:`Pace` states all of it as data: rolling windows shared
by every action, daily and weekly caps per action kind, how many of the team's tasks may wait
for the extension at once, and optional working hours.  :meth:`Pace.next_send` decides, from the
send times already spent, when the next action may go; :meth:`Pace.eta` when the last of a queue
will.

Why our own and not a token bucket (aiolimiter): the budget belongs to a LinkedIn account, not to a
process.  Its send times live in the journal (kit.core.journal), so two notebooks, the command line
and a restarted kernel all count the same sends; a bucket in memory would forget them.  And no
bucket knows per-kind caps, working hours or a backlog waiting for a browser.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .errors import InvalidRequest, is_positive

MINUTE, HOUR, DAY, WEEK = 60.0, 3600.0, 86400.0, 7 * 86400.0
# Windows are counted a little longer than published: kit stamps a send before its request
# leaves, the service counts it on arrival, and network delays differ from one request to the next.
WINDOW_MARGIN = 1.02

# The kinds of LinkedIn action kit paces apart (kit.services.outx maps each endpoint to one).
ACTIONS = ("profile_visit", "post_fetch", "company_fetch", "search", "connection_list", "like",
           "comment", "message", "connection_request")
ALL = "all"  # a cap on every action together (``Pace(per_day=100)``)

# LinkedIn's own caps per action kind.  LinkedIn publishes none; these are what the automation
# tools people trust with their accounts use (read December 2026), the safe end where they differ.
# A new or little-used account should start lower (the tools warm up from ~5 a day over weeks).
# Searches and connection lists: no public figure, so only the shared hourly pace holds them.
DAILY_CAPS: dict[str, float | None] = {
    # Captain Data, "Integrations accounts limits": "Profile visits for LinkedIn accounts are
    # maxed at 80 per day" (profile and company extraction alike); Grinfi's Smart Limits ~50/day
    # at full account health; Hyperscale "50-80 a day for a safe account".
    "profile_visit": 80,
    "post_fetch": 80,  # a profile's or page's activity, read like a visit (Captain Data)
    "company_fetch": 80,  # Captain Data: company profiles share the extraction limit
    "like": 30,  # Grinfi Smart Limits: post likes ~30/day
    "comment": 30,  # Linkedify "Safe Mode": 30 a day (messages, comments, invites) at first
    "message": 50,  # Grinfi Smart Limits: direct messages ~50/day
    "connection_request": 35,  # Grinfi Smart Limits: ~35/day at full health
    "search": None,
    "connection_list": None,
}
WEEKLY_CAPS: dict[str, float | None] = {
    # LinkedIn's invitation cap, ~100 a week for free and premium accounts alike (linkednav,
    # "LinkedIn Automation Limits 2026"; big-brain.co "Limits": "~100 connection requests per week").
    "connection_request": 100,
    "message": 150,  # CONTRACTS.md §1: messages to connections ~100-150 a week
}
_DEFAULT_CAPS = {"per_day": DAILY_CAPS, "per_week": WEEKLY_CAPS}
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Caps = Mapping[str, float | None] | float | None


def _caps(name: str, given: Any) -> dict[str, float | None]:
    """Caps per action kind: a mapping merged over kit's defaults (``None`` lifts one), a number
    for every action together (besides the defaults per kind), ``None`` for none at all."""
    defaults = _DEFAULT_CAPS[name]
    if given is None:
        return dict.fromkeys(defaults)
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        return {**defaults, ALL: given}  # on top of the caps per kind, not instead of them
    if not isinstance(given, Mapping):
        raise InvalidRequest(f"Pace({name}=...) takes caps per action kind, such as "
                         f"{{'profile_visit': 80}}, a number for all actions together, or None, "
                         f"not {given!r:.60}")
    caps = dict(defaults)
    for kind, count in given.items():
        if kind not in (*ACTIONS, ALL):
            raise InvalidRequest(f"Pace({name}=...): unknown action kind {kind!r}; the kinds are "
                             f"{', '.join(ACTIONS)} (or {ALL!r} for every action together)")
        caps[kind] = count
    return caps


def _positive(name: str, value: Any) -> None:
    if value is not None and not is_positive(value):
        raise InvalidRequest(f"Pace({name}=...) must be a positive number or None (no limit), "
                         f"not {value!r:.40}")


def _clock_time(text: str) -> float:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    seconds = int(match.group(1)) * HOUR + int(match.group(2)) * MINUTE if match else -1.0
    if match is None or int(match.group(2)) > 59 or not 0 <= seconds <= DAY:
        raise InvalidRequest(f"Pace(hours=...): {text!r} is not a time such as '08:00'")
    return seconds


def parse_hours(hours: str | None) -> tuple[float, float] | None:
    """``"08:00-19:00"`` -> (start, end) in seconds of the day."""
    if hours is None:
        return None
    if not isinstance(hours, str) or hours.count("-") != 1:
        raise InvalidRequest(f"Pace(hours=...) takes a span such as '08:00-19:00', not {hours!r:.40}")
    start, end = (_clock_time(part) for part in hours.split("-"))
    if end <= start:
        raise InvalidRequest(f"Pace(hours=...): {hours!r}: the span must end after it starts, within one "
                         "day (such as '08:00-19:00')")
    return start, end


def parse_days(days: str | Sequence[str] | None) -> frozenset[int] | None:
    """``"Mon-Fri"``, ``"Mon,Wed,Fri"`` or ``["Mon", "Tue"]`` -> weekday numbers (Monday 0)."""
    if days is None:
        return None
    parts = days.split(",") if isinstance(days, str) else list(days)
    found: set[int] = set()
    for part in parts:
        names = [p.strip().lower()[:3] for p in str(part).split("-")]
        if not all(n in _DAY_NAMES for n in names) or len(names) > 2:
            raise InvalidRequest(f"Pace(days=...) takes days such as 'Mon-Fri' or 'Mon,Wed,Fri', "
                             f"not {days!r:.40}")
        first, last = _DAY_NAMES.index(names[0]), _DAY_NAMES.index(names[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        found.update(span)
    if not found:
        raise InvalidRequest("Pace(days=...) names no day")
    return frozenset(found)


def parse_zone(tz: str | None) -> tzinfo:
    """A time zone by IANA name (``"Europe/Paris"``); None: this machine's."""
    if tz is None:
        zone = datetime.now().astimezone().tzinfo
        assert zone is not None
        return zone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidRequest(f"Pace(tz=...): {tz!r:.40} is not a time zone name such as "
                         "'Europe/Paris' (pip install tzdata where the system has none)") from None


@dataclass(frozen=True)
class Pace:
    """What LinkedIn may see of your team's account, per team (API key), across processes:

    - ``per_minute``, ``per_hour``: at most so many actions of any kind in any rolling minute or
      hour, spaced evenly (``3600 / per_hour`` seconds) with ``jitter`` (± that share of the
      spacing), so that a batch never looks like a burst or a cron at a fixed cadence;
    - ``per_day``, ``per_week``: caps per action kind (``profile_visit``, ``post_fetch``,
      ``company_fetch``, ``search``, ``connection_list``, ``like``, ``comment``, ``message``,
      ``connection_request``) in any rolling day or week, merged over kit's defaults
      (:data:`DAILY_CAPS`, :data:`WEEKLY_CAPS`: what trusted LinkedIn automation tools use); a
      number caps every action together, ``None`` lifts them;
    - ``pending``: the next action is sent only while fewer of the team's tasks than this are
      still waiting for the Chrome extension to pick them up.  The action happens at pick-up, so
      a backlog sent while the browser is closed would be worked in a burst when it opens;
    - ``hours``, ``days``, ``tz``: optionally, send only inside working hours
      (``hours="08:00-19:00", days="Mon-Fri", tz="Europe/Paris"``; ``tz=None``: this machine's).
      On a sandbox's faster clock they are kept on that clock's scaled calendar, which is not
      the sandbox's own day: try working hours against a real clock.

    The default follows OutX's published guidance (~50 LinkedIn actions per hour, spread out).
    **Raising any of it risks the LinkedIn account that runs your team's OutX extension**
    (usually the team admin's): LinkedIn flags accounts that act in bursts or beyond its own
    caps, and OutX does nothing to prevent it.  :meth:`unlimited` lifts every limit (for a
    sandbox or a benchmark, never for a real account).
    """

    per_hour: float | None = 50
    per_minute: float | None = 5
    pending: int | None = 1
    per_day: Caps = field(default_factory=lambda: dict(DAILY_CAPS))
    per_week: Caps = field(default_factory=lambda: dict(WEEKLY_CAPS))
    hours: str | None = None
    days: str | Sequence[str] | None = None
    tz: str | None = None
    jitter: float = 0.25
    # Parsed once (not compared: they follow from the fields above).
    _span: tuple[float, float] | None = field(init=False, repr=False, compare=False, default=None)
    _weekdays: frozenset[int] | None = field(init=False, repr=False, compare=False, default=None)
    _zone: tzinfo | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        for name in ("per_hour", "per_minute"):
            _positive(name, getattr(self, name))
        for name in ("per_day", "per_week"):
            caps = _caps(name, getattr(self, name))
            for kind, count in caps.items():
                _positive(f"{name}[{kind!r}]", count)
            object.__setattr__(self, name, caps)
        if self.pending is not None and (isinstance(self.pending, bool) or not isinstance(
                self.pending, int) or self.pending < 1):
            raise InvalidRequest(f"Pace(pending=...) must be a whole number of 1 or more (tasks "
                             f"waiting for the extension) or None, not {self.pending!r}")
        if not 0 <= self.jitter < 1:
            raise InvalidRequest("Pace(jitter=...) must be between 0 and 1 (a share of the spacing)")
        object.__setattr__(self, "_span", parse_hours(self.hours))
        object.__setattr__(self, "_weekdays", parse_days(self.days))
        if self.days is not None and not isinstance(self.days, str):
            object.__setattr__(self, "days", ",".join(str(d) for d in self.days))
        if self.tz is not None or self._span is not None or self._weekdays is not None:
            object.__setattr__(self, "_zone", parse_zone(self.tz))

    def __hash__(self) -> int:  # a frozen value, though its caps are mappings
        return hash(tuple((k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
                          for k, v in self.options().items()))

    @classmethod
    def unlimited(cls) -> Pace:
        """No limit at all: every action is sent at once.  Not for a real LinkedIn account."""
        return cls(per_hour=None, per_minute=None, pending=None, per_day=None, per_week=None,
                   jitter=0.0)

    def options(self) -> dict[str, Any]:
        """The fields, as plain data (a job keeps them in the journal): :meth:`from_options`."""
        return {"per_hour": self.per_hour, "per_minute": self.per_minute,
                "pending": self.pending, "per_day": dict(self.daily), "per_week": dict(self.weekly),
                "hours": self.hours, "days": self.days, "tz": self.tz, "jitter": self.jitter}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Pace:
        """The pace a job stored.  One stored before the caps per kind (no ``pending``, a
        ``per_day`` of None) gets today's defaults for them: it never meant to lift them."""
        stored = dict(options)
        if "pending" not in stored and stored.get("per_day") is None:
            stored.pop("per_day", None)
        return cls(**stored)

    @property
    def daily(self) -> Mapping[str, float | None]:
        """The caps per action kind (and ``"all"``) in any rolling day."""
        assert isinstance(self.per_day, Mapping)  # (made a mapping in __post_init__)
        return self.per_day

    @property
    def weekly(self) -> Mapping[str, float | None]:
        """The caps per action kind (and ``"all"``) in any rolling week."""
        assert isinstance(self.per_week, Mapping)
        return self.per_week

    # -- the windows -------------------------------------------------------------------------
    @property
    def windows(self) -> list[tuple[float, float]]:
        """(window seconds, most actions in it) shared by every action kind."""
        pairs = [(MINUTE, self.per_minute), (HOUR, self.per_hour),
                 (DAY, self.daily.get(ALL)), (WEEK, self.weekly.get(ALL))]
        return [(seconds, count) for seconds, count in pairs if count is not None]

    def caps(self, action: str | None) -> list[tuple[float, float, str | None]]:
        """(window seconds, most actions, scope) that bind an ``action``: the shared windows
        (scope None) and its kind's own day and week (scope ``action``)."""
        found: list[tuple[float, float, str | None]] = [(s, c, None) for s, c in self.windows]
        if action:
            for seconds, caps in ((DAY, self.daily), (WEEK, self.weekly)):
                count = caps.get(action)
                if count is not None:
                    found.append((seconds, count, action))
        return found

    @property
    def limited(self) -> bool:
        """Does anything hold actions back (a window, a cap, the pending limit, hours)?"""
        return bool(self.windows or self.pending is not None or self._span or self._weekdays
                    or any(self.daily.values()) or any(self.weekly.values()))

    @property
    def spacing(self) -> float:
        """Service seconds between two actions on average (the tightest shared window, spread)."""
        return max((seconds / count for seconds, count in self.windows), default=0.0)

    @property
    def longest_window(self) -> float:
        """The longest window any cap counts in (how long the journal keeps send times)."""
        every = [seconds for seconds, _ in self.windows]
        every += [DAY for c in self.daily.values() if c is not None]
        every += [WEEK for c in self.weekly.values() if c is not None]
        return max(every, default=0.0) * WINDOW_MARGIN

    def gap(self, rng: random.Random) -> float:
        """The spacing before the action after this one, jittered (service seconds)."""
        return self.spacing * (1 + rng.uniform(-self.jitter, self.jitter))

    # -- deciding ----------------------------------------------------------------------------
    def next_send(self, sent: Sequence[float | tuple[float, str]], not_before: float,
                  now: float, action: str | None = None) -> float:
        """The earliest instant (service seconds, on the same clock as ``sent`` and ``now``) at
        which one more ``action`` keeps within every window, cap and working hour.

        ``sent``: earlier actions, as instants or ``(instant, action kind)`` (any order; those
        older than the longest window do not matter); ``not_before``: the spaced, jittered
        instant the last action asked for.
        """
        history = _History(sent)
        return self._earliest(history, max(now, not_before), action)

    def _earliest(self, history: _History, at: float, action: str | None) -> float:
        caps = self.caps(action)
        for _ in range(10_000):  # each round moves `at` forward; a handful settle it
            start = at
            for published, count, scope in caps:
                at = history.room(scope, published * WINDOW_MARGIN, max(1, math.floor(count)), at)
            at = self.open_at(at)
            if at == start:
                return at
        return at  # pragma: no cover - the windows cannot keep moving it for ever

    def eta(self, actions: Iterable[str | None], sent: Sequence[float | tuple[float, str]],
            not_before: float, now: float) -> float:
        """When the last of ``actions`` (in order) would be sent at this pace, with the average
        spacing (no jitter) and the caps, windows and hours as they stand (service seconds).
        The pending limit is not in it: how soon the extension picks tasks up is not known."""
        history = _History(sent)
        at = max(now, not_before)
        last = now
        for action in actions:
            last = self._earliest(history, at, action)
            history.add(last, action or "")
            at = last + self.spacing
        return last

    def holdup(self, sent: Sequence[float | tuple[float, str]], now: float,
               action: str | None = None) -> str:
        """Which limit holds an ``action`` back at ``now`` (``""``: none but the spacing), as
        a progress line says it: ``"profile_visit: 80 a day"``, ``"outside working hours"``."""
        history = _History(sent)
        names = {MINUTE: "a minute", HOUR: "an hour", DAY: "a day", WEEK: "a week"}
        for published, count, scope in self.caps(action):
            if history.room(scope, published * WINDOW_MARGIN, max(1, math.floor(count)), now) > now:
                return f"{scope or 'all actions'}: {count:g} {names[published]}"
        if self.open_at(now) > now:
            return "outside working hours"
        return ""

    # -- working hours -----------------------------------------------------------------------
    def _local(self, t: float) -> tuple[int, float]:
        """(weekday, seconds into the day) of instant ``t`` (Unix seconds) in the pace's zone.
        A sandbox's scaled clock reads far beyond year 9999: counted with today's offset."""
        assert self._zone is not None
        try:
            moment = datetime.fromtimestamp(t, self._zone)
        except (OverflowError, OSError, ValueError):
            offset = datetime.now(self._zone).utcoffset()
            local = t + (offset.total_seconds() if offset else 0.0)
            day = math.floor(local / DAY)
            return (day + 3) % 7, local - day * DAY  # 1 January 1970 was a Thursday
        return moment.weekday(), (moment.hour * HOUR + moment.minute * MINUTE + moment.second
                                  + moment.microsecond / 1e6)

    def open_at(self, t: float) -> float:
        """The first instant from ``t`` inside the working hours and days (``t`` without them)."""
        if self._span is None and self._weekdays is None:
            return t
        start, end = self._span or (0.0, DAY)
        for _ in range(16):
            weekday, second = self._local(t)
            if self._weekdays is None or weekday in self._weekdays:
                if start <= second < end:
                    return t
                if second < start:
                    t += start - second
                    continue
            t += DAY - second + start  # the next day's opening
        return t

    def describe(self) -> str:
        """``pace 5/min, 50/h`` (what a progress line shows), with working hours if any."""
        names = {MINUTE: "min", HOUR: "h", DAY: "day", WEEK: "week"}
        parts = [f"{count:g}/{names[seconds]}" for seconds, count in self.windows]
        text = "pace " + (", ".join(parts) if parts else "unlimited")
        if self.hours or self.days:
            text += f" · {' '.join(str(x) for x in (self.days, self.hours) if x)}"
        return text


class _History:
    """Send instants, sorted, all together and per action kind (for counting windows fast)."""

    def __init__(self, sent: Iterable[float | tuple[float, str]]) -> None:
        self.times: dict[str | None, list[float]] = {None: []}
        for item in sent:
            t, action = item if isinstance(item, tuple) else (item, "")
            self.add(t, action)

    def add(self, t: float, action: str) -> None:
        for times in (self.times[None], self.times.setdefault(action, []) if action else None):
            if times is None:
                continue
            if not times or t >= times[-1]:
                times.append(t)  # the usual case (a simulation goes forward): no shifting
            else:
                insort(times, t)

    def room(self, scope: str | None, width: float, limit: int, at: float) -> float:
        """The first instant from ``at`` whose window ``(t - width, t]`` holds fewer than
        ``limit`` of ``scope``'s sends (every send when None)."""
        times = self.times.get(scope, [])
        end = bisect_right(times, at)
        inside = end - bisect_right(times, at - width)
        if inside < limit:
            return at
        # wait until enough of them leave the window
        return times[end - limit] + width + 1e-6
