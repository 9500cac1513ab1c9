"""DTLS-SRTP interop with a live baresip 1.0 (its ``dtls_srtp`` module) on 127.0.0.1 (issue 6 §3).

Our side is the ``UserAgent`` plus a :class:`~rvoip_sansio.callmedia.DtlsMediaLeg` on the
asyncio adapter's UDP sockets (no ``Phone``): the SDP carries ``UDP/TLS/RTP/SAVP``,
``a=fingerprint`` and ``a=setup`` (RFC 5763/8842), the handshake runs on the RTP socket
(RFC 7983 demultiplexing, rtcp-mux), and the SRTP keys come from the exporter (RFC 5764).
Both directions: we call baresip (we offer actpass, baresip answers) and baresip calls us
(baresip offers, we answer active). baresip plays 440 Hz, we play 1000 Hz, PCMU; each side's
decoded audio is checked by frequency and level, and baresip's log must show that it verified
our fingerprint and completed DTLS-SRTP. Figures: docs/srtp.md.
"""

from __future__ import annotations

import asyncio
import random
import string
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.adapters.asyncio import UdpEndpoint, open_udp_endpoint
from rvoip_sansio.callmedia import (
    DTLS_PROTOS, UDP_TLS_SAVP, AudioFrame, CallMedia, CallMediaConfig, DtlsFailure, DtlsKeyed,
    DtlsKeyingFailed,
    DtlsMediaLeg, DtlsOffer, DtlsParams, dtls_answer, dtls_from_answer, dtls_offer,
)
from rvoip_sansio.dialog import Call, CallAnswered, CallEnded, IncomingCall, UAConfig, UserAgent
from rvoip_sansio.media import ToneSource, wav_bytes
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities, NegotiatedMedia
from rvoip_sansio.srtp import DtlsCertificate, DtlsRole
from tests.conftest import require_module, require_program
from tests.interop.test_baresip_media import Baresip as MediaBaresip
from tests.interop.test_baresip_media import _free_port
from tests.interop.test_baresip_media import tone as measure

pytestmark = pytest.mark.interop

TEMPLATES = Path(__file__).parent / "baresip_dtls"
MODULE = Path("/usr/lib/baresip/modules/dtls_srtp.so")
RATE = 16000  # the rate our side reads and writes
LEVEL = -10.0  # dBm0, both tones
THEIR_TONE, OUR_TONE = 440.0, 1000.0
TALK = 3.0  # seconds of audio per call
FREQ_TOL, LEVEL_TOL = 5.0, 2.0  # Hz, dB
HOST = "127.0.0.1"


