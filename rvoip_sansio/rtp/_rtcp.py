"""RTCP packets: SR, RR, SDES, BYE, APP (RFC 3550 §6), feedback (RFC 4585 §6: generic NACK,
PLI), XR with the VoIP metrics block (RFC 3611 §4.7), compound and reduced-size packets
(RFC 3550 A.2, RFC 5506 §3.4).

Every packet class is frozen, ``bytes(pkt)`` serialises it with its common header, and
``Cls.parse(data)`` reads exactly one packet of that type. :func:`parse_rtcp` reads a whole
datagram and applies the validity rules.
"""

from __future__ import annotations

import struct
from typing import Self, TypeVar, Union

import attrs

from .._core import ParseError
from ._packet import BytesLike

__all__ = [
    "RTCP_SR",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_BYE",
    "RTCP_APP",
    "RTCP_RTPFB",
    "RTCP_PSFB",
    "RTCP_XR",
    "SdesType",
    "ReportBlock",
    "SenderReport",
    "ReceiverReport",
    "SdesItem",
    "SdesChunk",
    "SourceDescription",
    "Bye",
    "App",
    "GenericNack",
    "PictureLossIndication",
    "FeedbackPacket",
    "VoipMetricsBlock",
    "XrBlock",
    "ExtendedReport",
    "UnknownRtcp",
    "RtcpPacket",
    "parse_rtcp",
    "parse_rtcp_packet",
    "build_compound",
]

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_RTPFB = 205  # RFC 4585 transport-layer feedback
RTCP_PSFB = 206  # RFC 4585 payload-specific feedback
RTCP_XR = 207  # RFC 3611


class SdesType:
    """RFC 3550 §6.5 SDES item types."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


_HDR = struct.Struct("!BBH")
_RB = struct.Struct("!IIIIII")
_SR = struct.Struct("!IQIII")


class _Parseable:
    """``Cls.parse(data)``: a datagram holding exactly one packet of this class."""

    __slots__ = ()

    @classmethod
    def parse(cls, data: BytesLike) -> Self:
        return _parse_as(cls, data)


def _header(count: int, pt: int, body_len: int) -> bytes:
    # RFC 3550 §6.4.1: length is in 32-bit words minus one, header included.
    return _HDR.pack(0x80 | count, pt, (body_len + 4) // 4 - 1)


def _u(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must fit {bits} bits, got {value}")


@attrs.frozen(kw_only=True)
class ReportBlock:
    """RFC 3550 §6.4.1 reception report block. ``cumulative_lost`` is signed 24-bit."""

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_seq: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    def __attrs_post_init__(self) -> None:
        _u("fraction_lost", self.fraction_lost, 8)
        if not -(1 << 23) <= self.cumulative_lost < (1 << 23):
            raise ValueError("cumulative_lost must fit signed 24 bits")
        for name in ("ssrc", "highest_seq", "jitter", "lsr", "dlsr"):
            _u(name, getattr(self, name), 32)

    def __bytes__(self) -> bytes:
        return _RB.pack(
            self.ssrc,
            (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF),
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def _read(cls, data: BytesLike, pos: int) -> ReportBlock:
        ssrc, fl, hs, jit, lsr, dlsr = _RB.unpack_from(data, pos)
        cum = fl & 0xFFFFFF
        if cum & 0x800000:
            cum -= 0x1000000
        return cls(
            ssrc=ssrc, fraction_lost=fl >> 24, cumulative_lost=cum, highest_seq=hs,
            jitter=jit, lsr=lsr, dlsr=dlsr,
        )


def _read_blocks(data: BytesLike, pos: int, count: int, end: int) -> tuple[ReportBlock, ...]:
    if pos + 24 * count > end:
        raise ParseError(f"{count} report blocks run past the packet", pos)
    return tuple(ReportBlock._read(data, pos + 24 * i) for i in range(count))


@attrs.frozen(kw_only=True)
class SenderReport(_Parseable):
    """RFC 3550 §6.4.1 SR. ``ntp_timestamp`` is the 64-bit NTP fixed-point value."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    profile_extension: bytes = b""

    def __bytes__(self) -> bytes:
        if len(self.reports) > 31:
            raise ValueError("at most 31 report blocks")
        body = _SR.pack(self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count,
                        self.octet_count)
        body += b"".join(bytes(r) for r in self.reports) + self.profile_extension
        return _header(len(self.reports), RTCP_SR, len(body)) + body


