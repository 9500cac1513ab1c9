"""The loop side shared by the asyncio adapters: drain a core after every input with the
shared :func:`rvoip_sansio.pump`, keep one timer armed at its ``next_deadline()``, and hand
its events to a callback or an async iterator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from rvoip_sansio import Event, Transmit, pump
from rvoip_sansio._core import TimedCore

__all__ = ["TimedCore", "CoreDriver"]

T = TypeVar("T")


#: Extra pumps after one input when ``settle`` keeps asking for them (a bound, not a need).
MAX_SETTLE_PUMPS = 4


class CoreDriver:
    """Drives one sans-I/O core on ``loop``; ``send`` carries out each Transmit.

    ``settle(now)``, when given, is called after every pump; True asks for one more pump (a
    host whose core has a second output face flushed inside ``datagrams_to_send`` uses it
    so that events queued by the last flush are delivered too).
    """

    def __init__(self, core: TimedCore, loop: asyncio.AbstractEventLoop,
                 send: Callable[[Transmit], object],
                 on_event: Callable[[Event, float], object] | None,
                 settle: Callable[[float], bool] | None = None) -> None:
        self.core = core
        self._settle = settle
        self.loop = loop
        self.now = 0.0
        self.stopped = False
        self._send = send
        self._on_event = on_event
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        now = self.loop.time()
        result = action(now)
        self.drain(now)
        return result

    def drain(self, now: float) -> None:
        self.now = now
        deadline = pump(self.core, now, self._send, self._deliver)
        if self._settle is not None:
            for _ in range(MAX_SETTLE_PUMPS):
                if not self._settle(now):
                    break
                deadline = pump(self.core, now, self._send, self._deliver)
        if self.stopped or deadline == self._timer_at:
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer_at = deadline
            # Clamp: a deadline already past fires on the next loop iteration.
            self._timer = self.loop.call_at(max(deadline, now), self._on_timer)

    async def events(self) -> AsyncIterator[Event]:
        """The core's events, until ``stop``."""
        while (event := await self._queue.get()) is not None:
            yield event

    def stop(self) -> None:
        """No more timers; end ``events()``."""
        if not self.stopped:
            self.stopped = True
            self._cancel_timer()
            self._queue.put_nowait(None)

    def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event, self.now)
        else:
            self._queue.put_nowait(event)

    def _on_timer(self) -> None:
        due = self._timer_at if self._timer_at is not None else 0.0
        self._timer = self._timer_at = None
        # asyncio may wake us up to one clock tick early: clamp now to the deadline.
        now = max(due, self.loop.time())
        self.core.handle_timeout(now)
        self.drain(now)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None
