"""Run any sans-I/O datagram object (a SIP ``Endpoint``, later RTP sessions) on a UDP socket
under trio.

No protocol logic lives here: bytes from the socket go to ``core.receive`` with
``now = trio.current_time()``; after every input the shared :func:`rvoip_sansio.pump` sends
what the core produced and delivers its events; one timer task sleeps in a cancel scope whose
deadline is kept at ``core.next_deadline()``.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from rvoip_sansio import Address, Event, Transmit, pump

from ..asyncio import DatagramCore
from ..blocking import DEFAULT_MAX_PENDING_EVENTS
from ..blocking._socket import bind_udp_socket, read_ready, send_datagram

__all__ = ["UdpEndpoint", "open_udp_endpoint"]

log = logging.getLogger("rvoip_sansio.adapters.trio")

T = TypeVar("T")

class UdpEndpoint:
    """A core on one UDP socket; made by :func:`open_udp_endpoint`.

    Events go to ``on_event(event, now)`` when given (called synchronously, so the callback
    may act on the core at once; what it produces is sent before the pump returns), else to a
    memory channel read with ``async for event in endpoint.events()``. At most
    ``max_pending_events`` wait there: beyond that the adapter stops reading its socket until
    the application catches up (the kernel buffer then fills and drops, which UDP peers see as
    loss and retransmit). Events are never dropped or reordered by the adapter.
    """

    def __init__(
        self,
        core: DatagramCore,
        sock: socket.socket,
        *,
        on_event: Callable[[Event, float], object] | None = None,
        max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS,
    ) -> None:
        if max_pending_events < 1:
            raise ValueError("max_pending_events must be at least 1")
        self.core = core
        self._sock = sock
        self._on_event = on_event
        self._max_pending = max_pending_events
        self._events_in, self._events_out = trio.open_memory_channel[Event](math.inf)
        self._space = trio.lowlevel.ParkingLot()  # the socket reader, waiting for room
        self._scope = trio.CancelScope()  # the endpoint's own tasks
        self._timer: trio.CancelScope | None = None
        self._deadline: float | None = None
        self._now = 0.0
        self._closed = False
        name = sock.getsockname()
        self.local_address: Address = (str(name[0]), int(name[1]))

    # ---- the application's side ------------------------------------------------------

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        now = trio.current_time()
        result = action(now)
        self._drain(now)
        return result

    def events(self) -> UdpEndpoint:
        """``async for event in endpoint.events()``: every event until the endpoint closes."""
        return self

    def __aiter__(self) -> UdpEndpoint:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self._events_out.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None
        self._space.unpark_all()
        return event

    def close(self) -> None:
        """Stop the endpoint's tasks and end every ``events()`` iteration; the socket closes as
        soon as the tasks have ended (at the latest when the ``async with`` block ends)."""
        self._closed = True
        self._events_in.close()
        self._scope.cancel()

    # ---- the tasks -------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read_loop)
                    nursery.start_soon(self._timer_loop)
                    self._drain(trio.current_time())
        finally:
            self._closed = True
            self._sock.close()  # no task waits on it any more

    async def _read_loop(self) -> None:
        while True:
            if not self._has_room():
                await self._space.park()
            elif read_ready(self._sock, self.core, trio.current_time, self._drain, self._has_room):
                await trio.lowlevel.wait_readable(self._sock)  # read first, wait when empty
            else:
                await trio.lowlevel.checkpoint()  # a full batch: let the timer task in

    def _has_room(self) -> bool:
        return not self._closed and self._events_out.statistics().current_buffer_used < self._max_pending

    async def _timer_loop(self) -> None:
        while True:
            with trio.move_on_at(math.inf if self._deadline is None else self._deadline) as timer:
                self._timer = timer
                await trio.sleep_forever()
            self._timer = None
            # trio fires a deadline only once its clock has reached it; the deadline may also
            # have moved since (an input re-armed it), hence the check.
            now = trio.current_time()
            if self._deadline is not None and now >= self._deadline:
                self.core.handle_timeout(now)
                self._drain(now)

    # ---- pumping -----------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        if self._closed:
            return
        self._now = now
        self._deadline = pump(self.core, now, self._send, self._deliver)
        if self._timer is not None:
            self._timer.deadline = math.inf if self._deadline is None else self._deadline

    def _send(self, transmit: Transmit) -> None:
        send_datagram(self._sock, self.core, transmit, self._now)

    def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event, self._now)
        else:
            self._events_in.send_nowait(event)  # never blocks: the reader applies the limit


@asynccontextmanager
async def open_udp_endpoint(
    core: DatagramCore,
    local: Address,
    *,
    on_event: Callable[[Event, float], object] | None = None,
    buffer_size: int | None = None,
    max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS,
) -> AsyncIterator[UdpEndpoint]:
    """``async with open_udp_endpoint(core, local) as ep:`` binds ``local`` (port 0 picks a
    free one) and runs ``core`` on it in a nursery until the block ends or is cancelled.

    ``buffer_size`` sets the socket's receive and send buffers (bytes), for bursts under load.
    An exception raised by ``on_event`` ends the block and propagates out of it; the block's
    own exception (a ``KeyboardInterrupt``, say) leaves it as itself, not wrapped in an
    exception group. Either way the socket is closed.
    """
    sock = bind_udp_socket(local, buffer_size)
    try:
        endpoint = UdpEndpoint(core, sock, on_event=on_event, max_pending_events=max_pending_events)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(endpoint._run)
            try:
                yield endpoint
            finally:
                endpoint.close()
    except BaseExceptionGroup as group:
        # The nurseries group what they catch; a single exception leaves as itself.
        sole: BaseException = group
        while isinstance(sole, BaseExceptionGroup) and len(sole.exceptions) == 1:
            sole = sole.exceptions[0]
        if sole is group:
            raise
        raise sole from None
    finally:
        sock.close()
