"""Digest computation (RFC 7616 §3.4, RFC 2617 §3.2.2, RFC 8760) and typed digest values.

Everything here is pure arithmetic on strings: no state, no randomness, no clock.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Callable

import attrs

from rvoip_sansio._core import ParseError

from ._auth_params import AuthHeader, parse_auth_header, parse_auth_headers, quote

__all__ = [
    "Algorithm",
    "Qop",
    "DigestChallenge",
    "DigestCredentials",
    "parse_challenges",
    "parse_credentials",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
]


def _hasher(name: str) -> Callable[[bytes], str]:
    def digest(data: bytes) -> str:
        return hashlib.new(name, data).hexdigest()

    return digest


class Algorithm(enum.Enum):
    """Digest algorithms of RFC 7616 §3.3 / RFC 8760 §2.2, strongest last in declaration."""

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    @classmethod
    def from_token(cls, token: str | None) -> Algorithm | None:
        """The algorithm named by ``token`` (case-insensitive); absent means MD5 (RFC 7616 §3.3)."""
        if token is None:
            return cls.MD5
        return _BY_NAME.get(token.lower())

    @property
    def is_session(self) -> bool:
        """True for the ``-sess`` variants (HA1 mixes in nonce and cnonce, RFC 7616 §3.4.2)."""
        return self.value.endswith("-sess")

    @property
    def base(self) -> Algorithm:
        """The algorithm without ``-sess``: stored HA1 values are per base algorithm."""
        return _BASE[self]

    @property
    def strength(self) -> int:
        """Ordering used to pick the strongest of several challenges."""
        return _STRENGTH[self]

    def hash(self, text: str) -> str:
        """H(text): lowercase hex digest of the UTF-8 text (RFC 7616 §3.4.1)."""
        return _HASHERS[self.base](text.encode("utf-8", "surrogateescape"))


_BY_NAME = {a.value.lower(): a for a in Algorithm}
_BASE = {
    Algorithm.MD5: Algorithm.MD5,
    Algorithm.MD5_SESS: Algorithm.MD5,
    Algorithm.SHA_256: Algorithm.SHA_256,
    Algorithm.SHA_256_SESS: Algorithm.SHA_256,
    Algorithm.SHA_512_256: Algorithm.SHA_512_256,
    Algorithm.SHA_512_256_SESS: Algorithm.SHA_512_256,
}
# Strongest first when sorting by -strength; plain before -sess of the same hash because
# -sess is rarely implemented correctly by servers and adds nothing against a passive attacker.
_STRENGTH = {
    Algorithm.MD5_SESS: 1,
    Algorithm.MD5: 2,
    Algorithm.SHA_256_SESS: 3,
    Algorithm.SHA_256: 4,
    Algorithm.SHA_512_256_SESS: 5,
    Algorithm.SHA_512_256: 6,
}
_HASHERS = {
    Algorithm.MD5: _hasher("md5"),
    Algorithm.SHA_256: _hasher("sha256"),
    Algorithm.SHA_512_256: _hasher("sha512_256"),
}


class Qop(enum.Enum):
    """Quality of protection (RFC 7616 §3.3)."""

    AUTH = "auth"
    AUTH_INT = "auth-int"


def compute_userhash(algorithm: Algorithm, username: str, realm: str) -> str:
    """RFC 7616 §3.4.4: username = H(unq(username) ":" unq(realm)) when userhash is true."""
    return algorithm.hash(f"{username}:{realm}")


def compute_ha1(algorithm: Algorithm, username: str, realm: str, password: str) -> str:
    """H(username:realm:password), the value a server may store instead of the password."""
    return algorithm.hash(f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: Algorithm,
    ha1: str,
    method: str,
    uri: str,
    nonce: str,
    qop: Qop | None = None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1 when ``qop`` is None).

    ``ha1`` is H(username:realm:password) of the base algorithm; for ``-sess`` algorithms
    the session key H(ha1:nonce:cnonce) is derived here (RFC 7616 §3.4.2).
    """
    if algorithm.is_session:
        ha1 = algorithm.hash(f"{ha1}:{nonce}:{cnonce}")
    if qop is Qop.AUTH_INT:
        # RFC 7616 §3.4.3: A2 = Method ":" request-uri ":" H(entity-body)
        body_hash = _HASHERS[algorithm.base](bytes(body))
        ha2 = algorithm.hash(f"{method}:{uri}:{body_hash}")
    else:
        ha2 = algorithm.hash(f"{method}:{uri}")
    if qop is None:
        # RFC 2617 §3.2.2.1 / RFC 2069 compatibility: no nc, no cnonce.
        return algorithm.hash(f"{ha1}:{nonce}:{ha2}")
    return algorithm.hash(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop.value}:{ha2}")


