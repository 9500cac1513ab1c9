"""Many calls on one PhoneCore at once (each call's audio stays on its own socket and call id,
one shared media clock), and a caller that sends no SDP in its INVITE (offer in our 200 OK,
answer in the ACK)."""

from __future__ import annotations

import random

from rvoip_sansio.dialog import CallAnswered as UaAnswered
from rvoip_sansio.dialog import UAConfig, UserAgent
from rvoip_sansio.phone import CallAnswered, CallEnded, IncomingCall, MediaSocketReleased, SrtpMode
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sim import LinkConfig, Network

from .helpers import ALICE, BOB, App, network, peak_frequency, speech, tone, tone_segment


def test_twenty_concurrent_calls_keep_their_audio_apart() -> None:
    net = Network(seed=5, link=LinkConfig(delay=0.02, jitter=0.004), record_trace=False)
    alice = App(net, "alice", ALICE, seed=1, receive_queue_frames=100)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, receive_queue_frames=100)
    ids: list[str] = []
    for i in range(20):
        alice.call(i * 0.01, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    assert len(alice.events(CallAnswered)) == 20 and len(bob.core.calls) == 20
    freqs = {cid: 300 + 50 * i for i, cid in enumerate(ids)}
    for cid, f in freqs.items():
        alice.core.write(cid, tone(f, 16000, 0.6))
    net.run(until=2.0)
    for cid, f in freqs.items():
        heard = tone_segment(speech(bob.core, cid), seconds=0.4)
        assert abs(peak_frequency(heard, 16000) - f) < 5, cid
    # One shared clock: the core's deadline never lies more than one tick ahead.
    d = alice.core.next_deadline()
    assert d is not None and d - net.now <= 0.02 + 1e-9
    for cid in ids:
        alice.act(2.0, lambda core, now, cid=cid: core.hangup(cid, now))
    net.run(until=4.0)
    assert len(bob.events(CallEnded)) == 20 and len(bob.events(MediaSocketReleased)) == 20
    assert alice.core.calls == [] and bob.core.calls == []


def test_offerless_invite_gets_our_offer_and_media_runs() -> None:
    net = network()
    caller = UserAgent(config=UAConfig(local=ALICE, user="legacy", media=LocalCapabilities(
        address=ALICE[0], media=(MediaCapabilities(codecs=(PCMU,), port=30000),))),
        rng=random.Random(4))
    net.add_node("legacy", ALICE, caller)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, srtp=SrtpMode.SDES)
    net.at(0.0, lambda now: caller.invite("sip:bob@10.0.0.2", now, late_offer=True))
    net.run(until=3.0)
    (inc,) = bob.events(IncomingCall)
    assert inc.offered_codecs == ()
    (ans,) = bob.events(CallAnswered)
    assert ans.codec == "PCMU/8000" and ans.remote_rtp == ("10.0.0.1", 30000)
    assert len([e for e in net.events("legacy") if isinstance(e, UaAnswered)]) == 1
    assert bob.core.health(inc.call_id).frames_sent + bob.core.health(inc.call_id).idle_ticks > 100  # type: ignore[union-attr]
