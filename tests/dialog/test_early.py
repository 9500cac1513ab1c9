"""Offer/answer before the call is answered: SDP in PRACK (RFC 3262 §5), UPDATE in early
dialogs (RFC 3311 §5.1), and INVITE Expires (RFC 3261 §13.2.1 / §13.3.1), in simulated
time with seeded loss, duplication and reordering."""

from __future__ import annotations

import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.dialog import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallProgress,
    CallResumed,
    CallState,
    EndReason,
    IncomingCall,
    MediaUpdated,
)
from rvoip_sansio.sdp import PCMA, PCMU, parse_sdp
from rvoip_sansio.sip import parse_message

from .helpers import ALICE, BOB, LOSSY, add, caps, network, of, ua
from .test_calls import sent

SEEDS = range(6)


def messages(net, src, start: bytes):  # type: ignore[no-untyped-def]
    """Distinct messages ``src`` sent whose first line starts with ``start``."""
    seen: dict[bytes, object] = {}
    for entry in net.trace:
        if entry.src == src and entry.data.startswith(start):
            seen.setdefault(entry.data, parse_message(entry.data))
    return list(seen.values())


def ringing_with_early_media(answer_after: float | None, then=None):  # type: ignore[no-untyped-def]
    """Bob: a 183 with SDP (reliable: Alice supports 100rel), answer after a while."""

    def on_event(node, event, now):  # type: ignore[no-untyped-def]
        net = node.endpoint._net
        if isinstance(event, IncomingCall):
            call = event.call
            call.ring(now, code=183, early_media=True)
            if then is not None:
                then(net, call, now)
            if answer_after is not None:
                net.at(now + answer_after, lambda t: call.answer(t) if call.state is CallState.EARLY else None)

    return on_event


def codec_of(sdp: bytes) -> list[str]:
    """The audio codecs' static payload types (telephone-event, dynamic, left out)."""
    model = parse_sdp(sdp)
    return [fmt for fmt in model.media[0].formats if int(fmt) < 96]


@pytest.mark.parametrize("seed", SEEDS)
def test_offer_in_reliable_183_answered_in_prack(seed: int) -> None:
    """INVITE without SDP; Bob offers in a reliable 183; Alice answers in the PRACK (§5);
    the 200 repeats Bob's offer and the ACK carries no SDP."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(4.0))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t, late_offer=True)))
    net.run(until=40.0)
    invites = messages(net, ALICE, b"INVITE")
    assert invites and all(inv.body == b"" for inv in invites)
    progress = of(net, "alice", CallProgress)
    assert len(progress) == 1 and progress[0].status_code == 183
    offer = progress[0].response
    assert "100rel" in offer.get("require") and offer.body.startswith(b"v=0")
    # Alice's media from her own answer: Bob's address and port.
    assert progress[0].media is not None and progress[0].media.audio.remote_address == BOB[0]
    pracks = messages(net, ALICE, b"PRACK")
    assert len(pracks) == 1 and pracks[0].get("content-type") == "application/sdp"
    answer = parse_sdp(pracks[0].body)
    assert answer.media[0].port == 40000 and answer.connection is not None
    assert answer.connection.address == ALICE[0]
    # Bob learns Alice's media from the PRACK, before the answer.
    bob_updates = of(net, "bob", MediaUpdated)
    assert bob_updates and bob_updates[0].media is not None
    assert bob_updates[0].media.audio.remote_address == ALICE[0]
    assert len(of(net, "alice", CallAnswered)) == 1 and calls[0].state is CallState.CONFIRMED
    assert len(of(net, "bob", CallAnswered)) == 1
    assert all(ack.body == b"" for ack in messages(net, ALICE, b"ACK"))
    bob_call = of(net, "bob", IncomingCall)[0].call
    assert bob_call.media is not None and bob_call.media.audio.codec.name == "PCMU"
    assert calls[0].media is not None and calls[0].media.audio.remote_address == BOB[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_offer_in_prack_answered_in_200_prack(seed: int) -> None:
    """The 183 answers Alice's offer; Alice makes a new offer (PCMA only) in the PRACK,
    Bob answers it in the 200 to the PRACK; both sides switch before the call is answered."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(4.0))
    calls = []

    def place(t: float) -> None:
        call = a.invite("sip:bob@10.0.0.2", t)
        call.offer_in_prack(caps(ALICE, codecs=(PCMA,)))
        calls.append(call)

    net.at(0.0, place)
    net.run(until=40.0)
    progress = of(net, "alice", CallProgress)
    assert len(progress) == 1 and progress[0].media is not None
    assert progress[0].media.audio.codec.name == "PCMU"  # the 183's answer to the first offer
    pracks = messages(net, ALICE, b"PRACK")
    assert len(pracks) == 1 and codec_of(pracks[0].body) == ["8"]
    ok = [m for m in messages(net, BOB, b"SIP/2.0 200") if m.cseq.method == "PRACK"]
    assert ok and codec_of(ok[0].body) == ["8"]
    first, second = parse_sdp(progress[0].sdp), parse_sdp(ok[0].body)
    assert second.origin.session_id == first.origin.session_id
    assert second.origin.session_version == first.origin.session_version + 1  # RFC 3264 §8
    alice_updates = of(net, "alice", MediaUpdated)
    assert alice_updates and alice_updates[-1].media.audio.codec.name == "PCMA"
    bob_updates = of(net, "bob", MediaUpdated)
    assert bob_updates and bob_updates[-1].media.audio.codec.name == "PCMA"
    assert len(of(net, "alice", CallAnswered)) == 1 and calls[0].media.audio.codec.name == "PCMA"
    assert of(net, "bob", IncomingCall)[0].call.media.audio.codec.name == "PCMA"


