"""Typed SDP attributes: values from the RFCs' own examples, printed back identically."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sdp._attributes import VALIDATORS, FastValidator
from rvoip_sansio.sdp import (
    Crypto,
    Direction,
    Extmap,
    Fingerprint,
    Fmtp,
    Group,
    IceCandidate,
    Rtcp,
    RtpMap,
    Setup,
    Ssrc,
)

ROUND_TRIP = [
    (RtpMap, "96 opus/48000/2"),
    (RtpMap, "0 PCMU/8000"),
    (Fmtp, "101 0-16"),
    (Fmtp, "111 minptime=10;useinbandfec=1"),
    (Rtcp, "53020"),  # RFC 3605 §2.1
    (Rtcp, "53020 IN IP4 126.16.64.4"),
    (Rtcp, "53020 IN IP6 2001:2345:6789:ABCD:EF01:2345:6789:ABCD"),
    # RFC 4568 §6.1 example key-params with lifetime and MKI.
    (Crypto, "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"),
    (Crypto, "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 "
             "FEC_ORDER=FEC_SRTP"),
    (IceCandidate, "1 1 UDP 2130706431 203.0.113.141 8998 typ host"),  # RFC 8445 style
    (IceCandidate, "2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998"),
    (Fingerprint, "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3A:BA:"
                  "E2:4F:97:6C:D3:8F:28:00:B5:C0"),
    (Group, "BUNDLE foo bar"),  # RFC 9143
    (Group, "LS 1 2"),  # RFC 5888 §7
    (Ssrc, "314159 cname:user@example.com"),  # RFC 5576 §4.1
    (Ssrc, "314159 fmtp:96 x=y"),
    (Extmap, "1 http://example.com/082005/ext.htm#ttime"),  # RFC 8285 §8
    (Extmap, "2/sendrecv http://example.com/082005/ext.htm#xmeta short"),
]


@pytest.mark.parametrize("cls,text", ROUND_TRIP)
def test_parse_print_round_trip(cls: type, text: str) -> None:
    value = cls.parse(text)  # type: ignore[attr-defined]
    assert str(value) == text
    assert cls.parse(str(value)) == value  # type: ignore[attr-defined]


def test_crypto_inline_key_fields() -> None:
    c = Crypto.parse(ROUND_TRIP[7][1])
    (key,) = c.keys
    assert key.method == "inline"
    assert key.key_salt == base64.b64decode("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    assert key.key_salt is not None and len(key.key_salt) == 30  # 16-byte key + 14-byte salt
    assert (key.lifetime, key.mki, key.mki_length) == (2**20, 1, 32)
    two = Crypto.parse("1 AES_256_CM_HMAC_SHA1_80 inline:" + "A" * 64 + "|1048576;inline:" + "B" * 64 + "|2:4")
    assert [(k.lifetime, k.mki) for k in two.keys] == [(1048576, None), (None, 2)]
    assert Crypto.parse(ROUND_TRIP[8][1]).session_params == ("FEC_ORDER=FEC_SRTP",)


@pytest.mark.parametrize("cls,text", [
    (RtpMap, "96 opus"), (RtpMap, "128 x/8000"), (RtpMap, "96 opus/48000/2/1"), (RtpMap, "a b/1"),
    (Rtcp, "99999"), (Rtcp, "1 IN IP4"), (Crypto, "1 SUITE"), (Crypto, "1 S inline:abc|x|y|z"),
    (Crypto, "x S inline:AAAA"), (Crypto, "1 S inline:AAAA|1:4|2^20"), (Crypto, "1 S inline"),
    (IceCandidate, "1 1 udp 1 a 1 typ"), (IceCandidate, "1 0 udp 1 a 1 typ host"),
    (IceCandidate, "1 1 udp 1 a 1 typ host raddr"), (Fingerprint, "sha-1 ABCD"),
    (Group, ""), (Ssrc, "x cname:y"), (Ssrc, "1"), (Extmap, "0 urn:x"), (Extmap, "1/up urn:x"),
    (Extmap, "1"), (Fmtp, ""),
])
def test_bad_values(cls: type, text: str) -> None:
    with pytest.raises(ParseError) as info:
        cls.parse(text, 100)  # type: ignore[attr-defined]
    assert info.value.offset == 100


def test_setup_answer_roles() -> None:
    # RFC 4145 §4.1 / RFC 5763 §5
    assert [Setup(v).answer().value for v in ("actpass", "active", "passive", "holdconn")] == [
        "active", "passive", "active", "holdconn"]


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.SENDRECV & Direction.SENDONLY is Direction.SENDONLY
    assert Direction.RECVONLY & Direction.SENDONLY is Direction.INACTIVE
    assert Fmtp.parse("101 0-15").parameters == {"0-15": ""}
    assert Fingerprint.from_digest("sha-1", b"\x01\xab").fingerprint == "01:AB"


@pytest.mark.parametrize("name", sorted(n for n, v in VALIDATORS.items() if isinstance(v, FastValidator)))
def test_fast_validator_regex_is_a_subset_of_the_parser(name: str) -> None:
    """Whatever the parse-time regex accepts, the full parser must accept too (else the typed
    accessor would silently skip a value the parser let through)."""
    validator = VALIDATORS[name]
    assert isinstance(validator, FastValidator)

    @settings(max_examples=60, deadline=None)
    @given(st.from_regex(validator.regex, fullmatch=True))
    def check(value: str) -> None:
        assert validator.parse(value, 0) is not None or name in ("mid",)

    check()
