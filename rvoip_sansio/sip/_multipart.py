"""Multipart message bodies (RFC 2046 §5.1, as SIP uses them: RFC 5621).

``parse_multipart(body, content_type)`` splits a multipart/mixed, /alternative or /related
body into its parts (headers and octets, nested multiparts parsed too); ``Multipart(...)``
built from parts serializes with ``bytes()``. Bodies are octets: SIP carries MIME parts in
binary (RFC 5621 §3.1), so nothing is decoded except on request (:meth:`BodyPart.decoded`).

Grammar (RFC 2046 §5.1.1)::

    multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
                      *encapsulation close-delimiter transport-padding [CRLF epilogue]
    encapsulation  := delimiter transport-padding CRLF body-part
    delimiter      := CRLF dash-boundary      dash-boundary := "--" boundary
    close-delimiter := delimiter "--"         body-part := MIME-part-headers [CRLF *OCTET]
    boundary := 0*69<bchars> bcharsnospace
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator

import attrs

from rvoip_sansio._core import ParseError, RandomSource

from ._hdrvalues import ContentDisposition, MediaType, parse_content_disposition, \
    parse_media_type

__all__ = ["BodyPart", "Multipart", "parse_multipart", "make_boundary", "MAX_DEPTH"]

#: Nesting deeper than this is refused (bounded recursion, linear total work).
MAX_DEPTH = 8
#: RFC 2046 §5.1.1 bchars: a boundary is 1-70 of these, not ending in a space.
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
# A MIME part header line: field-name (RFC 5322 §3.6.8 ftext) ":" value.
_FIELD_RE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)", re.S)
_PADDING = b" \t"
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def _header_tuple(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(headers)


def _part_tuple(parts: Iterable[BodyPart]) -> tuple[BodyPart, ...]:
    return tuple(parts)


@attrs.frozen
class BodyPart:
    """One body part: its headers (name as written, unfolded value) and its octets.
    ``multipart`` holds the parsed content of a nested multipart part."""

    body: bytes
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_header_tuple)
    multipart: Multipart | None = attrs.field(default=None, eq=False)

    @classmethod
    def of(cls, content_type: str | None, body: bytes | Multipart,
           *headers: tuple[str, str]) -> BodyPart:
        """A part from a content type, octets (or a nested Multipart) and other headers."""
        if isinstance(body, Multipart):
            return cls(bytes(body), (("Content-Type", body.content_type), *headers), body)
        front = () if content_type is None else (("Content-Type", content_type),)
        return cls(bytes(body), (*front, *headers))

    def get(self, name: str) -> str | None:
        """The first header called ``name`` (any case)."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.get("content-type")

    @property
    def media_type(self) -> MediaType:
        """Content-Type parsed; ``text/plain`` when absent (RFC 2046 §5.1)."""
        value = self.get("content-type")
        return MediaType("text", "plain") if value is None else parse_media_type(value)

    @property
    def content_id(self) -> str | None:
        """Content-ID without its angle brackets (a ``cid:`` URL names it, RFC 5621 §9.1)."""
        value = self.get("content-id")
        return None if value is None else value.strip().removeprefix("<").removesuffix(">")

    @property
    def content_disposition(self) -> ContentDisposition | None:
        value = self.get("content-disposition")
        return None if value is None else parse_content_disposition(value)

    def decoded(self) -> bytes:
        """The octets with Content-Transfer-Encoding undone (base64, quoted-printable;
        7bit/8bit/binary as they are). ParseError for anything else or bad data."""
        cte = (self.get("content-transfer-encoding") or "binary").strip().lower()
        try:
            if cte in ("binary", "7bit", "8bit"):
                return self.body
            if cte == "base64":
                return binascii.a2b_base64(self.body)
            if cte == "quoted-printable":
                return binascii.a2b_qp(self.body)
        except (binascii.Error, ValueError) as exc:
            raise ParseError(f"bad {cte} content: {exc}", 0) from None
        raise ParseError(f"unknown Content-Transfer-Encoding {cte[:40]!r}", 0)

    def __bytes__(self) -> bytes:
        head = b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogateescape")
                        for k, v in self.headers)
        return head + b"\r\n" + self.body


