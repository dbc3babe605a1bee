"""The sandbox's clock: service time runs ``speed`` times faster than the wall clock."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not (
                0 < speed < float("inf")):
            raise ValueError(f"the sandbox's speed must be a positive number (60: a minute of "
                             f"service time per second), not {speed!r:.40}")
        self.speed = float(speed)
        self._start_mono = time.monotonic()
        self._start_wall = time.time()
        self._offset = 0.0

    def now(self) -> float:
        """Service seconds since the sandbox started."""
        return (time.monotonic() - self._start_mono) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump service time forward (a day of expiry in an instant)."""
        self._offset += seconds

    def epoch(self, at: float | None = None) -> float:
        """Unix time, in service time, of ``at`` (default: now)."""
        return self._start_wall + (self.now() if at is None else at)

    def real(self, service_seconds: float) -> float:
        """Wall-clock seconds that ``service_seconds`` take."""
        return service_seconds / self.speed
