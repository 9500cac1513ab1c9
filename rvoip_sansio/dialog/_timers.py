"""Deadlines kept by the dialog layer (2xx retransmission, glare back-off, refreshes...)."""

from __future__ import annotations

import heapq
from typing import Callable

import attrs

__all__ = ["Timer", "TimerHeap"]


@attrs.define(slots=True, eq=False)
class Timer:
    """One armed deadline; ``cancel()`` makes it a no-op (it is dropped when due)."""

    deadline: float
    fn: Callable[[float], object] | None

    def cancel(self) -> None:
        self.fn = None

    @property
    def active(self) -> bool:
        return self.fn is not None


class TimerHeap:
    """Timers in deadline order; firing order is deadline, then arming order."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0

    def arm(self, deadline: float, fn: Callable[[float], object]) -> Timer:
        timer = Timer(deadline, fn)
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, timer))
        return timer

    def next_deadline(self) -> float | None:
        # A cancelled timer at the top may make the caller wake early: harmless.
        return self._heap[0][0] if self._heap else None

    def fire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, timer = heapq.heappop(heap)
            fn = timer.fn
            if fn is not None:
                timer.fn = None
                fn(now)
        # Drop cancelled timers at the top so next_deadline stays meaningful.
        while heap and heap[0][2].fn is None:
            heapq.heappop(heap)

    def __len__(self) -> int:
        return len(self._heap)
