"""Resamplers for many calls: one set of filter matrices per rate pair.

``codecs.Resampler`` caches, per instance, the dense matrix that turns one frame (plus the
filter history) into output samples (docs/codecs.md). The matrix depends only on the rate
pair, the phase and the chunk length, but each instance builds its own: with hundreds of
calls that is hundreds of copies of a ~0.5 MB matrix, and the matrix product runs from main
memory instead of cache (measured: 55-67 µs per 20 ms frame instead of 17 µs). Calls here
share one cache per rate pair. The cache holds immutable values computed from the rates
alone, so sharing it changes no output sample.

This reaches into the resampler's ``_mcache`` slot; if that slot ever disappears, each
resampler simply keeps its own cache (slower, same samples).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codecs import Resampler

__all__ = ["BatchResampler", "shared_resampler"]

_CACHES: dict[tuple[int, int], Any] = {}


def shared_resampler(rate_in: int, rate_out: int) -> Resampler:
    rs = Resampler(rate_in, rate_out)
    cache = getattr(rs, "_mcache", None)
    if isinstance(cache, dict):
        shared = _CACHES.setdefault((rate_in, rate_out), cache)
        if shared is not cache:
            setattr(rs, "_mcache", shared)
    return rs


class BatchResampler:
    """Many independent mono streams, same rates and frame length: one matrix product per
    tick for all of them (how a media server resamples hundreds of calls at once).

    Each stream has a slot holding its filter history; ``process(slots, frames)`` converts
    one frame of each listed slot. The filter, the matrix and the exact integer arithmetic
    are those of ``codecs.Resampler`` (Q24 coefficients, exact float64 sums), so a slot's
    output is bit-identical to a ``Resampler`` fed the same frames (tested). A new stream
    gets a zeroed slot: nothing of a previous call leaks into it.
    """

    __slots__ = ("rate_in", "rate_out", "frame_in", "frame_out", "_m", "_taps", "_hist",
                 "_free", "_scale")

    def __init__(self, rate_in: int, rate_out: int, frame_in: int) -> None:
        from ..codecs import _resample as cr  # the codecs' own filter design

        up, down, taps, coef, _delay = cr._polyphase(rate_in, rate_out)
        if frame_in * up % down:
            raise ValueError("frame length must map to a whole number of output samples")
        self.rate_in, self.rate_out, self.frame_in = rate_in, rate_out, frame_in
        self.frame_out = count = frame_in * up // down
        self._taps = taps
        self._scale = cr._SCALE
        # Output i uses phase (i·M) mod L and the window ending at input row (i·M) // L
        # (phase offset 0 at every frame start, since each frame is a whole number of
        # output periods).
        prod = np.arange(count, dtype=np.int64) * down
        base, phase = prod // up, prod % up
        m = np.zeros((count, taps - 1 + frame_in), np.float64)
        rows = np.repeat(np.arange(count), taps)
        cols = (base[:, None] + np.arange(taps)[None, :]).reshape(-1)
        m[rows, cols] = np.asarray(coef)[phase].reshape(-1)
        self._m = m
        self._hist = np.zeros((taps - 1, 8), np.float64)
        self._free = list(range(7, -1, -1))

    def allocate(self) -> int:
        if not self._free:
            n = self._hist.shape[1]
            self._hist = np.concatenate((self._hist, np.zeros_like(self._hist)), axis=1)
            self._free = list(range(2 * n - 1, n - 1, -1))
        slot = self._free.pop()
        self._hist[:, slot] = 0.0
        return slot

    def release(self, slot: int) -> None:
        self._hist[:, slot] = 0.0
        self._free.append(slot)

    def process(self, slots: list[int], frames: list[Any]) -> Any:
        """Frames (int16, ``frame_in`` each) of the given slots -> ``(frame_out, len)`` int16."""
        hist = self._hist
        idx = np.asarray(slots, np.intp)
        ext = np.empty((self._taps - 1 + self.frame_in, len(slots)), np.float64)
        ext[:self._taps - 1] = hist[:, idx]
        ext[self._taps - 1:] = np.stack(frames, axis=1)
        acc = self._m @ ext
        acc *= self._scale
        np.rint(acc, out=acc)
        np.clip(acc, -32768, 32767, out=acc)
        hist[:, idx] = ext[self.frame_in:]
        return acc.astype(np.int16)