class Baresip(MediaBaresip):
    """One baresip process (PCMU, dtls_srtp) made from this test's templates; ``ready``,
    ``stop`` and ``heard`` (the audio its sndfile module decoded) come from the media test's
    harness."""

    def __init__(self, tmp: Path, dial: str | None = None) -> None:
        self.port = _free_port()
        self.record = tmp / "recorded"
        self.record.mkdir()
        source = tmp / "baresip-plays.wav"
        source.write_bytes(wav_bytes(ToneSource(freqs=(THEIR_TONE,), rate=8000, level_dbm0=LEVEL)
                                     .read(int((TALK + 4) * 8000)), 8000, 1))
        cfg = tmp / "baresip"
        cfg.mkdir()
        values = dict(sip_port=self.port, source_wav=source, record_dir=self.record)
        for name in ("config", "accounts"):
            text = (TEMPLATES / f"{name}.in").read_text()
            (cfg / name).write_text(string.Template(text).substitute(values))
        self.log = tmp / "baresip.log"
        args = [require_program("baresip"), "-s", "-4", "-n", HOST, "-f", str(cfg), "-t", "20"]
        if dial:
            args += ["-e", f"/dial {dial}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)


class Lossy:
    """The leg, with the incoming datagrams for which ``drop(data)`` is true and the outgoing
    ones for which ``drop_out(data)`` is true lost, as a lossy network would lose them."""

    def __init__(self, leg: DtlsMediaLeg, drop: Callable[[bytes], bool],
                 drop_out: Callable[[bytes], bool]) -> None:
        self.leg, self.drop, self.drop_out = leg, drop, drop_out
        self.dropped: list[bytes] = []
        #: DTLS datagrams seen: (now, "in"/"out"/"lost in"/"lost out", size)
        self.dtls: list[tuple[float, str, int]] = []

    def receive(self, data: bytes, source: Address, now: float) -> None:
        lost = self.drop(data)
        if 20 <= data[0] <= 63:
            self.dtls.append((now, "lost in" if lost else "in", len(data)))
        if lost:
            self.dropped.append(data)
            return
        self.leg.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out = []
        for t in self.leg.datagrams_to_send(now):
            lost = self.drop_out(t.data)
            if 20 <= t.data[0] <= 63:
                self.dtls.append((now, "lost out" if lost else "out", len(t.data)))
            if not lost:
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


def _has_ccs(data: bytes) -> bool:
    """A datagram holding a ChangeCipherSpec record (content type 20, RFC 6347 §4.1)."""
    pos = 0
    while pos + 13 <= len(data):
        if data[pos] == 20:
            return True
        pos += 13 + int.from_bytes(data[pos + 11:pos + 13], "big")
    return False


class OurSide:
    """A UserAgent on one UDP socket and one DTLS-SRTP media leg on another."""

    def __init__(self, drop: Callable[[bytes], bool] | None = None,
                 drop_out: Callable[[bytes], bool] | None = None) -> None:
        self.cert = DtlsCertificate.generate(rng=random.Random(5))
        self.rng = random.Random(6)
        self.sip_events: asyncio.Queue[Event] = asyncio.Queue()
        self.media_events: list[tuple[float, Event]] = []
        self.leg = DtlsMediaLeg(certificate=self.cert, call_id="interop")
        self.filter = Lossy(self.leg, drop or (lambda data: False),
                            drop_out or (lambda data: False))
        self.ua: UserAgent
        self.sip: UdpEndpoint
        self.rtp: UdpEndpoint

    async def open(self) -> None:
        local = (HOST, _free_port())
        self.ua = UserAgent(config=UAConfig(local=local, user="alice"), rng=self.rng)
        self.sip = await open_udp_endpoint(self.ua, local,
                                           on_event=lambda ev, now: self.sip_events.put_nowait(ev))
        self.rtp = await open_udp_endpoint(self.filter, (HOST, 0),
                                           on_event=lambda ev, now: self.media_events.append((now, ev)))

    @property
    def local_sip_port(self) -> int:
        return int(self.sip.local_address[1])

    def audio(self) -> MediaCapabilities:
        return MediaCapabilities(codecs=(PCMU,), port=self.rtp.local_address[1], rtcp_mux=True)

    async def next_sip(self, kind: type[Event], timeout: float = 8.0) -> Any:
        while True:
            ev = await asyncio.wait_for(self.sip_events.get(), timeout)
            if isinstance(ev, kind):
                return ev
            assert not isinstance(ev, CallEnded), ev

    async def call(self, peer: Baresip) -> tuple[Call, DtlsOffer, NegotiatedMedia]:
        """INVITE baresip with a DTLS-SRTP offer; (call, our pending offer, its answer)."""
        await peer.ready()
        audio, pending = dtls_offer(self.audio(), self.cert, rng=self.rng)
        caps = LocalCapabilities(address=HOST, media=(audio,))
        call = self.sip.call(lambda now: self.ua.invite(f"sip:bob@{HOST}:{peer.port}", now,
                                                        media=caps))
        answered = await self.next_sip(CallAnswered)
        return call, pending, answered.media.audio

    def start_media(self, negotiated: NegotiatedMedia, params: DtlsParams) -> None:
        def start(now: float) -> None:
            cfg = CallMediaConfig.from_negotiated(negotiated, rate=RATE, receive_queue_frames=1000)
            assert cfg.srtp_required
            self.leg.attach(CallMedia(config=cfg, rng=random.Random(7), now=now))
            self.leg.set_params(params, now)
        self.rtp.call(start)

    async def keyed(self, timeout: float = 5.0) -> DtlsKeyed:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for _, ev in self.media_events:
                if isinstance(ev, DtlsKeyed):
                    return ev
                assert not isinstance(ev, DtlsKeyingFailed), ev
            await asyncio.sleep(0.01)
        raise AssertionError(f"DTLS not keyed within {timeout} s: {self.media_events}")

    async def talk(self, seconds: float) -> list[AudioFrame]:
        media = self.leg.media
        assert media is not None
        source = ToneSource(freqs=(OUR_TONE,), rate=RATE, level_dbm0=LEVEL)
        loop = asyncio.get_running_loop()
        start, written, frames = loop.time(), 0, []
        while (t := loop.time() - start) < seconds:
            want = min(int((t + 0.3) * RATE), int(seconds * RATE)) - written
            if want > 0:
                written += int(self.rtp.call(lambda now: media.write(source.read(want), RATE)))
            while (f := media.read_frame()) is not None:
                frames.append(f)
            await asyncio.sleep(0.05)
        return frames

    async def close(self) -> None:
        self.rtp.call(lambda now: self.leg.close(now))
        await asyncio.sleep(0.05)
        await self.rtp.close()
        await self.sip.close()


def check(ours: OurSide, frames: list[AudioFrame], peer: Baresip, keyed: DtlsKeyed,
          log: str, max_dropped: int = 5) -> dict[str, Any]:
    """Audio both ways, and at most ``max_dropped`` of baresip's SRTP packets arriving
    before we were keyed (it is keyed first when it is the DTLS server)."""
    media = ours.leg.media
    assert media is not None
    # Ours: baresip's 440 Hz, decrypted (only authenticated SRTP reaches the media).
    speech = [f.samples for f in frames if f.flags.is_speech]
    assert speech, "no audio received from baresip"
    freq, level, n = measure(np.concatenate(speech), RATE)
    assert n > RATE, f"only {n} samples of tone received"
    assert abs(freq - THEIR_TONE) <= FREQ_TOL and abs(level - LEVEL) <= LEVEL_TOL, (freq, level)
    health = media.health()
    assert health.srtp_errors == 0 and ours.leg.media_dropped <= max_dropped, \
        (health, ours.leg.media_dropped)
    # Theirs: baresip checked our fingerprint, completed DTLS-SRTP and decoded our 1000 Hz.
    assert "dtls_srtp: verified sha-256 fingerprint OK" in log, log
    assert "DTLS-SRTP complete" in log, log
    pcm, rate = peer.heard()
    tfreq, tlevel, tn = measure(pcm, rate)
    assert tn > rate, f"baresip recorded only {tn} samples of tone"
    assert abs(tfreq - OUR_TONE) <= FREQ_TOL and abs(tlevel - LEVEL) <= LEVEL_TOL, (tfreq, tlevel)
    return dict(profile=keyed.profile.value, role=keyed.role.value,
                handshake_ms=round(keyed.handshake_seconds * 1000, 1),
                dtls_sent=keyed.datagrams_sent, dtls_received=keyed.datagrams_received,
                dtls_total=(ours.leg.dtls_sent, ours.leg.dtls_received),
                dtls_ladder=[(round(t - ours.filter.dtls[0][0], 3), d, n) for t, d, n in ours.filter.dtls],
                rtp_before_keys=ours.leg.media_dropped, we_heard=(round(freq, 1), round(level, 1)),
                baresip_heard=(round(tfreq, 1), round(tlevel, 1)))


def _run(tmp: Path, scenario: Callable[[OurSide, Path], Any],
         drop: Callable[[bytes], bool] | None = None,
         drop_out: Callable[[bytes], bool] | None = None) -> dict[str, Any]:
    require_module("OpenSSL")
    if not MODULE.exists():
        pytest.skip("baresip's dtls_srtp module not found")
    return asyncio.run(asyncio.wait_for(scenario(OurSide(drop, drop_out), tmp), 30))


async def _we_call_baresip(ours: OurSide, tmp: Path) -> dict[str, Any]:
    await ours.open()
    peer = Baresip(tmp)
    try:
        call, pending, neg = await ours.call(peer)
        assert neg.proto == UDP_TLS_SAVP and neg.codec is not None and neg.codec.name == "PCMU"
        params = dtls_from_answer(pending, neg)
        assert params is not None
        ours.start_media(neg, params)
        keyed = await ours.keyed()
        frames = await ours.talk(TALK)
        ours.sip.call(lambda now: call.hangup(now))
        await ours.next_sip(CallEnded)
        await ours.close()
        await asyncio.sleep(0.3)  # baresip closes its recording on the BYE
        result = check(ours, frames, peer, keyed, peer.stop())
        result["baresip_setup"] = params.remote_setup.value
        return result
    finally:
        peer.stop()


def test_we_call_baresip_dtls_srtp(tmp_path: Path) -> None:
    """We offer UDP/TLS/RTP/SAVP with a=setup:actpass; baresip answers (its role decides ours)."""
    result = _run(tmp_path, _we_call_baresip)
    print(f"\nwe call baresip, DTLS-SRTP: {result}")


def test_our_final_flight_lost_baresip_retransmits(tmp_path: Path) -> None:
    """We are the DTLS server (baresip answers active) and our final flight is lost once:
    baresip re-sends its flight after its timer, we answer with our final flight again
    (RFC 6347 §4.2.4), and baresip decodes our audio from then on."""
    lost: list[bool] = []

    def drop_out(data: bytes) -> bool:
        if not lost and _has_ccs(data):
            lost.append(True)
            return True
        return False

    result = _run(tmp_path, _we_call_baresip, drop_out=drop_out)
    assert lost and result["role"] == "server", result
    # One re-send of our final flight, when baresip's retransmitted flight (several
    # datagrams) ends with its Finished about 1 s later; the last "out" is close_notify.
    ladder = result["dtls_ladder"]
    lost_at = next(t for t, d, _ in ladder if d == "lost out")
    resent = [t for t, d, _ in ladder[:-2] if d == "out" and t > lost_at]
    assert len(resent) == 1 and 0.9 <= resent[0] - lost_at < 1.5, ladder  # its 1 s timer
    print(f"\nour final flight lost once: {result}")


async def _baresip_calls_us(ours: OurSide, tmp: Path, max_dropped: int = 5) -> dict[str, Any]:
    await ours.open()
    peer = Baresip(tmp, dial=f"sip:alice@{HOST}:{ours.local_sip_port}")
    try:
        incoming = await ours.next_sip(IncomingCall)
        offer = incoming.offer
        assert offer is not None and offer.media[0].proto in DTLS_PROTOS, incoming.request.body
        audio, params = dtls_answer(ours.audio(), offer, ours.cert, rng=ours.rng)
        assert params is not None
        caps = LocalCapabilities(address=HOST, media=(audio,))
        ours.sip.call(lambda now: incoming.call.answer(now, media=caps))
        neg = incoming.call.media.audio
        assert neg.proto == offer.media[0].proto
        ours.start_media(neg, params)
        keyed = await ours.keyed()
        assert keyed.role is DtlsRole.CLIENT
        frames = await ours.talk(TALK)
        ours.sip.call(lambda now: incoming.call.hangup(now))
        await ours.next_sip(CallEnded)
        await ours.close()
        await asyncio.sleep(0.3)
        result = check(ours, frames, peer, keyed, peer.stop(), max_dropped)
        result["baresip_setup"] = params.remote_setup.value
        return result
    finally:
        peer.stop()


def test_baresip_calls_us_dtls_srtp(tmp_path: Path) -> None:
    """baresip offers DTLS-SRTP; we answer a=setup:active and start the handshake (client)."""
    result = _run(tmp_path, _baresip_calls_us)
    print(f"\nbaresip calls us, DTLS-SRTP: {result}")


def test_baresip_final_flight_lost_we_retransmit(tmp_path: Path) -> None:
    """We are the DTLS client and baresip's final flight (ChangeCipherSpec + Finished) is lost
    once: our flight must be retransmitted after 1 s in a form an OpenSSL server accepts
    (new record sequence numbers, RFC 6347 §4.1; an identical copy is dropped as a replay),
    so that baresip re-sends its final flight and both ends key."""
    lost: list[bool] = []

    def drop(data: bytes) -> bool:
        if not lost and _has_ccs(data):
            lost.append(True)
            return True
        return False

    # baresip (the server) is keyed one second before us: its SRTP of that second is dropped.
    result = _run(tmp_path, lambda ours, tmp: _baresip_calls_us(ours, tmp, max_dropped=60), drop)
    assert lost and 1.0 <= result["handshake_ms"] / 1000 < 1.5, result
    print(f"\nbaresip's final flight lost once: {result}")


def test_wrong_fingerprint_for_baresip_fails_typed(tmp_path: Path) -> None:
    """Our SDP view of baresip's fingerprint is altered (as a tampered answer would be): the
    handshake must fail with DtlsKeyingFailed(FINGERPRINT), and no audio is played."""
    async def scenario(ours: OurSide, tmp: Path) -> dict[str, Any]:
        await ours.open()
        peer = Baresip(tmp)
        try:
            call, pending, neg = await ours.call(peer)
            params = dtls_from_answer(pending, neg)
            assert params is not None
            (fp,) = params.remote_fingerprints
            forged = attrs.evolve(fp, value=bytes(b ^ 1 for b in fp.value))
            ours.start_media(neg, attrs.evolve(params, remote_fingerprints=(forged,)))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3
            failed: list[DtlsKeyingFailed] = []
            while not failed and loop.time() < deadline:
                failed = [ev for _, ev in ours.media_events if isinstance(ev, DtlsKeyingFailed)]
                await asyncio.sleep(0.02)
            assert failed and failed[0].kind is DtlsFailure.FINGERPRINT, ours.media_events
            media = ours.leg.media
            assert media is not None and ours.leg.keys is None
            frames = []
            while (f := media.read_frame()) is not None:
                frames.append(f)
            assert not [f for f in frames if f.flags.is_speech]
            # The owner ends the call; baresip, which got our alert, may have sent BYE first.
            by_us = call.is_active
            if by_us:
                ours.sip.call(lambda now: call.hangup(now))
            ended = await ours.next_sip(CallEnded)
            await ours.close()
            return dict(kind=failed[0].kind.value, reason=failed[0].reason, ended_by_us=by_us,
                        end=ended.reason.value, rtp_dropped=ours.leg.media_dropped)
        finally:
            peer.stop()

    result = _run(tmp_path, scenario)
    print(f"\nforged fingerprint: {result}")
