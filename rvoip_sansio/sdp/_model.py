"""The SDP session model (RFC 8866 §5) with attribute access shared by session and media.

A parsed description remembers its original lines: :meth:`SessionDescription.__bytes__`
returns the input unchanged while nothing was edited, and otherwise re-emits every line that
still reads the same as parsed verbatim and the edited ones canonically.
"""

from __future__ import annotations

from typing import Callable, Iterator, TypeVar, cast

import attrs

from rvoip_sansio._core import ParseError

from ._attributes import (
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
    parse_number,
)

__all__ = [
    "Attribute",
    "Origin",
    "Connection",
    "Bandwidth",
    "Timing",
    "MediaDescription",
    "SessionDescription",
]

T = TypeVar("T")
_DIRECTIONS = {d.value: d for d in Direction}


@attrs.define
class Attribute:
    """One ``a=`` line: ``name`` and ``value`` (None for property attributes like rtcp-mux)."""

    name: str
    value: str | None = None
    # (value, parser, typed value) of the last typed parse; reused while ``value`` is the same.
    _typed_cache: tuple[str, object, object] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@attrs.define
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>``."""

    username: str = "-"
    session_id: int = 0
    session_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.nettype} {self.addrtype} {self.address}")


@attrs.define
class Connection:
    """``c=<nettype> <addrtype> <address>[/<ttl>][/<count>]`` (address kept with its suffixes)."""

    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @property
    def host(self) -> str:
        """The address without multicast ``/ttl/count`` suffixes."""
        return self.address.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@attrs.define
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (kbit/s for AS and CT; RFC 3556 RS/RR in bit/s)."""

    type: str
    value: int

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@attrs.define
class Timing:
    """``t=<start> <stop>`` and its ``r=`` lines (kept as text)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = attrs.field(factory=list)


class _Attributes:
    """Attribute access shared by the session and media levels."""

    __slots__ = ()
    attributes: list[Attribute]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name`` (None when absent or a property attribute)."""
        for a in self.attributes:
            if a.name == name:
                return a.value
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value for a in self.attributes if a.name == name and a.value is not None]

    def add_attribute(self, name: str, value: object = None) -> None:
        """Append ``a=name[:value]``; ``value`` may be a typed attribute (printed with str())."""
        self.attributes.append(Attribute(name, None if value is None else str(value)))

    def set_attribute(self, name: str, value: object = None) -> None:
        """Replace every ``a=name`` by one (at the first one's place, else appended)."""
        new = Attribute(name, None if value is None else str(value))
        for i, a in enumerate(self.attributes):
            if a.name == name:
                self.attributes[i] = new
                self.attributes[i + 1 :] = [b for b in self.attributes[i + 1 :] if b.name != name]
                return
        self.attributes.append(new)

    def remove_attribute(self, name: str) -> None:
        self.attributes[:] = [a for a in self.attributes if a.name != name]

    def _typed(self, name: str, parse: Callable[[str], T]) -> Iterator[T]:
        # Parsed documents were validated; values added later that do not parse are skipped.
        for a in self.attributes:
            if a.name == name and a.value is not None:
                cache = a._typed_cache
                if cache is not None and cache[0] is a.value and cache[1] == parse:
                    yield cast(T, cache[2])
                    continue
                try:
                    typed = parse(a.value)
                except ParseError:
                    continue
                a._typed_cache = (a.value, parse, typed)
                yield typed

    # -- typed views ---------------------------------------------------------------------------
    @property
    def direction(self) -> Direction | None:
        """The direction attribute at this level, or None (RFC 8866 §6.7)."""
        for a in self.attributes:
            if a.name in _DIRECTIONS:
                return _DIRECTIONS[a.name]
        return None

    @direction.setter
    def direction(self, value: Direction | None) -> None:
        """Replace the direction attributes by ``value`` (at the first one's place)."""
        idx = next((i for i, a in enumerate(self.attributes) if a.name in _DIRECTIONS), None)
        self.attributes[:] = [a for a in self.attributes if a.name not in _DIRECTIONS]
        if value is not None:
            pos = len(self.attributes) if idx is None else idx
            self.attributes.insert(pos, Attribute(value.value))

    @property
    def fingerprints(self) -> list[Fingerprint]:
        return list(self._typed("fingerprint", Fingerprint.parse))

    @property
    def setup(self) -> Setup | None:
        value = self.attribute("setup")
        try:
            return Setup(value.strip().lower()) if value else None
        except ValueError:
            return None

    @property
    def ice_ufrag(self) -> str | None:
        return self.attribute("ice-ufrag")

    @property
    def ice_pwd(self) -> str | None:
        return self.attribute("ice-pwd")

    @property
    def ice_options(self) -> list[str]:
        return " ".join(self.attribute_values("ice-options")).split()

    @property
    def ice_lite(self) -> bool:
        return self.has_attribute("ice-lite")

    @property
    def extmaps(self) -> list[Extmap]:
        return list(self._typed("extmap", Extmap.parse))


