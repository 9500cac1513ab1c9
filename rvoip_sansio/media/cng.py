"""Comfort noise (RFC 3389): payloads both ways, generation and estimation.

RFC 3389 §3: a CN payload is one byte of noise level, then optional quantized reflection
coefficients of an all-pole model of the noise (the model order is the payload length
minus one).

* §3.1: the level byte holds the magnitude of the level in -dBov (0..127 for 0..-127 dBov);
  its most significant bit is unused and MUST be 0. 0 dBov is the RMS of a full-scale square
  wave (32768 here).
* §3.2: each reflection coefficient k in (-1, 1) is one byte ``q`` with
  ``k = (q - 127) / 128`` (``q = round(128·k) + 127``, 0..254). This is the scaling the
  common decoders (FFmpeg's ``comfortnoise``, WebRTC's CNG) apply.

Sign convention: the model is ``1 / A(z)`` with ``A(z) = 1 + Σ a_i z^-i`` and
``k_m = a_m`` of the order-m predictor (the step-up recursion
``a_i ← a_i + k_m·a_{m-i}``), again as FFmpeg's decoder. A first-order process
``x[n] = 0.9·x[n-1] + e[n]`` thus has ``k_1 = -0.9``.

Generation runs white noise from the injected random source through ``1/A(z)``, scaled so
the output RMS is the payload's level (the power gain of ``1/A`` with unit input is
``1 / Π(1 - k_i²)``). Estimation is autocorrelation + Levinson-Durbin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from .._core import ParseError
from ._levels import FloatArray, NoiseRng, Pcm, as_pcm, dbov_to_rms, level_dbov, numpy_rng, to_int16

__all__ = [
    "ComfortNoisePayload",
    "ComfortNoiseGenerator",
    "ComfortNoiseEstimator",
    "estimate_comfort_noise",
    "levinson_durbin",
    "reflection_to_lpc",
]

#: Keep synthesis filters clearly stable whatever a peer sends.
_K_LIMIT = 0.995


def _quantize_k(k: float) -> int:
    return int(min(254, max(0, round(k * 128.0) + 127)))


@attrs.frozen(kw_only=True)
class ComfortNoisePayload:
    """An RFC 3389 CN payload. ``level`` is the noise level in -dBov (0..127);
    ``reflection`` holds the quantized coefficient bytes (0..255) as sent."""

    level: int
    reflection: tuple[int, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.level <= 127:
            raise ValueError(f"CN level must be 0..127 (-dBov), got {self.level}")
        if any(not 0 <= q <= 255 for q in self.reflection):
            raise ValueError("quantized reflection coefficients are bytes")

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> ComfortNoisePayload:
        """Parse a CN payload (RFC 3389 §3)."""
        buf = bytes(data)
        if not buf:
            raise ParseError("empty CN payload: the noise level byte is mandatory", 0)
        if buf[0] & 0x80:
            raise ParseError("CN noise level byte has its most significant bit set", 0)
        return cls(level=buf[0], reflection=tuple(buf[1:]))

    def __bytes__(self) -> bytes:
        return bytes([self.level, *self.reflection])

    @property
    def level_dbov(self) -> float:
        """The noise level in dBov (negative)."""
        return -float(self.level)

    @property
    def order(self) -> int:
        return len(self.reflection)

    @property
    def coefficients(self) -> tuple[float, ...]:
        """Dequantized reflection coefficients ``(q - 127) / 128``."""
        return tuple((q - 127) / 128.0 for q in self.reflection)

    @classmethod
    def from_model(cls, level_dbov: float, reflection: Sequence[float] = ()) -> ComfortNoisePayload:
        """Quantize a level (dBov, clamped to 0..-127) and reflection coefficients."""
        lv = 127 if not math.isfinite(level_dbov) else int(min(127, max(0, round(-level_dbov))))
        return cls(level=lv, reflection=tuple(_quantize_k(k) for k in reflection))


def reflection_to_lpc(k: Sequence[float]) -> FloatArray:
    """Step-up recursion: reflection coefficients to ``[1, a_1 .. a_M]`` of ``A(z)``."""
    a = np.zeros(len(k) + 1)
    a[0] = 1.0
    for m, km in enumerate(k, start=1):
        prev = a[1:m].copy()
        a[1:m] = prev + km * prev[::-1]
        a[m] = km
    return a


def levinson_durbin(r: npt.ArrayLike, order: int) -> tuple[FloatArray, FloatArray, float]:
    """Solve the normal equations for autocorrelation ``r``: ``(a, k, error)``.

    ``a = [1, a_1 .. a_M]`` minimises the prediction error of ``A(z)``; ``k`` are the
    reflection coefficients (``k_m = a_m`` at step m); ``error`` is the final prediction
    error power. Stops early (zeros for the rest) if the recursion becomes ill-conditioned.
    """
    rr = np.asarray(r, dtype=np.float64)
    if rr.size < order + 1:
        raise ValueError("need order + 1 autocorrelation lags")
    a = np.zeros(order + 1)
    a[0] = 1.0
    k = np.zeros(order)
    err = float(rr[0])
    if err <= 0.0:
        return a, k, 0.0
    for m in range(1, order + 1):
        acc = float(rr[m] + np.dot(a[1:m], rr[m - 1 : 0 : -1]))
        km = -acc / err
        if not abs(km) < 1.0:
            break
        prev = a[1:m].copy()
        a[1:m] = prev + km * prev[::-1]
        a[m] = km
        k[m - 1] = km
        err *= 1.0 - km * km
    return a, k, err


def _autocorrelation(x: FloatArray, order: int) -> FloatArray:
    n = x.size
    if n == 0:
        return np.zeros(order + 1)
    w = x * np.hanning(n + 2)[1:-1] if n > 2 else x
    r = np.zeros(order + 1)
    for lag in range(min(order, n - 1) + 1):
        r[lag] = float(np.dot(w[: n - lag], w[lag:]))
    return r


def _condition(r: FloatArray) -> FloatArray:
    # Gaussian lag window (bandwidth expansion) and -40 dB white-noise correction,
    # the usual safeguards against over-sharp resonances in estimated noise models.
    lags = np.arange(r.size)
    out: FloatArray = r * np.exp(-0.5 * (0.01 * lags) ** 2)
    out[0] *= 1.0001
    return out


def estimate_comfort_noise(pcm: npt.ArrayLike, *, order: int = 10) -> ComfortNoisePayload:
    """Estimate a CN payload (level and order-``order`` spectrum) from background noise."""
    x = as_pcm(pcm).astype(np.float64)
    if order < 0:
        raise ValueError("order must not be negative")
    if order == 0 or not np.any(x):
        return ComfortNoisePayload.from_model(level_dbov(x))
    _, k, _ = levinson_durbin(_condition(_autocorrelation(x, order)), order)
    return ComfortNoisePayload.from_model(level_dbov(x), k.tolist())


class ComfortNoiseEstimator:
    """Running CN estimate over noise frames: feed frames of background noise with
    :meth:`update` (e.g. those a VAD calls inactive), read :meth:`payload` when a SID is due."""

    __slots__ = ("order", "_r", "_power", "_alpha", "_frames")

    def __init__(self, *, order: int = 10, smoothing: float = 0.8) -> None:
        if order < 0 or not 0.0 <= smoothing < 1.0:
            raise ValueError("order must be ≥ 0 and smoothing in [0, 1)")
        self.order = order
        self._alpha = smoothing
        self._r = np.zeros(order + 1)
        self._power = 0.0
        self._frames = 0

    def update(self, pcm: npt.ArrayLike) -> None:
        x = as_pcm(pcm).astype(np.float64)
        if x.size == 0:
            return
        r = _autocorrelation(x, self.order)
        r = r / max(float(r[0]), 1e-12)  # shape only; the level is tracked separately
        p = float(np.mean(x * x))
        a = self._alpha if self._frames else 0.0
        self._r = a * self._r + (1 - a) * r
        self._power = a * self._power + (1 - a) * p
        self._frames += 1

    def payload(self) -> ComfortNoisePayload:
        if self._frames == 0 or self._power <= 0.0:
            return ComfortNoisePayload(level=127)
        lv = 10 * math.log10(self._power / 32768.0**2)
        if self.order == 0:
            return ComfortNoisePayload.from_model(lv)
        _, k, _ = levinson_durbin(_condition(self._r), self.order)
        return ComfortNoisePayload.from_model(lv, k.tolist())


class ComfortNoiseGenerator:
    """Synthesises comfort noise from the latest CN payload, frames of any size.

    The level and spectrum glide to a new payload over about 20 ms (rather than jump),
    and the filter state carries across frames, so the noise has no seams.
    """

    __slots__ = ("_gen", "_k", "_target_k", "_gain", "_target_gain", "_hist", "_a", "_step")

    def __init__(self, rng: NoiseRng, payload: ComfortNoisePayload | None = None) -> None:
        self._gen = numpy_rng(rng)
        self._k: FloatArray = np.zeros(0)
        self._target_k: FloatArray = np.zeros(0)
        self._gain = 0.0
        self._target_gain = 0.0
        self._hist: list[float] = []
        self._a: list[float] = []
        self._step = 0
        if payload is not None:
            self.update(payload, immediate=True)

    def update(self, payload: ComfortNoisePayload, *, immediate: bool = False) -> None:
        """Switch to a new payload (RFC 3389 §4: the last received SID stays in force)."""
        k = np.clip(np.asarray(payload.coefficients, dtype=np.float64), -_K_LIMIT, _K_LIMIT)
        order = max(k.size, self._k.size)
        self._target_k = np.pad(k, (0, order - k.size))
        self._k = np.pad(self._k, (0, order - self._k.size))
        # Unit-variance input to 1/A(z) gives power 1/Π(1-k²): scale the input to hit the level.
        self._target_gain = dbov_to_rms(payload.level_dbov) * math.sqrt(float(np.prod(1.0 - k * k)))
        self._hist = (self._hist + [0.0] * order)[:order]
        if immediate:
            self._k = self._target_k.copy()
            self._gain = self._target_gain
        self._a = reflection_to_lpc(self._k.tolist())[1:].tolist()

    def generate(self, count: int) -> Pcm:
        """The next ``count`` samples of comfort noise (silence before the first payload)."""
        if count < 0:
            raise ValueError("count must not be negative")
        e = self._gen.standard_normal(count)
        out = np.empty(count)
        pos = 0
        while pos < count:
            # Glide parameters every 5 ms block (at 8 kHz; per 40 samples at any rate).
            n = min(40, count - pos)
            if self._gain != self._target_gain or not np.array_equal(self._k, self._target_k):
                self._gain = 0.7 * self._gain + 0.3 * self._target_gain
                self._k = 0.7 * self._k + 0.3 * self._target_k
                if abs(self._gain - self._target_gain) < 1e-3 * max(self._target_gain, 1.0) and np.allclose(
                    self._k, self._target_k, atol=1e-4
                ):
                    self._gain, self._k = self._target_gain, self._target_k.copy()
                self._a = reflection_to_lpc(self._k.tolist())[1:].tolist()
            out[pos : pos + n] = self._synth(e[pos : pos + n] * self._gain)
            pos += n
        return to_int16(out)

    def _synth(self, ex: FloatArray) -> list[float]:
        # All-pole synthesis y[n] = e[n] - Σ a_i·y[n-i] (RFC 3389's model 1/A(z)).
        a = self._a
        hist = self._hist  # most recent first
        order = len(a)
        ys: list[float] = []
        if order == 0:
            return [float(v) for v in ex]
        for v in ex.tolist():
            y = v
            for i in range(order):
                y -= a[i] * hist[i]
            hist.insert(0, y)
            hist.pop()
            ys.append(y)
        return ys
