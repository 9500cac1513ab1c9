"""Two CallMedia over the simulated network: tones arrive with the right frequency and level,
losses are flagged as concealment, SRTP both profiles, latching, DTMF both ways."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.callmedia import AudioFlags, CallMedia, CallMediaConfig, SrtpKeys
from rvoip_sansio.codecs import ulaw_decode
from rvoip_sansio.rtp import DtmfReceived, RemoteAddressLatched, parse_rtp_header
from rvoip_sansio.sim import Fate, LinkConfig
from rvoip_sansio.srtp import SrtpPolicy

from .helpers import A, B, drain_frames, pair, peak_frequency, rms, tone

LOSSY = LinkConfig(delay=0.03, jitter=0.015, loss=0.03)


def _tone_frames(frames: list, min_rms: float = 500.0) -> np.ndarray:
    """Samples of the received frames that carry the tone (real packets, not filler)."""
    keep = [f.samples for f in frames if f.flags.is_speech and rms(f.samples) > min_rms]
    return np.concatenate(keep)


@pytest.mark.parametrize("rtpmap,pt,freq_ab,freq_ba", [
    ("PCMU/8000", 0, 440.0, 1000.0),
    ("PCMA/8000", 8, 1000.0, 440.0),
    ("G722/8000", 9, 1000.0, 440.0),
    ("opus/48000/2", 111, 440.0, 1000.0),   # system libopus (Debian libopus0)
])
def test_tone_both_ways_over_lossy_jittery_link(rtpmap: str, pt: int, freq_ab: float,
                                                 freq_ba: float) -> None:
    net, a, b = pair(seed=3, link=LOSSY, rtpmap=rtpmap, payload_type=pt)
    amp = 8000.0
    assert a.write(tone(freq_ab, 16000, 3.0, amp)) == 48000
    assert b.write(tone(freq_ba, 16000, 3.0, amp)) == 48000
    net.run(until=4.0)
    for rx, freq in ((b, freq_ab), (a, freq_ba)):
        x = _tone_frames(drain_frames(rx))
        assert len(x) > 2.5 * 16000  # ~3 % of frames were lost and concealed instead
        assert peak_frequency(x, 16000) == pytest.approx(freq, abs=1.0)
        # Level: a sine of amplitude A has RMS A/√2; G.711/G.722 keep it within 0.5 dB.
        level_db = 20 * np.log10(rms(x) / (amp / np.sqrt(2)))
        assert abs(level_db) < 0.5, level_db
        h = rx.health()
        assert h.frames_concealed > 0
        assert h.frames_dropped == 0


@pytest.mark.parametrize("profile", ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"])
def test_srtp_tone_and_wrong_key(profile: str) -> None:
    rng = random.Random(5)
    n = 28 if "GCM" in profile else 30
    ka, kb = rng.randbytes(n), rng.randbytes(n)
    keys_a = SrtpKeys(tx=SrtpPolicy.from_key(profile, ka), rx=SrtpPolicy.from_key(profile, kb))
    keys_b = SrtpKeys(tx=SrtpPolicy.from_key(profile, kb), rx=SrtpPolicy.from_key(profile, ka))
    net, a, b = pair(seed=4, link=LinkConfig(delay=0.02, jitter=0.01, loss=0.02),
                     a_kw={"srtp": keys_a}, b_kw={"srtp": keys_b})
    a.write(tone(440, 16000, 2.0))
    net.run(until=2.5)
    # What went over the wire is not plain RTP audio: the payload does not decode to a tone.
    wire = [t.data for t in net.trace if t.src == A and len(t.data) > 100]
    assert wire and all(len(d) > 172 for d in wire)  # 12 + 160 + auth tag
    x = _tone_frames(drain_frames(b))
    assert peak_frequency(x, 16000) == pytest.approx(440, abs=1.0)
    assert b.health().srtp_errors == 0
    # A receiver with the wrong key plays nothing and counts every packet.
    wrong = SrtpKeys(tx=SrtpPolicy.from_key(profile, kb),
                     rx=SrtpPolicy.from_key(profile, bytes(n)))
    net2, a2, b2 = pair(seed=4, a_kw={"srtp": keys_a}, b_kw={"srtp": wrong})
    a2.write(tone(440, 16000, 1.0))
    net2.at(1.2, lambda now: a2.pause())   # quiet before the end, so every packet arrived
    net2.run(until=1.5)
    frames = drain_frames(b2)
    assert all(f.flags & AudioFlags.SILENCE for f in frames)
    sent = sum(1 for t in net2.trace if t.src == A and t.fate is Fate.DELIVERED)
    assert b2.health().srtp_errors == sent


def test_concealed_frames_are_exactly_the_lost_packets() -> None:
    # No jitter, so the only reason to conceal is loss on the link.
    net, a, b = pair(seed=11, link=LinkConfig(delay=0.025, loss=0.06), b_kw={"rate": 8000})
    a.write(tone(440, 16000, 6.0))
    net.run(until=6.5)
    lost_ts = set()
    first_ts = None
    cutoff = 0
    for t in net.trace:
        if t.src != A or len(t.data) < 100 or t.sent >= 6.0:
            continue
        _pt, _m, _seq, ts, *_ = parse_rtp_header(t.data)
        if first_ts is None:
            first_ts = ts
        if t.sent < 6.0:
            cutoff = ts
            if t.fate is Fate.LOST:
                lost_ts.add(ts)
    frames = drain_frames(b)
    concealed_ts = {f.rtp_timestamp for f in frames if f.flags & AudioFlags.CONCEALED
                    and (f.rtp_timestamp - cutoff) % 2**32 > 2**31}  # sent before 6.0 s
    # The very first packet lost before the stream started is not "concealed" (nothing to
    # conceal yet); every other lost packet is, and nothing else is.
    lost_ts.discard(first_ts)
    assert len(lost_ts) > 10
    assert concealed_ts == lost_ts
    after = [f for f in frames if f.flags & AudioFlags.AFTER_GAP]
    assert len(after) >= 1


def test_latching_when_peer_sends_from_another_port() -> None:
    # B was told (by SDP) to send to port 40002, but A's packets come from 40000.
    net, a, b = pair(seed=2, b_kw={"remote_rtp": ("10.0.0.1", 40002)})
    a.write(tone(1000, 16000, 2.0))
    b.write(tone(440, 16000, 2.0))
    net.run(until=2.5)
    latched = [e for e in net.events("b") if isinstance(e, RemoteAddressLatched)]
    assert latched and latched[0].address == A
    x = _tone_frames(drain_frames(a))
    assert peak_frequency(x, 16000) == pytest.approx(440, abs=1.0)
    # Before latching B's packets went to the wrong port (no route).
    assert any(t.dst == ("10.0.0.1", 40002) for t in net.trace)


def test_dtmf_both_ways_separate_from_audio() -> None:
    net, a, b = pair(seed=8, link=LinkConfig(delay=0.02, jitter=0.005))
    a.write(tone(440, 16000, 3.0))
    net.at(0.5, lambda now: (a.send_dtmf("12#", now), net.poke(net.node("a"))))
    net.at(0.7, lambda now: (b.send_dtmf("*9", now), net.poke(net.node("b"))))
    net.run(until=3.0)
    got_b = "".join(e.digit or "?" for e in net.events("b") if isinstance(e, DtmfReceived))
    got_a = "".join(e.digit or "?" for e in net.events("a") if isinstance(e, DtmfReceived))
    assert got_b == "12#"
    assert got_a == "*9"


def test_from_negotiated_sdp() -> None:
    from rvoip_sansio.sdp import NegotiatedMedia
    from rvoip_sansio.sdp._capabilities import Codec, Direction

    nm = NegotiatedMedia(index=0, media="audio", proto="RTP/AVP", accepted=True,
                         remote_address="192.0.2.5", remote_port=4000,
                         codecs=(Codec(name="G722", clock_rate=8000, payload_type=9),
                                 Codec(name="telephone-event", clock_rate=8000,
                                       payload_type=101, fmtp="0-16")),
                         telephone_event=Codec(name="telephone-event", clock_rate=8000,
                                               payload_type=101),
                         direction=Direction.SENDRECV, ptime=20, rtcp_mux=True)
    cfg = CallMediaConfig.from_negotiated(nm, rate=24000)
    assert (cfg.rtpmap, cfg.payload_type, cfg.telephone_event_pt) == ("G722/8000", 9, 101)
    assert cfg.remote_rtp == ("192.0.2.5", 4000) and cfg.ptime == 0.02 and cfg.rate == 24000
    m = CallMedia(config=cfg, rng=random.Random(1), now=0.0)
    assert m.codec.info.sample_rate == 16000
    assert ulaw_decode(b"\xff").tolist() == [0]  # sanity of the G.711 silence code used


def test_dtmf_from_sip_info_is_the_same_event_type() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=B), rng=random.Random(1), now=0.0)
    m.dtmf_from_signalling("5", 0.16)
    ev = m.next_event()
    assert isinstance(ev, DtmfReceived)
    assert (ev.digit, ev.event, ev.duration, ev.ended) == ("5", 5, 1280, True)
    with pytest.raises(ValueError):
        m.dtmf_from_signalling("x")


def test_srtp_required_waits_for_keys() -> None:
    """DTLS-SRTP still running: nothing leaves and plain RTP is not played; then keys."""
    policy = SrtpPolicy.from_key("AES_CM_128_HMAC_SHA1_80", bytes(range(30)))
    keys = SrtpKeys(tx=policy, rx=policy)
    net, a, b = pair(seed=6, a_kw={"srtp": keys}, b_kw={"srtp_required": True})
    b.write(tone(440, 16000, 2.0))
    a.write(tone(1000, 16000, 2.0))
    net.run(until=0.5)
    assert not [t for t in net.trace if t.src == B]
    assert not any(f.flags.is_speech for f in drain_frames(b))
    net.at(0.5, lambda now: b.set_srtp(keys))
    net.run(until=2.0)
    x = _tone_frames(drain_frames(b))
    assert peak_frequency(x, 16000) == pytest.approx(1000, abs=1.0)
    assert [t for t in net.trace if t.src == B]
