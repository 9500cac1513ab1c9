"""Typed SDP attribute values (RFC 8866 §6, RFC 3605, RFC 4568, RFC 8839, RFC 8122, RFC 4145,
RFC 5888, RFC 5576, RFC 8285).

Each class parses the text after ``a=name:`` (``parse(value, offset)``) and prints it back
(``str()``). ``offset`` is where the value starts in the document, so a :class:`ParseError`
points at the bad attribute. Values are frozen; to change one, build a new one and store it
with ``set_attribute``/``add_attribute`` on the section.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from typing import Callable, ClassVar

import attrs

from rvoip_sansio._core import ParseError

__all__ = [
    "Direction",
    "Setup",
    "RtpMap",
    "Fmtp",
    "Rtcp",
    "CryptoKey",
    "Crypto",
    "IceCandidate",
    "Fingerprint",
    "Group",
    "Ssrc",
    "Extmap",
    "parse_number",
    "FastValidator",
    "VALIDATORS",
]

_WS = re.compile(r"[ \t]+")
_DIGITS = re.compile(r"[0-9]{1,10}")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+")


def _split(value: str) -> list[str]:
    return [p for p in _WS.split(value.strip(" \t")) if p]


def _int(text: str, offset: int, what: str, lo: int = 0, hi: int = 0xFFFFFFFF) -> int:
    if not _DIGITS.fullmatch(text):
        raise ParseError(f"{what}: expected a number, got {text[:20]!r}", offset)
    number = int(text)
    if not lo <= number <= hi:
        raise ParseError(f"{what}: {number} outside {lo}..{hi}", offset)
    return number


_NUMBER = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")


def parse_number(text: str, offset: int, what: str) -> float:
    """A positive decimal (ptime, maxptime: RFC 8866 §6.4 allows fractions)."""
    if not _NUMBER.fullmatch(text.strip()):
        raise ParseError(f"{what}: expected a number, got {text[:20]!r}", offset)
    return float(text)


class Direction(enum.Enum):
    """Media direction attributes (RFC 8866 §6.7, RFC 3264 §5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @classmethod
    def from_flags(cls, send: bool, recv: bool) -> Direction:
        if send and recv:
            return cls.SENDRECV
        if send:
            return cls.SENDONLY
        if recv:
            return cls.RECVONLY
        return cls.INACTIVE

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def reversed(self) -> Direction:
        """The same stream seen from the other end: sendonly <-> recvonly."""
        return Direction.from_flags(self.receives, self.sends)

    def __and__(self, other: Direction) -> Direction:
        return Direction.from_flags(self.sends and other.sends, self.receives and other.receives)


class Setup(enum.Enum):
    """``a=setup`` roles (RFC 4145 §4, RFC 8122 §5)."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"
    HOLDCONN = "holdconn"

    def answer(self) -> Setup:
        """The role to answer this offered role with (RFC 4145 §4.1; RFC 5763 §5: an
        answer to ``actpass`` is ``active``, so the answerer starts the DTLS handshake)."""
        return {
            Setup.ACTPASS: Setup.ACTIVE,
            Setup.ACTIVE: Setup.PASSIVE,
            Setup.PASSIVE: Setup.ACTIVE,
            Setup.HOLDCONN: Setup.HOLDCONN,
        }[self]


_RTPMAP = re.compile(r"[ \t]*([0-9]{1,3})[ \t]+([^ \t/]+)/([0-9]{1,10})(?:/([0-9]{1,3}))?[ \t]*")


@attrs.frozen
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`` (RFC 8866 §6.6)."""

    NAME: ClassVar[str] = "rtpmap"
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> RtpMap:
        m = _RTPMAP.fullmatch(value)
        if m is not None:  # the common well-formed case in one regex
            pt, name, rate, channels = m.groups()
            if int(pt) <= 127 and int(rate) > 0 and (not channels or 1 <= int(channels) <= 255):
                return cls(int(pt), name, int(rate), int(channels) if channels else None)
        parts = _split(value)
        if len(parts) != 2:
            raise ParseError("rtpmap: expected '<pt> <encoding>/<rate>'", offset)
        pt = _int(parts[0], offset, "rtpmap payload type", 0, 127)
        enc = parts[1].split("/")
        if len(enc) not in (2, 3) or not enc[0]:
            raise ParseError("rtpmap: expected '<encoding>/<rate>[/<channels>]'", offset)
        rate = _int(enc[1], offset, "rtpmap clock rate", 1)
        channels = _int(enc[2], offset, "rtpmap channels", 1, 255) if len(enc) == 3 else None
        return cls(pt, enc[0], rate, channels)

    def __str__(self) -> str:
        tail = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


@attrs.frozen
class Fmtp:
    """``a=fmtp:<format> <parameters>`` (RFC 8866 §6.15); parameters kept as written."""

    NAME: ClassVar[str] = "fmtp"
    format: str
    params: str

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Fmtp:
        fmt, _, params = value.strip(" \t").partition(" ")
        if not fmt or not _TOKEN.fullmatch(fmt):
            raise ParseError("fmtp: missing format", offset)
        return cls(fmt, params.strip(" \t"))

    @property
    def payload_type(self) -> int | None:
        return int(self.format) if self.format.isdigit() and len(self.format) <= 3 else None

    @property
    def parameters(self) -> dict[str, str]:
        """``key=value`` pairs split on ';' (keys lowercased); a bare item maps to ''."""
        out: dict[str, str] = {}
        for item in self.params.split(";"):
            key, _, val = item.strip().partition("=")
            if key:
                out[key.strip().lower()] = val.strip()
        return out

    def __str__(self) -> str:
        return f"{self.format} {self.params}" if self.params else self.format


@attrs.frozen
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 §2.1)."""

    NAME: ClassVar[str] = "rtcp"
    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Rtcp:
        parts = _split(value)
        if len(parts) not in (1, 4):
            raise ParseError("rtcp: expected '<port> [IN IP4 <address>]'", offset)
        port = _int(parts[0], offset, "rtcp port", 0, 65535)
        if len(parts) == 1:
            return cls(port)
        return cls(port, parts[1], parts[2], parts[3])

    def __str__(self) -> str:
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@attrs.frozen
class CryptoKey:
    """One ``inline:`` key of a crypto line (RFC 4568 §6.1): key||salt, lifetime, MKI."""

    method: str
    info: str
    key_salt: bytes | None = None
    lifetime: int | None = None
    mki: int | None = None
    mki_length: int | None = None

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> CryptoKey:
        method, sep, info = text.partition(":")
        if not sep or not method or not info:
            raise ParseError("crypto: key-param must be '<method>:<info>'", offset)
        if method.lower() != "inline":
            return cls(method, info)
        fields = info.split("|")
        if not _B64.fullmatch(fields[0]) or len(fields) > 3:
            raise ParseError("crypto: inline key is not base64", offset)
        try:
            key_salt = base64.b64decode(fields[0], validate=True)
        except (binascii.Error, ValueError):
            raise ParseError("crypto: inline key is not base64", offset) from None
        lifetime = mki = mki_length = None
        for field in fields[1:]:
            if ":" in field:  # MKI:length (RFC 4568 §6.1)
                value, _, length = field.partition(":")
                mki = _int(value, offset, "crypto MKI", 0, 2**128)
                mki_length = _int(length, offset, "crypto MKI length", 1, 128)
            elif mki is None and lifetime is None:
                if field.startswith("2^"):
                    lifetime = 2 ** _int(field[2:], offset, "crypto lifetime", 0, 64)
                else:
                    lifetime = _int(field, offset, "crypto lifetime", 1, 2**64)
            else:
                raise ParseError("crypto: bad inline key field order", offset)
        return cls(method, info, key_salt, lifetime, mki, mki_length)

    def __str__(self) -> str:
        return f"{self.method}:{self.info}"


@attrs.frozen
class Crypto:
    """``a=crypto:<tag> <suite> <key-params> [<session-params>...]`` (RFC 4568 §9.1).

    ``key_params`` is the text as written (``inline:...;inline:...``) for the SRTP layer;
    :attr:`keys` gives each parsed.
    """

    NAME: ClassVar[str] = "crypto"
    tag: int
    suite: str
    key_params: str
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Crypto:
        parts = _split(value)
        if len(parts) < 3:
            raise ParseError("crypto: expected '<tag> <suite> <key-params>'", offset)
        tag = _int(parts[0], offset, "crypto tag", 0, 999_999_999)
        crypto = cls(tag, parts[1], parts[2], tuple(parts[3:]))
        for key in parts[2].split(";"):
            CryptoKey.parse(key, offset)  # validate now: never fail later on access
        return crypto

    @property
    def keys(self) -> list[CryptoKey]:
        return [CryptoKey.parse(k) for k in self.key_params.split(";")]

    def __str__(self) -> str:
        return " ".join([str(self.tag), self.suite, self.key_params, *self.session_params])


@attrs.frozen
class IceCandidate:
    """``a=candidate:`` (RFC 8839 §5.1)."""

    NAME: ClassVar[str] = "candidate"
    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> IceCandidate:
        p = _split(value)
        if len(p) < 8 or p[6] != "typ":
            raise ParseError("candidate: expected '<foundation> <component> <transport> "
                             "<priority> <address> <port> typ <type>'", offset)
        raddr = rport = None
        ext: list[tuple[str, str]] = []
        rest = p[8:]
        if len(rest) % 2:
            raise ParseError("candidate: extension without value", offset)
        for name, val in zip(rest[::2], rest[1::2]):
            if name == "raddr" and raddr is None:
                raddr = val
            elif name == "rport" and rport is None:
                rport = _int(val, offset, "candidate rport", 0, 65535)
            else:
                ext.append((name, val))
        return cls(
            p[0],
            _int(p[1], offset, "candidate component", 1, 256),
            p[2],
            _int(p[3], offset, "candidate priority", 0, 2**32 - 1),
            p[4],
            _int(p[5], offset, "candidate port", 0, 65535),
            p[7],
            raddr,
            rport,
            tuple(ext),
        )

    def __str__(self) -> str:
        out = [self.foundation, str(self.component), self.transport, str(self.priority),
               self.address, str(self.port), "typ", self.type]
        if self.related_address is not None:
            out += ["raddr", self.related_address]
        if self.related_port is not None:
            out += ["rport", str(self.related_port)]
        for name, val in self.extensions:
            out += [name, val]
        return " ".join(out)


_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+")


@attrs.frozen
class Fingerprint:
    """``a=fingerprint:<hash-func> <XX:XX:...>`` (RFC 8122 §5)."""

    NAME: ClassVar[str] = "fingerprint"
    hash_function: str
    fingerprint: str

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Fingerprint:
        parts = _split(value)
        if len(parts) != 2 or not _FINGERPRINT.fullmatch(parts[1]):
            raise ParseError("fingerprint: expected '<hash-func> <hex pairs>'", offset)
        return cls(parts[0], parts[1])

    @classmethod
    def from_digest(cls, hash_function: str, digest: bytes) -> Fingerprint:
        return cls(hash_function, ":".join(f"{b:02X}" for b in digest))

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.fingerprint.replace(":", ""))

    def __str__(self) -> str:
        return f"{self.hash_function} {self.fingerprint}"


@attrs.frozen
class Group:
    """``a=group:<semantics> <mid>...`` (RFC 5888 §5), e.g. BUNDLE (RFC 9143)."""

    NAME: ClassVar[str] = "group"
    semantics: str
    mids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Group:
        parts = _split(value)
        if not parts:
            raise ParseError("group: missing semantics", offset)
        return cls(parts[0], tuple(parts[1:]))

    def __str__(self) -> str:
        return " ".join([self.semantics, *self.mids])


@attrs.frozen
class Ssrc:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576 §4.1)."""

    NAME: ClassVar[str] = "ssrc"
    ssrc: int
    attribute: str
    value: str | None = None

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Ssrc:
        ssrc_text, _, rest = value.strip(" \t").partition(" ")
        ssrc = _int(ssrc_text, offset, "ssrc", 0, 2**32 - 1)
        rest = rest.strip(" \t")
        if not rest:
            raise ParseError("ssrc: missing source attribute", offset)
        name, sep, val = rest.partition(":")
        return cls(ssrc, name, val if sep else None)

    def __str__(self) -> str:
        tail = f":{self.value}" if self.value is not None else ""
        return f"{self.ssrc} {self.attribute}{tail}"


