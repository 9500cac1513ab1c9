"""Connection-oriented transports in the core (RFC 3261 §18, RFC 5626 §3.5.1, RFC 7118):
two endpoints joined by an in-memory wire that carries out their StreamTransmit orders."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import Address, Event, LocalProtocolError, Transmit
from rvoip_sansio.sip import Request, make_response, parse_message
from rvoip_sansio.transaction import (
    ConnectionClosed,
    ConnectionOpened,
    Endpoint,
    EndpointConfig,
    MessageDiscarded,
    RequestReceived,
    ResponseReceived,
    StreamTransmit,
    TransactionTimeout,
    TransportError,
)

Chunker = Callable[[bytes], list[bytes]]
A_TCP: Address = ("127.0.0.1", 5060)
B_TCP: Address = ("127.0.0.1", 5070)


Chunker = Callable[[bytes], list[bytes]]


class StreamWire:
    """An in-memory wire: carries out StreamTransmit orders, reports connection events."""

    def __init__(self, chunker: Chunker | None = None) -> None:
        self.listeners: dict[tuple[str, Address], Endpoint] = {}
        # (endpoint id, transport, peer as that endpoint knows it) -> (other endpoint, peer there)
        self.links: dict[tuple[int, str, Address], tuple[Endpoint, Address]] = {}
        self.events: dict[int, list[Event]] = {}
        self.sent: dict[int, list[StreamTransmit]] = {}
        self.datagrams: list[Transmit] = []
        self.on_event: dict[int, Callable[[Endpoint, Event, float], None]] = {}
        self.refuse: set[Address] = set()
        self.chunker = chunker or (lambda data: [data])
        self._port = 40000

    def listen(self, ep: Endpoint, transport: str, addr: Address) -> None:
        ep.add_transport(transport, addr)
        self.listeners[(transport, addr)] = ep
        self.events.setdefault(id(ep), [])
        self.sent.setdefault(id(ep), [])

    def pump(self, now: float) -> None:
        """Deliver everything every endpoint produced until nothing moves."""
        moved = True
        while moved:
            moved = False
            for ep in {id(e): e for e in self.listeners.values()}.values():
                for t in ep.datagrams_to_send(now):
                    moved = True
                    self._execute(ep, t, now)
                while (ev := ep.next_event()) is not None:
                    moved = True
                    self.events[id(ep)].append(ev)
                    cb = self.on_event.get(id(ep))
                    if cb is not None:
                        cb(ep, ev, now)

    def _execute(self, ep: Endpoint, t: Transmit, now: float) -> None:
        if not isinstance(t, StreamTransmit):
            self.datagrams.append(t)
            return
        self.sent[id(ep)].append(t)
        if t.action == "open":
            other = self.listeners.get((t.transport, t.dest))
            if other is None or t.dest in self.refuse:
                ep.connection_lost(t.dest, t.transport, now)
                return
            self._port += 1
            peer_there: Address = ("127.0.0.1", self._port)
            self.links[(id(ep), t.transport, t.dest)] = (other, peer_there)
            self.links[(id(other), t.transport, peer_there)] = (ep, t.dest)
            other.connection_made(peer_there, t.transport, now)
            ep.connection_made(t.dest, t.transport, now)
        elif t.action == "send":
            link = self.links.get((id(ep), t.transport, t.dest))
            if link is None:
                ep.connection_lost(t.dest, t.transport, now)
                return
            other, peer = link
            for chunk in self.chunker(t.data):
                other.data_received(peer, t.transport, chunk, now)
        else:
            self.drop(ep, t.transport, t.dest, now)

    def drop(self, ep: Endpoint, transport: str, peer: Address, now: float) -> None:
        """Close a connection from ``ep``'s side: the other side sees it lost."""
        link = self.links.pop((id(ep), transport, peer), None)
        if link is None:
            return
        other, there = link
        self.links.pop((id(other), transport, there), None)
        other.connection_lost(there, transport, now)
        ep.connection_lost(peer, transport, now)

    def wire_bytes(self, ep: Endpoint) -> list[bytes]:
        return [t.data for t in self.sent[id(ep)] if t.action == "send"]


