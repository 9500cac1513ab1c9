"""DTLS-SRTP keying for calls (callmedia._dtls): SDP through the real offer/answer, and two
DtlsMediaLegs on rvoip_sansio.sim's network in simulated time.

Outside yardsticks: libsrtp (pylibsrtp) opens the SRTP captured on the simulated wire with the
keys the handshake exported (the exporter itself is checked against OpenSSL's s_server in
tests/srtp); tones are measured by FFT peak and RMS; retransmission instants are RFC 6347
§4.2.4.1's schedule (1 s, doubling)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pytest

from rvoip_sansio import Address, Event, LocalProtocolError, Transmit
from rvoip_sansio.callmedia import (
    UDP_TLS_SAVP, CallMedia, CallMediaConfig, DtlsFailure, DtlsKeyed, DtlsKeyingFailed,
    DtlsMediaLeg, DtlsOffer, DtlsParams, DtlsSdpError, dtls_answer, dtls_from_answer,
    dtls_keep_association, dtls_offer,
)
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities, OfferAnswer, Setup
from rvoip_sansio.sim import LinkConfig, Network
from rvoip_sansio.srtp import DtlsCertificate, DtlsRole, DtlsState, SrtpProfile
from tests.conftest import require_module

from .helpers import drain_frames, peak_frequency, rms, tone

A: Address = ("10.0.0.1", 40000)  # alice, the offerer
B: Address = ("10.0.0.2", 50000)  # bob, the answerer
PLAIN = MediaCapabilities(codecs=(PCMU,), port=0, rtcp_mux=True)
D = 0.02  # one-way delay on the simulated link


@pytest.fixture(scope="module")
def certs() -> tuple[DtlsCertificate, DtlsCertificate, DtlsCertificate]:
    require_module("OpenSSL")
    rng = random.Random(7)
    return tuple(DtlsCertificate.generate(rng=rng) for _ in range(3))  # type: ignore[return-value]


# ------------------------------------------------------------------------------------ SDP
def _exchange(certs: tuple[DtlsCertificate, ...], *, seed: int = 1,
              ) -> tuple[bytes, bytes, DtlsOffer, DtlsParams, DtlsParams, Any, Any]:
    """Alice offers DTLS-SRTP, Bob answers, both through sdp.OfferAnswer."""
    rng = random.Random(seed)
    audio, pending = dtls_offer(attrs.evolve(PLAIN, port=A[1]), certs[0], rng=rng)
    alice = OfferAnswer(local=LocalCapabilities(address=A[0], media=(audio,)), rng=rng)
    offer = bytes(alice.create_offer())
    bob_audio, bob_params = dtls_answer(attrs.evolve(PLAIN, port=B[1]), offer, certs[1], rng=rng)
    assert bob_params is not None
    bob = OfferAnswer(local=LocalCapabilities(address=B[0], media=(bob_audio,)), rng=rng)
    answer_sdp, bob_neg = bob.answer_offer(offer)
    answer = bytes(answer_sdp)
    a_audio = alice.process_answer(answer).audio
    assert a_audio is not None
    alice_params = dtls_from_answer(pending, a_audio)
    assert alice_params is not None
    return offer, answer, pending, alice_params, bob_params, a_audio, bob_neg.audio


def test_offer_answer_roles_fingerprints_and_proto(certs: tuple[DtlsCertificate, ...]) -> None:
    offer, answer, pending, alice, bob, a_neg, b_neg = _exchange(certs)
    # RFC 5764 §8 proto, RFC 8842 §5.2/5.3 setup, RFC 8122 fingerprint, RFC 8842 tls-id.
    assert f"m=audio {A[1]} {UDP_TLS_SAVP} 0".encode() in offer
    assert f"m=audio {B[1]} {UDP_TLS_SAVP} 0".encode() in answer
    assert b"a=setup:actpass\r\n" in offer and b"a=setup:active\r\n" in answer
    assert f"a=fingerprint:{certs[0].fingerprint()}".encode() in offer
    assert f"a=fingerprint:{certs[1].fingerprint()}".encode() in answer
    assert f"a=tls-id:{pending.tls_id}".encode() in offer and len(pending.tls_id) == 24
    assert (bob.role, bob.local_setup, bob.remote_setup) == (DtlsRole.CLIENT, Setup.ACTIVE,
                                                             Setup.ACTPASS)
    assert bob.remote_tls_id == pending.tls_id
    assert (alice.role, alice.local_setup, alice.remote_setup) == (DtlsRole.SERVER, Setup.PASSIVE,
                                                                   Setup.ACTIVE)
    assert alice.remote_fingerprints == (certs[1].fingerprint(),)
    assert bob.remote_fingerprints == (certs[0].fingerprint(),)
    # CallMediaConfig sees the fingerprint and holds media until keyed.
    assert CallMediaConfig.from_negotiated(a_neg).srtp_required
    assert CallMediaConfig.from_negotiated(b_neg).remote_rtp == A


# An offer as a WebRTC-era peer writes it: session-level fingerprint, sha-1 and sha-256,
# upper/lower-case hex, SAVPF. Fingerprint values are RFC 8122 §5 syntax, not from our code.
PEER_OFFER = (
    "v=0\r\no=peer 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
    "a=fingerprint:SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n"
    "a=fingerprint:sha-256 " + ":".join(f"{i:02x}" for i in range(32)) + "\r\n"
    "m=audio 49170 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=setup:passive\r\n"
).encode()


def test_answer_to_a_peer_offer(certs: tuple[DtlsCertificate, ...]) -> None:
    caps, params = dtls_answer(attrs.evolve(PLAIN, port=B[1]), PEER_OFFER, certs[1],
                               rng=random.Random(1))
    assert params is not None
    # passive offered -> we must be active (RFC 4145 §4.1), the DTLS client.
    assert params.local_setup is Setup.ACTIVE and params.role is DtlsRole.CLIENT
    assert "setup:active" in caps.attributes and caps.accepts_proto("UDP/TLS/RTP/SAVPF")
    assert [f.algorithm for f in params.remote_fingerprints] == ["sha-1", "sha-256"]
    assert params.remote_fingerprints[1].value == bytes(range(32))
    bob = OfferAnswer(local=LocalCapabilities(address="192.0.2.2", media=(caps,)),
                      rng=random.Random(2))
    answer = bytes(bob.answer_offer(PEER_OFFER)[0])
    assert f"m=audio {B[1]} UDP/TLS/RTP/SAVPF 0".encode() in answer
    # actpass offered, we may choose passive; active offered forces passive.
    for offered, want, role in ((b"actpass", Setup.PASSIVE, DtlsRole.SERVER),
                                (b"active", Setup.PASSIVE, DtlsRole.SERVER)):
        _, p = dtls_answer(PLAIN, PEER_OFFER.replace(b"passive", offered), certs[1],
                           rng=random.Random(1), setup=Setup.PASSIVE)
        assert p is not None and (p.local_setup, p.role) == (want, role)
    # No a=setup in the offer: RFC 4145 §4 default "active" -> we answer passive.
    _, p = dtls_answer(PLAIN, PEER_OFFER.replace(b"a=setup:passive\r\n", b""), certs[1],
                       rng=random.Random(1))
    assert p is not None and p.local_setup is Setup.PASSIVE


def test_bad_offers_and_answers_are_typed_errors(certs: tuple[DtlsCertificate, ...]) -> None:
    rng = random.Random(3)
    no_fp = b"\r\n".join(ln for ln in PEER_OFFER.split(b"\r\n") if b"fingerprint" not in ln)
    with pytest.raises(DtlsSdpError, match="without a=fingerprint"):
        dtls_answer(PLAIN, no_fp, certs[1], rng=rng)
    md5 = no_fp.replace(b"a=setup", b"a=fingerprint:md5 " + b"AB:" * 15 + b"AB\r\na=setup")
    with pytest.raises(DtlsSdpError, match="unsupported hash functions: md5"):
        dtls_answer(PLAIN, md5, certs[1], rng=rng)
    short = no_fp.replace(b"a=setup", b"a=fingerprint:sha-256 AB:CD\r\na=setup")
    with pytest.raises(DtlsSdpError, match="2 bytes, not 32"):
        dtls_answer(PLAIN, short, certs[1], rng=rng)
    with pytest.raises(DtlsSdpError, match="holdconn"):
        dtls_answer(PLAIN, PEER_OFFER.replace(b"passive", b"holdconn"), certs[1], rng=rng)
    # Not DTLS at all: answered as it is.
    plain = PEER_OFFER.replace(b"UDP/TLS/RTP/SAVPF", b"RTP/AVP")
    assert dtls_answer(PLAIN, plain, certs[1], rng=rng) == (PLAIN, None)
    # Answers: actpass is not an answer; no a=setup means passive (we become the client);
    # no fingerprint on a DTLS answer is an error; a plain answer gives None.
    offer, answer, pending, *_ = _exchange(certs)

    def neg(text: bytes) -> Any:
        oa = OfferAnswer(local=LocalCapabilities(address=A[0], media=(
            dtls_offer(attrs.evolve(PLAIN, port=A[1]), certs[0], rng=rng)[0],)), rng=rng)
        oa.create_offer()
        return oa.process_answer(text).audio

    with pytest.raises(DtlsSdpError, match="actpass is not a valid answer"):
        dtls_from_answer(pending, neg(answer.replace(b"setup:active", b"setup:actpass")))
    p = dtls_from_answer(pending, neg(answer.replace(b"a=setup:active\r\n", b"")))
    assert p is not None and (p.local_setup, p.role) == (Setup.ACTIVE, DtlsRole.CLIENT)
    no_fp_answer = b"\r\n".join(ln for ln in answer.split(b"\r\n") if b"fingerprint" not in ln)
    with pytest.raises(DtlsSdpError):
        dtls_from_answer(pending, neg(no_fp_answer))
    rtp_answer = no_fp_answer.replace(UDP_TLS_SAVP.encode(), b"RTP/AVP")
    assert dtls_from_answer(pending, neg(rtp_answer)) is None


# ------------------------------------------------------------------------- simulated calls
class Lossy:
    """A leg whose outgoing datagrams pass ``drop(now, data)``; every send is logged."""

    def __init__(self, leg: DtlsMediaLeg, drop: Callable[[float, bytes], bool]) -> None:
        self.leg, self.drop = leg, drop
        self.log: list[tuple[float, bytes, bool]] = []

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.leg.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out = []
        for t in self.leg.datagrams_to_send(now):
            dropped = self.drop(now, t.data)
            self.log.append((now, t.data, dropped))
            if not dropped:
                out.append(t)
        return out

    def next_event(self) -> Event | None:
        return self.leg.next_event()

    def next_deadline(self) -> float | None:
        return self.leg.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.leg.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.leg.transport_error(dest, now)


def _media(neg: Any, seed: int) -> CallMedia:
    cfg = CallMediaConfig.from_negotiated(neg, rate=16000, receive_queue_frames=100_000)
    return CallMedia(config=cfg, rng=random.Random(seed), now=0.0)


def _content_types(data: bytes) -> list[int]:
    """Content types of the DTLS records in one datagram (RFC 6347 §4.1 headers)."""
    types, pos = [], 0
    while pos + 13 <= len(data):
        types.append(data[pos])
        pos += 13 + int.from_bytes(data[pos + 11:pos + 13], "big")
    return types


def _flight(data: bytes, handshake_type: int) -> bool:
    # DTLS record (RFC 6347 §4.1: 13-byte header) carrying a handshake message of this type
    # (RFC 6347 §4.2.2: msg_type is the first byte of the fragment): 1 ClientHello,
    # 2 ServerHello; 20 ChangeCipherSpec record for the final flights.
    return data[0] == 22 and len(data) > 13 and data[13] == handshake_type


def _call(certs: tuple[DtlsCertificate, ...], *, link: LinkConfig, seed: int = 1,
          answer_at: float = 0.1, alice_drop: Callable[[float, bytes], bool] | None = None,
          bob_drop: Callable[[float, bytes], bool] | None = None,
          wrong: str | None = None) -> tuple[Network, DtlsMediaLeg, DtlsMediaLeg, Lossy, Lossy]:
    """Bob (answerer, DTLS client) starts at once; Alice (offerer) learns her role from the
    answer at ``answer_at`` (the SIP 200 OK is slower than the media path)."""
    _, _, _, a_params, b_params, a_neg, b_neg = _exchange(certs, seed=seed)
    if wrong == "alice":  # alice's SDP view of bob's certificate is wrong
        a_params = attrs.evolve(a_params, remote_fingerprints=(certs[2].fingerprint(),))
    if wrong == "bob":
        b_params = attrs.evolve(b_params, remote_fingerprints=(certs[2].fingerprint(),))
    net = Network(seed=seed, link=link)
    alice = DtlsMediaLeg(certificate=certs[0], media=_media(a_neg, 11), call_id="a")
    bob = DtlsMediaLeg(certificate=certs[1], media=_media(b_neg, 12), params=b_params, now=0.0,
                       call_id="b")
    la = Lossy(alice, alice_drop or (lambda now, data: False))
    lb = Lossy(bob, bob_drop or (lambda now, data: False))
    net.add_node("alice", A, la)
    net.add_node("bob", B, lb)

    def answered(now: float) -> None:
        alice.set_params(a_params, now)
        net.poke(net.node("alice"))

    net.at(answer_at, answered)
    return net, alice, bob, la, lb


def _keyed(net: Network, name: str) -> DtlsKeyed:
    (ev,) = [e for e in net.events(name) if isinstance(e, DtlsKeyed)]
    return ev


def test_clean_handshake_exact_timing_and_early_clienthello(certs: tuple[DtlsCertificate, ...]) -> None:
    net, alice, bob, la, lb = _call(certs, link=LinkConfig(delay=D), answer_at=0.1)
    net.run(until=0.5)
    # Bob's ClientHello reached alice at D, before the answer: kept, processed at 0.1.
    assert alice.dtls_received >= 1 and alice.early_dropped == 0
    ka, kb = _keyed(net, "alice"), _keyed(net, "bob")
    assert ka.time == pytest.approx(0.1 + 2 * D) and kb.time == pytest.approx(0.1 + 3 * D)
    assert kb.handshake_seconds == pytest.approx(0.1 + 3 * D)
    assert ka.handshake_seconds == pytest.approx(2 * D)
    assert ka.profile is kb.profile is SrtpProfile.AEAD_AES_256_GCM
    # Two flights each way, one datagram each (ECDSA P-256 certificates fit in 1200 bytes).
    assert (ka.datagrams_sent, ka.datagrams_received) == (2, 2)
    assert (kb.datagrams_sent, kb.datagrams_received) == (2, 2)
    assert ka.peer_fingerprint == certs[1].fingerprint()
    assert kb.peer_fingerprint == certs[0].fingerprint()
    assert alice.keys is not None and bob.keys is not None
    assert alice.keys.tx == bob.keys.rx and alice.keys.rx == bob.keys.tx != alice.keys.tx
    # Nothing retransmitted, no media before the sender was keyed.
    dtls = [(t, d) for t, d, _ in la.log + lb.log if 20 <= d[0] <= 63]
    assert len(dtls) == len({d for _, d in dtls})
    assert all(t >= ka.time for t, d, _ in la.log if d[0] >= 128)
    assert all(t >= kb.time for t, d, _ in lb.log if d[0] >= 128)


def _wire_srtp(net: Network, src: Address) -> list[bytes]:
    return [e.data for e in net.trace if e.src == src and 128 <= e.data[0] <= 191
            and not 192 <= e.data[1] <= 223]


def test_lossy_network_tones_both_ways_encrypted(certs: tuple[DtlsCertificate, ...]) -> None:
    link = LinkConfig(delay=D, jitter=0.005, loss=0.05)
    net, alice, bob, _, _ = _call(certs, link=link, seed=3)
    assert alice.media is not None and bob.media is not None
    alice.media.write(tone(440, 16000, 4.0))
    bob.media.write(tone(1000, 16000, 4.0))
    net.run(until=4.5)
    assert alice.state is bob.state is DtlsState.CONNECTED
    for media, freq in ((bob.media, 440.0), (alice.media, 1000.0)):
        speech = [f.samples for f in drain_frames(media) if f.flags.is_speech]
        pcm = np.concatenate(speech)
        assert len(pcm) > 16000 * 2.5
        assert abs(peak_frequency(pcm, 16000) - freq) < 1.0
        level = 20 * np.log10(rms(pcm) / (8000 / np.sqrt(2)))
        assert abs(level) < 1.0, level  # 5 % loss: concealment fades the after-gap frames
        assert media.health().srtp_errors == 0
    # What went over the wire is SRTP under the exported keys: libsrtp opens it, and the
    # payload is not the plain PCMU it carries.
    lib: Any = require_module("pylibsrtp")
    P = lib.Policy
    assert alice.keys is not None
    key = alice.keys.tx.keys[0]
    inbound = lib.Session(P(key=key.key + key.salt, ssrc_type=P.SSRC_ANY_INBOUND,
                            srtp_profile=P.SRTP_PROFILE_AEAD_AES_256_GCM))
    packets = _wire_srtp(net, A)
    assert len(packets) > 150
    opened = [inbound.unprotect(p) for p in packets[:200]]
    assert all(len(o) == len(p) - 16 for o, p in zip(opened, packets))  # GCM tag
    assert all(o[12:] != p[12:len(o)] for o, p in zip(opened, packets))


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_fingerprint_mismatch_fails_and_nothing_flows(certs: tuple[DtlsCertificate, ...],
                                                      who: str) -> None:
    net, alice, bob, _, _ = _call(certs, link=LinkConfig(delay=D), wrong=who)
    assert alice.media is not None and bob.media is not None
    alice.media.write(tone(440, 16000, 1.0))
    net.run(until=2.0)
    failed = {n: [e for e in net.events(n) if isinstance(e, DtlsKeyingFailed)]
              for n in ("alice", "bob")}
    (mine,) = failed[who]
    assert mine.kind is DtlsFailure.FINGERPRINT
    other = "bob" if who == "alice" else "alice"
    # The checking side sent an alert: the other side fails too (or never completes).
    assert [e.kind for e in failed[other]] == [DtlsFailure.HANDSHAKE]
    assert not any(isinstance(e, DtlsKeyed) for n in ("alice", "bob") for e in net.events(n))
    assert not [e for e in net.trace if e.data[0] >= 128]  # no RTP/RTCP at all
    assert not [f for f in drain_frames(bob.media) if f.flags.is_speech]


def test_lost_clienthellos_retransmitted_at_exact_instants(certs: tuple[DtlsCertificate, ...]) -> None:
    lost: list[float] = []

    def drop(now: float, data: bytes) -> bool:
        if _flight(data, 1) and len(lost) < 2:  # the first two ClientHellos
            lost.append(now)
            return True
        return False

    net, alice, bob, _, lb = _call(certs, link=LinkConfig(delay=D), bob_drop=drop)
    net.run(until=5.0)
    hellos = [t for t, d, _ in lb.log if _flight(d, 1)]
    assert hellos == [0.0, 1.0, 3.0]  # RFC 6347 §4.2.4.1: 1 s, then doubled
    assert lost == [0.0, 1.0]
    assert _keyed(net, "bob").time == pytest.approx(3.0 + 4 * D)
    assert _keyed(net, "alice").time == pytest.approx(3.0 + 3 * D)


def test_lost_final_flight_resent_when_peer_retransmits(certs: tuple[DtlsCertificate, ...]) -> None:
    sends: list[float] = []

    def drop(now: float, data: bytes) -> bool:
        # Alice's final flight (ChangeCipherSpec + Finished) is lost once.
        if 20 in _content_types(data) and not sends:
            sends.append(now)
            return True
        return False

    net, alice, bob, la, lb = _call(certs, link=LinkConfig(delay=D), alice_drop=drop, answer_at=0.0)
    net.run(until=3.0)
    assert sends == [pytest.approx(3 * D)]
    # Bob's flight 3 (sent at 2D) times out after 1 s; alice answers with her final flight
    # at once (RFC 6347 §4.2.4), so bob is keyed one timer + 2 trips later.
    bob_flights = [t for t, d, _ in lb.log if d[0] == 22 and not _flight(d, 1)]
    assert bob_flights[0] == pytest.approx(2 * D) and bob_flights[-1] == pytest.approx(1 + 2 * D)
    assert _keyed(net, "bob").time == pytest.approx(1 + 4 * D)
    assert _keyed(net, "alice").time == pytest.approx(3 * D)


def test_nobody_answers_times_out_on_schedule(certs: tuple[DtlsCertificate, ...]) -> None:
    _, _, _, _, b_params, _, b_neg = _exchange(certs)
    bob = DtlsMediaLeg(certificate=certs[1], media=_media(b_neg, 1), params=b_params, now=0.0)
    lb = Lossy(bob, lambda now, data: False)
    net = Network(link=LinkConfig(delay=D), record_trace=False)
    net.add_node("bob", B, lb)  # nobody at A
    net.run(until=130.0)
    assert [t for t, d, _ in lb.log if _flight(d, 1)] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    (ev,) = [e for e in net.events("bob") if isinstance(e, DtlsKeyingFailed)]
    assert ev.kind is DtlsFailure.TIMEOUT and ev.time == 63.0 + 60.0  # doubling capped at 60 s
    assert not [d for _, d, _ in lb.log if d[0] >= 128]


def test_demux_and_order_of_attach(certs: tuple[DtlsCertificate, ...]) -> None:
    _, _, _, a_params, b_params, a_neg, b_neg = _exchange(certs)
    alice = DtlsMediaLeg(certificate=certs[0], remote=B)  # no media yet
    bob = DtlsMediaLeg(certificate=certs[1], params=b_params, remote=A, now=0.0)
    alice.receive(b"\x00\x01\x00\x00" + bytes(16), B, 0.0)   # STUN binding request
    alice.receive(b"\x10" + bytes(20), B, 0.0)              # ZRTP
    alice.receive(b"\x80\x00" + bytes(170), B, 0.0)         # RTP before any keys
    assert (alice.other_dropped, alice.media_dropped) == (2, 1)
    alice.set_params(a_params, 0.0)
    now = 0.0
    for _ in range(10):  # hand datagrams across without a network
        for src, dst, addr in ((bob, alice, B), (alice, bob, A)):
            for sent in src.datagrams_to_send(now):
                dst.receive(sent.data, addr, now)
        now += 0.01
    assert alice.keys is not None and bob.keys is not None
    with pytest.raises(LocalProtocolError, match="set_params in state connected"):
        alice.set_params(a_params, now)
    media = _media(a_neg, 3)
    alice.attach(media)  # keyed after the handshake: keys go in at once
    b_media = _media(b_neg, 4)
    bob.attach(b_media)
    b_media.write(tone(1000, 16000, 0.5))
    t = 0.0
    while t < 0.6:
        for leg in (alice, bob):
            leg.handle_timeout(t)
        for src, dst, addr in ((bob, alice, B), (alice, bob, A)):
            for tr in src.datagrams_to_send(t):
                dst.receive(tr.data, addr, t)
        t += 0.02
    speech = [f for f in drain_frames(media) if f.flags.is_speech]
    assert len(speech) > 15 and media.health().srtp_errors == 0


def test_random_datagrams_never_raise(certs: tuple[DtlsCertificate, ...]) -> None:
    from hypothesis import given, settings, strategies as st

    _, _, _, a_params, _, a_neg, _ = _exchange(certs)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.binary(max_size=300), max_size=6), st.booleans())
    def run(datagrams: list[bytes], started: bool) -> None:
        leg = DtlsMediaLeg(certificate=certs[0], media=_media(a_neg, 5),
                           params=a_params if started else None, now=0.0)
        for i, d in enumerate(datagrams):
            leg.receive(d, B, i * 0.01)
            leg.datagrams_to_send(i * 0.01)
            leg.handle_timeout(i * 0.01)
            while leg.next_event() is not None:
                pass
        assert leg.keys is None and not leg.media_dropped > len(datagrams)

    run()


def test_reoffers_keep_the_association(certs: tuple[DtlsCertificate, ...]) -> None:
    """Hold/resume re-offers after a DTLS-SRTP call is up (RFC 8842 §5): with the settled
    capabilities each side keeps its role and tls-id, an automatic answer never says actpass,
    and the new parameters describe the same association; a new tls-id does not."""
    rng = random.Random(9)
    audio, pending = dtls_offer(attrs.evolve(PLAIN, port=A[1]), certs[0], rng=rng)
    alice = OfferAnswer(local=LocalCapabilities(address=A[0], media=(audio,)), rng=rng)
    offer = bytes(alice.create_offer())
    bob_audio, bob_params = dtls_answer(attrs.evolve(PLAIN, port=B[1]), offer, certs[1], rng=rng)
    assert bob_params is not None and bob_params.local_tls_id is not None
    bob = OfferAnswer(local=LocalCapabilities(address=B[0], media=(bob_audio,)), rng=rng)
    answer = bob.answer_offer(offer)[0]
    a_session = alice.process_answer(bytes(answer))
    assert a_session.audio is not None
    alice_params = dtls_from_answer(pending, a_session.audio, remote_sdp=a_session.remote_sdp)
    assert alice_params is not None
    assert alice_params.remote_tls_id == bob_params.local_tls_id
    assert alice_params.local_tls_id == bob_params.remote_tls_id == pending.tls_id
    # Both sides keep settled capabilities on the dialog.
    alice.local = LocalCapabilities(address=A[0], media=(dtls_keep_association(audio, alice_params),))
    bob.local = LocalCapabilities(address=B[0], media=(dtls_keep_association(bob_audio, bob_params),))
    # Bob (the answerer) puts alice on hold; alice's OfferAnswer answers on its own.
    reoffer = bytes(bob.create_offer(hold=True))
    assert b"a=setup:active" in reoffer and f"tls-id:{bob_params.local_tls_id}".encode() in reoffer
    reanswer = bytes(alice.answer_offer(reoffer)[0])
    assert b"a=setup:passive" in reanswer and b"actpass" not in reanswer
    b_neg = bob.process_answer(reanswer)
    assert b_neg.audio is not None
    again = dtls_from_answer(DtlsOffer(setup=Setup.ACTIVE, fingerprints=(), tls_id=bob_params.local_tls_id),
                             b_neg.audio, remote_sdp=b_neg.remote_sdp)
    assert again is not None and bob_params.same_association(again)
    # Alice re-offers (resume) with her settled role; bob answers keeping his tls-id.
    reoffer2 = bytes(alice.create_offer())
    assert b"a=setup:passive" in reoffer2
    _, bob_again = dtls_answer(attrs.evolve(PLAIN, port=B[1]), reoffer2, certs[1], rng=rng,
                               tls_id=bob_params.local_tls_id)
    assert bob_again is not None and bob_params.same_association(bob_again)
    # A peer that restarts with a new tls-id (or another certificate) starts a new association.
    fresh = reoffer2.replace(pending.tls_id.encode(), b"A" * 24)
    _, new = dtls_answer(attrs.evolve(PLAIN, port=B[1]), fresh, certs[1], rng=rng)
    assert new is not None and not bob_params.same_association(new)
    assert not bob_params.same_association(attrs.evolve(bob_again, remote_fingerprints=(
        certs[2].fingerprint(),)))


def test_close_sends_srtcp_bye_then_close_notify(certs: tuple[DtlsCertificate, ...]) -> None:
    from rvoip_sansio.srtp import DtlsClosed

    net, alice, bob, la, _ = _call(certs, link=LinkConfig(delay=D))
    net.run(until=0.5)

    def hang_up(now: float) -> None:
        alice.close(now)
        net.poke(net.node("alice"))

    net.at(0.51, hang_up)
    net.run(until=1.0)
    last = [d for t, d, _ in la.log if t == 0.51]
    # RTCP (SRTCP, RFC 5761 packet type in the clear) first, then an alert record (21).
    assert 128 <= last[0][0] <= 191 and 200 <= last[0][1] <= 204
    assert _content_types(last[-1]) == [21]
    assert any(isinstance(e, DtlsClosed) for e in net.events("bob"))
    assert alice.state is DtlsState.CLOSED
