"""A SIP ``Endpoint`` on trio sockets: UDP plus TCP, TLS, WS and WSS listeners and the
connections the core asks for.

No protocol logic lives here (framing, keep-alives, WebSocket and which connection a message
takes are in ``rvoip_sansio.transaction``): streams report ``connection_made``,
``data_received`` and ``connection_lost`` to the core with ``now = trio.current_time()``;
after every input the shared pump carries out what the core produced (datagrams, and
:class:`~rvoip_sansio.transaction.StreamTransmit` orders: open, send, close) and delivers its
events; one timer task follows ``core.next_deadline()``.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.transaction import SECURE_TRANSPORTS, StreamTransmit

from ..asyncio import StreamCore
from ..blocking._socket import bind_udp_socket, send_datagram
from ._drive import DEFAULT_MAX_PENDING_EVENTS, CoreDriver, serve_datagrams, single_exceptions

__all__ = ["SipTransports", "open_sip_transports"]

log = logging.getLogger("rvoip_sansio.adapters.trio")

T = TypeVar("T")

_SECURE = SECURE_TRANSPORTS


class _Connection:
    """One TCP/TLS stream: a reader and a writer task; ``send`` queues without blocking."""

    def __init__(self, name: str, peer: Address, stream: trio.abc.Stream) -> None:
        self.name, self.peer, self.stream = name, peer, stream
        # bytes to write, then None: close after what was written
        self.queue_in, self.queue_out = trio.open_memory_channel[bytes | None](math.inf)

    def send(self, data: bytes | None) -> None:
        try:
            self.queue_in.send_nowait(data)
        except trio.ClosedResourceError:
            pass  # closing: the core hears connection_lost


class SipTransports:
    """A core on any mix of UDP, TCP, TLS, WS and WSS; made by :func:`open_sip_transports`.

    Events go to ``on_event(event, now)`` when given, else to ``async for event in
    t.events()`` (bounded as for :class:`UdpEndpoint`). ``client_ssl`` verifies the servers we
    connect to over TLS/WSS (default: ``ssl.create_default_context()``, hostname checked).
    """

    def __init__(self, core: StreamCore, nursery: trio.Nursery, *,
                 on_event: Callable[[Event, float], object] | None = None,
                 client_ssl: ssl.SSLContext | None = None, connect_timeout: float = 10.0,
                 max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS,
                 after_pump: Callable[[float], object] | None = None) -> None:
        self.core = core
        self.locals: dict[str, Address] = {}
        self._nursery = nursery
        self._driver = CoreDriver(core, self._send, on_event, max_pending_events, after_pump)
        self._client_ssl = client_ssl
        self._connect_timeout = connect_timeout
        self._udp: socket.socket | None = None
        self._conns: dict[tuple[str, Address], _Connection] = {}
        self._opening: dict[tuple[str, Address], trio.CancelScope] = {}
        self._live: set[_Connection] = set()
        self._all_gone = trio.Event()
        self._all_gone.set()
        nursery.start_soon(self._driver.run_timer)

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then carry out its output and re-arm the timer."""
        return self._driver.call(action)

    def events(self) -> CoreDriver:
        return self._driver

    @property
    def timeouts(self) -> int:
        """How many times the timer has fired so far."""
        return self._driver.timeouts

    def pump(self, now: float) -> None:
        """After an input given to the core directly at ``now`` (a second face of the same
        core, e.g. the phone's media sockets): carry out its output and re-arm the timer."""
        self._driver.drain(now)

    def connect_only(self, transport: str, local: Address) -> None:
        """``transport`` (TCP, TLS, WS, WSS) without a listener: a client without a
        certificate of its own. As the asyncio ``SipTransports.connect_only``."""
        self.core.add_transport(transport, local)  # it refuses UDP/unknown names

    async def listen(self, transport: str, local: Address, *, ssl_context: ssl.SSLContext | None = None) -> Address:
        """Listen for ``transport`` (UDP, TCP, TLS, WS, WSS) on ``local`` (port 0: any free
        one); TLS and WSS need ``ssl_context`` (the server's certificate). Returns the bound
        address."""
        name = transport.upper()
        if name in _SECURE and ssl_context is None:
            raise ValueError(f"{name} needs an ssl_context with the server certificate")
        if name == "UDP":
            self._udp = bind_udp_socket(local)
            sockname = self._udp.getsockname()
            self._nursery.start_soon(self._read_udp, self._udp)
        else:
            listeners = await trio.open_tcp_listeners(local[1], host=local[0])
            sockname = listeners[0].socket.getsockname()
            for listener in listeners:
                self._nursery.start_soon(self._accept, listener, name, ssl_context)
        bound = (str(sockname[0]), int(sockname[1]))
        self.locals[name] = bound
        if name != "UDP":
            self.core.add_transport(name, bound)
        return bound

    async def aclose(self) -> None:
        """Close every connection (WebSocket close frames written first), every listener and
        the UDP socket; the ports can be bound again when this returns."""
        self.call(self.core.close_connections)
        with trio.move_on_after(2.0):  # let the writers flush what the core queued last
            for conn in list(self._live):
                conn.queue_in.close()
            await self._all_gone.wait()
        self._driver.stop()
        self._nursery.cancel_scope.cancel()

    # ---- datagrams -----------------------------------------------------------------------

    async def _read_udp(self, sock: socket.socket) -> None:
        try:
            await serve_datagrams(sock, self.core, self._driver)
        finally:
            sock.close()

    # ---- connections ---------------------------------------------------------------------

    async def _accept(self, listener: trio.SocketListener, name: str, ctx: ssl.SSLContext | None) -> None:
        async with listener:
            while True:
                if not self._driver.has_room():
                    await self._driver.wait_for_room()
                stream = await listener.accept()
                peername = stream.socket.getpeername()
                self._nursery.start_soon(self._serve_inbound, stream, name, (str(peername[0]), int(peername[1])), ctx)

    async def _serve_inbound(self, tcp: trio.SocketStream, name: str, peer: Address,
                             ctx: ssl.SSLContext | None) -> None:
        stream: trio.abc.Stream = tcp
        if ctx is not None:
            tls = trio.SSLStream(tcp, ctx, server_side=True)
            try:
                with trio.fail_after(self._connect_timeout):
                    await tls.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError, OSError) as exc:
                log.info("%s handshake from %s failed: %s", name, peer, exc)
                await trio.aclose_forcefully(tls)
                return
            stream = tls
        await self._serve(_Connection(name, peer, stream))

    async def _open(self, order: StreamTransmit) -> None:
        key = (order.transport, order.dest)
        stream: trio.abc.Stream | None = None
        with trio.CancelScope() as scope:
            self._opening[key] = scope
            try:
                with trio.fail_after(self._connect_timeout):
                    stream = tcp = await trio.open_tcp_stream(order.dest[0], order.dest[1])
                    if order.transport in _SECURE:
                        ctx = self._client_ssl if self._client_ssl is not None else ssl.create_default_context()
                        stream = trio.SSLStream(tcp, ctx, server_hostname=order.server_name)
                        await stream.do_handshake()
            except (OSError, trio.BrokenResourceError, trio.TooSlowError, ValueError) as exc:
                log.info("%s connection to %s failed: %s", order.transport, order.dest, exc)
                if stream is not None:
                    await trio.aclose_forcefully(stream)
                stream = None
            finally:
                if self._opening.get(key) is scope:
                    del self._opening[key]
        if scope.cancelled_caught:  # the core closed it while connecting
            if stream is not None:
                await trio.aclose_forcefully(stream)
            return
        if stream is None:
            self.call(lambda now: self.core.connection_lost(order.dest, order.transport, now))
            return
        await self._serve(_Connection(order.transport, order.dest, stream))

    async def _serve(self, conn: _Connection) -> None:
        """Run one connection until either side ends it; tell the core when it is gone."""
        key = (conn.name, conn.peer)
        self._conns[key] = conn
        self._live.add(conn)
        self._all_gone = trio.Event() if len(self._live) == 1 else self._all_gone
        try:
            self.call(lambda now: self.core.connection_made(conn.peer, conn.name, now))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, conn, nursery.cancel_scope)
                await self._read(conn)
                nursery.cancel_scope.cancel()
        finally:
            self._live.discard(conn)
            if not self._live:
                self._all_gone.set()
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(conn.stream)
            if self._conns.get(key) is conn:
                del self._conns[key]
                if not self._driver.stopped:
                    self.call(lambda now: self.core.connection_lost(conn.peer, conn.name, now))

    async def _read(self, conn: _Connection) -> None:
        while True:
            if not self._driver.has_room():
                await self._driver.wait_for_room()
            try:
                data = bytes(await conn.stream.receive_some(65536))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return
            if not data:
                return  # the peer closed
            self.call(lambda now: self.core.data_received(conn.peer, conn.name, data, now))

    async def _write(self, conn: _Connection, done: trio.CancelScope) -> None:
        try:
            async for data in conn.queue_out:
                if data is None:
                    break
                await conn.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        done.cancel()  # written all (or broken): end the connection

    # ---- the core's output ---------------------------------------------------------------

    def _send(self, transmit: Transmit) -> None:
        if not isinstance(transmit, StreamTransmit):
            if self._udp is None:
                self._later(lambda now: self.core.connection_lost(transmit.dest, "UDP", now))
            else:
                send_datagram(self._udp, self.core, transmit, self._driver.now)
            return
        key = (transmit.transport, transmit.dest)
        conn = self._conns.get(key)
        if transmit.action == "open":
            self._nursery.start_soon(self._open, transmit)
        elif conn is None:
            if transmit.action == "send":
                self._later(lambda now: self.core.connection_lost(transmit.dest, transmit.transport, now))
            elif key in self._opening:  # closed by the core while still connecting
                self._opening.pop(key).cancel()
        elif transmit.action == "send":
            conn.send(transmit.data)
        else:
            del self._conns[key]
            conn.send(None)

    def _later(self, action: Callable[[float], object]) -> None:
        """An input for the core after the current pump (never re-enter it)."""
        async def later() -> None:
            await trio.lowlevel.checkpoint()
            if not self._driver.stopped:
                self.call(action)

        self._nursery.start_soon(later)