def endpoint(local: Address, seed: int, **config: object) -> Endpoint:
    return Endpoint(local=local, rng=random.Random(seed), config=EndpointConfig(**config))  # type: ignore[arg-type]


def request(method: str, uri: str, cseq: int = 1, body: bytes = b"") -> Request:
    return Request(method, uri, [
        ("From", "<sip:alice@127.0.0.1>;tag=a1"), ("To", f"<{uri}>"), ("Call-ID", f"c{cseq}@a"),
        ("CSeq", f"{cseq} {method}"), ("Contact", "<sip:alice@127.0.0.1:5060;transport=tcp>"),
    ], body)


def answer(code: int) -> Callable[[Endpoint, Event, float], None]:
    def on_event(ep: Endpoint, ev: Event, now: float) -> None:
        if isinstance(ev, RequestReceived) and ev.transaction is not None and ev.request.method != "ACK":
            ep.send_response(make_response(ev.request, code, to_tag="b1"), now, transaction=ev.transaction)
    return on_event


def two(transport: str = "TCP", chunker: Chunker | None = None, **config: object) -> tuple[StreamWire, Endpoint, Endpoint]:
    wire = StreamWire(chunker)
    a, b = endpoint(A_TCP, 1, **config), endpoint(B_TCP, 2, **config)
    wire.listen(a, transport, A_TCP)
    wire.listen(b, transport, B_TCP)
    return wire, a, b


def of(wire: StreamWire, ep: Endpoint, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in wire.events[id(ep)] if isinstance(e, kind)]


@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS", "WSS"])
def test_options_and_invite_486_over_connection(transport: str) -> None:
    wire, a, b = two(transport)
    wire.on_event[id(b)] = answer(486)
    scheme, param = ("sips", "") if transport == "TLS" else ("sip", f";transport={transport.lower()}")
    if transport == "WSS":
        scheme, param = "sips", ";transport=ws"
    uri = f"{scheme}:bob@127.0.0.1:5070{param}"
    key = a.send_request(request("OPTIONS", uri), 0.0)
    wire.pump(0.0)
    opened = [t for t in wire.sent[id(a)] if t.action == "open"]
    assert [(t.transport, t.dest) for t in opened] == [(transport, B_TCP)]
    # RFC 3261 §26.3.1 / RFC 7118: the name a TLS client verifies is the URI's host.
    assert opened[0].server_name == ("127.0.0.1" if transport in ("TLS", "WSS") else None)
    [resp] = of(wire, a, ResponseReceived)
    assert resp.transaction == key and resp.response.status_code == 486
    # §18.1.1: our Via names the transport and the listening address.
    via = parse_message(wire.wire_bytes(a)[-1] if transport in ("TCP", "TLS") else bytes(resp.response)).via[0]
    assert via.transport == transport and via.port == 5060
    # Reliable: Timer K is zero, the transaction is gone at once; nothing is ever resent.
    a.handle_timeout(0.0)
    assert a.live_transactions == 0
    a.send_request(request("INVITE", uri, 2), 1.0)
    wire.pump(1.0)
    assert [r.response.status_code for r in of(wire, a, ResponseReceived)] == [486, 486]
    sent_before = len(wire.sent[id(a)]) + len(wire.sent[id(b)])
    for t in (2.0, 5.0, 40.0, 100.0):
        a.handle_timeout(t)
        b.handle_timeout(t)
        wire.pump(t)
    assert len(wire.sent[id(a)]) + len(wire.sent[id(b)]) == sent_before
    assert a.live_transactions == 0 and b.live_transactions == 0
    # One connection carried everything (the ACK for the 486 included).
    assert len([t for t in wire.sent[id(a)] if t.action == "open"]) == 1
    assert [r.request.method for r in of(wire, b, RequestReceived)] == ["OPTIONS", "INVITE"]
    assert not wire.datagrams
    if transport in ("WS", "WSS"):
        handshake = wire.wire_bytes(a)[0]
        assert handshake.startswith(b"GET / HTTP/1.1") and b"Sec-WebSocket-Protocol: sip" in handshake
        assert b"Sec-WebSocket-Protocol: sip" in wire.wire_bytes(b)[0]


