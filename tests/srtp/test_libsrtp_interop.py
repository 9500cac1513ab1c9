"""Live interop with libsrtp (through pylibsrtp): every profile, both directions.

Thousands of packets per profile cross the 16-bit sequence wrap (ROC 0 → 1) on two SSRCs,
arrive reordered within the replay window, and replays are rejected by both sides.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from rvoip_sansio.srtp import SrtpError, SrtpErrorKind, SrtpProfile, SrtpSession
from tests.conftest import require_module

from ._util import rtcp_sr, rtp

# libsrtp cipher type ids (srtp_cipher_type_id_t) and crypto policy layout (srtp.h):
# {cipher_type, cipher_key_len, auth_type, auth_key_len, auth_tag_len, sec_serv}.
_AES_ICM_256 = 5

PROFILES = [
    SrtpProfile.AES_CM_128_HMAC_SHA1_80,
    SrtpProfile.AES_CM_128_HMAC_SHA1_32,
    SrtpProfile.AES_256_CM_HMAC_SHA1_80,
    SrtpProfile.AES_256_CM_HMAC_SHA1_32,
    SrtpProfile.AEAD_AES_128_GCM,
    SrtpProfile.AEAD_AES_256_GCM,
]


def _libsrtp_policy(lib: Any, profile: SrtpProfile, key: bytes, inbound: bool) -> Any:
    P = lib.Policy
    ssrc_type = P.SSRC_ANY_INBOUND if inbound else P.SSRC_ANY_OUTBOUND
    builtin = {
        SrtpProfile.AES_CM_128_HMAC_SHA1_80: P.SRTP_PROFILE_AES128_CM_SHA1_80,
        SrtpProfile.AES_CM_128_HMAC_SHA1_32: P.SRTP_PROFILE_AES128_CM_SHA1_32,
        SrtpProfile.AEAD_AES_128_GCM: P.SRTP_PROFILE_AEAD_AES_128_GCM,
        SrtpProfile.AEAD_AES_256_GCM: P.SRTP_PROFILE_AEAD_AES_256_GCM,
    }
    if profile in builtin:
        return P(key=key, ssrc_type=ssrc_type, srtp_profile=builtin[profile])
    # RFC 6188 suites have no DTLS profile in pylibsrtp: set libsrtp's crypto policy fields
    # the way srtp_crypto_policy_set_aes_cm_256_hmac_sha1_{80,32}() does.
    policy = P(key=key + bytes(16), ssrc_type=ssrc_type)
    spec = profile.spec
    for part, tag in ((policy._policy.rtp, spec.rtp_tag_len), (policy._policy.rtcp, 10)):
        fields = lib.ffi.cast("int *", lib.ffi.addressof(part))
        fields[0] = _AES_ICM_256
        fields[1] = spec.master_len
        fields[4] = tag
    policy.key = key
    return policy


def _sessions(profile: SrtpProfile, key: bytes) -> tuple[Any, Any]:
    lib = require_module("pylibsrtp")
    return (
        lib.Session(_libsrtp_policy(lib, profile, key, inbound=False)),
        lib.Session(_libsrtp_policy(lib, profile, key, inbound=True)),
    )


def _traffic(rng: random.Random, count: int) -> list[bytes]:
    """RTP of two SSRCs, sequence numbers starting below the wrap so ROC becomes 1."""
    packets = []
    for i in range(count):
        for ssrc, base in ((0x1111AAAA, 0xFFFF - count // 2), (0x2222BBBB, 0xFFFF - 40)):
            seq = (base + i) & 0xFFFF
            size = rng.choice((20, 160, 161, 333))
            packets.append(rtp(seq, ssrc=ssrc, payload=rng.randbytes(size)))
    return packets


def _reorder(rng: random.Random, items: list[bytes]) -> list[bytes]:
    """Shuffle within blocks of 16, well inside the 128-packet replay window."""
    out: list[bytes] = []
    for i in range(0, len(items), 16):
        block = items[i : i + 16]
        rng.shuffle(block)
        out.extend(block)
    return out


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.value)
def test_both_directions_with_wrap_reorder_and_replay(profile: SrtpProfile) -> None:
    lib = require_module("pylibsrtp")
    rng = random.Random(f"interop-{profile.value}")
    key = rng.randbytes(profile.spec.master_len)
    plain = _traffic(rng, 1500)

    # We protect → libsrtp unprotects. Our bytes equal libsrtp's for the same input.
    ours = SrtpSession(profile, key)
    lib_tx, lib_rx = _sessions(profile, key)
    protected = [ours.protect(p) for p in plain]
    assert protected == [lib_tx.protect(p) for p in plain]
    by_wire = dict(zip(protected, plain))
    delivered = _reorder(rng, list(protected))
    for i, pkt in enumerate(delivered):
        assert lib_rx.unprotect(pkt) == by_wire[pkt]
        if i % 50 == 49:  # a replay of something recent: libsrtp must refuse it
            with pytest.raises(lib.Error, match="replay"):
                lib_rx.unprotect(delivered[i - 3])
    assert ours.roc(0x1111AAAA) == 1 and ours.roc(0x2222BBBB) == 1

    # libsrtp protects → we unprotect, reordered, with replays refused.
    lib_tx, _ = _sessions(profile, key)
    rx = SrtpSession(profile, key)
    wire = [lib_tx.protect(p) for p in plain]
    by_wire = dict(zip(wire, plain))
    delivered = _reorder(rng, wire)
    replays = 0
    for i, pkt in enumerate(delivered):
        assert rx.unprotect(pkt) == by_wire[pkt]
        if i % 50 == 49:
            with pytest.raises(SrtpError) as err:
                rx.unprotect(delivered[i - 3])
            assert err.value.kind is SrtpErrorKind.REPLAY
            replays += 1
    assert rx.errors[SrtpErrorKind.REPLAY] == replays
    assert rx.roc(0x1111AAAA, outbound=False) == 1
    # A tampered packet: both refuse it.
    bad = bytearray(wire[-1])
    bad[20] ^= 1
    with pytest.raises(SrtpError) as err:
        SrtpSession(profile, key).unprotect(bytes(bad))
    assert err.value.kind is SrtpErrorKind.AUTH
    with pytest.raises(lib.Error):
        _sessions(profile, key)[1].unprotect(bytes(bad))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.value)
def test_srtcp_both_directions(profile: SrtpProfile) -> None:
    lib = require_module("pylibsrtp")
    rng = random.Random(f"srtcp-{profile.value}")
    key = rng.randbytes(profile.spec.master_len)
    reports = [rtcp_sr(ssrc, n) for n in range(100) for ssrc in (0xAAAA0001, 0xBBBB0002)]
    ours = SrtpSession(profile, key)
    lib_tx, lib_rx = _sessions(profile, key)
    mine = [ours.protect_rtcp(r) for r in reports]
    assert mine == [lib_tx.protect_rtcp(r) for r in reports]  # same SRTCP index numbering
    order = list(range(len(mine)))
    for i in range(0, len(order), 8):
        block = order[i : i + 8]
        rng.shuffle(block)
        order[i : i + 8] = block
    rx = SrtpSession(profile, key)
    for i in order:
        assert lib_rx.unprotect_rtcp(mine[i]) == reports[i]
        assert rx.unprotect_rtcp(mine[i]) == reports[i]
    with pytest.raises(lib.Error, match="replay"):
        lib_rx.unprotect_rtcp(mine[order[-1]])
    with pytest.raises(SrtpError) as err:
        rx.unprotect_rtcp(mine[order[-1]])
    assert err.value.kind is SrtpErrorKind.REPLAY


def test_mki_packets_are_libsrtp_packets_plus_mki() -> None:
    """RFC 3711 §3.1: the MKI sits between payload and tag and is not authenticated, so
    removing it from our packet must give a packet libsrtp accepts."""
    from rvoip_sansio.srtp import MasterKey, SrtpPolicy

    lib = require_module("pylibsrtp")
    rng = random.Random(7)
    profile = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    k1, k2 = rng.randbytes(30), rng.randbytes(30)
    policy = SrtpPolicy(
        profile=profile,
        keys=(MasterKey(key=k1[:16], salt=k1[16:], mki=b"\x00\x01"),
              MasterKey(key=k2[:16], salt=k2[16:], mki=b"\x00\x02")),
    )
    ours = SrtpSession(policy)
    rx = SrtpSession(policy)
    _, lib_rx1 = _sessions(profile, k1)
    _, lib_rx2 = _sessions(profile, k2)
    for seq in range(10):
        if seq == 5:
            ours.use_mki(b"\x00\x02")
        pkt = ours.protect(rtp(seq))
        mki = pkt[-12:-10]
        assert mki == (b"\x00\x01" if seq < 5 else b"\x00\x02")
        stripped = pkt[:-12] + pkt[-10:]
        assert (lib_rx1 if seq < 5 else lib_rx2).unprotect(stripped) == rtp(seq)
        assert rx.unprotect(pkt) == rtp(seq)
    assert rx.packet_counts(b"\x00\x01") == (5, 0) and rx.packet_counts(b"\x00\x02") == (5, 0)
    with pytest.raises(SrtpError) as err:
        rx.unprotect(pkt[:-12] + b"\x00\x09" + pkt[-10:])
    assert err.value.kind is SrtpErrorKind.UNKNOWN_MKI


@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM],
                         ids=lambda p: p.value)
def test_unencrypted_srtp_and_srtcp_match_libsrtp_auth_only(profile: SrtpProfile) -> None:
    """UNENCRYPTED_SRTP/SRTCP (RFC 4568 §6.3.2) = libsrtp's sec_serv_auth, byte for byte."""
    from rvoip_sansio.srtp import SrtpPolicy

    lib = require_module("pylibsrtp")
    key = random.Random(8).randbytes(profile.spec.master_len)
    policy = _libsrtp_policy(lib, profile, key, inbound=False)
    for part in (policy._policy.rtp, policy._policy.rtcp):
        lib.ffi.cast("int *", lib.ffi.addressof(part))[5] = 2  # sec_serv_auth
    ltx = lib.Session(policy)
    aead = profile.spec.aead  # RFC 7714: AEAD SRTP is always encrypted, SRTCP may be tag-only
    ours = SrtpSession(SrtpPolicy(profile=profile, keys=SrtpPolicy.from_key(profile, key).keys,
                                  encrypt_rtp=aead, encrypt_rtcp=False))
    for seq in range(5):
        packet = rtp(seq)
        wire = ours.protect(packet)
        assert wire.startswith(packet) is not aead
        assert wire == ltx.protect(packet)
    report = rtcp_sr(0x12345678)
    wire = ours.protect_rtcp(report)
    assert wire.startswith(report) and wire[len(report) + profile.spec.rtcp_tag_len * aead] == 0
    assert wire == ltx.protect_rtcp(report)
    if aead:
        with pytest.raises(ValueError):
            SrtpPolicy(profile=profile, keys=SrtpPolicy.from_key(profile, key).keys, encrypt_rtp=False)


