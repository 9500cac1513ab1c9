"""SIP over UDP, TCP, TLS, WS and WSS for blocking code: non-blocking sockets on a selector.

No protocol logic lives here (framing, keep-alives, WebSocket and which connection a message
takes are in ``rvoip_sansio.transaction``): sockets report ``connection_made``,
``data_received`` and ``connection_lost`` to the core with ``now = time.monotonic()``; after
every input the shared pump carries out what the core produced (datagrams, and
:class:`~rvoip_sansio.transaction.StreamTransmit` orders: open, send, close). TLS is the
stdlib ``ssl`` module, handshaken without blocking; clients verify the server (default
``ssl.create_default_context()``: system CAs, hostname checked against the order's
``server_name``).

:class:`SipSockets` is the socket side alone (the :class:`~._phone.Phone` plugs it into its
own loop); :class:`SipTransports` is it plus a loop and an event queue, the blocking twin of
the asyncio/trio ``SipTransports``.
"""

from __future__ import annotations

import collections
import errno
import logging
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import TracebackType
from typing import Protocol, TypeVar

from rvoip_sansio import Address, Event, Transmit, pump
from rvoip_sansio._core import DatagramCore
from rvoip_sansio.transaction import SECURE_TRANSPORTS, StreamTransmit

from ._loop import Loop, Timer
from ._socket import bind_udp_socket, read_ready, send_datagram
from ._udp import DEFAULT_MAX_PENDING_EVENTS

__all__ = ["StreamCore", "SipSockets", "SipTransports", "open_sip_transports", "ListenSpec"]

log = logging.getLogger("rvoip_sansio.adapters.blocking")

T = TypeVar("T")
R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
_READS_PER_WAKE = 16
_CHUNK = 65536
#: ``{"UDP": addr, "TCP": addr, "WS": addr, "TLS": (addr, server_ctx), "WSS": (addr, server_ctx)}``
ListenSpec = Mapping[str, "Address | tuple[Address, ssl.SSLContext | None]"]


class StreamCore(DatagramCore, Protocol):
    """The connection side of the sans-I/O contract (``Endpoint`` and ``UserAgent`` keep it)."""

    def add_transport(self, transport: str, local: Address) -> None: ...

    def connection_made(self, peer: Address, transport: str, now: float) -> None: ...

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None: ...

    def connection_lost(self, peer: Address, transport: str, now: float) -> None: ...

    def close_connections(self, now: float) -> None: ...


class _Conn:
    """One TCP/TLS socket. ``state``: connecting, handshake, open, closing (flush, then close)."""

    __slots__ = ("name", "peer", "sock", "out", "state", "known", "timer", "server_name")

    def __init__(self, name: str, peer: Address, sock: socket.socket, state: str) -> None:
        self.name, self.peer, self.sock, self.state = name, peer, sock, state
        self.out = bytearray()
        self.known = False  # the core has been told connection_made (or asked for it)
        self.timer: Timer | None = None
        self.server_name: str | None = None