def test_reliable_chosen_per_transaction() -> None:
    """UDP and TCP on one endpoint: UDP requests retransmit (Timer E), TCP ones do not."""
    wire, a, b = two("TCP")
    a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5080"), 0.0)  # no transport: UDP
    a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=tcp", 2), 0.0)
    wire.pump(0.0)
    for t in (0.5, 1.5, 3.5):
        a.handle_timeout(t)
        wire.pump(t)
    assert len(wire.datagrams) == 4  # §17.1.2.2: at 0, 0.5, 1.5, 3.5 s
    assert b"SIP/2.0/UDP 127.0.0.1:5060" in wire.datagrams[0].data
    assert len(of(wire, b, RequestReceived)) == 1
    assert len([t for t in wire.sent[id(a)] if t.action == "send"]) == 1


def test_timer_b_still_runs_on_a_connection_without_retransmissions() -> None:
    """§17.1.1.2: on a reliable transport Timer A is not started, Timer B (64*T1) is."""
    wire, a, b = two("TCP")
    key = a.send_request(request("INVITE", "sip:bob@127.0.0.1:5070;transport=tcp"), 0.0)
    wire.pump(0.0)
    for t in (0.5, 1.5, 3.5, 7.5, 15.5, 31.5):
        a.handle_timeout(t)
        wire.pump(t)
    assert len(wire.wire_bytes(a)) == 1 and not of(wire, a, TransactionTimeout)
    assert a.next_deadline() == 32.0
    a.handle_timeout(32.0)
    wire.pump(32.0)
    assert [(e.transaction, e.timer.value) for e in of(wire, a, TransactionTimeout)] == [(key, "B")]


def test_server_timer_g_only_for_udp_requests() -> None:
    """§17.2.1: a 486 to a UDP INVITE is resent (Timer G); to a TCP INVITE it is not."""
    b = endpoint(B_TCP, 2)
    b.add_transport("TCP", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "TCP", 0.0)
    for n, (branch, via) in enumerate([("z9hG4bKudp", "UDP"), ("z9hG4bKtcp", "TCP")]):
        req = request("INVITE", "sip:bob@127.0.0.1:5070", n + 1)
        req.add("Via", f"SIP/2.0/{via} 127.0.0.1:40001;branch={branch}", first=True)
        if via == "UDP":
            b.receive(bytes(req), peer, 0.0)
        else:
            b.data_received(peer, "TCP", bytes(req), 0.0)
    for ev in [e for e in iter(b.next_event, None) if isinstance(e, RequestReceived)]:
        b.send_response(make_response(ev.request, 486, to_tag="x"), 0.0, transaction=ev.transaction)
    first = b.datagrams_to_send(0.0)
    for t in (0.5, 1.5, 3.5):
        b.handle_timeout(t)
    again = b.datagrams_to_send(3.5)
    assert sorted(type(t).__name__ for t in first) == ["StreamTransmit", "Transmit"]
    assert [type(t).__name__ for t in again] == ["Transmit"] * 3  # only the UDP 486 repeats


def test_response_follows_the_connection_and_reopens_to_via() -> None:
    """§18.2.2: responses go back on the request's connection; if it closed, to the Via."""
    wire, a, b = two("TCP")
    got: list[RequestReceived] = []
    wire.on_event[id(b)] = lambda ep, ev, now: got.append(ev) if isinstance(ev, RequestReceived) else None
    a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=tcp"), 0.0)
    wire.pump(0.0)
    [ev] = got
    assert ev.source != A_TCP and ev.source[1] > 40000  # the connection's ephemeral port
    b.send_response(make_response(ev.request, 180, to_tag="x"), 0.1, transaction=ev.transaction)
    wire.pump(0.1)
    assert [t.action for t in wire.sent[id(b)]] == ["send"]
    wire.drop(b, "TCP", ev.source, 0.2)
    wire.pump(0.2)
    assert of(wire, a, TransportError)  # a's client transaction lost its connection
    b.send_response(make_response(ev.request, 200, to_tag="x"), 0.3, transaction=ev.transaction)
    wire.pump(0.3)
    opened = [t for t in wire.sent[id(b)] if t.action == "open"]
    assert [(t.dest) for t in opened] == [A_TCP]  # Via sent-by 127.0.0.1:5060


