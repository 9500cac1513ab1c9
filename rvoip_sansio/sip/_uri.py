"""SIP, SIPS, tel and other absolute URIs (RFC 3261 §19.1, RFC 3966, RFC 3986).

URIs are frozen: build a changed copy with ``attrs.evolve``. A parsed URI remembers its
original text, so ``str(uri)`` of an unmodified parse is exactly what was on the wire.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TypeAlias
from urllib.parse import quote, unquote

import attrs

from rvoip_sansio._core import ParseError

__all__ = ["SipUri", "TelUri", "AbsoluteUri", "Uri", "parse_uri", "format_host"]

# RFC 3261 §25.1 character classes, as regex fragments.
_ESC = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_USER_RE = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESC})+")
_PASSWORD_RE = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESC})*")
_PARAMCHAR_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESC})+")
_HNAME_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})+")
_HVALUE_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})*")
# hostname = *( domainlabel "." ) toplabel [ "." ]; we accept digits-only toplabels too, which
# also covers IPv4address.
_HOSTNAME_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# RFC 3966: global-number-digits / local-number-digits (visual separators allowed).
_TEL_GLOBAL_RE = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*")
_TEL_LOCAL_RE = re.compile(r"[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*")
_TEL_VISUAL = str.maketrans("", "", "-.()")

# Parameters that never match when present in only one URI (RFC 3261 §19.1.4).
# (transport too: the section's own examples call sip:bob@biloxi.com and
# sip:bob@biloxi.com;transport=udp different.)
_MUST_MATCH_PARAMS = ("user", "ttl", "method", "maddr", "transport")

# Characters left unescaped when we serialize a component we built ourselves.
_USER_SAFE = "-_.!~*'()&=+$,;?/"
_PASSWORD_SAFE = "-_.!~*'()&=+$,"
_PARAM_SAFE = "-_.!~*'()[]/:&+$"
_HEADER_SAFE = "-_.!~*'()[]/?:+$"


def _unescape(text: str) -> str:
    if "%" not in text:
        return text
    return unquote(text, errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    return quote(text, safe=safe, errors="surrogateescape")


def _parse_host(text: str, offset: int) -> str:
    """Validate a host (name, IPv4 or bracketed IPv6 reference) and return it as written."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise ParseError("unterminated IPv6 reference", offset)
        if _ipv6(text[1:-1]) is None:
            raise ParseError(f"invalid IPv6 reference {text!r}", offset)
        return text
    if not _HOSTNAME_RE.fullmatch(text):
        raise ParseError(f"invalid host {text!r}", offset)
    return text


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    """An IPv6 address, tolerating RFC 3261's ABNF bug (``2001:db8:::192.0.2.1``): RFC 5118
    §4.10 says an implementation must accept both that and the correct ``::`` form."""
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        pass
    if ":::" in text and text.count(":::") == 1 and "." in text.rpartition(":::")[2]:
        try:
            return ipaddress.IPv6Address(text.replace(":::", "::"))
        except ValueError:
            return None
    return None


def format_host(host: str) -> str:
    """A host as it goes into a URI or Via: IPv6 literals get their brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def _host_key(host: str) -> str:
    """Comparison form of a host: case-folded, IPv6 references normalised (RFC 5118 §4.2)."""
    if host.startswith("["):
        address = _ipv6(host[1:-1])
        return host.lower() if address is None else f"[{address.compressed}]"
    return host.lower()


def _parse_params(text: str, offset: int) -> dict[str, str | None]:
    """``;name[=value]`` URI parameters (text without the leading ``;``), unescaped."""
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not _PARAMCHAR_RE.fullmatch(name):
            raise ParseError(f"invalid URI parameter {item!r}", offset)
        if eq and not _PARAMCHAR_RE.fullmatch(value):
            raise ParseError(f"invalid URI parameter value {item!r}", offset)
        params[_unescape(name).lower()] = _unescape(value) if eq else None
    return params


@attrs.frozen(eq=False, repr=False)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1).

    ``user``, ``password``, parameter and header values are unescaped; ``host`` is as written
    (an IPv6 reference keeps its brackets); parameter names are lower-case.
    """

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)
    scheme: str = "sip"
    _text: str | None = attrs.field(default=None, init=False)

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    @property
    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(_escape(self.user, _USER_SAFE))
            if self.password is not None:
                out += [":", _escape(self.password, _PASSWORD_SAFE)]
            out.append("@")
        out.append(format_host(self.host))
        if self.port is not None:
            out.append(f":{self.port}")
        for name, value in self.params.items():
            out += [";", _escape(name, _PARAM_SAFE)]
            if value is not None:
                out += ["=", _escape(value, _PARAM_SAFE)]
        if self.headers:
            out.append("?")
            out.append("&".join(f"{_escape(k, _HEADER_SAFE)}={_escape(v, _HEADER_SAFE)}"
                                for k, v in self.headers.items()))
        text = "".join(out)
        object.__setattr__(self, "_text", text)
        return text

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4 URI comparison."""
        if not isinstance(other, SipUri):
            return NotImplemented
        if (self.scheme != other.scheme or self.user != other.user
                or self.password != other.password or self.port != other.port
                or _host_key(self.host) != _host_key(other.host)):
            return False
        a, b = self.params, other.params
        for name in a.keys() | b.keys():
            if name not in a or name not in b:
                if name in _MUST_MATCH_PARAMS:
                    return False
                continue  # other parameters present in only one URI are ignored
            va, vb = a[name], b[name]
            if (va or "").lower() != (vb or "").lower() or (va is None) != (vb is None):
                return False
        ha = {k.lower(): v for k, v in self.headers.items()}
        hb = {k.lower(): v for k, v in other.headers.items()}
        return ha == hb

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.port, _host_key(self.host)))


@attrs.frozen(eq=False, repr=False)
class TelUri:
    """A ``tel:`` URI (RFC 3966): ``number`` as written, parameters lower-cased by name."""

    number: str
    params: dict[str, str | None] = attrs.field(factory=dict)
    _text: str | None = attrs.field(default=None, init=False)

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators, hex digits upper-cased (RFC 3966 §4)."""
        return self.number.translate(_TEL_VISUAL).upper()

    @property
    def phone_context(self) -> str | None:
        return self.params.get("phone-context")

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        text = "tel:" + self.number + "".join(
            f";{k}" if v is None else f";{k}={_escape(v, _PARAM_SAFE)}"
            for k, v in self.params.items())
        object.__setattr__(self, "_text", text)
        return text

    def __repr__(self) -> str:
        return f"TelUri({str(self)!r})"

    def _key(self) -> tuple[str, frozenset[tuple[str, str | None]]]:
        # RFC 3966 §4: separators ignored, parameters compared regardless of order,
        # case-insensitively.
        return self.digits, frozenset(
            (k, None if v is None else
             v.translate(_TEL_VISUAL).lower() if k == "phone-context" and v[:1] == "+"
             else v.lower())
            for k, v in self.params.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TelUri):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@attrs.frozen(repr=False)
