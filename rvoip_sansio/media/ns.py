"""Noise suppression: STFT Wiener filter with a decision-directed SNR estimate.

Analysis: 10 ms hop, 20 ms square-root periodic Hann window (analysis and synthesis, so
overlap-add reconstructs the input exactly when the gain is 1). The output lags the input by
one hop (:attr:`NoiseSuppressor.latency` samples, the overlap-add's inherent delay). Frames
of any size are accepted; each call returns the samples completed so far, which is exactly
as many as it was given whenever frames are multiples of 10 ms (the usual 10/20/30 ms).

Noise estimate (MCRA, Cohen & Berdugo 2002): the smoothed periodogram is compared with its
minimum over the last ~1.5 s; where it exceeds the minimum by ``presence_ratio`` speech is
likely present and the noise estimate there is frozen, elsewhere it tracks the periodogram.

Gain: a-priori SNR by the decision-directed rule of Ephraim & Malah (1984),
``ξ = α·G²_prev·|Y_prev|²/λ + (1-α)·max(γ-1, 0)``, then the Wiener gain ``ξ/(1+ξ)``
floored at ``-max_attenuation_db``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from ._levels import FloatArray, Pcm, as_pcm, to_int16

__all__ = ["NoiseSuppressorConfig", "NoiseSuppressor", "StftGainEngine"]


@attrs.frozen(kw_only=True)
class NoiseSuppressorConfig:
    max_attenuation_db: float = 18.0
    dd_alpha: float = 0.98
    presence_ratio: float = 5.0
    noise_smoothing: float = 0.95


class StftGainEngine:
    """Streaming STFT with a per-frame real gain callback, shared by the noise and residual
    echo suppressors: ``analyse`` queues samples and returns the spectra of the hops they
    complete; ``synthesise`` overlap-adds gained spectra and returns one hop per spectrum."""

    __slots__ = ("hop", "nfft", "_win", "_in", "_prev_in", "_ola")

    def __init__(self, rate: int) -> None:
        if rate < 8000 or rate % 100:
            raise ValueError(f"rate must be a multiple of 100 Hz ≥ 8 kHz, got {rate}")
        self.hop = rate // 100
        self.nfft = 2 * self.hop
        n = np.arange(self.nfft)
        self._win = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / self.nfft))  # sqrt periodic Hann
        self._in: FloatArray = np.zeros(0)
        self._prev_in: FloatArray = np.zeros(self.hop)
        self._ola: FloatArray = np.zeros(self.hop)

    def analyse(self, x: FloatArray) -> npt.NDArray[np.complex128]:
        self._in = np.concatenate([self._in, x])
        nh = self._in.size // self.hop
        hops = self._in[: nh * self.hop].reshape(nh, self.hop)
        self._in = self._in[nh * self.hop :]
        if nh == 0:
            return np.zeros((0, self.hop + 1), dtype=np.complex128)
        prev = np.vstack([self._prev_in, hops[:-1]])
        self._prev_in = hops[-1].copy()
        frames = np.concatenate([prev, hops], axis=1) * self._win
        return np.fft.rfft(frames, axis=1)

    def synthesise(self, spectra: npt.NDArray[np.complex128]) -> FloatArray:
        if spectra.shape[0] == 0:
            return np.zeros(0)
        frames = np.fft.irfft(spectra, self.nfft, axis=1) * self._win
        out = np.empty((spectra.shape[0], self.hop))
        ola = self._ola
        for i in range(spectra.shape[0]):
            out[i] = ola + frames[i, : self.hop]
            ola = frames[i, self.hop :]
        self._ola = ola.copy()
        return out.reshape(-1)


_SEGMENTS = 3
_SEG_FRAMES = 50  # 0.5 s of 10 ms hops per minimum-statistics segment
_LEARN = 10  # frames averaged at start-up


class NoiseSuppressor:
    """Streaming single-channel noise suppressor (see module docs)."""

    __slots__ = (
        "rate", "config", "_eng", "_noise", "_smooth", "_mins", "_presence", "_prev_clean",
        "_frames", "_floor", "_shadows",
    )

    def __init__(self, rate: int, *, config: NoiseSuppressorConfig | None = None) -> None:
        self.rate = rate
        self.config = cfg = config or NoiseSuppressorConfig()
        self._eng = StftGainEngine(rate)
        nb = self._eng.hop + 1
        self._noise = np.zeros(nb)
        self._smooth = np.zeros(nb)
        self._mins = np.full((_SEGMENTS, nb), np.inf)
        self._presence = np.zeros(nb)
        self._prev_clean = np.zeros(nb)
        self._frames = 0
        self._floor = 10 ** (-cfg.max_attenuation_db / 20)
        self._shadows: list[StftGainEngine] = []

    @property
    def latency(self) -> int:
        """Delay of the output behind the input, in samples (one hop, 10 ms)."""
        return self._eng.hop

    def process(self, pcm: npt.ArrayLike) -> Pcm:
        """Suppress noise in the next samples; returns the completed output samples."""
        out, _ = self.process_with_shadows(pcm, ())
        return out

    def process_with_shadows(
        self, pcm: npt.ArrayLike, shadows: Sequence[npt.ArrayLike]
    ) -> tuple[Pcm, list[FloatArray]]:
        """Measurement hook: also apply the very gains computed from ``pcm`` to ``shadows``
        (e.g. the clean speech and the noise that were mixed into ``pcm``), the standard way
        to measure a suppressor's noise reduction apart from its speech distortion. Shadow
        outputs are float, aligned with the main output."""
        x = as_pcm(pcm).astype(np.float64)
        spec = self._eng.analyse(x)
        gains = self._gains(spec)
        y = self._eng.synthesise(spec * gains)
        shadow_out: list[FloatArray] = []
        for sh in shadows:
            eng = self._shadow_engine(len(shadow_out))
            s_spec = eng.analyse(np.asarray(sh, dtype=np.float64))
            shadow_out.append(eng.synthesise(s_spec * gains))
        return to_int16(y), shadow_out

    def _shadow_engine(self, i: int) -> StftGainEngine:
        while len(self._shadows) <= i:
            self._shadows.append(StftGainEngine(self.rate))
        return self._shadows[i]

    def _gains(self, spec: npt.NDArray[np.complex128]) -> FloatArray:
        cfg = self.config
        power = spec.real**2 + spec.imag**2
        gains = np.empty(power.shape)
        for i in range(power.shape[0]):
            p = power[i]
            self._frames += 1
            if self._frames <= _LEARN:
                self._noise += (p - self._noise) / self._frames
                self._smooth = self._noise.copy()
            # MCRA: smoothed periodogram (over frequency then time) against its minimum.
            pf = np.convolve(p, (0.25, 0.5, 0.25), mode="same")
            self._smooth = 0.8 * self._smooth + 0.2 * pf
            seg = (self._frames // _SEG_FRAMES) % _SEGMENTS
            if self._frames % _SEG_FRAMES == 0:
                self._mins[seg] = self._smooth
            else:
                self._mins[seg] = np.minimum(self._mins[seg], self._smooth)
            smin = np.min(self._mins, axis=0)
            speech = self._smooth > cfg.presence_ratio * smin
            self._presence = 0.2 * self._presence + 0.8 * speech
            a = cfg.noise_smoothing + (1 - cfg.noise_smoothing) * self._presence
            if self._frames > _LEARN:
                self._noise = a * self._noise + (1 - a) * p
            lam = np.maximum(self._noise, 1e-6)
            gamma = np.minimum(p / lam, 1e4)
            xi = cfg.dd_alpha * self._prev_clean / lam + (1 - cfg.dd_alpha) * np.maximum(gamma - 1, 0)
            g = np.maximum(xi / (1 + xi), self._floor)
            self._prev_clean = g * g * p
            gains[i] = g
        return gains

