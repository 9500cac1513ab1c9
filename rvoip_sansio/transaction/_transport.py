"""Connection-oriented SIP transports for the endpoint: TCP, TLS, WS and WSS (RFC 3261 §18,
RFC 5626 §3.5.1 keep-alives, RFC 7118 WebSocket), still sans-I/O.

The adapter owns the sockets and reports what happens to them; this module keeps one
:class:`Connection` per ``(transport, peer)`` with its framing (Content-Length on TCP/TLS,
one message per WebSocket message on WS/WSS), its keep-alive timers and the bytes waiting
for it to open. Its output rides in the endpoint's ordinary output list as
:class:`StreamTransmit`, a :class:`~rvoip_sansio.Transmit` that names a transport and an
action (``open`` a connection to ``dest``, ``send`` bytes on it, ``close`` it), so one
``pump`` drains datagrams and streams in the order they were produced.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import attrs

from rvoip_sansio._core import Address, Event, ParseError, Transmit
from rvoip_sansio.sip import KeepAlive, Request, Response, SipUri, StreamFramer

from ._events import EndpointConfig
from ._sip import SECURE_TRANSPORTS, default_port, strip_brackets

if TYPE_CHECKING:  # wsproto is the optional "websocket" extra: imported on first WS use
    from ._ws import WsSession

__all__ = [
    "STREAM_TRANSPORTS",
    "StreamTransmit",
    "ConnectionOpened",
    "ConnectionClosed",
    "ConnectionKey",
    "Connection",
    "ConnectionTable",
    "uri_transport",
    "invalid_host",
]

log = logging.getLogger("rvoip_sansio.transaction")

#: The connection-oriented transports (RFC 3261 §18 TCP and TLS, RFC 7118 WS and WSS).
STREAM_TRANSPORTS = frozenset({"TCP", "TLS", "WS", "WSS"})
_SECURE = SECURE_TRANSPORTS

#: A connection's identity: its transport and the peer's address. For a connection we asked
#: the adapter to open, the peer is exactly the ``dest`` of the ``open`` order.
ConnectionKey: TypeAlias = tuple[str, Address]


@attrs.frozen(kw_only=True)
class StreamTransmit(Transmit):
    """An order for a connection-oriented transport (the connection is ``(transport, dest)``).

    ``action``: ``"open"`` connect to ``dest`` (for TLS/WSS verify the certificate against
    ``server_name``) and report ``connection_made`` or ``connection_lost``; ``"send"`` write
    ``data`` on the connection (report ``connection_lost`` if it is gone); ``"close"`` close
    it after what was written (no report needed).
    """

    transport: str
    action: Literal["open", "send", "close"] = "send"
    server_name: str | None = None


@attrs.frozen(kw_only=True)
class ConnectionOpened(Event):
    """A connection is ready for SIP (for WS/WSS: after the handshake)."""

    peer: Address
    transport: str
    outbound: bool


@attrs.frozen(kw_only=True)
class ConnectionClosed(Event):
    """A connection ended: closed by the peer, failed to open, broke framing, or missed its
    keep-alive pong. Transactions that were using it got ``TransportError``."""

    peer: Address
    transport: str
    reason: str


def uri_transport(uri: object) -> str | None:
    """The transport a URI asks for (RFC 3261 §19.1, RFC 3263 §4.1 without DNS, RFC 7118 §5):
    the ``transport`` parameter, made secure by ``sips:``; None when the URI says nothing."""
    if not isinstance(uri, SipUri):
        return None
    param = uri.transport
    if uri.secure:
        return "WSS" if param in ("ws", "wss") else "TLS"
    return param.upper() if param else None


def invalid_host(host: str) -> bool:
    """A ``.invalid`` host (RFC 6761 §6.4): never resolvable; RFC 7118 §5 WebSocket clients
    (and RFC 5626 clients generally) use one in Contact, reachable only over their flow."""
    return host.rstrip(".").lower().endswith(".invalid")


@attrs.define(slots=True, eq=False)
class Connection:
    """One connection's state (internal)."""

    transport: str
    peer: Address
    outbound: bool
    #: open: the adapter reported it made (and, for WS, the handshake finished)
    ready: bool = False
    framer: StreamFramer | None = None
    ws: WsSession | None = None
    #: SIP bytes waiting for ``ready``
    pending: list[bytes] = attrs.field(factory=list)
    ping_at: float | None = None
    pong_by: float | None = None
    #: accepted connections with ``idle_timeout``: when bytes last came, and the check time
    last_input: float = 0.0
    idle_at: float | None = None
    #: an ``open`` we refused to order (a ``.invalid`` host): fails at the next timeout
    doomed: bool = False
    #: this connection's keep-alive interval, when not the config's (RFC 5626 Flow-Timer)
    keepalive: float | None = None
    #: the targets bound to it (``bind_flow``), oldest first, at most ``MAX_FLOW_TARGETS``
    targets: list[ConnectionKey | str] = attrs.field(factory=list)
    #: Contact header values ``learn`` has already looked at (a peer sends the same one in
    #: every request: parse it once), at most ``MAX_FLOW_TARGETS``
    seen: list[str] = attrs.field(factory=list)