class SipSockets:
    """The sockets of one SIP core on a :class:`~._loop.Loop`: an optional UDP socket,
    listeners, and connections (accepted or opened on the core's orders).

    ``send`` is the pump's send callback. ``reading`` false stops reading every socket (the
    owner's backpressure); writes, accepts already made and timers go on.
    """

    def __init__(self, core: StreamCore, loop: Loop, *, client_ssl: ssl.SSLContext | None = None,
                 connect_timeout: float = 10.0) -> None:
        self.core = core
        self.loop = loop
        self.locals: dict[str, Address] = {}
        self.client_ssl = client_ssl
        self.connect_timeout = connect_timeout
        self.udp: socket.socket | None = None
        self.conns: dict[tuple[str, Address], _Conn] = {}
        self._live: set[_Conn] = set()  # every open socket, including those closing
        self._listeners: list[tuple[socket.socket, str, ssl.SSLContext | None]] = []
        self._reading = True

    # ---- listening ----------------------------------------------------------------------

    def connect_only(self, transport: str, local: Address) -> None:
        """``transport`` (TCP, TLS, WS, WSS) without a listener, for connections we open
        only (a TLS/WSS client without a certificate); see the asyncio ``connect_only``."""
        with self.loop.lock:
            self.core.add_transport(transport, local)  # it refuses UDP/unknown names

    def listen(self, transport: str, local: Address, *, ssl_context: ssl.SSLContext | None = None,
               buffer_size: int | None = None) -> Address:
        """Listen for ``transport`` on ``local`` (port 0: any free one); TLS and WSS need the
        server's ``ssl_context``. Returns the bound address."""
        name = transport.upper()
        if name in SECURE_TRANSPORTS and ssl_context is None:
            raise ValueError(f"{name} needs an ssl_context with the server certificate")
        if name == "UDP":
            if self.udp is not None:
                raise ValueError("one UDP socket per transports object")
            sock = self.udp = bind_udp_socket(local, buffer_size)
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in local[0] else socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(local)
                sock.listen(128)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self._listeners.append((sock, name, ssl_context if name in SECURE_TRANSPORTS else None))
        host, port = sock.getsockname()[:2]
        bound = (str(host), int(port))
        self.locals[name] = bound
        with self.loop.lock:
            if name != "UDP":
                self.core.add_transport(name, bound)
            self._sync(sock)
        return bound

    @property
    def reading(self) -> bool:
        return self._reading

    @reading.setter
    def reading(self, on: bool) -> None:
        if on != self._reading:
            self._reading = on
            for sock in [self.udp] + [s for s, _, _ in self._listeners]:
                if sock is not None:
                    self._sync(sock)
            for conn in self._live:
                if conn.state in ("open", "closing"):
                    self._watch(conn)

    @property
    def flushed(self) -> bool:
        """Nothing waits to be written on any connection."""
        return not any(c.out for c in self._live)

    # ---- the core's output (the pump's send) ---------------------------------------------

    def send(self, transmit: Transmit) -> None:
        core, now = self.core, self.loop.now
        if not isinstance(transmit, StreamTransmit):
            if self.udp is None:
                dest = transmit.dest
                self.loop.later(lambda t: core.connection_lost(dest, "UDP", t))
            else:
                send_datagram(self.udp, core, transmit, now)
            return
        key = (transmit.transport, transmit.dest)
        conn = self.conns.get(key)
        if transmit.action == "open":
            self._open(transmit)
        elif conn is None:
            if transmit.action == "send":
                self._report_lost(transmit.dest, transmit.transport)
        elif transmit.action == "send":
            conn.out += transmit.data
            if conn.state == "open":
                self._flush(conn)
        else:
            del self.conns[key]
            if conn.state in ("connecting", "handshake"):
                self._close(conn)  # closed by the core while still connecting
            else:
                conn.state = "closing"
                self._flush(conn)

    # ---- connections --------------------------------------------------------------------

    def _open(self, order: StreamTransmit) -> None:
        host, port = order.dest
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(info[0], socket.SOCK_STREAM)
        except OSError as exc:
            log.info("%s connection to %s failed: %s", order.transport, order.dest, exc)
            self._report_lost(order.dest, order.transport)
            return
        sock.setblocking(False)
        conn = _Conn(order.transport, order.dest, sock, "connecting")
        conn.known = True
        conn.server_name = order.server_name
        old = self.conns.get((conn.name, conn.peer))
        if old is not None:
            self._close(old)
        self.conns[(conn.name, conn.peer)] = conn
        self._live.add(conn)
        conn.timer = self.loop.call_at(self.loop.now + self.connect_timeout,
                                       partial(self._fail_at, conn, "connect timeout"))
        err = sock.connect_ex(info[4])
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self._fail(conn, errno.errorcode.get(err, str(err)))
            return
        self._watch(conn)

    def _data(self, conn: _Conn, data: bytes, now: float) -> None:
        self.core.data_received(conn.peer, conn.name, data, now)

    def _fail_at(self, conn: _Conn, why: str, now: float) -> None:
        self._fail(conn, why)

    def _accept(self, listener: socket.socket, name: str, ctx: ssl.SSLContext | None, mask: int = R) -> None:
        for _ in range(_READS_PER_WAKE):
            try:
                raw, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again later
                log.warning("%s accept failed: %s", name, exc)
                return
            raw.setblocking(False)
            peer = (str(addr[0]), int(addr[1]))
            if ctx is None:
                self._opened(_Conn(name, peer, raw, "open"))
                continue
            try:
                tls = ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.info("%s handshake from %s failed: %s", name, peer, exc)
                raw.close()
                continue
            conn = _Conn(name, peer, tls, "handshake")
            self._live.add(conn)
            conn.timer = self.loop.call_at(time.monotonic() + self.connect_timeout,
                                           partial(self._fail_at, conn, "handshake timeout"))
            self._handshake(conn)

    def _connected(self, conn: _Conn) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._fail(conn, errno.errorcode.get(err, str(err)))
            return
        if conn.name not in SECURE_TRANSPORTS:
            self._opened(conn)
            return
        ctx = self.client_ssl if self.client_ssl is not None else ssl.create_default_context()
        self.loop.watch(conn.sock, 0, _ignore)  # the SSL socket takes over the descriptor
        try:
            conn.sock = ctx.wrap_socket(conn.sock, server_hostname=conn.server_name,
                                        do_handshake_on_connect=False)
        except (OSError, ValueError) as exc:
            self._fail(conn, str(exc))
            return
        conn.state = "handshake"
        self._handshake(conn)

    def _handshake(self, conn: _Conn) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(conn, R)
            return
        except ssl.SSLWantWriteError:
            self._watch(conn, W)
            return
        except (OSError, ValueError) as exc:  # ssl.SSLError (verification...) is an OSError
            self._fail(conn, str(exc))
            return
        self._opened(conn)

    def _opened(self, conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
        conn.state = "open"
        self._live.add(conn)
        key = (conn.name, conn.peer)
        if not conn.known:  # accepted: a connection the core has not heard of
            old = self.conns.get(key)
            if old is not None:
                self._close(old)
            self.conns[key] = conn
            conn.known = True
        self._watch(conn)
        self.loop.call(lambda now: self.core.connection_made(conn.peer, conn.name, now))
        if conn.out:
            self._flush(conn)

    def _on_ready(self, conn: _Conn, mask: int) -> None:
        if conn.state == "connecting":
            self._connected(conn)
        elif conn.state == "handshake":
            self._handshake(conn)
        else:
            if mask & W:
                self._flush(conn)
            if mask & R and conn in self._live:
                self._read(conn)

    def _read(self, conn: _Conn) -> None:
        for _ in range(_READS_PER_WAKE):
            try:
                data = conn.sock.recv(_CHUNK)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError as exc:
                self._fail(conn, str(exc))
                return
            if not data:
                self._fail(conn, "closed by the peer")
                return
            if conn.state == "closing":
                continue  # the core has closed it: what comes now is nobody's
            self.loop.call(partial(self._data, conn, data))
            if conn not in self._live or not self._reading:
                return

    def _flush(self, conn: _Conn) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            except OSError as exc:
                self._fail(conn, str(exc), later=True)
                return
            del conn.out[:sent]
        if not conn.out and conn.state == "closing":
            self._close(conn)
        else:
            self._watch(conn)

    def _fail(self, conn: _Conn, why: str, *, later: bool = False) -> None:
        """The socket is gone or unusable: close it and tell the core (once)."""
        if conn not in self._live and conn.state != "connecting":
            return
        log.info("%s connection %s: %s", conn.name, conn.peer, why)
        self._close(conn)
        key = (conn.name, conn.peer)
        if self.conns.get(key) is conn:
            del self.conns[key]
            if later or self.loop.draining or self.loop.closed:
                self._report_lost(conn.peer, conn.name)
            else:
                self.loop.call(lambda now: self.core.connection_lost(conn.peer, conn.name, now))

    def _report_lost(self, peer: Address, name: str) -> None:
        if not self.loop.closed:
            self.loop.later(lambda now: self.core.connection_lost(peer, name, now))

    def _close(self, conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
        self._live.discard(conn)
        self.loop.watch(conn.sock, 0, _ignore)
        conn.sock.close()
        conn.state = "closed"

    # ---- interest -----------------------------------------------------------------------

    def _sync(self, sock: socket.socket) -> None:
        """Watch the UDP socket or a listener for reading (while ``reading``)."""
        if sock is self.udp:
            self.loop.watch(sock, R if self._reading else 0, self._on_udp)
            return
        for listener, name, ctx in self._listeners:
            if listener is sock:
                self.loop.watch(sock, R if self._reading else 0, partial(self._accept, listener, name, ctx))
                return

    def _watch(self, conn: _Conn, handshake: int = 0) -> None:
        """Watch a connection for what it needs now."""
        if conn.state == "connecting":
            mask = W
        elif conn.state == "handshake":
            mask = handshake or R
        else:
            mask = (R if self._reading else 0) | (W if conn.out else 0)
        self.loop.watch(conn.sock, mask, partial(self._on_ready, conn))

    def _on_udp(self, mask: int) -> None:
        assert self.udp is not None
        read_ready(self.udp, self.core, time.monotonic, self.loop.drain, lambda: self._reading)

    # ---- shutdown -----------------------------------------------------------------------

    def close_all(self) -> None:
        """Close every socket now (lock held or loop stopped)."""
        for conn in list(self._live):
            self._close(conn)
        self.conns.clear()
        for sock, _, _ in self._listeners:
            self.loop.watch(sock, 0, _ignore)
            sock.close()
        self._listeners.clear()
        if self.udp is not None:
            self.loop.watch(self.udp, 0, _ignore)
            self.udp.close()
            self.udp = None


def _ignore(mask: int) -> None:
    pass


class SipTransports:
    """A SIP core on any mix of UDP, TCP, TLS, WS and WSS, driven by a selector loop (see
    :func:`open_sip_transports`).

    Events go to ``on_event(event, now)`` when given (on the loop's thread, lock held: it may
    act on the core directly), else to a queue of at most ``max_pending_events`` read with
    :meth:`next_event`; while it is full no socket is read (the backpressure policy of the
    blocking ``UdpEndpoint``).
    """

    def __init__(self, core: StreamCore, *, on_event: Callable[[Event, float], object] | None = None,
                 client_ssl: ssl.SSLContext | None = None, connect_timeout: float = 10.0,
                 max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS) -> None:
        if max_pending_events < 1:
            raise ValueError("max_pending_events must be at least 1")
        self.core = core
        self._on_event = on_event
        self._max_pending = max_pending_events
        self._pending: collections.deque[Event] = collections.deque()
        self.loop = Loop(self._drain, core.handle_timeout, name="sip")
        self.sockets = SipSockets(core, self.loop, client_ssl=client_ssl, connect_timeout=connect_timeout)
        self.locals = self.sockets.locals

    def listen(self, transport: str, local: Address, *, ssl_context: ssl.SSLContext | None = None) -> Address:
        """Listen for ``transport`` (UDP, TCP, TLS, WS, WSS) on ``local``; see SipSockets."""
        return self.sockets.listen(transport, local, ssl_context=ssl_context)

    def connect_only(self, transport: str, local: Address) -> None:
        """``transport`` without a listener (a client without a certificate); see SipSockets."""
        self.sockets.connect_only(transport, local)

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then carry out its output; from any thread."""
        return self.loop.call(action)

    def poll(self, timeout: float | None = None) -> None:
        """Caller-driven mode: wait up to ``timeout`` for input or the timer, process it."""
        if self.loop.background:
            raise RuntimeError("poll() is for caller-driven transports; these run a thread")
        self.loop.check()
        self.loop.step(None if timeout is None else time.monotonic() + timeout)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` (None: until one comes or close)."""
        self.loop.wait(lambda: bool(self._pending), timeout)
        with self.loop.lock:
            if not self._pending:
                return None
            event = self._pending.popleft()
            if not self.sockets.reading and not self.loop.closed:
                self.sockets.reading = True
            return event

    def events(self) -> Iterator[Event]:
        while (event := self.next_event()) is not None:
            yield event

    def close(self, flush_timeout: float = 2.0) -> None:
        """Close every connection (what the core queued on ``close_connections`` written
        first: WebSocket close frames), every listener and the UDP socket; join the thread."""
        try:
            if not self.loop.closed:
                self.loop.call(self.core.close_connections)
                self.loop.wait(lambda: self.sockets.flushed, flush_timeout)
        finally:
            with self.loop.lock:
                self.sockets.close_all()
            self.loop.close()

    def __enter__(self) -> SipTransports:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # the body's exception (a Ctrl-C, say) wins; ours is logged
            log.exception("error while closing after %r", exc)

    def _drain(self, now: float) -> float | None:
        return pump(self.core, now, self.sockets.send, lambda event: self._deliver(event, now))

    def _deliver(self, event: Event, now: float) -> None:
        if self._on_event is not None:
            self._on_event(event, now)
            return
        self._pending.append(event)
        if len(self._pending) >= self._max_pending:
            self.sockets.reading = False


def open_sip_transports(core: StreamCore, listen: ListenSpec, *,
                        on_event: Callable[[Event, float], object] | None = None, background: bool = True,
                        client_ssl: ssl.SSLContext | None = None, connect_timeout: float = 10.0,
                        max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS) -> SipTransports:
    """Run ``core`` on the listeners in ``listen`` (``{"UDP": addr, "TCP": addr, "TLS": (addr,
    server_ctx), "WS": addr, "WSS": (addr, server_ctx)}``) and on the connections it opens:
    ``with open_sip_transports(...) as t:``. ``background=False``: the caller drives it with
    ``poll``/``next_event``."""
    transports = SipTransports(core, on_event=on_event, client_ssl=client_ssl,
                               connect_timeout=connect_timeout, max_pending_events=max_pending_events)
    try:
        for name, spec in listen.items():
            if isinstance(spec[1], ssl.SSLContext):
                transports.listen(name, spec[0], ssl_context=spec[1])
            elif spec[1] is None:
                transports.connect_only(name, spec[0])  # no listener: client only
            else:
                transports.listen(name, (spec[0], spec[1]))
        with transports.loop.lock:
            transports.loop.drain(time.monotonic())
        if background:
            transports.loop.start()
    except BaseException:
        transports.close()
        raise
    return transports
