"""Header names, value splitting and the typed header values (RFC 3261 §7.3, §20, §25.1).

Parsers here take one header *value* (already unfolded) and return a typed, frozen object or
raise :class:`ParseError`. They are called lazily by the message accessors.
"""

from __future__ import annotations

import re

import attrs

from rvoip_sansio._core import ParseError

from ._uri import Uri, format_host, parse_uri

__all__ = [
    "COMPACT_FORMS",
    "canonical_name",
    "split_list",
    "Via",
    "CSeq",
    "NameAddr",
    "parse_via",
    "parse_cseq",
    "parse_name_addr",
    "parse_params",
    "MULTI_VALUE_HEADERS",
]

#: RFC 3261 §7.3.3 and later RFCs: compact form -> full (lower-case) name.
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
    "e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact",
    "k": "supported", "l": "content-length", "m": "contact", "n": "identity-info",
    "o": "event", "r": "refer-to", "s": "subject", "t": "to", "u": "allow-events",
    "v": "via", "x": "session-expires", "y": "identity",
}

_CANONICAL: dict[str, str] = {n.lower(): n for n in (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity",
    "Identity-Info", "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Security-Client",
    "Security-Server", "Security-Verify", "Server", "Service-Route", "Session-Expires",
    "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State", "Supported", "Timestamp",
    "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
)}

#: Headers whose value is a comma-separated list (RFC 3261 §7.3.1); only these are split.
MULTI_VALUE_HEADERS = frozenset((
    "accept", "accept-contact", "accept-encoding", "accept-language", "alert-info", "allow",
    "allow-events", "call-info", "contact", "content-encoding", "content-language",
    "error-info", "in-reply-to", "p-asserted-identity", "p-preferred-identity", "path",
    "privacy", "proxy-require", "reason", "record-route", "reject-contact", "request-disposition",
    "require", "route", "security-client", "security-server", "security-verify",
    "service-route", "supported", "unsupported", "via", "warning",
))


def canonical_name(name: str) -> str:
    """The conventional spelling of a header name (compact forms expanded)."""
    low = name.strip().lower()
    low = COMPACT_FORMS.get(low, low)
    return _CANONICAL.get(low) or name.strip()


# A quoted string, an <...> URI, or a run of other characters: the pieces of a list value.
_LIST_PIECE_RE = re.compile(r'"(?:[^"\\]|\\.)*"|<[^>]*>|[^",<]+|,|["<]', re.S)


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value; commas in quotes and ``<...>`` do not count."""
    if "," not in value:
        value = value.strip()
        return [value] if value else []
    out: list[str] = []
    current: list[str] = []
    for piece in _LIST_PIECE_RE.findall(value):
        if piece == ",":
            item = "".join(current).strip()
            if item:
                out.append(item)
            current = []
        else:
            current.append(piece)
    item = "".join(current).strip()
    if item:
        out.append(item)
    return out


_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_RE = re.compile(_TOKEN)
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*)"')
# One generic-param: name [ = (token / host / quoted-string) ], surrounded by optional LWS.
_PARAM_RE = re.compile(
    r'\s*;\s*(' + _TOKEN + r')(?:\s*=\s*("(?:[^"\\]|\\.)*"|\[[0-9A-Fa-f:.]+\]|' + _TOKEN + r'))?\s*',
    re.S)


def parse_params(text: str, offset: int) -> dict[str, str | None]:
    """``*( SEMI generic-param )`` -> {lower-case name: value or None}; quotes kept on values."""
    params: dict[str, str | None] = {}
    pos, end = 0, len(text)
    match = _PARAM_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise ParseError(f"invalid header parameter near {text[pos:pos + 40]!r}", offset + pos)
        params[m.group(1).lower()] = m.group(2)
        pos = m.end()
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@attrs.frozen(kw_only=True)
class Via:
    """One Via value (RFC 3261 §20.42): ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """RFC 3581 rport value; None when absent or present without a value (see has_rport)."""
        value = self.params.get("rport")
        return int(value) if value else None

    @property
    def has_rport(self) -> bool:
        return "rport" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return int(value) if value else None

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return (f"{self.protocol}/{self.transport} {format_host(self.host)}{port}"
                f"{_format_params(self.params)}")


_VIA_RE = re.compile(
    r"\s*(" + _TOKEN + r")\s*/\s*(" + _TOKEN + r")\s*/\s*(" + _TOKEN + r")\s+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:\s*:\s*([0-9]{1,5}))?(.*)", re.S)
_HOSTNAME_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?")
_IPV4_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def parse_via(value: str, offset: int = 0) -> Via:
    """Parse one via-parm (the value must already be split at commas)."""
    m = _VIA_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid Via value {value[:80]!r}", offset)
    name, version, transport, host, port_text, rest = m.groups()
    if not host.startswith("[") and not _HOSTNAME_RE.fullmatch(host):
        raise ParseError(f"invalid Via host {host!r}", offset)
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise ParseError(f"Via port out of range: {port}", offset)
    params = parse_params(rest, offset + m.start(6)) if rest else {}
    # RFC 3261 §20.42 / RFC 3581: received is an IP address, rport a port (or empty).
    received = params.get("received")
    if received is not None and not (_IPV4_RE.fullmatch(received) or ":" in received):
        raise ParseError(f"invalid Via received parameter {received!r}", offset)
    rport = params.get("rport")
    if rport is not None and not (rport.isdigit() and len(rport) <= 5 and int(rport) <= 65535):
        raise ParseError(f"invalid Via rport parameter {rport!r}", offset)
    ttl = params.get("ttl")
    if ttl is not None and not (ttl.isdigit() and len(ttl) <= 3 and int(ttl) <= 255):
        raise ParseError(f"invalid Via ttl parameter {ttl!r}", offset)
    return Via(protocol=f"{name}/{version}", transport=transport.upper(), host=host, port=port,
               params=params)


