"""The B2BUA as a StreamCore, in memory: Alice registers and calls over TCP, Bob registers
over UDP; the INVITE reaches Bob as a datagram, the answer goes back to Alice on her TCP
connection, and a BYE from either side crosses the transports (RFC 3261 §18: responses on the
request's connection, requests over the transport of the target URI)."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import Address
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, EndReason, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.server import B2BUA, Registrar, route_registered
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig
from tests.dialog.helpers import caps
from tests.dialog.test_register import digest
from tests.dialog.wire import Wire

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)
PBX: Address = ("10.0.0.100", 5060)


def _phone(local: Address, user: str, seed: int, transport: str) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      credentials=(Credentials(username=user, password="s3cret"),))
    return UserAgent(config=config, rng=random.Random(seed))


def _setup() -> tuple[Wire, UserAgent, UserAgent, B2BUA, Registrar]:
    wire = Wire()
    registrar = Registrar(auth=digest(users={"alice": "s3cret", "bob": "s3cret"}))
    agent = UserAgent(config=UAConfig(local=PBX, user="pbx", media=None), rng=random.Random(9))
    agent.serve("REGISTER", registrar)
    pbx = B2BUA(ua=agent, router=route_registered(registrar))
    alice, bob = _phone(ALICE, "alice", 1, "TCP"), _phone(BOB, "bob", 2, "UDP")
    wire.add(pbx, PBX, "TCP")
    wire.add(alice, ALICE, "TCP")
    wire.add(bob, BOB, answers=True)
    alice.register("sip:10.0.0.100:5060;transport=tcp", 0.0, expires=300)
    bob.register("sip:10.0.0.100:5060", 0.0, expires=300)
    wire.pump(0.0)
    for ua in (alice, bob):
        assert [e.state for e in wire.of(ua, RegistrationChanged)] == [RegistrationState.REGISTERED]
    assert [b.contact for b in registrar.lookup("sip:alice@10.0.0.100", 0.0)] == [
        "sip:alice@10.0.0.1:5060;transport=tcp"]
    assert [b.contact for b in registrar.lookup("sip:bob@10.0.0.100", 0.0)] == ["sip:bob@10.0.0.2:5060"]
    return wire, alice, bob, pbx, registrar


@pytest.mark.parametrize("who_hangs_up", ["alice", "bob"])
def test_tcp_caller_bridged_to_udp_callee(who_hangs_up: str) -> None:
    wire, alice, bob, pbx, _ = _setup()
    call = alice.invite("sip:bob@10.0.0.100:5060;transport=tcp", 1.0)
    wire.pump(1.0)
    assert len(wire.of(alice, CallAnswered)) == 1
    # Leg A's INVITE came over TCP (answered on that connection); leg B left as a datagram.
    assert [t for t, _ in wire.sent(alice, "INVITE")] == ["TCP"]
    (leg_b_transport, leg_b), = wire.sent(pbx, "INVITE")
    assert leg_b_transport == "UDP" and leg_b.via[0].transport == "UDP"
    assert leg_b.body == call.local_sdp  # SDP relayed verbatim
    assert call.remote_sdp == wire.of(bob, IncomingCall)[0].call.local_sdp
    assert [t for t, _ in wire.sent(alice, "ACK")] == ["TCP"]
    assert [t for t, _ in wire.sent(pbx, "ACK")] == ["UDP"]
    bob_call: Call = wire.of(bob, IncomingCall)[0].call
    (call if who_hangs_up == "alice" else bob_call).hangup(2.0)
    wire.pump(2.0)
    byes = {t for t, _ in wire.sent(pbx, "BYE")}
    assert byes == ({"UDP"} if who_hangs_up == "alice" else {"TCP"})
    ended = {id(ua): [e.reason for e in wire.of(ua, CallEnded)] for ua in (alice, bob)}
    remote = alice if who_hangs_up == "bob" else bob
    assert ended[id(remote)] == [EndReason.REMOTE_HANGUP]
    assert pbx.active_bridges == 0 and pbx.bridged == 1


def test_call_from_udp_to_a_tcp_registered_user_opens_a_connection() -> None:
    wire, alice, bob, pbx, _ = _setup()
    bob.invite("sip:alice@10.0.0.100:5060", 1.0)
    wire.answer.add(id(alice))
    wire.pump(1.0)
    assert len(wire.of(bob, CallAnswered)) == 1
    (transport, leg_b), = wire.sent(pbx, "INVITE")
    # Alice's Contact says ;transport=tcp: the PBX opens a connection to her listener.
    assert transport == "TCP" and str(leg_b.uri) == "sip:alice@10.0.0.1:5060;transport=tcp"
    assert pbx.bridged == 1
