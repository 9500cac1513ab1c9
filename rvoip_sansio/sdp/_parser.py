"""SDP parser (RFC 8866 §5, §9 grammar; RFC 4566 documents parse the same way).

Text is decoded as UTF-8 with ``surrogateescape``, so any byte sequence other than NUL, a
stray CR or an empty line in the middle parses and serializes back byte for byte. Lines may
end in CRLF or a bare LF (RFC 8866 §5 asks parsers to accept both).
"""

from __future__ import annotations

import re
from typing import Callable

from rvoip_sansio._core import ParseError

from ._attributes import VALIDATORS, FastValidator
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
# An a= line whose name is not a token (RFC 8866 §9 att-field), found in one regex pass.
_BAD_ATTR_LINE = re.compile(r"^a=(?![!#$%&'*+\-.^_`{|}~0-9A-Za-z]+(?::|\r?$))", re.MULTILINE)
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


# Parse-time regexes of the FastValidators, looked up directly to save a call per attribute.
_FAST_REGEX = {name: v.regex for name, v in VALIDATORS.items() if isinstance(v, FastValidator)}

_SESSION_RANK = {k: i for i, k in enumerate("vosiuepcbtrzka")}
_SESSION_RANK["r"] = _SESSION_RANK["t"]  # t= and its r= lines alternate
_MEDIA_RANK = {k: i for i, k in enumerate("micbka")}


