"""SDES (RFC 4568): a=crypto values, offer/answer, and keys that libsrtp agrees with."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.srtp import (
    CryptoLine,
    SdesError,
    SrtpProfile,
    SrtpSession,
    sdes_accept,
    sdes_answer,
    sdes_offer,
)
from tests.conftest import require_module

from ._util import rtp

# RFC 4568 §4's example attribute.
RFC_EXAMPLE = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"


def test_parse_rfc4568_example() -> None:
    line = CryptoLine.parse("a=crypto:" + RFC_EXAMPLE + "\r\n")
    assert line.tag == 1 and line.suite == "AES_CM_128_HMAC_SHA1_80"
    (key,) = line.keys
    assert len(key.key_salt) == 30
    assert key.key_salt.startswith(bytes.fromhex("3d2d6e40255e"))
    assert (key.lifetime, key.mki, key.mki_len) == (1 << 20, 1, 4)
    assert str(line) == RFC_EXAMPLE
    pol = line.policy()
    assert pol.profile is SrtpProfile.AES_CM_128_HMAC_SHA1_80
    assert pol.keys[0].mki == b"\x00\x00\x00\x01" and pol.keys[0].lifetime == 1 << 20
    assert pol.keys[0].key == key.key_salt[:16] and pol.keys[0].salt == key.key_salt[16:]


def test_several_keys_and_session_params() -> None:
    k1 = "inline:" + "A" * 40 + "|2^31|1:1"
    k2 = "inline:" + "B" * 40 + "|1000|2:1"
    line = CryptoLine.parse(f"7 AES_CM_128_HMAC_SHA1_32 {k1};{k2} UNENCRYPTED_SRTCP WSH=256")
    assert [k.mki for k in line.keys] == [1, 2]
    assert line.keys[1].lifetime == 1000
    pol = line.policy()
    assert [k.mki for k in pol.keys] == [b"\x01", b"\x02"]
    assert pol.encrypt_rtp and not pol.encrypt_rtcp and pol.window_size == 256
    assert str(line) == f"7 AES_CM_128_HMAC_SHA1_32 {k1};{k2} UNENCRYPTED_SRTCP WSH=256"


@pytest.mark.parametrize("params", ["KDR=10", "UNAUTHENTICATED_SRTP", "FEC_KEY=inline:x", "FOO"])
def test_unsupported_session_params_are_not_usable(params: str) -> None:
    line = CryptoLine.parse(RFC_EXAMPLE + " " + params)
    with pytest.raises(ValueError):
        line.policy()


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("", 0),
        ("x AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40, 0),
        ("1 AES_CM_128_HMAC_SHA1_80 outline:" + "A" * 40, 26),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", 33),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + "|1:0", 74),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + "|2^99", 74),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + "|1:4|2^20", 78),
    ],
)
def test_malformed_values(value: str, offset: int) -> None:
    with pytest.raises(ParseError) as err:
        CryptoLine.parse(value)
    assert err.value.offset == offset


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.builds(lambda s: RFC_EXAMPLE[: len(s) % 90] + s, st.text(max_size=30)))
def test_fuzz_parse_gives_value_or_parse_error(value: str) -> None:
    try:
        line = CryptoLine.parse(value)
    except ParseError:
        return
    assert CryptoLine.parse(str(line)) == line


def test_offer_answer_accept_and_media_flows() -> None:
    rng_a, rng_b = random.Random(1), random.Random(2)
    offer = sdes_offer([SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM,
                        SrtpProfile.AES_CM_128_HMAC_SHA1_32], rng=rng_a)
    assert [o.tag for o in offer] == [1, 2, 3]
    assert len({o.keys[0].key_salt for o in offer}) == 3
    wire_offer = [str(o) for o in offer]  # what goes into the SDP
    answer, b_tx, b_rx = sdes_answer(wire_offer, rng=rng_b)
    # Strongest we support wins, the offerer's tag is kept, the key is new.
    assert answer.suite == "AEAD_AES_128_GCM" and answer.tag == 2
    assert answer.keys[0].key_salt != offer[1].keys[0].key_salt
    a_tx, a_rx = sdes_accept(offer, str(answer))
    assert a_tx == b_rx and a_rx == b_tx
    alice_tx, bob_rx = SrtpSession(a_tx), SrtpSession(b_rx)
    bob_tx, alice_rx = SrtpSession(b_tx), SrtpSession(a_rx)
    assert bob_rx.unprotect(alice_tx.protect(rtp(1))) == rtp(1)
    assert alice_rx.unprotect(bob_tx.protect(rtp(9))) == rtp(9)
    # Our own preference order overrides strength when given.
    answer2, _, _ = sdes_answer(offer, [SrtpProfile.AES_CM_128_HMAC_SHA1_32], rng=rng_b)
    assert answer2.tag == 3


def test_answer_skips_unusable_lines_and_fails_cleanly() -> None:
    rng = random.Random(3)
    good = sdes_offer([SrtpProfile.AES_CM_128_HMAC_SHA1_80], rng=rng)[0]
    offered = [
        "1 F8_128_HMAC_SHA1_80 inline:" + "A" * 40,
        "2 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + " KDR=1",
        "3 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 20,  # wrong key length
        str(CryptoLine(tag=4, suite=good.suite, keys=good.keys)),
    ]
    answer, _, _ = sdes_answer(offered, rng=rng)
    assert answer.tag == 4
    with pytest.raises(SdesError):
        sdes_answer(offered[:3], rng=rng)
    with pytest.raises(SdesError):
        sdes_accept([good], "9 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40)
    with pytest.raises(SdesError):
        sdes_accept([good], "1 AES_CM_128_HMAC_SHA1_32 inline:" + "A" * 40)


@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_256_GCM])
def test_inline_key_is_what_libsrtp_calls_key_and_salt(profile: SrtpProfile) -> None:
    """The inline key||salt handed to libsrtp decrypts what our SDES policy protects."""
    lib = require_module("pylibsrtp")
    line = sdes_offer([profile], rng=random.Random(5))[0]
    P = lib.Policy
    ids = {SrtpProfile.AES_CM_128_HMAC_SHA1_80: P.SRTP_PROFILE_AES128_CM_SHA1_80,
           SrtpProfile.AEAD_AES_256_GCM: P.SRTP_PROFILE_AEAD_AES_256_GCM}
    rx = lib.Session(P(key=line.keys[0].key_salt, ssrc_type=P.SSRC_ANY_INBOUND, srtp_profile=ids[profile]))
    assert rx.unprotect(SrtpSession(line.policy()).protect(rtp(4))) == rtp(4)
