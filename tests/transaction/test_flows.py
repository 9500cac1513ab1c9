"""Flows in the transaction layer: which connection a request takes when the peer reached us
over one (RFC 5626 §5.3 flows, RFC 5923 connection reuse, RFC 7118 §5 ``.invalid`` Contacts).

The endpoint is driven by hand: a connection accepted from a peer's ephemeral port, a request
on it, then a request of ours to the Contact that request carried. Each case checks the
order the adapter gets: ``send`` on the existing connection (reuse) or ``open`` to the
Contact's address (RFC 3261 §18.1.1 without reuse).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import Address
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.transaction import (ConnectionClosed, Endpoint, EndpointConfig, RequestReceived, StreamTransmit,
                                      TransportError)

US: Address = ("10.0.0.100", 5060)
PEER: Address = ("10.0.0.1", 40001)  # the peer's side of a connection it opened to us


def _endpoint(**config: object) -> Endpoint:
    ep = Endpoint(local=US, rng=random.Random(1), config=EndpointConfig(**config))  # type: ignore[arg-type]
    for name in ("TCP", "TLS", "WS", "WSS"):
        ep.add_transport(name, (US[0], {"TCP": 5060, "TLS": 5061, "WS": 8080, "WSS": 8443}[name]))
    return ep


def _incoming(contact: str, *, transport: str = "TCP", vias: int = 1, method: str = "INVITE") -> bytes:
    via = [f"Via: SIP/2.0/{transport} 10.0.0.1:5070;branch=z9hG4bK-a{n};rport" for n in range(vias)]
    if vias > 1:
        via[0] = f"Via: SIP/2.0/{transport} 10.0.0.50:5060;branch=z9hG4bK-proxy"  # a proxy on top
    lines = [f"{method} sip:pbx@10.0.0.100 SIP/2.0", *via, "Max-Forwards: 70",
             "From: <sip:alice@example.org>;tag=a1", "To: <sip:pbx@10.0.0.100>", "Call-ID: c1@a",
             f"CSeq: 1 {method}", f"Contact: {contact}", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _accept(ep: Endpoint, data: bytes, transport: str = "TCP", peer: Address = PEER) -> None:
    ep.connection_made(peer, transport, 0.0)
    ep.data_received(peer, transport, data, 0.0)
    ep.datagrams_to_send(0.0)
    assert any(isinstance(e, RequestReceived) for e in _events(ep))


def _events(ep: Endpoint) -> list[object]:
    out = []
    while (ev := ep.next_event()) is not None:
        out.append(ev)
    return out


def _request_to(uri: str, n: int = 1) -> Request:
    return Request("OPTIONS", uri, [("From", "<sip:pbx@10.0.0.100>;tag=p"), ("To", f"<{uri}>"),
                                    ("Call-ID", f"o{n}@pbx"), ("CSeq", f"{n} OPTIONS")])


def _orders(ep: Endpoint) -> list[tuple[str, str, Address]]:
    return [(t.action, t.transport, t.dest) for t in ep.datagrams_to_send(0.0) if isinstance(t, StreamTransmit)]


@pytest.mark.parametrize(("contact", "vias", "reused"), [
    # Straight from the sender (one Via), Contact host = the connection's peer: reuse.
    ("<sip:alice@10.0.0.1:5070;transport=tcp>", 1, True),
    # Through a proxy (two Vias): the connection is the proxy's; RFC 3261 §18: open one.
    ("<sip:alice@10.0.0.1:5070;transport=tcp>", 2, False),
    # Another host in Contact (a private address behind NAT): open one to it.
    ("<sip:alice@192.168.1.9:5070;transport=tcp>", 1, False),
    # RFC 5626 §5.3: ";ob" asks for the flow, whatever the host or the path.
    ("<sip:alice@192.168.1.9:5070;transport=tcp;ob>", 2, True),
])
def test_request_to_a_contact_takes_the_connection_it_came_over(contact: str, vias: int, reused: bool) -> None:
    ep = _endpoint()
    _accept(ep, _incoming(contact, vias=vias))
    uri = contact.strip("<>")
    ep.send_request(_request_to(uri), 0.0)
    orders = _orders(ep)
    if reused:
        assert orders[0][0] == "send" and orders[0][1:] == ("TCP", PEER)
        assert len(orders) == 1
    else:
        host, port = uri.split("@")[1].split(";")[0].split(":")
        assert orders[0] == ("open", "TCP", (host, int(port)))


def test_reuse_can_be_turned_off() -> None:
    ep = _endpoint(reuse_connections=False)
    _accept(ep, _incoming("<sip:alice@10.0.0.1:5070;transport=tcp>"))
    ep.send_request(_request_to("sip:alice@10.0.0.1:5070;transport=tcp"), 0.0)
    assert _orders(ep)[0] == ("open", "TCP", ("10.0.0.1", 5070))


def _accept_websocket(ep: Endpoint, data: bytes) -> None:
    """A WebSocket client (wsproto) connects over WSS, gets its 101, and sends ``data``."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Message
    from wsproto.events import Request as WsRequest

    client = WSConnection(ConnectionType.CLIENT)
    ep.connection_made(PEER, "WSS", 0.0)
    ep.data_received(PEER, "WSS", client.send(WsRequest(host="10.0.0.100", target="/", subprotocols=["sip"])), 0.0)
    client.receive_data(b"".join(t.data for t in ep.datagrams_to_send(0.0)))
    assert any(isinstance(e, AcceptConnection) for e in client.events())
    ep.data_received(PEER, "WSS", client.send(Message(data=data.decode())), 0.0)
    assert any(isinstance(e, RequestReceived) for e in _events(ep))


