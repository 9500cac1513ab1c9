"""Signal sources: tones, silence and noise, as whole arrays or as streaming objects.

Everything is deterministic: noise comes from an injected ``random.Random`` (or numpy
``Generator``), phases are carried across reads so a stream read in frames of any size is
sample-identical to one long read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from ._levels import FloatArray, NoiseRng, Pcm, dbm0_to_rms, dbov_to_rms, numpy_rng, to_int16

__all__ = [
    "samples_for",
    "tone",
    "silence",
    "white_noise",
    "pink_noise",
    "ToneSource",
    "NoiseSource",
    "speech_like",
]


def samples_for(duration: float, rate: int) -> int:
    """Number of samples in ``duration`` seconds at ``rate`` (rounded to nearest)."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if duration < 0:
        raise ValueError(f"duration must not be negative, got {duration}")
    return int(round(duration * rate))


def _tone_float(
    freqs: Sequence[float], amps: Sequence[float], rate: int, start: int, count: int
) -> FloatArray:
    n = np.arange(start, start + count, dtype=np.float64)
    out = np.zeros(count, dtype=np.float64)
    for f, a in zip(freqs, amps):
        # Phase reduced modulo one cycle in exact-ish arithmetic so long streams do not drift.
        out += a * np.sin(2.0 * np.pi * ((f * n / rate) % 1.0))
    return out


def tone(
    freqs: float | Sequence[float],
    rate: int,
    duration: float,
    *,
    level_dbm0: float | Sequence[float] = -10.0,
) -> Pcm:
    """A sum of sines; ``level_dbm0`` is per frequency (one value, or one per frequency)."""
    fl = [float(freqs)] if isinstance(freqs, (int, float)) else [float(f) for f in freqs]
    levels = (
        [float(level_dbm0)] * len(fl)
        if isinstance(level_dbm0, (int, float))
        else [float(x) for x in level_dbm0]
    )
    if len(levels) != len(fl):
        raise ValueError("need one level per frequency")
    amps = [dbm0_to_rms(lv) * math.sqrt(2.0) for lv in levels]
    return to_int16(_tone_float(fl, amps, rate, 0, samples_for(duration, rate)))


def silence(rate: int, duration: float) -> Pcm:
    """Digital silence."""
    return np.zeros(samples_for(duration, rate), dtype=np.int16)


def white_noise(rate: int, duration: float, *, level_dbov: float, rng: NoiseRng) -> Pcm:
    """Gaussian white noise at an RMS level of ``level_dbov``."""
    g = numpy_rng(rng)
    x = g.standard_normal(samples_for(duration, rate)) * dbov_to_rms(level_dbov)
    return to_int16(x)


