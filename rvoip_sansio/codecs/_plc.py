"""Packet loss concealment by pitch waveform substitution (ITU-T G.711 Appendix I).

The algorithm of G.711 Appendix I, written over numpy arrays and scaled to any sample rate
that is a multiple of 8 kHz (the Appendix is specified at 8 kHz in 10 ms units):

* received audio goes into a history buffer and comes out delayed by a quarter of the
  longest pitch period (3.75 ms), so that the start of a loss can be smoothed;
* at the first lost 10 ms the pitch is found by normalised cross-correlation (a coarse search
  on 2:1 decimated samples over 66–200 Hz, then a fine search), the last pitch period is
  repeated, and the last quarter period is overlap-added with the one before it;
* at the 2nd and 3rd lost 10 ms one more period is taken into the pitch buffer (overlap-added
  at the joins), and from the 2nd on the output is attenuated linearly by 20 % per 10 ms, so it
  reaches silence 60 ms into the loss;
* the first good frame after a loss is overlap-added with the continuation of the synthetic
  signal over 1/4 period plus 4 ms for each lost 10 ms after the first (at most 10 ms).

The pitch search uses exact energies per lag (the reference C code updates its running energy
approximately on the coarse grid), so results are close to, not bit-identical with, the
reference; concealment has no conformance vectors.

Speed: when the optional C extension ``_plc_native`` is built (``setup.py``), each concealer
keeps its state in a C object that runs the same steps (``_plc_native.c``): a concealed 10 ms
costs about what decoding a packet costs instead of ~30 µs of numpy calls on tiny arrays.
Both paths give the same samples, bit for bit, and not by luck: the pitch scores are computed
from sums of products of integral values, exact in any summation order (below 2^53), then one
correctly rounded square root and division; every other step is the same sequence of IEEE
double operations (no fused multiply-add, no extended precision: see the C file). The tests
run every concealer test on both paths and compare them over speech-like signals, tones and
noise under random losses. ``RVOIP_PURE=1`` or ``RVOIP_PLC_PURE=1`` (only this one; both
read at import) or ``_plc.NATIVE = None`` (read when a concealer is made) selects the numpy
path.
"""

from __future__ import annotations

import operator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rvoip_sansio._native import import_native, pure_requested

if TYPE_CHECKING:
    from rvoip_sansio.codecs._plc_native import Concealer

__all__ = ["WaveformConcealer"]

F64 = npt.NDArray[np.float64]
_I16 = np.dtype(np.int16)

# Must equal PLC_NATIVE_ABI in _plc_native.c: a build older than its source is not used.
_NATIVE_ABI = 1


def load_native() -> ModuleType | None:
    """The C accelerator, or ``None`` when it is not built (or is a stale build)."""
    return import_native("rvoip_sansio.codecs._plc_native", _NATIVE_ABI)


#: The loaded C accelerator, or ``None`` (not built, stale, or ``RVOIP_PURE`` or
#: ``RVOIP_PLC_PURE`` set); read by each new :class:`WaveformConcealer`.
NATIVE: ModuleType | None = None if pure_requested("RVOIP_PLC_PURE") else load_native()


def _clip16(x: F64) -> npt.NDArray[np.int16]:
    # The reference converts with a C cast after clamping: truncation toward zero.
    return np.trunc(np.clip(x, -32768.0, 32767.0)).astype(np.int16)


def _as_frame(frame: Any) -> npt.NDArray[np.int16]:
    """A received frame as a 1-D contiguous int16 array (both paths take it through here:
    other dtypes saturate like the concealer's own output, other shapes are refused)."""
    a = np.asarray(frame)
    if a.ndim != 1:
        raise ValueError(f"a frame is a 1-D array of samples, not of shape {a.shape}")
    if a.dtype != _I16:
        return _clip16(a.astype(np.float64))
    return np.ascontiguousarray(a)


