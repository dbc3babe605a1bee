"""Pacing: kit spaces its own requests so that it is never the one that triggers a 429.

A :class:`Pacer` hands out time slots ``period / count`` apart (never a burst: a published
"5 per minute" is then never exceeded in any 60-second window, however the service counts).
Slots are reserved in call order, so waiters are served first come, first served.

Why not aiolimiter's loop-bound bucket: the limits are per key, and one key outlives event loops
(each ``kit.run`` in a script runs a new loop) and clients; pacers here live in one process-wide
registry keyed by service, key fingerprint and endpoint bucket, and work across loops and threads.
"""

from __future__ import annotations

import asyncio
import threading
import time

from .clock import ServiceClock
from .policy import Rate

# Keep a little under the published rate: clocks at either end are not the same clock, and
# requests spaced exactly at the limit arrive jittered (2%: 240 ms on "5 per minute").
SAFETY = 1.02


class Pacer:
    def __init__(self, rate: Rate, clock: ServiceClock | None = None) -> None:
        self.spacing = (clock or ServiceClock()).real(rate.period / rate.count * SAFETY)
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve the next free slot; return how long to wait for it (seconds)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.spacing
            return slot - now

    def release(self) -> None:
        """Give one slot back: its request never reached the service (the connection did not
        open), so it used none of the service's limit.  The next slot comes one spacing
        earlier; no window ever holds more than the rate, as the released slot was not used."""
        with self._lock:
            self._next = max(time.monotonic(), self._next - self.spacing)

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


_registry: dict[tuple[str, str, str, float], Pacer] = {}
_registry_lock = threading.Lock()


def pacer_for(service: str, key_fingerprint: str, bucket: str, rate: Rate,
              clock: ServiceClock) -> Pacer:
    """The one pacer of this service, key and bucket in this process (and clock speed)."""
    key = (service, key_fingerprint, bucket, clock.scale)
    with _registry_lock:
        pacer = _registry.get(key)
        if pacer is None:
            pacer = _registry[key] = Pacer(rate, clock)
        return pacer