def _bool_param(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


@attrs.frozen(kw_only=True)
class DigestChallenge:
    """A Digest challenge from ``WWW-Authenticate`` / ``Proxy-Authenticate`` (RFC 7616 §3.3).

    ``algorithm`` is None when the challenge names an algorithm we do not implement.
    """

    realm: str
    nonce: str
    algorithm: Algorithm | None = Algorithm.MD5
    algorithm_token: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    userhash: bool = False
    charset: str | None = None
    header: AuthHeader | None = attrs.field(default=None, eq=False)

    @classmethod
    def from_header(cls, header: AuthHeader) -> DigestChallenge:
        """Typed view of a parsed ``Digest`` challenge; ParseError if realm/nonce are missing."""
        if header.scheme.lower() != "digest":
            raise ParseError(f"not a Digest challenge: {header.scheme!r}", 0)
        realm = header.get("realm")
        nonce = header.get("nonce")
        if realm is None:
            raise ParseError("Digest challenge without realm", 0)
        if nonce is None:
            raise ParseError("Digest challenge without nonce", 0)
        token = header.get("algorithm")
        qop_raw = header.get("qop")
        qops = tuple(q.strip() for q in qop_raw.split(",") if q.strip()) if qop_raw else ()
        return cls(
            realm=realm,
            nonce=nonce,
            algorithm=Algorithm.from_token(token),
            algorithm_token=token if token is not None else "MD5",
            qop=qops,
            opaque=header.get("opaque"),
            stale=_bool_param(header.get("stale")),
            domain=header.get("domain"),
            userhash=_bool_param(header.get("userhash")),
            charset=header.get("charset"),
            header=header,
        )

    def __str__(self) -> str:
        """The header value: ``Digest realm="...", nonce="...", ...``."""
        parts = [f"realm={quote(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={quote(self.domain)}")
        parts.append(f"nonce={quote(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.stale:
            parts.append("stale=true")
        parts.append(f"algorithm={self.algorithm_token}")
        if self.qop:
            parts.append(f"qop={quote(','.join(self.qop))}")
        if self.charset is not None:
            parts.append(f"charset={self.charset}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


@attrs.frozen(kw_only=True)
class DigestCredentials:
    """Digest credentials from ``Authorization`` / ``Proxy-Authorization`` (RFC 7616 §3.4)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm_token: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    userhash: bool = False
    header: AuthHeader | None = attrs.field(default=None, eq=False)

    @property
    def algorithm(self) -> Algorithm | None:
        """The algorithm used, MD5 when absent, None when unknown."""
        return Algorithm.from_token(self.algorithm_token)

    @classmethod
    def from_header(cls, header: AuthHeader) -> DigestCredentials:
        """Typed view of parsed ``Digest`` credentials; ParseError when a required one is missing."""
        if header.scheme.lower() != "digest":
            raise ParseError(f"not Digest credentials: {header.scheme!r}", 0)
        values: dict[str, str] = {}
        for name in ("username", "realm", "nonce", "uri", "response"):
            value = header.get(name)
            if value is None:
                if name == "username" and header.get("username*") is not None:
                    value = _decode_ext_value(header.get("username*") or "")
                else:
                    raise ParseError(f"Digest credentials without {name}", 0)
            values[name] = value
        qop = header.get("qop")
        nc = header.get("nc")
        cnonce = header.get("cnonce")
        if qop is not None and (nc is None or cnonce is None):
            # RFC 7616 §3.4: cnonce and nc MUST be sent when qop is.
            raise ParseError("Digest credentials with qop but without nc/cnonce", 0)
        return cls(
            username=values["username"],
            realm=values["realm"],
            nonce=values["nonce"],
            uri=values["uri"],
            response=values["response"],
            algorithm_token=header.get("algorithm"),
            cnonce=cnonce,
            opaque=header.get("opaque"),
            qop=qop,
            nc=nc,
            userhash=_bool_param(header.get("userhash")),
            header=header,
        )

    def __str__(self) -> str:
        """The header value, in the parameter order SIP stacks use (RFC 3261 §22.4)."""
        if _ascii_quotable(self.username):
            parts = [f"username={quote(self.username)}"]
        else:
            parts = [f"username*={_encode_ext_value(self.username)}"]
        parts += [
            f"realm={quote(self.realm)}",
            f"nonce={quote(self.nonce)}",
            f"uri={quote(self.uri)}",
            f"response={quote(self.response)}",
        ]
        if self.algorithm_token is not None:
            parts.append(f"algorithm={self.algorithm_token}")
        if self.cnonce is not None:
            parts.append(f"cnonce={quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def _ascii_quotable(text: str) -> bool:
    return text.isascii() and "\r" not in text and "\n" not in text


_ATTR_CHAR = frozenset(b"!#$&+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _encode_ext_value(text: str) -> str:
    """RFC 8187 ext-value ``UTF-8''...`` for a username that is not ASCII (RFC 7616 §3.4.4)."""
    out = ["UTF-8''"]
    for byte in text.encode("utf-8", "surrogateescape"):
        out.append(chr(byte) if byte in _ATTR_CHAR else f"%{byte:02X}")
    return "".join(out)


def _decode_ext_value(value: str) -> str:
    charset, sep, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not sep or not sep2 or charset.lower() != "utf-8":
        raise ParseError("username* is not a UTF-8 ext-value", 0)
    try:
        raw = bytearray()
        i = 0
        while i < len(encoded):
            if encoded[i] == "%":
                raw.append(int(encoded[i + 1 : i + 3], 16))
                i += 3
            else:
                raw += encoded[i].encode("ascii")
                i += 1
        return raw.decode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise ParseError(f"bad username* encoding: {exc}", 0) from None


def parse_challenges(value: str) -> list[DigestChallenge | AuthHeader]:
    """Every challenge in a header value: Digest ones typed, other schemes as :class:`AuthHeader`."""
    out: list[DigestChallenge | AuthHeader] = []
    for header in parse_auth_headers(value):
        if header.scheme.lower() == "digest":
            out.append(DigestChallenge.from_header(header))
        else:
            out.append(header)
    return out


def parse_credentials(value: str) -> DigestCredentials:
    """Digest credentials from an ``Authorization`` / ``Proxy-Authorization`` value."""
    return DigestCredentials.from_header(parse_auth_header(value))
