"""DTMF tone generation (ITU-T Q.23) and detection (Goertzel analysis, ITU-T Q.24 rules).

Q.23 assigns each key one low-group ("row") and one high-group ("column") frequency::

              1209  1336  1477  1633 Hz
      697 Hz    1     2     3     A
      770 Hz    4     5     6     B
      852 Hz    7     8     9     C
      941 Hz    *     0     #     D

The detector slides a 25 ms analysis window in 5 ms hops over the stream and evaluates
the single-bin DFT (what the Goertzel recurrence computes; :func:`goertzel` is the
textbook recurrence, the detector evaluates the same sums for all bins of all windows of
a frame as one matrix product) at the eight Q.23 frequencies and their second harmonics.
A window is a *candidate* for a key when, per Q.24 and the usual receiver practice:

* each of the two strongest tones (one per group) is above a level floor;
* the **twist** (high-group level minus low-group level) is within
  ``-normal_twist_db … +reverse_twist_db`` (Q.24 accepts 8 dB normal, 4 dB reverse twist);
* each is well above the other tones of its group;
* the pair carries most of the window's energy (signal-to-noise check);
* the **second harmonics** of both tones are weak (speech and music are harmonic-rich).

Consecutive candidate windows for the same key form a run. The run becomes a digit when
the tone has lasted ``min_duration`` (Q.24: accept 40 ms, reject tones under ~23 ms; the
duration is measured on 5 ms hops, so the default 30 ms threshold accepts every 40 ms tone
and rejects every tone of 23 ms or less; 25-30 ms tones may go either way), both tones
reached ``min_level_dbm0`` and the tones' frequencies, measured from the phase advance of the DFT between windows, lie within
``freq_tolerance`` of nominal (Q.24: accept ±1.5 %, reject ±3.5 %; the default 2.5 % sits
between). A pause of ``min_pause`` ends a digit, so the same key pressed twice is two digits,
while shorter dropouts are bridged.
"""

from __future__ import annotations

import cmath
import math
import attrs
import numpy as np
import numpy.typing as npt

from .._core import Event
from ._levels import FloatArray, Pcm, as_pcm, dbm0_to_rms, to_int16
from .sources import samples_for

__all__ = [
    "DTMF_LOW",
    "DTMF_HIGH",
    "DTMF_KEYS",
    "dtmf_frequencies",
    "dtmf_tone",
    "dtmf_sequence",
    "goertzel",
    "DtmfConfig",
    "DtmfDigit",
    "DtmfDigitEnded",
    "DtmfDetector",
    "detect_dtmf",
]

#: ITU-T Q.23 low-group (row) frequencies, Hz.
DTMF_LOW: tuple[int, ...] = (697, 770, 852, 941)
#: ITU-T Q.23 high-group (column) frequencies, Hz.
DTMF_HIGH: tuple[int, ...] = (1209, 1336, 1477, 1633)
#: Keys in row-major order of the Q.23 table.
DTMF_KEYS = "123A456B789C*0#D"


