"""Call quality: the ITU-T G.107 E-model (R factor, MOS-CQE) and a per-call report.

R = Ro - Is - Id - Ie,eff + A with the G.107 default values for every parameter we cannot
observe (SLR 8, RLR 2, No -61.18 dBm0p, TELR 65 dB, WEPL 110 dB, Ps = Pr = 35 dB(A), A = 0), so
that a perfect G.711 call rates R = 93.2 (MOS 4.41), the figure G.107 gives. Observed inputs:
one-way mouth-to-ear delay Ta (RTT/2 + packetisation + jitter buffer), packet loss Ppl (lost
plus late), and the codec's Ie and Bpl.
"""

from __future__ import annotations

import math

import attrs

from ._jitter import JitterBuffer
from ._stats import SourceStats

__all__ = [
    "CodecImpairment",
    "CODEC_IMPAIRMENTS",
    "r_factor",
    "mos_from_r",
    "QualityReport",
    "build_quality_report",
]


@attrs.frozen(kw_only=True)
class CodecImpairment:
    """Equipment impairment factor ``ie`` and packet-loss robustness ``bpl`` of a codec, with
    ``lookahead_ms`` (algorithmic delay beyond the frame) and where the numbers come from."""

    ie: float
    bpl: float
    lookahead_ms: float = 0.0
    source: str = ""


#: Keys are SDP encoding names, upper case.
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    # ITU-T G.113 (11/2007) Appendix I, Table I.1/I.3: G.711 Ie = 0; Bpl = 25.1 with the
    # G.711 Appendix I packet-loss concealment (4.3 without PLC), random loss.
    "PCMU": CodecImpairment(ie=0.0, bpl=25.1, source="G.113 App. I (G.711 + App. I PLC)"),
    "PCMA": CodecImpairment(ie=0.0, bpl=25.1, source="G.113 App. I (G.711 + App. I PLC)"),
    "PCMU-NOPLC": CodecImpairment(ie=0.0, bpl=4.3, source="G.113 App. I (G.711, no PLC)"),
    # G.113 Appendix I: G.729A + VAD, Ie = 11, Bpl = 19.0.
    "G729": CodecImpairment(ie=11.0, bpl=19.0, lookahead_ms=5.0, source="G.113 App. I"),
    # G.722 and Opus are wideband/fullband codecs: G.113 Appendix I (narrowband scale) lists
    # neither. Provisional: no worse than G.711 with PLC on the narrowband scale used here.
    "G722": CodecImpairment(ie=0.0, bpl=25.1, lookahead_ms=1.5,
                            source="provisional (not in G.113 App. I): as G.711 + PLC"),
    "OPUS": CodecImpairment(ie=0.0, bpl=25.1, lookahead_ms=6.5,
                            source="provisional (not in G.113 App. I): as G.711 + PLC"),
}

# G.107 default parameters.
_RO = 15.0 - 1.5 * (8.0 + -61.18)  # Ro = 15 - 1.5 (SLR + No) = 94.77
_IS = 1.41  # simultaneous impairment with all defaults (G.107 Table 3 outcome)
_ROE = -1.5 * (-61.18 - 2.0)  # Roe = -1.5 (No - RLR)
_TELR = 65.0
_WEPL = 110.0


def _id(ta_ms: float) -> float:
    """Delay impairment Id = Idte + Idle + Idd (G.107 §7.4), T = Tr/2 = Ta."""
    t = max(0.0, ta_ms)
    # Talker echo (Idte).
    terv = _TELR - 40.0 * math.log10((1.0 + t / 10.0) / (1.0 + t / 150.0)) + 6.0 * math.exp(
        -0.3 * t * t
    )
    re = 80.0 + 2.5 * (terv - 14.0)
    diff = _ROE - re
    idte = (diff / 2.0 + math.sqrt(diff * diff / 4.0 + 100.0) - 1.0) * (1.0 - math.exp(-t))
    # Listener echo (Idle), Tr = 2T.
    rle = 10.5 * (_WEPL + 7.0) * float((2.0 * t + 1.0) ** -0.25)
    d2 = _RO - rle
    idle = d2 / 2.0 + math.sqrt(d2 * d2 / 4.0 + 169.0)
    # Absolute delay (Idd).
    idd = 0.0
    if t > 100.0:
        x = math.log10(t / 100.0) / math.log10(2.0)
        idd = 25.0 * ((1.0 + x**6) ** (1 / 6) - 3.0 * (1.0 + (x / 3.0) ** 6) ** (1 / 6) + 2.0)
    return idte + idle + idd


