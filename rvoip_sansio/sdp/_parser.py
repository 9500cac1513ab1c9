"""SDP parser (RFC 8866 §5, §9 grammar; RFC 4566 documents parse the same way).

Text is decoded as UTF-8 with ``surrogateescape``, so any byte sequence other than NUL, a
stray CR or an empty line in the middle parses and serializes back byte for byte. Lines may
end in CRLF or a bare LF (RFC 8866 §5 asks parsers to accept both).
"""

from __future__ import annotations

import re
from typing import Callable

from rvoip_sansio._core import ParseError

from ._attributes import VALIDATORS
from ._model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

__all__ = ["parse_sdp", "MAX_SDP_SIZE"]

#: Largest document accepted (SIP over UDP stays far below; this bounds hostile input).
MAX_SDP_SIZE = 256 * 1024

_SESSION_TYPES = frozenset("vosiuepcbtrzka")
_MEDIA_TYPES = frozenset("icbka")
_ATTR_NAME = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+")
_NUM = re.compile(r"[0-9]{1,20}")
_SESS_NUM = re.compile(r"[0-9]{1,30}")


def _fields(text: str, count: int, what: str, offset: int) -> list[str]:
    parts = text.split()
    if len(parts) != count:
        raise ParseError(f"{what}: expected {count} fields, got {len(parts)}", offset)
    return parts


def _origin(text: str, offset: int) -> Origin:
    user, sid, version, nettype, addrtype, address = _fields(text, 6, "o=", offset)
    if not _SESS_NUM.fullmatch(sid) or not _SESS_NUM.fullmatch(version):
        raise ParseError("o=: session id and version must be numbers", offset)
    return Origin(user, int(sid), int(version), nettype, addrtype, address)


def _connection(text: str, offset: int) -> Connection:
    nettype, addrtype, address = _fields(text, 3, "c=", offset)
    return Connection(nettype, addrtype, address)


def _bandwidth(text: str, offset: int) -> Bandwidth:
    bwtype, sep, value = text.partition(":")
    if not sep or not _ATTR_NAME.fullmatch(bwtype) or not _NUM.fullmatch(value.strip()):
        raise ParseError("b=: expected '<bwtype>:<bandwidth>'", offset)
    return Bandwidth(bwtype, int(value))


def _timing(text: str, offset: int) -> Timing:
    start, stop = _fields(text, 2, "t=", offset)
    if not _NUM.fullmatch(start) or not _NUM.fullmatch(stop):
        raise ParseError("t=: start and stop must be numbers", offset)
    return Timing(int(start), int(stop))


def _media(text: str, offset: int) -> MediaDescription:
    parts = text.split()
    if len(parts) < 3:
        raise ParseError("m=: expected '<media> <port> <proto> <fmt> ...'", offset)
    port_text, _, count_text = parts[1].partition("/")
    if not _NUM.fullmatch(port_text) or int(port_text) > 65535:
        raise ParseError(f"m=: bad port {parts[1][:20]!r}", offset)
    count = None
    if count_text:
        if not _NUM.fullmatch(count_text) or not 1 <= int(count_text) <= 65535:
            raise ParseError(f"m=: bad port count {count_text[:20]!r}", offset)
        count = int(count_text)
    return MediaDescription(
        media=parts[0],
        port=int(port_text),
        port_count=count,
        proto=parts[2],
        formats=parts[3:],
    )


def _attribute(text: str, offset: int, strict: bool) -> Attribute:
    name, sep, value = text.partition(":")
    if not _ATTR_NAME.fullmatch(name):
        raise ParseError(f"a=: bad attribute name {name[:20]!r}", offset)
    if strict and sep:
        validator: Callable[[str, int], object] | None = VALIDATORS.get(name)
        if validator is not None:
            validator(value, offset + len(name) + 1)
    elif strict and name in VALIDATORS:
        raise ParseError(f"a={name}: value missing", offset)
    return Attribute(name, value if sep else None)


