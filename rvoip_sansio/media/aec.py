"""Acoustic echo cancellation: partitioned-block frequency-domain adaptive filter (PBFDAF /
MDF, Soo & Pang 1990) with Geigel double-talk detection and optional residual echo
suppression.

``process(mic, far)`` takes the microphone signal and the far-end (loudspeaker) reference,
both the same length, a multiple of the block (10 ms), and returns the microphone with the
echo of ``far`` removed, same length, no added delay (with residual echo suppression on,
one extra 10 ms hop of delay, see :attr:`EchoCanceller.latency`).

Filter: ``tail`` seconds of echo path split into P partitions of one block each. Per block,
the far-end spectrum (2B-point FFT of the last two blocks, overlap-save) enters a ring of P
spectra; the echo estimate is ``Σ_p W_p·X_p``; the error spectrum drives the update
``W_p += μ·X_p*·E / (Σ_p |X_p|² smoothed + δ)`` — per-bin normalisation, so coloured input
(speech) converges nearly as fast as white noise — with the gradient constraint (each
partition's time-domain update truncated to B taps) applied to every partition.

Two-path: the adaptive ("background") filter is copied into a fixed "foreground" filter that
produces the output only when it cancels clearly better, so near-end speech that slips past
double-talk detection cannot make the output worse.

Double talk (Geigel): when the near-end block's peak exceeds
``geigel`` times the peak far-end sample of the last ``tail`` seconds, the near end must be
talking (the echo path is assumed to lose at least 6 dB); adaptation then freezes for
``dt_hold`` seconds. The filter keeps cancelling while frozen.

Residual echo suppression (optional): an STFT gain that removes what the linear filter
left, estimated as ``leak × |echo estimate|²`` with ``leak`` learnt in far-end single talk.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

from ._levels import FloatArray, Pcm, as_pcm, to_int16
from .ns import StftGainEngine

__all__ = ["EchoCancellerConfig", "EchoCanceller"]


@attrs.frozen(kw_only=True)
class EchoCancellerConfig:
    tail: float = 0.128  # seconds of echo path modelled
    block: float = 0.01  # seconds per block (and partition)
    step: float = 0.7  # normalised step size μ (0 < μ ≤ 1)
    # Added to every bin's normaliser, as a fraction of the mean far-end power: bins between
    # speech harmonics hold almost no far-end energy and would otherwise take huge, noisy
    # steps (worth 3-4 dB of ERLE on speech).
    regularization: float = 0.02
    geigel: float = 0.5  # double talk when |near| > geigel·max|far| (ERL ≥ 6 dB assumed)
    dt_hold: float = 0.06  # seconds adaptation stays frozen after double talk is seen
    residual_suppression: bool = False
    res_floor_db: float = -30.0
    res_overdrive: float = 2.0


class EchoCanceller:
    """Streaming PBFDAF echo canceller (see module docs)."""

    __slots__ = (
        "rate", "config", "block", "_nparts", "_xs", "_w", "_x_prev", "_pxx", "_far_hist",
        "_dt_left", "_dt_blocks", "double_talk", "_res", "_res_y", "_leak",
        "blocks_adapted", "blocks_frozen", "_wf", "_sb", "_sf", "_sd", "copies",
        "_bad",
    )

    def __init__(self, rate: int, *, config: EchoCancellerConfig | None = None) -> None:
        if rate < 8000 or rate % 100:
            raise ValueError(f"rate must be a multiple of 100 Hz ≥ 8 kHz, got {rate}")
        self.rate = rate
        self.config = cfg = config or EchoCancellerConfig()
        if not 0.0 < cfg.step <= 1.0:
            raise ValueError("step must be in (0, 1]")
        self.block = b = int(round(rate * cfg.block))
        self._nparts = max(1, math.ceil(cfg.tail * rate / b))
        nb = b + 1
        self._xs = np.zeros((self._nparts, nb), dtype=np.complex128)
        self._w = np.zeros((self._nparts, nb), dtype=np.complex128)
        self._x_prev = np.zeros(b)
        self._pxx = np.zeros(nb)
        self._far_hist = np.zeros(self._nparts + 1)  # peak |far| per block
        self._dt_left = 0
        self._dt_blocks = max(1, round(cfg.dt_hold / cfg.block))
        self.double_talk = False
        self.blocks_adapted = 0
        self.blocks_frozen = 0
        self._res = StftGainEngine(rate) if cfg.residual_suppression else None
        self._res_y = StftGainEngine(rate) if cfg.residual_suppression else None
        self._leak = 1.0
        self._wf = np.zeros((self._nparts, nb), dtype=np.complex128)
        self._sb = 0.0
        self._sf = 0.0
        self._sd = 0.0
        self._bad = 0
        self.copies = 0

    @property
    def latency(self) -> int:
        """Output delay in samples: 0, or one 10 ms hop with residual suppression."""
        return self.block if self._res is not None else 0

    def process(self, mic: npt.ArrayLike, far: npt.ArrayLike) -> Pcm:
        """Cancel the echo of ``far`` in ``mic`` (same length, a multiple of 10 ms)."""
        d = as_pcm(mic, name="mic").astype(np.float64)
        x = as_pcm(far, name="far").astype(np.float64)
        if d.size != x.size:
            raise ValueError(f"mic and far frames differ in length ({d.size} vs {x.size})")
        b = self.block
        if d.size % b:
            raise ValueError(f"frames must be multiples of 10 ms ({b} samples at {self.rate} Hz), got {d.size}")
        out = np.empty(d.size)
        echo = np.empty(d.size)
        for i in range(0, d.size, b):
            out[i : i + b], echo[i : i + b] = self._block(d[i : i + b], x[i : i + b])
        if self._res is not None:
            return to_int16(self._suppress(out, echo))
        return to_int16(out)

    def _block(self, d: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        cfg = self.config
        b = self.block
        xs = self._xs
        xs[1:] = xs[:-1]
        xs[0] = np.fft.rfft(np.concatenate([self._x_prev, x]))
        self._x_prev = x
        y = np.fft.irfft(np.einsum("pk,pk->k", self._w, xs), 2 * b)[b:]
        e = d - y
        y_f = np.fft.irfft(np.einsum("pk,pk->k", self._wf, xs), 2 * b)[b:]
        e_f = d - y_f
        # Geigel double-talk detector over the far-end peaks of the modelled tail.
        self._far_hist[1:] = self._far_hist[:-1]
        self._far_hist[0] = float(np.max(np.abs(x)))
        far_peak = float(np.max(self._far_hist))
        if float(np.max(np.abs(d))) > cfg.geigel * far_peak:
            self._dt_left = self._dt_blocks
        self.double_talk = self._dt_left > 0
        power = np.einsum("pk,pk->k", xs.real, xs.real) + np.einsum("pk,pk->k", xs.imag, xs.imag)
        self._pxx = 0.7 * self._pxx + 0.3 * power
        if self.double_talk:
            self._dt_left -= 1
            self.blocks_frozen += 1
        elif far_peak > 0.0:
            big_e = np.fft.rfft(np.concatenate([np.zeros(b), e]))
            step = cfg.step
            reg = cfg.regularization * float(np.mean(self._pxx)) + 1e-6
            grad = np.conj(xs) * (big_e * (step / (self._pxx + reg)))
            # Gradient constraint: keep the first B taps of every partition's update.
            g = np.fft.irfft(grad, 2 * b, axis=1)
            g[:, b:] = 0.0
            self._w += np.fft.rfft(g, axis=1)
            self.blocks_adapted += 1
        self._two_path(float(np.dot(e, e)), float(np.dot(e_f, e_f)), float(np.dot(d, d)))
        return e_f, y_f

    def _two_path(self, eb: float, ef: float, dd: float) -> None:
        """Foreground/background ("two-path", Ochiai et al. 1977): the output comes from a
        foreground filter that only ever receives copies of the adaptive background filter,
        made when the background has cancelled clearly better for a while. Near-end speech
        that slips past the Geigel detector can disturb the background, never the output."""
        self._sb = 0.9 * self._sb + 0.1 * eb
        self._sf = 0.9 * self._sf + 0.1 * ef
        self._sd = 0.9 * self._sd + 0.1 * dd
        if self.double_talk or self._far_hist[0] == 0.0:
            return
        # Copy only while the mic is echo-dominated (the background removes most of it):
        # a filter that learnt to cancel some near-end speech never qualifies.
        if self._sb < 0.7 * self._sf and eb < ef and self._sb < 0.25 * self._sd:
            self._wf[:] = self._w
            self._sf = self._sb
            self.copies += 1
            self._bad = 0
        elif self._sb > 4.0 * self._sf and self._sb > 0.5 * dd * 10:
            # The background has gone far astray (it cancels much worse than the foreground
            # for a sustained period): restart it from the foreground.
            self._bad += 1
            if self._bad >= 50:
                self._w[:] = self._wf
                self._sb = self._sf
                self._bad = 0
        else:
            self._bad = 0

    def _suppress(self, e: FloatArray, y: FloatArray) -> FloatArray:
        assert self._res is not None and self._res_y is not None
        cfg = self.config
        es = self._res.analyse(e)
        ys = self._res_y.analyse(y)
        pe = es.real**2 + es.imag**2
        py = ys.real**2 + ys.imag**2
        gains = np.empty(pe.shape)
        floor = 10 ** (cfg.res_floor_db / 20)
        for i in range(pe.shape[0]):
            ye, yy = float(pe[i].sum()), float(py[i].sum())
            if not self.double_talk and yy > 0:
                # Residual-to-estimate ratio, learnt in single talk and only downward fast.
                r = min(1.0, ye / yy)
                self._leak = 0.9 * self._leak + 0.1 * r if r < self._leak else 0.99 * self._leak + 0.01 * r
            resid = cfg.res_overdrive * self._leak * py[i]
            gains[i] = np.clip(1.0 - resid / np.maximum(pe[i], 1e-9), floor, 1.0)
        return self._res.synthesise(es * gains)
