"""A SIP ``Endpoint`` on asyncio sockets: UDP plus TCP, TLS, WS and WSS listeners and the
connections the core asks for.

No protocol logic lives here (framing, keep-alives, WebSocket and which connection a message
takes are in ``rvoip_sansio.transaction``): sockets report ``connection_made``,
``data_received`` and ``connection_lost`` to the core with ``now = loop.time()``; after every
input the shared :func:`rvoip_sansio.pump` carries out what the core produced (datagrams, and
:class:`~rvoip_sansio.transaction.StreamTransmit` orders: open, send, close) and delivers its
events; one timer is kept armed at ``core.next_deadline()``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Protocol, cast

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.transaction import SECURE_TRANSPORTS, StreamTransmit

from ._drive import CoreDriver
from ._udp import DatagramCore

__all__ = ["StreamCore", "SipTransports", "open_sip_transports"]

log = logging.getLogger("rvoip_sansio.adapters.asyncio")

_SECURE = SECURE_TRANSPORTS


class StreamCore(DatagramCore, Protocol):
    """The connection side of the sans-I/O contract (``Endpoint`` keeps it)."""

    def add_transport(self, transport: str, local: Address) -> None: ...

    def connection_made(self, peer: Address, transport: str, now: float) -> None: ...

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None: ...

    def connection_lost(self, peer: Address, transport: str, now: float) -> None: ...

    def close_connections(self, now: float) -> None: ...


class _Connection(asyncio.Protocol):
    """One TCP/TLS socket; ``peer`` is given for connections the core asked to open."""

    def __init__(self, owner: SipTransports, name: str, peer: Address | None) -> None:
        self.owner, self.name, self.peer = owner, name, peer
        self.transport: asyncio.Transport | None = None
        self.gone: asyncio.Future[None] = owner.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.peer is None:
            name = transport.get_extra_info("peername")
            self.peer = (str(name[0]), int(name[1]))
        peer, core = self.peer, self.owner.core
        self.owner.conns[(self.name, peer)] = self
        self.owner.live.add(self)
        self.owner.input(lambda now: core.connection_made(peer, self.name, now))

    def data_received(self, data: bytes) -> None:
        peer, core = self.peer, self.owner.core
        assert peer is not None
        self.owner.input(lambda now: core.data_received(peer, self.name, data, now))

    def connection_lost(self, exc: Exception | None) -> None:
        peer, core = self.peer, self.owner.core
        assert peer is not None
        if self.owner.conns.get((self.name, peer)) is self:
            del self.owner.conns[(self.name, peer)]
            self.owner.input(lambda now: core.connection_lost(peer, self.name, now))
        self.owner.live.discard(self)
        if not self.gone.done():
            self.gone.set_result(None)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        source = (str(addr[0]), int(cast(int, addr[1])))
        self.owner.input(lambda now: self.owner.core.receive(data, source, now))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket error: %s", exc)


class SipTransports:
    """A core on any mix of UDP, TCP, TLS, WS and WSS (see ``open_sip_transports``).

    Events go to ``on_event(event, now)`` when given (synchronously, so the callback may act
    on the core at once), else to a queue read with ``async for event in t.events()``.
    ``client_ssl`` verifies the servers we connect to over TLS/WSS (default:
    ``ssl.create_default_context()``, the system CAs, hostname checked).
    """

    def __init__(self, core: StreamCore, *, on_event: Callable[[Event, float], object] | None = None,
                 client_ssl: ssl.SSLContext | None = None, connect_timeout: float = 10.0,
                 settle: Callable[[float], bool] | None = None) -> None:
        self.core = core
        self.loop = asyncio.get_running_loop()
        self.conns: dict[tuple[str, Address], _Connection] = {}
        self.live: set[_Connection] = set()  # every open socket, also those being closed
        self.locals: dict[str, Address] = {}
        self._client_ssl = client_ssl
        self._connect_timeout = connect_timeout
        self._servers: list[asyncio.Server] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: dict[tuple[str, Address], asyncio.Task[None]] = {}  # connections opening
        self._driver = CoreDriver(core, self.loop, self._send, on_event, settle)
        self.call = self._driver.call
        self.events = self._driver.events

    async def listen(self, transport: str, local: Address, *, ssl_context: ssl.SSLContext | None = None) -> Address:
        """Listen for ``transport`` (UDP, TCP, TLS, WS, WSS) on ``local`` (port 0: any free
        one); TLS and WSS need ``ssl_context`` (the server's certificate). Returns the bound
        address."""
        name = transport.upper()
        if name in _SECURE and ssl_context is None:
            raise ValueError(f"{name} needs an ssl_context with the server certificate")
        if name == "UDP":
            udp, _ = await self.loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=local)
            self._udp = udp
            sockname = udp.get_extra_info("sockname")
        else:
            server = await self.loop.create_server(
                lambda: _Connection(self, name, None), local[0], local[1],
                ssl=ssl_context if name in _SECURE else None, reuse_address=True)
            self._servers.append(server)
            sockname = server.sockets[0].getsockname()
        bound = (str(sockname[0]), int(sockname[1]))
        self.locals[name] = bound
        if name != "UDP":
            self.core.add_transport(name, bound)
        return bound

    def connect_only(self, transport: str, local: Address) -> None:
        """Use ``transport`` (TCP, TLS, WS, WSS) only for connections we open, without a
        listener: a TLS or WSS client without a certificate of its own, a phone behind NAT.
        ``local`` is the address Via and Contact name for it (RFC 7118 §5 WebSocket clients
        may give Contact a ``.invalid`` host with ``UAConfig.contact_address``). Requests to
        us come back over our own connections: the far end reuses them (docs/transports.md,
        "Flows"; RFC 5626 with ``UAConfig.instance_id``)."""
        self.core.add_transport(transport, local)  # it refuses UDP/unknown names

    # ---- driving ------------------------------------------------------------------------

    def input(self, action: Callable[[float], object]) -> None:
        """Give the core one input (``action(now)``), then drain it. ``call(action)`` does
        the same and returns the result; ``events()`` iterates events when no ``on_event``."""
        self._driver.call(action)

    async def close(self) -> None:
        """Close every connection (WebSocket close frames sent first), every listener and the
        UDP socket; wait until the sockets are closed, so their ports can be bound again."""
        self.call(self.core.close_connections)
        self._driver.stop()
        for task in list(self._tasks.values()):
            task.cancel()
        for conn in list(self.live):
            assert conn.transport is not None
            conn.transport.close()
        for server in self._servers:
            server.close()
        if self._udp is not None:
            self._udp.close()
        waits = [c.gone for c in self.live] + [s.wait_closed() for s in self._servers]
        if waits:
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), 5.0)
        await asyncio.sleep(0)  # let the UDP transport finish closing its socket

    def _send(self, transmit: Transmit) -> None:
        if not isinstance(transmit, StreamTransmit):
            if self._udp is None:
                self._later_lost(transmit.dest, "UDP")
                return
            try:
                self._udp.sendto(transmit.data, transmit.dest)
            except OSError as exc:
                log.debug("send to %s failed: %s", transmit.dest, exc)
                dest = transmit.dest
                self.loop.call_soon(self.input, lambda now: self.core.transport_error(dest, now))
            return
        key = (transmit.transport, transmit.dest)
        conn = self.conns.get(key)
        if transmit.action == "open":
            task = self.loop.create_task(self._open(transmit))
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._tasks.pop(key, None) if self._tasks.get(key) is done else None)
        elif conn is None or conn.transport is None:
            if transmit.action == "send":
                self._later_lost(transmit.dest, transmit.transport)
            elif key in self._tasks:  # closed by the core while still connecting
                self._tasks.pop(key).cancel()
        elif transmit.action == "send":
            conn.transport.write(transmit.data)
        else:
            del self.conns[(transmit.transport, transmit.dest)]
            conn.transport.close()

    async def _open(self, order: StreamTransmit) -> None:
        ctx = None
        if order.transport in _SECURE:
            ctx = self._client_ssl if self._client_ssl is not None else ssl.create_default_context()
        try:
            await asyncio.wait_for(self.loop.create_connection(
                lambda: _Connection(self, order.transport, order.dest), order.dest[0], order.dest[1],
                ssl=ctx, server_hostname=order.server_name if ctx is not None else None,
            ), self._connect_timeout)
        except (OSError, ValueError, asyncio.TimeoutError) as exc:  # ssl errors are OSErrors
            log.info("%s connection to %s failed: %s", order.transport, order.dest, exc)
            self._later_lost(order.dest, order.transport)

    def _later_lost(self, peer: Address, name: str) -> None:
        if not self._driver.stopped:
            self.loop.call_soon(self.input, lambda now: self.core.connection_lost(peer, name, now))


async def open_sip_transports(
    core: StreamCore,
    listen: Mapping[str, Address | tuple[Address, ssl.SSLContext | None]],
    *,
    on_event: Callable[[Event, float], object] | None = None,
    client_ssl: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    settle: Callable[[float], bool] | None = None,
) -> SipTransports:
    """Run ``core`` on the listeners in ``listen``: ``{"UDP": addr, "TCP": addr,
    "TLS": (addr, server_ctx), "WS": addr, "WSS": (addr, server_ctx)}``; ``(addr, None)``
    for TCP/TLS/WS/WSS: that transport without a listener (``connect_only``). ``settle``: see
    :class:`~._drive.CoreDriver` (hosts with a second output face)."""
    transports = SipTransports(core, on_event=on_event, client_ssl=client_ssl,
                               connect_timeout=connect_timeout, settle=settle)
    try:
        for name, spec in listen.items():
            if isinstance(spec[1], ssl.SSLContext):
                await transports.listen(name, spec[0], ssl_context=spec[1])
            elif spec[1] is None:
                transports.connect_only(name, spec[0])
            else:
                await transports.listen(name, (spec[0], spec[1]))
    except BaseException:
        await transports.close()
        raise
    return transports
