"""Hold/resume with the media direction following, DTMF both ways (RFC 4733 and SIP INFO,
one event kind), blind and attended transfer between PhoneCores, in simulated time."""

from __future__ import annotations

import pytest

from rvoip_sansio.dialog import EndReason
from rvoip_sansio.phone import (CallAnswered, CallEnded, CallHeld, CallResumed, DtmfMethod,
                                DtmfReceived, IncomingCall, TransferProgress,
                                TransferRequested)
from rvoip_sansio.sim import LinkConfig
from rvoip_sansio.sip import parse_message

from .helpers import ALICE, BOB, CAROL, App, network

LOSSY = LinkConfig(delay=0.02, jitter=0.01, loss=0.05)


def established(net, **kw):  # type: ignore[no-untyped-def]
    alice = App(net, "alice", ALICE, seed=1, **kw)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, **kw)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    assert net.run_until(lambda: bool(bob.events(CallAnswered)), 10), net.ladder()
    return alice, bob, ids[0]


def rtp_from(net, src, start, end):  # type: ignore[no-untyped-def]
    return [e for e in net.trace if e.src == src and start <= e.sent < end
            and not 192 <= e.data[1] <= 223]


@pytest.mark.parametrize("seed", range(3))
def test_hold_and_resume_media_direction_follows(seed: int) -> None:
    net = network(seed, LOSSY if seed else None)
    alice, bob, cid = established(net)
    a_rtp, b_rtp = alice.node.sockets, bob.node.sockets
    (a_local,), (b_local,) = list(a_rtp), list(b_rtp)
    alice.act(2.0, lambda core, now: core.hold(cid, now))
    alice.act(6.0, lambda core, now: core.resume(cid, now))
    net.run(until=10.0)
    (held,) = alice.timed(CallHeld)
    (peer_held,) = bob.timed(CallHeld)
    assert held[1].by_peer is False and peer_held[1].by_peer is True
    assert held[1].call_id == peer_held[1].call_id == cid
    (resumed,) = alice.timed(CallResumed)
    assert resumed[1].by_peer is False and bob.events(CallResumed)[0].by_peer is True
    # While held (sendonly from Alice, recvonly at Bob) Bob sends no RTP; Alice still does.
    hold_start, hold_end = max(held[0], peer_held[0]) + 0.1, min(resumed[0], 6.0)
    assert not rtp_from(net, b_local, hold_start, hold_end)
    assert len(rtp_from(net, a_local, hold_start, hold_end)) > 100
    # After the resume both directions flow again.
    assert len(rtp_from(net, b_local, resumed[0] + 0.2, 10.0)) > 100
    assert not alice.events(CallEnded)


def test_hold_does_not_trip_the_rtp_timeout() -> None:
    net = network()
    alice, bob, cid = established(net, rtp_timeout=2.0)
    alice.act(1.0, lambda core, now: core.hold(cid, now))
    net.run(until=10.0)
    assert not alice.events(CallEnded) and not bob.events(CallEnded)


@pytest.mark.parametrize("method", ["rfc4733", "info"])
def test_dtmf_both_ways_as_one_event_kind(method: str) -> None:
    net = network(3, LinkConfig(delay=0.02, loss=0.05))
    alice, bob, cid = established(net)
    alice.act(1.0, lambda core, now: core.send_dtmf(cid, "12#", now, method=method))
    bob.act(1.0, lambda core, now: core.send_dtmf(cid, "*9", now, method=method))
    net.run(until=8.0)
    got_b = bob.events(DtmfReceived)
    got_a = alice.events(DtmfReceived)
    assert "".join(d.digit for d in got_b) == "12#"
    assert "".join(d.digit for d in got_a) == "*9"
    want = DtmfMethod(method)
    assert all(d.method is want and d.call_id == cid for d in got_a + got_b)
    assert all(0.05 <= d.duration <= 0.2 for d in got_a + got_b)
    infos = [parse_message(e.data) for e in net.trace
             if e.src == ALICE and e.data.startswith(b"INFO ")]
    assert bool(infos) is (method == "info")
    if infos:  # in order, one at a time: each digit's INFO (and its CSeq) after the last
        order: list[tuple[str | None, bytes]] = []
        for m in infos:
            if (m.get("cseq"), m.body) not in order:
                order.append((m.get("cseq"), m.body))
        assert [b.split(b"\r\n")[0] for _, b in order] == [b"Signal=1", b"Signal=2", b"Signal=#"]