@asynccontextmanager
async def open_sip_transports(
    core: StreamCore,
    listen: Mapping[str, Address | tuple[Address, ssl.SSLContext | None]],
    *,
    on_event: Callable[[Event, float], object] | None = None,
    client_ssl: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    after_pump: Callable[[float], object] | None = None,
) -> AsyncIterator[SipTransports]:
    """``async with open_sip_transports(core, {"UDP": addr, "TCP": addr, "TLS": (addr, ctx),
    "WS": addr, "WSS": (addr, ctx)}) as t:`` runs ``core`` on those listeners (and the
    connections it opens) until the block ends; then every connection and socket is closed.
    ``after_pump(now)`` runs after every pump of ``core`` (a second face of the same core,
    such as the phone's media sockets, is flushed there)."""
    with single_exceptions():
        async with trio.open_nursery() as nursery:
            transports = SipTransports(core, nursery, on_event=on_event, client_ssl=client_ssl,
                                       connect_timeout=connect_timeout, after_pump=after_pump)
            try:
                for name, spec in listen.items():
                    if isinstance(spec[1], ssl.SSLContext):
                        await transports.listen(name, spec[0], ssl_context=spec[1])
                    elif spec[1] is None:
                        transports.connect_only(name, spec[0])  # no listener: client only
                    else:
                        await transports.listen(name, (spec[0], spec[1]))
                yield transports
            finally:
                with trio.CancelScope(shield=True):
                    await transports.aclose()