def pink_noise(rate: int, duration: float, *, level_dbov: float, rng: NoiseRng) -> Pcm:
    """Noise with a 1/f power spectrum (shaped in the frequency domain), at ``level_dbov``."""
    g = numpy_rng(rng)
    n = samples_for(duration, rate)
    if n == 0:
        return np.zeros(0, dtype=np.int16)
    spec = np.fft.rfft(g.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    x *= dbov_to_rms(level_dbov) / max(float(np.sqrt(np.mean(x * x))), 1e-12)
    return to_int16(x)


@attrs.define(slots=True)
class ToneSource:
    """A continuous multi-frequency tone read in frames of any size, phase-continuous."""

    freqs: tuple[float, ...]
    rate: int
    level_dbm0: float = -10.0
    _pos: int = attrs.field(default=0, init=False)

    def read(self, count: int) -> Pcm:
        amp = dbm0_to_rms(self.level_dbm0) * math.sqrt(2.0)
        out = _tone_float(self.freqs, [amp] * len(self.freqs), self.rate, self._pos, count)
        self._pos += count
        return to_int16(out)


@attrs.define(slots=True)
class NoiseSource:
    """White Gaussian noise read in frames of any size, from an injected random source."""

    rate: int
    level_dbov: float
    rng: NoiseRng
    _gen: np.random.Generator = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._gen = numpy_rng(self.rng)

    def read(self, count: int) -> Pcm:
        return to_int16(self._gen.standard_normal(count) * dbov_to_rms(self.level_dbov))


# Vowel formants (F1, F2, F3 in Hz; Peterson & Barney averages for adult speakers).
_VOWELS: tuple[tuple[float, float, float], ...] = (
    (730.0, 1090.0, 2440.0),  # /a/
    (270.0, 2290.0, 3010.0),  # /i/
    (300.0, 870.0, 2240.0),  # /u/
    (530.0, 1840.0, 2480.0),  # /e/
    (570.0, 840.0, 2410.0),  # /o/
    (660.0, 1720.0, 2410.0),  # /ae/
)


def _formant_gain(f: FloatArray, formants: tuple[float, float, float]) -> FloatArray:
    """Magnitude of a cascade of three resonators (bandwidths 80/100/120 Hz) at ``f``."""
    g = np.ones_like(f)
    for fc, bw in zip(formants, (80.0, 100.0, 120.0)):
        g *= fc * fc / np.sqrt((fc * fc - f * f) ** 2 + (bw * f) ** 2)
    # Glottal source roll-off (about -12 dB/octave above 100 Hz) and lip radiation (+6).
    return g * np.minimum(1.0, 100.0 / np.maximum(f, 1.0))


def speech_like(
    rate: int,
    duration: float,
    *,
    level_dbov: float = -20.0,
    rng: NoiseRng,
    pause_fraction: float = 0.35,
) -> tuple[Pcm, npt.NDArray[np.bool_]]:
    """A synthetic talker: voiced syllables (harmonic, formant-shaped, gliding pitch),
    fricatives and pauses. Returns ``(pcm, active)`` where ``active`` marks each sample that
    belongs to a syllable (the ground truth for VAD tests). Deterministic for a given rng.

    Active stretches are at ``level_dbov`` (RMS over the active samples).
    """
    g = numpy_rng(rng)
    n_total = samples_for(duration, rate)
    out = np.zeros(n_total, dtype=np.float64)
    active = np.zeros(n_total, dtype=np.bool_)
    pos = int(g.integers(0, max(1, rate // 10)))
    base_f0 = float(g.uniform(95.0, 220.0))
    while pos < n_total:
        syl = int(rate * g.uniform(0.12, 0.32))
        seg = min(syl, n_total - pos)
        t = np.arange(seg, dtype=np.float64) / rate
        if g.random() < 0.2:  # fricative: high-passed noise
            spec = np.fft.rfft(g.standard_normal(seg))
            f = np.fft.rfftfreq(seg, 1.0 / rate)
            spec *= np.clip((f - 2000.0) / 1500.0, 0.0, 1.0)
            x = np.fft.irfft(spec, seg) if seg > 1 else np.zeros(seg)
        else:
            f0 = base_f0 * (1.0 + 0.15 * np.sin(2 * np.pi * g.uniform(1.0, 3.0) * t + g.uniform(0, 6.3)))
            f0 *= 1.0 + 0.01 * g.standard_normal()  # jitter per syllable
            phase = 2 * np.pi * np.cumsum(f0) / rate
            v0 = _VOWELS[int(g.integers(len(_VOWELS)))]
            v1 = _VOWELS[int(g.integers(len(_VOWELS)))]
            mix = t / max(t[-1], 1e-9) if seg > 1 else np.zeros(seg)
            x = np.zeros(seg)
            kmax = int((rate / 2 - 100) / (base_f0 * 1.2))
            for k in range(1, kmax + 1):
                fk = k * f0
                amp = (1 - mix) * _formant_gain(fk, v0) + mix * _formant_gain(fk, v1)
                amp = np.where(fk < rate / 2 - 50, amp, 0.0)
                x += amp * np.sin(k * phase)
        env = np.sin(np.pi * np.arange(seg) / max(seg, 1)) ** 0.5
        x *= env
        r = float(np.sqrt(np.mean(x * x))) if seg else 0.0
        if r > 0:
            out[pos : pos + seg] = x / r * dbov_to_rms(level_dbov) * float(g.uniform(0.6, 1.4))
            active[pos : pos + seg] = env > 0.3
        pos += seg
        if g.random() < pause_fraction:
            pos += int(rate * g.uniform(0.15, 0.6))
        else:
            pos += int(rate * g.uniform(0.01, 0.04))
    return to_int16(out), active
