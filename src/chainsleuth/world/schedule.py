"""Scripted activity (crime schemes, service upkeep) as cooperative processes on a clock.

A process is a generator that makes transactions through the chain's current script context
(``handle.ctx``) and yields the time at which it wants to run next. The scheduler resumes
processes in time order while a chunk is generated, so that scripted transactions land in
the block their time falls in, interleaved with the vectorised economy of that chunk.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Process = Generator[int, None, None]

HOUR = 3_600
DAY = 86_400


class Unaffordable(Exception):
    """A scripted transaction asked for more than its sender may spend now (try later)."""


@dataclass(order=True)
class _Entry:
    time: int
    seq: int
    process: Process = field(compare=False)


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = 0

    def spawn(self, time: int, process: Process) -> None:
        heapq.heappush(self._heap, _Entry(int(time), self._seq, process))
        self._seq += 1

    def run(self, ctx: Any, start: int, end: int) -> None:
        """Resume every process due up to ``end`` (inclusive), with ``ctx.now`` its time."""
        while self._heap and self._heap[0].time <= end:
            entry = heapq.heappop(self._heap)
            ctx.now = max(entry.time, start)
            try:
                wake = entry.process.send(None)
            except StopIteration:
                continue
            self.spawn(max(int(wake), ctx.now), entry.process)

    def __len__(self) -> int:
        return len(self._heap)


def scripted_order(heights: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Sort keys in [0, 1) that keep scripted transactions of a block in execution order."""
    if heights.size == 0:
        return np.zeros(0)
    u = rng.random(heights.size)
    order = np.lexsort((u, heights))  # heights are non-decreasing in execution order
    return u[order]
