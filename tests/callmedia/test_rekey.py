"""Receive-only re-key (RFC 4568 §7.1.4): the peer's re-offer brings a new key for what it
sends; our send context goes on. Simulated time on rvoip_sansio.sim's network."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, SrtpDropped, SrtpKeys
from rvoip_sansio.srtp import SrtpPolicy

from .helpers import A, B, drain_frames, pair, peak_frequency, rms, tone

PROFILE = "AES_CM_128_HMAC_SHA1_80"
SWITCH = 1.01  # between two media ticks


def _policy(seed: int) -> SrtpPolicy:
    return SrtpPolicy.from_key(PROFILE, random.Random(seed).randbytes(30))


def _tone(frames: list, t0: float, t1: float) -> np.ndarray:
    keep = [f.samples for f in frames
            if t0 <= f.time < t1 and f.flags.is_speech and rms(f.samples) > 500]
    return np.concatenate(keep) if keep else np.zeros(0, np.int16)


def _is_rtp(data: bytes) -> bool:
    return not 192 <= data[1] <= 223


def test_rekey_receive_keeps_audio_and_send_context() -> None:
    a_old, a_new, b_key = _policy(1), _policy(2), _policy(3)
    net, a, b = pair(seed=11, a_kw={"srtp": SrtpKeys(tx=a_old, rx=b_key)},
                     b_kw={"srtp": SrtpKeys(tx=b_key, rx=a_old)})
    a.write(tone(1000, 16000, 3.0))
    b.write(tone(440, 16000, 3.0))
    b_tx = b._srtp_tx

    def switch(now: float) -> None:
        # The peer re-offers with a new key for its own stream and sends under it at once;
        # we take the new receive key at the same instant (its old-key packets in flight
        # on the 20 ms path arrive after the switch).
        a.set_srtp(SrtpKeys(tx=a_new, rx=b_key))
        b.rekey_receive(a_new)

    net.at(SWITCH, switch)
    net.run(until=3.0)

    # Audio from the peer continues across the re-key (a gap of the dropped packets only).
    heard = drain_frames(b)
    before, after = _tone(heard, 0.3, SWITCH), _tone(heard, SWITCH + 0.1, 2.9)
    assert peak_frequency(before, 16000) == pytest.approx(1000, abs=1.0)
    assert peak_frequency(after, 16000) == pytest.approx(1000, abs=1.0)
    assert len(after) >= 0.95 * 1.8 * 16000
    # Old-key packets delivered after the switch: dropped and counted, reported as AUTH.
    late_old = [t for t in net.trace if t.src == A and _is_rtp(t.data)
                and t.sent < SWITCH and t.arrival is not None and t.arrival > SWITCH]
    assert late_old
    errors = b.health().srtp_errors
    assert errors == len(late_old)
    events = net.events("b")
    assert [e.kind for e in events if isinstance(e, SrtpDropped)] == ["AUTH"]
    # A replayed old-key packet later is dropped as well and counted.
    old = next(t.data for t in net.trace if t.src == A and _is_rtp(t.data) and t.sent < 0.5)
    b.receive(old, A, 3.0)
    assert b.health().srtp_errors == errors + 1

    # Our send context was not touched: one context, every RTP packet we sent counted in
    # it (a fresh context would have restarted the count and the rollover counter), and the
    # peer, whose receive context for us was built before the switch, heard us throughout.
    assert b._srtp_tx is b_tx
    sent_rtp = [t for t in net.trace if t.src == B and _is_rtp(t.data)]
    assert b_tx.packet_counts()[0] == len(sent_rtp)
    ours = drain_frames(a)
    x = _tone(ours, 0.3, 2.9)
    assert peak_frequency(x, 16000) == pytest.approx(440, abs=1.0)
    assert len(x) >= 0.95 * 2.6 * 16000


def test_rekey_receive_needs_keys() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=B), rng=random.Random(1), now=0.0)
    with pytest.raises(LocalProtocolError):
        m.rekey_receive(_policy(1))
