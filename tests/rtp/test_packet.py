"""RTP packets: hand-checked bytes (RFC 3550 §5.1 layout, RFC 8285 §4.2/§4.3 examples),
validation errors with offsets, and hypothesis fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.rtp import (
    ExtensionElement,
    HeaderExtension,
    RtpPacket,
    build_extension_elements,
    build_rtp,
    parse_extension_elements,
    parse_rtp_header,
)

# V=2 P=0 X=0 CC=0 | M=0 PT=0 | seq=1 | ts=160 | ssrc=0xdeadbeef | 4 payload octets
SIMPLE = bytes.fromhex("80000001000000a0deadbeef") + b"\x01\x02\x03\x04"


def test_simple_packet_fields() -> None:
    p = RtpPacket.parse(SIMPLE)
    assert (p.payload_type, p.marker, p.sequence_number, p.timestamp, p.ssrc) == (
        0, False, 1, 160, 0xDEADBEEF)
    assert p.payload == b"\x01\x02\x03\x04" and p.csrc == () and p.extension is None
    assert bytes(p) == SIMPLE
    assert build_rtp(0, False, 1, 160, 0xDEADBEEF, b"\x01\x02\x03\x04") == SIMPLE
    assert parse_rtp_header(SIMPLE) == (0, False, 1, 160, 0xDEADBEEF, 12, 16)


def test_full_packet_fields() -> None:
    # V=2 P=1 X=1 CC=2 (0xb2) | M=1 PT=8 (0x88) | seq=0xffff | ts=0xfffffff0 | ssrc=1 |
    # CSRC 2, 3 | ext 0xBEDE, 2 words: id=1 L=0 (AA), id=2 L=1 (BB CC), 3 pad octets |
    # payload "hi" | padding 00 02 (count 2)
    data = bytes.fromhex(
        "b288ffff" "fffffff0" "00000001" "00000002" "00000003"
        "bede0002" "10aa21bb" "cc000000"
    ) + b"hi" + b"\x00\x02"
    p = RtpPacket.parse(data)
    assert p.payload_type == 8 and p.marker and p.sequence_number == 0xFFFF
    assert p.timestamp == 0xFFFFFFF0 and p.ssrc == 1 and p.csrc == (2, 3)
    assert p.extension == HeaderExtension(profile=0xBEDE, data=bytes.fromhex("10aa21bbcc000000"))
    assert p.extension_elements() == (
        ExtensionElement(id=1, value=b"\xaa"), ExtensionElement(id=2, value=b"\xbb\xcc"))
    assert p.payload == b"hi" and p.padding == 2
    assert bytes(p) == data
    assert parse_rtp_header(data) == (8, True, 0xFFFF, 0xFFFFFFF0, 1, 32, 34)


def test_rfc8285_two_byte_form() -> None:
    # RFC 8285 §4.3: profile 0x1000 + appbits; id=1 len=0 (allowed in two-byte), id=17 len=3
    ext = HeaderExtension(profile=0x1000, data=bytes.fromhex("0100" "1103616263" "00"))
    assert parse_extension_elements(ext) == (
        ExtensionElement(id=1, value=b""), ExtensionElement(id=17, value=b"abc"))
    built = build_extension_elements([ExtensionElement(id=1, value=b""),
                                      ExtensionElement(id=17, value=b"abc")])
    assert built.profile == 0x1000 and built.data == ext.data


def test_rfc8285_one_byte_padding_and_stop() -> None:
    # padding octets between elements are skipped; id 15 stops parsing (§4.2)
    ext = HeaderExtension(profile=0xBEDE, data=bytes.fromhex("10aa0000" "f0ff0000"))
    assert parse_extension_elements(ext) == (ExtensionElement(id=1, value=b"\xaa"),)
    built = build_extension_elements([ExtensionElement(id=3, value=b"\x01\x02\x03")])
    assert built == HeaderExtension(profile=0xBEDE, data=bytes.fromhex("32010203"))


def test_extension_errors() -> None:
    with pytest.raises(ParseError):
        parse_extension_elements(HeaderExtension(profile=0xBEDE, data=bytes.fromhex("3f000000")))
    with pytest.raises(ParseError):
        parse_extension_elements(HeaderExtension(profile=0x1234, data=b""))


@pytest.mark.parametrize(
    ("data", "offset", "word"),
    [
        (b"\x80\x00\x00", 3, "shorter"),
        (bytes.fromhex("40000001000000a0deadbeef"), 0, "version"),
        (bytes.fromhex("83000001000000a0deadbeef00000001"), 12, "CSRC"),
        (bytes.fromhex("90000001000000a0deadbeefbede00ff"), 14, "extension"),
        (bytes.fromhex("a0000001000000a0deadbeef0000"), 13, "padding"),
        (bytes.fromhex("a0000001000000a0deadbeef0005"), 13, "padding"),
    ],
)
def test_errors_have_offset_and_reason(data: bytes, offset: int, word: str) -> None:
    with pytest.raises(ParseError) as info:
        RtpPacket.parse(data)
    assert info.value.offset == offset and word in info.value.reason
    with pytest.raises(ParseError):
        parse_rtp_header(data)


def test_byte_by_byte_truncation_only_parse_errors() -> None:
    data = bytes(RtpPacket(payload_type=96, sequence_number=5, timestamp=7, ssrc=9,
                           csrc=(1,), extension=HeaderExtension(profile=0xBEDE, data=b"\x10\x01\x00\x00"),
                           payload=b"xyz", padding=3))
    for i in range(len(data)):
        try:
            RtpPacket.parse(data[:i])
        except ParseError:
            pass


def test_build_validates_fields() -> None:
    with pytest.raises(ValueError):
        RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0)
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence_number=1 << 16, timestamp=0, ssrc=0)


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none() | st.builds(
        HeaderExtension, profile=st.integers(0, 0xFFFF),
        data=st.integers(0, 6).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))),
    padding=st.integers(0, 20),
)


@settings(max_examples=300, deadline=None)
@given(packets)
def test_roundtrip_and_fast_path_agree(p: RtpPacket) -> None:
    data = bytes(p)
    q = RtpPacket.parse(data)
    assert q == p
    pt, m, seq, ts, ssrc, start, end = parse_rtp_header(data)
    assert (pt, m, seq, ts, ssrc) == (p.payload_type, p.marker, p.sequence_number, p.timestamp,
                                      p.ssrc)
    assert data[start:end] == p.payload


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_parsers_raise_only_parse_error(data: bytes) -> None:
    for parse in (RtpPacket.parse, parse_rtp_header):
        try:
            parse(data)
        except ParseError as exc:
            assert 0 <= exc.offset <= len(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_fuzz_extension_elements(profile: int, body: bytes) -> None:
    body = body + b"\x00" * (-len(body) % 4)
    try:
        elements = parse_extension_elements(HeaderExtension(profile=profile, data=body))
    except ParseError:
        return
    assert all(e.id > 0 for e in elements)