def dtmf_frequencies(digit: str) -> tuple[int, int]:
    """``(low, high)`` Q.23 frequencies of a key (``0-9 * # A-D``, case-insensitive)."""
    idx = DTMF_KEYS.find(digit.upper()) if len(digit) == 1 else -1
    if idx < 0:
        raise ValueError(f"not a DTMF key: {digit!r}")
    return DTMF_LOW[idx // 4], DTMF_HIGH[idx % 4]


def _dtmf_float(
    digit: str, rate: int, count: int, level_dbm0: float, twist_db: float, freq_scale: float
) -> FloatArray:
    lo, hi = dtmf_frequencies(digit)
    n = np.arange(count, dtype=np.float64)
    a_lo = dbm0_to_rms(level_dbm0) * math.sqrt(2.0)
    a_hi = dbm0_to_rms(level_dbm0 + twist_db) * math.sqrt(2.0)
    return a_lo * np.sin(2 * np.pi * lo * freq_scale * n / rate) + a_hi * np.sin(
        2 * np.pi * hi * freq_scale * n / rate
    )


def dtmf_tone(
    digit: str,
    rate: int,
    duration: float = 0.1,
    *,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    freq_scale: float = 1.0,
) -> Pcm:
    """One key's tone pair.

    ``level_dbm0`` is the level of the low-group tone; the high-group tone is at
    ``level_dbm0 + twist_db`` (positive twist: high group louder). ``freq_scale`` offsets
    both frequencies (e.g. ``1.015`` for +1.5 %), for testing receivers.
    """
    count = samples_for(duration, rate)
    return to_int16(_dtmf_float(digit, rate, count, level_dbm0, twist_db, freq_scale))


def dtmf_sequence(
    digits: str,
    rate: int,
    *,
    on: float = 0.1,
    off: float = 0.1,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
) -> Pcm:
    """Keys separated by pauses: ``on`` seconds of tone, then ``off`` seconds of silence each."""
    parts: list[Pcm] = []
    gap = np.zeros(samples_for(off, rate), dtype=np.int16)
    for d in digits:
        parts.append(dtmf_tone(d, rate, on, level_dbm0=level_dbm0, twist_db=twist_db))
        parts.append(gap)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def goertzel(samples: npt.ArrayLike, freq: float, rate: int) -> complex:
    """The Goertzel recurrence: the DFT of ``samples`` at ``freq`` (``Σ x[n]·e^{-j2πfn/rate}``)."""
    x = np.asarray(samples, dtype=np.float64)
    w = 2.0 * math.pi * freq / rate
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for v in x.tolist():
        s1, s2 = v + coeff * s1 - s2, s1
    # y[N-1] = s1 - e^{-jw} s2 is the DFT times e^{jw(N-1)}; undo that rotation.
    y = complex(s1 - math.cos(w) * s2, math.sin(w) * s2)
    return y * cmath.exp(-1j * w * (len(x) - 1))


@attrs.frozen(kw_only=True)
class DtmfConfig:
    """Receiver thresholds (defaults follow ITU-T Q.24 with margins; see module docs)."""

    min_level_dbm0: float = -40.0
    normal_twist_db: float = 8.0
    reverse_twist_db: float = 4.0
    freq_tolerance: float = 0.025
    min_duration: float = 0.030
    min_pause: float = 0.020
    min_snr_db: float = 10.0
    min_group_margin_db: float = 8.0
    max_harmonic_db: float = -20.0


@attrs.frozen(kw_only=True)
class DtmfDigit(Event):
    """A key was recognised. ``start`` is the sample index (from the detector's first sample)."""

    digit: str
    start: int
    level_dbm0: float
    twist_db: float


@attrs.frozen(kw_only=True)
class DtmfDigitEnded(Event):
    """The tone of a recognised key stopped at sample ``end`` after ``duration`` seconds."""

    digit: str
    end: int
    duration: float


_HOPS_PER_WINDOW = 5  # 25 ms window, 5 ms hop
_PROBE = 0.012


class DtmfDetector:
    """Streaming DTMF receiver: feed int16 frames of any size, get :class:`DtmfDigit` events."""

    __slots__ = (
        "rate", "config", "_hop", "_win", "_basis", "_shift", "_buf", "_hops_done",
        "_floor", "_min_level", "_snr", "_margin", "_harm", "_tw_lo", "_tw_hi",
        "_run", "_misses", "_run_first_hop", "_run_hops", "_peak", "_peak_lo", "_peak_hi",
        "_peak_twist", "_z", "_prev_x", "_nwin", "_reported", "_start_hop", "_last_hop",
        "_quiet", "_quiet_start", "_block_hop", "_pause_hops", "_need_hops", "_buf_hop0",
        "_proj", "_others", "_cheap",
    )

    def __init__(self, rate: int, *, config: DtmfConfig | None = None) -> None:
        if rate < 4000 or rate % 200:
            raise ValueError(f"DTMF detection needs a rate that is a multiple of 200 Hz ≥ 4 kHz, got {rate}")
        self.rate = rate
        self.config = cfg = config or DtmfConfig()
        self._hop = rate // 200
        self._win = self._hop * _HOPS_PER_WINDOW
        freqs = np.array(DTMF_LOW + DTMF_HIGH, dtype=np.float64)
        n = np.arange(self._win, dtype=np.float64)
        # DFT bins at each nominal frequency and ±1.2 % of it: a tone off by up to Q.24's
        # 1.5 % then loses at most ~1.3 dB in its best bin (a 25 ms window is only 40 Hz wide).
        probes = np.concatenate([freqs * (1 - _PROBE), freqs, freqs * (1 + _PROBE)])
        ph = 2 * np.pi * np.outer(n, probes) / rate
        self._basis = np.concatenate([np.cos(ph), -np.sin(ph)], axis=1)  # real | imaginary parts
        # Per key, an orthonormal basis (QR) of sines and cosines at the key's two tones (three
        # probes each) followed by their second harmonics. Projecting a window on it splits the
        # window's energy into low tone, high tone, harmonics and the rest, whatever the exact
        # tone frequency, and the harmonic part is free of leakage from the other group
        # (2 x 697 Hz is only 58 Hz from 1336 Hz).
        cols = []
        for key in range(16):
            lo, hi = DTMF_LOW[key // 4], DTMF_HIGH[key % 4]
            fs_ = [lo * (1 - _PROBE), lo, lo * (1 + _PROBE), hi * (1 - _PROBE), hi, hi * (1 + _PROBE)]
            fs_ += [h for h in (2 * lo, 2 * hi) if h < rate / 2 - 100]
            arg = 2 * np.pi * np.outer(n, fs_) / rate
            m = np.concatenate([np.cos(arg), np.sin(arg)], axis=1)
            nf = len(fs_)
            order = [0, nf, 1, nf + 1, 2, nf + 2, 3, nf + 3, 4, nf + 4, 5, nf + 5]
            order += [i for i in range(6, nf)] + [nf + i for i in range(6, nf)]
            q, _ = np.linalg.qr(m[:, order])
            q = np.pad(q, ((0, 0), (0, 16 - q.shape[1])))
            cols.append(q)
        self._proj = np.stack(cols)  # (16 keys, win, 16)
        # Expected phase advance per hop of a tone exactly on frequency.
        self._shift = np.exp(-2j * np.pi * freqs * self._hop / rate)
        self._buf: FloatArray = np.zeros(0, dtype=np.float64)
        self._hops_done = 0
        full = dbm0_to_rms(cfg.min_level_dbm0) ** 2  # mean power of a tone at the minimum level
        self._min_level = full
        self._floor = full / 10.0  # partially covered windows may be 10 dB lower
        self._snr = 10 ** (cfg.min_snr_db / 10)
        self._margin = 10 ** (-cfg.min_group_margin_db / 10)
        self._harm = 10 ** (cfg.max_harmonic_db / 10)
        self._cheap = 0.5 * self._snr / (1 + self._snr)
        self._tw_lo = 10 ** (-cfg.normal_twist_db / 10)
        self._tw_hi = 10 ** (cfg.reverse_twist_db / 10)
        self._pause_hops = max(1, math.ceil(cfg.min_pause * rate / self._hop - 1e-9))
        self._need_hops = max(1, math.ceil(cfg.min_duration * rate / self._hop - 1e-9))
        self._block_hop = -(10**9)
        self._buf_hop0 = 0
        self._reset_run()

    def _reset_run(self) -> None:
        self._run = -1
        self._misses = 0
        self._others = 0
        self._run_first_hop = 0
        self._run_hops: list[float] = []
        self._peak = 0.0
        self._peak_lo = 0.0
        self._peak_hi = 0.0
        self._peak_twist = 0.0
        self._z = np.zeros(2, dtype=np.complex128)
        self._prev_x: npt.NDArray[np.complex128] | None = None
        self._nwin = 0
        self._reported = False
        self._start_hop = 0
        self._last_hop = 0
        self._quiet = 0
        self._quiet_start = 0

    def process(self, pcm: npt.ArrayLike) -> list[Event]:
        """Analyse the next samples; return the digits recognised and ended within them."""
        x = as_pcm(pcm)
        self._buf = np.concatenate([self._buf, x.astype(np.float64)])
        hop, win = self._hop, self._win
        if self._buf.size < win:
            return []
        nwin = (self._buf.size - win) // hop + 1
        step = self._buf.strides[0]
        frames = np.lib.stride_tricks.as_strided(self._buf, (nwin, win), (hop * step, step), writeable=False)
        ri = frames @ self._basis  # (nwin, 48): single-bin DFTs, real then imaginary parts
        spec = ri[:, :24] + 1j * ri[:, 24:]
        power = 2.0 * (spec.real**2 + spec.imag**2) / (win * win)  # mean power of each tone
        best = np.max(power.reshape(-1, 3, 8), axis=1)  # best probe per nominal frequency
        total = np.einsum("ij,ij->i", frames, frames) / win
        if self._run < 0:
            # Fast reject while idle: the strongest bins must carry most of the energy (the
            # full test below asks for ≥ 10 dB purity; a bin loses ≤ 1.3 dB off-frequency).
            lo_b, hi_b = best[:, 0:4].max(axis=1), best[:, 4:8].max(axis=1)
            maybe = (lo_b >= self._floor * 0.5) & (hi_b >= self._floor * 0.5) & (lo_b + hi_b >= self._cheap * total)
            if not maybe.any():
                self._hops_done += nwin
                self._buf = self._buf[nwin * hop :]
                return []
        newest = frames[:, win - hop :]
        hop_pow = np.einsum("ij,ij->i", newest, newest) / hop
        key = np.argmax(best[:, 0:4], axis=1) * 4 + np.argmax(best[:, 4:8], axis=1)
        coef = np.einsum("nw,nwk->nk", frames, self._proj[key])  # projection on the key's basis
        cand, p_lo, p_hi = self._classify(best, coef * coef / win, total, key)
        self._buf_hop0 = self._hops_done
        events: list[Event] = []
        center = spec[:, 8:16]
        for i in range(nwin):
            self._step(int(cand[i]), center[i], float(p_lo[i]), float(p_hi[i]), float(hop_pow[i]), events)
        self._buf = self._buf[nwin * hop :]
        return events

    def _classify(
        self, best: FloatArray, mine: FloatArray, total: FloatArray, key: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        rows, cols = best[:, 0:4], best[:, 4:8]
        r, c = np.divmod(key, 4)
        idx = np.arange(best.shape[0])
        # mine: (nwin, 16) energy per basis vector of the window's key
        p_lo = mine[:, 0:6].sum(axis=1)
        p_hi = mine[:, 6:12].sum(axis=1)
        harm = mine[:, 12:16].sum(axis=1)
        pair = p_lo + p_hi
        resid = np.maximum(total - pair - harm, total * 1e-9)
        rows2 = np.sort(rows, axis=1)[:, -2]
        cols2 = np.sort(cols, axis=1)[:, -2]
        ok = (
            (p_lo >= self._floor)
            & (p_hi >= self._floor)
            & (p_hi >= self._tw_lo * p_lo)  # normal twist: high group weaker by ≤ normal_twist_db
            & (p_hi <= self._tw_hi * p_lo)  # reverse twist: high group louder by ≤ reverse_twist_db
            & (rows2 <= self._margin * rows[idx, r])
            & (cols2 <= self._margin * cols[idx, c])
            & (pair >= self._snr * (resid + harm))
            & (harm <= self._harm * pair)
        )
        return np.where(ok, key, -1), p_lo, p_hi

    def _step(
        self,
        key: int,
        spec: npt.NDArray[np.complex128],
        p_lo: float,
        p_hi: float,
        hop_pow: float,
        events: list[Event],
    ) -> None:
        end_hop = self._hops_done + _HOPS_PER_WINDOW - 1  # index of this window's newest hop
        first_hop = self._hops_done
        self._hops_done += 1
        if self._run >= 0:
            if not self._reported:
                self._run_hops.append(hop_pow)
            # Q.24 interdigit pause: a quiet stretch of min_pause ends the tone.
            if hop_pow < 0.25 * self._peak:
                if self._quiet == 0:
                    self._quiet_start = end_hop
                self._quiet += 1
            else:
                self._quiet = 0
            if self._quiet >= self._pause_hops:
                self._finish(self._quiet_start, events)
                self._block_hop = self._quiet_start
                return
            if key == self._run:
                self._misses = self._others = 0
                self._absorb(spec, p_lo, p_hi, end_hop)
            else:
                self._misses += 1
                self._others = self._others + 1 if key >= 0 else 0
                self._prev_x = None
                # A recognised tone survives dropouts (its end is the quiet check above); an
                # unconfirmed run does not. Another key held for two windows takes over.
                limit = self._pause_hops + _HOPS_PER_WINDOW if self._reported else 2
                if self._misses >= limit or self._others >= 2:
                    self._finish(self._last_hop + 1, events)
            if self._run >= 0:
                self._maybe_report(events)
                return
        if key >= 0 and first_hop >= self._block_hop:
            self._run = key
            self._run_first_hop = first_hop
            self._fill_history(first_hop)
            self._absorb(spec, p_lo, p_hi, end_hop)
            self._maybe_report(events)

    def _fill_history(self, first_hop: int) -> None:
        # Energies of all hops of a run's first window, from the analysis buffer.
        hop = self._hop
        offset = (first_hop - self._buf_hop0) * hop
        seg = self._buf[offset : offset + self._win]
        e = (seg.reshape(_HOPS_PER_WINDOW, hop) ** 2).mean(axis=1)
        self._run_hops = [float(v) for v in e]

    def _absorb(self, spec: npt.NDArray[np.complex128], pr: float, pc: float, end_hop: int) -> None:
        r, c = divmod(self._run, 4)
        x = np.array([spec[r], spec[4 + c]])
        if self._prev_x is not None:
            self._z += x * np.conj(self._prev_x) * self._shift[[r, 4 + c]]
        self._prev_x = x
        self._nwin += 1
        self._last_hop = end_hop
        if pr + pc > self._peak:
            self._peak, self._peak_lo, self._peak_hi = pr + pc, pr, pc
            self._peak_twist = 10 * math.log10(pc / pr)

    def _freq_ok(self) -> bool:
        r, c = divmod(self._run, 4)
        measured = []
        for z, f in zip(self._z, (DTMF_LOW[r], DTMF_HIGH[c])):
            if z == 0:
                return False
            dev = cmath.phase(complex(z)) * self.rate / (2 * math.pi * self._hop)
            if abs(dev) > self.config.freq_tolerance * f:
                return False
            measured.append(f + dev)
        # Q.23's pairs avoid simple harmonic ratios (the nearest to 2:1 is 1.92); a pair in
        # an exact 2:1 or 3:2 ratio is two partials of one musical note, not a key.
        ratio = measured[1] / measured[0]
        return abs(ratio - 2.0) > 0.016 and abs(ratio - 1.5) > 0.012

    def _maybe_report(self, events: list[Event]) -> None:
        if self._reported or self._nwin < 3:
            return
        if min(self._peak_lo, self._peak_hi) < self._min_level:
            return
        thr = 0.5 * self._peak
        on = [i for i, e in enumerate(self._run_hops) if e >= thr]
        if len(on) < self._need_hops or not self._freq_ok():
            return
        self._reported = True
        self._start_hop = self._run_first_hop + on[0]
        level = 10 * math.log10(self._peak_lo / dbm0_to_rms(0.0) ** 2)
        events.append(
            DtmfDigit(
                digit=DTMF_KEYS[self._run],
                start=self._start_hop * self._hop,
                level_dbm0=round(level, 1),
                twist_db=round(self._peak_twist, 1),
            )
        )
        self._run_hops = []

    def _finish(self, end_hop: int, events: list[Event]) -> None:
        if self._reported:
            events.append(
                DtmfDigitEnded(
                    digit=DTMF_KEYS[self._run],
                    end=end_hop * self._hop,
                    duration=(end_hop - self._start_hop) * self._hop / self.rate,
                )
            )
        self._reset_run()


def detect_dtmf(pcm: npt.ArrayLike, rate: int, *, config: DtmfConfig | None = None) -> str:
    """All keys recognised in a whole signal, as a string (convenience over :class:`DtmfDetector`)."""
    det = DtmfDetector(rate, config=config)
    x = as_pcm(pcm)
    tail = np.zeros(samples_for(0.1, rate), dtype=np.int16)
    events = det.process(np.concatenate([x, tail]))
    return "".join(e.digit for e in events if isinstance(e, DtmfDigit))