@pytest.mark.parametrize("seed", SEEDS)
def test_early_update_codec_change_by_caller(seed: int) -> None:
    """RFC 3311 §5.1: after the reliable 183's answer, Alice changes codec by UPDATE."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(8.0))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.at(3.0, lambda t: calls[0].update(t, media=caps(ALICE, codecs=(PCMA,))))
    net.run(until=40.0)
    updates = messages(net, ALICE, b"UPDATE")
    assert len(updates) == 1 and codec_of(updates[0].body) == ["8"]
    assert updates[0].to.tag  # sent in the early dialog
    alice_updates = of(net, "alice", MediaUpdated)
    assert alice_updates and alice_updates[-1].media.audio.codec.name == "PCMA"
    bob_updates = of(net, "bob", MediaUpdated)
    assert bob_updates and bob_updates[-1].media.audio.codec.name == "PCMA"
    answered = of(net, "alice", CallAnswered)
    assert len(answered) == 1 and calls[0].media.audio.codec.name == "PCMA"
    assert of(net, "bob", IncomingCall)[0].call.media.audio.codec.name == "PCMA"


@pytest.mark.parametrize("seed", SEEDS)
def test_early_hold_and_resume_by_callee_before_answer(seed: int) -> None:
    """Bob holds Alice by UPDATE (sendonly) while ringing, resumes, then answers."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)

    def plan(net_, call, now):  # type: ignore[no-untyped-def]
        net_.at(now + 3.0, lambda t: call.hold(t))
        net_.at(now + 8.0, lambda t: call.resume(t))

    add(net, "bob", BOB, b, ringing_with_early_media(14.0, plan))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=50.0)
    updates = messages(net, BOB, b"UPDATE")
    assert len(updates) == 2
    assert b"a=sendonly" in updates[0].body and b"a=sendrecv" in updates[1].body
    assert of(net, "alice", CallHeld) and of(net, "alice", CallResumed)
    kinds = [type(e).__name__ for e in net.events("alice") if isinstance(e, (CallHeld, CallResumed, CallAnswered))]
    assert kinds == ["CallHeld", "CallResumed", "CallAnswered"]
    ok = [m for m in messages(net, ALICE, b"SIP/2.0 200") if m.cseq.method == "UPDATE"]
    assert ok and b"a=recvonly" in ok[0].body  # RFC 3264 §8.4
    assert calls[0].state is CallState.CONFIRMED and not calls[0].held_by_peer


def test_early_update_before_first_exchange_is_refused() -> None:
    """No UPDATE offer before the first exchange is complete (RFC 3311 §5.1): locally an
    error; from the peer a 500 with Retry-After (§5.2)."""
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)

    def ring_plain(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, IncomingCall):
            event.call.ring(now)  # 180 without SDP: Alice's offer is still unanswered

    add(net, "bob", BOB, b, ring_plain)
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=1.0)
    assert calls[0].state is CallState.EARLY
    with pytest.raises(LocalProtocolError):
        calls[0].update(1.0)
    bob_call = of(net, "bob", IncomingCall)[0].call
    with pytest.raises(LocalProtocolError):
        bob_call.hold(1.0)
    assert calls[0].state is CallState.EARLY and bob_call.state is CallState.EARLY


