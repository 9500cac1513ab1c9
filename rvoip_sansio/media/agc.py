"""Automatic gain control: brings speech to a target level, with a noise gate and no clipping.

The signal is measured on a fixed 5 ms grid (absolute sample positions, so results do not
depend on how the caller cuts frames). Per 5 ms chunk:

* a chunk under ``gate_dbov`` closes the noise gate: level estimate and gain hold still, so a
  pause never pumps background noise up to the target;
* otherwise the speech level (mean power of the chunks above the gate, time constant
  ``level_time``; chunks 20 dB under it are a pause's background for up to ``pause_hold``
  seconds, or pass ``speech=`` from a VAD) gives the wanted gain ``target_dbov - level``, bounded by ``min_gain_db``
  and ``max_gain_db``; the gain falls toward it with time constant ``attack`` and rises with
  time constant ``release`` but at most ``max_rise_db_per_s``;
* a chunk that would come out more than 6 dB over the target cuts the gain at once;
* the gain is ramped linearly sample by sample across the next chunk (zero latency, no
  zipper noise), and a soft limiter above 0.95 full scale keeps peaks from clipping.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

from ._levels import FloatArray, Pcm, as_pcm
from .mixer import soft_limit

__all__ = ["AgcConfig", "AutomaticGainControl"]


@attrs.frozen(kw_only=True)
class AgcConfig:
    target_dbov: float = -20.0
    max_gain_db: float = 30.0
    min_gain_db: float = -20.0
    attack: float = 0.02
    release: float = 0.3
    level_time: float = 0.3
    max_rise_db_per_s: float = 15.0
    gate_dbov: float = -50.0
    pause_hold: float = 2.0


class AutomaticGainControl:
    """Streaming AGC over int16 frames of any size (see module docs)."""

    __slots__ = (
        "rate", "config", "_chunk", "_pos", "_acc", "_env", "_gain_db", "_prev_gain",
        "_a_att", "_a_rel", "_rise", "_a_lvl", "_hint", "_quiet_chunks",
    )

    def __init__(self, rate: int, *, config: AgcConfig | None = None) -> None:
        if rate < 1000 or rate % 200:
            raise ValueError(f"rate must be a multiple of 200 Hz, got {rate}")
        self.rate = rate
        self.config = cfg = config or AgcConfig()
        self._chunk = rate // 200
        self._pos = 0  # samples into the current chunk
        self._acc = 0.0  # energy of the current chunk so far
        self._env = 0.0  # level envelope (mean power)
        self._gain_db = 0.0  # gain for the chunk being played
        self._prev_gain = 1.0  # linear gain at the start of the current chunk
        dt = 0.005
        self._a_att = 1.0 - math.exp(-dt / cfg.attack) if cfg.attack > 0 else 1.0
        self._a_rel = 1.0 - math.exp(-dt / cfg.release) if cfg.release > 0 else 1.0
        self._a_lvl = 1.0 - math.exp(-dt / cfg.level_time) if cfg.level_time > 0 else 1.0
        self._rise = cfg.max_rise_db_per_s * dt
        self._hint: bool | None = None
        self._quiet_chunks = 0

    @property
    def gain_db(self) -> float:
        """The gain currently applied, in dB."""
        return self._gain_db

    def process(self, pcm: npt.ArrayLike, *, speech: bool | None = None) -> Pcm:
        """Apply the gain to the next samples (zero latency). ``speech`` is an optional hint
        from a VAD: ``False`` holds level and gain, ``True`` takes every chunk above the
        absolute gate as speech, ``None`` (default) uses the relative gate heuristic."""
        x = as_pcm(pcm).astype(np.float64)
        self._hint = speech
        gains = np.empty(x.size)
        i = 0
        c = self._chunk
        while i < x.size:
            n = min(c - self._pos, x.size - i)
            seg = x[i : i + n]
            g_end = 10 ** (self._gain_db / 20)
            # Linear ramp from the previous chunk's gain to this chunk's, on the 5 ms grid.
            frac = (self._pos + np.arange(1, n + 1)) / c
            gains[i : i + n] = self._prev_gain + (g_end - self._prev_gain) * frac
            self._acc += float(np.dot(seg, seg))
            self._pos += n
            i += n
            if self._pos == c:
                self._end_chunk(self._acc / c)
                self._prev_gain = g_end
                self._pos = 0
                self._acc = 0.0
        y: FloatArray = x * gains
        return soft_limit(y, 0.95)

    def _end_chunk(self, power: float) -> None:
        cfg = self.config
        chunk_db = 10 * math.log10(power / 32768.0**2) if power > 0 else -math.inf
        if chunk_db < cfg.gate_dbov:
            return  # gate closed: the level estimate and the gain hold still
        if self._hint is False:
            return
        if self._hint is None and self._env > 0.0 and power < self._env * 0.01:
            # 20 dB under the speech level: a pause's background, not speech — unless it
            # lasts pause_hold seconds, then the talker really has become quieter.
            self._quiet_chunks += 1
            if self._quiet_chunks * 0.005 < cfg.pause_hold:
                return
        else:
            self._quiet_chunks = 0
        # Speech level: power average over speech chunks (symmetric, so unbiased).
        self._env = power if self._env == 0.0 else self._env + self._a_lvl * (power - self._env)
        env_db = 10 * math.log10(self._env / 32768.0**2)
        want = min(cfg.max_gain_db, max(cfg.min_gain_db, cfg.target_dbov - env_db))
        if want < self._gain_db:
            self._gain_db += (want - self._gain_db) * self._a_att
        else:
            self._gain_db += min((want - self._gain_db) * self._a_rel, self._rise)
        # Overload: a chunk that would come out more than 6 dB over the target cuts the
        # gain at once (the soft limiter catches what is left inside the chunk).
        if chunk_db + self._gain_db > cfg.target_dbov + 6.0:
            self._gain_db = max(cfg.min_gain_db, cfg.target_dbov + 6.0 - chunk_db)
