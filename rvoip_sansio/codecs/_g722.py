"""ITU-T G.722 sub-band ADPCM: 64 kbit/s encoder, 64/56/48 kbit/s decoder, one stream.

The quadrature mirror filters are FIRs, so they run over a whole frame at once in numpy;
the two ADPCM loops are sequential in time and run in plain Python with every state value in
a local variable (the block names in comments are those of G.722 §3-§4 and Figure 5/6).
For many streams at once see :mod:`rvoip_sansio.codecs._g722_batch`.

Bit-exact with the ITU-T reference as implemented by spandsp, ffmpeg and the ``G722``
package (checked in tests/codecs against all three).
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
import numpy.typing as npt

from rvoip_sansio.codecs._base import PCM, CodecError
from rvoip_sansio.codecs._g722_tables import (
    DET_HIGH,
    DET_LOW,
    ILN,
    ILP,
    LOW_INVQ,
    LOW_WL,
    NB_HIGH_MAX,
    NB_LOW_MAX,
    Q6,
    QM2,
    QMF,
    RECON_LOW,
)

__all__ = ["G722Encoder", "G722Decoder", "qmf_analysis", "qmf_synthesis", "new_band_state"]

_QMF_EVEN = np.array(QMF, dtype=np.int64)  # applied to x[2i]
_QMF_ODD = np.array(QMF[::-1], dtype=np.int64)  # applied to x[2i+1]
# QUANTL decision thresholds (Q6[i]·det) >> 12, i = 1..29, for each det; det depends only
# on nb >> 6 (SCALEL), so the table has one row per value of nb >> 6.
_THRESHOLDS = tuple(
    tuple((q * DET_LOW[nb]) >> 12 for q in Q6[1:30]) for nb in range(0, NB_LOW_MAX + 1, 64)
)
_WH_BY_CODE = (798, -214, 798, -214)  # WH[RH2[ihigh]]

# One band's state, in this order: s, sz, a1, a2, b1..b6, dd1..dd6, r1, r2, p1, p2, nb, det.
# ddN holds saturate(2 * d[n-N]) (all FILTEZ and UPZERO need of the past differences).
_DET = 21


def new_band_state(det: int) -> list[int]:
    """Initial state of one band (G.722 §6.2: all zero, det = 32 low / 8 high)."""
    st = [0] * 22
    st[_DET] = det
    return st


def qmf_analysis(
    history: npt.NDArray[np.int64], pcm: npt.NDArray[np.int16]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Transmit QMF (G.722 §3.1) over a frame: low band, high band, new 22-sample history."""
    full = np.concatenate((history, pcm.astype(np.int64)))
    win = np.lib.stride_tricks.sliding_window_view(full, 24)[::2]
    sumodd = win[:, 0::2] @ _QMF_EVEN
    sumeven = win[:, 1::2] @ _QMF_ODD
    return (sumeven + sumodd) >> 14, (sumeven - sumodd) >> 14, full[-22:].copy()


def qmf_synthesis(
    history: npt.NDArray[np.int64], rlow: npt.NDArray[np.int64], rhigh: npt.NDArray[np.int64]
) -> tuple[PCM, npt.NDArray[np.int64]]:
    """Receive QMF (G.722 §4.4): 16 kHz samples and the new 22-value history."""
    inter = np.empty(2 * len(rlow), np.int64)
    inter[0::2] = rlow + rhigh
    inter[1::2] = rlow - rhigh
    full = np.concatenate((history, inter))
    win = np.lib.stride_tricks.sliding_window_view(full, 24)[::2]
    out = np.empty(2 * len(rlow), np.int64)
    out[0::2] = (win[:, 1::2] @ _QMF_ODD) >> 11
    out[1::2] = (win[:, 0::2] @ _QMF_EVEN) >> 11
    return np.clip(out, -32768, 32767).astype(np.int16), full[-22:].copy()


class G722Encoder:
    """G.722 encoder at 64 kbit/s: 16 kHz int16 in (even length), one octet per 2 samples."""

    __slots__ = ("_qmf", "_low", "_high")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._qmf = np.zeros(22, np.int64)
        self._low = new_band_state(32)
        self._high = new_band_state(8)

    def encode(self, pcm: PCM) -> bytes:
        if pcm.dtype != np.int16 or pcm.ndim != 1 or len(pcm) % 2:
            raise CodecError("G.722 encodes 1-D int16 frames of an even number of samples")
        if not len(pcm):
            return b""
        xl, xh, self._qmf = qmf_analysis(self._qmf, pcm)
        codes, _, _ = _adpcm_loop(self._low, self._high, xl.tolist(), xh.tolist(), b"", ())
        return bytes(codes)