class AbsoluteUri:
    """Any other absolute URI (RFC 3986 ``scheme:rest``), kept as text."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    def __repr__(self) -> str:
        return f"AbsoluteUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and self.rest == other.rest

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), self.rest))


Uri: TypeAlias = SipUri | TelUri | AbsoluteUri


def _parse_sip(text: str, scheme: str, offset: int) -> SipUri:
    rest = text[len(scheme) + 1:]
    base = offset + len(scheme) + 1
    user = password = None
    # RFC 3261 §25.1: '@' may not appear raw in host, parameters or headers, so the first one
    # ends the userinfo (which may itself hold ';' and '?', RFC 4475 §3.1.1.2 and §3.1.1.9).
    at = rest.find("@")
    if at >= 0:
        userinfo = rest[:at]
        u, colon, p = userinfo.partition(":")
        if not _USER_RE.fullmatch(u):
            raise ParseError(f"invalid user part in {text!r}", base)
        if colon:
            if not _PASSWORD_RE.fullmatch(p):
                raise ParseError(f"invalid password in {text!r}", base)
            password = _unescape(p)
        user = _unescape(u)
        rest = rest[at + 1:]
        base += at + 1
    headers: dict[str, str] = {}
    qmark = rest.find("?")
    if qmark >= 0:
        for item in rest[qmark + 1:].split("&"):
            name, eq, value = item.partition("=")
            if not eq or not _HNAME_RE.fullmatch(name) or not _HVALUE_RE.fullmatch(value):
                raise ParseError(f"invalid URI header {item!r}", base + qmark)
            headers[_unescape(name)] = _unescape(value)
        rest = rest[:qmark]
    params: dict[str, str | None] = {}
    semi = rest.find(";")
    if semi >= 0:
        params = _parse_params(rest[semi + 1:], base + semi)
        rest = rest[:semi]
    port: int | None = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ParseError("unterminated IPv6 reference", base)
        host, tail = rest[:end + 1], rest[end + 1:]
    else:
        host, colon, tail = rest.partition(":")
        tail = colon + tail
    if tail:
        if not tail.startswith(":") or not _PORT_RE.fullmatch(tail[1:]):
            raise ParseError(f"invalid port in {text!r}", base)
        port = int(tail[1:])
        if port > 65535:
            raise ParseError(f"port out of range in {text!r}", base)
    uri = SipUri(host=_parse_host(host, base), user=user, password=password, port=port,
                 params=params, headers=headers, scheme=scheme)
    object.__setattr__(uri, "_text", text)
    return uri


def _parse_tel(text: str, offset: int) -> TelUri:
    rest = text[4:]
    number, semi, ptext = rest.partition(";")
    params = _parse_params(ptext, offset + 4) if semi else {}
    if _TEL_GLOBAL_RE.fullmatch(number):
        pass
    elif _TEL_LOCAL_RE.fullmatch(number):
        # RFC 3966 §5.1.5: a local number needs a phone-context.
        if "phone-context" not in params:
            raise ParseError(f"local tel number without phone-context in {text!r}", offset)
    else:
        raise ParseError(f"invalid tel number in {text!r}", offset + 4)
    uri = TelUri(number=number, params=params)
    object.__setattr__(uri, "_text", text)
    return uri


def parse_uri(text: str, offset: int = 0) -> Uri:
    """Parse a URI. ``offset`` is where ``text`` sits in a larger message, for error offsets."""
    colon = text.find(":")
    if colon <= 0 or not _SCHEME_RE.fullmatch(text[:colon]):
        raise ParseError(f"not an absolute URI: {text[:80]!r}", offset)
    if any(c in text for c in " \t\r\n<>\""):
        raise ParseError(f"invalid character in URI {text[:80]!r}", offset)
    scheme = text[:colon].lower()
    if scheme in ("sip", "sips"):
        return _parse_sip(text, scheme, offset)
    if scheme == "tel":
        return _parse_tel(text, offset)
    return AbsoluteUri(scheme=text[:colon], rest=text[colon + 1:])
