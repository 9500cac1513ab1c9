"""PRACK (RFC 3262), session timers (RFC 4028), forking (RFC 3261 §13.2.2.4), transfer
(RFC 3515, RFC 3891) and UPDATE (RFC 3311) in simulated time."""

from __future__ import annotations

import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.dialog import (
    CallAnswered,
    CallEnded,
    CallProgress,
    CallState,
    EndReason,
    IncomingCall,
    MediaUpdated,
    TransferProgress,
    TransferRequested,
)
from rvoip_sansio.sim import LinkConfig
from rvoip_sansio.sip import make_response, parse_message

from .helpers import ALICE, BOB, CAROL, LOSSY, add, answering, call_of, network, of, ua
from .test_calls import sent


def early_media_then_answer(delay: float):  # type: ignore[no-untyped-def]
    def on_event(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, IncomingCall):
            call = event.call
            call.ring(now, code=183, early_media=True)
            node.endpoint._net.at(now + delay, lambda t: call.answer(t) if call.state is CallState.EARLY else None)

    return on_event


@pytest.mark.parametrize("seed", range(6))
def test_reliable_183_with_early_media_is_pracked(seed: int) -> None:
    link = LOSSY if seed else None
    net = network(link, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, early_media_then_answer(3.0))
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=30.0)
    progress = of(net, "alice", CallProgress)
    assert len(progress) == 1 and progress[0].status_code == 183
    assert progress[0].media is not None and progress[0].media.audio.remote_port == 40000
    resp = progress[0].response
    assert "100rel" in resp.get("require") and resp.get("rseq") is not None
    pracks = [parse_message(e.data) for e in net.trace if e.src == ALICE and e.data.startswith(b"PRACK")]
    assert pracks and pracks[0].get("rack") == f"{resp.get('rseq')} 1 INVITE"
    assert len(of(net, "alice", CallAnswered)) == 1 and calls[0].state is CallState.CONFIRMED
    if seed == 0:
        assert sent(net, BOB, 183) == [pytest.approx(0.01)]  # PRACKed in time: no retransmission


def test_unpracked_reliable_provisional_is_retransmitted_then_504() -> None:
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, early_media_then_answer(100.0))
    net.at(0.0, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.at(0.015, lambda t: net.set_link(ALICE, BOB, LinkConfig(loss=1.0), both_ways=False))
    net.run(until=40.0)
    assert sent(net, BOB, 183)[:5] == pytest.approx([0.01, 0.51, 1.51, 3.51, 7.51])
    assert sent(net, BOB, 504)[0] == pytest.approx(32.01)  # (retransmitted: Alice cannot ACK)
    assert of(net, "bob", CallEnded)[0].status_code == 504


def test_session_timer_refreshed_by_refresher() -> None:
    net = network()
    a = ua(ALICE, "alice", 1, session_expires=120)
    b = ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=400.0)
    invite = parse_message(next(e.data for e in net.trace if e.data.startswith(b"INVITE")))
    assert invite.get("session-expires") == "120" and invite.get("min-se") == "90"
    ok = parse_message(next(e.data for e in net.trace if e.data.startswith(b"SIP/2.0 200") and e.src == BOB))
    assert ok.get("session-expires") == "120;refresher=uac" and ok.get("require") == "timer"
    # Alice refreshes every 60 s (half the interval, RFC 4028 §10); the call stays up.
    assert sent(net, ALICE, "INVITE") == pytest.approx([0, 60.02, 120.04, 180.06, 240.08, 300.1, 360.12])
    assert calls[0].state is call_of(net, "bob").state is CallState.CONFIRMED


