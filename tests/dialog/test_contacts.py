"""A Contact per transport (RFC 3261 §8.1.1.8, §12.1.1, §18; RFC 7118 §5), in memory.

Bob listens on UDP 5060, TCP 5060, TLS 5061, WS 8080 and WSS 8443. A call reaching him over
each transport must be answered with a Contact naming that transport's listener (and
``;transport=``), so that the caller's ACK, re-INVITE and BYE come back over it; the ones Bob
sends in the dialog go over it too. Before the fix every answer said ``sip:bob@10.0.0.2:5060``
and the TLS/WS caller's ACK went to port 5060 over TLS/WS, where nothing listens (the wire
below fails an ``open`` with no listener, as a real connect would be refused).
"""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import Address
from rvoip_sansio.dialog import Call, CallAnswered, CallEnded, EndReason, IncomingCall, UAConfig, UserAgent
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import Request, Response
from rvoip_sansio.transaction import EndpointConfig

from .helpers import caps
from .wire import Wire

BOB: Address = ("10.0.0.2", 5060)
ALICE: Address = ("10.0.0.1", 5070)
BOB_LISTENERS: dict[str, Address] = {"TCP": ("10.0.0.2", 5060), "TLS": ("10.0.0.2", 5061),
                                     "WS": ("10.0.0.2", 8080), "WSS": ("10.0.0.2", 8443)}
BOB_CONTACT = {
    "UDP": "<sip:bob@10.0.0.2:5060>",
    "TCP": "<sip:bob@10.0.0.2:5060;transport=tcp>",
    "TLS": "<sip:bob@10.0.0.2:5061;transport=tls>",
    "WS": "<sip:bob@10.0.0.2:8080;transport=ws>",
    "WSS": "<sip:bob@10.0.0.2:8443;transport=wss>",
}


def agent(local: Address, user: str, seed: int, transport: str = "UDP", **kw: object) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


def _bob(wire: Wire, contact_address: Address | None = None) -> UserAgent:
    bob = agent(BOB, "bob", 2, contact_address=contact_address)
    wire.add(bob, BOB, at=BOB_LISTENERS, answers=True, rings=True)
    return bob


def _target(transport: str, scheme: str = "sip") -> str:
    if transport == "UDP":
        return "sip:bob@10.0.0.2:5060"
    port = BOB_LISTENERS[transport][1]
    return f"{scheme}:bob@10.0.0.2:{port};transport={transport.lower()}"


def _contact(msg: Request | Response) -> str:
    value = msg.get("contact")
    assert value is not None
    return value