def test_websocket_client_with_invalid_contact_reached_over_wss_by_host_alone() -> None:
    # RFC 7118 §5: "sip:...@x.invalid;transport=ws" although the connection is WSS; the
    # URI's port (none) and transport do not matter, the host does. Connection reuse turned
    # off changes nothing: a .invalid Contact has no other way in.
    ep = _endpoint(reuse_connections=False)
    _accept_websocket(ep, _incoming("<sip:k2@df7jal23ls0d.invalid;transport=ws>", transport="WSS"))
    ep.send_request(_request_to("sip:k2@df7jal23ls0d.invalid;transport=ws"), 0.0)
    orders = _orders(ep)
    assert [(a, t, d) for a, t, d in orders if a != "send" or t != "WSS"] == []
    assert {d for _, _, d in orders} == {PEER}


def test_flow_gone_then_invalid_host_fails_at_once_without_an_open_order() -> None:
    ep = _endpoint()
    _accept(ep, _incoming("<sip:k2@abc.invalid;transport=tcp>"))
    ep.connection_lost(PEER, "TCP", 1.0)
    assert [type(e) for e in _events(ep)] == [ConnectionClosed]
    key = ep.send_request(_request_to("sip:k2@abc.invalid;transport=tcp"), 1.0)
    assert _orders(ep) == []  # never ask the adapter to resolve a .invalid name (RFC 6761 §6.4)
    deadline = ep.next_deadline()
    assert deadline is not None and deadline <= 1.0
    ep.handle_timeout(1.0)
    events = _events(ep)
    assert [e.transaction for e in events if isinstance(e, TransportError)] == [key]


def test_routable_contact_reopens_after_the_flow_closed() -> None:
    ep = _endpoint()
    _accept(ep, _incoming("<sip:alice@10.0.0.1:5070;transport=tcp>"))
    ep.connection_lost(PEER, "TCP", 1.0)
    ep.send_request(_request_to("sip:alice@10.0.0.1:5070;transport=tcp"), 1.0)
    assert _orders(ep)[0] == ("open", "TCP", ("10.0.0.1", 5070))


def test_bind_flow_explicitly_and_flow_for() -> None:
    # A registrar routing to a binding's flow binds the Contact itself (the REGISTER came
    # through nothing the endpoint could learn from, e.g. a Contact with another host).
    ep = _endpoint(reuse_connections=False)
    _accept(ep, _incoming("<sip:alice@192.168.1.9:5070;transport=tls>", transport="TLS"), "TLS")
    assert ep.flow_for("TLS", ("192.168.1.9", 5070)) is None
    assert ep.bind_flow("TLS", ("192.168.1.9", 5070), ("TLS", PEER))
    assert ep.flow_for("TLS", ("192.168.1.9", 5070)) == ("TLS", PEER)
    assert not ep.bind_flow("TLS", ("192.168.1.9", 5071), ("TLS", ("10.0.0.9", 1)))  # no such connection
    ep.send_request(_request_to("sip:alice@192.168.1.9:5070;transport=tls"), 0.0)
    assert _orders(ep)[0] == ("send", "TLS", PEER)
    assert ep.has_connection("TLS", PEER)
    ep.connection_lost(PEER, "TLS", 1.0)
    assert not ep.has_connection("TLS", PEER) and ep.flow_for("TLS", ("192.168.1.9", 5070)) is None


