"""B2BUA core in simulated time: SDP relayed, progress/answer/hangup/failure mapped both ways,
re-INVITE (hold) relayed, DTMF INFO relayed, routing to registered contacts."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio.dialog import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallProgress,
    CallResumed,
    DtmfReceived,
    EndReason,
    IncomingCall,
    UAConfig,
    UserAgent,
)
from rvoip_sansio.server import B2BUA, Registrar, route_registered, route_to
from rvoip_sansio.sip import parse_message
from tests.dialog.helpers import ALICE, BOB, LOSSY, add, answering, call_of, network, of, ua

PBX = ("10.0.0.100", 5060)


def b2bua(router=None) -> B2BUA:  # type: ignore[no-untyped-def]
    agent = UserAgent(config=UAConfig(local=PBX, user="pbx"), rng=random.Random(99))
    return B2BUA(ua=agent, router=router or route_to(BOB))


def topology(bob_app=None, link=None, seed=0):  # type: ignore[no-untyped-def]
    net = network(link, seed)
    a, b, pbx = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2), b2bua()
    add(net, "alice", ALICE, a)
    add(net, "pbx", PBX, pbx)
    add(net, "bob", BOB, b, bob_app if bob_app is not None else answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.100", t, headers=[("X-Account", "42")])))
    return net, a, b, pbx, calls


@pytest.mark.parametrize("seed", range(6))
def test_call_bridged_and_hung_up(seed: int) -> None:
    net, a, b, pbx, calls = topology(link=LOSSY if seed else None, seed=seed)
    net.run(until=10.0)
    alice_call, bob_call = calls[0], call_of(net, "bob")
    progress = [e.status_code for e in of(net, "alice", CallProgress)]
    assert progress == [180] or (seed and progress == [])  # (a 180 may be lost for good)
    assert len(of(net, "alice", CallAnswered)) == 1
    # Bob got Alice's SDP offer verbatim and Alice got Bob's answer: media flows end to end.
    assert bob_call.remote_sdp == alice_call.local_sdp
    assert alice_call.media.audio.remote_address == "10.0.0.2"
    incoming = of(net, "bob", IncomingCall)[0].request
    assert incoming.get("x-account") == "42" and incoming.call_id != alice_call.call_id
    net.at(12.0, lambda t: bob_call.hangup(t))
    net.run(until=60.0)
    assert of(net, "alice", CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert pbx.active_bridges == 0 and pbx.ua.active_calls == 0


def test_failure_mapped_back_to_the_caller() -> None:
    net, a, b, pbx, calls = topology(bob_app=lambda n, e, t: e.call.reject(t, code=486)
                                     if isinstance(e, IncomingCall) else None)
    net.run(until=10.0)
    ended = of(net, "alice", CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.REJECTED, 486)


def test_caller_cancel_cancels_leg_b() -> None:
    net, a, b, pbx, calls = topology(bob_app=lambda n, e, t: e.call.ring(t) if isinstance(e, IncomingCall) else None)
    net.run(until=2.0)
    net.at(3.0, lambda t: calls[0].hangup(t))
    net.run(until=20.0)
    assert of(net, "alice", CallEnded)[0].reason is EndReason.CANCELLED
    assert of(net, "bob", CallEnded)[0].reason is EndReason.REMOTE_CANCELLED


def test_reinvite_hold_relayed_both_ways_and_dtmf() -> None:
    net, a, b, pbx, calls = topology()
    net.run(until=2.0)
    alice_call, bob_call = calls[0], call_of(net, "bob")
    net.at(3.0, lambda t: alice_call.hold(t))
    net.run(until=6.0)
    assert len(of(net, "bob", CallHeld)) == 1
    net.at(7.0, lambda t: alice_call.resume(t))
    net.at(10.0, lambda t: bob_call.hold(t))
    net.at(12.0, lambda t: alice_call.send_dtmf_info("7", t))
    net.run(until=15.0)
    assert len(of(net, "bob", CallResumed)) == 1 and len(of(net, "alice", CallHeld)) == 1
    assert [d.digit for d in of(net, "bob", DtmfReceived)] == ["7"]
    reinvites = [parse_message(e.data) for e in net.trace if e.src == PBX and e.data.startswith(b"INVITE")]
    assert len(reinvites) == 4  # leg B initial, hold, resume; leg A Bob's hold


def test_route_to_registered_contact() -> None:
    net = network()
    registrar = Registrar()
    pbx = b2bua(route_registered(registrar))
    pbx.ua.serve("REGISTER", registrar)
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "pbx", PBX, pbx)
    add(net, "bob", BOB, b, answering())
    net.at(0.0, lambda t: b.register("sip:10.0.0.100", t, expires=600))
    net.at(1.0, lambda t: a.invite("sip:bob@10.0.0.100", t))
    net.at(2.0, lambda t: a.invite("sip:nobody@10.0.0.100", t))
    net.run(until=5.0)
    assert len(of(net, "bob", IncomingCall)) == 1 and len(of(net, "alice", CallAnswered)) == 1
    assert [e.status_code for e in of(net, "alice", CallEnded)] == [404]


def test_outbound_proxy_route_and_drain() -> None:
    """Every out-of-dialog request goes through the outbound proxy (a loose Route); a
    draining UA refuses new calls with 503 while the running one goes on."""
    net = network()
    a = UserAgent(config=UAConfig(local=ALICE, user="alice", media=ua(ALICE, "x", 0).config.media,
                                  outbound_proxy="sip:10.0.0.100"), rng=random.Random(1))
    b, pbx = ua(BOB, "bob", 2), b2bua()
    add(net, "alice", ALICE, a)
    add(net, "pbx", PBX, pbx)
    add(net, "bob", BOB, b, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=2.0)
    first = next(e for e in net.trace if e.src == ALICE)
    invite = parse_message(first.data)
    assert first.dst == PBX and invite.get("route") == "<sip:10.0.0.100;lr>"
    assert invite.uri_text == "sip:bob@10.0.0.2" and len(of(net, "alice", CallAnswered)) == 1
    b.drain()
    net.at(3.0, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.run(until=6.0)
    assert [e.status_code for e in of(net, "alice", CallEnded)] == [503]
    assert calls[0].is_active and b.active_calls == 1
