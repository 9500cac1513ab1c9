"""Hostile and malformed input never raises out of the UserAgent (hypothesis), verbs the
call state does not allow raise LocalProtocolError before anything changes, and the
max_calls cap answers 503."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.dialog import VERBS, CallEnded, CallState, IncomingCall, MediaUpdated, Role, UAConfig, UserAgent
from rvoip_sansio.sdp import PCMA

from .helpers import ALICE, BOB, add, answering, call_of, caps, network, of, ua

SRC = ("10.0.0.9", 5060)
SDP = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")


def message(method: str, to_tag: str = "", body: bytes = b"", extra: str = "") -> bytes:
    head = (f"{method} sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK{method}1\r\n"
            f"From: <sip:x@10.0.0.9>;tag=f1\r\nTo: <sip:bob@10.0.0.2>{to_tag}\r\nCall-ID: c1\r\n"
            f"CSeq: 2 {method}\r\nContact: <sip:x@10.0.0.9>\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


SEEDS = [
    message("INVITE", body=SDP, extra="Content-Type: application/sdp\r\nSupported: 100rel, timer\r\nSession-Expires: 1800\r\n"),
    message("INVITE", body=b"v=0\r\nnot sdp", extra="Content-Type: application/sdp\r\nReplaces: a;to-tag=b;from-tag=c\r\n"),
    message("BYE", ";tag=t1"),
    message("INFO", ";tag=t1", b"Signal=5\r\nDuration=160\r\n", "Content-Type: application/dtmf-relay\r\n"),
    message("NOTIFY", ";tag=t1", b"SIP/2.0 200 OK\r\n", "Event: refer\r\nSubscription-State: terminated\r\n"),
    message("REFER", ";tag=t1", extra="Refer-To: <sip:c@10.0.0.3?Replaces=x%3Bto-tag%3Dy>\r\n"),
    message("PRACK", ";tag=t1", extra="RAck: 1 1 INVITE\r\n"),
    message("SUBSCRIBE", extra="Event: presence\r\nExpires: 60\r\n"),
    message("UPDATE", ";tag=t1", SDP, "Content-Type: application/sdp\r\n"),
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKx\r\nFrom: <sip:b@h>;tag=1\r\n"
    b"To: <sip:x@h>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@10.0.0.9>\r\nContent-Length: 0\r\n\r\n",
]


def fresh() -> UserAgent:
    agent = UserAgent(config=UAConfig(local=BOB, user="bob", media=caps(BOB), session_expires=300),
                      rng=random.Random(1))
    return agent


def drive(agent: UserAgent, datagrams: list[bytes]) -> None:
    now = 0.0
    for data in datagrams:
        agent.receive(data, SRC, now)
        agent.datagrams_to_send(now)
        while (ev := agent.next_event()) is not None:
            if isinstance(ev, IncomingCall):
                ev.call.ring(now, code=183, early_media=True)
                if ev.call.state is CallState.EARLY:  # (a bad offer was already refused 488)
                    ev.call.answer(now)
        now += 0.1
        agent.handle_timeout(now)
    agent.handle_timeout(now + 100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SEEDS), st.integers(0, 400), st.binary(max_size=8),
                          st.integers(0, 3)), min_size=1, max_size=6))
def test_mutated_messages_never_raise(cases: list[tuple[bytes, int, bytes, int]]) -> None:
    datagrams = []
    for seed, pos, junk, mode in cases:
        pos = min(pos, len(seed))
        if mode == 0:
            datagrams.append(seed[:pos] + junk + seed[pos:])
        elif mode == 1:
            datagrams.append(seed[:pos] + seed[pos + len(junk):])
        elif mode == 2:
            datagrams.append(seed[:pos] + junk + seed[pos + len(junk):])
        else:
            datagrams.append(seed)
    drive(fresh(), datagrams)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    drive(fresh(), [data, b"INVITE " + data])


def test_verbs_outside_their_states_raise_before_any_change() -> None:
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, lambda n, e, t: None)  # Bob never answers
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=1.0)
    caller, callee = calls[0], call_of(net, "bob")
    checked = 0
    for verb, allowed in VERBS.items():
        for call in (caller, callee):
            if (call.role, call.state) in allowed:
                continue
            before = (call.state, len(net.trace))
            method = getattr(call, verb)
            args = {"transfer": ("sip:x@10.0.0.3", 1.0), "accept_offer": (b"", 1.0),
                    "send_message": ("hi", 1.0)}.get(verb, (1.0,))
            with pytest.raises(LocalProtocolError, match=call.state.value):
                method(*args)
            net.run(until=1.0)
            assert (call.state, len(net.trace)) == before
            checked += 1
    assert checked >= 15
    assert (caller.role, caller.state) == (Role.UAC, CallState.CALLING)


def test_max_calls_answers_503() -> None:
    net = network()
    a = ua(ALICE, "alice", 1)
    b = ua(BOB, "bob", 2, max_calls=2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    for i in range(3):
        net.at(0.1 * i, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.run(until=5.0)
    assert len(of(net, "bob", IncomingCall)) == 2
    assert [e.status_code for e in of(net, "alice", CallEnded)] == [503]


def test_codec_change_by_reinvite() -> None:
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=1.0)
    assert calls[0].media.audio.codec.name == "PCMU"
    net.at(2.0, lambda t: calls[0].reinvite(t, media=caps(ALICE, codecs=(PCMA,))))
    net.run(until=4.0)
    assert calls[0].media.audio.codec.name == "PCMA" and calls[0].media.audio.payload_type == 8
    bob_call = call_of(net, "bob")
    assert bob_call.media.audio.codec.name == "PCMA"
    assert of(net, "bob", MediaUpdated) and bob_call.state is CallState.CONFIRMED


def test_merged_request_gets_482() -> None:
    """RFC 3261 §8.2.2.2: an INVITE forked back to us along two paths (same From tag,
    Call-ID and CSeq, another branch) is answered once; the copy gets 482."""
    net = network()
    b = ua(BOB, "bob", 2)
    add(net, "bob", BOB, b, answering())
    invite = message("INVITE", body=SDP, extra="Content-Type: application/sdp\r\n")
    net.inject(invite, SRC, BOB)
    net.inject(invite.replace(b"branch=z9hG4bKINVITE1", b"branch=z9hG4bKINVITE2"), SRC, BOB)
    net.run(until=1.0)
    from rvoip_sansio.sip import parse_message

    codes = [parse_message(e.data).status_code for e in net.trace if e.src == BOB]
    assert codes[:3] == [180, 200, 482]  # (then retransmitted: nobody ACKs)
    assert len(of(net, "bob", IncomingCall)) == 1
