"""The six scenarios, in three sizes: full (``python -m bench``, ~20 min on 2 cores), quick
(``--quick``, ~3 min) and smoke (``--smoke``, the CI test's, well under a minute).

Each contender runs on the whole batch at the scenario's speed, except where noted: a sequential
contender (one task at a time) runs on a sample at a lower speed (so that a request's real
latency stays small in service time) and its wall and CPU are extrapolated linearly to the whole
batch; the OutX burst runs on a sample that is not extrapolated (its wall is dominated by the
flag's 6 hours, and polling 2,000 flagged tasks every 5 s would be 14 M status reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Run:
    contender: str
    n: int | None = None  # a sample's size (None: the whole batch)
    speed: float | None = None  # None: the scenario's speed
    extrapolate: bool = False  # sequential: wall and CPU grow linearly with the batch
    # Stop the run after this many times the real wall of the contender named (its verdict is a
    # FAIL by then; its figures become lower bounds): keeps the whole run within its budget.
    cap: tuple[str, float] | None = None


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    service: str
    n: int
    speed: float
    runs: tuple[Run, ...]
    sandbox: dict[str, Any] = field(default_factory=dict)  # kit.Sandbox options
    paced: bool = True  # OutX's safe pace applies (False: lifted)
    # The limit starts each task when the pace *and* the extension allow (its browser is
    # closed at night): what LinkedIn sees is the pick-up, not the create.
    pickup: bool = False

    def options(self) -> dict[str, Any]:
        """The sandbox every contender (and the ideal client) gets: seed 1, durations drawn per
        input (the same whatever order tasks arrive in)."""
        return {"seed": 1, "durations_by_input": True, **self.sandbox}


# The sandbox's default worker and flagging model, without the per-kind daily model: these
# scenarios are about OutX's hourly guidance (kit's caps per kind are lifted for them too).
OUTX_PACE = dict(outx_extensions=4, outx_flag_per_day=None)
# One browser, closed 14 hours a night (10:00 to 24:00 of each service day).
OUTX_NIGHTS = dict(outx_extensions=1, outx_flag_per_day=None, outx_night=(10.0, 14.0))
LINKUP_QUEUE = dict(linkup_queue_limit=300)
AGORA = dict(agora_credits=1000)
OUTX_FAST = dict(outx_extensions=100_000, outx_flag=None, outx_delay=(1.0, 2.0, 5.0))
OUTX_PEERS = ("docs", "mcp", "asyncio-burst", "asyncio-paced", "kit")


def _scenarios(outx: tuple[int, float, int, float, int, float], linkup: tuple[int, float],
               agora: tuple[int, float, int], memory: tuple[int, float],
               nights: tuple[int, float, dict[str, Any]]) -> list[Scenario]:
    n1, speed1, seq_n, seq_speed, burst_n, burst_speed = outx
    return [
        Scenario("1", f"{n1:,} OutX profiles at the safe pace", "outx", n1, speed1, (
            Run("docs", seq_n, seq_speed, True), Run("mcp", seq_n, seq_speed, True),
            Run("asyncio-burst", burst_n, burst_speed), Run("asyncio-paced"), Run("kit")),
            OUTX_PACE),
        Scenario("2", f"{linkup[0]:,} Linkup tasks, mixed, queue limit 300", "linkup",
                 linkup[0], linkup[1], (Run("sdk-bulk"), Run("sdk-per-task"), Run("asyncio"),
                                        Run("kit")), LINKUP_QUEUE),
        Scenario("3", f"{agora[0]:,} Agora deep dives", "agora", agora[0], agora[1], (
            Run("docs", agora[2], None, True), Run("asyncio-polite"), Run("asyncio-rude"),
            Run("kit")), AGORA),
        Scenario("4", f"{memory[0]:,} tasks in flight at once", "outx", memory[0], memory[1],
                 (Run("asyncio-burst"), Run("kit", cap=("asyncio-burst", 2.0))), OUTX_FAST,
                 paced=False),
        Scenario("6", f"{nights[0]:,} OutX profiles across nights, the browser closed 14 h a "
                 "night", "outx", nights[0], nights[1],
                 (Run("asyncio-paced"), Run("mcp"), Run("kit")), nights[2], pickup=True),
    ]


def scenarios(size: str) -> tuple[list[Scenario], int]:
    """The scenarios of a size, and how many profiles scenario 5 builds a frame of."""
    # Small runs close the browser sooner (from 00:15), so that a night falls inside them.
    early = dict(OUTX_NIGHTS, outx_night=(0.25, 14.0))
    if size == "smoke":
        return _scenarios((20, 2000, 3, 200, 11, 8000), (100, 200), (5, 500, 1), (500, 10),
                          (20, 8000, early)), 2000
    if size == "quick":
        return _scenarios((100, 1000, 20, 200, 11, 4000), (300, 150), (10, 200, 1),
                          (5000, 1), (60, 3000, early)), 10_000
    return _scenarios((2000, 1200, 110, 200, 11, 1000), (1000, 40), (50, 100, 3),
                      (100_000, 1), (1200, 1200, OUTX_NIGHTS)), 100_000