def test_session_expires_without_refresh_ends_the_call() -> None:
    net = network()
    a = ua(ALICE, "alice", 1, session_expires=120)
    b = ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    net.at(0.0, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.at(30.0, lambda t: net.set_link(ALICE, BOB, LinkConfig(loss=1.0), both_ways=False))
    net.run(until=400.0)
    # Bob expects a refresh; none arrives: BYE at 120 - min(32, 120/3) = 88 s after the ACK
    # (which reached him at 0.03).
    assert sent(net, BOB, "BYE")[0] == pytest.approx(88.03)
    assert of(net, "bob", CallEnded)[0].reason is EndReason.SESSION_EXPIRED


def test_422_retried_with_peer_min_se() -> None:
    net = network()
    a = ua(ALICE, "alice", 1, session_expires=100, min_se=90)
    b = ua(BOB, "bob", 2, min_se=300)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    net.at(0.0, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.run(until=5.0)
    invites = [parse_message(e.data) for e in net.trace if e.src == ALICE and e.data.startswith(b"INVITE")]
    assert [i.get("session-expires") for i in invites] == ["100", "300"]
    assert sent(net, BOB, 422) == [pytest.approx(0.01)]
    assert len(of(net, "alice", CallAnswered)) == 1


def test_forking_first_2xx_wins_later_ones_acked_and_byed() -> None:
    """A forking proxy is played by hand: two 180s and two 200s from different forks."""
    net = network()
    a = ua(ALICE, "alice", 1)
    add(net, "alice", ALICE, a)
    proxy = ("10.0.0.50", 5060)
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.50", t)))
    net.run(until=0.05)
    invite = parse_message(net.trace[0].data)
    answer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.%d\r\ns=-\r\nc=IN IP4 10.0.0.%d\r\nt=0 0\r\n"
              b"m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    for i, (tag, host) in enumerate((("fork1", 2), ("fork2", 3))):
        contact = [("Contact", f"<sip:bob@10.0.0.{host}:5060>")]
        net.inject(bytes(make_response(invite, 180, to_tag=tag, headers=contact)), proxy, ALICE)
    net.run(until=0.2)
    for tag, host in (("fork2", 3), ("fork1", 2)):
        contact = [("Contact", f"<sip:bob@10.0.0.{host}:5060>"), ("Content-Type", "application/sdp")]
        ok = make_response(invite, 200, to_tag=tag, headers=contact, body=answer % (host, host))
        net.inject(bytes(ok), proxy, ALICE)
    net.run(until=5.0)
    assert len(of(net, "alice", CallProgress)) == 2
    answered = of(net, "alice", CallAnswered)
    assert len(answered) == 1 and calls[0].dialog.remote_tag == "fork2"
    assert calls[0].media.audio.remote_address == "10.0.0.3"
    acks = [(e.dst, parse_message(e.data).to.tag) for e in net.trace if e.data.startswith(b"ACK")]
    byes = [(e.dst, parse_message(e.data).to.tag) for e in net.trace if e.data.startswith(b"BYE")]
    assert acks[:2] == [(("10.0.0.3", 5060), "fork2"), (("10.0.0.2", 5060), "fork1")]
    assert byes[0] == (("10.0.0.2", 5060), "fork1")
    assert calls[0].state is CallState.CONFIRMED


def three(link=None, seed=0):  # type: ignore[no-untyped-def]
    net = network(link, seed)
    a, b, c = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2), ua(CAROL, "carol", seed + 3)
    add(net, "alice", ALICE, a, answering())
    add(net, "bob", BOB, b, answering())
    add(net, "carol", CAROL, c, answering())
    return net, a, b, c


@pytest.mark.parametrize("seed", range(4))
def test_blind_transfer(seed: int) -> None:
    net, a, b, c = three(LOSSY if seed else None, seed)
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=10.0)
    bob_call = call_of(net, "bob")
    net.at(11.0, lambda t: bob_call.transfer("sip:carol@10.0.0.3", t))
    net.run(until=40.0)
    req = of(net, "alice", TransferRequested)[0]
    assert req.target == "sip:carol@10.0.0.3" and req.replaces is None
    assert len(of(net, "carol", IncomingCall)) == 1 and len(of(net, "carol", CallAnswered)) == 1
    progress = [(p.status_code, p.final) for p in of(net, "bob", TransferProgress)]
    # The "100 Trying" NOTIFY may be lost and overtaken: a late one is then out of order
    # (500, RFC 3261 §12.2.2) and not reported.
    assert progress in ([(100, False), (200, True)], [(200, True)])
    if seed == 0:
        assert progress == [(100, False), (200, True)]
    notify = next(n for n in (parse_message(e.data) for e in net.trace if e.data.startswith(b"NOTIFY"))
                  if n.body.startswith(b"SIP/2.0 200"))
    assert notify.get("event") == "refer" and notify.content_type == "message/sipfrag;version=2.0"
    assert notify.get("subscription-state").startswith("terminated")
    # The transferor hangs up after success; Alice now talks to Carol.
    net.at(41.0, lambda t: bob_call.hangup(t))
    net.run(until=80.0)
    alice_calls = [cl for cl in a.calls]
    assert len(alice_calls) == 1 and alice_calls[0].dialog.remote_target == "sip:carol@10.0.0.3:5060"