def r_factor(
    *, delay_ms: float, loss_percent: float, codec: CodecImpairment, burst_ratio: float = 1.0
) -> float:
    """G.107 rating R for one-way delay ``delay_ms`` and packet loss ``loss_percent``."""
    ppl = max(0.0, min(100.0, loss_percent))
    # G.107 §7.5: Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl).
    ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst_ratio + codec.bpl)
    return _RO - _IS - _id(delay_ms) - ie_eff


def mos_from_r(r: float) -> float:
    """G.107 Annex B: MOS-CQE from R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6


@attrs.frozen(kw_only=True)
class QualityReport:
    """A snapshot of one call's receive quality (and what the peer reports of ours)."""

    codec: str
    packets_received: int
    packets_expected: int
    packets_lost: int
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None
    jitter_buffer_delay_ms: float
    jitter_buffer_target_ms: float
    late_loss_percent: float
    concealed_frames: int
    duplicates: int
    remote_loss_percent: float | None
    remote_jitter_ms: float | None
    one_way_delay_ms: float
    r_factor: float
    mos: float
    malformed: int
    frames_played: int = 0
    jitter_buffer_overflow: int = 0


def build_quality_report(
    *, config_codec: str, ptime: float, stats: SourceStats | None, jitter_buffer: JitterBuffer,
    rtt: float | None, remote_fraction: float | None, remote_jitter: float | None,
    malformed: int,
) -> QualityReport:
    """Assemble a :class:`QualityReport` from a source's statistics and its jitter buffer.

    One-way delay for the E-model: RTT/2 + recent jitter-buffer delay + ptime + look-ahead;
    packet loss: network loss + late loss (both hurt the listener alike)."""
    jb = jitter_buffer
    codec = CODEC_IMPAIRMENTS.get(config_codec.upper(), CODEC_IMPAIRMENTS["PCMU"])
    if stats is not None:
        expected = stats.expected
        received = stats.received
        lost = max(0, expected - received)
        jitter = stats.jitter_seconds
    else:
        expected = lost = received = 0
        jitter = 0.0
    loss_pct = 100.0 * lost / expected if expected else 0.0
    late_pct = 100.0 * jb.late_loss_rate
    delay_ms = ((rtt or 0.0) / 2 + jb.recent_delay + ptime) * 1000 + codec.lookahead_ms
    r = r_factor(delay_ms=delay_ms, loss_percent=loss_pct + late_pct, codec=codec)
    return QualityReport(
        codec=config_codec, packets_received=received, packets_expected=expected,
        packets_lost=lost, loss_percent=loss_pct, jitter_ms=jitter * 1000,
        rtt_ms=None if rtt is None else rtt * 1000,
        jitter_buffer_delay_ms=jb.recent_delay * 1000,
        jitter_buffer_target_ms=jb.target_delay * 1000, late_loss_percent=late_pct,
        concealed_frames=jb.concealed, duplicates=jb.duplicates,
        remote_loss_percent=None if remote_fraction is None else 100 * remote_fraction,
        remote_jitter_ms=None if remote_jitter is None else remote_jitter * 1000,
        one_way_delay_ms=delay_ms, r_factor=r, mos=mos_from_r(r), malformed=malformed,
        frames_played=jb.played, jitter_buffer_overflow=jb.overflow,
    )
