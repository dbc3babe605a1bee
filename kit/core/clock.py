"""Service time: one object converts between the service's seconds and this machine's.

Every interval kit reads from a service's docs (poll every 5 s, 50 actions per hour, Retry-After)
is in the service's seconds.  A real service's clock is ours (``scale`` 1); a sandbox at
``speed=200`` runs 200 service seconds per real one, and its clients divide every interval by
200.  The poller and the job scheduler take a clock, so tests give them a fake one and never sleep.
"""

from __future__ import annotations

import asyncio
import time


class ServiceClock:
    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time_scale must be positive")
        self.scale = float(scale)

    def now(self) -> float:
        """Real seconds on a monotonic clock (for deadlines and schedules)."""
        return time.monotonic()

    def epoch(self) -> float:
        """Real Unix time (for comparing with tasks' creation times)."""
        return time.time()

    def real(self, service_seconds: float) -> float:
        """Real seconds that ``service_seconds`` take."""
        return service_seconds / self.scale

    def service(self, real_seconds: float) -> float:
        return real_seconds * self.scale

    async def sleep(self, real_seconds: float) -> None:
        await asyncio.sleep(max(0.0, real_seconds))

    async def wait(self, event: asyncio.Event, real_seconds: float) -> None:
        """Until ``event`` is set or ``real_seconds`` pass, whichever is first."""
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, real_seconds))
        except asyncio.TimeoutError:
            pass
