"""Speech-like test signals: a glottal pulse train with varying pitch through formant filters,
shaped into syllables, with fricative noise and a low noise floor (seeded, deterministic)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

# (F1, F2, F3) in Hz of a few vowels (Peterson & Barney averages, male voices).
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
          (660, 1720, 2410), (490, 1350, 1690), (570, 840, 2410)]


def _resonator(x: np.ndarray, freq: float, bw: float, rate: int) -> np.ndarray:
    r = np.exp(-np.pi * bw / rate)
    theta = 2 * np.pi * freq / rate
    a = [1.0, -2 * r * np.cos(theta), r * r]
    return lfilter([1 - r], a, x)


def speech_like(seconds: float, rate: int, seed: int = 1, level: float = 0.25) -> np.ndarray:
    """int16 speech-like signal at ``rate`` (peak about ``level`` of full scale)."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    out = np.zeros(total)
    pos = int(0.15 * rate)
    while pos < total:
        dur = int(rng.uniform(0.12, 0.32) * rate)
        seg_n = min(dur, total - pos)
        t = np.arange(seg_n) / rate
        # Pitch: a base per syllable, a slow glide and a little jitter.
        f0 = rng.uniform(95, 210) * (1 + 0.12 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        f0 *= 1 + 0.01 * rng.standard_normal(seg_n)
        phase = np.cumsum(f0 / rate)
        frac = phase % 1.0
        # Rosenberg-like glottal flow derivative: a smooth opening, a sharp closure.
        src = np.where(frac < 0.4, np.sin(np.pi * frac / 0.4), 0.0)
        src = np.diff(src, prepend=0.0)
        v = VOWELS[int(rng.integers(len(VOWELS)))]
        voiced = src
        for f, bw in zip(v, (80, 120, 160)):
            if f < rate / 2 - 200:
                voiced = _resonator(voiced, f, bw, rate) * 4
        if rate >= 16000:
            voiced = voiced + 0.3 * _resonator(src, 3500, 250, rate) * 4
        env = np.sin(np.pi * np.arange(seg_n) / seg_n) ** 0.6
        seg = voiced * env
        if rng.random() < 0.5:  # a fricative onset
            fn = min(int(rng.uniform(0.03, 0.08) * rate), seg_n)
            noise = rng.standard_normal(fn)
            noise = lfilter([1, -0.95], [1], noise)  # tilt up like /s/
            seg[:fn] += 0.15 * noise * np.hanning(fn) * np.abs(seg).max()
        out[pos : pos + seg_n] += seg
        pos += seg_n + int(rng.uniform(0.03, 0.2) * rate)
    out /= np.abs(out).max() + 1e-9
    out = out * level * 32767 + rng.standard_normal(total) * 3.0
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def tones(seconds: float, rate: int, freqs: tuple[float, ...] = (440.0, 1004.0, 2600.0)) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs if f < rate / 2) * 6000 / len(freqs)
    return np.round(x).astype(np.int16)


def mixed_test_signal(seconds: float, rate: int, seed: int = 7) -> np.ndarray:
    """Speech-like + tones + noise bursts + a few full-scale clips: exercises every branch."""
    rng = np.random.default_rng(seed)
    x = speech_like(seconds, rate, seed).astype(np.float64)
    x += tones(seconds, rate) * 0.5
    x += rng.standard_normal(len(x)) * 300
    n = len(x)
    for _ in range(4):  # loud bursts that saturate the predictors
        a = int(rng.integers(0, n - rate // 10))
        x[a : a + rate // 20] = rng.choice([-32768, 32767], rate // 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)
