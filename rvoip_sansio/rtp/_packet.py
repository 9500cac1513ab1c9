"""RTP data packets (RFC 3550 §5.1) and RTP header extensions (RFC 3550 §5.3.1, RFC 8285).

Two ways in:

* :meth:`RtpPacket.parse` validates everything (version, CSRC count, extension length,
  padding) and returns a frozen :class:`RtpPacket`.
* :func:`parse_rtp_header` is the hot-path variant used by :class:`RtpSession`: one
  ``struct.unpack_from`` and a handful of checks, returning a plain tuple
  ``(payload_type, marker, seq, timestamp, ssrc, payload_start, payload_end)``.

Both raise :class:`~rvoip_sansio.ParseError` (offset + reason) on bad input, nothing else.
"""

from __future__ import annotations

import struct
from typing import Union

import attrs

from .._core import ParseError

__all__ = [
    "RTP_VERSION",
    "RtpPacket",
    "HeaderExtension",
    "ExtensionElement",
    "parse_extension_elements",
    "build_extension_elements",
    "parse_rtp_header",
    "build_rtp",
]

RTP_VERSION = 2
_HDR = struct.Struct("!BBHII")
_HDR_PACK = _HDR.pack
_HDR_UNPACK = _HDR.unpack_from
_EXT_HDR = struct.Struct("!HH")

#: RFC 8285 §4.2: "defined by profile" value of the one-byte header form.
ONE_BYTE_PROFILE = 0xBEDE
#: RFC 8285 §4.3: 0x100 in the top 12 bits (the low 4 bits are "appbits").
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000

_new = object.__new__
_set = object.__setattr__

BytesLike = Union[bytes, bytearray, memoryview]


@attrs.frozen(kw_only=True)
class HeaderExtension:
    """The raw RTP header extension (RFC 3550 §5.3.1): a 16-bit profile value and its data.

    ``data`` length is a multiple of 4. Use :func:`parse_extension_elements` to read RFC 8285
    elements out of it, :func:`build_extension_elements` to make one.
    """

    profile: int
    data: bytes = b""

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.profile <= 0xFFFF:
            raise ValueError("extension profile must fit 16 bits")
        if len(self.data) % 4:
            raise ValueError("extension data must be a multiple of 4 bytes")


@attrs.frozen(kw_only=True)
class ExtensionElement:
    """One RFC 8285 element: ``id`` (the extmap id negotiated in SDP) and its value."""

    id: int
    value: bytes


def parse_extension_elements(ext: HeaderExtension) -> tuple[ExtensionElement, ...]:
    """Split a one-byte (0xBEDE) or two-byte (0x100x) extension into its elements.

    RFC 8285 §4.2: id 0 is padding (length ignored); id 15 means stop processing.
    §4.3: id 0 is padding, each element has an 8-bit length. Raises ``ParseError`` for any
    other profile or an element running past the end.
    """
    data = ext.data
    out: list[ExtensionElement] = []
    i = 0
    n = len(data)
    if ext.profile == ONE_BYTE_PROFILE:
        while i < n:
            b = data[i]
            if b == 0:  # padding byte
                i += 1
                continue
            eid = b >> 4
            if eid == 15:  # RFC 8285 §4.2: stop parsing
                break
            length = (b & 0x0F) + 1
            if i + 1 + length > n:
                raise ParseError("one-byte extension element runs past the extension", 12 + 4 + i)
            out.append(ExtensionElement(id=eid, value=bytes(data[i + 1 : i + 1 + length])))
            i += 1 + length
    elif ext.profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while i < n:
            eid = data[i]
            if eid == 0:
                i += 1
                continue
            if i + 1 >= n:
                raise ParseError("two-byte extension element header truncated", 12 + 4 + i)
            length = data[i + 1]
            if i + 2 + length > n:
                raise ParseError("two-byte extension element runs past the extension", 12 + 4 + i)
            out.append(ExtensionElement(id=eid, value=bytes(data[i + 2 : i + 2 + length])))
            i += 2 + length
    else:
        raise ParseError(f"extension profile 0x{ext.profile:04x} is not RFC 8285", 12)
    return tuple(out)


def build_extension_elements(
    elements: list[ExtensionElement] | tuple[ExtensionElement, ...],
    *,
    two_byte: bool | None = None,
) -> HeaderExtension:
    """Make an RFC 8285 header extension; picks the one-byte form when every element allows it.

    One-byte form: ids 1..14, values 1..16 bytes. Two-byte form: ids 1..255, values 0..255.
    """
    if two_byte is None:
        two_byte = any(not (1 <= e.id <= 14 and 1 <= len(e.value) <= 16) for e in elements)
    parts: list[bytes] = []
    for e in elements:
        if two_byte:
            if not (1 <= e.id <= 255 and len(e.value) <= 255):
                raise ValueError(f"element id {e.id} / length {len(e.value)} invalid (two-byte)")
            parts.append(bytes((e.id, len(e.value))) + e.value)
        else:
            if not (1 <= e.id <= 14 and 1 <= len(e.value) <= 16):
                raise ValueError(f"element id {e.id} / length {len(e.value)} invalid (one-byte)")
            parts.append(bytes(((e.id << 4) | (len(e.value) - 1),)) + e.value)
    body = b"".join(parts)
    body += b"\x00" * (-len(body) % 4)
    return HeaderExtension(profile=TWO_BYTE_PROFILE if two_byte else ONE_BYTE_PROFILE, data=body)