@pytest.mark.parametrize("transport", ["UDP", "TCP", "TLS", "WS", "WSS"])
def test_call_over_each_transport_gets_a_contact_for_it(transport: str) -> None:
    wire = Wire()
    bob = _bob(wire)
    alice = agent(ALICE, "alice", 1, transport)
    wire.add(alice, ALICE, at={} if transport == "UDP" else {transport: ALICE})
    bob_there = BOB_LISTENERS.get(transport, BOB)
    call = alice.invite(_target(transport), 0.0)
    wire.pump(0.0)
    assert len(wire.of(alice, CallAnswered)) == 1
    bob_call: Call = wire.of(bob, IncomingCall)[0].call
    # The 180 and the 200 name Bob's listener for the transport the INVITE used.
    answers = wire.messages(bob, "SIP/2.0 ")
    assert [(m.status_code, t) for t, _, m in answers if isinstance(m, Response)] == [
        (180, transport), (200, transport)]
    assert {_contact(m) for _, _, m in answers} == {BOB_CONTACT[transport]}
    # The ACK goes to that listener over that transport (before the fix: port 5060).
    (ack_transport, ack_dest, _), = wire.messages(alice, "ACK ")
    assert (ack_transport, ack_dest) == (transport, bob_there)

    # Alice's re-INVITE (hold) reaches the same listener; its 200 carries the same Contact.
    call.hold(1.0)
    wire.pump(1.0)
    (t, dest, reinvite), = wire.messages(alice, "INVITE sip:bob@")[1:]
    assert (t, dest) == (transport, bob_there)
    assert _contact(wire.messages(bob, "SIP/2.0 200")[-1][2]) == BOB_CONTACT[transport]
    # Bob's own re-INVITE goes back to Alice over the same transport, with his Contact for it
    # (§12.2.1.1: a target refresh must keep naming a reachable URI). Over a connection it
    # reuses the one Alice opened (her Contact host is that connection's peer, her INVITE
    # came straight from her: docs/transports.md, "Flows"), as his responses did.
    alice_seen_at = answers[0][1]
    assert alice_seen_at == ALICE if transport == "UDP" else alice_seen_at[0] == ALICE[0]
    bob_call.resume(2.0)
    wire.pump(2.0)
    (t, dest, bob_reinvite), = wire.messages(bob, "INVITE ")
    assert (t, dest) == (transport, alice_seen_at) and _contact(bob_reinvite) == BOB_CONTACT[transport]
    assert bob_reinvite.via[0].transport == transport

    bob_call.hangup(3.0)
    wire.pump(3.0)
    (t, dest, _), = wire.messages(bob, "BYE ")
    assert (t, dest) == (transport, alice_seen_at)
    assert not [s for s in wire.log if s.sender is bob and s.action == "open"]
    assert [e.reason for e in wire.of(alice, CallEnded)] == [EndReason.REMOTE_HANGUP]
    assert [e.reason for e in wire.of(bob, CallEnded)] == [EndReason.LOCAL_HANGUP]
    # Nothing of this call left by another transport.
    assert {t for _, _, t, _, _ in wire.log} == {transport}


def test_sips_request_gets_a_sips_contact() -> None:
    # §8.1.1.8 / §12.1.1: a sips: Request-URI asks for a SIPS Contact, in the INVITE and in
    # the answer; the secure dialog keeps it for the requests that follow.
    wire = Wire()
    bob = _bob(wire)
    alice = agent(ALICE, "alice", 1, "TLS")
    wire.add(alice, ALICE, "TLS")
    alice.invite("sips:bob@10.0.0.2:5061", 0.0)
    wire.pump(0.0)
    (_, _, invite), = wire.messages(alice, "INVITE ")
    assert _contact(invite) == "<sips:alice@10.0.0.1:5070>"
    assert {_contact(m) for _, _, m in wire.messages(bob, "SIP/2.0 ")} == {"<sips:bob@10.0.0.2:5061>"}
    bob_call: Call = wire.of(bob, IncomingCall)[0].call
    bob_call.hold(1.0)
    wire.pump(1.0)
    (t, dest, reinvite), = wire.messages(bob, "INVITE ")
    assert isinstance(reinvite, Request)
    # Over the connection Alice opened (connection reuse: docs/transports.md, "Flows").
    (alice_conn,) = {d for t, d, _ in wire.messages(bob, "SIP/2.0 ")}
    assert (t, dest, str(reinvite.uri)) == ("TLS", alice_conn, "sips:alice@10.0.0.1:5070")
    assert _contact(reinvite) == "<sips:bob@10.0.0.2:5061>"


def test_websocket_client_with_an_invalid_contact_is_reached_over_its_connection() -> None:
    # RFC 7118 §5: a WebSocket client cannot accept connections; its Contact has an .invalid
    # host and requests to it go over the connection it opened.
    wire = Wire()
    bob = _bob(wire)
    alice = agent(ALICE, "alice", 1, "WS", contact_address=("df7jal23ls0d.invalid", 5070))
    wire.add(alice, ALICE, "WS", accepts=False)
    call = alice.invite(_target("WS"), 0.0)
    wire.pump(0.0)
    (_, _, invite), = wire.messages(alice, "INVITE ")
    assert _contact(invite) == "<sip:alice@df7jal23ls0d.invalid:5070;transport=ws>"
    assert call.state.name == "CONFIRMED"
    bob_call: Call = wire.of(bob, IncomingCall)[0].call
    bob_call.hold(1.0)
    bob_call.hangup(1.0)
    wire.pump(1.0)
    opens = [(t, dest) for sender, action, t, dest, _ in wire.log if action == "open"]
    assert opens == [("WS", BOB_LISTENERS["WS"])]  # Alice's; Bob never opens one
    (alice_port,) = {dest for sender, action, _, dest, _ in wire.log if sender is bob and action == "send"}
    for method in ("INVITE ", "BYE "):
        (t, dest, req), = wire.messages(bob, method)
        assert isinstance(req, Request) and str(req.uri).startswith("sip:alice@df7jal23ls0d.invalid")
        assert (t, dest) == ("WS", alice_port)
    assert [e.reason for e in wire.of(alice, CallEnded)] == [EndReason.REMOTE_HANGUP]


