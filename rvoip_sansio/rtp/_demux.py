"""Telling packets apart on one port: RTP vs RTCP (RFC 5761 §4) and STUN / ZRTP / DTLS /
TURN channel / RTP-RTCP by the first byte (RFC 7983 §7, updating RFC 5764 §5.1.2)."""

from __future__ import annotations

import enum

from ._packet import BytesLike

__all__ = ["PacketKind", "classify", "is_rtcp"]


class PacketKind(enum.Enum):
    STUN = "stun"
    ZRTP = "zrtp"
    DTLS = "dtls"
    TURN_CHANNEL = "turn-channel"
    RTP = "rtp"
    RTCP = "rtcp"
    UNKNOWN = "unknown"


def is_rtcp(data: BytesLike) -> bool:
    """RFC 5761 §4: with RTP and RTCP multiplexed, a second octet of 192..223 (RTCP packet
    types 200-207 and the range reserved around them) means RTCP; RTP payload types 64-95
    (which would collide with the marker bit set) must not be used on such a port."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def classify(data: BytesLike) -> PacketKind:
    """RFC 7983 §7 first-byte ranges: 0-3 STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN channel,
    128-191 RTP/RTCP (split by :func:`is_rtcp`); anything else is unknown and dropped."""
    if not data:
        return PacketKind.UNKNOWN
    b = data[0]
    if 128 <= b <= 191:
        return PacketKind.RTCP if is_rtcp(data) else PacketKind.RTP
    if b <= 3:
        return PacketKind.STUN
    if 16 <= b <= 19:
        return PacketKind.ZRTP
    if 20 <= b <= 63:
        return PacketKind.DTLS
    if 64 <= b <= 79:
        return PacketKind.TURN_CHANNEL
    return PacketKind.UNKNOWN
