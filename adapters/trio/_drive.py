"""The loop side shared by the trio adapters: drain a core after every input with the shared
:func:`rvoip_sansio.pump`, keep one timer (a task sleeping in a cancel scope whose deadline
follows ``next_deadline()``), and hand events to a callback or a bounded async iterator."""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import trio

from rvoip_sansio import Event, Transmit, pump

from rvoip_sansio._core import DatagramCore
from ..blocking import DEFAULT_MAX_PENDING_EVENTS
from ..blocking._socket import read_ready

__all__ = ["CoreDriver", "DEFAULT_MAX_PENDING_EVENTS", "single_exceptions", "serve_datagrams"]

T = TypeVar("T")

class CoreDriver:
    """Drives one core with ``trio.current_time()``; ``send`` carries out each Transmit.

    ``after(now)``, when given, runs after every pump (the phone sends its media there).
    Events go to ``on_event(event, now)`` when given, else to a memory channel read by
    iterating the driver. ``has_room()`` is false while ``max_pending`` events wait there:
    socket readers then wait in ``wait_for_room()`` (the backpressure policy).
    """

    def __init__(
        self,
        core: DatagramCore,
        send: Callable[[Transmit], object],
        on_event: Callable[[Event, float], object] | None,
        max_pending: int,
        after: Callable[[float], object] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending_events must be at least 1")
        self.core = core
        self.now = 0.0
        self.stopped = False
        self._send = send
        self._on_event = on_event
        self._after = after
        self._max_pending = max_pending
        self._events_in, self._events_out = trio.open_memory_channel[Event](math.inf)
        self._space = trio.lowlevel.ParkingLot()
        self._timer: trio.CancelScope | None = None
        #: How many times the timer has fired (a host can tell a timer pump from others).
        self.timeouts = 0
        self._deadline: float | None = None

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        now = trio.current_time()
        result = action(now)
        self.drain(now)
        return result

    def drain(self, now: float) -> None:
        if self.stopped:
            return
        self.now = now
        self._deadline = pump(self.core, now, self._send, self._deliver)
        if self._after is not None:
            # A host with a second face on the same core (the phone's media sockets) flushes
            # it here; it may have moved the deadline.
            self._after(now)
            self._deadline = self.core.next_deadline()
        if self._timer is not None:
            self._timer.deadline = math.inf if self._deadline is None else self._deadline

    def stop(self) -> None:
        """No more pumping; every iteration ends once the queued events are read."""
        self.stopped = True
        self._events_in.close()

    def has_room(self) -> bool:
        return not self.stopped and self._events_out.statistics().current_buffer_used < self._max_pending

    async def wait_for_room(self) -> None:
        while not self.has_room():
            await self._space.park()

    async def run_timer(self) -> None:
        """The one timer, as a task: fires ``handle_timeout`` at each deadline, forever."""
        while True:
            with trio.move_on_at(math.inf if self._deadline is None else self._deadline) as timer:
                self._timer = timer
                await trio.sleep_forever()
            self._timer = None
            # trio fires a deadline only once its clock has reached it; the deadline may also
            # have moved since (an input re-armed it), hence the check.
            now = trio.current_time()
            if self._deadline is not None and now >= self._deadline:
                self.timeouts += 1
                self.core.handle_timeout(now)
                self.drain(now)

    def __aiter__(self) -> CoreDriver:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self._events_out.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None
        self._space.unpark_all()
        return event

    def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event, self.now)
        else:
            self._events_in.send_nowait(event)  # never blocks: readers apply the limit


@contextmanager
def single_exceptions() -> Iterator[None]:
    """Let one exception out of the nurseries inside as itself: a nursery wraps even a single
    exception (a ``KeyboardInterrupt``, the application's own error) in an exception group."""
    try:
        yield
    except BaseExceptionGroup as group:
        sole: BaseException = group
        while isinstance(sole, BaseExceptionGroup) and len(sole.exceptions) == 1:
            sole = sole.exceptions[0]
        if sole is group:
            raise
        raise sole from None


async def serve_datagrams(sock: socket.socket, core: DatagramCore, driver: CoreDriver) -> None:
    """Feed ``sock``'s datagrams to ``core`` for ever: read first, wait for readiness only
    when the socket is empty, and stop reading while the driver's event queue is full."""
    while True:
        if not driver.has_room():
            await driver.wait_for_room()
        elif read_ready(sock, core, trio.current_time, driver.drain, driver.has_room):
            await trio.lowlevel.wait_readable(sock)
        else:
            await trio.lowlevel.checkpoint()  # a full batch: let the timer task in