def test_via_alias_lets_requests_reuse_the_connection() -> None:
    """RFC 5923: b's request to a's advertised address goes over a's connection."""
    wire, a, b = two("TCP")
    wire.on_event[id(b)] = answer(200)
    req = request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=tcp")
    req.add("Via", "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKalias1;alias", first=True)
    a.send_request(req, 0.0)
    wire.pump(0.0)
    b.send_request(request("OPTIONS", "sip:alice@127.0.0.1:5060;transport=tcp", 9), 1.0)
    wire.pump(1.0)
    assert not [t for t in wire.sent[id(b)] if t.action == "open"]
    assert [r.request.cseq.number for r in of(wire, a, RequestReceived)] == [9]


def test_connection_refused_is_a_transport_error() -> None:
    wire, a, b = two("TCP")
    wire.refuse.add(B_TCP)
    key = a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=tcp"), 0.0)
    wire.pump(0.0)
    assert [e.transaction for e in of(wire, a, TransportError)] == [key]
    assert [e.reason for e in of(wire, a, ConnectionClosed)] == ["closed by the peer"]
    assert a.live_transactions == 0 and a.connection_count == 0


def test_sips_needs_tls() -> None:
    wire, a, b = two("TCP")
    with pytest.raises(LocalProtocolError, match="no TLS transport"):
        a.send_request(request("OPTIONS", "sips:bob@127.0.0.1:5071"), 0.0)
    assert a.live_transactions == 0


def test_datagram_only_endpoint_unchanged() -> None:
    """Without add_transport the endpoint keeps the datagram behaviour (config.transport)."""
    a = endpoint(A_TCP, 1, transport="TCP", reliable=True)
    a.send_request(request("OPTIONS", "sips:bob@127.0.0.1:5071"), 0.0)
    [t] = a.datagrams_to_send(0.0)
    assert type(t) is Transmit and t.dest == ("127.0.0.1", 5071)


# ---- framing under every chunking (RFC 3261 §18.3) --------------------------------------

def _messages(n: int) -> bytes:
    out = b""
    for i in range(n):
        body = b"x" * (i * 7)
        req = request("MESSAGE", "sip:bob@127.0.0.1:5070;transport=tcp", i + 1, body)
        req.add("Via", f"SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{i:08d}")
        out += bytes(req)
        if i % 2:
            out += b"\r\n\r\n"  # an RFC 5626 ping between messages
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40), st.integers(1, 6))
def test_any_chunking_gives_the_same_requests(cuts: list[int], n: int) -> None:
    stream = _messages(n)
    b = endpoint(B_TCP, 2)
    b.add_transport("TCP", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "TCP", 0.0)
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        b.data_received(peer, "TCP", stream[pos:pos + step], 0.0)
        pos += step
        i += 1
    events = []
    while (ev := b.next_event()) is not None:
        events.append(ev)
    reqs = [e for e in events if isinstance(e, RequestReceived)]
    assert [r.request.cseq.number for r in reqs] == list(range(1, n + 1))
    assert [len(r.request.body) for r in reqs] == [7 * i for i in range(n)]
    pongs = [t for t in b.datagrams_to_send(0.0) if isinstance(t, StreamTransmit)]
    assert [t.data for t in pongs] == [b"\r\n"] * (n // 2)  # one pong per ping


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["TCP", "WS"]))
def test_garbage_on_a_connection_never_raises(data: bytes, transport: str) -> None:
    b = endpoint(B_TCP, 2, max_message_size=300)
    b.add_transport(transport, B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, transport, 0.0)
    b.data_received(peer, transport, data, 0.0)
    b.data_received(peer, transport, data, 0.0)
    b.datagrams_to_send(0.0)
    while b.next_event() is not None:
        pass