def _check_u(name: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must fit {bits} bits, got {value}")


@attrs.frozen(kw_only=True)
class RtpPacket:
    """An RTP packet (RFC 3550 §5.1). ``bytes(packet)`` builds it; :meth:`parse` reads one.

    ``padding`` is the number of padding octets at the end (0 = P bit clear); built padding is
    zeros followed by the count octet, so the output is deterministic.
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: HeaderExtension | None = None
    padding: int = 0

    def __attrs_post_init__(self) -> None:
        if (0 <= self.payload_type < 0x80 and 0 <= self.sequence_number < 0x10000
                and 0 <= self.timestamp < 0x100000000 and 0 <= self.ssrc < 0x100000000
                and 0 <= self.padding <= 255 and not self.csrc):
            return  # the common packet: one test, then done
        _check_u("payload_type", self.payload_type, 7)
        _check_u("sequence_number", self.sequence_number, 16)
        _check_u("timestamp", self.timestamp, 32)
        _check_u("ssrc", self.ssrc, 32)
        if len(self.csrc) > 15:
            raise ValueError("at most 15 CSRCs")
        for c in self.csrc:
            _check_u("csrc", c, 32)
        if not 0 <= self.padding <= 255:
            raise ValueError("padding must be 0..255 octets")

    @classmethod
    def parse(cls, data: BytesLike) -> RtpPacket:
        """Parse and fully validate one RTP packet (RFC 3550 §5.1, A.1 header checks)."""
        n = len(data)
        if n < 12:
            raise ParseError("RTP packet shorter than the 12-byte fixed header", n)
        b0, b1, seq, ts, ssrc = _HDR_UNPACK(data, 0)
        if b0 >> 6 != RTP_VERSION:
            raise ParseError(f"RTP version {b0 >> 6}, expected 2", 0)
        cc = b0 & 0x0F
        pos = 12 + 4 * cc
        if pos > n:
            raise ParseError(f"CSRC list of {cc} entries runs past the packet", 12)
        csrc = struct.unpack_from(f"!{cc}I", data, 12) if cc else ()
        extension = None
        if b0 & 0x10:
            if pos + 4 > n:
                raise ParseError("extension header truncated", pos)
            profile, words = _EXT_HDR.unpack_from(data, pos)
            end = pos + 4 + 4 * words
            if end > n:
                raise ParseError(f"extension of {words} words runs past the packet", pos + 2)
            extension = HeaderExtension(profile=profile, data=bytes(data[pos + 4 : end]))
            pos = end
        end = n
        padding = 0
        if b0 & 0x20:
            padding = data[n - 1]
            # RFC 3550 §5.1: the last octet counts itself, so 0 is invalid.
            if padding == 0 or pos + padding > n:
                raise ParseError(f"bad padding count {padding}", n - 1)
            end = n - padding
        # Every field is in range by construction: skip __init__'s validation (hot path).
        p = _new(cls)
        _set(p, "payload_type", b1 & 0x7F)
        _set(p, "sequence_number", seq)
        _set(p, "timestamp", ts)
        _set(p, "ssrc", ssrc)
        _set(p, "payload", bytes(data[pos:end]))
        _set(p, "marker", b1 > 127)
        _set(p, "csrc", tuple(csrc))
        _set(p, "extension", extension)
        _set(p, "padding", padding)
        return p

    def __bytes__(self) -> bytes:
        b0 = 0x80 | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        parts = []
        ext = self.extension
        if ext is not None:
            b0 |= 0x10
        parts.append(
            _HDR_PACK(
                b0,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence_number,
                self.timestamp,
                self.ssrc,
            )
        )
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if ext is not None:
            parts.append(_EXT_HDR.pack(ext.profile, len(ext.data) // 4))
            parts.append(ext.data)
        parts.append(self.payload)
        if self.padding:
            parts.append(b"\x00" * (self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    def extension_elements(self) -> tuple[ExtensionElement, ...]:
        """The RFC 8285 elements of this packet's extension (empty when it has none)."""
        if self.extension is None:
            return ()
        return parse_extension_elements(self.extension)


def parse_rtp_header(data: BytesLike) -> tuple[int, bool, int, int, int, int, int]:
    """Hot-path RTP header read: ``(pt, marker, seq, ts, ssrc, payload_start, payload_end)``.

    Checks what RFC 3550 A.1 asks of every packet (version 2, lengths consistent with CC, X
    and P) but builds no objects; the payload is ``data[payload_start:payload_end]``.
    """
    n = len(data)
    if n < 12:
        raise ParseError("RTP packet shorter than the 12-byte fixed header", n)
    b0, b1, seq, ts, ssrc = _HDR_UNPACK(data, 0)
    if b0 & 0xC0 != 0x80:
        raise ParseError(f"RTP version {b0 >> 6}, expected 2", 0)
    if b0 & 0x3F == 0:  # the common case: no CSRC, no extension, no padding
        return b1 & 0x7F, b1 > 127, seq, ts, ssrc, 12, n
    pos = 12 + 4 * (b0 & 0x0F)
    if pos > n:
        raise ParseError("CSRC list runs past the packet", 12)
    if b0 & 0x10:
        if pos + 4 > n:
            raise ParseError("extension header truncated", pos)
        pos += 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
    if pos > n:
        raise ParseError("extension runs past the packet", 14 + 4 * (b0 & 0x0F))
    end = n
    if b0 & 0x20:
        pad = data[n - 1]
        if pad == 0 or pos + pad > n:
            raise ParseError(f"bad padding count {pad}", n - 1)
        end = n - pad
    return b1 & 0x7F, b1 > 127, seq, ts, ssrc, pos, end


def build_rtp(
    payload_type: int, marker: bool, seq: int, timestamp: int, ssrc: int, payload: bytes
) -> bytes:
    """Hot-path builder for the common packet (no CSRC, extension or padding)."""
    return _HDR_PACK(0x80, (0x80 if marker else 0) | payload_type, seq, timestamp, ssrc) + payload
