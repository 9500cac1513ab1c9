"""Signal builders and measurements shared by the media DSP tests and bench/bench_media.py."""

from __future__ import annotations

import numpy as np


def speech_shaped_noise(n: int, seed: int, ref: np.ndarray) -> np.ndarray:
    """Gaussian noise with the long-term spectrum of ``ref`` (smoothed over ~1/16 octave)."""
    g = np.random.default_rng(seed)
    spec = np.abs(np.fft.rfft(ref.astype(float), n))
    env = np.sqrt(np.convolve(spec**2, np.ones(65) / 65, "same"))
    return np.fft.irfft(np.fft.rfft(g.standard_normal(n)) * env, n)


def scale_to_snr(noise: np.ndarray, speech: np.ndarray, snr_db: float) -> np.ndarray:
    return noise / np.sqrt(np.mean(noise**2)) * np.sqrt(np.mean(speech.astype(float) ** 2)) * 10 ** (-snr_db / 20)


def room_impulse_response(rate: int, length_s: float, seed: int, *, delay_s: float = 0.004, erl_db: float = 10.0) -> np.ndarray:
    """A synthetic room echo path: a pure delay, then Gaussian taps under an exponential
    envelope decaying 60 dB over ``length_s`` (T60 = length), normalised so that white
    noise loses ``erl_db`` through it (echo return loss)."""
    g = np.random.default_rng(seed)
    n = int(rate * length_s)
    d = int(rate * delay_s)
    t = np.arange(n - d) / rate
    h = np.zeros(n)
    h[d:] = g.standard_normal(n - d) * 10 ** (-3 * t / length_s)
    return h / np.sqrt(np.sum(h * h)) * 10 ** (-erl_db / 20)