@attrs.frozen
class CSeq:
    """CSeq (RFC 3261 §20.16): a 32-bit sequence number and the method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


_CSEQ_RE = re.compile(r"\s*([0-9]{1,10})\s+(" + _TOKEN + r")\s*")


def parse_cseq(value: str, offset: int = 0) -> CSeq:
    m = _CSEQ_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid CSeq {value[:80]!r}", offset)
    number = int(m.group(1))
    if number >= 2**31:
        # RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
        raise ParseError(f"CSeq number out of range: {m.group(1)}", offset)
    return CSeq(number, m.group(2))


@attrs.frozen(init=False, eq=False)
class NameAddr:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route...).

    ``uri`` is parsed on first access (reading only ``tag`` never parses the URI).
    ``display_name`` is unquoted (backslash escapes resolved), or None.
    """

    display_name: str | None
    params: dict[str, str | None]
    _uri_text: str
    _uri: Uri | None
    _offset: int

    def __init__(self, uri: Uri | str, display_name: str | None = None,
                 params: dict[str, str | None] | None = None, *, _offset: int = 0) -> None:
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "params", {} if params is None else params)
        if isinstance(uri, str):
            object.__setattr__(self, "_uri_text", uri)
            object.__setattr__(self, "_uri", None)
        else:
            object.__setattr__(self, "_uri_text", str(uri))
            object.__setattr__(self, "_uri", uri)
        object.__setattr__(self, "_offset", _offset)

    @property
    def uri(self) -> Uri:
        uri = self._uri
        if uri is None:
            uri = parse_uri(self._uri_text, self._offset)
            object.__setattr__(self, "_uri", uri)
        return uri

    @property
    def uri_text(self) -> str:
        return self._uri_text

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_params(self, **params: str | None) -> NameAddr:
        """A copy with parameters added or replaced (e.g. ``with_params(tag="abc")``)."""
        merged = dict(self.params)
        merged.update(params)
        return NameAddr(self._uri if self._uri is not None else self._uri_text,
                        self.display_name, merged)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (self.uri == other.uri and self.params == other.params
                and self.display_name == other.display_name)

    def __hash__(self) -> int:
        return hash(self.uri)

    def __str__(self) -> str:
        name = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            name = f'"{escaped}" '
        return f"{name}<{self._uri_text}>{_format_params(self.params)}"


_DISPLAY_TOKENS_RE = re.compile(r"\s*((?:" + _TOKEN + r")(?:\s+" + _TOKEN + r")*)\s*")
_UNQUOTE_RE = re.compile(r"\\(.)", re.S)


def parse_name_addr(value: str, offset: int = 0) -> NameAddr:
    """``name-addr / addr-spec`` followed by ``*( SEMI generic-param )`` (RFC 3261 §20.10)."""
    quoted = None
    if value.lstrip().startswith('"'):
        quoted = _QUOTED_RE.match(value, value.find('"'))
        if quoted is None:
            raise ParseError("unterminated quoted display name", offset)
        lt = value.find("<", quoted.end())
        if lt < 0:
            raise ParseError("display name without <URI>", offset)
    else:
        lt = value.find("<")
    if lt < 0:
        # addr-spec form: the URI may not contain ',', ';' or '?' here (RFC 3261 §20.10);
        # everything after the first ';' is header parameters.
        stripped = value.strip()
        semi = stripped.find(";")
        uri_text = stripped if semi < 0 else stripped[:semi].rstrip()
        if not uri_text or any(c in uri_text for c in ' \t",'):
            raise ParseError(f"invalid addr-spec {value[:80]!r}", offset)
        params = parse_params(stripped[semi:], offset) if semi >= 0 else {}
        return NameAddr(uri_text, None, params, _offset=offset)
    display: str | None = None
    head = value[:lt]
    if head.strip():
        if quoted is not None:
            if value[quoted.end():lt].strip():
                raise ParseError(f"invalid display name {head[:80]!r}", offset)
            display = _UNQUOTE_RE.sub(r"\1", quoted.group(1))
        else:
            m2 = _DISPLAY_TOKENS_RE.fullmatch(head)
            if m2 is None:
                raise ParseError(f"invalid display name {head[:80]!r}", offset)
            display = m2.group(1)
    gt = value.find(">", lt)
    if gt < 0:
        raise ParseError("missing '>' in name-addr", offset + lt)
    uri_text = value[lt + 1:gt]
    if not uri_text or uri_text != uri_text.strip():
        # RFC 3261 §25.1: no LWS inside the angle brackets (RFC 4475 §3.1.2.14).
        raise ParseError(f"invalid URI in name-addr {uri_text[:80]!r}", offset + lt)
    rest = value[gt + 1:]
    params = parse_params(rest.rstrip(), offset + gt + 1) if rest.strip() else {}
    return NameAddr(uri_text, display, params, _offset=offset + lt + 1)
