"""The AES-CM keystream made ahead per stream (chunks of KS_CHUNK packets) against libsrtp.

The cache must be invisible: payloads that grow and shrink inside a chunk, empty and large
payloads (computed directly), jumps over several chunks, and late packets from a chunk the
receiver has already left must all give libsrtp's bytes, both ways.
"""

from __future__ import annotations

import random

import pytest

from rvoip_sansio.srtp import SrtpProfile, SrtpSession
from rvoip_sansio.srtp._transform import KS_CHUNK
from tests.conftest import require_module

from ._util import rtp

PROFILES = [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AES_CM_128_HMAC_SHA1_32]
_LIB = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_80: "SRTP_PROFILE_AES128_CM_SHA1_80",
    SrtpProfile.AES_CM_128_HMAC_SHA1_32: "SRTP_PROFILE_AES128_CM_SHA1_32",
}


def _seqs() -> list[int]:
    """In order, then a jump of three chunks, then packets from the chunk left behind."""
    first = list(range(0, 2 * KS_CHUNK + 5))
    jump = list(range(5 * KS_CHUNK + 3, 5 * KS_CHUNK + 9))
    late = [2 * KS_CHUNK + 6, 2 * KS_CHUNK + 7, 4 * KS_CHUNK + 1]
    return first + jump + late + [5 * KS_CHUNK + 10]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.value)
def test_cached_keystream_is_libsrtp_keystream(profile: SrtpProfile) -> None:
    lib = require_module("pylibsrtp")
    P = lib.Policy
    lp = getattr(P, _LIB[profile])
    rng = random.Random(f"ks-cache-{profile.value}")
    key = rng.randbytes(30)
    sizes = [160, 0, 161, 15, 300, 1100, 20, 160, 176, 1]  # grow, shrink, empty, direct path
    plain = [rtp(seq, payload=rng.randbytes(sizes[i % len(sizes)]))
             for i, seq in enumerate(_seqs())]
    lib_tx = lib.Session(P(key=key, ssrc_type=P.SSRC_ANY_OUTBOUND, srtp_profile=lp))
    lib_rx = lib.Session(P(key=key, ssrc_type=P.SSRC_ANY_INBOUND, srtp_profile=lp))
    ours_tx, ours_rx = SrtpSession(profile, key), SrtpSession(profile, key)
    for p in plain:
        wire = ours_tx.protect(p)
        assert wire == lib_tx.protect(p)
        assert lib_rx.unprotect(wire) == p
        assert ours_rx.unprotect(wire) == p
    assert ours_rx.errors == {k: 0 for k in ours_rx.errors}
