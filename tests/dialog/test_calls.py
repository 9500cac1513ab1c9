"""Calls between user agents in simulated time: setup, hangup, CANCEL, reject, 2xx
retransmission, loss, hold/resume, glare, OPTIONS, INFO, MESSAGE."""

from __future__ import annotations

import pytest

from rvoip_sansio.dialog import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallProgress,
    CallResumed,
    CallState,
    DtmfReceived,
    EndReason,
    IncomingCall,
    MediaUpdated,
    MessageReceived,
    RequestCompleted,
)
from rvoip_sansio.sdp import Direction
from rvoip_sansio.sim import Fate, LinkConfig
from rvoip_sansio.sip import parse_message

from .helpers import ALICE, BOB, CAROL, LOSSY, add, answering, call_of, kinds, network, of, ua


def sent(net, src, method_or_code):  # type: ignore[no-untyped-def]
    """Times at which ``src`` put a request ``method`` (or a response ``code``) on the wire."""
    out = []
    for entry in net.trace:
        if entry.src != src:
            continue
        msg = parse_message(entry.data)
        if isinstance(method_or_code, int):
            if getattr(msg, "status_code", None) == method_or_code:
                out.append(entry.sent)
        elif getattr(msg, "method", None) == method_or_code:
            out.append(entry.sent)
    return out


def setup_call(link=None, seed=0, *, bob_app=None, alice_kw=None, bob_kw=None):  # type: ignore[no-untyped-def]
    net = network(link, seed)
    a = ua(ALICE, "alice", seed + 1, **(alice_kw or {}))
    b = ua(BOB, "bob", seed + 2, **(bob_kw or {}))
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, bob_app if bob_app is not None else answering())
    holder: dict[str, object] = {}
    net.at(0.0, lambda t: holder.setdefault("call", a.invite("sip:bob@10.0.0.2", t)))
    return net, a, b, holder