def test_dtmf_auto_falls_back_to_info_without_telephone_event() -> None:
    net = network()
    alice, bob, cid = established(net)
    # Forcing the negotiated media to lack telephone-event is awkward; check the choice.
    assert alice.core.media(cid).config.telephone_event_pt is not None  # type: ignore[union-attr]
    alice.act(1.0, lambda core, now: core.send_dtmf(cid, "5", now))
    net.run(until=3.0)
    assert [(d.digit, d.method) for d in bob.events(DtmfReceived)] == [("5", DtmfMethod.RFC4733)]


@pytest.mark.parametrize("seed", range(2))
def test_blind_transfer(seed: int) -> None:
    """Bob transfers Alice to Carol: Alice's phone follows the REFER on a new RTP socket;
    Bob sees 100 then 200; Carol's call with Alice is up with media."""
    net = network(seed, LOSSY if seed else None)
    alice, bob, cid = established(net)
    carol = App(net, "carol", CAROL, seed=3, auto_answer=True)
    new: list[str] = []
    alice.hooks.append(lambda e, now: new.append(
        alice.core.follow_transfer(e.call_id, now, rtp=alice.node.bind()))
        if isinstance(e, TransferRequested) and e.auto_follow else None)
    bob.act(2.0, lambda core, now: core.transfer(cid, "sip:carol@10.0.0.3", now))
    bob.hooks.append(lambda e, now: bob.core.hangup(e.call_id, now)
                     if isinstance(e, TransferProgress) and e.final and e.status_code == 200 else None)
    net.run(until=20.0)
    (req,) = alice.events(TransferRequested)
    assert req.call_id == cid and req.target.startswith("sip:carol@10.0.0.3")
    assert len(new) == 1 and new[0] != cid
    (inc,) = carol.events(IncomingCall)
    assert inc.call_id == new[0] and inc.header("referred-by") == "<sip:bob@10.0.0.2>"
    assert [e.call_id for e in alice.events(CallAnswered)] == [cid, new[0]]
    assert [p.status_code for p in bob.events(TransferProgress)][-1] == 200
    ended = {e.call_id: e.reason for e in alice.events(CallEnded)}
    assert ended == {cid: EndReason.REMOTE_HANGUP}
    assert carol.core.health(new[0]).frames_delivered > 100  # type: ignore[union-attr]


def test_attended_transfer() -> None:
    """Bob talks to Alice and to Carol, then joins them: REFER to Alice with Replaces of
    his call with Carol; Carol's phone sees the new call replacing the old one."""
    net = network()
    alice, bob, cid = established(net)
    carol = App(net, "carol", CAROL, seed=3, auto_answer=True)
    consult: list[str] = []
    bob.call(1.0, "sip:carol@10.0.0.3", consult)
    new: list[str] = []
    alice.hooks.append(lambda e, now: new.append(
        alice.core.follow_transfer(e.call_id, now, rtp=alice.node.bind()))
        if isinstance(e, TransferRequested) else None)
    bob.act(3.0, lambda core, now: core.transfer(cid, consult[0], now))
    net.run(until=20.0)
    (req,) = alice.events(TransferRequested)
    assert req.replaces is not None and consult[0] in req.replaces
    incoming = carol.events(IncomingCall)
    assert [i.replaces for i in incoming] == [None, consult[0]]
    assert incoming[1].call_id == new[0]
    ended = {e.call_id: e.reason for e in carol.events(CallEnded)}
    assert ended[consult[0]] is EndReason.REPLACED
    assert new[0] in carol.core.calls and new[0] in alice.core.calls


