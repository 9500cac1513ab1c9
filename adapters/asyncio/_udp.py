"""Run any sans-I/O datagram object (a SIP ``Endpoint``, later RTP sessions) on a UDP socket.

No protocol logic lives here: bytes from the socket go to ``core.receive`` with
``now = loop.time()``; after every input the shared :func:`rvoip_sansio.pump` sends what the
core produced and delivers its events; one timer is kept armed at ``core.next_deadline()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio._core import DatagramCore

from ..blocking._socket import bind_udp_socket
from ._drive import CoreDriver

__all__ = ["DatagramCore", "UdpEndpoint", "open_udp_endpoint"]

log = logging.getLogger("rvoip_sansio.adapters.asyncio")

T = TypeVar("T")


class UdpEndpoint(asyncio.DatagramProtocol):
    """A core on one UDP socket.

    Events go to ``on_event(event, now)`` when given (called synchronously, so the callback
    may act on the core at once; what it produces is sent before the pump returns), else to
    an internal queue read with ``async for event in endpoint.events()``.
    """

    def __init__(
        self,
        core: DatagramCore,
        *,
        on_event: Callable[[Event, float], object] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.core = core
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._transport: asyncio.DatagramTransport | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._driver = CoreDriver(core, self._loop, self._send, on_event)
        # asyncio reports a failed sendto to error_received, synchronously and without the
        # destination: _send notes where it was sending so the failure can be attributed.
        self._sending_to: Address | None = None
        self._failed: list[Address] = []

    # ---- asyncio.DatagramProtocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector transport does not subclass DatagramTransport at run time)
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._drain(self._loop.time())

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        now = self._loop.time()
        host, port = addr[0], addr[1]
        assert isinstance(host, str) and isinstance(port, int)
        self.core.receive(data, (host, port), now)
        self._drain(now)

    def error_received(self, exc: Exception) -> None:
        if self._sending_to is not None:
            # Called from inside our own sendto: the failure belongs to that datagram. It is
            # reported to the core after the current pump, never from inside it.
            log.debug("send to %s failed: %s", self._sending_to, exc)
            if not self._failed:
                self._loop.call_soon(self._report_failed_sends)
            self._failed.append(self._sending_to)
        else:
            # ICMP errors arrive later, without the address they concern (asyncio's API).
            log.debug("UDP socket error: %s", exc)

    def _report_failed_sends(self) -> None:
        failed, self._failed = self._failed, []
        if self._transport is None or self._transport.is_closing():
            return

        def report(now: float) -> None:
            for dest in failed:
                self.core.transport_error(dest, now)

        self._driver.call(report)

    def connection_lost(self, exc: Exception | None) -> None:
        self._driver.stop()
        if not self._closed.done():
            self._closed.set_result(None)

    # ---- driving ------------------------------------------------------------------------

    @property
    def local_address(self) -> Address:
        assert self._transport is not None
        sockname = self._transport.get_extra_info("sockname")
        return (str(sockname[0]), int(sockname[1]))

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        return self._driver.call(action)

    def events(self) -> AsyncIterator[Event]:
        """The core's events, until the endpoint is closed."""
        return self._driver.events()

    async def close(self) -> None:
        """Stop the timer, close the socket and wait until it is closed."""
        self._driver.stop()
        if self._transport is not None:
            self._transport.close()
        await self._closed

    def _send(self, transmit: Transmit) -> None:
        assert self._transport is not None
        self._sending_to = transmit.dest
        try:
            self._transport.sendto(transmit.data, transmit.dest)
        finally:
            self._sending_to = None

    def _drain(self, now: float) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._driver.drain(now)


async def open_udp_endpoint(
    core: DatagramCore,
    local: Address,
    *,
    on_event: Callable[[Event, float], object] | None = None,
    buffer_size: int | None = None,
) -> UdpEndpoint:
    """Bind ``local`` (port 0 picks a free one) and run ``core`` on it.

    ``buffer_size`` sets the socket's receive and send buffers (bytes), for bursts under load.
    """
    loop = asyncio.get_running_loop()
    sock = bind_udp_socket(local, buffer_size)
    _, protocol = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(core, on_event=on_event, loop=loop), sock=sock
    )
    return protocol
