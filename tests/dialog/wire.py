"""An in-memory network for UserAgents and B2BUAs on several transports: datagrams are
delivered, ``StreamTransmit`` orders (open / send / close) carried out, and everything sent
is logged so tests can read back which message left over which transport to where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.dialog import IncomingCall, UserAgent
from rvoip_sansio.server import B2BUA
from rvoip_sansio.sip import Request, Response, parse_message
from rvoip_sansio.transaction import StreamTransmit

Core = UserAgent | B2BUA


class Sent(NamedTuple):
    sender: Core
    action: str  # "datagram", or the StreamTransmit action: "open", "send", "close"
    transport: str
    dest: Address
    data: bytes


def ws_payloads(data: bytes) -> list[bytes]:
    """The payloads of the WebSocket frames in ``data`` (RFC 6455 §5.2: 7-bit length, or 126 +
    16 bits, or 127 + 64 bits; a mask key when the MASK bit is set), [] for the HTTP handshake."""
    if data.startswith((b"GET ", b"HTTP/")):
        return []
    out, i = [], 0
    while i < len(data):
        masked, length = data[i + 1] & 0x80, data[i + 1] & 0x7F
        i += 2
        if length in (126, 127):
            size = 2 if length == 126 else 8
            length, i = int.from_bytes(data[i:i + size], "big"), i + size
        key = data[i:i + 4] if masked else b"\0\0\0\0"
        i += 4 if masked else 0
        out.append(bytes(b ^ key[n % 4] for n, b in enumerate(data[i:i + length])))
        i += length
    return out


def _local(core: Core) -> Address:
    return core.ua.config.local if isinstance(core, B2BUA) else core.config.local


class Wire:
    """A connection ``open`` to an address nothing listens on fails the test, as a real
    connect would be refused."""

    def __init__(self) -> None:
        self.udp: dict[Address, Core] = {}
        self.listeners: dict[tuple[str, Address], Core] = {}
        self.links: dict[tuple[int, str, Address], tuple[Core, Address]] = {}
        self.events: dict[int, list[Event]] = {}
        self.log: list[Sent] = []
        #: cores that answer every IncomingCall (after a 180 when in ``ring``)
        self.answer: set[int] = set()
        self.ring: set[int] = set()
        self._port = 40000

    def add(self, core: Core, local: Address, *streams: str, at: Mapping[str, Address] | None = None,
            accepts: bool = True, answers: bool = False, rings: bool = False) -> None:
        """``core`` on UDP ``local``, listening for ``streams`` on ``local`` and for the
        transports of ``at`` on their addresses. ``accepts=False``: a WebSocket client, which
        has no listener to connect to."""
        self.udp[local] = core
        for name, addr in [*((s, local) for s in streams), *(at or {}).items()]:
            core.add_transport(name, addr)
            if accepts:
                self.listeners[(name, addr)] = core
        self.events[id(core)] = []
        if answers:
            self.answer.add(id(core))
        if rings:
            self.ring.add(id(core))

    def pump(self, now: float) -> None:
        moved = True
        while moved:
            moved = False
            for core in list(self.udp.values()):
                for t in core.datagrams_to_send(now):
                    moved = True
                    self._execute(core, t, now)
                while (ev := core.next_event()) is not None:
                    moved = True
                    self.events[id(core)].append(ev)
                    if isinstance(ev, IncomingCall) and id(core) in self.answer:
                        if id(core) in self.ring:
                            ev.call.ring(now)
                        ev.call.answer(now)

    def _execute(self, core: Core, t: Transmit, now: float) -> None:
        source = _local(core)
        if not isinstance(t, StreamTransmit):
            self.log.append(Sent(core, "datagram", "UDP", t.dest, t.data))
            self.udp[t.dest].receive(t.data, source, now)
            return
        self.log.append(Sent(core, t.action, t.transport, t.dest, t.data))
        if t.action == "open":
            other = self.listeners.get((t.transport, t.dest))
            if other is None:
                raise AssertionError(f"connection refused: nothing listens for {t.transport} at {t.dest}")
            self._port += 1
            there: Address = (source[0], self._port)
            self.links[(id(core), t.transport, t.dest)] = (other, there)
            self.links[(id(other), t.transport, there)] = (core, t.dest)
            other.connection_made(there, t.transport, now)
            core.connection_made(t.dest, t.transport, now)
        elif (id(core), t.transport, t.dest) not in self.links:
            return  # the other side closed it meanwhile (it was told connection_lost already)
        elif t.action == "send":
            other, peer = self.links[(id(core), t.transport, t.dest)]
            other.data_received(peer, t.transport, t.data, now)
        else:
            other, there = self.links.pop((id(core), t.transport, t.dest))
            self.links.pop((id(other), t.transport, there), None)
            other.connection_lost(there, t.transport, now)
            core.connection_lost(t.dest, t.transport, now)

    def messages(self, core: Core, start: str) -> list[tuple[str, Address, Request | Response]]:
        """(transport, dest, message) for each SIP message ``core`` sent whose first line
        starts with ``start`` (read out of WebSocket frames)."""
        out = []
        for sender, action, transport, dest, data in self.log:
            if sender is not core or action not in ("send", "datagram"):
                continue
            payloads = ws_payloads(data) if transport in ("WS", "WSS") else [data]
            out += [(transport, dest, parse_message(p)) for p in payloads if p.startswith(start.encode())]
        return out

    def sent(self, core: Core, method: str) -> list[tuple[str, Request]]:
        """(transport, request) for each ``method`` request ``core`` sent."""
        out = []
        for transport, _, msg in self.messages(core, method + " "):
            assert isinstance(msg, Request)
            out.append((transport, msg))
        return out

    def of(self, core: Core, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events[id(core)] if isinstance(e, kind)]
