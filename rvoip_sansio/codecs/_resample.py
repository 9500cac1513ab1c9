"""Sample-rate conversion: a streaming polyphase FIR with a Kaiser-windowed sinc prototype.

For a ratio ``rate_out / rate_in = L / M`` (reduced), output sample ``n`` sits at input time
``n·M / L``; it is the dot product of the newest input samples with phase ``n·M mod L`` of a
low-pass prototype designed at ``L·rate_in``. The prototype's pass band ends at 0.9 × the lower
rate's Nyquist frequency and its stop band starts at that Nyquist frequency, with a Kaiser
window sized (Kaiser's formula) for 70 dB: pass-band ripple is far below 0.1 dB and
nothing above the lower Nyquist frequency comes through above -60 dB.

Arithmetic is exact integer arithmetic (Q24 coefficients, sums of integer-valued float64
that stay below 2**53), so the output does not
depend on how the input was cut into chunks, and sample counts are kept as Python integers:
after ``T`` input samples exactly ``ceil(T·L/M)`` output samples have been produced, over
any length of stream.

Many resamplers of one rate pair (one per call on a media server) can share their matrices:
``Resampler(..., shared=True)`` uses one process-wide cache per rate pair, and
:class:`BatchResampler` converts one frame of many independent streams with one matrix
product. Both give exactly the samples of a private ``Resampler``.

Speed: when the optional C extension ``_resample_native`` is built (``setup.py``), a
:class:`Resampler`'s mono chunks are computed there: the same dot products over the same
history, exact in any summation order, so the same samples (a 20 ms frame 8 <-> 16 kHz in
~5 µs instead of ~8 µs). :class:`BatchResampler` stays on numpy (one BLAS product for all
streams is faster). ``RVOIP_PURE=1`` forces the numpy path.
"""

from __future__ import annotations

import math
from types import ModuleType
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rvoip_sansio._native import import_native, pure_requested
from rvoip_sansio.codecs._base import PCM, CodecError

__all__ = ["Resampler", "BatchResampler", "resample", "design_prototype"]

_Q = 24  # coefficient fraction bits
_I16 = np.dtype(np.int16)
_MIN16 = np.array(-32768.0)
_MAX16 = np.array(32767.0)
_SCALE = 1.0 / (1 << _Q)

# Must equal RESAMPLE_NATIVE_ABI in _resample_native.c: a build older than its source is unused.
_NATIVE_ABI = 1


def load_native() -> ModuleType | None:
    """The C accelerator, or ``None`` when it is not built (or is a stale build)."""
    return import_native("rvoip_sansio.codecs._resample_native", _NATIVE_ABI)


#: The loaded C accelerator, or ``None`` (not built, stale, or ``RVOIP_PURE`` set). Tests
#: set it to ``None`` to compare the two paths.
NATIVE: ModuleType | None = (
    None if pure_requested() else load_native()
)


def design_prototype(
    rate_in: int, rate_out: int, *, passband: float = 0.9, attenuation_db: float = 70.0
) -> tuple[int, int, npt.NDArray[np.float64]]:
    """``(L, M, h)``: the reduced ratio and the low-pass prototype at ``L·rate_in``."""
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    high = up * rate_in  # prototype sampling rate
    nyq_low = min(rate_in, rate_out) / 2.0
    f_pass, f_stop = passband * nyq_low, nyq_low
    width = 2.0 * math.pi * (f_stop - f_pass) / high
    # Kaiser's estimates of length and shape for the wanted attenuation.
    n_min = int(math.ceil((attenuation_db - 7.95) / (2.285 * width))) + 1
    step = 2 * up * down
    if step <= n_min:
        # N = 2·L·M·j + 1 makes the group delay a whole number of output samples.
        n_taps = step * math.ceil((n_min - 1) / step) + 1
    else:
        n_taps = n_min | 1
    a = attenuation_db
    beta = 0.1102 * (a - 8.7) if a > 50 else 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    cutoff = (f_pass + f_stop) / 2.0 / high  # cycles per prototype sample
    t = np.arange(n_taps, dtype=np.float64) - (n_taps - 1) / 2.0
    h = 2.0 * cutoff * np.sinc(2.0 * cutoff * t) * np.kaiser(n_taps, beta)
    h *= up / h.sum()  # unity gain after zero-stuffing by L
    return up, down, h


