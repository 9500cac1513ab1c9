"""Constants of ITU-T G.722 (11/1988, Tables 6-18 and the QMF coefficients of Table 11).

Derived per-octet tables fold the small lookups of the decoder into one index: an octet
holds the 2-bit high-band code in bits 7-6 and the 6-bit low-band code in bits 5-0.
"""

from __future__ import annotations

__all__ = [
    "QMF", "Q6", "ILN", "ILP", "QM2", "QM4", "QM5", "QM6", "WL", "RL42", "WH", "RH2", "ILB",
    "IHN", "IHP", "DET_LOW", "DET_HIGH", "LOW_INVQ", "LOW_WL", "RECON_LOW", "NB_LOW_MAX",
    "NB_HIGH_MAX",
]

# QMF coefficients h0..h11 (h12..h23 mirror them).
QMF = (3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11)

# Low-band quantiser decision levels (Table 6), indexed 0..31 as in the reference.
Q6 = (0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858,
      940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0)
ILN = (0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13,
       12, 11, 10, 9, 8, 7, 6, 5, 4, 0)
ILP = (0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41,
       40, 39, 38, 37, 36, 35, 34, 33, 32, 0)

# Inverse quantiser outputs (Tables 7, 8 and 9), high band (Table 10).
QM2 = (-7408, -1616, 7408, 1616)
QM4 = (0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240,
       2584, 1200, 0)
QM5 = (-280, -280, -23352, -17560, -14120, -11664, -9752, -8184, -6864, -5712, -4696, -3784,
       -2960, -2208, -1520, -880, 23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712, 4696,
       3784, 2960, 2208, 1520, 880, 280, -280)
QM6 = (-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192,
       -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
       -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704,
       14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944,
       4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136)

# Log-scale factor multipliers (Tables 12 and 13) and their code mappings.
WL = (-60, -30, 58, 172, 334, 538, 1198, 3042)
RL42 = (0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0)
WH = (0, -214, 798)
RH2 = (2, 1, 2, 1)
IHN = (0, 1, 0)
IHP = (0, 3, 2)

# Inverse log-base-2 table (Table 14).
ILB = (2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774,
       2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838,
       3922, 4008)

NB_LOW_MAX = 18432
NB_HIGH_MAX = 22528


def _scale(nb: int, offset: int) -> int:
    # SCALEL / SCALEH: det = ILB[mantissa] shifted by the exponent, times 4.
    wd1 = (nb >> 6) & 31
    wd2 = offset - (nb >> 11)
    wd3 = (ILB[wd1] << -wd2) if wd2 < 0 else (ILB[wd1] >> wd2)
    return wd3 << 2


#: det as a function of the log scale factor (index nb), for each band.
DET_LOW = tuple(_scale(nb, 8) for nb in range(NB_LOW_MAX + 1))
DET_HIGH = tuple(_scale(nb, 10) for nb in range(NB_HIGH_MAX + 1))

#: Per 6-bit low-band code: the 4-bit inverse quantiser output and the log-scale multiplier.
LOW_INVQ = tuple(QM4[c >> 2] for c in range(64))
LOW_WL = tuple(WL[RL42[c >> 2]] for c in range(64))

#: Per octet and decoder mode (1: 64, 2: 56, 3: 48 kbit/s): the low-band reconstruction level.
RECON_LOW = {
    1: tuple(QM6[o & 0x3F] for o in range(256)),
    2: tuple(QM5[(o >> 1) & 0x1F] for o in range(256)),
    3: tuple(QM4[(o >> 2) & 0x0F] for o in range(256)),
}