def test_invalid_contact_in_a_response_binds_our_outbound_connection() -> None:
    # UAC side: the 200 to our INVITE over a connection we opened names a .invalid Contact
    # (a client that cannot accept connections answering): our ACK/BYE to it take that one.
    ep = _endpoint()
    uri = "sip:bob@10.0.0.2:5070;transport=tcp"
    bob: Address = ("10.0.0.2", 5070)
    invite = Request("INVITE", uri, [("From", "<sip:pbx@10.0.0.100>;tag=p"), ("To", f"<{uri}>"),
                                     ("Call-ID", "i1@pbx"), ("CSeq", "1 INVITE"),
                                     ("Contact", "<sip:pbx@10.0.0.100:5060;transport=tcp>")])
    ep.send_request(invite, 0.0)
    assert _orders(ep)[0] == ("open", "TCP", bob)
    ep.connection_made(bob, "TCP", 0.0)
    assert _orders(ep)[0] == ("send", "TCP", bob)
    assert ep.flow_for("TCP", ("q9.invalid", 5060)) is None
    ok = make_response(invite, 200, to_tag="b", headers=[("Contact", "<sip:b7@q9.invalid;transport=tcp>")])
    ep.data_received(bob, "TCP", bytes(ok), 0.1)
    assert ep.flow_for("TCP", ("q9.invalid", 5060)) == ("TCP", bob)
    assert ep.flow_for("TCP", ("q9.invalid", 1234)) == ("TCP", bob)  # the host alone counts
    # A 200 naming a routable host elsewhere binds nothing (we chose where to connect).
    assert ep.flow_for("TCP", ("10.0.0.7", 5060)) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
def test_any_contact_on_a_connection_never_raises(contact: str) -> None:
    # The Contact is read while the request is dispatched: garbage there must neither raise
    # nor stop the request from reaching the TU (or its 400).
    ep = _endpoint()
    ep.connection_made(PEER, "TCP", 0.0)
    ep.data_received(PEER, "TCP", _incoming(contact.replace("\r", "").replace("\n", "")), 0.0)
    ep.datagrams_to_send(0.0)
    _events(ep)


def test_one_connection_binds_a_bounded_number_of_targets() -> None:
    # A peer sending ever new Contacts over one connection cannot grow the flow table: the
    # oldest bindings go (8 per connection); closing it removes the rest.
    ep = _endpoint()
    ep.connection_made(PEER, "TCP", 0.0)
    for n in range(20):
        data = _incoming(f"<sip:k@h{n}.invalid;transport=tcp>").replace(b"branch=z9hG4bK-a0",
                                                                          f"branch=z9hG4bK-n{n}".encode())
        ep.data_received(PEER, "TCP", data.replace(b"Call-ID: c1@a", f"Call-ID: c{n}@a".encode()), 0.0)
    bound = [n for n in range(20) if ep.flow_for("TCP", (f"h{n}.invalid", 5060)) is not None]
    assert bound == list(range(12, 20))
    ep.connection_lost(PEER, "TCP", 1.0)
    assert all(ep.flow_for("TCP", (f"h{n}.invalid", 5060)) is None for n in range(20))