Item: TypeAlias = "Request | Response | bytes"

#: Targets (Contact addresses, ``.invalid`` hosts) one connection may be bound to: a peer
#: sending ever new Contacts over one connection cannot grow the flow table without limit.
MAX_FLOW_TARGETS = 8


class ConnectionTable:
    """Every connection of one endpoint. ``out`` takes stream orders; ``emit`` events;
    ``dead(transport, peer, now)`` tells the endpoint a connection is gone."""

    def __init__(
        self,
        config: EndpointConfig,
        out: Callable[[Transmit], None],
        emit: Callable[[Event], None],
        dead: Callable[[str, Address, float], None],
    ) -> None:
        self.config = config
        self.locals: dict[str, Address] = {}
        self._conns: dict[ConnectionKey, Connection] = {}
        #: (transport, address) a request may name -> the live connection that reaches it
        #: (RFC 5923 Via ``alias``, RFC 5626 flows, connection reuse; see ``bind_flow``)
        self._aliases: dict[ConnectionKey, ConnectionKey] = {}
        #: ``.invalid`` hosts (RFC 7118 §5) -> their flow, whatever port or transport names them
        self._invalid: dict[str, ConnectionKey] = {}
        self._out = out
        self._emit = emit
        self._dead = dead
        self._timers: list[tuple[float, int, ConnectionKey]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._conns)

    def has(self, transport: str, peer: Address) -> bool:
        return (transport, peer) in self._conns or self.resolve(transport, peer) is not None

    def alias(self, transport: str, advertised: Address, peer: Address) -> None:
        """RFC 5923 §5: the peer's Via carried ``alias``: requests to its advertised address
        may reuse this connection."""
        self.bind_flow(transport, advertised, (transport, peer))

    def bind_flow(self, transport: str, target: Address, flow: ConnectionKey) -> bool:
        """Requests for ``(transport, target)`` go over the live connection ``flow`` while it
        lasts (RFC 5626 §5.3 flows, RFC 5923 reuse); a ``.invalid`` target host is matched
        by host alone (any port, WS or WSS). False when ``flow`` is not a live connection."""
        conn = self._conns.get(flow)
        if conn is None or conn.doomed:
            return False
        entry: ConnectionKey | str
        if invalid_host(target[0]):
            entry = target[0].rstrip(".").lower()
            self._invalid[entry] = flow
        elif (transport, target) != flow:
            entry = (transport, target)
            self._aliases[entry] = flow
        else:
            return True
        if entry in conn.targets:
            return True
        conn.targets.append(entry)
        if len(conn.targets) > MAX_FLOW_TARGETS:
            self._unbind(conn.targets.pop(0), flow)
        return True

    def _unbind(self, entry: ConnectionKey | str, flow: ConnectionKey) -> None:
        if isinstance(entry, str):
            if self._invalid.get(entry) == flow:
                del self._invalid[entry]
        elif self._aliases.get(entry) == flow:
            del self._aliases[entry]

    def learn(self, msg: Request | Response, transport: str, source: Address) -> None:
        """Bind the Contact of a message that came over the connection ``(transport, source)``
        to it when only it reaches that Contact (a ``.invalid`` host, RFC 7118 §5), the URI
        asks for it (``;ob``, RFC 5626 §5.3), or -- with ``reuse_connections``, for a request
        straight from its sender (one Via) -- the Contact host is the connection's peer."""
        conn = self._conns.get((transport, source))
        raw = msg.get("contact")
        if conn is None or raw is None or raw in conn.seen:
            return  # (the same Contact as before on this connection: bound, or not, already)
        conn.seen.append(raw)
        if len(conn.seen) > MAX_FLOW_TARGETS:
            del conn.seen[0]
        try:
            direct = isinstance(msg, Request) and len(msg.via) == 1
            contacts = msg.contact
            if len(contacts) != 1:
                return
            uri = contacts[0].uri
        except ParseError:
            return
        if not isinstance(uri, SipUri):
            return
        host = strip_brackets(uri.host).lower()
        reuse = direct and self.config.reuse_connections and host == source[0].lower()
        if not (reuse or invalid_host(host) or "ob" in uri.params):
            return
        name = uri_transport(uri) or self.config.transport.upper()
        self.bind_flow(name, (host, uri.port or default_port(name)), (transport, source))

    def resolve(self, transport: str, dest: Address) -> ConnectionKey | None:
        """The live connection a message for ``(transport, dest)`` takes, if one exists: that
        very connection, else a flow bound to the target (see ``bind_flow``)."""
        key = (transport, dest)
        conn = self._conns.get(key)
        if conn is not None and not conn.doomed:
            return key
        flow = self._aliases.get(key)
        if flow is None and self._invalid and invalid_host(dest[0]):
            flow = self._invalid.get(dest[0].rstrip(".").lower())
        if flow is not None and flow in self._conns:
            return flow
        return None

    def is_live(self, transport: str, peer: Address) -> bool:
        conn = self._conns.get((transport, peer))
        return conn is not None and not conn.doomed

    # ---- adapter input ---------------------------------------------------------------

    def made(self, peer: Address, transport: str, now: float) -> None:
        key = (transport, peer)
        conn = self._conns.get(key)
        if conn is None:
            if len(self._conns) >= self.config.max_connections:
                self._out(StreamTransmit(data=b"", dest=peer, transport=transport, action="close"))
                self._emit(ConnectionClosed(peer=peer, transport=transport,
                                            reason="connection limit reached"))
                return
            conn = Connection(transport=transport, peer=peer, outbound=False, last_input=now)
            self._conns[key] = conn
            if self.config.idle_timeout is not None:
                conn.idle_at = now + self.config.idle_timeout
                self._schedule(conn, conn.idle_at)
        if transport in ("WS", "WSS"):
            from ._ws import WsSession

            conn.ws = WsSession(client=conn.outbound, host=peer[0],
                                max_message_size=self.config.max_message_size)
            self._write(conn, conn.ws.take_output())
        else:
            conn.framer = StreamFramer(max_message_size=self.config.max_message_size,
                                       client=conn.outbound)
            self._ready(conn, now)

    def lost(self, peer: Address, transport: str, now: float, reason: str = "closed by the peer") -> None:
        key = (transport, peer)
        conn = self._conns.pop(key, None)
        if conn is None:
            return
        for entry in conn.targets:
            self._unbind(entry, key)
        self._emit(ConnectionClosed(peer=peer, transport=transport, reason=reason))
        self._dead(transport, peer, now)

    def received(self, peer: Address, transport: str, data: bytes, now: float) -> list[Item]:
        """Bytes from a connection; returns the SIP messages they complete (parsed by the
        framer on TCP/TLS, raw WebSocket messages on WS/WSS). A framing error closes it."""
        conn = self._conns.get((transport, peer))
        if conn is None or (conn.framer is None and conn.ws is None):
            return []  # not (or no longer) ours: the adapter raced a close
        conn.last_input = now
        try:
            if conn.ws is not None:
                return self._ws_input(conn, data, now)
            assert conn.framer is not None
            out: list[Item] = []
            for item in conn.framer.feed(data):
                if isinstance(item, KeepAlive):
                    if item.kind == "ping" and not conn.outbound:
                        self._write(conn, b"\r\n")  # RFC 5626 §3.5.1: pong
                    elif item.kind == "pong" and conn.pong_by is not None:
                        conn.pong_by = None
                        self._arm_ping(conn, now)  # the next ping one interval after this pong
                else:
                    out.append(item)
            return out
        except ParseError as exc:
            # RFC 3261 §18.3: after a framing error the stream cannot be resynchronised.
            self.close(conn, now, f"framing error: {exc.reason}")
            return []

    def _ws_input(self, conn: Connection, data: bytes, now: float) -> list[Item]:
        assert conn.ws is not None
        messages = conn.ws.receive(data)
        self._write(conn, conn.ws.take_output())
        if conn.ws.failed is not None:
            self.close(conn, now, conn.ws.failed)
            return []
        if conn.ws.open and not conn.ready:
            self._ready(conn, now)
        if conn.ws.ponged and conn.pong_by is not None:
            conn.pong_by = None
            self._arm_ping(conn, now)  # the next ping one interval after this pong
        out: list[Item] = []
        for message in messages:
            if message == b"\r\n\r\n" and not conn.outbound:
                # RFC 5626 §3.5.1 ping inside a WebSocket message (what SIP.js-style clients
                # send to keep their flow alive): pong in one message of its own.
                self._message(conn, b"\r\n")
            else:
                out.append(message)
        return out

    # ---- endpoint output -------------------------------------------------------------

    def send(self, transport: str, dest: Address, data: bytes) -> None:
        """Send one SIP message on the connection to ``dest``, opening one if needed."""
        key = self.resolve(transport, dest) or (transport, dest)
        conn = self._conns.get(key)
        if conn is None:
            conn = Connection(transport=transport, peer=dest, outbound=True)
            self._conns[key] = conn
            if invalid_host(dest[0]):
                # RFC 6761 §6.4 / RFC 7118 §5: only the client's own flow reaches it, and
                # that flow is gone: fail at once (at the next timeout, not re-entrantly).
                conn.doomed = True
                self._schedule(conn, -1.0)
                return
            self._out(StreamTransmit(data=b"", dest=dest, transport=transport, action="open",
                                     server_name=dest[0] if transport in _SECURE else None))
        if not conn.ready:
            conn.pending.append(data)
            return
        self._message(conn, data)

    def close(self, conn: Connection, now: float, reason: str) -> None:
        self._out(StreamTransmit(data=b"", dest=conn.peer, transport=conn.transport, action="close"))
        self.lost(conn.peer, conn.transport, now, reason)

    def close_all(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.doomed:
                self.lost(conn.peer, conn.transport, now, "closed locally")
                continue
            if conn.ws is not None and conn.ready:
                self._write(conn, conn.ws.close())
            self.close(conn, now, "closed locally")

    # ---- keep-alives (RFC 5626 §3.5.1, on connections we opened) -------------------

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def handle_timeout(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, key = heapq.heappop(timers)
            conn = self._conns.get(key)
            if conn is None:
                continue
            if conn.doomed:
                self.lost(conn.peer, conn.transport, now, "unreachable: a .invalid host has no flow")
                continue
            if conn.idle_at is not None and conn.idle_at <= now:
                assert self.config.idle_timeout is not None
                conn.idle_at = conn.last_input + self.config.idle_timeout
                if conn.idle_at <= now:
                    self.close(conn, now, f"idle for {self.config.idle_timeout:g} s")
                    continue
                self._schedule(conn, conn.idle_at)
            if conn.pong_by is not None:
                # One ping at a time: wait for its pong (§4.4.1) before the next.
                if conn.pong_by <= now:
                    self.close(conn, now, "no keep-alive pong (RFC 5626 §4.4.1)")
            elif conn.ping_at is not None and conn.ping_at <= now:
                # A WebSocket flow pings with a Ping frame, a stream with a double CRLF.
                self._write(conn, b"\r\n\r\n" if conn.ws is None else conn.ws.ping())
                conn.ping_at = None
                conn.pong_by = now + self.config.keepalive_timeout
                self._schedule(conn, conn.pong_by)

    def set_keepalive(self, transport: str, peer: Address, interval: float, now: float) -> bool:
        """Ping the connection we opened to ``peer`` every ``interval`` seconds from now on
        (RFC 5626 §4.4.1: the registrar's Flow-Timer). False when there is no such one."""
        conn = self._conns.get((transport, peer))
        if conn is None or not conn.outbound or conn.doomed:
            return False
        conn.keepalive = interval
        if conn.ready and conn.pong_by is None:
            self._arm_ping(conn, now)
        return True

    def _arm_ping(self, conn: Connection, now: float) -> None:
        interval = conn.keepalive if conn.keepalive is not None else self.config.keepalive_interval
        if interval is None or not conn.outbound:
            return
        conn.ping_at = now + interval
        self._schedule(conn, conn.ping_at)

    def _schedule(self, conn: Connection, deadline: float) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (deadline, self._seq, (conn.transport, conn.peer)))

    # ---- helpers ---------------------------------------------------------------------

    def _ready(self, conn: Connection, now: float) -> None:
        conn.ready = True
        self._emit(ConnectionOpened(peer=conn.peer, transport=conn.transport, outbound=conn.outbound))
        self._arm_ping(conn, now)
        pending, conn.pending = conn.pending, []
        for data in pending:
            self._message(conn, data)

    def _message(self, conn: Connection, data: bytes) -> None:
        self._write(conn, data if conn.ws is None else conn.ws.message(data))

    def _write(self, conn: Connection, data: bytes) -> None:
        if data:
            self._out(StreamTransmit(data=data, dest=conn.peer, transport=conn.transport))
