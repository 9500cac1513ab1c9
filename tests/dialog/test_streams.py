"""UserAgent on connection-oriented transports, in memory (no sockets): a call and a REGISTER
with digest over TCP, and a call whose INVITE takes TCP on a UA whose default is UDP (the ACK
for the 2xx must follow the INVITE's transport, RFC 3261 §13.2.2.4 / §18.1.1)."""

from __future__ import annotations

import random

from rvoip_sansio import Address
from rvoip_sansio.dialog import (CallAnswered, CallEnded, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import Request
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig

from .helpers import caps
from .test_register import digest
from .wire import Wire


def _requests(wire: Wire, ua: UserAgent, method: str) -> list[tuple[tuple[str, Address], Request]]:
    """((transport, dest), request) for each ``method`` request ``ua`` sent."""
    out = []
    for transport, dest, msg in wire.messages(ua, method + " "):
        assert isinstance(msg, Request)
        out.append(((transport, dest), msg))
    return out


def _datagrams(wire: Wire) -> list[bytes]:
    return [s.data for s in wire.log if s.action == "datagram"]

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)


def agent(local: Address, user: str, seed: int, transport: str, **kw: object) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


def _call(wire: Wire, alice: UserAgent, bob: UserAgent, target: str) -> None:
    call = alice.invite(target, 0.0)
    wire.pump(0.0)
    assert [type(e) for e in wire.of(alice, CallAnswered)] == [CallAnswered]
    (invite_t, invite), = _requests(wire, alice, "INVITE")
    (ack_t, ack), = _requests(wire, alice, "ACK")
    # §13.2.2.4 / §18.1.1: the ACK goes on the INVITE's connection with its transport in Via.
    assert ack_t == invite_t == ("TCP", BOB)
    assert ack.via[0].transport == invite.via[0].transport == "TCP"
    assert (ack.via[0].host, ack.via[0].port) == (invite.via[0].host, invite.via[0].port)
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    call.hangup(1.0)
    wire.pump(1.0)
    (bye_t, bye), = _requests(wire, alice, "BYE")
    assert bye_t[0] == "TCP" and bye.via[0].transport == "TCP"
    assert [e.call_id for e in wire.of(alice, CallEnded)] == [call.call_id]
    assert [e.call_id for e in wire.of(bob, CallEnded)] == [call.call_id]
    assert _datagrams(wire) == []  # nothing fell back to UDP


def _two(alice_default: str) -> tuple[Wire, UserAgent, UserAgent]:
    wire = Wire()
    alice, bob = agent(ALICE, "alice", 1, alice_default), agent(BOB, "bob", 2, "TCP")
    wire.add(alice, ALICE, "TCP", answers=True)
    wire.add(bob, BOB, "TCP", answers=True)
    _call(wire, alice, bob, "sip:bob@10.0.0.2:5060;transport=tcp")
    return wire, alice, bob


def test_call_over_tcp() -> None:
    wire, _, bob = _two("TCP")
    offer = wire.of(bob, IncomingCall)[0].offer
    # IncomingCall.offer is the caller's SDP, parsed: Alice's audio port and address.
    assert offer is not None and offer.media[0].port == 40000
    assert offer.connection is not None and offer.connection.address == ALICE[0]


def test_call_over_tcp_from_a_udp_default_ua() -> None:
    # Alice's default transport is UDP; the Request-URI asks for TCP. Before the fix the ACK
    # said SIP/2.0/UDP in its Via and left as a datagram.
    _two("UDP")


def test_register_with_digest_over_tcp() -> None:
    wire = Wire()
    alice = agent(ALICE, "alice", 5, "TCP", credentials=(Credentials(username="alice", password="s3cret"),))
    pbx = UserAgent(config=UAConfig(local=BOB, user="pbx", endpoint=EndpointConfig(transport="TCP")),
                    rng=random.Random(6))
    registrar = Registrar(auth=digest())
    pbx.serve("REGISTER", registrar)
    wire.add(alice, ALICE, "TCP", answers=True)
    wire.add(pbx, BOB, "TCP", answers=True)
    alice.register("sip:10.0.0.2:5060;transport=tcp", 0.0, expires=300)
    wire.pump(0.0)
    sent = _requests(wire, alice, "REGISTER")
    assert [t[0] for t, _ in sent] == ["TCP", "TCP"]
    assert "authorization" not in sent[0][1] and "authorization" in sent[1][1]  # 401, then credentials
    assert [(e.state, e.expires) for e in wire.of(alice, RegistrationChanged)] == [
        (RegistrationState.REGISTERED, 300)]
    bindings = registrar.lookup("sip:alice@10.0.0.2", 0.0)
    assert [b.contact for b in bindings] == ["sip:alice@10.0.0.1:5060;transport=tcp"]
    assert _datagrams(wire) == []