class G722Decoder:
    """G.722 decoder: octets in, 16 kHz int16 out (two samples per octet).

    ``bitrate`` 56000 or 48000 selects mode 2 or 3 (G.722 §1.2): the low-band code's last
    one or two bits carry auxiliary data and are ignored.
    """

    __slots__ = ("_qmf", "_low", "_high", "_mode")

    def __init__(self, bitrate: int = 64000) -> None:
        modes = {64000: 1, 56000: 2, 48000: 3}
        if bitrate not in modes:
            raise CodecError("G.722 decoder bitrate must be 64000, 56000 or 48000")
        self._mode = modes[bitrate]
        self.reset()

    def reset(self) -> None:
        self._qmf = np.zeros(22, np.int64)
        self._low = new_band_state(32)
        self._high = new_band_state(8)

    def decode(self, payload: bytes | bytearray | memoryview) -> PCM:
        if not len(payload):
            return np.zeros(0, np.int16)
        _, rl, rh = _adpcm_loop(
            self._low, self._high, [], [], bytes(payload), RECON_LOW[self._mode]
        )
        out, self._qmf = qmf_synthesis(
            self._qmf, np.array(rl, dtype=np.int64), np.array(rh, dtype=np.int64)
        )
        return out


# The loop below inlines block 4 (RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA,
# FILTEP, FILTEZ, PREDIC: G.722 §3.6) once per band, for speed.


