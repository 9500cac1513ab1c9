"""DTLS-SRTP calls between two PhoneCores in simulated time (RFC 5763/5764 through
callmedia's DtlsMediaLeg): offer/answer on the wire, the handshake on each call's RTP socket,
audio both ways only once keyed, hold/resume keeping the association, a forged fingerprint
ending the call."""

from __future__ import annotations

import math

import pytest

from rvoip_sansio.callmedia import DtlsKeyed
from rvoip_sansio.dialog import EndReason
from rvoip_sansio.phone import CallAnswered, CallEnded, CallHeld, CallResumed, MediaEvent, SrtpMode
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.sim import LinkConfig
from rvoip_sansio.sip import parse_message
from rvoip_sansio.srtp import DtlsCertificate
from tests.conftest import require_module

from .helpers import ALICE, BOB, App, network, peak_frequency, rms, speech, tone, tone_segment


@pytest.fixture(scope="module")
def certs() -> tuple[DtlsCertificate, DtlsCertificate]:
    require_module("OpenSSL")
    import random
    rng = random.Random(42)
    return DtlsCertificate.generate(rng=rng), DtlsCertificate.generate(rng=rng)


def pair(net, certs, **kw):  # type: ignore[no-untyped-def]
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.DTLS, codecs=(PCMU,),
                receive_queue_frames=200, **kw)
    bob = App(net, "bob", BOB, seed=2, srtp=SrtpMode.DTLS, codecs=(PCMU,), auto_answer=True,
              receive_queue_frames=200, **kw)
    alice.core.certificate, bob.core.certificate = certs
    return alice, bob


def keyed(app: App) -> list[tuple[float, DtlsKeyed]]:
    return [(t, e.event) for t, e in app.timed(MediaEvent) if isinstance(e.event, DtlsKeyed)]


@pytest.mark.parametrize("seed", range(3))
def test_dtls_srtp_call_with_audio_both_ways(seed: int, certs) -> None:  # type: ignore[no-untyped-def]
    net = network(seed, LinkConfig(delay=0.02, jitter=0.005, loss=0.03) if seed else None)
    alice, bob = pair(net, certs, srtp_required=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    assert net.run_until(lambda: bool(keyed(alice)) and bool(keyed(bob)), 10), net.ladder()
    cid = ids[0]
    (ans,) = alice.events(CallAnswered)
    assert ans.keying == "dtls" and ans.srtp and bob.events(CallAnswered)[0].keying == "dtls"
    invite = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"INVITE"))
    ok = next(parse_message(e.data) for e in net.trace if e.data.startswith(b"SIP/2.0 200"))
    assert b"m=audio 40000 UDP/TLS/RTP/SAVP 0" in invite.body and b"a=setup:actpass" in invite.body
    assert f"a=fingerprint:{certs[0].fingerprint('sha-256')}".encode() in invite.body
    assert b"UDP/TLS/RTP/SAVP" in ok.body and b"a=setup:active" in ok.body
    (t_a, k_a), (t_b, k_b) = keyed(alice)[0], keyed(bob)[0]
    assert k_a.peer_fingerprint == certs[1].fingerprint(k_a.peer_fingerprint.algorithm)
    if not seed:
        # A clean 20 ms path: Bob's ClientHello leaves with his 200 OK (RFC 5763 §5) and is
        # kept by Alice until the 200 tells her her role; then she is keyed 2 one-way trips
        # after the 200 arrives, Bob 3.
        t_200 = next(e.arrival for e in net.trace if e.data.startswith(b"SIP/2.0 200"))
        assert t_200 is not None
        assert (round(t_a - t_200, 3), round(t_b - t_200, 3)) == (0.04, 0.06)
    # No RTP (first octet 128..191) from either RTP socket before that side was keyed.
    for app, t_key in ((alice, t_a), (bob, t_b)):
        (local,) = list(app.node.sockets)
        early = [e for e in net.trace if e.src == local and e.sent < t_key and 128 <= e.data[0] <= 191]
        assert not early
    alice.core.write(cid, tone(440, 16000, 0.8))
    bob.core.write(cid, tone(1000, 16000, 0.8))
    net.run(until=net.now + 1.5)
    heard_b = tone_segment(speech(bob.core, cid), seconds=0.5)
    heard_a = tone_segment(speech(alice.core, cid), seconds=0.5)
    assert abs(peak_frequency(heard_b, 16000) - 440) < 5
    assert abs(peak_frequency(heard_a, 16000) - 1000) < 5
    assert abs(20 * math.log10(rms(heard_b) / 5657)) < 1.0
    assert alice.core.health(cid).srtp_errors == 0  # type: ignore[union-attr]
    # Hold and resume by re-INVITE keep the association (RFC 8842 §5: a=setup:active/passive
    # from the first exchange, never actpass again), no new handshake.
    alice.act(net.now, lambda core, now: core.hold(cid, now))
    alice.act(net.now + 2, lambda core, now: core.resume(cid, now))
    net.run(until=net.now + 4)
    assert alice.events(CallHeld) and alice.events(CallResumed) and len(keyed(alice)) == 1
    reinvites = [parse_message(e.data) for e in net.trace if e.data.startswith(b"INVITE")][1:]
    assert reinvites and all(b"a=setup:passive" in m.body for m in reinvites)
    alice.act(net.now, lambda core, now: core.hangup(cid, now))
    net.run(until=net.now + 2)
    assert bob.events(CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_forged_fingerprint_ends_the_call(certs) -> None:  # type: ignore[no-untyped-def]
    """Someone on the signalling path swaps the fingerprint in Bob's 200 OK for their own:
    Alice's check of the certificate Bob presents fails (RFC 5763 §6.7.1), the call is ended
    with BYE, and no RTP ever leaves either RTP socket."""
    import random

    from rvoip_sansio import Transmit
    from rvoip_sansio.callmedia import DtlsFailure, DtlsKeyingFailed

    net = network()
    alice, bob = pair(net, certs)
    impostor = DtlsCertificate.generate(rng=random.Random(7))
    real = str(certs[1].fingerprint("sha-256")).encode()
    fake = str(impostor.fingerprint("sha-256")).encode()
    assert len(real) == len(fake)
    honest = bob.core.datagrams_to_send

    def tampered(now: float) -> list[Transmit]:
        return [Transmit(data=bytes(t.data).replace(real, fake), dest=t.dest) for t in honest(now)]

    bob.core.datagrams_to_send = tampered  # type: ignore[method-assign]
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=10.0)
    failed = [e.event for e in alice.events(MediaEvent) if isinstance(e.event, DtlsKeyingFailed)]
    assert [f.kind for f in failed] == [DtlsFailure.FINGERPRINT]
    ends = alice.events(CallEnded) + bob.events(CallEnded)
    assert len(ends) == 2 and any(e.detail == "dtls failed: fingerprint" for e in ends)
    assert not keyed(alice) and not keyed(bob)
    for app in (alice, bob):
        (local,) = list(app.node.sockets)
        assert not [e for e in net.trace if e.src == local and 128 <= e.data[0] <= 191]