def test_call_answered_and_hung_up_by_caller() -> None:
    net, a, b, holder = setup_call()
    net.run(until=1.0)
    call = holder["call"]
    assert call.state is CallState.CONFIRMED
    assert kinds(net, "alice") == ["CallProgress", "CallAnswered"]
    assert kinds(net, "bob") == ["IncomingCall", "CallAnswered"]
    # The negotiated media names Bob's RTP address, PCMU and the telephone-event type.
    audio = call.media.audio
    assert (audio.remote_address, audio.remote_port, audio.payload_type) == ("10.0.0.2", 40000, 0)
    assert audio.telephone_event_pt is not None and audio.direction is Direction.SENDRECV
    net.at(2.0, lambda t: call.hangup(t))
    net.run(until=60)
    assert of(net, "alice", CallEnded)[0].reason is EndReason.LOCAL_HANGUP
    assert of(net, "bob", CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert sent(net, ALICE, "BYE") == [2.0] and sent(net, BOB, 200)[-1] == pytest.approx(2.01)
    assert a.active_calls == b.active_calls == 0 and not a.calls and not b.calls


def test_callee_hangs_up() -> None:
    net, a, b, holder = setup_call()
    net.run(until=1.0)
    bob_call = call_of(net, "bob")
    net.at(3.0, lambda t: bob_call.hangup(t))
    net.run(until=60)
    assert of(net, "alice", CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert of(net, "bob", CallEnded)[0].reason is EndReason.LOCAL_HANGUP
    # Bob's BYE is an in-dialog request to Alice's Contact with the dialog's tags (§12.2.1.1).
    bye = parse_message(next(e.data for e in net.trace if e.src == BOB and e.data.startswith(b"BYE")))
    assert bye.uri_text == "sip:alice@10.0.0.1:5060"
    assert bye.from_.tag == bob_call.dialog.local_tag and bye.to.tag == bob_call.dialog.remote_tag


def test_reject_486() -> None:
    net, a, b, holder = setup_call(bob_app=lambda n, e, t: e.call.reject(t) if isinstance(e, IncomingCall) else None)
    net.run(until=60)
    ended = of(net, "alice", CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.REJECTED, 486)
    assert sent(net, ALICE, "ACK") == [pytest.approx(0.02)]  # the transaction ACKs the 486
    assert a.active_calls == b.active_calls == 0


def test_cancel_before_answer() -> None:
    def ring_only(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, IncomingCall):
            event.call.ring(now)

    net, a, b, holder = setup_call(bob_app=ring_only)
    net.run(until=1.0)
    assert of(net, "alice", CallProgress)[0].status_code == 180
    net.at(2.0, lambda t: holder["call"].hangup(t))
    net.run(until=60)
    assert sent(net, ALICE, "CANCEL") == [2.0]
    alice_end, bob_end = of(net, "alice", CallEnded)[0], of(net, "bob", CallEnded)[0]
    assert (alice_end.reason, alice_end.status_code) == (EndReason.CANCELLED, 487)
    assert bob_end.reason is EndReason.REMOTE_CANCELLED


def test_2xx_retransmitted_until_ack_then_bye_after_64_t1() -> None:
    """RFC 3261 §13.3.1.4: the 2xx goes out at T1, 2T1, ... capped at T2 until an ACK;
    64*T1 without one and the callee ends the session with a BYE."""
    net, a, b, holder = setup_call()
    net.at(0.015, lambda t: net.set_link(ALICE, BOB, LinkConfig(loss=1.0), both_ways=False))
    net.run(until=60)
    times = sent(net, BOB, 200)
    assert times == pytest.approx([0.01, 0.51, 1.51, 3.51, 7.51, 11.51, 15.51, 19.51, 23.51, 27.51, 31.51])
    assert sent(net, BOB, "BYE")[0] == pytest.approx(32.01)  # (then retransmitted: no route back)
    assert of(net, "bob", CallEnded)[0].reason is EndReason.TIMEOUT


@pytest.mark.parametrize("seed", range(12))
def test_call_under_loss_duplication_and_reordering(seed: int) -> None:
    net, a, b, holder = setup_call(LOSSY, seed)
    net.at(10.0, lambda t: holder["call"].hangup(t) if holder["call"].is_active else None)
    net.run(until=120)
    assert kinds(net, "alice") [-2:] == ["CallAnswered", "CallEnded"], net.ladder()
    assert of(net, "alice", CallEnded)[0].reason is EndReason.LOCAL_HANGUP
    assert of(net, "bob", CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert len(of(net, "bob", IncomingCall)) == 1 and len(of(net, "bob", CallAnswered)) == 1
    assert a.active_calls == b.active_calls == 0


def established(link=None, seed=0, **kw):  # type: ignore[no-untyped-def]
    net, a, b, holder = setup_call(link, seed, **kw)
    net.run(until=1.0)
    return net, a, b, holder["call"], call_of(net, "bob")


def test_hold_and_resume() -> None:
    net, a, b, alice_call, bob_call = established()
    net.at(2.0, lambda t: alice_call.hold(t))
    net.run(until=5.0)
    assert len(of(net, "bob", CallHeld)) == 1 and bob_call.held_by_peer
    # Alice offered sendonly; Bob answered recvonly (RFC 3264 §8.4).
    assert alice_call.media.audio.direction is Direction.SENDONLY
    assert bob_call.media.audio.direction is Direction.RECVONLY
    assert of(net, "alice", MediaUpdated)[-1].media.audio.remote_direction is Direction.RECVONLY
    net.at(6.0, lambda t: alice_call.resume(t))
    net.run(until=9.0)
    assert len(of(net, "bob", CallResumed)) == 1 and not bob_call.held_by_peer
    assert alice_call.media.audio.direction is Direction.SENDRECV
    assert alice_call.state is bob_call.state is CallState.CONFIRMED
    assert sent(net, ALICE, "INVITE") == [0.0, 2.0, 6.0]


@pytest.mark.parametrize("seed", range(4))
def test_hold_resume_under_loss(seed: int) -> None:
    net, a, b, holder = setup_call(LOSSY, seed)
    net.run(until=10.0)
    alice_call, bob_call = holder["call"], call_of(net, "bob")
    net.at(12.0, lambda t: alice_call.hold(t))
    net.at(30.0, lambda t: alice_call.resume(t))
    net.run(until=60.0)
    assert [type(e).__name__ for e in net.events("bob") if isinstance(e, (CallHeld, CallResumed))] == [
        "CallHeld", "CallResumed"]
    assert alice_call.state is CallState.CONFIRMED


def test_glare_answered_491_and_retried_after_backoff() -> None:
    net, a, b, alice_call, bob_call = established()
    net.at(2.0, lambda t: alice_call.hold(t))
    net.at(2.0, lambda t: bob_call.hold(t))
    net.run(until=20.0)
    assert len(sent(net, ALICE, 491)) == 1 and len(sent(net, BOB, 491)) == 1
    alice_invites, bob_invites = sent(net, ALICE, "INVITE"), sent(net, BOB, "INVITE")
    # §14.1: Alice owns the Call-ID: 2.1-4 s; Bob: 0-2 s after the 491.
    assert 2.1 <= alice_invites[-1] - 2.02 <= 4.0 and len(alice_invites) == 3
    assert 0.0 <= bob_invites[-1] - 2.02 <= 2.0 and len(bob_invites) == 2
    assert bob_call.held_by_peer and alice_call.held_by_peer
    assert alice_call.state is bob_call.state is CallState.CONFIRMED


def test_options_mid_call_never_disturbs_it() -> None:
    net, a, b, alice_call, bob_call = established()
    carol = ua(CAROL, "carol", 9)
    add(net, "carol", CAROL, carol)
    handles = {}
    net.at(2.0, lambda t: handles.setdefault("out", carol.options("sip:bob@10.0.0.2", t)))
    net.at(2.5, lambda t: handles.setdefault("in", a._send_in_dialog(alice_call, "OPTIONS", t, [], b"")))
    net.run(until=10.0)
    assert [e.status_code for e in of(net, "carol", RequestCompleted)] == [200]
    assert [e.status_code for e in of(net, "alice", RequestCompleted)] == [200]
    assert kinds(net, "bob") == ["IncomingCall", "CallAnswered"]
    assert bob_call.state is CallState.CONFIRMED
    ok = parse_message(next(e.data for e in net.trace if e.src == BOB and e.dst == CAROL))
    assert "INVITE" in ok.get("allow") and ok.get("accept") == "application/sdp"


def test_dtmf_by_info_both_ways() -> None:
    net, a, b, alice_call, bob_call = established()
    for i, digit in enumerate("12#"):
        net.at(2.0 + i, lambda t, d=digit: alice_call.send_dtmf_info(d, t, duration_ms=200))
    net.at(6.0, lambda t: bob_call.send_dtmf_info("*", t))
    net.run(until=10.0)
    assert [(e.digit, e.duration_ms) for e in of(net, "bob", DtmfReceived)] == [("1", 200), ("2", 200), ("#", 200)]
    assert [e.digit for e in of(net, "alice", DtmfReceived)] == ["*"]
    info = parse_message(next(e.data for e in net.trace if e.data.startswith(b"INFO")))
    assert info.content_type == "application/dtmf-relay" and info.body == b"Signal=1\r\nDuration=200\r\n"


def test_message_in_and_out_of_dialog() -> None:
    net, a, b, alice_call, bob_call = established()
    net.at(2.0, lambda t: a.send_message("sip:bob@10.0.0.2", "hello", t))
    net.at(3.0, lambda t: bob_call.send_message("in call", t))
    net.run(until=10.0)
    got = of(net, "bob", MessageReceived)
    assert [(m.body, m.call) for m in got] == [(b"hello", None)]
    assert [(m.body, m.call is alice_call) for m in of(net, "alice", MessageReceived)] == [(b"in call", True)]
    assert [e.status_code for e in of(net, "alice", RequestCompleted)] == [200]


def test_unknown_dialog_gets_481_and_unknown_method_501() -> None:
    net, a, b, alice_call, bob_call = established()
    bye = (b"BYE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKx1\r\n"
           b"From: <sip:x@10.0.0.9>;tag=1\r\nTo: <sip:bob@10.0.0.2>;tag=nope\r\nCall-ID: nope\r\n"
           b"CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    net.inject(bye, ("10.0.0.9", 5060), BOB)
    net.inject(bye.replace(b"BYE", b"FOO").replace(b";tag=nope", b""), ("10.0.0.9", 5060), BOB)
    net.run(until=5.0)
    codes = [parse_message(e.data).status_code for e in net.trace if e.src == BOB and e.dst[0] == "10.0.0.9"]
    assert codes == [481, 501]
    assert bob_call.state is CallState.CONFIRMED


def test_invite_times_out_without_answer() -> None:
    net, a, b, holder = setup_call()
    net.set_link(ALICE, BOB, LinkConfig(loss=1.0), both_ways=False)
    net.run(until=60)
    assert sent(net, ALICE, "INVITE") == pytest.approx([0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5])
    ended = of(net, "alice", CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.TIMEOUT, 408)
    assert all(e.fate is Fate.LOST for e in net.trace if e.src == ALICE)


def ring_then_answer_at(when: float):  # type: ignore[no-untyped-def]
    def on_event(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, IncomingCall):
            call = event.call
            call.ring(now)
            node.endpoint._net.at(when, lambda t: call.answer(t) if call.state is CallState.EARLY else None)

    return on_event


def test_cancel_crossing_the_200() -> None:
    """The caller cancels while the callee's 200 is on the wire: the 200 wins (the CANCEL
    gets 200, no 487), the caller ACKs it and hangs up with a BYE (RFC 3261 §9.1, §15)."""
    net, a, b, holder = setup_call(bob_app=ring_then_answer_at(2.0))
    net.at(2.005, lambda t: holder["call"].hangup(t))
    net.run(until=60)
    assert sent(net, ALICE, "CANCEL") == [2.005] and sent(net, BOB, 487) == []
    assert sent(net, ALICE, "ACK") and sent(net, ALICE, "BYE") == [pytest.approx(2.01)]
    assert of(net, "alice", CallEnded)[0].reason is EndReason.LOCAL_HANGUP
    assert of(net, "bob", CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert a.active_calls == b.active_calls == 0


@pytest.mark.parametrize("seed", range(10))
def test_cancel_races_under_loss(seed: int) -> None:
    net, a, b, holder = setup_call(LOSSY, seed, bob_app=ring_then_answer_at(3.0))
    net.at(3.0, lambda t: holder["call"].hangup(t) if holder["call"].is_active else None)
    net.run(until=120)
    alice_end, bob_end = of(net, "alice", CallEnded), of(net, "bob", CallEnded)
    assert len(alice_end) == len(bob_end) == 1, net.ladder()
    # Either the CANCEL won (487) or the 200 did (then ACK and BYE): both ends agree.
    if alice_end[0].reason is EndReason.CANCELLED:
        assert bob_end[0].reason is EndReason.REMOTE_CANCELLED
    else:
        assert (alice_end[0].reason, bob_end[0].reason) == (EndReason.LOCAL_HANGUP, EndReason.REMOTE_HANGUP)
    assert a.active_calls == b.active_calls == 0


def test_hangup_before_any_provisional_waits_for_one() -> None:
    """§9.1: a CANCEL may only follow a provisional response; it goes out when one arrives."""
    net, a, b, holder = setup_call(bob_app=lambda n, e, t: None)
    net.set_link(BOB, ALICE, LinkConfig(loss=1.0), both_ways=False)  # Bob's 100 Trying is lost
    net.at(0.1, lambda t: holder["call"].hangup(t))
    net.at(0.5, lambda t: net.set_link(BOB, ALICE, LinkConfig(), both_ways=False))
    net.run(until=60)
    cancels = sent(net, ALICE, "CANCEL")
    assert cancels and cancels[0] > 0.5
    assert of(net, "alice", CallEnded)[0].reason is EndReason.CANCELLED


def test_302_redirect_followed() -> None:
    net = network()
    a, b, c = ua(ALICE, "alice", 1), ua(BOB, "bob", 2), ua(CAROL, "carol", 3)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, lambda n, e, t: e.call.reject(
        t, code=302, headers=[("Contact", "<sip:carol@10.0.0.3>")]) if isinstance(e, IncomingCall) else None)
    add(net, "carol", CAROL, c, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=5.0)
    assert calls[0].state is CallState.CONFIRMED and calls[0].dialog.remote_target == "sip:carol@10.0.0.3:5060"
    invites = [parse_message(e.data) for e in net.trace if e.src == ALICE and e.data.startswith(b"INVITE")]
    assert [(i.uri_text, i.cseq.number) for i in invites] == [("sip:bob@10.0.0.2", 1), ("sip:carol@10.0.0.3", 2)]
    assert invites[0].call_id == invites[1].call_id and invites[0].from_.tag == invites[1].from_.tag


@pytest.mark.parametrize("seed", range(1, 9))
def test_glare_resolves_under_loss(seed: int) -> None:
    net, a, b, holder = setup_call(LOSSY, seed)
    net.run(until=10.0)
    alice_call, bob_call = holder["call"], call_of(net, "bob")
    net.at(12.0, lambda t: alice_call.hold(t))
    net.at(12.0, lambda t: bob_call.hold(t))
    net.run(until=80.0)
    assert bob_call.held_by_peer and alice_call.held_by_peer, net.ladder(start=11)
    assert alice_call.state is bob_call.state is CallState.CONFIRMED


def test_use_media_changes_later_offers_without_sending() -> None:
    """``call.use_media(caps)`` sends nothing; the next re-offer (hold) and the answer to the
    peer's re-offer are made from the new capabilities (the phone keeps DTLS roles this way)."""
    from .helpers import caps

    net, a, b, alice_call, bob_call = established()
    before = len(net.trace)
    net.at(2.0, lambda t: alice_call.use_media(caps(ALICE, port=41000)))
    net.run(until=3.0)
    assert len(net.trace) == before  # nothing on the wire
    net.at(3.0, lambda t: alice_call.hold(t))
    net.run(until=5.0)
    reinvite = [parse_message(e.data) for e in net.trace if e.src == ALICE][-2]
    assert reinvite.method == "INVITE" and b"m=audio 41000 " in reinvite.body
    net.at(6.0, lambda t: bob_call.hold(t))  # the peer re-offers: our answer uses them too
    net.run(until=8.0)
    answer = next(parse_message(e.data) for e in reversed(net.trace)
                  if e.src == ALICE and e.data.startswith(b"SIP/2.0 200") and b"m=audio" in e.data)
    assert b"m=audio 41000 " in answer.body


def test_ring_with_media_answers_in_the_183_from_those_capabilities() -> None:
    """``ring(code=183, early_media=True, media=caps)``: the 183's SDP answer comes from the
    given capabilities (the callee's own RTP port), and the 200 OK repeats it."""
    from .helpers import caps

    def bob_app(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, IncomingCall):
            event.call.ring(now, code=183, early_media=True, media=caps(BOB, port=52000))
            net.at(now + 1.0, lambda t: event.call.answer(t))

    net, a, b, holder = setup_call(bob_app=bob_app)
    net.run(until=3.0)
    bodies = [parse_message(e.data).body for e in net.trace if e.src == BOB
              and e.data.startswith((b"SIP/2.0 183", b"SIP/2.0 200")) and b"m=audio" in e.data]
    assert len(bodies) >= 2 and len(set(bodies)) == 1 and b"m=audio 52000 " in bodies[0]
    assert len(of(net, "alice", CallAnswered)) == 1
    assert of(net, "alice", CallProgress)[0].media.audio.remote_port == 52000
