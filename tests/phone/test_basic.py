"""Whole calls between two PhoneCores in simulated time: set-up, audio both ways (the tone
that comes out is measured), SDES, hang-up from either side, the media socket released after
the RTCP BYE, ringing and manual answer, reject with headers."""

from __future__ import annotations

import math

import pytest

from rvoip_sansio.dialog import EndReason
from rvoip_sansio.phone import (CallAnswered, CallEnded, CallProgress, IncomingCall,
                                MediaSocketReleased, PhoneConfig, PhoneCore, SrtpMode)
from rvoip_sansio.sdp import G722, PCMA, PCMU
from rvoip_sansio.sim import LinkConfig
from rvoip_sansio.sip import parse_message
from rvoip_sansio.srtp import DEFAULT_SDES_PROFILES, SrtpProfile

from .helpers import ALICE, BOB, App, network, peak_frequency, rms, speech, tone, tone_segment


@pytest.mark.parametrize("srtp, codecs, rtpmap", [
    (SrtpMode.SDES, (G722, PCMU), "G722/8000"),
    (SrtpMode.NONE, (PCMU,), "PCMU/8000"),
    (SrtpMode.SDES, (PCMA,), "PCMA/8000"),
])
def test_call_with_audio_both_ways(srtp: SrtpMode, codecs: tuple, rtpmap: str) -> None:  # type: ignore[type-arg]
    net = network(link=LinkConfig(delay=0.02, jitter=0.005, loss=0.01))
    alice = App(net, "alice", ALICE, seed=1, srtp=srtp, codecs=codecs, rate=16000, receive_queue_frames=200)
    bob = App(net, "bob", BOB, seed=2, srtp=srtp, codecs=codecs, auto_answer=True, rate=16000,
              receive_queue_frames=200)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run_until(lambda: bool(alice.events(CallAnswered)), 5)
    cid = ids[0]
    ans = alice.events(CallAnswered)[0]
    assert ans.call_id == cid and ans.codec == rtpmap and ans.srtp is (srtp is SrtpMode.SDES)
    assert bob.events(IncomingCall)[0].call_id == cid
    # 1 s of tone each way, read from the far end.
    assert alice.core.write(cid, tone(440, 16000, 1.0)) == 16000
    assert bob.core.write(cid, tone(1000, 16000, 1.0)) == 16000
    net.run(until=net.now + 1.5)
    heard_by_bob = tone_segment(speech(bob.core, cid))
    heard_by_alice = tone_segment(speech(alice.core, cid))
    assert abs(peak_frequency(heard_by_bob, 16000) - 440) < 5
    assert abs(peak_frequency(heard_by_alice, 16000) - 1000) < 5
    # 8000 peak -> rms 5657; G.711/G.722 and resampling keep it within 1 dB.
    assert abs(20 * math.log10(rms(heard_by_bob) / 5657)) < 1.0
    assert abs(20 * math.log10(rms(heard_by_alice) / 5657)) < 1.0
    health = alice.core.health(cid)
    assert health is not None and health.srtp_errors == 0
    alice.act(net.now, lambda core, now: core.hangup(cid, now))
    net.run(until=net.now + 2)
    (a_end,), (b_end,) = alice.events(CallEnded), bob.events(CallEnded)
    assert (a_end.call_id, a_end.reason) == (cid, EndReason.LOCAL_HANGUP)
    assert (b_end.call_id, b_end.reason) == (cid, EndReason.REMOTE_HANGUP)
    assert alice.core.calls == [] and bob.core.calls == []
    # Each side released its RTP socket after its RTCP BYE (RFC 3550 §6.6) went out.
    for app in (alice, bob):
        (rel,) = app.events(MediaSocketReleased)
        assert rel.call_id == cid
        sent = [e.data for e in net.trace if e.src == rel.local]
        # The last datagram is RTCP (RFC 5761 §4: second octet 200..204); in the clear its
        # compound packet ends with a BYE (PT 203); SRTCP encrypts it, so only the type shows.
        assert 200 <= sent[-1][1] <= 204
        if srtp is SrtpMode.NONE:
            assert _rtcp_types(sent[-1])[-1] == 203


def _rtcp_types(data: bytes) -> list[int]:
    types, i = [], 0
    while i + 4 <= len(data):
        types.append(data[i + 1])
        i += 4 * (int.from_bytes(data[i + 2:i + 4], "big") + 1)
    return types


def test_sdes_keys_really_protect_the_media() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.SDES, srtp_required=True, codecs=(PCMU,))
    bob = App(net, "bob", BOB, seed=2, srtp=SrtpMode.SDES, codecs=(PCMU,), auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    invite = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"INVITE"))
    assert b"m=audio 40000 RTP/SAVP 0" in invite.body and b"a=crypto:1 " in invite.body
    rtp = [e.data for e in net.trace if e.src == ("10.0.0.1", 40000) and 0x80 <= e.data[0] < 0xC0
           and not 192 <= e.data[1] <= 223]
    assert len(rtp) > 30
    # PCMU silence is 0xFF octets in the clear; encrypted payloads are not.
    assert all(d[12:].count(0xFF) < 20 for d in rtp)
    assert alice.core.health(ids[0]).srtp_errors == 0  # type: ignore[union-attr]
    assert bob.core.health(ids[0]).frames_delivered > 30  # type: ignore[union-attr]