def test_far_jump_at_stream_start_is_roc_0_like_libsrtp() -> None:
    """RFC 3711 Appendix A would put a packet more than 2^15 ahead of a stream's first
    packets at ROC -1; no such ROC exists, and libsrtp takes ROC 0 while the index is below
    2^15. We do the same, sending and receiving (found by the C-vs-libsrtp differential test:
    first packet seq 1, the next one arriving is seq 0xE003)."""
    lib = require_module("pylibsrtp")
    profile = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    key = bytes(range(30))
    lib_tx, lib_rx = _sessions(profile, key)
    ours_tx, ours_rx = SrtpSession(profile, key), SrtpSession(profile, key)
    plain = [rtp(1), rtp(0x7002), rtp(0xE003)]
    wire = [ours_tx.protect(p) for p in plain]
    assert wire == [lib_tx.protect(p) for p in plain]
    for w, p in ((wire[0], plain[0]), (wire[2], plain[2])):  # 0x7002 lost
        assert ours_rx.unprotect(w) == p == lib_rx.unprotect(w)
    assert ours_rx.roc(0x12345678, outbound=False) == 0
    # The lost one arriving late is far older than the window: both refuse it.
    with pytest.raises(SrtpError) as err:
        ours_rx.unprotect(wire[1])
    assert err.value.kind is SrtpErrorKind.REPLAY
    with pytest.raises(lib.Error, match="replay"):
        lib_rx.unprotect(wire[1])
