"""The B2BUA behind listeners on distinct ports (UDP and TCP 5060, TLS 5061, WS 8080), in
memory: a TLS caller and a WebSocket caller bridged to a UDP callee, hung up from each side.

Leg A's 180/200 must carry a Contact for the transport the INVITE came in on (RFC 3261
§12.1.1 / §18), so the caller's ACK and BYE reach the TLS or WS listener; before the fix the
B2BUA answered ``sip:pbx@10.0.0.100:5060`` and those went over TLS/WS to port 5060. The WS
caller is a browser-like client (RFC 7118 §5): no listener, an ``.invalid`` Contact, so the
B2BUA's BYE to it must use the connection it came in on.
"""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import Address
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, EndReason, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.server import B2BUA, Registrar, route_registered
from rvoip_sansio.sip import Request, Response
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig
from tests.dialog.helpers import caps
from tests.dialog.test_register import digest
from tests.dialog.wire import Wire

ALICE: Address = ("10.0.0.1", 5070)
BOB: Address = ("10.0.0.2", 5060)
CAROL: Address = ("10.0.0.3", 5070)
PBX: Address = ("10.0.0.100", 5060)
PBX_LISTENERS: dict[str, Address] = {"TCP": ("10.0.0.100", 5060), "TLS": ("10.0.0.100", 5061),
                                     "WS": ("10.0.0.100", 8080)}
PBX_CONTACT = {"TLS": "<sip:pbx@10.0.0.100:5061;transport=tls>", "WS": "<sip:pbx@10.0.0.100:8080;transport=ws>"}
INVALID = "k8f2xq1w.invalid"


def _phone(local: Address, user: str, seed: int, transport: str, **kw: object) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      credentials=(Credentials(username=user, password="s3cret"),), **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


def _setup() -> tuple[Wire, UserAgent, UserAgent, UserAgent, B2BUA, Registrar]:
    wire = Wire()
    registrar = Registrar(auth=digest(users={"alice": "s3cret", "bob": "s3cret", "carol": "s3cret"}))
    agent = UserAgent(config=UAConfig(local=PBX, user="pbx", media=None), rng=random.Random(9))
    agent.serve("REGISTER", registrar)
    pbx = B2BUA(ua=agent, router=route_registered(registrar))
    alice = _phone(ALICE, "alice", 1, "TLS")
    bob = _phone(BOB, "bob", 2, "UDP")
    carol = _phone(CAROL, "carol", 3, "WS", contact_address=(INVALID, 5070))
    wire.add(pbx, PBX, at=PBX_LISTENERS)
    wire.add(alice, ALICE, "TLS")
    wire.add(bob, BOB)
    wire.add(carol, CAROL, "WS", accepts=False)  # a WebSocket client accepts nothing
    alice.register("sip:10.0.0.100:5061;transport=tls", 0.0, expires=300)
    bob.register("sip:10.0.0.100:5060", 0.0, expires=300)
    carol.register("sip:10.0.0.100:8080;transport=ws", 0.0, expires=300)
    wire.pump(0.0)
    for ua in (alice, bob, carol):
        assert [e.state for e in wire.of(ua, RegistrationChanged)] == [RegistrationState.REGISTERED]
    assert [b.contact for b in registrar.lookup("sip:alice@10.0.0.100", 0.0)] == [
        "sip:alice@10.0.0.1:5070;transport=tls"]
    return wire, alice, bob, carol, pbx, registrar


@pytest.mark.parametrize("who_hangs_up", ["caller", "bob"])
@pytest.mark.parametrize("transport", ["TLS", "WS"])
def test_tls_and_ws_callers_bridged_to_a_udp_callee(transport: str, who_hangs_up: str) -> None:
    wire, alice, bob, carol, pbx, _ = _setup()
    caller = alice if transport == "TLS" else carol
    listener = PBX_LISTENERS[transport]
    call = caller.invite(f"sip:bob@{listener[0]}:{listener[1]};transport={transport.lower()}", 1.0)
    wire.pump(1.0)
    bob_call: Call = wire.of(bob, IncomingCall)[0].call
    bob_call.ring(1.0)
    wire.pump(1.0)
    bob_call.answer(1.0)
    wire.pump(1.0)
    assert len(wire.of(caller, CallAnswered)) == 1
    (leg_b_transport, _, _), = wire.messages(pbx, "INVITE ")
    assert leg_b_transport == "UDP"
    # Leg A's answers name the listener of the caller's transport, and the ACK goes there.
    leg_a = [(t, m) for t, _, m in wire.messages(pbx, "SIP/2.0 ") if isinstance(m, Response)
             and m.cseq.method == "INVITE"]
    assert [(t, m.status_code) for t, m in leg_a] == [(transport, 180), (transport, 200)]
    assert {m.get("contact") for _, m in leg_a} == {PBX_CONTACT[transport]}
    (ack_transport, ack_dest, _), = wire.messages(caller, "ACK ")
    assert (ack_transport, ack_dest) == (transport, listener)

    (call if who_hangs_up == "caller" else bob_call).hangup(2.0)
    wire.pump(2.0)
    if who_hangs_up == "caller":
        (t, dest, _), = wire.messages(caller, "BYE ")
        assert (t, dest) == (transport, listener)
        assert [t for t, _, _ in wire.messages(pbx, "BYE ")] == ["UDP"]
    else:
        (t, dest, bye), = wire.messages(pbx, "BYE ")
        assert t == transport and isinstance(bye, Request)
        if transport == "TLS":
            # Alice's Contact is her TLS listener on the host her connection comes from: the
            # BYE reuses that connection (docs/transports.md, "Flows"); nothing is opened.
            (conn,) = {s.dest for s in wire.log if s.sender is pbx and s.transport == "TLS"}
            assert dest == conn and dest[0] == ALICE[0]
            assert not [s for s in wire.log if s.sender is pbx and s.action == "open"]
        else:
            # Carol's Contact is .invalid: the BYE takes the connection her INVITE came on.
            assert str(bye.uri).startswith(f"sip:carol@{INVALID}")
            (conn,) = {s.dest for s in wire.log if s.sender is pbx and s.transport == "WS"}
            assert dest == conn and dest[0] == CAROL[0]
    remote = caller if who_hangs_up == "bob" else bob
    assert [e.reason for e in wire.of(remote, CallEnded)] == [EndReason.REMOTE_HANGUP]
    assert pbx.active_bridges == 0 and pbx.bridged == 1
