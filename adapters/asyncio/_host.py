"""One sans-I/O phone core on asyncio sockets: its SIP face on :class:`~._stream.SipTransports`
(UDP, TCP, TLS, WS, WSS), its media face on one UDP socket per call.

No protocol logic lives here. The core keeps the SIP contract (``receive``,
``datagrams_to_send``, ``add_transport``, ``connection_made``...) and a media face
(``media_receive(local, data, source, now)``, ``media_datagrams_to_send(now)`` giving
``(local socket, Transmit)`` pairs); :class:`_Faces` shows SipTransports a core whose every
``datagrams_to_send`` also flushes the media face to the RTP sockets, so the one shared pump
after ANY input (SIP, RTP, a verb, the timer) drains both faces, and the one timer is armed at
the core's ``next_deadline()`` (SIP and every call's media).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.transaction import StreamTransmit

from .._mediapump import Datagram, MediaPump
from ..blocking._socket import bind_udp_socket
from ._media import TraceHook
from ._stream import SipTransports, StreamCore

__all__ = ["MediaCore", "PhoneHost", "free_port"]

log = logging.getLogger("rvoip_sansio.adapters.asyncio")

T = TypeVar("T")


class MediaCore(StreamCore, Protocol):
    """A core with a SIP face (the stream contract) and a media face (per-call RTP sockets)."""

    def media_receive(self, local: Address, data: bytes, source: Address, now: float) -> None: ...

    def media_datagrams_to_send(self, now: float) -> list[tuple[Address, Transmit]]: ...

    def media_receive_many(self, datagrams: list[Datagram], now: float) -> None: ...


def free_port(host: str, transport: str = "UDP") -> int:
    """A port free on ``host`` right now for ``transport`` (bound then released)."""
    kind = socket.SOCK_DGRAM if transport.upper() == "UDP" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Faces:
    """``core`` as SipTransports sees it: the SIP face, and at each ``datagrams_to_send`` the
    media face's datagrams sent on their RTP sockets (so the shared pump drains both)."""

    __slots__ = ("core", "host", "flushed", "ticked")

    def __init__(self, core: MediaCore, host: PhoneHost) -> None:
        self.core = core
        self.host = host
        self.flushed = False  # the last datagrams_to_send sent media (events may follow)
        self.ticked = False  # a timer ran since the waiters were last woken

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        media = self.core.media_datagrams_to_send(now)
        self.flushed = bool(media)
        if media:
            host = self.host
            if host.media_trace is None:
                host.pump.send_many(media)
            else:
                for local, transmit in media:
                    host.send_media(local, transmit)
        out = self.core.datagrams_to_send(now)
        if self.host.trace is not None:
            for t in out:
                if not isinstance(t, StreamTransmit) or t.action == "send":
                    self.host.trace(now, self.host.sip_local(t), t.dest, t.data)
        return out

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.core.receive(data, source, now)

    def next_event(self) -> Event | None:
        return self.core.next_event()

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.ticked = True
        self.core.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.core.transport_error(dest, now)

    def add_transport(self, transport: str, local: Address) -> None:
        self.core.add_transport(transport, local)

    def connection_made(self, peer: Address, transport: str, now: float) -> None:
        self.core.connection_made(peer, transport, now)

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None:
        self.core.data_received(peer, transport, data, now)

    def connection_lost(self, peer: Address, transport: str, now: float) -> None:
        self.core.connection_lost(peer, transport, now)

    def close_connections(self, now: float) -> None:
        self.core.close_connections(now)