@attrs.frozen
class Multipart:
    """A multipart body: subtype (``mixed``, ``alternative``, ``related``...), boundary,
    parts, preamble and epilogue (both ignored by receivers, RFC 2046 §5.1.1)."""

    parts: tuple[BodyPart, ...] = attrs.field(converter=_part_tuple)
    boundary: str
    subtype: str = "mixed"
    params: dict[str, str] = attrs.field(factory=dict)
    preamble: bytes = b""
    epilogue: bytes = b""

    @property
    def content_type(self) -> str:
        """The Content-Type value naming this body (boundary quoted when it must be)."""
        b = self.boundary
        quoted = b if _TOKEN_RE.fullmatch(b) else '"' + b + '"'
        extra = "".join(f";{k}={v}" for k, v in self.params.items())
        return f"multipart/{self.subtype};boundary={quoted}{extra}"

    def walk(self) -> Iterator[BodyPart]:
        """Every part, depth first, nested multiparts' parts included (after their own)."""
        for part in self.parts:
            yield part
            if part.multipart is not None:
                yield from part.multipart.walk()

    def find(self, mime: str) -> BodyPart | None:
        """The first part (depth first) of media type ``mime`` (e.g. ``application/sdp``)."""
        mime = mime.lower()
        for part in self.walk():
            try:
                if part.media_type.mime == mime:
                    return part
            except ParseError:
                continue
        return None

    def by_content_id(self, cid: str) -> BodyPart | None:
        """The part a ``cid:`` URL (RFC 2392) or bare Content-ID names."""
        cid = cid.removeprefix("cid:").strip("<>")
        return next((p for p in self.walk() if p.content_id == cid), None)

    def __bytes__(self) -> bytes:
        """RFC 2046 §5.1.1 serialization; ValueError when the boundary is invalid or occurs
        in a part (the sender must choose one that does not, §5.1.1)."""
        if _BOUNDARY_RE.fullmatch(self.boundary) is None:
            raise ValueError(f"invalid multipart boundary {self.boundary!r}")
        if not self.parts:
            raise ValueError("a multipart body needs at least one part")
        dash = b"--" + self.boundary.encode("ascii")
        delimiter = b"\r\n" + dash
        if dash in self.preamble:
            raise ValueError("the boundary occurs in the preamble; choose another")
        out = [self.preamble + b"\r\n" if self.preamble else b""]
        for i, part in enumerate(self.parts):
            for key, value in part.headers:
                if "\r" in value or "\n" in value or "\r" in key or ":" in key:
                    raise ValueError(f"invalid part header {key!r}")
            data = bytes(part)
            if delimiter in data:
                raise ValueError("the boundary occurs inside a part; choose another")
            out.append((dash if i == 0 else delimiter) + b"\r\n" + data)
        out.append(delimiter + b"--")
        if self.epilogue:
            out.append(b"\r\n" + self.epilogue)
        return b"".join(out)


def make_boundary(rng: RandomSource) -> str:
    """A fresh boundary from the injected random source (``random.Random``-like)."""
    bits = rng.getrandbits(96)
    return f"rvoip-{bits:024x}"


