"""The C accelerator's AES-GCM (SP 800-38D: AES-NI counter mode, GHASH by PCLMULQDQ) through
its private test entry, against the published GCM test cases (McGrew and Viega, "The
Galois/Counter Mode of Operation", test cases 1-4 for AES-128 and 13-16 for AES-256, the
96-bit-IV ones) and `cryptography`'s AESGCM (OpenSSL) on random inputs; and the C context's
GCM sessions (RFC 7714 §8) refusing forged, cut and replayed packets without moving any
state. The C-vs-pure and C-vs-libsrtp differentials over GCM sessions are in test_native_cm.py,
the RFC 7714 §16/§17 vectors in test_vectors.py (both run on the C context here)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.srtp import SrtpError, SrtpErrorKind, SrtpProfile, SrtpSession, derive_session_keys

from ._util import rtp
from .conftest import NATIVE_GCM
from .test_native_crypto import _mod, srtp_path  # noqa: F401  (srtp_path: autouse, runs these once)

needs_gcm = pytest.mark.skipif(not NATIVE_GCM, reason="_srtp_native, AES-NI or PCLMULQDQ missing")
h = bytes.fromhex

K128 = "feffe9928665731c6d6a8f9467308308"
IV = "cafebabefacedbaddecaf888"
PLAIN = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
AAD = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
# (key, IV, plaintext, AAD, ciphertext, tag): GCM spec test cases 1-4 and 13-16.
GCM_CASES = [
    ("00" * 16, "00" * 12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    ("00" * 16, "00" * 12, "00" * 16, "", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"),
    (K128, IV, PLAIN, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"),
    (K128, IV, PLAIN[:120], AAD,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"),
    ("00" * 32, "00" * 12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    ("00" * 32, "00" * 12, "00" * 16, "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"),
    (K128 * 2, IV, PLAIN, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"),
    (K128 * 2, IV, PLAIN[:120], AAD,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"),
]


@needs_gcm
@pytest.mark.parametrize(("key", "iv", "plain", "aad", "cipher", "tag"), GCM_CASES)
def test_gcm_spec_cases(key: str, iv: str, plain: str, aad: str, cipher: str, tag: str) -> None:
    mod = _mod()
    sealed = mod._aes_gcm(h(key), h(iv), h(aad), h(plain), False)
    assert sealed == h(cipher + tag)
    assert mod._aes_gcm(h(key), h(iv), h(aad), sealed, True) == h(plain)
    # Any flipped bit (ciphertext, tag) or other AAD: refused, nothing released.
    for i in range(0, len(sealed) * 8, 7):
        forged = bytearray(sealed)
        forged[i >> 3] ^= 1 << (i & 7)
        assert mod._aes_gcm(h(key), h(iv), h(aad), bytes(forged), True) is None
    assert mod._aes_gcm(h(key), h(iv), h(aad) + b"\x00", sealed, True) is None


@needs_gcm
@settings(max_examples=300, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24)
    | st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
    aad=st.binary(max_size=100),
    plain=st.binary(max_size=700),
)
def test_gcm_equals_cryptography(key: bytes, iv: bytes, aad: bytes, plain: bytes) -> None:
    # Lengths around every 16- and 64-byte boundary (GHASH folds four blocks at a time).
    mod = _mod()
    sealed = AESGCM(key).encrypt(iv, plain, aad)
    assert mod._aes_gcm(key, iv, aad, plain, False) == sealed
    assert mod._aes_gcm(key, iv, aad, sealed, True) == plain


@needs_gcm
def test_gcm_bad_arguments() -> None:
    mod = _mod()
    with pytest.raises(ValueError):
        mod._aes_gcm(bytes(16), bytes(11), b"", b"", False)
    with pytest.raises(ValueError):
        mod._aes_gcm(bytes(16), bytes(12), b"", bytes(15), True)
    good = (bytes(16), bytes(12), b"", 16, 128, False, True, 1 << 48)
    assert mod.CmContext(*good, False, True) is not None
    for i, bad in ((1, bytes(14)), (2, bytes(20)), (3, 10), (6, False)):
        args = list(good)
        args[i] = bad
        with pytest.raises(ValueError):
            mod.CmContext(*args, False, True)


def _pair(profile: SrtpProfile) -> tuple[SrtpSession, SrtpSession]:
    key = bytes(range(profile.spec.master_len))
    tx, rx = SrtpSession(profile, key), SrtpSession(profile, key)
    assert tx._cx is not None and rx._cx is not None
    return tx, rx


def _state(s: SrtpSession, ssrc: int) -> tuple[object, ...]:
    st = s._rx.get(ssrc)
    rp = None if st is None or st.rtp is None else (st.rtp.hi, st.rtp.bits)
    return rp, s.roc(ssrc, outbound=False), s.packet_counts(), dict(s.errors)


@needs_gcm
@pytest.mark.parametrize("profile", [SrtpProfile.AEAD_AES_128_GCM, SrtpProfile.AEAD_AES_256_GCM])
def test_forged_cut_and_replayed_packets_move_nothing(profile: SrtpProfile) -> None:
    tx, rx = _pair(profile)
    ssrc = 0x12345678
    wires = [tx.protect(rtp(seq, ssrc)) for seq in (0xFFFE, 0xFFFF, 0, 1)]
    assert tx.roc(ssrc) == 1
    assert rx.unprotect(wires[0]) == rtp(0xFFFE, ssrc)
    before = _state(rx, ssrc)
    for forged in (
        wires[1][:-1] + bytes([wires[1][-1] ^ 1]),          # tag
        wires[1][:20] + bytes([wires[1][20] ^ 0x40]) + wires[1][21:],  # ciphertext
        bytes([wires[1][0], wires[1][1] ^ 0x80]) + wires[1][2:],       # header (AAD)
    ):
        with pytest.raises(SrtpError) as e:
            rx.unprotect(forged)
        assert e.value.kind is SrtpErrorKind.AUTH
    for cut in (wires[1][:11], wires[1][:12 + 15], wires[1][:-1]):
        with pytest.raises(SrtpError) as e:
            rx.unprotect(cut)
        assert e.value.kind in (SrtpErrorKind.MALFORMED, SrtpErrorKind.AUTH)
    after = _state(rx, ssrc)
    assert after[:3] == before[:3]  # window, ROC and counts unmoved; only errors counted
    for w in wires[1:]:
        rx.unprotect(w)
    assert rx.roc(ssrc, outbound=False) == 1
    for w in wires:
        with pytest.raises(SrtpError) as e:
            rx.unprotect(w)
        assert e.value.kind is SrtpErrorKind.REPLAY
    # A payload over the C bound (1 MiB) takes the Python path and still round-trips.
    big = rtp(2, ssrc, payload=bytes(0x10000 * 16 + 1))
    assert rx.unprotect(tx.protect(big)) == big
    assert rx.packet_counts() == tx.packet_counts() == (5, 0)


@needs_gcm
@pytest.mark.parametrize("roc", [1, 0xFFFF, 0x10000, 0x12345, 0xFFFFFFFF])
@pytest.mark.parametrize("profile", [SrtpProfile.AEAD_AES_128_GCM, SrtpProfile.AEAD_AES_256_GCM])
def test_iv_carries_every_roc_bit(profile: SrtpProfile, roc: int) -> None:
    # RFC 7714 §8.1: the ROC sits in IV bytes 6..9, across the C code's 8 + 4 byte split;
    # streams moved to a high ROC by hand, then the C context must seal and open exactly as
    # `cryptography`'s AESGCM with the RFC's IV does.
    key = bytes(range(profile.spec.master_len))
    tx, rx = _pair(profile)
    ssrc = 0x0BADCAFE
    tx.protect(rtp(1, ssrc))
    rx.unprotect(SrtpSession(profile, key).protect(rtp(1, ssrc)))
    for s, table in ((tx, tx._tx), (rx, rx._rx)):
        rp = table[ssrc].rtp
        assert rp is not None
        rp.hi = roc << 16 | 0xFFF0
    plain = rtp(0xFFF1, ssrc, payload=bytes(range(100)))
    wire = tx.protect(plain)
    ks = derive_session_keys(profile, tx.policy.keys[0])
    iv = (ssrc << 48 | roc << 16 | 0xFFF1) ^ int.from_bytes(ks.rtp_salt, "big")
    iv_bytes = iv.to_bytes(12, "big")
    assert wire == plain[:12] + AESGCM(ks.rtp_key).encrypt(iv_bytes, plain[12:], plain[:12])
    assert rx.unprotect(wire) == plain
    assert tx.roc(ssrc) == rx.roc(ssrc, outbound=False) == roc