def test_crlf_ping_in_a_websocket_message_is_answered() -> None:
    # A WebSocket client keeping its flow alive sends "\r\n\r\n" as a message: it gets a
    # "\r\n" message back (RFC 5626 §3.5.1 over RFC 7118), and nothing reaches the TU.
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Message, TextMessage
    from wsproto.events import Request as WsRequest

    ep = _endpoint()
    client = WSConnection(ConnectionType.CLIENT)
    ep.connection_made(PEER, "WS", 0.0)
    ep.data_received(PEER, "WS", client.send(WsRequest(host="10.0.0.100", target="/", subprotocols=["sip"])), 0.0)
    client.receive_data(b"".join(t.data for t in ep.datagrams_to_send(0.0)))
    assert any(isinstance(e, AcceptConnection) for e in client.events())
    _events(ep)
    ep.data_received(PEER, "WS", client.send(Message(data="\r\n\r\n")), 1.0)
    client.receive_data(b"".join(t.data for t in ep.datagrams_to_send(1.0)))
    assert [e.data for e in client.events() if isinstance(e, TextMessage)] == ["\r\n"]
    assert not [e for e in _events(ep) if isinstance(e, RequestReceived)]


def test_websocket_flow_we_opened_pings_and_closes_without_pong() -> None:
    # keepalive_interval on a WS connection we opened: a Ping frame each interval; a Pong
    # re-arms it; no Pong within keepalive_timeout closes the flow (RFC 5626 §4.4.1).
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Ping
    from wsproto.events import Request as WsRequest

    ep = _endpoint(keepalive_interval=30.0, keepalive_timeout=5.0)
    server = WSConnection(ConnectionType.SERVER)
    bob: Address = ("10.0.0.2", 8080)
    ep.send_request(_request_to("sip:bob@10.0.0.2:8080;transport=ws"), 0.0)
    assert _orders(ep)[0] == ("open", "WS", bob)
    ep.connection_made(bob, "WS", 0.0)

    def to_server(now: float) -> list[object]:
        server.receive_data(b"".join(t.data for t in ep.datagrams_to_send(now) if isinstance(t, StreamTransmit)))
        return list(server.events())

    assert any(isinstance(e, WsRequest) for e in to_server(0.0))
    ep.data_received(bob, "WS", server.send(AcceptConnection(subprotocol="sip")), 0.0)
    to_server(0.0)  # the OPTIONS
    ep.handle_timeout(30.0)
    pings = [e for e in to_server(30.0) if isinstance(e, Ping)]
    assert len(pings) == 1
    ep.data_received(bob, "WS", server.send(pings[0].response()), 30.5)  # the Pong
    ep.handle_timeout(36.0)
    assert ep.has_connection("WS", bob)
    ep.handle_timeout(60.5)
    assert len([e for e in to_server(60.5) if isinstance(e, Ping)]) == 1
    ep.handle_timeout(65.5)  # no Pong this time
    assert not ep.has_connection("WS", bob)
    assert any(isinstance(e, ConnectionClosed) and "pong" in e.reason for e in _events(ep))


def test_via_alias_is_offered_when_configured_and_honoured_by_our_endpoint() -> None:
    # RFC 5923: a client with via_alias puts ";alias" in its Via over the connection it opens;
    # our server (reuse_connections off, so only the alias counts) then sends its request for
    # the client's sent-by over that connection instead of opening one.
    client = _endpoint(via_alias=True)
    uri = "sip:pbx@10.0.0.100:5061;transport=tls"
    client.send_request(_request_to(uri), 0.0)
    server_at: Address = ("10.0.0.100", 5061)
    assert _orders(client)[0] == ("open", "TLS", server_at)
    client.connection_made(server_at, "TLS", 0.0)
    (sent,) = [t.data for t in client.datagrams_to_send(0.0)]
    (via,) = [line for line in sent.split(b"\r\n") if line.startswith(b"Via:")]
    assert via.endswith(b";rport;alias")
    plain = _endpoint()
    plain.send_request(_request_to(uri), 0.0)
    plain.connection_made(server_at, "TLS", 0.0)
    assert b"alias" not in b"".join(t.data for t in plain.datagrams_to_send(0.0))

    server = _endpoint(reuse_connections=False)
    peer: Address = ("10.0.0.100", 40007)  # the client's side of that connection, as seen
    server.connection_made(peer, "TLS", 0.0)
    server.data_received(peer, "TLS", sent, 0.0)
    server.datagrams_to_send(0.0)
    server.send_request(_request_to("sips:x@10.0.0.100:5061"), 0.0)
    assert _orders(server)[0] == ("send", "TLS", peer)
