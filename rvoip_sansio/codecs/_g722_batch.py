"""G.722 for many streams at once: numpy state arrays of shape ``[n_streams]``.

ADPCM is sequential in time, so one stream cannot be vectorised; many streams can. Each
time step runs the same integer operations as :mod:`rvoip_sansio.codecs._g722` on arrays
whose first half is every stream's low band and second half every stream's high band (block
4 is the same for both bands), so a conference bridge or a media server pays the Python
overhead once per sample pair for all its calls. Output is bit-identical to the scalar coder.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from rvoip_sansio.codecs._base import CodecError
from rvoip_sansio.codecs._g722_tables import (
    DET_HIGH, DET_LOW, ILN, ILP, NB_HIGH_MAX, NB_LOW_MAX, Q6, QM2, QMF, RECON_LOW, LOW_INVQ,
    LOW_WL,
)

__all__ = ["G722BatchEncoder", "G722BatchDecoder"]

I32 = npt.NDArray[np.int32]

# A "q index": 0..63 is a low-band code, 64..67 is 64 + a high-band code.
_INVQ = np.array(list(LOW_INVQ) + list(QM2), np.int32)
_WLH = np.array(list(LOW_WL) + [798, -214, 798, -214], np.int32)
_DET = np.array(DET_LOW + DET_HIGH, np.int32)
_LEVELS = np.array(Q6[1:30], np.int32)
# Low-band code by (negative, 1 + level count) and high-band q index by (negative, big).
_LOW_CODE = np.array(list(ILP) + list(ILN), np.int32)
_HIGH_Q = np.array([64 + 3, 64 + 2, 64 + 1, 64 + 0], np.int32)
# The quantisers as one table: index v + (VMAX+1)·negative + 2·(VMAX+1)·high_band, where
# v = ((|e|' + 1)·4096 - 1) // det capped at VMAX (the last decision level, 2919, plus one).
_VMAX = 2920
_RING = 64
_v = np.arange(_VMAX + 1)
_lowcount = 1 + np.searchsorted(_LEVELS, _v, side="right")
_QTAB = np.concatenate((
    _LOW_CODE.take(_lowcount), _LOW_CODE.take(_lowcount + 32),
    _HIGH_Q.take((_v >= 564).astype(np.int64)), _HIGH_Q.take((_v >= 564) + 2),
)).astype(np.int32)


class _Consts(dict[int, npt.NDArray[np.int32]]):
    """0-d int32 arrays by value, made on first use."""

    def __missing__(self, value: int) -> npt.NDArray[np.int32]:
        c = np.array(value, np.int32)
        c.flags.writeable = False
        self[value] = c
        return c


_K = _Consts()


def _clip_minmax(x: I32, lo: I32, hi: I32, out: I32) -> I32:
    np.maximum(x, lo, out=out)
    return np.minimum(out, hi, out=out)


# numpy's clip ufunc itself (numpy >= 2: one call instead of maximum + minimum; np.clip
# wraps it in Python and costs more than both); the two-call form where it is missing.
_CLIP: Callable[..., I32] = getattr(getattr(getattr(np, "_core", None), "umath", None),
                                    "clip", None) or _clip_minmax


class _BatchState:
    """Block 4 state of 2·n bands; see the scalar coder for the meaning of each value.

    Saturations whose result cannot matter are left out (each is argued where it is missing),
    which keeps the number of numpy calls per time step low.
    """

    __slots__ = ("n", "s", "sz", "a1", "a2", "rr1", "rr2", "sg1", "sg2", "nb", "det", "b",
                 "ddbuf", "hbuf", "head", "nbmax", "detoff")

    def __init__(self, n: int) -> None:
        if n <= 0:
            raise CodecError("a batch needs at least one stream")
        m = 2 * n
        self.n = n
        self.s = np.zeros(m, np.int32)
        self.sz = np.zeros(m, np.int32)
        self.a1 = np.zeros(m, np.int32)
        self.a2 = np.zeros(m, np.int32)
        self.rr1 = np.zeros(m, np.int32)  # saturate(2·r) of the last two reconstructions
        self.rr2 = np.zeros(m, np.int32)
        self.sg1 = np.zeros(m, np.int32)  # sign (0 / -1) of the last two partial signals
        self.sg2 = np.zeros(m, np.int32)
        self.nb = np.zeros(m, np.int32)
        self.det = np.concatenate((np.full(n, 32, np.int32), np.full(n, 8, np.int32)))
        self.b = np.zeros((6, m), np.int32)
        # Histories of saturate(2·d) and of 2^-7·sgn(d) (zero counts as positive), newest
        # first: a window of 6 rows sliding up a taller buffer, so the per-step shift is a
        # pointer move and a copy happens once every _RING steps.
        self.ddbuf = np.zeros((6 + _RING, m), np.int32)
        self.hbuf = np.full((6 + _RING, m), 128, np.int32)
        self.head = _RING
        self.nbmax = np.concatenate((np.full(n, NB_LOW_MAX, np.int32),
                                     np.full(n, NB_HIGH_MAX, np.int32)))
        self.detoff = np.concatenate((np.zeros(n, np.int32),
                                      np.full(n, NB_LOW_MAX + 1, np.int32)))

    def adapt(self, q: I32) -> I32:
        """INVQAL/INVQAH, LOGSCL/LOGSCH, SCALEL/SCALEH and block 4 for q indices; returns d.

        Every constant is a 0-d int32 array (``_K[...]``): numpy handles a Python int operand
        through scalar promotion, which for these ~200-element arrays costs as much as the
        arithmetic itself (measured: ``a + 5`` 0.6 µs, ``a + array(5)`` 0.33 µs).
        """
        k, clip = _K, _CLIP
        d = _INVQ.take(q)  # INVQAL / INVQAH output level
        d *= self.det
        d >>= k[15]
        nb = self.nb * k[127]
        nb >>= k[7]
        nb += _WLH.take(q)  # LOGSCL / LOGSCH multiplier
        clip(nb, k[0], self.nbmax, out=nb)
        self.nb = nb
        self.det = _DET.take(nb + self.detoff)
        # PARREC: only the sign of p0 is used, and saturation keeps the sign.
        sg0 = self.sz + d
        sg0 >>= k[31]
        # UPPOL2: a2 += 2^-7·(sgn p0·p2 - 4·a1·sgn p0·p1), with leakage. saturate(±4·a1) >> 7
        # equals saturate((±4·a1) >> 7) into -256..255.
        a1, a2 = self.a1, self.a2
        x01 = sg0 ^ self.sg1  # 0 when the signs agree, -1 when they differ
        f = x01 * k[-8]
        f -= k[4]  # -4 when they agree, +4 when they differ
        w = a1 * f
        w >>= k[7]
        clip(w, k[-256], k[255], out=w)
        x02 = sg0 ^ self.sg2
        x02 *= k[256]
        w += x02
        t = a2 * k[32512]
        t >>= k[15]
        t += k[128]
        w += t
        clip(w, k[-12288], k[12288], out=w)
        ap2 = w
        # UPPOL1: a1 += 3·2^-8·sgn p0·p1, with leakage, within ±(15360 - a2)
        ap1 = a1 * k[32640]
        ap1 >>= k[15]
        x01 *= k[384]
        ap1 += x01
        ap1 += k[192]
        clip(ap1, ap2 - k[15360], k[15360] - ap2, out=ap1)
        # UPZERO: b_i += 2^-7·sgn d·sgn d_i (nothing when d = 0), with leakage. b cannot leave
        # int16: b·255/256 + 128 <= 32767 and >= -32768 for every int16 b.
        sd = np.sign(d)
        b = self.b * k[32640]
        b >>= k[15]
        head = self.head
        b += self.hbuf[head : head + 6] * sd
        self.b = b
        # DELAYA
        ddbuf, hbuf = self.ddbuf, self.hbuf
        if head == 0:
            ddbuf[_RING + 1 :] = ddbuf[:5]
            hbuf[_RING + 1 :] = hbuf[:5]
            head = _RING + 1
        head -= 1
        self.head = head
        two = d + d
        clip(two, k[-32768], k[32767], out=ddbuf[head])
        hrow = hbuf[head]
        np.bitwise_or(d >> k[31], k[1], out=hrow)
        hrow <<= k[7]
        dd = ddbuf[head : head + 6]
        self.sg2, self.sg1 = self.sg1, sg0
        self.a1, self.a2 = ap1, ap2
        # RECONS: r0 = s + d only enters FILTEP as saturate(2·r0), which equals
        # saturate(2·(s + d)) without saturating r0 first.
        rr = self.s + d
        rr += rr
        clip(rr, k[-32768], k[32767], out=rr)
        self.rr2, self.rr1 = self.rr1, rr
        # FILTEP, FILTEZ, PREDIC
        sp = ap1 * rr
        sp >>= k[15]
        t = ap2 * self.rr2
        t >>= k[15]
        sp += t
        clip(sp, k[-32768], k[32767], out=sp)
        prod = b * dd
        prod >>= k[15]
        sz: I32 = np.add.reduce(prod, 0, np.int32)
        clip(sz, k[-32768], k[32767], out=sz)
        self.sz = sz
        sp += sz
        clip(sp, k[-32768], k[32767], out=sp)
        self.s = sp
        return d


class G722BatchEncoder:
    """64 kbit/s G.722 encoders for ``n_streams`` streams advanced together."""

    __slots__ = ("n_streams", "_st", "_qmf", "_bandoff")

    def __init__(self, n_streams: int) -> None:
        self.n_streams = n_streams
        self._st = _BatchState(n_streams)
        self._qmf = np.zeros((n_streams, 22), np.int64)
        self._bandoff = np.concatenate((np.zeros(n_streams, np.int32),
                                        np.full(n_streams, 2 * (_VMAX + 1), np.int32)))

    def encode(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
        """``pcm`` of shape ``(n_streams, samples)`` (even) -> codes ``(n_streams, samples/2)``."""
        if pcm.dtype != np.int16 or pcm.ndim != 2 or pcm.shape[0] != self.n_streams \
                or pcm.shape[1] % 2:
            raise CodecError(f"batch input must be int16 of shape ({self.n_streams}, even)")
        n = self.n_streams
        pairs = pcm.shape[1] // 2
        full = np.concatenate((self._qmf, pcm.astype(np.int64)), axis=1)
        # Transmit QMF across all streams: tap i meets x[2i] (even) and x[2i+1] (odd).
        sumodd = np.zeros((n, pairs), np.int64)
        sumeven = np.zeros((n, pairs), np.int64)
        for i, c in enumerate(QMF):
            sumodd += c * full[:, 2 * i : 2 * i + 2 * pairs : 2]
            sumeven += QMF[11 - i] * full[:, 2 * i + 1 : 2 * i + 1 + 2 * pairs : 2]
        self._qmf = full[:, -22:].copy()
        xs = np.empty((pairs, 2 * n), np.int32)
        xs[:, :n] = ((sumeven + sumodd) >> 14).T
        xs[:, n:] = ((sumeven - sumodd) >> 14).T
        st = self._st
        qs = np.empty((pairs, 2 * n), np.int32)
        bandoff = self._bandoff
        k = _K
        c31, c12, c4095, cmax, cstride = k[31], k[12], k[4095], k[_VMAX], k[_VMAX + 1]
        for t in range(pairs):
            # SUBTRA. Saturating e is not needed: any |e| >= 32767 is beyond the last
            # decision level for every possible det, so the quantiser answers the same.
            e = xs[t] - st.s
            neg = e >> c31  # -1 for negative
            wd = e ^ neg  # e for e >= 0, -(e+1) for e < 0
            # QUANTL/QUANTH: wd >= (level·det) >> 12  <=>  level <= ((wd+1)·4096 - 1) // det
            wd <<= c12
            wd += c4095
            wd //= st.det
            np.minimum(wd, cmax, out=wd)
            neg *= cstride
            wd -= neg
            wd += bandoff
            q = _QTAB.take(wd)
            qs[t] = q
            st.adapt(q)
        codes = qs[:, :n] | ((qs[:, n:] - 64) << 6)
        return np.ascontiguousarray(codes.T).astype(np.uint8)


class G722BatchDecoder:
    """G.722 decoders for ``n_streams`` streams advanced together (64/56/48 kbit/s)."""

    __slots__ = ("n_streams", "_recon", "_st", "_qmf")

    def __init__(self, n_streams: int, bitrate: int = 64000) -> None:
        modes = {64000: 1, 56000: 2, 48000: 3}
        if bitrate not in modes:
            raise CodecError("G.722 decoder bitrate must be 64000, 56000 or 48000")
        self.n_streams = n_streams
        self._recon = np.array(RECON_LOW[modes[bitrate]], np.int32)
        self._st = _BatchState(n_streams)
        self._qmf = np.zeros((n_streams, 22), np.int64)

    def decode(self, codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
        """``codes`` of shape ``(n_streams, octets)`` -> int16 ``(n_streams, 2·octets)``."""
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[0] != self.n_streams:
            raise CodecError(f"batch input must be uint8 of shape ({self.n_streams}, octets)")
        n = self.n_streams
        st = self._st
        steps = codes.shape[1]
        ot = np.ascontiguousarray(codes.T).astype(np.int32)
        qs = np.empty((steps, 2 * n), np.int32)
        qs[:, :n] = ot & 0x3F
        qs[:, n:] = (ot >> 6) + 64
        recon = self._recon.take(ot)
        rl = np.empty((steps, n), np.int32)
        rh = np.empty((steps, n), np.int32)
        c15 = _K[15]
        for t in range(steps):
            # INVQBL, RECONS (limited after the loop) for the output of the low band.
            lo = st.det[:n] * recon[t]
            lo >>= c15
            np.add(lo, st.s[:n], out=rl[t])
            s_high = st.s[n:]  # adapt() rebinds st.s, never writes into it
            d = st.adapt(qs[t])
            np.add(s_high, d[n:], out=rh[t])
        # LIMIT: the reconstructed band signals are held within 15 bits.
        np.clip(rl, -16384, 16383, out=rl)
        np.clip(rh, -16384, 16383, out=rh)
        inter = np.empty((n, 2 * steps), np.int64)
        inter[:, 0::2] = (rl + rh).T
        inter[:, 1::2] = (rl - rh).T
        full = np.concatenate((self._qmf, inter), axis=1)
        self._qmf = full[:, -22:].copy()
        # Receive QMF across all streams.
        xout1 = np.zeros((n, steps), np.int64)
        xout2 = np.zeros((n, steps), np.int64)
        for i, c in enumerate(QMF):
            xout2 += c * full[:, 2 * i : 2 * i + 2 * steps : 2]
            xout1 += QMF[11 - i] * full[:, 2 * i + 1 : 2 * i + 1 + 2 * steps : 2]
        out = np.empty((n, 2 * steps), np.int16)
        out[:, 0::2] = np.clip(xout1 >> 11, -32768, 32767)
        out[:, 1::2] = np.clip(xout2 >> 11, -32768, 32767)
        return out