def test_limits_close_the_connection() -> None:
    b = endpoint(B_TCP, 2, max_message_size=1000)
    b.add_transport("TCP", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "TCP", 0.0)
    big = request("MESSAGE", "sip:bob@127.0.0.1:5070", 1, b"y" * 2000)
    big.add("Via", "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKbig")
    b.data_received(peer, "TCP", bytes(big), 0.0)
    out = b.datagrams_to_send(0.0)
    assert [(t.action, t.dest) for t in out if isinstance(t, StreamTransmit)] == [("close", peer)]
    events = []
    while (ev := b.next_event()) is not None:
        events.append(ev)
    [closed] = [e for e in events if isinstance(e, ConnectionClosed)]
    assert "exceeds 1000" in closed.reason and b.connection_count == 0
    # Missing Content-Length on a stream is a framing error too (§18.3).
    b.connection_made(peer, "TCP", 1.0)
    b.data_received(peer, "TCP", b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n", 1.0)
    reasons = [e.reason for e in iter(b.next_event, None) if isinstance(e, ConnectionClosed)]
    assert reasons and "Content-Length" in reasons[0]


def test_malformed_but_framed_request_closes_connection() -> None:
    """A well-framed message that does not parse: the connection is closed (documented)."""
    b = endpoint(B_TCP, 2)
    b.add_transport("TCP", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "TCP", 0.0)
    b.data_received(peer, "TCP", b"NOT A SIP LINE\r\nContent-Length: 0\r\n\r\n", 0.0)
    assert any(isinstance(e, ConnectionClosed) for e in iter(b.next_event, None))


def test_connection_limit() -> None:
    b = endpoint(B_TCP, 2, max_connections=2)
    b.add_transport("TCP", B_TCP)
    for port in (1, 2, 3):
        b.connection_made(("127.0.0.1", port), "TCP", 0.0)
    out = [t for t in b.datagrams_to_send(0.0) if isinstance(t, StreamTransmit)]
    assert [(t.action, t.dest) for t in out] == [("close", ("127.0.0.1", 3))]
    assert b.connection_count == 2
    # Our own requests may not open more either (existing connections are still used).
    with pytest.raises(LocalProtocolError, match="connection limit"):
        b.send_request(request("OPTIONS", "sip:x@127.0.0.1:9;transport=tcp"), 0.0)
    b.send_request(request("OPTIONS", "sip:x@127.0.0.1:1;transport=tcp", 2), 0.0)
    assert [t.dest for t in b.datagrams_to_send(0.0)] == [("127.0.0.1", 1)]


def test_idle_accepted_connection_is_closed() -> None:
    b = endpoint(B_TCP, 2, idle_timeout=60.0)
    b.add_transport("TCP", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "TCP", 0.0)
    assert b.next_deadline() == 60.0
    b.data_received(peer, "TCP", b"\r\n\r\n", 50.0)  # a ping is input: the clock restarts
    b.handle_timeout(60.0)
    assert b.connection_count == 1 and b.next_deadline() == 110.0
    b.handle_timeout(110.0)
    assert b.connection_count == 0
    assert [e.reason for e in iter(b.next_event, None) if isinstance(e, ConnectionClosed)] == ["idle for 60 s"]


# ---- keep-alives (RFC 5626 §3.5.1, §4.4.1) ----------------------------------------------

def test_keepalive_ping_pong_and_timeout() -> None:
    wire, a, b = two("TCP", keepalive_interval=30.0, keepalive_timeout=10.0)
    a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=tcp"), 0.0)
    wire.on_event[id(b)] = answer(200)
    wire.pump(0.0)
    assert a.next_deadline() == 30.0
    a.handle_timeout(30.0)
    wire.pump(30.0)
    assert wire.wire_bytes(a)[-1] == b"\r\n\r\n" and wire.wire_bytes(b)[-1] == b"\r\n"
    a.handle_timeout(40.0)  # the pong came: the connection stays
    wire.pump(40.0)
    assert a.connection_count == 1 and not of(wire, a, ConnectionClosed)
    # The server only answers pings, it never sends its own.
    assert wire.wire_bytes(b).count(b"\r\n\r\n") == 0
    # Now the peer goes silent: no pong within 10 s closes the connection.
    del wire.listeners[("TCP", B_TCP)]
    wire.links.clear()
    a.handle_timeout(60.0)  # ping at 60
    a.datagrams_to_send(60.0)
    a.handle_timeout(70.0)
    assert a.connection_count == 0
    reasons = [e.reason for e in iter(a.next_event, None) if isinstance(e, ConnectionClosed)]
    assert reasons == ["no keep-alive pong (RFC 5626 §4.4.1)"]


# ---- WebSocket (RFC 7118) ----------------------------------------------------------------

def test_websocket_without_sip_subprotocol_is_refused() -> None:
    b = endpoint(B_TCP, 2)
    b.add_transport("WS", B_TCP)
    peer: Address = ("127.0.0.1", 40001)
    b.connection_made(peer, "WS", 0.0)
    b.data_received(peer, "WS", b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 0.0)
    out = [t for t in b.datagrams_to_send(0.0) if isinstance(t, StreamTransmit)]
    assert out[0].data.startswith(b"HTTP/1.1 400") and out[-1].action == "close"
    reasons = [e.reason for e in iter(b.next_event, None) if isinstance(e, ConnectionClosed)]
    assert reasons == ["WebSocket client did not offer the sip subprotocol"]


def test_websocket_one_message_per_frame_any_chunking() -> None:
    """RFC 7118 §5.2: each WebSocket message is one SIP message; frames split anywhere."""
    def bytewise(data: bytes) -> list[bytes]:
        return [data[i:i + 1] for i in range(len(data))]

    wire, a, b = two("WS", bytewise)
    wire.on_event[id(b)] = answer(200)
    for i in range(3):
        a.send_request(request("OPTIONS", "sip:bob@127.0.0.1:5070;transport=ws", i + 1), 0.0)
    wire.pump(0.0)
    assert [r.response.cseq.number for r in of(wire, a, ResponseReceived)] == [1, 2, 3]
    assert [e.outbound for e in of(wire, a, ConnectionOpened)] == [True]
    a.close_connections(1.0)
    wire.pump(1.0)
    assert a.connection_count == 0 and b.connection_count == 0
    # The closing handshake (code 1000) reached the peer before the connection went.
    assert [e.reason for e in of(wire, b, ConnectionClosed)] == ["WebSocket closed by the peer (1000)"]
    assert not of(wire, b, MessageDiscarded)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20),
       st.sampled_from(["WS", "TCP"]), st.integers(1, 4))
def test_exchange_under_any_chunking(cuts: list[int], transport: str, n: int) -> None:
    """Whole exchanges (handshake included for WS) with every write cut at random points."""
    def chunker(data: bytes) -> list[bytes]:
        out, pos, i = [], 0, 0
        while pos < len(data):
            out.append(data[pos:pos + cuts[i % len(cuts)]])
            pos += cuts[i % len(cuts)]
            i += 1
        return out

    wire, a, b = two(transport, chunker)
    wire.on_event[id(b)] = answer(486)
    for i in range(n):
        a.send_request(request("INVITE" if i % 2 else "OPTIONS",
                               f"sip:bob@127.0.0.1:5070;transport={transport.lower()}", i + 1), 0.0)
    wire.pump(0.0)
    assert sorted(r.response.cseq.number for r in of(wire, a, ResponseReceived)) == list(range(1, n + 1))
    assert a.live_transactions == 0 and b.live_transactions == 0  # INVITE ACKs absorbed
    assert not of(wire, a, ConnectionClosed) and not of(wire, b, ConnectionClosed)