@pytest.mark.parametrize(("alice_suites", "bob_suites", "suite"), [
    (None, None, "AEAD_AES_256_GCM"),  # default: strongest first on both sides
    ((SrtpProfile.AES_CM_128_HMAC_SHA1_80,), None, "AES_CM_128_HMAC_SHA1_80"),  # only one offered
    (None, (SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_256_GCM), "AES_CM_128_HMAC_SHA1_80"),
])
def test_sdes_profiles_choose_the_suite(alice_suites: tuple[SrtpProfile, ...] | None,
                                        bob_suites: tuple[SrtpProfile, ...] | None, suite: str) -> None:
    # RFC 4568 §7.1.1: the offer lists the offerer's suites in its order (tags 1, 2, ...);
    # §7.1.2: the answerer picks one of them, here the first of its own preference offered.
    net = network()
    extra = [{} if x is None else {"sdes_profiles": x} for x in (alice_suites, bob_suites)]
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.SDES, codecs=(PCMU,), **extra[0])
    bob = App(net, "bob", BOB, seed=2, srtp=SrtpMode.SDES, codecs=(PCMU,), auto_answer=True, **extra[1])
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    invite = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"INVITE"))
    offered = [line.split()[1] for line in invite.body.decode().splitlines() if line.startswith("a=crypto:")]
    assert offered == [p.value for p in (alice_suites or DEFAULT_SDES_PROFILES)]
    answer = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"SIP/2.0 200")
                  and b"a=crypto:" in e.data)
    assert f" {suite} ".encode() in answer.body
    for app in (alice, bob):
        media = app.core.media(ids[0])
        assert media is not None and media.config.srtp is not None
        assert media.config.srtp.tx.profile.value == suite
    assert bob.core.health(ids[0]).frames_delivered > 30  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        PhoneConfig(user="x", local=ALICE, sdes_profiles=())


def test_required_sdes_refuses_a_plain_offer_with_488() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.NONE)
    bob = App(net, "bob", BOB, seed=2, srtp=SrtpMode.SDES, srtp_required=True, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=5)
    (end,) = alice.events(CallEnded)
    assert (end.reason, end.status_code) == (EndReason.REJECTED, 488)
    (bend,) = bob.events(CallEnded)
    assert bend.detail.startswith("srtp refused")
    assert [e.call_id for e in bob.events(MediaSocketReleased)] == ids
    assert alice.events(MediaSocketReleased)[0].call_id == ids[0]


def test_ringing_then_manual_answer_with_headers_both_ways() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    bob = App(net, "bob", BOB, seed=2)  # no auto_answer: rings, the app answers at 2 s
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids,
               headers=[("X-Campaign", "spring"), ("P-Asserted-Identity", "<sip:+15551234@a>")])
    net.run(until=1.0)
    (inc,) = bob.events(IncomingCall)
    assert not inc.auto_answer and inc.header("x-campaign") == "spring"
    assert inc.header("P-Asserted-Identity") == "<sip:+15551234@a>"
    assert inc.offered_codecs[:3] == ("G722/8000", "PCMU/8000", "PCMA/8000")
    assert [p.status_code for p in alice.events(CallProgress)] == [180]
    bob.act(2.0, lambda core, now: core.answer(inc.call_id, now, rtp=bob.node.bind(),
                                               headers=[("X-Agent", "42")]))
    net.run(until=3.0)
    (ans,) = alice.events(CallAnswered)
    assert alice.timed(CallAnswered)[0][0] > 2.0
    assert dict((n.lower(), v) for n, v in ans.headers)["x-agent"] == "42"
    assert bob.events(CallAnswered)[0].call_id == ids[0]


def test_reject_with_custom_headers() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    bob = App(net, "bob", BOB, seed=2)
    bob.hooks.append(lambda e, now: bob.core.reject(e.call_id, now, 486, headers=[("X-Reason", "busy-agent")])
                     if isinstance(e, IncomingCall) else None)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=5)
    (end,) = alice.events(CallEnded)
    assert (end.call_id, end.status_code) == (ids[0], 486)
    final = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"SIP/2.0 486"))
    assert final.get("x-reason") == "busy-agent"


def test_one_deadline_covers_sip_and_media() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    core: PhoneCore = alice.core
    media = core.media(ids[0])
    assert media is not None
    deadline = core.next_deadline()
    ua = core.ua.next_deadline()
    assert deadline is not None and deadline <= (ua if ua is not None else deadline)
    # The media clock ticks every 20 ms: the one deadline is never more than 20 ms away.
    assert deadline - net.now <= 0.02 + 1e-9


def test_sip_message_is_passed_on() -> None:
    from rvoip_sansio.dialog import MessageReceived

    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    App(net, "bob", BOB, seed=2)
    net.at(0.0, lambda now: net.node("bob").endpoint.owner.core.ua.send_message(  # type: ignore[attr-defined]
        "sip:alice@10.0.0.1", "hello", now))
    net.run(until=1.0)
    (msg,) = alice.events(MessageReceived)
    assert msg.body == b"hello"