def test_early_update_glare_is_491() -> None:
    """Both sides UPDATE in the early dialog at once: each answers the other 491, and the
    retries after the §14.1 back-off both complete."""
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)

    def plan(net_, call, now):  # type: ignore[no-untyped-def]
        net_.at(2.0, lambda t: call.hold(t))

    add(net, "bob", BOB, b, ringing_with_early_media(20.0, plan))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.at(2.0, lambda t: calls[0].update(t, media=caps(ALICE, codecs=(PCMA,))))
    net.run(until=40.0)
    assert sent(net, ALICE, 491) and sent(net, BOB, 491)
    assert len(messages(net, ALICE, b"UPDATE")) == 2 and len(messages(net, BOB, b"UPDATE")) == 2
    assert calls[0].state is CallState.CONFIRMED and calls[0].media.audio.codec.name == "PCMA"


@pytest.mark.parametrize("seed", range(4))
def test_invite_expires_uac_cancels(seed: int) -> None:
    """RFC 3261 §13.2.1: no final response by the INVITE's Expires: the UAC CANCELs."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(None))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t, expires=5)))
    net.run(until=60.0)
    assert messages(net, ALICE, b"INVITE")[0].get("expires") == "5"
    assert sent(net, ALICE, "CANCEL")[0] == pytest.approx(5.0)
    ended = of(net, "alice", CallEnded)
    assert len(ended) == 1 and ended[0].reason is EndReason.EXPIRED and ended[0].status_code == 487
    bob_ended = of(net, "bob", CallEnded)
    assert len(bob_ended) == 1 and bob_ended[0].reason in (EndReason.REMOTE_CANCELLED, EndReason.EXPIRED)


@pytest.mark.parametrize("seed", range(4))
def test_invite_expires_uas_answers_487(seed: int) -> None:
    """RFC 3261 §13.3.1: the invitation expires before the UAS answers: 487."""
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(None))
    calls = []
    # The Expires header only (Alice keeps no timer of her own here).
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t, headers=[("Expires", "3")])))
    net.run(until=60.0)
    received = [e.arrival for e in net.trace if e.dst == BOB and e.data.startswith(b"INVITE") and e.arrival]
    times_487 = sent(net, BOB, 487)
    assert times_487 and times_487[0] == pytest.approx(min(received) + 3.0)
    assert [e.reason for e in of(net, "bob", CallEnded)] == [EndReason.EXPIRED]
    ended = of(net, "alice", CallEnded)
    assert len(ended) == 1 and ended[0].reason is EndReason.REJECTED and ended[0].status_code == 487
    assert not sent(net, ALICE, "CANCEL")


def test_invite_expires_stops_when_answered() -> None:
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, ringing_with_early_media(1.0))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t, expires=3)))
    net.run(until=20.0)
    assert calls[0].state is CallState.CONFIRMED and not of(net, "alice", CallEnded)
    assert not sent(net, ALICE, "CANCEL") and not sent(net, BOB, 487)
    assert of(net, "bob", IncomingCall)[0].call.state is CallState.CONFIRMED
    assert PCMU.name == "PCMU"


@pytest.mark.parametrize("seed", range(4))
def test_late_offer_without_reliable_provisional_is_answered_in_the_ack(seed: int) -> None:
    """INVITE without SDP and no reliable 1xx: the offer comes in the 200, our answer in
    the ACK (RFC 3261 §13.2.1), re-sent identically with each retransmitted 200."""
    from .helpers import answering

    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t, late_offer=True)))
    net.run(until=40.0)
    acks = messages(net, ALICE, b"ACK")
    assert len(acks) == 1 and acks[0].content_type == "application/sdp"  # retransmissions identical
    assert parse_sdp(acks[0].body).connection.address == ALICE[0]
    bob_answered = of(net, "bob", CallAnswered)
    assert len(bob_answered) == 1 and bob_answered[0].media.audio.remote_address == ALICE[0]
    assert calls[0].media is not None and calls[0].media.audio.remote_address == BOB[0]