def parse_sdp(data: bytes | bytearray | memoryview | str, *, strict: bool = True) -> SessionDescription:
    """Parse one SDP document. Raises :class:`ParseError` (offset, reason) and nothing else.

    ``strict`` (the default) also checks the syntax of the attributes typed in this package
    (rtpmap, fmtp, ptime, crypto, candidate, ...). With ``strict=False`` a malformed one is
    kept verbatim and the typed accessors skip it.
    """
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogateescape")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise ParseError("SDP must be bytes or str", 0)
    if len(raw) > MAX_SDP_SIZE:
        raise ParseError(f"SDP larger than {MAX_SDP_SIZE} bytes", MAX_SDP_SIZE)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ParseError("NUL byte in SDP", nul)
    if not raw:
        raise ParseError("empty SDP", 0)
    first_nl = raw.find(b"\n")
    eol = b"\r\n" if first_nl > 0 and raw[first_nl - 1] == 0x0D else b"\n"

    sdp = SessionDescription(timings=[])
    pairs: list[tuple[str, bytes]] = []
    media: MediaDescription | None = None
    seen: set[str] = set()
    pos = 0
    end = len(raw)
    trailing_blank_from: int | None = None
    while pos < end:
        nl = raw.find(b"\n", pos)
        stop = end if nl < 0 else nl
        line = raw[pos:stop]
        if line.endswith(b"\r"):
            line = line[:-1]
        offset = pos
        pos = end if nl < 0 else nl + 1
        if not line:
            # RFC 8866 has no empty lines; tolerate them only at the very end.
            if trailing_blank_from is None:
                trailing_blank_from = offset
            continue
        if trailing_blank_from is not None:
            raise ParseError("empty line inside SDP", trailing_blank_from)
        if b"\r" in line:
            raise ParseError("CR inside an SDP line", offset + line.index(b"\r"))
        text = line.decode("utf-8", "surrogateescape")
        if len(text) < 2 or text[1] != "=" or not "a" <= text[0] <= "z":
            raise ParseError("SDP line must start with '<letter>='", offset)
        kind, value = text[0], text[2:]
        voff = offset + 2
        if not seen:
            if kind != "v":
                raise ParseError("SDP must start with v=", offset)
            if value != "0":
                raise ParseError(f"unsupported SDP version {value[:10]!r}", voff)
            sdp.version = 0
            seen.add("v")
            pairs.append(("v=0", line))
            continue
        canon: str
        if kind == "m":
            media = _media(value, voff)
            sdp.media.append(media)
            canon = media.lines()[0]
        elif media is not None:
            if kind not in _MEDIA_TYPES:
                raise ParseError(f"{kind}= not allowed in a media section", offset)
            if kind == "a":
                attr = _attribute(value, voff, strict)
                media.attributes.append(attr)
                canon = f"a={attr}"
            elif kind == "c":
                conn = _connection(value, voff)
                media.connections.append(conn)
                canon = f"c={conn}"
            elif kind == "b":
                bw = _bandwidth(value, voff)
                media.bandwidths.append(bw)
                canon = f"b={bw}"
            elif kind == "i":
                if media.information is not None:
                    raise ParseError("second i= in a media section", offset)
                media.information = value
                canon = text
            else:  # k
                media.key = value
                canon = text
        else:
            if kind not in _SESSION_TYPES:
                raise ParseError(f"unknown SDP line type {kind}=", offset)
            if kind in "vosiuzk" and kind in seen:
                raise ParseError(f"second {kind}= line", offset)
            seen.add(kind)
            if kind == "a":
                attr = _attribute(value, voff, strict)
                sdp.attributes.append(attr)
                canon = f"a={attr}"
            elif kind == "o":
                sdp.origin = _origin(value, voff)
                canon = f"o={sdp.origin}"
            elif kind == "s":
                sdp.session_name = value
                canon = text
            elif kind == "c":
                if sdp.connection is not None:
                    raise ParseError("second session-level c= line", offset)
                sdp.connection = _connection(value, voff)
                canon = f"c={sdp.connection}"
            elif kind == "b":
                bw = _bandwidth(value, voff)
                sdp.bandwidths.append(bw)
                canon = f"b={bw}"
            elif kind == "t":
                timing = _timing(value, voff)
                sdp.timings.append(timing)
                canon = f"t={timing.start} {timing.stop}"
            elif kind == "r":
                if not sdp.timings:
                    raise ParseError("r= without t=", offset)
                sdp.timings[-1].repeats.append(value)
                canon = text
            elif kind == "i":
                sdp.information = value
                canon = text
            elif kind == "u":
                sdp.uri = value
                canon = text
            elif kind == "e":
                sdp.emails.append(value)
                canon = text
            elif kind == "p":
                sdp.phones.append(value)
                canon = text
            elif kind == "z":
                sdp.zone = value
                canon = text
            elif kind == "k":
                sdp.key = value
                canon = text
            else:  # a second v=
                raise ParseError("second v= line", offset)
        pairs.append((canon, line))
    if "o" not in seen:
        raise ParseError("SDP without o= line", len(raw))
    if "s" not in seen:
        raise ParseError("SDP without s= line", len(raw))
    sdp._remember_raw(raw, tuple(pairs), eol)
    return sdp