class PhoneHost:
    """Runs ``core`` (a :class:`MediaCore`) on SIP transports plus per-call RTP sockets.

    ``on_event(event, now)`` receives every core event synchronously inside the pump (so it
    may bind a socket and answer at once). :meth:`input`/:meth:`call` act on the core and
    drain both faces; :meth:`wait` parks a coroutine until a predicate holds, re-checked
    after every pump that delivered an event (and, for audio waits, that ran a timer).
    """

    def __init__(self, core: MediaCore, *, on_event: Callable[[Event, float], object],
                 media_host: str, rtp_ports: tuple[int, int] | None = None,
                 client_ssl: ssl.SSLContext | None = None, connect_timeout: float = 10.0,
                 trace: TraceHook | None = None, media_trace: TraceHook | None = None) -> None:
        if rtp_ports is not None and not 0 < rtp_ports[0] <= rtp_ports[1] < 65536:
            raise ValueError(f"rtp_ports must be (low, high) with 0 < low <= high < 65536, not {rtp_ports}")
        self.core = core
        self.loop = asyncio.get_running_loop()
        self.media_host = media_host
        self.rtp_ports = rtp_ports
        self.trace = trace
        self.media_trace = media_trace
        self.closed = False
        self._on_event = on_event
        self._faces = _Faces(core, self)
        #: Every call's RTP socket in one epoll (or watched one by one where it is missing).
        self.pump = MediaPump(on_error=self._send_refused)
        if self.pump.fileno is not None:
            self.loop.add_reader(self.pump.fileno, self._on_media_ready)
        self._next_port = 0
        self._waiters: list[asyncio.Future[None]] = []  # woken by ticks and events
        self._event_waiters: list[asyncio.Future[None]] = []  # woken by events only
        self._delivered = False
        self._drain_queued = False
        self.sip = SipTransports(self._faces, on_event=self._deliver, client_ssl=client_ssl,
                                 connect_timeout=connect_timeout, settle=self._settle)

    async def listen(self, listen: dict[str, Address | tuple[Address, ssl.SSLContext | None]]) -> None:
        """Open the SIP listeners (see :func:`~._stream.open_sip_transports`; ``(addr, None)``:
        a transport without a listener, ``connect_only``)."""
        for name, spec in listen.items():
            if isinstance(spec[1], ssl.SSLContext):
                await self.sip.listen(name, spec[0], ssl_context=spec[1])
            elif spec[1] is None:
                self.sip.connect_only(name, spec[0])
            else:
                await self.sip.listen(name, (spec[0], spec[1]))

    def sip_local(self, transmit: Transmit) -> Address:
        """Our address a SIP datagram leaves from (for traces)."""
        name = transmit.transport if isinstance(transmit, StreamTransmit) else "UDP"
        return self.sip.locals.get(name.upper(), ("0.0.0.0", 0))

    # ---- acting on the core -------------------------------------------------------------

    def call(self, action: Callable[[float], T]) -> T:
        """``action(now)`` on the core, then both faces drained; returns its result."""
        return self.sip.call(action)

    def input(self, action: Callable[[float], object]) -> None:
        self.sip.call(action)

    def call_soon(self, action: Callable[[float], T]) -> T:
        """``action(now)`` on the core at once; both faces are drained once for all such
        actions, before the loop next waits (audio written to many calls in a row)."""
        result = action(self.loop.time())
        if not self._drain_queued:
            self._drain_queued = True
            self.loop.call_soon(self._drain_soon)
        return result

    def _drain_soon(self) -> None:
        self._drain_queued = False
        if not self.closed:
            self.sip.call(_nothing)

    async def wait(self, ready: Callable[[], bool], *, media: bool = True) -> None:
        """Return once ``ready()`` is true, or when the host closes. It is checked at once,
        after every pump that delivered an event, and (``media``: audio waits) after every
        pump that ran a timer (the media ticks that fill and empty the audio queues)."""
        while not ready() and not self.closed:
            fut: asyncio.Future[None] = self.loop.create_future()
            (self._waiters if media else self._event_waiters).append(fut)
            try:
                await fut
            finally:
                if not fut.done():
                    fut.cancel()

    def wake(self, *, events: bool = True) -> None:
        """Resolve the audio waits (and with ``events`` the event waits) to re-check."""
        waiters, self._waiters = self._waiters, []
        if events:
            waiters += self._event_waiters
            self._event_waiters = []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    # ---- media sockets ------------------------------------------------------------------

    def bind_rtp(self) -> Address:
        """Bind one call's RTP socket (from ``rtp_ports`` when set) and start reading it;
        returns its address, for ``call``/``answer``'s ``rtp=``. Raises OSError when the
        range has no free port."""
        sock = self._bind()
        host, port = sock.getsockname()[:2]
        local = (str(host), int(port))
        self.pump.add(local, sock)
        if self.pump.fileno is None:  # no epoll: the loop watches this socket itself
            self.loop.add_reader(sock.fileno(), self._on_socket_ready, local)
        if self.media_trace is not None:
            log.debug("RTP socket %s bound", local)
        return local

    def _bind(self) -> socket.socket:
        if self.rtp_ports is None:
            return bind_udp_socket((self.media_host, 0))
        lo, hi = self.rtp_ports
        count = hi - lo + 1
        for i in range(count):
            port = lo + (self._next_port + i) % count
            try:
                sock = bind_udp_socket((self.media_host, port))
            except OSError:
                continue
            self._next_port = (port - lo + 1) % count
            return sock
        raise OSError(f"no free RTP port in {lo}-{hi} on {self.media_host}")

    def release_rtp(self, local: Address) -> None:
        """Close the RTP socket at ``local`` (the core has flushed its last datagram)."""
        sock = self.pump.get(local)
        if sock is not None and self.pump.fileno is None:
            self.loop.remove_reader(sock.fileno())
        self.pump.remove(local)

    @property
    def rtp_sockets(self) -> Sequence[Address]:
        """The RTP sockets open now."""
        return self.pump.locals()

    def send_media(self, local: Address, transmit: Transmit) -> None:
        """Send one media datagram from ``local`` (traced when ``media_trace`` is set)."""
        if self.media_trace is not None and local in self.pump:
            self.media_trace(self.sip.loop.time(), local, transmit.dest, transmit.data)
        self.pump.send(local, transmit.data, transmit.dest)

    def _on_media_ready(self) -> None:
        """The epoll said some RTP socket is readable: one datagram from each ready one,
        the batch to the core, one pump."""
        self._feed(self.pump.read())

    def _on_socket_ready(self, local: Address) -> None:
        """Without epoll: up to a batch from one ready socket."""
        batch: list[Datagram] = []
        self.pump.read_socket(local, batch)
        self._feed(batch)

    def _feed(self, batch: list[Datagram]) -> None:
        if batch and not self.closed:
            media_receive_many = self.core.media_receive_many
            self.sip.call(lambda now: media_receive_many(batch, now))

    def _send_refused(self, local: Address, dest: Address) -> None:
        # Found while sending inside a pump: reported to the core after it (never re-entered).
        report = getattr(self.core, "media_transport_error", None)
        if report is not None and not self.closed:
            self.loop.call_soon(self.input, lambda now: report(local, dest, now))

    # ---- the pump's callbacks -----------------------------------------------------------

    def _deliver(self, event: Event, now: float) -> None:
        self._delivered = True
        self._on_event(event, now)

    def _settle(self, now: float) -> bool:
        """After each pump: wake the waiters if something may have changed; pump again when
        the last flush sent media (its events are delivered by the next pump)."""
        if self._delivered or self._faces.ticked:
            self.wake(events=self._delivered)
            self._delivered = self._faces.ticked = False
        return self._faces.flushed

    # ---- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the SIP transports (WebSocket close frames first) and every RTP socket; wake
        every waiter. The core's own ending (BYE, un-REGISTER) is the Phone's, before this."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.sip.close()
        finally:
            fileno = self.pump.fileno
            if fileno is not None:
                self.loop.remove_reader(fileno)
            else:
                for _, sock in self.pump.sockets():
                    self.loop.remove_reader(sock.fileno())
            self.pump.close()
            self.wake()


def _nothing(now: float) -> None:
    return None
