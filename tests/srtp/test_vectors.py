"""RFC 3711 Appendix B, RFC 7714 §16/§17 and libsrtp golden packets, byte for byte."""

from __future__ import annotations

import struct

import attrs
import pytest

from rvoip_sansio.srtp import MasterKey, SessionKeys, SrtpPolicy, SrtpProfile, SrtpSession
from rvoip_sansio.srtp._kdf import Label, kdf
from rvoip_sansio.srtp._session import _Stream
from rvoip_sansio.srtp._transform import KeyState, xor_keystream
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._util import load
from .conftest import NATIVE_GCM

RFC3711 = load("rfc3711_srtp.json")
RFC7714 = load("rfc7714_vectors.json")
GOLDEN = load("srtp_libsrtp_golden.json")


def test_rfc3711_b2_keystream() -> None:
    v = RFC3711["rfc3711_b2"]
    ecb = Cipher(algorithms.AES(bytes.fromhex(v["session_key"])), modes.ECB()).encryptor().update
    iv = int(v["session_salt_shifted"], 16)  # (salt * 2^16) XOR (SSRC 0 * 2^64) XOR (index 0)
    ks = xor_keystream(ecb, iv, bytes(v["keystream_len"]))
    assert ks[:48].hex().upper() == v["keystream_first_48"]
    assert ks[-48:].hex().upper() == v["keystream_last_48"]


def test_rfc3711_b3_key_derivation() -> None:
    v = RFC3711["rfc3711_b3"]
    mk, ms = bytes.fromhex(v["master_key"]), bytes.fromhex(v["master_salt"])
    assert kdf(mk, ms, Label.RTP_ENCRYPTION, 16).hex().upper() == v["cipher_key_label00"]
    assert kdf(mk, ms, Label.RTP_SALT, 14).hex().upper() == v["cipher_salt_label02"]
    assert kdf(mk, ms, Label.RTP_AUTH, 94).hex().upper() == v["auth_key_label01_94octets"]


def _vector_session(profile: SrtpProfile, encrypt_rtcp: bool = True) -> SrtpSession:
    """A session whose only key state uses RFC 7714's session keys directly (no KDF)."""
    name = profile.value
    key = bytes.fromhex(RFC7714[name]["key"])
    salt = bytes.fromhex(RFC7714["salt"])
    policy = SrtpPolicy.from_key(profile, bytes(profile.spec.master_len))
    session = SrtpSession(attrs.evolve(policy, encrypt_rtcp=encrypt_rtcp))
    sk = SessionKeys(rtp_key=key, rtp_auth=b"", rtp_salt=salt, rtcp_key=key, rtcp_auth=b"",
                     rtcp_salt=salt)
    state = KeyState(profile, MasterKey(key=key, salt=salt), sk)
    session._tx_key = state  # (a session without MKI keeps its one key state only here)
    session._cx = session._make_cx(sk)  # the C context (where it applies) with these keys
    return session


@pytest.mark.parametrize(
    ("profile", "srtp", "srtcp", "tag_only"),
    [
        (SrtpProfile.AEAD_AES_128_GCM, "section_16_1_1_srtp", "section_17_1_srtcp",
         "section_17_3_srtcp_unencrypted"),
        (SrtpProfile.AEAD_AES_256_GCM, "section_16_2_1_srtp", "section_17_2_srtcp",
         "section_17_4_srtcp_unencrypted"),
    ],
)
def test_rfc7714_vectors(profile: SrtpProfile, srtp: str, srtcp: str, tag_only: str,
                         srtp_path: str) -> None:
    v = RFC7714[profile.value]
    plain = bytes.fromhex(RFC7714["rtp_plain"])
    rtcp = bytes.fromhex(RFC7714["rtcp_plain"])
    tx = _vector_session(profile)
    assert (tx._cx is not None) == (srtp_path == "native" and NATIVE_GCM)
    assert tx.protect(plain).hex() == v[srtp]
    rx = _vector_session(profile)
    assert rx.unprotect(bytes.fromhex(v[srtp])) == plain
    # SRTCP with the RFC's index 0x5d4, E = 1 then E = 0 (tag only, RFC 7714 §9.3).
    for key, encrypt in ((srtcp, True), (tag_only, False)):
        tx = _vector_session(profile, encrypt_rtcp=encrypt)
        st = tx._tx[0x4D617273] = _Stream()
        st.rtcp_next = RFC7714["rtcp_index"]
        assert tx.protect_rtcp(rtcp).hex() == v[key]
        rx = _vector_session(profile)
        assert rx.unprotect_rtcp(bytes.fromhex(v[key])) == rtcp


def _golden_rtp(seq: int) -> bytes:
    ssrc = int(GOLDEN["ssrc"], 16)
    return struct.pack("!BBHII", 0x80, 0, seq, (seq * 160) & 0xFFFFFFFF, ssrc) + bytes([seq & 0xFF]) * 160


@pytest.mark.parametrize("name", sorted(GOLDEN["profiles"]))
def test_libsrtp_golden_packets(name: str) -> None:
    """libsrtp's own output, protected in sequence across the wrap (ROC 0 → 1)."""
    prof = GOLDEN["profiles"][name]
    key = bytes.fromhex(prof["master_key_and_salt"])
    want = {p["seq"]: p for p in prof["packets"]}
    tx = SrtpSession(name, key)
    rx = SrtpSession(name, key)
    seen = 0
    first = min(want)
    for i in range(0x10000 - 4660 + 2):
        seq = (4660 + i) & 0xFFFF
        packet = _golden_rtp(seq)
        out = tx.protect(packet)
        if seq in want:
            assert packet.hex() == want[seq]["rtp"]
            assert out.hex() == want[seq]["srtp"], f"seq {seq}"
            seen += 1
        if seq in want or i % 97 == 0:
            assert rx.unprotect(out) == packet
    assert seen == len(want) and first == 0
    assert tx.roc(int(GOLDEN["ssrc"], 16)) == 1
    assert rx.roc(int(GOLDEN["ssrc"], 16), outbound=False) == 1
    assert tx.protect_rtcp(bytes.fromhex(prof["rtcp"])).hex() == prof["srtcp_first"]
    assert rx.unprotect_rtcp(bytes.fromhex(prof["srtcp_first"])) == bytes.fromhex(prof["rtcp"])


def test_policy_from_key_splits_key_and_salt() -> None:
    v = RFC3711["rfc3711_b3"]
    pol = SrtpPolicy.from_key("AES_CM_128_HMAC_SHA1_80", bytes.fromhex(v["master_key"] + v["master_salt"]))
    assert pol.keys[0].key.hex().upper() == v["master_key"]
    assert pol.keys[0].salt.hex().upper() == v["master_salt"]
    with pytest.raises(ValueError):
        SrtpPolicy.from_key("AES_CM_128_HMAC_SHA1_80", bytes(29))
