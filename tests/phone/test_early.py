"""Early media on the caller side (RFC 3960 / RFC 3261 §13.2.1): a carrier's 183 Session
Progress with an SDP answer starts the call's media, so an announcement played before the
answer is heard; the 200 OK then keeps the same media running."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig
from rvoip_sansio.dialog import IncomingCall as UaIncoming
from rvoip_sansio.dialog import UAConfig, UserAgent
from rvoip_sansio.phone import CallAnswered, CallProgress, IncomingCall, SrtpMode
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sip import parse_message
from tests.conftest import require_module

from .helpers import ALICE, BOB, App, network, peak_frequency, speech, tone, tone_segment

CARRIER_RTP = ("10.0.0.2", 50000)


def test_announcement_in_183_is_heard_before_the_answer() -> None:
    net = network()
    caps = LocalCapabilities(address=BOB[0], media=(MediaCapabilities(codecs=(PCMU,), port=50000),))
    carrier = UserAgent(config=UAConfig(local=BOB, user="carrier", media=caps), rng=random.Random(3))
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.NONE, codecs=(PCMU,),
                receive_queue_frames=200)
    # The carrier's media: an announcement (660 Hz) from its RTP port to Alice's.
    announcement = CallMedia(config=CallMediaConfig(remote_rtp=("10.0.0.1", 40000), rate=16000),
                             rng=random.Random(5), now=0.0)
    announcement.write(tone(660, 16000, 1.0))
    calls = []

    def carrier_app(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, UaIncoming):
            calls.append(event.call)
            event.call.ring(now, code=183, early_media=True)
            net.at(now + 2.0, lambda t: event.call.answer(t))

    net.add_node("carrier", BOB, carrier, on_event=carrier_app)
    net.add_node("carrier-rtp", CARRIER_RTP, announcement)
    ids: list[str] = []
    alice.call(0.0, "sip:+15550123@10.0.0.2", ids)
    net.run(until=1.5)
    (progress,) = alice.events(CallProgress)
    assert (progress.status_code, progress.early_media) == (183, True)
    assert not alice.events(CallAnswered)
    heard = tone_segment(speech(alice.core, ids[0]), seconds=0.5)
    assert abs(peak_frequency(heard, 16000) - 660) < 5
    # Our media runs too (RTP to the carrier's port) before the answer.
    assert any(e.src == ("10.0.0.1", 40000) and e.dst == CARRIER_RTP and e.sent < 1.0
               for e in net.trace)
    net.run(until=4.0)
    (ans,) = alice.events(CallAnswered)
    assert ans.remote_rtp == CARRIER_RTP and alice.core.media(ids[0]) is not None


@pytest.mark.parametrize("srtp", [SrtpMode.SDES, SrtpMode.DTLS])
def test_callee_plays_a_prompt_in_early_media_then_answers(srtp: SrtpMode) -> None:
    """Bob's phone rings with an RTP socket (183 with its SDP answer), plays a prompt
    before answering; Alice hears it; the 200 OK then reuses the same SDP and media."""
    if srtp is SrtpMode.DTLS:
        require_module("OpenSSL")
    net = network()
    alice = App(net, "alice", ALICE, seed=1, srtp=srtp, codecs=(PCMU,), receive_queue_frames=200)
    bob = App(net, "bob", BOB, seed=2, srtp=srtp, codecs=(PCMU,), ring=False)

    def early(e, now):  # type: ignore[no-untyped-def]
        if isinstance(e, IncomingCall):
            bob.core.ring(e.call_id, now, rtp=bob.node.bind())
            bob.core.write(e.call_id, tone(880, 16000, 1.0))
            net.at(now + 2.0, lambda t: bob.core.answer(e.call_id, t))

    bob.hooks.append(early)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=1.5)
    (progress,) = alice.events(CallProgress)
    assert (progress.status_code, progress.early_media) == (183, True)
    assert not alice.events(CallAnswered)
    heard = tone_segment(speech(alice.core, ids[0]), seconds=0.5)
    assert abs(peak_frequency(heard, 16000) - 880) < 5
    net.run(until=4.0)
    (ans,) = alice.events(CallAnswered)
    assert ans.keying == ("sdes" if srtp is SrtpMode.SDES else "dtls")
    bodies = [parse_message(e.data).body for e in net.trace
              if e.src == BOB and e.data.startswith((b"SIP/2.0 183", b"SIP/2.0 200"))
              and b"m=audio" in e.data]
    assert len(set(bodies)) == 1  # the 200 repeats the 183's answer (RFC 3262 §5)
    assert bob.core.media(ids[0]) is not None and len(list(bob.node.sockets)) == 1