def test_attended_transfer_with_replaces() -> None:
    net, a, b, c = three()
    calls: dict[str, object] = {}
    net.at(0.0, lambda t: calls.setdefault("ab", b.invite("sip:alice@10.0.0.1", t)))  # call 1: Bob-Alice
    net.at(1.0, lambda t: calls.setdefault("bc", b.invite("sip:carol@10.0.0.3", t)))  # call 2: Bob-Carol
    net.run(until=5.0)
    net.at(6.0, lambda t: calls["ab"].transfer(calls["bc"], t))  # Bob connects Alice to Carol
    net.run(until=30.0)
    req = of(net, "alice", TransferRequested)[0]
    assert req.target == "sip:carol@10.0.0.3:5060" and req.replaces is not None
    incoming = of(net, "carol", IncomingCall)
    assert len(incoming) == 2 and incoming[1].replaces is incoming[0].call  # Carol's call with Bob
    invite = incoming[1].request
    assert invite.get("replaces").startswith(calls["bc"].call_id)
    # Carol's call with Bob is replaced: she BYEs it; Bob's REFER gets a final 200 NOTIFY.
    assert [e.reason for e in of(net, "carol", CallEnded)] == [EndReason.REPLACED]
    bob_ended = of(net, "bob", CallEnded)
    assert [e.call for e in bob_ended] == [calls["bc"]] and bob_ended[0].reason is EndReason.REMOTE_HANGUP
    assert of(net, "bob", TransferProgress)[-1].status_code == 200


def test_replaces_for_unknown_dialog_is_481() -> None:
    net, a, b, c = three()
    net.at(0.0, lambda t: a.invite("sip:carol@10.0.0.3", t, headers=[("Replaces", "nope;to-tag=x;from-tag=y")]))
    net.run(until=5.0)
    assert of(net, "alice", CallEnded)[0].status_code == 481


def test_update_offer_in_confirmed_call() -> None:
    net, a, b, c = three()
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=2.0)

    net.at(3.0, lambda t: calls[0].hold(t, method="UPDATE"))
    net.run(until=6.0)
    update = [parse_message(e.data) for e in net.trace if e.data.startswith(b"UPDATE")]
    assert len(update) == 1 and b"a=sendonly" in update[0].body
    assert call_of(net, "bob").held_by_peer
    assert of(net, "alice", MediaUpdated)[-1].media.audio.direction.value == "sendonly"
    # A second offer while the first is outstanding is refused before anything changes.
    net.at(7.0, lambda t: calls[0].resume(t, method="UPDATE"))
    net.at(7.0, lambda t: pytest.raises(LocalProtocolError, calls[0].hold, t))
    net.run(until=7.0)
    assert calls[0].on_hold is False
    net.run(until=10.0)
    assert not call_of(net, "bob").held_by_peer


@pytest.mark.parametrize("seed", range(1, 7))
def test_attended_transfer_under_loss(seed: int) -> None:
    net, a, b, c = three(LOSSY, seed)
    calls: dict[str, object] = {}
    net.at(0.0, lambda t: calls.setdefault("ab", b.invite("sip:alice@10.0.0.1", t)))
    net.at(1.0, lambda t: calls.setdefault("bc", b.invite("sip:carol@10.0.0.3", t)))
    net.run(until=15.0)
    net.at(16.0, lambda t: calls["ab"].transfer(calls["bc"], t))
    net.run(until=60.0)
    assert [e.reason for e in of(net, "carol", CallEnded)] == [EndReason.REPLACED]
    assert of(net, "bob", TransferProgress)[-1].status_code == 200
    # Alice now talks to Carol (her call with Bob stays until Bob hangs up); Carol has
    # exactly one call left, with Alice.
    assert [cl.dialog.remote_target for cl in a.calls if "carol" in cl.dialog.remote_target] == [
        "sip:carol@10.0.0.3:5060"]
    assert [cl.dialog.remote_target for cl in c.calls] == ["sip:alice@10.0.0.1:5060"]
