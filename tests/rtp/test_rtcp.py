"""RTCP packets against hand-assembled bytes (RFC 3550 §6.4-6.7, RFC 4585 §6.1-6.3,
RFC 3611 §4.7), the compound validity rules of RFC 3550 A.2, RFC 5506 reduced size, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.rtp import (
    App,
    Bye,
    ExtendedReport,
    GenericNack,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    VoipMetricsBlock,
    XrBlock,
    build_compound,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
    parse_rtcp_packet,
)

H = bytes.fromhex
# SR: V=2 RC=0 PT=200 length=6 | SSRC | NTP | RTP ts 8000 | 10 packets | 1600 octets
SR = H("80c80006" "11223344" "e2b4c3d5" "80000000" "00001f40" "0000000a" "00000640")
# RR with one block: fraction 10/256, cumulative lost -2, ext. highest seq 0x00010005,
# jitter 32, LSR 0xc3d58000, DLSR 0x8000 (0.5 s)
RR = H("81c90007" "11223344" "55667788" "0afffffe" "00010005" "00000020" "c3d58000" "00008000")
# SDES: one chunk, CNAME "user", null item, padding to 32 bits
SDES = H("81ca0003" "11223344" "0104" "75736572" "0000")
BYE = H("81cb0003" "11223344" "04" "676f6e65" "000000")
APP = H("82cc0003" "11223344" "54455354" "01020304")
# Generic NACK: PID 100, BLP 0b101 -> 100, 101, 103 lost
NACK = H("81cd0003" "11223344" "55667788" "00640005")
PLI = H("81ce0002" "11223344" "55667788")
VOIP = H(
    "80cf000a" "11223344" "07000008" "55667788"
    "0a" "05" "20" "02" "0064" "03e8" "0032" "0028"  # rates, burst/gap, RTT 50, ES delay 40
    "ec" "b5" "7f" "10" "5d" "7f" "2c" "7f"  # signal -20, noise -75, RERL, Gmin, R 93 ...
    "30" "00" "003c" "0078" "01f4"  # RX config, reserved, JB 60/120/500
)


def test_sender_report() -> None:
    p = SenderReport.parse(SR)
    assert p == SenderReport(ssrc=0x11223344, ntp_timestamp=0xE2B4C3D580000000,
                             rtp_timestamp=8000, packet_count=10, octet_count=1600)
    assert bytes(p) == SR


def test_receiver_report_signed_cumulative_loss() -> None:
    p = ReceiverReport.parse(RR)
    assert p.reports == (ReportBlock(ssrc=0x55667788, fraction_lost=10, cumulative_lost=-2,
                                     highest_seq=0x10005, jitter=32, lsr=0xC3D58000,
                                     dlsr=0x8000),)
    assert bytes(p) == RR


def test_sdes_bye_app() -> None:
    s = SourceDescription.parse(SDES)
    assert s.chunks == (SdesChunk(ssrc=0x11223344, items=(SdesItem(type=1, value=b"user"),)),)
    assert s.cname(0x11223344) == b"user" and bytes(s) == SDES
    b = Bye.parse(BYE)
    assert b == Bye(sources=(0x11223344,), reason=b"gone") and bytes(b) == BYE
    a = App.parse(APP)
    assert a == App(subtype=2, ssrc=0x11223344, name=b"TEST", data=H("01020304"))
    assert bytes(a) == APP


def test_feedback() -> None:
    n = GenericNack.parse(NACK)
    assert n.items == ((100, 5),) and n.lost() == [100, 101, 103]
    assert bytes(GenericNack.from_lost(0x11223344, 0x55667788, [100, 101, 103])) == NACK
    # across the 16-bit wrap
    w = GenericNack.from_lost(1, 2, [65534, 65535, 0, 20])
    assert w.lost() == [65534, 65535, 0, 20]
    assert PictureLossIndication.parse(PLI) == PictureLossIndication(
        sender_ssrc=0x11223344, media_ssrc=0x55667788)
    assert bytes(PictureLossIndication(sender_ssrc=0x11223344, media_ssrc=0x55667788)) == PLI


def test_xr_voip_metrics() -> None:
    x = ExtendedReport.parse(VOIP)
    (blk,) = x.blocks
    assert isinstance(blk, VoipMetricsBlock)
    assert (blk.ssrc, blk.loss_rate, blk.discard_rate, blk.round_trip_delay,
            blk.end_system_delay, blk.signal_level, blk.noise_level, blk.r_factor,
            blk.mos_cq, blk.rx_config, blk.jb_nominal, blk.jb_maximum, blk.jb_abs_max) == (
        0x55667788, 10, 5, 50, 40, -20, -75, 93, 127, 0x30, 60, 120, 500)
    assert blk.mos_lq == 44
    assert bytes(x) == VOIP
    other = ExtendedReport(ssrc=1, blocks=(XrBlock(block_type=4, data=H("0000000100000002")),))
    assert ExtendedReport.parse(bytes(other)) == other


def test_compound_and_validity_rules() -> None:
    pkts = parse_rtcp(SR + SDES + BYE)
    assert [type(p) for p in pkts] == [SenderReport, SourceDescription, Bye]
    assert build_compound(pkts) == SR + SDES + BYE
    # A.2: must begin with SR or RR ...
    with pytest.raises(ParseError) as info:
        parse_rtcp(SDES + RR)
    assert info.value.offset == 1
    # ... unless reduced-size RTCP is in use (RFC 5506 §3.4.2)
    assert parse_rtcp(PLI, reduced_size=True) == (PictureLossIndication(
        sender_ssrc=0x11223344, media_ssrc=0x55667788),)
    assert isinstance(parse_rtcp_packet(NACK), GenericNack)
    # length fields must add up to the datagram
    with pytest.raises(ParseError):
        parse_rtcp(RR + b"\x81\xca\x00\x09" + SDES[4:])
    # version 2 in every packet
    with pytest.raises(ParseError):
        parse_rtcp(RR + b"\x41" + SDES[1:])
    # padding only on the last packet
    padded_first = bytes([RR[0] | 0x20]) + RR[1:]
    with pytest.raises(ParseError):
        parse_rtcp(padded_first + SDES)
    # last packet may be padded: 4 octets of padding (count 4)
    padded = H("81ca0004") + SDES[4:] + H("00000004")
    assert parse_rtcp(RR + padded)[1] == SourceDescription.parse(SDES)
    with pytest.raises(ParseError):
        SenderReport.parse(RR)


def test_unknown_type_kept() -> None:
    raw = H("80d10001" "01020304")
    (p,) = parse_rtcp(raw, reduced_size=True)
    assert p == UnknownRtcp(packet_type=209, count=0, body=H("01020304"))
    assert bytes(p) == raw


def test_ntp_helpers() -> None:
    # 1970-01-01 is 2208988800 s after the NTP epoch; .5 s is 0x80000000 in the fraction.
    assert ntp_from_unix(0.5) == (2208988800 << 32) | 0x80000000
    assert ntp_middle(0xE2B4C3D580000000) == 0xC3D58000


def test_truncations_give_parse_errors() -> None:
    for good in (SR, RR, SDES, BYE, APP, NACK, PLI, VOIP):
        for i in range(len(good)):
            with pytest.raises(ParseError):
                parse_rtcp(good[:i], reduced_size=True)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), st.booleans())
def test_fuzz_parse_rtcp(data: bytes, reduced: bool) -> None:
    try:
        pkts = parse_rtcp(data, reduced_size=reduced)
    except ParseError as exc:
        assert 0 <= exc.offset <= len(data)
        return
    assert pkts


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([SR, RR, SDES, BYE, APP, NACK, PLI, VOIP]), st.data())
def test_fuzz_mutations(good: bytes, data: st.DataObject) -> None:
    buf = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        parse_rtcp(bytes(buf), reduced_size=True)
    except ParseError:
        pass


report_blocks = st.builds(
    ReportBlock, ssrc=st.integers(0, 2**32 - 1), fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-(2**23), 2**23 - 1), highest_seq=st.integers(0, 2**32 - 1),
    jitter=st.integers(0, 2**32 - 1), lsr=st.integers(0, 2**32 - 1), dlsr=st.integers(0, 2**32 - 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(report_blocks, max_size=4), st.binary(max_size=20),
       st.lists(st.integers(0, 2**32 - 1), max_size=3))
def test_roundtrip_compound(blocks: list[ReportBlock], cname: bytes, byes: list[int]) -> None:
    pkts = (
        ReceiverReport(ssrc=7, reports=tuple(blocks)),
        SourceDescription(chunks=(SdesChunk(ssrc=7, items=(SdesItem(type=1, value=cname),)),)),
        Bye(sources=tuple(byes), reason=cname or None),
    )
    assert parse_rtcp(build_compound(pkts)) == pkts


def test_trailing_garbage_is_rejected() -> None:
    for tail in (b"\x00\x00\x00\x00", b"\x80", b"\x81\xc9\x00\x05"):
        with pytest.raises(ParseError):
            parse_rtcp(SR + tail)