def test_udp_contact_keeps_contact_address_and_other_transports_their_listener() -> None:
    # UAConfig.contact_address (a NAT's public address) is the UDP Contact; the TLS listener
    # is not behind that mapping and keeps its own address.
    wire = Wire()
    bob = _bob(wire, contact_address=("203.0.113.5", 5060))
    assert bob.contact == "<sip:bob@203.0.113.5:5060>"
    assert bob.contact_for("UDP") == bob.contact
    assert bob.contact_for("TLS") == BOB_CONTACT["TLS"]
    assert bob.contact_for("TLS", secure=True) == "<sips:bob@10.0.0.2:5061>"
    assert bob.contact_for("WSS", secure=True) == "<sips:bob@10.0.0.2:8443;transport=ws>"
    assert bob.contact_for("SCTP") == bob.contact  # no listener: the default one


def test_register_and_options_name_the_transport_they_use() -> None:
    # §10.2.1 / §8.1.1.8: the REGISTER's Contact reaches us over the transport it is sent on
    # (the registrar binds it and routes calls there); an OPTIONS answer names the request's.
    wire = Wire()
    bob = _bob(wire)
    pbx = agent(ALICE, "pbx", 7, "TLS")
    registrar = Registrar()
    pbx.serve("REGISTER", registrar)
    wire.add(pbx, ALICE, at={"TLS": ALICE, "WS": ("10.0.0.1", 8080)})
    bob.register("sip:10.0.0.1:5070;transport=tls", 0.0, expires=300)
    wire.pump(0.0)
    (t, _, register), = wire.messages(bob, "REGISTER ")
    assert t == "TLS" and _contact(register) == BOB_CONTACT["TLS"]
    assert [b.contact for b in registrar.lookup("sip:bob@10.0.0.1", 0.0)] == [BOB_CONTACT["TLS"][1:-1]]
    pbx.options("sip:bob@10.0.0.2:8080;transport=ws", 1.0)
    wire.pump(1.0)
    (t, _, ok), = wire.messages(bob, "SIP/2.0 200")[-1:]
    assert t == "WS" and _contact(ok) == BOB_CONTACT["WS"]


def test_redirect_to_another_transport_changes_the_contact() -> None:
    # §8.1.3.4: Carol (UDP) redirects Alice to Bob's TLS listener; the new INVITE goes over
    # TLS and names Alice's TLS listener, not her UDP address.
    wire = Wire()
    bob = _bob(wire)
    carol = agent(("10.0.0.3", 5060), "carol", 3)
    wire.add(carol, ("10.0.0.3", 5060))
    alice = agent(ALICE, "alice", 1)
    wire.add(alice, ALICE, at={"TLS": ("10.0.0.1", 5071)})
    alice.invite("sip:carol@10.0.0.3:5060", 0.0)
    wire.pump(0.0)
    wire.of(carol, IncomingCall)[0].call.reject(0.0, code=302, headers=[("Contact", f"<{_target('TLS')}>")])
    wire.pump(0.0)
    (t1, _, first), (t2, dest, second) = wire.messages(alice, "INVITE ")
    assert (t1, _contact(first)) == ("UDP", "<sip:alice@10.0.0.1:5070>")
    assert (t2, dest, _contact(second)) == ("TLS", BOB_LISTENERS["TLS"], "<sip:alice@10.0.0.1:5071;transport=tls>")
    assert len(wire.of(alice, CallAnswered)) == 1