def _adpcm_loop(
    low: list[int], high: list[int], xls: list[int], xhs: list[int],
    octets: bytes, recon: tuple[int, ...],
) -> tuple[list[int], list[int], list[int]]:
    """Encode (``octets`` empty: ``xls``/``xhs`` are the QMF outputs) or decode ``octets``.

    Returns (codes, rlow, rhigh): the octets when encoding, the band signals when decoding.
    """
    (ls, lsz, la1, la2, lb1, lb2, lb3, lb4, lb5, lb6, ld1, ld2, ld3, ld4, ld5, ld6,
     lr1, lr2, lp1, lp2, lnb, ldet) = low
    (hs, hsz, ha1, ha2, hb1, hb2, hb3, hb4, hb5, hb6, hd1, hd2, hd3, hd4, hd5, hd6,
     hr1, hr2, hp1, hp2, hnb, hdet) = high
    encoding = not octets
    out: list[int] = []
    rlow: list[int] = []
    rhigh: list[int] = []
    # Module constants as locals: the loop runs 8000 times per second of audio.
    ilp, iln, low_invq, low_wl, det_low, det_high, qm2, wh = (
        ILP, ILN, LOW_INVQ, LOW_WL, DET_LOW, DET_HIGH, QM2, _WH_BY_CODE)
    thresholds, bisect = _THRESHOLDS, bisect_right
    put_low, put_high, put = rlow.append, rhigh.append, out.append
    lth = thresholds[lnb >> 6]
    ilow = o = 0
    for i in range(len(xls) if encoding else len(octets)):
        if encoding:
            # ---- low band: SUBTRA, QUANTL (count of thresholds <= |e|'), INVQAL, LOGSCL,
            # SCALEL. e is not saturated: the last threshold is below 22852 for any det.
            xlow = xls[i]
            el = xlow - ls
            if el >= 0:
                ilow = ilp[1 + bisect(lth, el)]
            else:
                ilow = iln[1 + bisect(lth, ~el)]  # ~el = -(el + 1)
            d = (ldet * low_invq[ilow]) >> 15
            lnb = ((lnb * 127) >> 7) + low_wl[ilow]
            if lnb < 0:
                lnb = 0
            elif lnb > NB_LOW_MAX:
                lnb = NB_LOW_MAX
            ldet = det_low[lnb]
            lth = thresholds[lnb >> 6]
        else:
            o = octets[i]
            # ---- low band: INVQBL, RECONS, LIMIT (output); INVQAL, LOGSCL, SCALEL (adaptation)
            rl = ls + ((ldet * recon[o]) >> 15)
            put_low(16383 if rl > 16383 else (-16384 if rl < -16384 else rl))
            c = o & 0x3F
            d = (ldet * low_invq[c]) >> 15
            lnb = ((lnb * 127) >> 7) + low_wl[c]
            if lnb < 0:
                lnb = 0
            elif lnb > NB_LOW_MAX:
                lnb = NB_LOW_MAX
            ldet = det_low[lnb]
        # block 4, low band
        r0 = ls + d  # only used as saturate(2·r0): no need to saturate r0 itself
        p0 = lsz + d  # only its sign is used
        n0 = p0 < 0
        same1 = n0 == (lp1 < 0)
        wd1 = la1 * 4
        wd1 = 32767 if wd1 > 32767 else (-32768 if wd1 < -32768 else wd1)
        wd2 = -wd1 if same1 else wd1
        if wd2 > 32767:
            wd2 = 32767
        wd3 = (wd2 >> 7) + (128 if n0 == (lp2 < 0) else -128) + ((la2 * 32512) >> 15)
        la2 = 12288 if wd3 > 12288 else (-12288 if wd3 < -12288 else wd3)
        wd1 = (192 if same1 else -192) + ((la1 * 32640) >> 15)
        wd3 = 15360 - la2
        la1 = wd3 if wd1 > wd3 else (-wd3 if wd1 < -wd3 else wd1)
        if d:  # UPZERO (b stays within int16: b·255/256 ± 128 cannot overflow)
            g = 128 if d > 0 else -128
            lb1 = ((lb1 * 32640) >> 15) + (-g if ld1 < 0 else g)
            lb2 = ((lb2 * 32640) >> 15) + (-g if ld2 < 0 else g)
            lb3 = ((lb3 * 32640) >> 15) + (-g if ld3 < 0 else g)
            lb4 = ((lb4 * 32640) >> 15) + (-g if ld4 < 0 else g)
            lb5 = ((lb5 * 32640) >> 15) + (-g if ld5 < 0 else g)
            lb6 = ((lb6 * 32640) >> 15) + (-g if ld6 < 0 else g)
        else:
            lb1 = (lb1 * 32640) >> 15
            lb2 = (lb2 * 32640) >> 15
            lb3 = (lb3 * 32640) >> 15
            lb4 = (lb4 * 32640) >> 15
            lb5 = (lb5 * 32640) >> 15
            lb6 = (lb6 * 32640) >> 15
        dd = d + d
        dd = 32767 if dd > 32767 else (-32768 if dd < -32768 else dd)
        ld6, ld5, ld4, ld3, ld2, ld1 = ld5, ld4, ld3, ld2, ld1, dd
        lr2, lr1, lp2, lp1 = lr1, r0, lp1, p0
        wd1 = r0 + r0
        wd1 = 32767 if wd1 > 32767 else (-32768 if wd1 < -32768 else wd1)
        wd2 = lr2 + lr2
        wd2 = 32767 if wd2 > 32767 else (-32768 if wd2 < -32768 else wd2)
        sp = ((la1 * wd1) >> 15) + ((la2 * wd2) >> 15)
        sp = 32767 if sp > 32767 else (-32768 if sp < -32768 else sp)
        lsz = ((lb1 * ld1) >> 15) + ((lb2 * ld2) >> 15) + ((lb3 * ld3) >> 15) \
            + ((lb4 * ld4) >> 15) + ((lb5 * ld5) >> 15) + ((lb6 * ld6) >> 15)
        lsz = 32767 if lsz > 32767 else (-32768 if lsz < -32768 else lsz)
        ls = sp + lsz
        ls = 32767 if ls > 32767 else (-32768 if ls < -32768 else ls)

        if encoding:
            xhigh = xhs[i]
            # ---- high band: SUBTRA, QUANTH, INVQAH, LOGSCH, SCALEH
            eh = xhigh - hs
            if eh >= 0:
                ihigh = 2 if eh >= (564 * hdet) >> 12 else 3
            else:
                ihigh = 0 if -(eh + 1) >= (564 * hdet) >> 12 else 1
            d = (hdet * qm2[ihigh]) >> 15
            hnb = ((hnb * 127) >> 7) + wh[ihigh]
            if hnb < 0:
                hnb = 0
            elif hnb > NB_HIGH_MAX:
                hnb = NB_HIGH_MAX
            hdet = det_high[hnb]
        else:
            # ---- high band: INVQAH, RECONS, LIMIT, LOGSCH, SCALEH
            ihigh = o >> 6
            d = (hdet * qm2[ihigh]) >> 15
            rh = hs + d
            put_high(16383 if rh > 16383 else (-16384 if rh < -16384 else rh))
            hnb = ((hnb * 127) >> 7) + wh[ihigh]
            if hnb < 0:
                hnb = 0
            elif hnb > NB_HIGH_MAX:
                hnb = NB_HIGH_MAX
            hdet = det_high[hnb]
        # block 4, high band (|d| < 7300, so 2d needs no saturation)
        r0 = hs + d  # only used as saturate(2·r0): no need to saturate r0 itself
        p0 = hsz + d  # only its sign is used
        n0 = p0 < 0
        same1 = n0 == (hp1 < 0)
        wd1 = ha1 * 4
        wd1 = 32767 if wd1 > 32767 else (-32768 if wd1 < -32768 else wd1)
        wd2 = -wd1 if same1 else wd1
        if wd2 > 32767:
            wd2 = 32767
        wd3 = (wd2 >> 7) + (128 if n0 == (hp2 < 0) else -128) + ((ha2 * 32512) >> 15)
        ha2 = 12288 if wd3 > 12288 else (-12288 if wd3 < -12288 else wd3)
        wd1 = (192 if same1 else -192) + ((ha1 * 32640) >> 15)
        wd3 = 15360 - ha2
        ha1 = wd3 if wd1 > wd3 else (-wd3 if wd1 < -wd3 else wd1)
        if d:  # UPZERO (b stays within int16: b·255/256 ± 128 cannot overflow)
            g = 128 if d > 0 else -128
            hb1 = ((hb1 * 32640) >> 15) + (-g if hd1 < 0 else g)
            hb2 = ((hb2 * 32640) >> 15) + (-g if hd2 < 0 else g)
            hb3 = ((hb3 * 32640) >> 15) + (-g if hd3 < 0 else g)
            hb4 = ((hb4 * 32640) >> 15) + (-g if hd4 < 0 else g)
            hb5 = ((hb5 * 32640) >> 15) + (-g if hd5 < 0 else g)
            hb6 = ((hb6 * 32640) >> 15) + (-g if hd6 < 0 else g)
        else:
            hb1 = (hb1 * 32640) >> 15
            hb2 = (hb2 * 32640) >> 15
            hb3 = (hb3 * 32640) >> 15
            hb4 = (hb4 * 32640) >> 15
            hb5 = (hb5 * 32640) >> 15
            hb6 = (hb6 * 32640) >> 15
        hd6, hd5, hd4, hd3, hd2, hd1 = hd5, hd4, hd3, hd2, hd1, d + d
        hr2, hr1, hp2, hp1 = hr1, r0, hp1, p0
        wd1 = r0 + r0
        wd1 = 32767 if wd1 > 32767 else (-32768 if wd1 < -32768 else wd1)
        wd2 = hr2 + hr2
        wd2 = 32767 if wd2 > 32767 else (-32768 if wd2 < -32768 else wd2)
        sp = ((ha1 * wd1) >> 15) + ((ha2 * wd2) >> 15)
        sp = 32767 if sp > 32767 else (-32768 if sp < -32768 else sp)
        hsz = ((hb1 * hd1) >> 15) + ((hb2 * hd2) >> 15) + ((hb3 * hd3) >> 15) \
            + ((hb4 * hd4) >> 15) + ((hb5 * hd5) >> 15) + ((hb6 * hd6) >> 15)
        hsz = 32767 if hsz > 32767 else (-32768 if hsz < -32768 else hsz)
        hs = sp + hsz
        hs = 32767 if hs > 32767 else (-32768 if hs < -32768 else hs)
        if encoding:
            put((ihigh << 6) | ilow)
    low[:] = (ls, lsz, la1, la2, lb1, lb2, lb3, lb4, lb5, lb6, ld1, ld2, ld3, ld4, ld5, ld6,
              lr1, lr2, lp1, lp2, lnb, ldet)
    high[:] = (hs, hsz, ha1, ha2, hb1, hb2, hb3, hb4, hb5, hb6, hd1, hd2, hd3, hd4, hd5, hd6,
               hr1, hr2, hp1, hp2, hnb, hdet)
    return out, rlow, rhigh