@attrs.frozen
class Extmap:
    """``a=extmap:<id>[/<direction>] <uri> [<attributes>]`` (RFC 8285 §8)."""

    NAME: ClassVar[str] = "extmap"
    id: int
    uri: str
    direction: Direction | None = None
    attributes: str | None = None

    @classmethod
    def parse(cls, value: str, offset: int = 0) -> Extmap:
        parts = _WS.split(value.strip(" \t"), maxsplit=2)  # SP-separated (RFC 8285 §8)
        if len(parts) < 2:
            raise ParseError("extmap: expected '<id>[/<direction>] <uri>'", offset)
        ident, _, direction = parts[0].partition("/")
        # RFC 8285 §5: 1-14 one-byte, 1-255 two-byte form; 4096-4351 reserved for negotiation.
        number = _int(ident, offset, "extmap id", 1, 4095)
        try:
            dir_value = Direction(direction) if direction else None
        except ValueError:
            raise ParseError(f"extmap: bad direction {direction!r}", offset) from None
        return cls(number, parts[1], dir_value, parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        head = f"{self.id}/{self.direction.value}" if self.direction else str(self.id)
        tail = f" {self.attributes}" if self.attributes else ""
        return f"{head} {self.uri}{tail}"


def _check_ptime(value: str, offset: int) -> object:
    return parse_number(value, offset, "ptime")


def _check_setup(value: str, offset: int) -> object:
    try:
        return Setup(value.strip().lower())
    except ValueError:
        raise ParseError(f"setup: unknown role {value[:20]!r}", offset) from None


def _check_mid(value: str, offset: int) -> object:
    if not value or not _TOKEN.fullmatch(value.strip()):
        raise ParseError("mid: expected an identification-tag token", offset)
    return value


@attrs.frozen
class FastValidator:
    """A validator: ``regex`` accepts a strict subset of what ``parse`` accepts and answers
    the common case in C (returning None: nothing to cache); anything else goes to
    ``parse``, which returns the value or raises the precise ParseError."""

    regex: re.Pattern[str]
    parse: Callable[[str, int], object]

    def __call__(self, value: str, offset: int) -> object:
        if self.regex.fullmatch(value) is not None:
            return None
        return self.parse(value, offset)


def _fast(pattern: str, parse: Callable[[str, int], object]) -> FastValidator:
    return FastValidator(re.compile(pattern), parse)


_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_U32 = r"(?:[0-9]{1,9}|[1-3][0-9]{9})"  # below 4e9 < 2**32: a subset of the 32-bit range
_TOK = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_NS = r"[^ \t]+"

#: Validators applied to known attributes at parse time (value must be present). Each
#: returns the typed value (cached on the Attribute) or None when a fast regex accepted it.
VALIDATORS: dict[str, Callable[[str, int], object]] = {
    # Nearly always read afterwards: parse (one regex) and cache the typed value.
    "rtpmap": RtpMap.parse,
    "fmtp": _fast(rf"{_TOK}(?: .*)?", Fmtp.parse),
    "ptime": _fast(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", _check_ptime),
    "maxptime": _fast(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", _check_ptime),
    "rtcp": _fast(rf"{_PORT}(?: {_NS} {_NS} {_NS})?", Rtcp.parse),
    "crypto": Crypto.parse,
    "candidate": _fast(
        rf"{_NS} (?:[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6]) {_NS} {_U32} {_NS} {_PORT} typ "
        rf"{_NS}(?: (?!rport |raddr ){_NS} {_NS}| raddr {_NS}| rport {_PORT})*",
        IceCandidate.parse,
    ),
    "fingerprint": _fast(rf"{_NS} [0-9A-Fa-f]{{2}}(?::[0-9A-Fa-f]{{2}})+", Fingerprint.parse),
    "setup": _fast(r"active|passive|actpass|holdconn", _check_setup),
    "mid": _fast(_TOK, _check_mid),
    "group": _fast(rf"{_NS}(?: {_NS})*", Group.parse),
    "ssrc": _fast(rf"{_U32} [^ \t:]+(?::.*)?", Ssrc.parse),
    "extmap": _fast(
        rf"[1-9][0-9]{{0,2}}(?:/(?:sendrecv|sendonly|recvonly|inactive))? {_NS}(?: .*)?",
        Extmap.parse,
    ),
}