def _byte_offset(lines: list[str], index: int, column: int = 0) -> int:
    """Byte offset of ``lines[index][column]`` in the document (only computed on errors)."""
    before = sum(len(line.encode("utf-8", "surrogateescape")) + 1 for line in lines[:index])
    return before + len(lines[index][:column].encode("utf-8", "surrogateescape"))


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
    text = raw.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    crlf = lines[0].endswith("\r")
    if text.count("\r") != text.count("\r\n"):
        # RFC 8866 §5: CR only as part of a line end.
        bad = next(i for i, line in enumerate(lines) if "\r" in line[:-1] or (
            line.endswith("\r") and i == len(lines) - 1))
        raise ParseError("CR inside an SDP line", _byte_offset(lines, bad, lines[bad].index("\r")))
    split = lines  # as split, with any CR: for error offsets
    if crlf and text.count("\n") == text.count("\r\n"):
        lines = text.split("\r\n")
    elif "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    count = len(lines)
    while count and not lines[count - 1]:
        count -= 1  # trailing empty lines (the final line end included) are tolerated
    if not lines[0].startswith("v="):
        raise ParseError("SDP must start with v=", 0)
    if lines[0] != "v=0":
        raise ParseError(f"unsupported SDP version {lines[0][2:12]!r}", 2)
    bad_name = _BAD_ATTR_LINE.search(text)
    if bad_name is not None:
        # One pass in C instead of a check per a= line (RFC 8866 §9: att-field = token).
        index = text.count("\n", 0, bad_name.start())
        raise ParseError("a=: bad attribute name", _byte_offset(split, index, 2))

    sdp = SessionDescription(timings=[])
    # Canonical text per line: the line itself, patched below where it differs (o, c, b, t, m).
    canonical = lines[:count]
    target = sdp.attributes
    media: MediaDescription | None = None
    seen = {"v"}
    rank = 0
    a_rank = _SESSION_RANK["a"]
    in_order = True
    validators = VALIDATORS if strict else {}
    index = 1
    while index < count:
        line = lines[index]
        if line.startswith("a="):
            # The bulk of any SDP: a run of a= lines, kept as written, handled in one go.
            end = index + 1
            while end < count and lines[end].startswith("a="):
                end += 1
            run = [item[2:].partition(":") for item in lines[index:end]]
            new = [Attribute(name, value if sep else None) for name, sep, value in run]
            if validators:
                for k, (name, sep, value) in enumerate(run):
                    validator = validators.get(name)
                    if validator is None:
                        continue
                    fast = _FAST_REGEX.get(name)
                    if fast is not None and sep and fast.fullmatch(value) is not None:
                        continue  # the common well-formed case, checked in C
                    try:
                        if not sep:
                            raise ParseError(f"a={name}: value missing", 2)
                        typed = validator(value, len(name) + 3)
                    except ParseError as exc:
                        at = _byte_offset(split, index + k, exc.offset)
                        raise ParseError(exc.reason, at) from None
                    if typed is not None:
                        new[k]._typed_cache = (value, validator, typed)
            target.extend(new)
            rank = a_rank
            index = end
            continue
        kind = line[:1]
        if line[1:2] != "=" or not "a" <= kind <= "z":
            if not line:
                raise ParseError("empty line inside SDP", _byte_offset(split, index))
            raise ParseError("SDP line must start with '<letter>='", _byte_offset(split, index))
        try:
            value = line[2:]
            if kind == "m":
                media = _media(value, 2)
                sdp.media.append(media)
                target = media.attributes
                a_rank = _MEDIA_RANK["a"]
                canonical[index] = media.lines()[0]
                rank = 0
            elif media is not None:
                if kind not in _MEDIA_TYPES:
                    raise ParseError(f"{kind}= not allowed in a media section", 0)
                if _MEDIA_RANK[kind] < rank:
                    in_order = False
                rank = _MEDIA_RANK[kind]
                if kind == "c":
                    conn = _connection(value, 2)
                    media.connections.append(conn)
                    canonical[index] = f"c={conn}"
                elif kind == "b":
                    bw = _bandwidth(value, 2)
                    media.bandwidths.append(bw)
                    canonical[index] = f"b={bw}"
                elif kind == "i":
                    if media.information is not None:
                        raise ParseError("second i= in a media section", 0)
                    media.information = value
                else:  # k
                    media.key = value
            else:
                if kind not in _SESSION_TYPES:
                    raise ParseError(f"unknown SDP line type {kind}=", 0)
                if kind in "vosiuzk" and kind in seen:
                    raise ParseError(f"second {kind}= line", 0)
                seen.add(kind)
                if _SESSION_RANK[kind] < rank:
                    in_order = False
                rank = _SESSION_RANK[kind]
                canonical[index] = _session_line(sdp, kind, value, line)
        except ParseError as exc:
            raise ParseError(exc.reason, _byte_offset(split, index, exc.offset)) from None
        index += 1
    if "o" not in seen:
        raise ParseError("SDP without o= line", len(raw))
    if "s" not in seen:
        raise ParseError("SDP without s= line", len(raw))
    sdp._remember_raw(raw, lines[:count], canonical, in_order, "\r\n" if crlf else "\n")
    return sdp


def _session_line(sdp: SessionDescription, kind: str, value: str, line: str) -> str:
    """Store one session-level line (not a=, v=, m=) and return its canonical text."""
    if kind == "o":
        sdp.origin = _origin(value, 2)
        return f"o={sdp.origin}"
    if kind == "s":
        sdp.session_name = value
    elif kind == "c":
        if sdp.connection is not None:
            raise ParseError("second session-level c= line", 0)
        sdp.connection = _connection(value, 2)
        return f"c={sdp.connection}"
    elif kind == "b":
        bw = _bandwidth(value, 2)
        sdp.bandwidths.append(bw)
        return f"b={bw}"
    elif kind == "t":
        timing = _timing(value, 2)
        sdp.timings.append(timing)
        return f"t={timing.start} {timing.stop}"
    elif kind == "r":
        if not sdp.timings:
            raise ParseError("r= without t=", 0)
        sdp.timings[-1].repeats.append(value)
    elif kind == "i":
        sdp.information = value
    elif kind == "u":
        sdp.uri = value
    elif kind == "e":
        sdp.emails.append(value)
    elif kind == "p":
        sdp.phones.append(value)
    elif kind == "z":
        sdp.zone = value
    elif kind == "k":
        sdp.key = value
    else:  # a second v=
        raise ParseError("second v= line", 0)
    return line
