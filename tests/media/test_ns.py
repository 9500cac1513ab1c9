"""Noise suppressor: SNR gain on speech-shaped noise (measured, printed), speech distortion,
transparent reconstruction, streaming."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.media.ns import NoiseSuppressor, NoiseSuppressorConfig, StftGainEngine
from rvoip_sansio.media.sources import speech_like, white_noise

from ._measure import scale_to_snr, speech_shaped_noise


def _measure(rate: int, snr: float) -> tuple[float, float, float]:
    s, _ = speech_like(rate, 12.0, level_dbov=-20, rng=random.Random(1))
    s = s.astype(float)
    n = scale_to_snr(speech_shaped_noise(len(s), 2, s), s, snr)
    y = np.clip(s + n, -32768, 32767).astype(np.int16)
    ns = NoiseSuppressor(rate)
    f = rate // 50
    outs, so, no = [], [], []
    for i in range(0, len(y), f):
        o, (a, b) = ns.process_with_shadows(y[i : i + f], [s[i : i + f], n[i : i + f]])
        outs.append(o)
        so.append(a)
        no.append(b)
    out = np.concatenate(outs).astype(float)
    s_out, n_out = np.concatenate(so), np.concatenate(no)
    lat, sk = ns.latency, rate  # skip the first second (noise estimate start-up)
    snr_in = 10 * np.log10(np.sum(s[sk:] ** 2) / np.sum(n[sk:] ** 2))
    # Shadow method: the same gains applied to speech and noise separately.
    gain = 10 * np.log10(np.sum(s_out[sk:] ** 2) / np.sum(n_out[sk:] ** 2)) - snr_in
    # Direct method: everything that is not the (delayed) clean speech counts as noise.
    err = out[lat + sk :] - s[sk : len(s) - lat]
    direct = 10 * np.log10(np.sum(s[sk : len(s) - lat] ** 2) / np.sum(err**2)) - snr_in
    distortion = 10 * np.log10(np.sum(s[sk:] ** 2) / np.sum(s_out[sk:] ** 2))
    return gain, direct, distortion


@pytest.mark.parametrize("rate", [8000, 16000])
def test_snr_gain_on_speech_shaped_noise(rate: int) -> None:
    for snr in (0, 5, 10):
        gain, direct, dist = _measure(rate, snr)
        print(f"\n[ns] {rate} Hz input SNR {snr:2d} dB: SNR gain {gain:.1f} dB (shadow), {direct:.1f} dB (direct); speech attenuated {dist:.1f} dB", end="")
        assert gain >= 6.0
        assert direct >= 2.0
        assert dist <= (6.0 if snr == 0 else 3.0)


def test_white_noise_alone_is_attenuated_to_the_floor() -> None:
    rate = 16000
    x = white_noise(rate, 4.0, level_dbov=-40, rng=random.Random(3))
    out = NoiseSuppressor(rate).process(x).astype(float)
    att = 10 * np.log10(np.mean(x[rate:].astype(float) ** 2) / np.mean(out[rate:] ** 2))
    print(f"\n[ns] stationary white noise alone: attenuated {att:.1f} dB (floor 18 dB)")
    assert 14.0 <= att <= 20.0


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_stft_reconstructs_exactly_at_unity_gain(rate: int) -> None:
    eng = StftGainEngine(rate)
    x = np.random.default_rng(1).standard_normal(rate // 2) * 1000
    y = eng.synthesise(eng.analyse(x))
    hop = eng.hop
    assert np.allclose(y[hop:], x[: len(y) - hop], atol=1e-9)


def test_frame_sizes_and_latency() -> None:
    rate = 8000
    x = white_noise(rate, 1.0, level_dbov=-30, rng=random.Random(4))
    a = NoiseSuppressor(rate)
    whole = a.process(x)
    assert len(whole) == len(x) and a.latency == 80
    b = NoiseSuppressor(rate)
    parts = [b.process(x[i : i + 37]) for i in range(0, len(x), 37)]
    joined = np.concatenate(parts)
    assert np.array_equal(joined, whole[: len(joined)])
    assert len(x) - len(joined) < 80
    c = NoiseSuppressor(rate, config=NoiseSuppressorConfig(max_attenuation_db=0.0))
    y = c.process(x)
    assert np.max(np.abs(y[80:].astype(int) - x[:-80].astype(int))) <= 1  # no attenuation allowed