@lru_cache(maxsize=32)
def _polyphase(
    rate_in: int, rate_out: int
) -> tuple[int, int, int, npt.NDArray[np.float64], float]:
    up, down, h = design_prototype(rate_in, rate_out)
    taps = -(-len(h) // up)
    padded = np.zeros(taps * up, np.float64)
    padded[: len(h)] = h
    # Row p, column j multiplies x[base - (taps-1-j)]: the reversed phase p.
    phases = padded.reshape(taps, up).T[:, ::-1]
    coef = np.ascontiguousarray(np.round(phases * (1 << _Q)))  # integer-valued float64
    coef.flags.writeable = False
    delay_out = (len(h) - 1) / 2.0 / down
    return up, down, taps, coef, delay_out


#: Matrices by ``(r, n_in)`` (see ``_build_matrix``), one dict per rate pair.
_MatrixCache = dict[tuple[int, int], npt.NDArray[np.float64]]
_CACHE_ENTRIES = 8  # matrices kept per cache (steady framing needs one or a few)
_SHARED: dict[tuple[int, int], _MatrixCache] = {}


def _shared_cache(rate_in: int, rate_out: int) -> _MatrixCache:
    """The process-wide matrix cache of one rate pair. Its values depend on the rates,
    the phase offset and the chunk length alone, so sharing it changes no output sample."""
    return _SHARED.setdefault((rate_in, rate_out), {})


def _build_matrix(rate_in: int, rate_out: int, r: int, n_in: int,
                  cache: _MatrixCache) -> npt.NDArray[np.float64]:
    """Output ``i`` of a chunk = row ``i`` of this matrix times (history + ``n_in`` inputs).

    With ``r = n_out·M - t0·L`` (in 0..L-1) output ``i`` uses phase ``(r + i·M) mod L``
    and the window ending at input row ``(r + i·M) // L`` of the chunk: the matrix
    depends only on ``r`` and the chunk length, so steady framing reuses it.
    """
    key = (r, n_in)
    cached = cache.get(key)
    if cached is not None:
        return cached
    up, down, taps, coef, _ = _polyphase(rate_in, rate_out)
    count = -(-(n_in * up - r) // down)
    prod = r + np.arange(count, dtype=np.int64) * down
    base, phase = prod // up, prod % up
    m = np.zeros((count, taps - 1 + n_in), np.float64)
    rows = np.repeat(np.arange(count), taps)
    cols = (base[:, None] + np.arange(taps)[None, :]).reshape(-1)
    m[rows, cols] = coef[phase].reshape(-1)
    m.flags.writeable = False  # may be shared by many resamplers
    if len(cache) >= _CACHE_ENTRIES:
        cache.pop(next(iter(cache)), None)
    cache[key] = m
    return m


_BLOCK_OUTPUTS = 16  # outputs per row of a block product (at least ``L``)
#: Input samples per block-product call for long mono chunks (bounds its window copy).
_LONG_STEP = 8192


@lru_cache(maxsize=64)
def _block_matrix(
    rate_in: int, rate_out: int, r: int, k: int
) -> tuple[npt.NDArray[np.float64], int, int]:
    """``(B, W, stride)`` for frames: ``K = L·k`` consecutive outputs from a window of ``W``
    inputs, the next ``K`` from the window ``stride = k·M`` inputs later (the same phases).

    A frame's outputs are then one small product ``windows @ B`` (``B`` is ``W x K``, a few
    tens of kB, in the CPU's first-level cache) instead of the whole ``outputs x inputs``
    matrix, whose zeros outside the filter band are half its size. ``B`` holds the Q24
    coefficients times 2^-24: the products and sums are still exact in float64 (about 41
    significant bits), so the samples are those of the matrix path.
    """
    up, down, taps, coef, _ = _polyphase(rate_in, rate_out)
    size = up * k
    prod = r + np.arange(size, dtype=np.int64) * down
    base, phase = prod // up, prod % up
    width = int(base[-1]) + taps
    b = np.zeros((size, width), np.float64)
    rows = np.repeat(np.arange(size), taps)
    cols = (base[:, None] + np.arange(taps)[None, :]).reshape(-1)
    b[rows, cols] = coef[phase].reshape(-1) * _SCALE
    bt = np.ascontiguousarray(b.T)
    bt.flags.writeable = False
    return bt, width, k * down


def _to_int16(acc: npt.NDArray[np.float64], scaled: bool = False) -> None:
    """Q24 sums (or sums already scaled by 2^-24) -> rounded, saturated sample values, in
    place. (``maximum``/``minimum`` rather than ``np.clip``: a third of the cost per frame.)"""
    if not scaled:
        acc *= _SCALE
    np.rint(acc, out=acc)
    # 0-d array bounds: a Python float operand goes through numpy's scalar promotion,
    # which costs as much as the operation on a frame.
    np.maximum(acc, _MIN16, out=acc)
    np.minimum(acc, _MAX16, out=acc)


class Resampler:
    """Streaming converter from ``rate_in`` to ``rate_out`` (int16 in and out).

    ``process(chunk)`` may be called with any chunk sizes; ``delay`` is the filter's group
    delay in output samples (the output lags the input by that much). ``channels`` may also
    be many independent streams side by side (shape ``(n, streams)``): they are converted
    with one matrix product per call, which is how a media server resamples hundreds of
    calls at once.

    With ``shared=True`` the per-chunk filter matrices come from one process-wide cache of
    the rate pair instead of a private one: hundreds of resamplers of the same rates (one
    per call) then hold one copy (~0.5 MB for 8 <-> 16 kHz frames) that stays in the CPU
    cache. The output is the same sample for sample.
    """

    __slots__ = ("rate_in", "rate_out", "channels", "_up", "_down", "_taps", "_coef",
                 "delay", "_hist", "_n_in", "_n_out", "_mcache", "_piece", "_block", "_blk")

    def __init__(self, rate_in: int, rate_out: int, *, channels: int = 1,
                 shared: bool = False) -> None:
        if rate_in <= 0 or rate_out <= 0 or channels <= 0:
            raise CodecError("resampler rates and channel count must be positive")
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.channels = channels
        self._up, self._down, self._taps, self._coef, self.delay = _polyphase(rate_in, rate_out)
        self._mcache: _MatrixCache = _shared_cache(rate_in, rate_out) if shared else {}
        # Largest piece whose matrix (outputs x (taps - 1 + inputs)) stays near 2**20 values.
        piece = 64
        while (-(-2 * piece * self._up // self._down)) * (self._taps + 2 * piece) <= 1 << 20:
            piece *= 2
        self._piece = piece
        # Frames of one stream: outputs in rows of L·k (see _block_matrix), when the
        # output count is a whole number of rows; ``_blk`` caches the last phase's matrix.
        self._block = self._up * max(1, _BLOCK_OUTPUTS // self._up) if self._up <= 8 else 0
        self._blk: tuple[int, npt.NDArray[np.float64], int, int] | None = None
        self.reset()

    def reset(self) -> None:
        self._hist = np.zeros((self._taps - 1, self.channels), np.float64)
        self._n_in = 0
        self._n_out = 0

    @property
    def samples_in(self) -> int:
        return self._n_in

    @property
    def samples_out(self) -> int:
        return self._n_out

    def output_count(self, n_in: int) -> int:
        """How many samples the next ``process`` of ``n_in`` input samples will return."""
        t = self._n_in + n_in
        return -(-t * self._up // self._down) - self._n_out

    def process(self, pcm: PCM) -> PCM:
        if (NATIVE is not None and self.channels == 1 and pcm.__class__ is np.ndarray
                and pcm.ndim == 1):
            up, down = self._up, self._down
            t1 = self._n_in + len(pcm)
            n_end = -(-t1 * up // down)
            nat = NATIVE.resample(self._hist, pcm, self._coef, self._n_out * down - self._n_in * up,
                                  up, down, n_end - self._n_out)
            if nat is not None:
                self._n_in = t1
                self._n_out = n_end
                return nat  # type: ignore[no-any-return]
        if (pcm.__class__ is np.ndarray and pcm.dtype is _I16 and pcm.ndim == 1
                and self._block and self.channels == 1):
            if len(pcm) <= self._piece:
                out = self._process_frame(pcm)
                if out is not None:
                    return out
            # Any other mono chunk: the block product for the longest prefix whose outputs
            # fill whole rows, the general path for the rest (the output does not depend
            # on the cut, so this gives the same samples).
            step = _LONG_STEP
            if len(pcm) <= step:
                return self._process_mono(pcm)
            return np.concatenate([self._process_mono(pcm[i : i + step])
                                   for i in range(0, len(pcm), step)])
        x = np.asarray(pcm)
        if x.dtype != np.int16:
            raise CodecError("resampler input must be int16")
        mono = x.ndim == 1
        x2 = x.reshape(-1, 1) if mono else x
        if x2.ndim != 2 or x2.shape[1] != self.channels:
            raise CodecError(f"resampler input must have {self.channels} channel(s)")
        # Long inputs go through in pieces (the result does not depend on the cut) so the
        # per-piece matrix stays small.
        piece = self._piece
        if x2.shape[0] <= piece or self.channels == 1:
            out = self._process(x2)
        else:
            out = np.concatenate([self._process(x2[i : i + piece])
                                  for i in range(0, x2.shape[0], piece)])
        return out[:, 0] if mono else out

    def _process_mono(self, x: PCM) -> PCM:
        """A mono chunk: block rows for the longest prefix that fills whole rows."""
        up, down, blk = self._up, self._down, self._block
        n_in, n_out = self._n_in, self._n_out
        count = -(-(n_in + len(x)) * up // down) - n_out
        whole = count - count % blk
        if whole:
            total = n_out + whole
            t = total * down // up  # inputs after which exactly ``total`` outputs exist
            k = t - n_in
            if 0 < k <= len(x) and -(-t * up // down) == total:
                head = self._process_frame(x[:k])
                if head is not None:
                    if k == len(x):
                        return head
                    rest = self._process(x[k:].reshape(-1, 1))[:, 0]
                    return np.concatenate((head, rest))
        return self._process(x.reshape(-1, 1))[:, 0]

    def _process_frame(self, x: PCM) -> PCM | None:
        """A mono chunk whose outputs fill whole block rows, else None (the general path)."""
        up, down = self._up, self._down
        t0 = self._n_in
        t1 = t0 + len(x)
        n_end = -(-t1 * up // down)
        count = n_end - self._n_out
        if not count or count % self._block:
            return None
        r = self._n_out * down - t0 * up
        blk = self._blk
        if blk is None or blk[0] != r:
            blk = self._blk = (r, *_block_matrix(self.rate_in, self.rate_out, r,
                                                 self._block // up))
        _, bt, width, stride = blk
        ext = np.concatenate((self._hist[:, 0], x), dtype=np.float64)
        win = np.ndarray((count // self._block, width), np.float64, ext, 0, (stride * 8, 8))
        acc: npt.NDArray[np.float64] = np.ascontiguousarray(win) @ bt
        _to_int16(acc, scaled=True)
        self._hist = ext[len(x):].reshape(-1, 1)
        self._n_in = t1
        self._n_out = n_end
        return acc.reshape(-1).astype(_I16)

    def _process(self, x2: PCM) -> PCM:
        up, down = self._up, self._down
        t0 = self._n_in
        t1 = t0 + x2.shape[0]
        n_end = -(-t1 * up // down)
        ext = np.concatenate((self._hist, x2))
        count = n_end - self._n_out
        out = np.empty((count, self.channels), np.int16)
        small = x2.shape[0] <= self._piece
        if count and (self.channels > 1 or (up <= 8 and small)):
            # One matrix product per call (BLAS): frames of one stream, or many streams
            # side by side (channels).
            m = _build_matrix(self.rate_in, self.rate_out, self._n_out * down - t0 * up,
                              x2.shape[0], self._mcache)
            acc2: npt.NDArray[np.float64] = np.matmul(m, ext)
            _to_int16(acc2)
            out[:] = acc2
        elif count:
            col = ext.reshape(-1)
            taps = self._taps
            win = np.lib.stride_tricks.sliding_window_view(col, taps)
            if up > 8:
                # Many phases (e.g. 44.1 <-> 48 kHz): gather rows and weights at once.
                prod = np.arange(self._n_out, n_end, dtype=np.int64) * down
                rows = prod // up - t0
                acc = (win[rows] * self._coef[prod % up]).sum(axis=1)
            else:
                # Long input: outputs n and n+L share a phase and are M input samples apart.
                acc = np.empty(count, np.float64)
                for j in range(min(up, count)):
                    prod0 = (self._n_out + j) * down
                    row = prod0 // up - t0  # window of the newest input sample used
                    k = (count - j + up - 1) // up
                    coef = self._coef[prod0 % up]
                    if down == 1:
                        acc[j::up] = np.correlate(col[row : row + k + taps - 1], coef)
                    else:
                        acc[j::up] = win[row : row + (k - 1) * down + 1 : down] @ coef
            _to_int16(acc)
            out[:, 0] = acc
        self._hist = np.asarray(ext[len(ext) - (self._taps - 1) :], dtype=np.float64)
        self._n_in = t1
        self._n_out = n_end
        return out

    def flush(self) -> PCM:
        """Feed silence for the filter delay and return the tail of the signal."""
        pad = int(math.ceil(self.delay * self._down / self._up)) + 1
        shape: tuple[int, ...] = (pad,) if self.channels == 1 else (pad, self.channels)
        return self.process(np.zeros(shape, np.int16))


class BatchResampler:
    """Many independent mono streams of the same rates and frame length, converted one frame
    each per :meth:`process` with one matrix product (a media server's hundreds of calls).

    Each stream has a slot holding its filter history: :meth:`allocate` gives a zeroed
    slot (nothing of a previous stream leaks into it), :meth:`release` returns it. The
    filter, matrix and exact integer arithmetic are those of :class:`Resampler` (the
    matrix comes from the shared cache of the rate pair), so a slot's output is
    bit-identical to a ``Resampler`` fed the same frames. ``frame_in`` must map to a whole
    number of output samples (e.g. 20 ms at any rate in Hz).
    """

    __slots__ = ("rate_in", "rate_out", "frame_in", "frame_out", "_m", "_taps", "_hist",
                 "_free", "_blk")

    def __init__(self, rate_in: int, rate_out: int, frame_in: int) -> None:
        if rate_in <= 0 or rate_out <= 0 or frame_in <= 0:
            raise CodecError("resampler rates and frame length must be positive")
        up, down, taps, _coef, _delay = _polyphase(rate_in, rate_out)
        if frame_in * up % down:
            raise CodecError("frame length must map to a whole number of output samples")
        self.rate_in, self.rate_out, self.frame_in = rate_in, rate_out, frame_in
        self.frame_out = frame_in * up // down
        self._taps = taps
        # Every frame is a whole number of output periods, so each starts at phase offset 0:
        # the block product of Resampler (each stream's windows times one small matrix)
        # when the frame fills whole block rows, else the frame's banded matrix.
        k = max(1, _BLOCK_OUTPUTS // up)
        self._blk: tuple[npt.NDArray[np.float64], int, int] | None = None
        self._m: npt.NDArray[np.float64] | None = None
        if up <= 8 and self.frame_out % (up * k) == 0:
            self._blk = _block_matrix(rate_in, rate_out, 0, k)
        else:
            self._m = _build_matrix(rate_in, rate_out, 0, frame_in,
                                    _shared_cache(rate_in, rate_out))
        self._hist = np.zeros((8, taps - 1), np.float64)  # row = slot
        self._free = list(range(7, -1, -1))

    def allocate(self) -> int:
        """A new stream's slot (its filter history zeroed); capacity doubles as needed."""
        if not self._free:
            n = self._hist.shape[0]
            self._hist = np.concatenate((self._hist, np.zeros_like(self._hist)))
            self._free = list(range(2 * n - 1, n - 1, -1))
        slot = self._free.pop()
        self._hist[slot] = 0.0
        return slot

    def release(self, slot: int) -> None:
        self._hist[slot] = 0.0
        self._free.append(slot)

    def process(self, slots: Sequence[int], frames: Sequence[PCM]) -> PCM:
        """One int16 frame (``frame_in`` samples) per listed slot -> int16 array of shape
        ``(frame_out, len(slots))``, column ``j`` the output of ``slots[j]`` (the columns
        are contiguous in memory)."""
        hist = self._hist
        idx = np.asarray(slots, np.intp)
        n, h = len(idx), self._taps - 1
        ext = np.empty((n, h + self.frame_in), np.float64)  # row j: slot j's history + frame
        ext[:, :h] = hist[idx]
        ext[:, h:] = np.stack(frames)
        hist[idx] = ext[:, self.frame_in :]
        if self._blk is not None:
            bt, width, stride = self._blk
            nb = self.frame_out // bt.shape[1]
            row = ext.shape[1] * 8
            win = np.ndarray((n, nb, width), np.float64, ext, 0, (row, stride * 8, 8))
            acc: npt.NDArray[np.float64] = _small_products(
                np.ascontiguousarray(win).reshape(n * nb, width), bt)
            _to_int16(acc, scaled=True)
            return acc.reshape(n, self.frame_out).T.astype(_I16)
        assert self._m is not None
        acc = _small_products(ext, self._m.T)
        _to_int16(acc)
        return acc.T.astype(_I16)


#: Multiply-adds per BLAS call kept below OpenBLAS's threading threshold (measured: ~1.2 M
#: switches a ``(rows x 96) @ (96 x 16)`` product to its thread pool, and one product then
#: costs 20x more on a busy 2-core machine: 30 streams 0.2 ms per tick, 40 streams 7 ms).
_BLAS_CHUNK_WORK = 600_000


def _small_products(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``a @ b`` in row blocks small enough that BLAS never starts its worker threads."""
    rows, inner = a.shape
    step = max(1, _BLAS_CHUNK_WORK // max(1, inner * b.shape[1]))
    if rows <= step:
        return a @ b
    out = np.empty((rows, b.shape[1]), np.float64)
    for start in range(0, rows, step):
        np.matmul(a[start : start + step], b, out=out[start : start + step])
    return out


def resample(pcm: PCM, rate_in: int, rate_out: int, *, channels: int = 1) -> PCM:
    """One-shot conversion with the filter delay removed: ``ceil(n·rate_out/rate_in)`` samples
    (to within a fraction of a sample when the delay is not a whole number of samples)."""
    if rate_in == rate_out:
        return np.array(pcm, dtype=np.int16, copy=True)
    rs = Resampler(rate_in, rate_out, channels=channels)
    n_in = len(pcm)
    want = -(-n_in * rs._up // rs._down)
    skip = int(round(rs.delay))
    body = rs.process(pcm)
    tail = rs.flush()
    while len(body) + len(tail) < want + skip:
        tail = np.concatenate((tail, rs.flush()))
    full = np.concatenate((body, tail))
    return full[skip : skip + want]