@attrs.define
class MediaDescription(_Attributes):
    """One ``m=`` section (RFC 8866 §5.14) with its lines."""

    media: str = "audio"
    port: int = 0
    proto: str = "RTP/AVP"
    formats: list[str] = attrs.field(factory=list)
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = attrs.field(factory=list)
    bandwidths: list[Bandwidth] = attrs.field(factory=list)
    key: str | None = None
    attributes: list[Attribute] = attrs.field(factory=list)

    @property
    def payload_types(self) -> list[int]:
        """Formats that are RTP payload type numbers."""
        return [int(f) for f in self.formats if f.isdigit() and len(f) <= 3]

    @property
    def rtpmaps(self) -> list[RtpMap]:
        return list(self._typed("rtpmap", RtpMap.parse))

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        return next((r for r in self.rtpmaps if r.payload_type == payload_type), None)

    @property
    def fmtps(self) -> list[Fmtp]:
        return list(self._typed("fmtp", Fmtp.parse))

    def fmtp(self, fmt: int | str) -> Fmtp | None:
        return next((f for f in self.fmtps if f.format == str(fmt)), None)

    @property
    def ptime(self) -> float | None:
        value = self.attribute("ptime")
        return _number_or_none(value, "ptime")

    @property
    def maxptime(self) -> float | None:
        return _number_or_none(self.attribute("maxptime"), "maxptime")

    @property
    def rtcp(self) -> Rtcp | None:
        return next(self._typed("rtcp", Rtcp.parse), None)

    @property
    def rtcp_mux(self) -> bool:
        """``a=rtcp-mux`` (RFC 5761 §5.1.1)."""
        return self.has_attribute("rtcp-mux")

    @property
    def crypto(self) -> list[Crypto]:
        return list(self._typed("crypto", Crypto.parse))

    @property
    def candidates(self) -> list[IceCandidate]:
        return list(self._typed("candidate", IceCandidate.parse))

    @property
    def end_of_candidates(self) -> bool:
        return self.has_attribute("end-of-candidates")

    @property
    def mid(self) -> str | None:
        value = self.attribute("mid")
        return value.strip() if value is not None else None

    @property
    def ssrcs(self) -> list[Ssrc]:
        return list(self._typed("ssrc", Ssrc.parse))

    @property
    def rejected(self) -> bool:
        """Port zero: a rejected or disabled stream (RFC 3264 §5.1, §6)."""
        return self.port == 0

    def lines(self) -> list[str]:
        """Canonical text of this section's lines, in RFC 8866 order."""
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        out = [f"m={' '.join([self.media, port, self.proto, *self.formats])}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        out += [f"c={c}" for c in self.connections]
        out += [f"b={b}" for b in self.bandwidths]
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [
            f"a={a.name}" if a.value is None else f"a={a.name}:{a.value}" for a in self.attributes
        ]
        return out


def _number_or_none(value: str | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_number(value, 0, what)
    except ParseError:
        return None


@attrs.define
class SessionDescription(_Attributes):
    """A whole SDP document (RFC 8866 §5). Build one in code or with :func:`parse_sdp`."""

    origin: Origin = attrs.field(factory=Origin)
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = attrs.field(factory=list)
    phones: list[str] = attrs.field(factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = attrs.field(factory=list)
    timings: list[Timing] = attrs.field(factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = attrs.field(factory=list)
    media: list[MediaDescription] = attrs.field(factory=list)
    # Round-trip memory, set by the parser: the original bytes, lines() as parsed, the
    # canonical text of each parsed line with its original text, and the line end used.
    _raw: bytes | None = attrs.field(default=None, eq=False, repr=False)
    _raw_canonical: list[str] = attrs.field(factory=list, eq=False, repr=False)
    _raw_lines: list[str] = attrs.field(factory=list, eq=False, repr=False)
    _raw_line_canonical: list[str] = attrs.field(factory=list, eq=False, repr=False)
    _eol: str = attrs.field(default="\r\n", eq=False, repr=False)

    def _remember_raw(
        self, raw: bytes, lines: list[str], canonical: list[str], in_order: bool, eol: str
    ) -> None:
        """Called by the parser once the model is complete."""
        self._raw = raw
        self._raw_lines = lines
        self._raw_line_canonical = canonical
        self._eol = eol
        # In RFC order the canonical lines are lines() already; otherwise compute them.
        self._raw_canonical = canonical if in_order else self.lines()

    @property
    def groups(self) -> list[Group]:
        return list(self._typed("group", Group.parse))

    @property
    def bundle(self) -> Group | None:
        """The first ``a=group:BUNDLE`` (RFC 9143 / RFC 5888)."""
        return next((g for g in self.groups if g.semantics.upper() == "BUNDLE"), None)

    def media_direction(self, index: int) -> Direction:
        """Effective direction of media ``index``: its own, else the session's, else sendrecv."""
        return self.media[index].direction or self.direction or Direction.SENDRECV

    def media_connection(self, index: int) -> Connection | None:
        """The c= that applies to media ``index`` (media level first, RFC 8866 §5.7)."""
        m = self.media[index]
        return m.connections[0] if m.connections else self.connection

    def lines(self) -> list[str]:
        """Canonical text of every line, in RFC 8866 order."""
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out += [f"e={e}" for e in self.emails]
        out += [f"p={p}" for p in self.phones]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidths]
        for t in self.timings:
            out.append(f"t={t.start} {t.stop}")
            out += [f"r={r}" for r in t.repeats]
        if self.zone is not None:
            out.append(f"z={self.zone}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [
            f"a={a.name}" if a.value is None else f"a={a.name}:{a.value}" for a in self.attributes
        ]
        for m in self.media:
            out += m.lines()
        return out

    def __bytes__(self) -> bytes:
        lines = self.lines()
        if self._raw is not None and lines == self._raw_canonical:
            return self._raw  # untouched: byte-exact
        # Edited: lines that still read as parsed keep their original text.
        pool: dict[str, list[str]] = {}
        for canon, original in zip(self._raw_line_canonical, self._raw_lines):
            if canon != original:
                pool.setdefault(canon, []).append(original)
        used: dict[str, int] = {}
        out = []
        for line in lines:
            originals = pool.get(line)
            if originals is not None:
                n = used.get(line, 0)
                if n < len(originals):
                    used[line] = n + 1
                    line = originals[n]
            out.append(line)
        eol = self._eol
        return (eol.join(out) + eol).encode("utf-8", "surrogateescape")

    def __str__(self) -> str:
        return bytes(self).decode("utf-8", "surrogateescape")

    def copy(self) -> SessionDescription:
        """A deep copy, made by serializing and parsing again."""
        from ._parser import parse_sdp

        return parse_sdp(bytes(self))