class WaveformConcealer:
    """G.711 Appendix I concealment for one stream at ``sample_rate`` (8000·k Hz)."""

    __slots__ = (
        "k", "unit", "pitch_min", "pitch_max", "pitch_diff", "delay", "hist_len", "ndec",
        "corr_len", "min_power", "overlap_incr", "_c", "_hbuf", "_hpos", "_pitchbuf",
        "_lastq", "_period", "_poverlap", "_poffset", "_pitchblen", "_erasecnt", "_atten",
    )

    def __init__(self, sample_rate: int = 8000) -> None:
        if sample_rate <= 0 or sample_rate % 8000:
            raise ValueError("concealment needs a sample rate that is a multiple of 8000")
        k = sample_rate // 8000
        self.k = k
        self.unit = 80 * k  # FRAMESZ: 10 ms
        self.pitch_min = 40 * k  # 200 Hz
        self.pitch_max = 120 * k  # 66.7 Hz
        self.pitch_diff = self.pitch_max - self.pitch_min
        self.delay = self.pitch_max >> 2  # POVERLAPMAX: the output delay
        self.hist_len = 3 * self.pitch_max + self.delay
        self.ndec = 2 * k  # coarse search decimation (2:1 at 8 kHz)
        self.corr_len = 160 * k  # 20 ms correlation window
        self.min_power = 250.0 * k
        self.overlap_incr = 32 * k  # 4 ms more end overlap per extra lost 10 ms
        # The C state (every method then delegates to it), or None: the numpy path below.
        nat = NATIVE
        self._c: Concealer | None = nat.Concealer(k) if nat is not None and k <= nat.MAX_K else None
        self.reset()

    def reset(self) -> None:
        if self._c is not None:
            self._c.reset()
            return
        # What was played, newest last: ``_hbuf[_hpos - hist_len : _hpos]`` (a window
        # sliding along a longer buffer, moved back to the start when it reaches the end,
        # so saving a frame costs two copies instead of a concatenation of the history).
        self._hbuf = np.zeros(4 * self.hist_len, np.int16)
        self._hpos = self.hist_len
        self._pitchbuf = np.zeros(self.hist_len, np.float64)
        self._lastq = np.zeros(self.delay, np.float64)
        self._period = self.pitch_max
        self._poverlap = self._period >> 2
        self._poffset = 0
        self._pitchblen = self._period
        self._erasecnt = 0
        self._atten = 1.0

    @property
    def _history(self) -> npt.NDArray[np.int16]:
        """The last ``hist_len`` samples played (a writable view of the buffer)."""
        if self._c is not None:
            return self._c.history
        return self._hbuf[self._hpos - self.hist_len : self._hpos]

    @property
    def _pitch(self) -> int:
        """The pitch period (samples) found at the start of the last loss."""
        return self._period if self._c is None else self._c.pitch

    @property
    def erased(self) -> int:
        """Number of 10 ms units concealed since the last good frame."""
        c = self._c
        return self._erasecnt if c is None else c.erased

    # -- received audio -------------------------------------------------------------------

    def receive(self, frame: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Record a good frame; return the same number of samples, delayed by ``delay``."""
        if (frame.__class__ is not np.ndarray or frame.dtype is not _I16 or frame.ndim != 1
                or not frame.flags.c_contiguous):
            frame = _as_frame(frame)
        c = self._c
        if c is not None:
            return c.receive(frame)
        if not self._erasecnt:
            return self._save(frame)
        s = frame.astype(np.float64)
        # Longer losses get longer overlaps into the real signal (Appendix I addtohistory).
        olen = min(self._poverlap + (self._erasecnt - 1) * self.overlap_incr, self.unit, len(s))
        if olen > 0:
            synth = self._synth(olen)
            incr = 1.0 / olen
            gain = max(1.0 - (self._erasecnt - 1) * 0.2, 0.0)
            i = np.arange(olen, dtype=np.float64)
            lw = (1.0 - incr) * gain - i * incr * gain
            rw = incr + i * incr
            s[:olen] = lw * synth + rw * s[:olen]
        self._erasecnt = 0
        return self._save(_clip16(s))

    def _save(self, s: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Append ``s`` to the history; return ``n`` samples of (history + s) ending
        ``delay`` samples before its end."""
        n = len(s)
        buf = self._hbuf
        p = self._hpos
        if p + n > len(buf):
            h = self.hist_len
            if h + n > len(buf):
                buf = np.zeros(2 * (h + n), np.int16)
            buf[:h] = self._hbuf[p - h : p].copy()
            self._hbuf = buf
            p = h
        buf[p : p + n] = s
        p += n
        self._hpos = p
        end = p - self.delay
        return buf[end - n : end].copy()  # the caller may write into it; history must not change

    # -- lost audio -----------------------------------------------------------------------

    def conceal(self, n: int) -> npt.NDArray[np.int16]:
        """Return ``n`` samples of substitute audio for lost packets (10 ms units)."""
        n = operator.index(n)
        c = self._c
        if c is not None:
            return c.conceal(n)
        parts = []
        while n > 0:
            m = min(n, self.unit)
            parts.append(self._conceal_unit(m))
            n -= m
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def _conceal_unit(self, n: int) -> npt.NDArray[np.int16]:
        end = self.hist_len
        if self._erasecnt == 0:
            self._pitchbuf = self._history.astype(np.float64)
            self._period = self._find_pitch()
            pov = self._poverlap = self._period >> 2
            self._lastq = self._pitchbuf[end - pov : end].copy()
            self._poffset = 0
            self._pitchblen = self._period
            start = end - self._pitchblen
            # Smooth the wrap from the end of the period back to its start.
            self._pitchbuf[end - pov : end] = self._ola(
                self._lastq, self._pitchbuf[start - pov : start]
            )
            self._history[end - pov : end] = self._pitchbuf[end - pov : end]  # integral values
            self._atten = 1.0
            out = self._synth(n)
        elif self._erasecnt in (1, 2):
            pov = self._poverlap
            saved = self._poffset
            tail = self._synth(pov)  # the old buffer's continuation, to fade out
            self._poffset = saved
            while self._poffset > self._period:  # same phase, within one period
                self._poffset -= self._period
            self._pitchblen += self._period  # one more period into the buffer
            start = end - self._pitchblen
            self._pitchbuf[end - pov : end] = self._ola(
                self._lastq, self._pitchbuf[start - pov : start]
            )
            out = self._synth(n)
            m = min(pov, n)  # a unit shorter than the overlap blends only what it has
            out[:m] = self._ola(tail[:m], out[:m], pov)
            out = self._scale(out)
        elif self._erasecnt > 5:
            out = np.zeros(n, np.float64)
        else:
            out = self._scale(self._synth(n))
        self._erasecnt += 1
        return self._save(_clip16(out))

    def _ola(self, left: F64, right: F64, cnt: int = 0) -> F64:
        """Fade from ``left`` to ``right`` over ``cnt`` samples (default: their length)."""
        cnt = cnt or len(left)
        if len(left) == 0:
            return left.copy()
        incr = 1.0 / cnt
        i = np.arange(len(left), dtype=np.float64)
        rw = incr + i * incr
        return np.trunc(np.clip((1.0 - rw) * left + rw * right, -32768.0, 32767.0))

    def _scale(self, out: F64) -> F64:
        # Linear fade: 20 % per 10 ms from the second lost 10 ms on.
        step = 0.2 / self.unit
        g = self._atten - step * np.arange(len(out), dtype=np.float64)
        self._atten = max(self._atten - step * len(out), 0.0)
        return np.trunc(out * np.maximum(g, 0.0))  # stored as short in the reference

    def _synth(self, n: int) -> F64:
        """Next ``n`` samples of the repeating pitch buffer."""
        start = self.hist_len - self._pitchblen
        idx = (self._poffset + np.arange(n)) % self._pitchblen
        self._poffset = int((self._poffset + n) % self._pitchblen)
        return np.asarray(self._pitchbuf[start + idx], dtype=np.float64)

    def _find_pitch(self) -> int:
        buf = self._pitchbuf
        end = self.hist_len
        clen = self.corr_len
        target = buf[end - clen : end]
        r = buf[end - clen - self.pitch_max : end]
        windows = np.lib.stride_tricks.sliding_window_view(r, clen)  # row j: lag j
        nd = self.ndec
        coarse = windows[: self.pitch_diff + 1 : nd, ::nd]
        best = self._best(coarse, target[::nd], np.arange(0, self.pitch_diff + 1, nd))
        lo = max(best - (nd - 1), 0)
        hi = min(best + (nd - 1), self.pitch_diff)
        fine = windows[lo : hi + 1]
        best = self._best(fine, target, np.arange(lo, hi + 1))
        return self.pitch_max - best

    def _best(self, win: F64, target: F64, lags: npt.NDArray[np.intp]) -> int:
        corr = win @ target
        energy = np.einsum("ij,ij->i", win, win)
        score = corr / np.sqrt(np.maximum(energy, self.min_power))
        # The reference keeps the last lag among equal scores (">=").
        pos = len(score) - 1 - int(np.argmax(score[::-1]))
        return int(lags[pos])

    def __repr__(self) -> str:
        return f"WaveformConcealer(rate={8000 * self.k}, erased={self.erased})"