@attrs.frozen(kw_only=True)
class ReceiverReport(_Parseable):
    """RFC 3550 §6.4.2 RR."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    profile_extension: bytes = b""

    def __bytes__(self) -> bytes:
        if len(self.reports) > 31:
            raise ValueError("at most 31 report blocks")
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        body += self.profile_extension
        return _header(len(self.reports), RTCP_RR, len(body)) + body


@attrs.frozen(kw_only=True)
class SdesItem:
    type: int
    value: bytes


@attrs.frozen(kw_only=True)
class SdesChunk:
    ssrc: int
    items: tuple[SdesItem, ...] = ()

    def __bytes__(self) -> bytes:
        out = bytearray(struct.pack("!I", self.ssrc))
        for item in self.items:
            if not 1 <= item.type <= 255 or len(item.value) > 255:
                raise ValueError("SDES item type 1..255 and value up to 255 octets")
            out += bytes((item.type, len(item.value))) + item.value
        # RFC 3550 §6.5: a null item ends the list, then pad to a 32-bit boundary.
        out += b"\x00" * (4 - len(out) % 4)
        return bytes(out)


@attrs.frozen(kw_only=True)
class SourceDescription(_Parseable):
    """RFC 3550 §6.5 SDES."""

    chunks: tuple[SdesChunk, ...] = ()

    def __bytes__(self) -> bytes:
        if len(self.chunks) > 31:
            raise ValueError("at most 31 SDES chunks")
        body = b"".join(bytes(c) for c in self.chunks)
        return _header(len(self.chunks), RTCP_SDES, len(body)) + body

    def cname(self, ssrc: int) -> bytes | None:
        for chunk in self.chunks:
            if chunk.ssrc == ssrc:
                for item in chunk.items:
                    if item.type == SdesType.CNAME:
                        return item.value
        return None


@attrs.frozen(kw_only=True)
class Bye(_Parseable):
    """RFC 3550 §6.6 BYE with an optional reason."""

    sources: tuple[int, ...] = ()
    reason: bytes | None = None

    def __bytes__(self) -> bytes:
        if len(self.sources) > 31:
            raise ValueError("at most 31 sources")
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            if len(self.reason) > 255:
                raise ValueError("reason up to 255 octets")
            r = bytes((len(self.reason),)) + self.reason
            body += r + b"\x00" * (-len(r) % 4)
        return _header(len(self.sources), RTCP_BYE, len(body)) + body


@attrs.frozen(kw_only=True)
class App(_Parseable):
    """RFC 3550 §6.7 APP: 5-bit subtype, 4-octet ASCII name, data a multiple of 4 octets."""

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    def __bytes__(self) -> bytes:
        _u("subtype", self.subtype, 5)
        if len(self.name) != 4 or len(self.data) % 4:
            raise ValueError("APP name is 4 octets and data a multiple of 4")
        body = struct.pack("!I", self.ssrc) + self.name + self.data
        return _header(self.subtype, RTCP_APP, len(body)) + body


@attrs.frozen(kw_only=True)
class GenericNack(_Parseable):
    """RFC 4585 §6.2.1 Generic NACK (RTPFB, FMT 1). ``items`` are (PID, BLP) pairs."""

    sender_ssrc: int
    media_ssrc: int
    items: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_lost(cls, sender_ssrc: int, media_ssrc: int, lost: list[int]) -> GenericNack:
        """Pack lost 16-bit sequence numbers (in order, modulo wrap) into PID/BLP pairs."""
        items: list[tuple[int, int]] = []
        for seq in lost:
            if items:
                pid, blp = items[-1]
                d = (seq - pid) & 0xFFFF
                if 1 <= d <= 16:
                    items[-1] = (pid, blp | (1 << (d - 1)))
                    continue
                if d == 0:
                    continue
            items.append((seq & 0xFFFF, 0))
        return cls(sender_ssrc=sender_ssrc, media_ssrc=media_ssrc, items=tuple(items))

    def lost(self) -> list[int]:
        """The sequence numbers this NACK reports lost (RFC 4585 §6.2.1: PID, then BLP bits)."""
        out: list[int] = []
        for pid, blp in self.items:
            out.append(pid)
            out.extend((pid + i + 1) & 0xFFFF for i in range(16) if blp >> i & 1)
        return out

    def __bytes__(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, self.media_ssrc)
        body += b"".join(struct.pack("!HH", p, b) for p, b in self.items)
        return _header(1, RTCP_RTPFB, len(body)) + body


@attrs.frozen(kw_only=True)
class PictureLossIndication(_Parseable):
    """RFC 4585 §6.3.1 PLI (PSFB, FMT 1, no FCI)."""

    sender_ssrc: int
    media_ssrc: int

    def __bytes__(self) -> bytes:
        return _header(1, RTCP_PSFB, 8) + struct.pack("!II", self.sender_ssrc, self.media_ssrc)


@attrs.frozen(kw_only=True)
class FeedbackPacket(_Parseable):
    """Any other RFC 4585 feedback message, kept raw (``fci`` = feedback control information)."""

    packet_type: int
    fmt: int
    sender_ssrc: int
    media_ssrc: int
    fci: bytes = b""

    def __bytes__(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, self.media_ssrc) + self.fci
        return _header(self.fmt, self.packet_type, len(body)) + body


_VOIP = struct.Struct("!IBBBBHHHHbbBBBBBBBxHHH")


@attrs.frozen(kw_only=True)
class VoipMetricsBlock:
    """RFC 3611 §4.7 VoIP Metrics Report Block (BT=7). Units as on the wire (§4.7.1-8):
    rates in 1/256, durations/delays in ms, levels in dBm (signed), R in 0..100 (127 =
    unavailable), MOS in tenths (127 = unavailable)."""

    ssrc: int
    loss_rate: int = 0
    discard_rate: int = 0
    burst_density: int = 0
    gap_density: int = 0
    burst_duration: int = 0
    gap_duration: int = 0
    round_trip_delay: int = 0
    end_system_delay: int = 0
    signal_level: int = 127
    noise_level: int = 127
    rerl: int = 127
    gmin: int = 16
    r_factor: int = 127
    ext_r_factor: int = 127
    mos_lq: int = 127
    mos_cq: int = 127
    rx_config: int = 0
    jb_nominal: int = 0
    jb_maximum: int = 0
    jb_abs_max: int = 0

    BLOCK_TYPE = 7

    def __bytes__(self) -> bytes:
        body = _VOIP.pack(
            self.ssrc, self.loss_rate, self.discard_rate, self.burst_density, self.gap_density,
            self.burst_duration, self.gap_duration, self.round_trip_delay, self.end_system_delay,
            self.signal_level, self.noise_level, self.rerl, self.gmin, self.r_factor,
            self.ext_r_factor, self.mos_lq, self.mos_cq, self.rx_config, self.jb_nominal,
            self.jb_maximum, self.jb_abs_max,
        )
        return struct.pack("!BBH", 7, 0, 8) + body


@attrs.frozen(kw_only=True)
class XrBlock:
    """An XR report block of a type we keep raw (RFC 3611 §3)."""

    block_type: int
    type_specific: int = 0
    data: bytes = b""

    def __bytes__(self) -> bytes:
        if len(self.data) % 4:
            raise ValueError("XR block data must be a multiple of 4 octets")
        return struct.pack("!BBH", self.block_type, self.type_specific, len(self.data) // 4) + (
            self.data
        )


@attrs.frozen(kw_only=True)
class ExtendedReport(_Parseable):
    """RFC 3611 §2 XR packet."""

    ssrc: int
    blocks: tuple[VoipMetricsBlock | XrBlock, ...] = ()

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(b) for b in self.blocks)
        return _header(0, RTCP_XR, len(body)) + body


@attrs.frozen(kw_only=True)
class UnknownRtcp(_Parseable):
    """A packet type we do not interpret, kept whole (RFC 3550 §6.1: ignore unknown types)."""

    packet_type: int
    count: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _header(self.count, self.packet_type, len(self.body)) + self.body


RtcpPacket = Union[
    SenderReport, ReceiverReport, SourceDescription, Bye, App, GenericNack,
    PictureLossIndication, FeedbackPacket, ExtendedReport, UnknownRtcp,
]


def _parse_sdes(data: BytesLike, pos: int, end: int, count: int) -> SourceDescription:
    chunks: list[SdesChunk] = []
    for _ in range(count):
        if pos + 4 > end:
            raise ParseError("SDES chunk truncated", pos)
        ssrc = struct.unpack_from("!I", data, pos)[0]
        pos += 4
        items: list[SdesItem] = []
        while True:
            if pos >= end:
                raise ParseError("SDES chunk has no terminating null item", pos)
            t = data[pos]
            if t == 0:
                # RFC 3550 §6.5: null octets up to the next 32-bit boundary.
                pos += 1 + (-(pos + 1)) % 4
                break
            if pos + 2 > end or pos + 2 + data[pos + 1] > end:
                raise ParseError("SDES item runs past the packet", pos)
            ln = data[pos + 1]
            items.append(SdesItem(type=t, value=bytes(data[pos + 2 : pos + 2 + ln])))
            pos += 2 + ln
        if pos > end:
            raise ParseError("SDES chunk padding runs past the packet", end)
        chunks.append(SdesChunk(ssrc=ssrc, items=tuple(items)))
    return SourceDescription(chunks=tuple(chunks))


def _parse_xr(data: BytesLike, pos: int, end: int) -> ExtendedReport:
    if pos + 4 > end:
        raise ParseError("XR packet without SSRC", pos)
    ssrc = struct.unpack_from("!I", data, pos)[0]
    pos += 4
    blocks: list[VoipMetricsBlock | XrBlock] = []
    while pos < end:
        if pos + 4 > end:
            raise ParseError("XR block header truncated", pos)
        bt, spec, words = struct.unpack_from("!BBH", data, pos)
        bend = pos + 4 + 4 * words
        if bend > end:
            raise ParseError("XR block runs past the packet", pos + 2)
        if bt == 7:
            if words != 8:
                raise ParseError(f"VoIP metrics block length {words}, expected 8", pos + 2)
            f = _VOIP.unpack_from(data, pos + 4)
            blocks.append(VoipMetricsBlock(
                ssrc=f[0], loss_rate=f[1], discard_rate=f[2], burst_density=f[3],
                gap_density=f[4], burst_duration=f[5], gap_duration=f[6],
                round_trip_delay=f[7], end_system_delay=f[8], signal_level=f[9],
                noise_level=f[10], rerl=f[11], gmin=f[12], r_factor=f[13], ext_r_factor=f[14],
                mos_lq=f[15], mos_cq=f[16], rx_config=f[17], jb_nominal=f[18],
                jb_maximum=f[19], jb_abs_max=f[20],
            ))
        else:
            blocks.append(XrBlock(block_type=bt, type_specific=spec,
                                  data=bytes(data[pos + 4 : bend])))
        pos = bend
    return ExtendedReport(ssrc=ssrc, blocks=tuple(blocks))


def _parse_one(data: BytesLike, pos: int, end: int, count: int, pt: int) -> RtcpPacket:
    """Parse the body ``data[pos:end]`` of one packet whose header sat at ``pos - 4``."""
    if pt == RTCP_SR:
        if pos + 24 > end:
            raise ParseError("SR sender info truncated", pos)
        ssrc, ntp, rtp_ts, pc, oc = _SR.unpack_from(data, pos)
        reports = _read_blocks(data, pos + 24, count, end)
        return SenderReport(ssrc=ssrc, ntp_timestamp=ntp, rtp_timestamp=rtp_ts, packet_count=pc,
                            octet_count=oc, reports=reports,
                            profile_extension=bytes(data[pos + 24 + 24 * count : end]))
    if pt == RTCP_RR:
        if pos + 4 > end:
            raise ParseError("RR without SSRC", pos)
        ssrc = struct.unpack_from("!I", data, pos)[0]
        reports = _read_blocks(data, pos + 4, count, end)
        return ReceiverReport(ssrc=ssrc, reports=reports,
                              profile_extension=bytes(data[pos + 4 + 24 * count : end]))
    if pt == RTCP_SDES:
        return _parse_sdes(data, pos, end, count)
    if pt == RTCP_BYE:
        if pos + 4 * count > end:
            raise ParseError(f"BYE with {count} sources runs past the packet", pos)
        sources = struct.unpack_from(f"!{count}I", data, pos)
        p = pos + 4 * count
        reason = None
        if p < end:
            ln = data[p]
            if p + 1 + ln > end:
                raise ParseError("BYE reason runs past the packet", p)
            reason = bytes(data[p + 1 : p + 1 + ln])
        return Bye(sources=tuple(sources), reason=reason)
    if pt == RTCP_APP:
        if pos + 8 > end:
            raise ParseError("APP packet truncated", pos)
        return App(subtype=count, ssrc=struct.unpack_from("!I", data, pos)[0],
                   name=bytes(data[pos + 4 : pos + 8]), data=bytes(data[pos + 8 : end]))
    if pt == RTCP_RTPFB or pt == RTCP_PSFB:
        if pos + 8 > end:
            raise ParseError("feedback packet shorter than its two SSRCs", pos)
        sender, media = struct.unpack_from("!II", data, pos)
        if pt == RTCP_RTPFB and count == 1:
            n = (end - pos - 8) // 4
            vals = struct.unpack_from(f"!{2 * n}H", data, pos + 8)
            return GenericNack(sender_ssrc=sender, media_ssrc=media,
                               items=tuple(zip(vals[0::2], vals[1::2])))
        if pt == RTCP_PSFB and count == 1:
            return PictureLossIndication(sender_ssrc=sender, media_ssrc=media)
        return FeedbackPacket(packet_type=pt, fmt=count, sender_ssrc=sender, media_ssrc=media,
                              fci=bytes(data[pos + 8 : end]))
    if pt == RTCP_XR:
        return _parse_xr(data, pos, end)
    return UnknownRtcp(packet_type=pt, count=count, body=bytes(data[pos:end]))


def parse_rtcp(data: BytesLike, *, reduced_size: bool = False) -> tuple[RtcpPacket, ...]:
    """Parse an RTCP datagram and apply the validity checks of RFC 3550 Appendix A.2.

    Compound rules: version 2 everywhere, the first packet an SR or RR, the padding bit only
    on the last packet, lengths adding up to the datagram. With ``reduced_size`` (RFC 5506
    §3.4.2) the first packet may be of any type and a lone packet is fine.
    """
    n = len(data)
    if n < 4:
        raise ParseError("RTCP datagram shorter than one header", n)
    if n % 4:
        raise ParseError("RTCP datagram length is not a multiple of 4", n)
    out: list[RtcpPacket] = []
    pos = 0
    while pos < n:
        if pos + 4 > n:
            raise ParseError("RTCP header truncated", pos)
        b0, pt, words = _HDR.unpack_from(data, pos)
        if b0 >> 6 != 2:
            raise ParseError(f"RTCP version {b0 >> 6}, expected 2", pos)
        if pos == 0 and not reduced_size and pt not in (RTCP_SR, RTCP_RR):
            raise ParseError(f"compound RTCP must start with SR or RR, not {pt}", 1)
        if not 192 <= pt <= 223:
            raise ParseError(f"packet type {pt} is not RTCP", pos + 1)
        end = pos + 4 * (words + 1)
        if end > n:
            raise ParseError("RTCP length runs past the datagram", pos + 2)
        body_end = end
        if b0 & 0x20:
            # A.2: only the last packet of a compound may be padded.
            if end != n:
                raise ParseError("padding bit set on a packet that is not the last", pos)
            pad = data[n - 1]
            if pad == 0 or pos + 4 + pad > end:
                raise ParseError(f"bad RTCP padding count {pad}", n - 1)
            body_end = end - pad
        out.append(_parse_one(data, pos + 4, body_end, b0 & 0x1F, pt))
        pos = end
    return tuple(out)


def parse_rtcp_packet(data: BytesLike) -> RtcpPacket:
    """Parse a datagram holding exactly one RTCP packet of any type."""
    packets = parse_rtcp(data, reduced_size=True)
    if len(packets) != 1:
        raise ParseError(f"expected one RTCP packet, found {len(packets)}", 0)
    return packets[0]


_P = TypeVar("_P")


def _parse_as(cls: type[_P], data: BytesLike) -> _P:
    pkt = parse_rtcp_packet(data)
    if not isinstance(pkt, cls):
        raise ParseError(f"expected {cls.__name__}, found {type(pkt).__name__}", 1)
    return pkt


def build_compound(packets: list[RtcpPacket] | tuple[RtcpPacket, ...]) -> bytes:
    """Concatenate packets into one compound datagram (RFC 3550 §6.1)."""
    return b"".join(bytes(p) for p in packets)
