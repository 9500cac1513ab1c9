"""N-way conference mixer: everyone hears everyone but themselves, saturation-safe.

Each :meth:`ConferenceMixer.mix` call is one tick (e.g. 20 ms) holding at most one frame
per participant. Frames are brought to the *mixing rate* (the highest rate among the
participants), stacked into an ``N × n`` int32 matrix, summed **once** (``total``), and each
participant's output is ``total - own`` — so the cost is ``2N - 1`` additions per sample,
linear in N, all in vectorised numpy (no per-pair work). Outputs then go through a limiter
and back to each participant's own rate.

Rates: the mixer does not resample by itself; pass ``resampler(from_rate, to_rate)``, a
factory returning a *stateful* converter ``convert(pcm) -> pcm`` (for example the codecs
package's resampler, ``lambda a, b: Resampler(a, b).process``). The mixer makes one
converter per participant and direction, so filter state carries from tick to tick and
frames join without seams. Without a factory, every participant must use the same rate and
a mismatch is a ``ValueError``.

Limiter modes (per output stream):

* ``"limiter"`` (default): a gain that drops at once to keep the frame's peak under
  ``threshold`` and recovers with ``release`` seconds time constant, ramped sample by
  sample within the frame, then the soft knee below as a safety net;
* ``"soft"``: memoryless soft knee — samples above ``threshold`` are compressed smoothly
  (tanh) into the remaining headroom, never past full scale;
* ``"clip"``: hard saturation at the int16 range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping

import attrs
import numpy as np
import numpy.typing as npt

from ._levels import FloatArray, Pcm, as_pcm

__all__ = ["Converter", "Resampler", "MixerConfig", "ConferenceMixer", "soft_limit"]

#: A stateful rate converter for one stream: ``convert(pcm) -> pcm`` (int16 in and out).
Converter = Callable[[Pcm], Pcm]
#: ``resampler(from_rate, to_rate) -> Converter``.
Resampler = Callable[[int, int], Converter]


@attrs.frozen(kw_only=True)
class MixerConfig:
    mode: str = attrs.field(default="limiter", validator=attrs.validators.in_(("limiter", "soft", "clip")))
    threshold: float = 0.9  # fraction of full scale where limiting starts
    release: float = 0.25  # seconds, limiter gain recovery time constant


def soft_limit(x: npt.NDArray[np.floating] | npt.NDArray[np.integer], threshold: float = 0.9) -> Pcm:
    """Soft-knee saturation to int16: linear up to ``threshold``·32767, then a tanh knee
    that approaches (never exceeds) full scale."""
    t = threshold * 32767.0
    head = 32767.0 - t
    xf = np.asarray(x, dtype=np.float64)
    mag = np.abs(xf)
    over = mag > t
    if np.any(over):
        xf = np.where(over, np.sign(xf) * (t + head * np.tanh((mag - t) / head)), xf)
    return np.clip(np.rint(xf), -32768, 32767).astype(np.int16)


@attrs.define(slots=True)
class _Participant:
    rate: int
    gain: float = 1.0  # limiter gain state
    muted: bool = False
    up: Converter | None = None  # own rate -> mixing rate
    down: Converter | None = None  # mixing rate -> own rate
    conv_rate: int = 0  # mixing rate the converters were made for


class ConferenceMixer:
    """Mixes N participants; see the module docs for the algorithm and limiter modes."""

    __slots__ = ("config", "_resample", "_parts")

    def __init__(self, *, resampler: Resampler | None = None, config: MixerConfig | None = None) -> None:
        self.config = config or MixerConfig()
        self._resample = resampler
        self._parts: dict[Hashable, _Participant] = {}

    # -- membership -------------------------------------------------------------------
    def add(self, pid: Hashable, rate: int) -> None:
        if pid in self._parts:
            raise ValueError(f"participant {pid!r} is already in the conference")
        if rate <= 0:
            raise ValueError(f"bad rate {rate}")
        if self._resample is None and self._parts:
            other = next(iter(self._parts.values())).rate
            if rate != other:
                raise ValueError(
                    f"participant {pid!r} at {rate} Hz, conference at {other} Hz: "
                    "pass resampler=... to mix different rates"
                )
        self._parts[pid] = _Participant(rate=rate)

    def remove(self, pid: Hashable) -> None:
        self._parts.pop(pid)

    def set_muted(self, pid: Hashable, muted: bool) -> None:
        """A muted participant still hears the others; nobody hears them."""
        self._parts[pid].muted = muted

    @property
    def participants(self) -> tuple[Hashable, ...]:
        return tuple(self._parts)

    @property
    def mix_rate(self) -> int:
        """The highest rate among the participants (0 when empty)."""
        return max((p.rate for p in self._parts.values()), default=0)

    # -- mixing -----------------------------------------------------------------------
    def mix(self, frames: Mapping[Hashable, npt.ArrayLike]) -> dict[Hashable, Pcm]:
        """One tick: ``frames`` maps participants to this tick's samples (missing = silent).
        Returns each participant's output at its own rate, same duration as the input."""
        parts = self._parts
        unknown = [pid for pid in frames if pid not in parts]
        if unknown:
            raise ValueError(f"unknown participants {unknown!r}")
        if not parts:
            return {}
        rate = self.mix_rate
        n = self._tick_length(frames, rate)
        order = list(parts)
        stack = np.zeros((len(order), n), dtype=np.int32)
        for i, pid in enumerate(order):
            p = parts[pid]
            raw = frames.get(pid)
            if raw is None or p.muted:
                continue
            pcm = as_pcm(raw, name=f"frame of {pid!r}")
            if p.rate != rate:
                pcm = self._fit(self._converters(p, rate)[0](pcm), n)
            stack[i] = pcm
        total = stack.sum(axis=0, dtype=np.int32)  # Σ over everyone, once
        heard = total[np.newaxis, :] - stack  # everyone but yourself: N subtractions
        limited = self._limit(heard, [parts[pid] for pid in order], rate)
        out: dict[Hashable, Pcm] = {}
        for i, pid in enumerate(order):
            p = parts[pid]
            row = limited[i]
            if p.rate != rate:
                row = self._fit(self._converters(p, rate)[1](row), n * p.rate // rate)
            out[pid] = row
        return out

    def _tick_length(self, frames: Mapping[Hashable, npt.ArrayLike], rate: int) -> int:
        n: int | None = None
        for pid, raw in frames.items():
            length = np.shape(raw)[0] if np.ndim(raw) else 0
            pr = self._parts[pid].rate
            if (length * rate) % pr:
                raise ValueError(f"frame of {pid!r} ({length} samples at {pr} Hz) is not a whole tick at {rate} Hz")
            m = length * rate // pr
            if n is None:
                n = m
            elif m != n:
                raise ValueError(f"frame of {pid!r} has a different duration from the others")
        if n is None:
            raise ValueError("a tick needs at least one frame (to know its duration)")
        return n

    def _converters(self, p: _Participant, rate: int) -> tuple[Converter, Converter]:
        if p.up is None or p.down is None or p.conv_rate != rate:
            assert self._resample is not None  # add() refused mixed rates without one
            p.up, p.down, p.conv_rate = self._resample(p.rate, rate), self._resample(rate, p.rate), rate
        return p.up, p.down

    @staticmethod
    def _fit(pcm: npt.ArrayLike, length: int) -> Pcm:
        # A converter may hand back a sample more or less at a frame edge: fit the tick.
        out = np.asarray(pcm).astype(np.int16)
        if out.shape[0] == length:
            return out
        return np.resize(out, length) if out.shape[0] else np.zeros(length, np.int16)

    def _limit(self, heard: npt.NDArray[np.int32], parts: list[_Participant], rate: int) -> npt.NDArray[np.int16]:
        cfg = self.config
        if cfg.mode == "clip":
            return np.clip(heard, -32768, 32767).astype(np.int16)
        if cfg.mode == "soft":
            return soft_limit(heard, cfg.threshold)
        n = heard.shape[1]
        t = cfg.threshold * 32767.0
        peak = np.abs(heard).max(axis=1).astype(np.float64)
        start = np.array([p.gain for p in parts])
        if float(peak.max(initial=0.0)) <= t and bool(np.all(start == 1.0)):
            return heard.astype(np.int16)  # nothing near overload, no gain to recover: exact
        # Release: recover toward 1 with time constant cfg.release over this frame.
        recover = 1.0 - math.exp(-n / (rate * cfg.release)) if cfg.release > 0 else 1.0
        released = start + (1.0 - start) * recover
        need = np.where(peak > t, t / np.maximum(peak, 1.0), 1.0)
        end = np.minimum(released, need)
        # Attack at once: if the frame needs less gain than we start with, use it from the
        # first sample (no overshoot); otherwise ramp up smoothly across the frame.
        begin = np.minimum(start, need)
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float64)
        gains: FloatArray = begin[:, np.newaxis] + (end - begin)[:, np.newaxis] * ramp[np.newaxis, :]
        for p, g in zip(parts, end.tolist()):
            p.gain = g
        return soft_limit(heard * gains, cfg.threshold)
