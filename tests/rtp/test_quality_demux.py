"""G.107 E-model figures checked by hand, and packet classification (RFC 5761, RFC 7983)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.rtp import CODEC_IMPAIRMENTS, PacketKind, classify, is_rtcp, mos_from_r, r_factor

G711 = CODEC_IMPAIRMENTS["PCMU"]


def test_default_rating_is_g107_93_2() -> None:
    # G.107: with all default values R = 93.2, MOS-CQE 4.41
    r = r_factor(delay_ms=0.0, loss_percent=0.0, codec=G711)
    assert r == pytest.approx(93.2, abs=0.05)
    assert mos_from_r(r) == pytest.approx(4.41, abs=0.005)


def test_mos_mapping_by_hand() -> None:
    assert mos_from_r(50) == pytest.approx(1 + 1.75 - 50 * 10 * 50 * 7e-6)
    assert mos_from_r(80) == pytest.approx(1 + 2.8 + 80 * 20 * 20 * 7e-6)
    assert mos_from_r(-3) == 1.0 and mos_from_r(120) == 4.5


def test_packet_loss_impairment_by_hand() -> None:
    base = r_factor(delay_ms=0.0, loss_percent=0.0, codec=G711)
    # Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl) = 95 * 2 / (2 + 25.1)
    assert base - r_factor(delay_ms=0.0, loss_percent=2.0, codec=G711) == pytest.approx(
        95 * 2 / 27.1)
    no_plc = CODEC_IMPAIRMENTS["PCMU-NOPLC"]
    assert base - r_factor(delay_ms=0.0, loss_percent=1.0, codec=no_plc) == pytest.approx(
        95 * 1 / 5.3)
    # burstier loss hurts more
    assert r_factor(delay_ms=0.0, loss_percent=2.0, codec=G711, burst_ratio=2.0) < base - 7.0


def test_delay_impairment_idd() -> None:
    # Idd(200) = 25((2)^(1/6) - 3(1 + 1/729)^(1/6) + 2) = 3.04 (Idd(100) = 0). Talker echo
    # with the default TELR 65 dB, by hand: Idte(100) = 1.96, Idte(200) = 3.59; listener echo
    # adds ~0.2. So R drops by about 3.04 + 1.63 + 0.2 = 4.87 from 100 to 200 ms.
    idd200 = 25 * (2 ** (1 / 6) - 3 * (1 + (1 / 3) ** 6) ** (1 / 6) + 2)
    assert idd200 == pytest.approx(3.044, abs=0.002)
    drop = r_factor(delay_ms=100, loss_percent=0, codec=G711) - r_factor(
        delay_ms=200, loss_percent=0, codec=G711)
    assert drop == pytest.approx(idd200 + 1.63 + 0.2, abs=0.1)
    # a 400 ms mouth-to-ear delay is "many users dissatisfied" territory
    assert mos_from_r(r_factor(delay_ms=400, loss_percent=0, codec=G711)) < 3.9


def test_every_codec_has_a_cited_source() -> None:
    for name in ("PCMU", "PCMA", "G722", "OPUS"):
        assert CODEC_IMPAIRMENTS[name].source
    assert not math.isnan(r_factor(delay_ms=50, loss_percent=3, codec=CODEC_IMPAIRMENTS["OPUS"]))


@pytest.mark.parametrize(
    ("first", "second", "kind"),
    [
        (0x00, 0x01, PacketKind.STUN),  # Binding request type 0x0001
        (0x01, 0x01, PacketKind.STUN),  # Binding success 0x0101
        (0x10, 0x00, PacketKind.ZRTP),
        (0x16, 0xFE, PacketKind.DTLS),  # handshake record
        (0x17, 0xFE, PacketKind.DTLS),  # application data
        (0x40, 0x00, PacketKind.TURN_CHANNEL),
        (0x80, 0x00, PacketKind.RTP),  # PCMU
        (0x80, 0xE5, PacketKind.RTP),  # marker + PT 101
        (0x80, 0xC8, PacketKind.RTCP),  # SR
        (0x81, 0xC9, PacketKind.RTCP),  # RR
        (0x81, 0xCD, PacketKind.RTCP),  # RTPFB
        (0x8F, 0xCF, PacketKind.RTCP),  # XR
        (0x81, 0xDF, PacketKind.RTCP),  # 223: top of the RFC 5761 range
        (0x80, 0xE0, PacketKind.RTP),  # 224: marker + PT 96
        (0xC0, 0x00, PacketKind.UNKNOWN),
        (0x05, 0x00, PacketKind.UNKNOWN),
    ],
)
def test_classify(first: int, second: int, kind: PacketKind) -> None:
    data = bytes([first, second]) + b"\x00" * 10
    assert classify(data) == kind
    assert is_rtcp(data) == (kind is PacketKind.RTCP)


def test_classify_empty() -> None:
    assert classify(b"") == PacketKind.UNKNOWN and not is_rtcp(b"\x80")


def test_comfort_noise_payload() -> None:
    from rvoip_sansio import ParseError
    from rvoip_sansio.rtp import ComfortNoise

    # RFC 3389 §3.1: level -40 dBov is 40 (0x28); then reflection coefficients
    cn = ComfortNoise.parse(bytes.fromhex("28" "7f80"))
    assert cn.level == 40 and cn.dbov == -40 and cn.coefficients == b"\x7f\x80"
    assert bytes(cn) == bytes.fromhex("287f80")
    for bad in (b"", b"\x80"):
        with pytest.raises(ParseError):
            ComfortNoise.parse(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_cn_and_classify(data: bytes) -> None:
    from rvoip_sansio import ParseError
    from rvoip_sansio.rtp import ComfortNoise

    try:
        cn = ComfortNoise.parse(data)
        assert bytes(cn) == data
    except ParseError as exc:
        assert exc.offset == 0
    kind = classify(data)
    assert isinstance(kind, PacketKind)
