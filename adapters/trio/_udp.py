"""Run any sans-I/O datagram object (a SIP ``Endpoint``, later RTP sessions) on a UDP socket
under trio.

No protocol logic lives here: bytes from the socket go to ``core.receive`` with
``now = trio.current_time()``; after every input the shared :func:`rvoip_sansio.pump` sends
what the core produced and delivers its events; one timer task sleeps in a cancel scope whose
deadline is kept at ``core.next_deadline()`` (see ``_drive.CoreDriver``).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from rvoip_sansio import Address, Event, Transmit

from rvoip_sansio._core import DatagramCore
from ..blocking._socket import bind_udp_socket, send_datagram
from ._drive import DEFAULT_MAX_PENDING_EVENTS, CoreDriver, serve_datagrams, single_exceptions

__all__ = ["UdpEndpoint", "open_udp_endpoint"]

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
        self.core = core
        self._sock = sock
        self._driver = CoreDriver(core, self._send, on_event, max_pending_events)
        self._scope = trio.CancelScope()  # the endpoint's own tasks
        name = sock.getsockname()
        self.local_address: Address = (str(name[0]), int(name[1]))

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        return self._driver.call(action)

    def events(self) -> CoreDriver:
        """``async for event in endpoint.events()``: every event until the endpoint closes."""
        return self._driver

    def close(self) -> None:
        """Stop the endpoint's tasks and end every ``events()`` iteration; the socket closes as
        soon as the tasks have ended (at the latest when the ``async with`` block ends)."""
        self._driver.stop()
        self._scope.cancel()

    async def _run(self) -> None:
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(serve_datagrams, self._sock, self.core, self._driver)
                    nursery.start_soon(self._driver.run_timer)
                    self._driver.drain(trio.current_time())
        finally:
            self._driver.stop()
            self._sock.close()  # no task waits on it any more

    def _send(self, transmit: Transmit) -> None:
        send_datagram(self._sock, self.core, transmit, self._driver.now)


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
        with single_exceptions():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(endpoint._run)
                try:
                    yield endpoint
                finally:
                    endpoint.close()
    finally:
        sock.close()