def test_codec_change_by_reoffer_rebuilds_the_media_on_both_sides() -> None:
    from rvoip_sansio.sdp import G722, PCMU

    from .helpers import peak_frequency, speech, tone, tone_segment

    net = network()
    alice, bob, cid = established(net, codecs=(G722, PCMU), receive_queue_frames=200)
    assert alice.core.media(cid).config.rtpmap == "G722/8000"  # type: ignore[union-attr]
    alice.act(1.0, lambda core, now: core.set_codecs(cid, (PCMU,), now))
    net.run(until=2.0)
    for app in (alice, bob):
        media = app.core.media(cid)
        assert media is not None and (media.config.rtpmap, media.config.payload_type) == ("PCMU/8000", 0)
    invites = [parse_message(e.data) for e in net.trace if e.data.startswith(b"INVITE")]
    assert b"m=audio 40000 RTP/AVP 0 " in invites[-1].body
    alice.core.write(cid, tone(440, 16000, 0.6))
    bob.core.write(cid, tone(1000, 16000, 0.6))
    net.run(until=3.0)
    assert abs(peak_frequency(tone_segment(speech(bob.core, cid), seconds=0.4), 16000) - 440) < 5
    assert abs(peak_frequency(tone_segment(speech(alice.core, cid), seconds=0.4), 16000) - 1000) < 5
    assert not alice.events(CallEnded)


def test_peer_reoffer_with_a_new_sdes_key_rekeys_our_receive_side() -> None:
    """RFC 4568 §7.1.4: a peer's re-INVITE may carry a new key (some PBXs re-key on every
    hold/resume). Bob re-offers with a fresh key for the suite in use and starts sending under
    it; Alice's receive context follows (her send context stays), so she keeps hearing Bob —
    before the fix she dropped every packet after the re-INVITE as an SRTP AUTH failure."""
    import attrs

    from rvoip_sansio.callmedia import SrtpKeys
    from rvoip_sansio.phone import SrtpMode
    from rvoip_sansio.srtp import CryptoLine, InlineKey

    from .helpers import peak_frequency, speech, tone, tone_segment

    net = network()
    alice, bob, cid = established(net, srtp=SrtpMode.SDES, srtp_required=True, receive_queue_frames=300)
    a_keys, b_keys = alice.core._pc(cid).keys, bob.core._pc(cid).keys
    assert a_keys is not None and b_keys is not None and a_keys.rx.keys == b_keys.tx.keys

    def rekey(core, now):  # type: ignore[no-untyped-def]
        pc = core._pc(cid)
        local = pc.call.local_media
        audio = local.media[0]
        old = next(CryptoLine.parse(a[len("crypto:"):]) for a in audio.attributes if a.startswith("crypto:"))
        fresh = attrs.evolve(old, keys=(InlineKey(key_salt=bytes(range(len(old.keys[0].key_salt)))),))
        attrs_new = tuple(f"crypto:{fresh}" if a.startswith("crypto:") else a for a in audio.attributes)
        pc.call.reinvite(now, media=attrs.evolve(local, media=(attrs.evolve(audio, attributes=attrs_new),)))
        pc.keys = SrtpKeys(tx=fresh.policy(), rx=pc.keys.rx)
        core.media(cid).set_srtp(pc.keys)          # Bob now sends under the new key
        core._process(now)

    bob.act(1.0, rekey)
    net.run(until=1.5)
    speech(alice.core, cid)                                     # drop what came before
    bob.core.write(cid, tone(1000, 16000, 0.6))
    alice.core.write(cid, tone(440, 16000, 0.6))
    net.run(until=2.5)
    heard = speech(alice.core, cid)
    assert heard.size >= 16000 * 0.5, heard.size
    assert abs(peak_frequency(tone_segment(heard, seconds=0.4), 16000) - 1000) < 5
    assert abs(peak_frequency(tone_segment(speech(bob.core, cid), seconds=0.4), 16000) - 440) < 5
    assert alice.core._pc(cid).keys.rx.keys != a_keys.rx.keys  # type: ignore[union-attr]
    assert alice.core._pc(cid).keys.tx == a_keys.tx            # type: ignore[union-attr]
    assert not alice.events(CallEnded)
