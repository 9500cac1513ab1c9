"""Synthetic test signals that only the tests need (music-like; speech-like lives in sources)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rvoip_sansio.media._levels import dbov_to_rms, to_int16


def music_like(rate: int, duration: float, *, seed: int, level_dbov: float = -18.0) -> npt.NDArray[np.int16]:
    """Melodies and three-note chords of harmonic-rich notes (equal temperament, A4 = 440 Hz),
    with vibrato on some notes. Notes are picked across C4..C7, the DTMF band included."""
    g = np.random.default_rng(seed)
    n = int(rate * duration)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        dur = int(rate * g.uniform(0.08, 0.5))
        seg = min(dur, n - pos)
        t = np.arange(seg) / rate
        notes = g.integers(-9, 27, size=int(g.choice([1, 1, 2, 3])))  # semitones from A4
        x = np.zeros(seg)
        vib = 1 + (0.006 * np.sin(2 * np.pi * 5.5 * t) if g.random() < 0.5 else 0)
        for s in notes:
            f = 440.0 * 2 ** (s / 12.0)
            phase = 2 * np.pi * np.cumsum(f * vib) / rate
            for k in range(1, 9):
                if k * f < rate / 2:
                    x += np.sin(k * phase) / k ** float(g.uniform(0.7, 1.3))
        env = np.minimum(1, np.arange(seg) / (0.01 * rate)) * np.exp(-t * g.uniform(0.5, 4.0))
        x *= env
        r = np.sqrt(np.mean(x * x)) or 1.0
        out[pos : pos + seg] += x / r * dbov_to_rms(level_dbov)
        pos += seg
    return to_int16(out)
