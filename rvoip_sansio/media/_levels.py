"""Signal levels, sample conversion and the randomness seam shared by the media modules.

Level conventions (16-bit linear PCM, full scale 32768):

* **dBov** (RFC 3389 §3.1): dB relative to the overload point; 0 dBov is a full-scale
  square wave, so a signal's dBov is ``20·log10(rms / 32768)``.
* **dBm0**: RFC 3389 §3.1 says 0 dBov "translates into 6.18 dBm0" (μ-law), so
  ``dBm0 = dBov + 6.18``. A full-scale sine is then +3.17 dBm0, as in G.711.
"""

from __future__ import annotations

import math
import random
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "FULL_SCALE",
    "DBM0_PER_DBOV",
    "Pcm",
    "FloatArray",
    "NoiseRng",
    "as_pcm",
    "to_float",
    "to_int16",
    "rms",
    "level_dbov",
    "level_dbm0",
    "dbov_to_rms",
    "dbm0_to_rms",
    "numpy_rng",
]

#: Overload point of 16-bit linear PCM.
FULL_SCALE = 32768.0
#: RFC 3389 §3.1: 0 dBov corresponds to +6.18 dBm0 (μ-law reference).
DBM0_PER_DBOV = 6.18

Pcm: TypeAlias = npt.NDArray[np.int16]
FloatArray: TypeAlias = npt.NDArray[np.float64]
#: Randomness for noise: a ``random.Random`` (house seam) or a numpy ``Generator``.
NoiseRng: TypeAlias = random.Random | np.random.Generator


def as_pcm(samples: npt.ArrayLike, *, name: str = "pcm") -> Pcm:
    """Check and return ``samples`` as a 1-D int16 array (no copy when already one)."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of int16 samples, got shape {arr.shape}")
    if arr.dtype != np.int16:
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold int16 samples, got dtype {arr.dtype}")
        if arr.size and (int(arr.min()) < -32768 or int(arr.max()) > 32767):
            raise ValueError(f"{name} has samples outside the int16 range")
        arr = arr.astype(np.int16)
    return arr


def to_float(pcm: npt.ArrayLike) -> FloatArray:
    """int16 samples as float64 in the same units (no scaling)."""
    return np.asarray(pcm, dtype=np.float64)


def to_int16(x: npt.NDArray[np.floating] | FloatArray) -> Pcm:
    """Round and saturate float samples to int16."""
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def rms(x: npt.ArrayLike) -> float:
    """Root mean square of the samples (0.0 for an empty array)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return 0.0
    return math.sqrt(float(np.mean(arr * arr)))


def level_dbov(x: npt.ArrayLike) -> float:
    """RMS level in dBov (RFC 3389 §3.1); ``-inf`` for digital silence."""
    r = rms(x)
    return 20.0 * math.log10(r / FULL_SCALE) if r > 0 else -math.inf


def level_dbm0(x: npt.ArrayLike) -> float:
    """RMS level in dBm0 (``dBov + 6.18``)."""
    return level_dbov(x) + DBM0_PER_DBOV


def dbov_to_rms(dbov: float) -> float:
    """RMS value (int16 units) of a signal at ``dbov``."""
    return float(FULL_SCALE * 10.0 ** (dbov / 20.0))


def dbm0_to_rms(dbm0: float) -> float:
    """RMS value (int16 units) of a signal at ``dbm0``."""
    return dbov_to_rms(dbm0 - DBM0_PER_DBOV)


def numpy_rng(rng: random.Random | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from the injected source (seeded from it when it is a ``random.Random``)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng.getrandbits(64))
