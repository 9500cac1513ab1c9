"""Voice activity detection tuned for barge-in: fast onset, few false alarms on noise.

Every 10 ms block is analysed over a 20 ms Hann window. Per frequency bin between 100 Hz
and min(rate/2, 8 kHz) the detector keeps a noise power estimate ``λ`` and computes the
statistical likelihood ratio of Sohn, Kim & Sung ("A statistical model-based voice activity
detector", IEEE SPL 1999): with the a-posteriori SNR ``γ = |X|²/λ`` and the a-priori SNR
``ξ`` from the decision-directed estimate (Ephraim-Malah), each bin contributes
``γξ/(1+ξ) - ln(1+ξ)``; the block's *score* is the mean over bins. Stationary noise of any
colour or level (white, pink, comfort noise, hum) scores near 0, speech well above.

Decision: a block scoring at least ``threshold`` is *raw* speech. Speech starts after
``onset_blocks`` consecutive raw-speech blocks, at once when a block scores four times the
threshold (fast onset), and ends ``hangover`` seconds after the last raw-speech block.

Noise estimate: follows the bin powers in blocks that are not raw speech (time constant
about 200 ms, faster downwards). During speech it may only creep up, at most
``noise_rise_db_per_s``, and never above 3 dB over the minimum of the smoothed power of the
last 1.5 s (minimum statistics), so a step in the background noise is learnt in a couple of
seconds without speech being learnt as noise.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

from .._core import Event
from ._levels import FloatArray, as_pcm

__all__ = ["VadConfig", "VoiceActivityDetector", "SpeechStarted", "SpeechEnded"]


@attrs.frozen(kw_only=True)
class VadConfig:
    threshold: float = 0.2
    onset_blocks: int = 2
    hangover: float = 0.20
    noise_rise_db_per_s: float = 20.0
    min_level_dbov: float = -70.0


@attrs.frozen(kw_only=True)
class SpeechStarted(Event):
    """Speech began; ``sample`` is the index (from the detector's first sample) of the
    first block that was judged speech (onset detection latency is ``onset_blocks`` × 10 ms
    at most)."""

    sample: int


@attrs.frozen(kw_only=True)
class SpeechEnded(Event):
    """Speech ended (hangover expired); ``sample`` is where the hangover ran out."""

    sample: int


_HISTORY_SEGMENTS = 3  # minimum statistics over 3 segments of 0.5 s
_LEARN_BLOCKS = 20
_MIN_BIAS = 3.0


class VoiceActivityDetector:
    """Streaming VAD over int16 frames of any size (see module docs)."""

    __slots__ = (
        "rate", "config", "_block", "_nfft", "_window", "_bins", "_nbands", "_prev", "_xi_prev",
        "_pending", "_noise", "_smooth", "_mins", "_seg_len", "_seg_count", "_blocks",
        "_streak", "_hang", "_active", "_rise", "_hang_blocks", "_floor", "score",
    )

    def __init__(self, rate: int, *, config: VadConfig | None = None) -> None:
        if rate < 8000 or rate % 100:
            raise ValueError(f"VAD needs a rate that is a multiple of 100 Hz ≥ 8 kHz, got {rate}")
        self.rate = rate
        self.config = cfg = config or VadConfig()
        self._block = rate // 100
        self._nfft = 1 << (2 * self._block - 1).bit_length()
        self._window = np.hanning(2 * self._block + 2)[1:-1]
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / rate)
        self._bins = np.nonzero((freqs >= 100.0) & (freqs < min(rate / 2, 8000.0)))[0]
        self._nbands = self._bins.size
        self._prev = np.zeros(self._block)
        self._pending = np.zeros(0)
        self._noise: FloatArray | None = None
        self._smooth = np.zeros(self._nbands)
        self._xi_prev = np.zeros(self._nbands)
        self._seg_len = 50  # blocks per minimum-statistics segment (0.5 s)
        self._mins = np.full((_HISTORY_SEGMENTS, self._nbands), np.inf)
        self._seg_count = 0
        self._blocks = 0
        self._streak = 0
        self._hang = 0
        self._active = False
        self._rise = 10 ** (cfg.noise_rise_db_per_s / 10 / 100)
        self._hang_blocks = max(0, round(cfg.hangover * 100))
        # Per-bin power of white noise at min_level (variance times the window's energy,
        # E|X_k|^2 = sigma^2 * sum(w^2)): anything quieter is floored to it, so idle-channel
        # noise (a codec's -88 dBov hiss) can never look like speech against a quieter past.
        sigma = 32768.0 * 10 ** (cfg.min_level_dbov / 20)
        self._floor = sigma * sigma * float(np.sum(self._window * self._window))
        self.score = 0.0

    @property
    def active(self) -> bool:
        """Whether speech is active after the last block processed (hangover included)."""
        return self._active

    def _band_powers(self, blocks: FloatArray) -> FloatArray:
        frames = np.concatenate([np.vstack([self._prev, blocks[:-1]]), blocks], axis=1)
        spec = np.fft.rfft(frames * self._window, self._nfft, axis=1)[:, self._bins]
        return spec.real**2 + spec.imag**2

    def update(self, pcm: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Analyse samples; return the decision (speech active) for every 10 ms block
        completed by them."""
        x = as_pcm(pcm).astype(np.float64)
        self._pending = np.concatenate([self._pending, x])
        nb = self._pending.size // self._block
        if nb == 0:
            return np.zeros(0, dtype=np.bool_)
        blocks = self._pending[: nb * self._block].reshape(nb, self._block)
        self._pending = self._pending[nb * self._block :]
        powers = self._band_powers(blocks)
        self._prev = blocks[-1].copy()
        out = np.zeros(nb, dtype=np.bool_)
        for i in range(nb):
            out[i] = self._decide(powers[i])
        return out

    def process(self, pcm: npt.ArrayLike) -> list[Event]:
        """Analyse samples; return :class:`SpeechStarted` / :class:`SpeechEnded` events."""
        first = self._blocks
        was = self._active
        events: list[Event] = []
        for i, d in enumerate(self.update(pcm).tolist()):
            if d and not was:
                events.append(SpeechStarted(sample=(first + i) * self._block))
            elif was and not d:
                events.append(SpeechEnded(sample=(first + i) * self._block))
            was = d
        return events

    def _decide(self, p: FloatArray) -> bool:
        cfg = self.config
        self._blocks += 1
        p = np.maximum(p, self._floor)
        if self._noise is None:
            self._noise = p.copy()
            self._smooth = p.copy()
        noise = self._noise
        gamma = np.minimum(p / noise, 1e4)
        # Decision-directed a-priori SNR (Ephraim-Malah), then Sohn's per-bin log LR.
        xi = 0.9 * self._xi_prev + 0.1 * np.maximum(gamma - 1.0, 0.0)
        llr = gamma * xi / (1.0 + xi) - np.log1p(xi)
        score = float(np.mean(llr))
        wiener = xi / (1.0 + xi)
        self._xi_prev = wiener * wiener * gamma
        self.score = score
        raw = score >= cfg.threshold
        # Minimum statistics over the last 1.5 s of smoothed power.
        self._smooth = 0.9 * self._smooth + 0.1 * p
        seg = (self._blocks // self._seg_len) % _HISTORY_SEGMENTS
        if self._blocks % self._seg_len == 0:
            self._mins[seg] = self._smooth
        else:
            self._mins[seg] = np.minimum(self._mins[seg], self._smooth)
        if self._blocks <= _LEARN_BLOCKS:
            # First 200 ms: average the background (assumed to be noise; if the talker
            # starts at once, the first pause teaches the detector the real background).
            noise += (p - noise) / self._blocks
            raw = False
        elif not raw:
            noise[:] = 0.95 * noise + 0.05 * p
        else:
            # The smoothed minimum of a noise periodogram sits ~5 dB under its mean.
            cap = np.maximum(noise, _MIN_BIAS * np.min(self._mins, axis=0))
            noise[:] = np.minimum(noise * self._rise, cap)
        if raw:
            self._streak += 1
            if self._streak >= cfg.onset_blocks or score >= 4 * cfg.threshold:
                self._active = True
                self._hang = self._hang_blocks
        else:
            self._streak = 0
            if self._active:
                if self._hang > 0:
                    self._hang -= 1
                else:
                    self._active = False
        return self._active

    def reset_noise(self) -> None:
        """Forget the noise estimate (e.g. after a codec or path change)."""
        self._noise = None
        self._mins[:] = math.inf