def parse_multipart(body: bytes, content_type: str | MediaType, *, _depth: int = 0,
                    _base: int = 0) -> Multipart:
    """Split a multipart ``body`` whose Content-Type is ``content_type``. ParseError (offset
    from the start of ``body``) when the type has no valid boundary, a delimiter is missing
    or malformed, a part header is malformed, or nesting exceeds :data:`MAX_DEPTH`."""
    if isinstance(content_type, str):
        try:
            content_type = parse_media_type(content_type)
        except ParseError as exc:
            raise ParseError(f"Content-Type: {exc.reason}", _base) from None
    if content_type.type != "multipart":
        raise ParseError(f"not a multipart type: {content_type.mime}", _base)
    boundary = content_type.boundary
    if boundary is None or _BOUNDARY_RE.fullmatch(boundary) is None:
        raise ParseError(f"multipart without a valid boundary parameter: {boundary!r}", _base)
    dash = b"--" + boundary.encode("ascii")
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        preamble, pos = b"", 0
    else:
        pos = body.find(delimiter)
        if pos < 0:
            raise ParseError(f"no boundary delimiter {dash[:80]!r} in the body", _base)
        preamble, pos = body[:pos], pos + 2
    parts: list[BodyPart] = []
    while True:
        pos += len(dash)
        end = _padding_end(body, pos)
        if body.startswith(b"--", pos):  # close-delimiter
            if not parts:
                raise ParseError("multipart body without any part", _base + pos)
            end = _padding_end(body, pos + 2)
            if end < len(body) and not body.startswith(b"\r\n", end):
                raise ParseError("garbage after the close delimiter", _base + end)
            epilogue = body[end + 2:] if end < len(body) else b""
            break
        if not body.startswith(b"\r\n", end):
            raise ParseError("boundary delimiter not followed by CRLF", _base + end)
        start = end + 2
        nxt = body.find(delimiter, start)
        if nxt < 0:
            raise ParseError("missing close delimiter of the multipart body", _base + len(body))
        parts.append(_parse_part(body[start:nxt], _depth, _base + start))
        pos = nxt + 2
    params = {k: v for k, v in content_type.params.items()
              if k != "boundary" and v is not None}
    return Multipart(parts, boundary, content_type.subtype, params, preamble, epilogue)


def _padding_end(body: bytes, pos: int) -> int:
    """Skip transport-padding (LWSP, RFC 2046 §5.1.1) from ``pos``."""
    n = len(body)
    while pos < n and body[pos] in _PADDING:
        pos += 1
    return pos


def _parse_part(data: bytes, depth: int, base: int) -> BodyPart:
    """``MIME-part-headers [CRLF *OCTET]``; headers may be folded (RFC 5322 §2.2.3)."""
    if data.startswith(b"\r\n"):
        head, content = b"", data[2:]
    else:
        split = data.find(b"\r\n\r\n")
        head, content = (data, b"") if split < 0 else (data[:split], data[split + 4:])
    headers = list(_part_headers(head, base))
    part = BodyPart(content, headers)
    mtype = part.get("content-type")
    if mtype is None:
        return part
    try:
        media = parse_media_type(mtype)
    except ParseError as exc:
        raise ParseError(f"part Content-Type: {exc.reason}", base) from None
    if media.type != "multipart":
        return part
    if depth + 1 >= MAX_DEPTH:
        raise ParseError(f"multipart nested more than {MAX_DEPTH} deep", base)
    inner = parse_multipart(content, media, _depth=depth + 1, _base=base + len(data)
                            - len(content))
    return BodyPart(content, headers, inner)


def _part_headers(head: bytes, base: int) -> Iterable[tuple[str, str]]:
    """Header lines of a part; a line starting with SP/HT continues the previous one (the
    CRLF is removed when unfolding, RFC 5322 §2.2.3)."""
    if not head:
        return
    pos = 0
    pending: tuple[int, bytes] | None = None
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and pending is not None:
            pending = (pending[0], pending[1] + line)
        else:
            if pending is not None:
                yield _part_header(*pending, base)
            pending = (pos, line)
        pos += len(line) + 2
    assert pending is not None
    yield _part_header(*pending, base)


def _part_header(pos: int, line: bytes, base: int) -> tuple[str, str]:
    m = _FIELD_RE.fullmatch(line)
    if m is None or b"\r" in line or b"\n" in line:
        raise ParseError(f"malformed part header line {line[:60]!r}", base + pos)
    return m.group(1).decode("ascii"), m.group(2).decode("utf-8", "surrogateescape").strip()
