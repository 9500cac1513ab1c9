"""Header names, value splitting and the typed header values (RFC 3261 §7.3, §20, §25.1).

Parsers here take one header *value* (already unfolded) and return a typed, frozen object or
raise :class:`ParseError`. They are called lazily by the message accessors.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs

from rvoip_sansio._core import ParseError, slot_setters

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
# An unterminated quote or bracket runs to the end of the value, which keeps this linear.
_LIST_PIECE_RE = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|<[^>]*(?:>|$)|[^",<]+|,', re.S)


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
_QUOTED = r'"(?:[^"\\]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"'
# One generic-param: name [ = (token / host / quoted-string) ], surrounded by optional LWS.
# (the last alternative: a bare IPv6 address, RFC 3261 via-received, RFC 5118 §4.5)
_GEN_VALUE = (_TOKEN + r"|" + _QUOTED + r"|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")
_PARAM_RE = re.compile(r"\s*;\s*(" + _TOKEN + r")(?:\s*=\s*(" + _GEN_VALUE + r"))?\s*")
#: ``*( SEMI generic-param )``, validated in one match (RFC 3261 §25.1).
_PARAMS = r"(?:\s*;\s*" + _TOKEN + r"(?:\s*=\s*(?:" + _GEN_VALUE + r"))?)*"
_PARAMS_RE = re.compile(_PARAMS + r"\s*")


_LOWER_TOKEN = r"[a-z0-9\-.!%*_+`'~]+"
# The usual shape of parameters, ``;name=value;flag`` without LWS or quotes: one findall.
_FAST_PARAMS = r"(?:;" + _LOWER_TOKEN + r"(?:=" + _TOKEN + r")?)*"
_FAST_PARAMS_RE = re.compile(_FAST_PARAMS)


def _split_fast(text: str) -> dict[str, str | None]:
    """Split parameters already matched by ``_FAST_PARAMS`` (no LWS, no quotes)."""
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        params[name] = value if eq else None
    return params


# ---- Fast grammars -------------------------------------------------------------------------
# Strict subsets of the grammars below, written with possessive quantifiers and bitmap
# character classes so that one regex call validates a whole value and captures what the hot
# accessors read (Via branch, From/To tag). A value they do not match goes through the general
# parser, which has the last word; so they must never accept anything the general parser
# rejects, nor give a different value. Each captured parameter is the last occurrence, as the
# params dict keeps the last one too.
_T = r"[A-Za-z0-9\-.!%*_+`'~]"          # token character (RFC 3261 §25.1)
_LN = r"[a-z0-9\-.!%*_+`'~]"            # lower-case token character (fast parameter names)
# hostname (IPv4 included) whose labels have no "--": runs of letters and digits joined by
# single dots or hyphens, optionally a final dot.
_FAST_HOST = r"[A-Za-z0-9]++(?:[.\-][A-Za-z0-9]++)*+\.?"
_IPV4 = r"[0-9]{1,3}+(?:\.[0-9]{1,3}+){3}"


def _fast_params(captured: dict[str, str]) -> str:
    """``*( ";" lower-token [ "=" token ] )`` with named parameters given their own value
    pattern (one group each); those names are excluded from the generic alternative."""
    alternatives = [f";{name}{pattern}" for name, pattern in captured.items()]
    names = "|".join(captured)
    alternatives.append(f";(?!(?:{names})(?!{_LN})){_LN}++(?:={_T}++)?")
    return "((?:" + "|".join(alternatives) + ")*+)"


# via-parm, RFC 3261 §20.42: groups transport, host, port, params, branch, rport, ttl.
VIA_BODY = (r"SIP/2\.0/([A-Za-z]++) (" + _FAST_HOST + r")(?::([0-9]{1,5}+))?"
            + _fast_params({"branch": f"=({_T}++)", "received": f"={_IPV4}",
                            "rport": r"(?:=([0-9]{1,5}+))?", "ttl": r"=([0-9]{1,3}+)"}))
# name-addr / addr-spec and header params, RFC 3261 §20.10: groups (1) text before '<',
# (2) quoted display name, (3) token display name, (4) URI inside <>, (5) addr-spec URI,
# (6) params, (7) tag. URIs are printable ASCII without SP, '"', '<', '>' (addr-spec also
# without ',', ';', '?'); anything else takes the general path.
NAME_ADDR_BODY = (
    r'(?:((?:"([^"\\\r\n]*+)" ?|(' + _T + r"++(?: " + _T + r"++)*+) ?)?)<([!#-;=?-~]++)>"
    r"|([A-Za-z][A-Za-z0-9+\-.]*+:[!#-+\--:=@-~]++))"
    + _fast_params({"tag": f"=({_T}++)"}))
_FAST_VIA_BODY_RE = re.compile(VIA_BODY)
_FAST_NAME_ADDR_BODY_RE = re.compile(NAME_ADDR_BODY)


def _split_params(text: str) -> dict[str, str | None]:
    """Split an already validated parameter string into {lower-case name: value}."""
    if _FAST_PARAMS_RE.fullmatch(text) is not None:
        return _split_fast(text)
    if '"' in text:
        # Quoted values may hold ';' or '=': walk the parameters with the full regex.
        params: dict[str, str | None] = {}
        pos, end = 0, len(text)
        while pos < end:
            m = _PARAM_RE.match(text, pos)
            if m is None:
                break
            params[m.group(1).lower()] = m.group(2)
            pos = m.end()
        return params
    params = {}
    for item in text.split(";")[1:]:
        name, eq, value = item.partition("=")
        params[name.strip().lower()] = value.strip() if eq else None
    return params


def parse_params(text: str, offset: int = 0) -> dict[str, str | None]:
    """``*( SEMI generic-param )`` -> {lower-case name: value or None}; quotes kept on values."""
    if _PARAMS_RE.fullmatch(text) is None:
        raise ParseError(f"invalid header parameters {text[:60]!r}", offset)
    return _split_params(text)


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


_new = object.__new__
_set = object.__setattr__

#: Via fields a parsed Via fills on first read; (the fast parse keeps only the groups).
_VIA_LAZY = frozenset(("transport", "host", "port", "params", "protocol"))


@attrs.frozen(init=False)
class Via:
    """One Via value (RFC 3261 §20.42): ``SIP/2.0/UDP host:port;branch=...``.

    A Via from the parser keeps the regex groups of its value and fills its fields when one
    is first read; ``branch`` is answered from the groups without filling anything.
    """

    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]
    protocol: str
    _lazy: tuple[str | None, ...] | None = attrs.field(init=False, eq=False, repr=False)

    def __init__(self, transport: str, host: str, port: int | None = None,
                 params: dict[str, str | None] | None = None,
                 protocol: str = "SIP/2.0") -> None:
        _set(self, "transport", transport)
        _set(self, "host", host)
        _set(self, "port", port)
        _set(self, "params", {} if params is None else params)
        _set(self, "protocol", protocol)
        _set(self, "_lazy", None)

    if not TYPE_CHECKING:  # mypy must not think every attribute exists
        def __getattr__(self, name: str) -> Any:
            # Only reached for an unset slot: a field of a parsed Via not filled yet.
            if name in _VIA_LAZY and self._lazy is not None:
                transport, host, port, rest = self._lazy[:4]
                assert transport is not None and host is not None
                _set(self, "transport", transport if transport.isupper() else transport.upper())
                _set(self, "host", host)
                _set(self, "port", None if port is None else int(port))
                _set(self, "params", _split_fast(rest) if rest else {})
                _set(self, "protocol", "SIP/2.0")
                _set(self, "_lazy", None)
                return getattr(self, name)
            raise AttributeError(name)

    @property
    def branch(self) -> str | None:
        lazy = self._lazy
        if lazy is not None:
            return lazy[4]
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


#: The slot's own setter: cheaper than ``object.__setattr__`` by name on the hot paths.
(set_via_lazy,) = slot_setters(Via, "_lazy")


def via_from_groups(groups: tuple[str | None, ...]) -> Via | None:
    """A lazily filled Via from the groups of :data:`VIA_BODY`, or None when a number is out
    of range (the general parser then reports it)."""
    port, rport, ttl = groups[2], groups[5], groups[6]
    # (digit strings of the longest allowed length compare like their numbers)
    if (port is not None and len(port) == 5 and port > "65535") \
            or (rport is not None and len(rport) == 5 and rport > "65535") \
            or (ttl is not None and len(ttl) == 3 and ttl > "255"):
        return None
    via: Via = _new(Via)
    set_via_lazy(via, groups)
    return via


_VIA_RE = re.compile(
    r"\s*(" + _TOKEN + r")\s*/\s*(" + _TOKEN + r")\s*/\s*(" + _TOKEN + r")\s+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:\s*:\s*([0-9]{1,5}))?(" + _PARAMS + r")\s*")
_HOSTNAME_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?")
_IPV4_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


# The usual shape: ``SIP/2.0/UDP host:port;params`` with no optional LWS.
_FAST_VIA_RE = re.compile(r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9.]+)(?::([0-9]{1,5}))?("
                          + _FAST_PARAMS + r")")


def parse_via(value: str, offset: int = 0) -> Via:
    """Parse one via-parm (the value must already be split at commas)."""
    m = _FAST_VIA_BODY_RE.fullmatch(value)
    if m is not None:
        via = via_from_groups(m.groups())
        if via is not None:
            return via
    m = _FAST_VIA_RE.fullmatch(value)
    if m is not None:
        transport, host, port_text, rest = m.groups()
        if host[0] == "." or ".." in host:
            raise ParseError(f"invalid Via host {host!r}", offset)
        port = None if port_text is None else int(port_text)
        params = _split_fast(rest) if rest else {}
        if port is not None and port > 65535:
            raise ParseError(f"Via port out of range: {port}", offset)
        if "received" in params or params.get("rport") or "ttl" in params:
            _check_via_params(params, offset)
        return Via(transport if transport.isupper() else transport.upper(), host, port, params,
                   "SIP/2.0")
    m = _VIA_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid Via value {value[:80]!r}", offset)
    name, version, transport, host, port_text, rest = m.groups()
    if host[0] != "[" and not _HOSTNAME_RE.fullmatch(host):
        raise ParseError(f"invalid Via host {host!r}", offset)
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise ParseError(f"Via port out of range: {port}", offset)
    params = _split_params(rest) if rest else {}
    if "received" in params or "rport" in params or "ttl" in params:
        _check_via_params(params, offset)
    return Via(transport.upper(), host, port, params,
               "SIP/2.0" if name == "SIP" and version == "2.0" else f"{name}/{version}")


def _check_via_params(params: dict[str, str | None], offset: int) -> None:
    # RFC 3261 §20.42 / RFC 3581: received is an IP address, rport a port (or empty).
    received = params.get("received")
    if received is not None and not (_IPV4_RE.fullmatch(received) or ":" in received):
        raise ParseError(f"invalid Via received parameter {received!r}", offset)
    rport = params.get("rport")
    if rport is not None and not (rport.isascii() and rport.isdigit() and len(rport) <= 5
                                  and int(rport) <= 65535):
        raise ParseError(f"invalid Via rport parameter {rport!r}", offset)
    ttl = params.get("ttl")
    if ttl is not None and not (ttl.isascii() and ttl.isdigit() and len(ttl) <= 3
                                and int(ttl) <= 255):
        raise ParseError(f"invalid Via ttl parameter {ttl!r}", offset)


@attrs.frozen
class CSeq:
    """CSeq (RFC 3261 §20.16): a 32-bit sequence number and the method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


set_cseq_number, set_cseq_method = slot_setters(CSeq, "number", "method")


def cseq_of(number: int, method: str) -> CSeq:
    """A CSeq from already validated parts, without the generated __init__ (hot path)."""
    cseq: CSeq = _new(CSeq)
    set_cseq_number(cseq, number)
    set_cseq_method(cseq, method)
    return cseq


#: Methods seen every day; anything else is checked against the token grammar.
KNOWN_METHODS = frozenset(("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
                           "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE",
                           "UPDATE"))


def parse_cseq(value: str, offset: int = 0) -> CSeq:
    parts = value.split()
    if len(parts) != 2:
        raise ParseError(f"invalid CSeq {value[:80]!r}", offset)
    number, method = parts
    if not (number.isascii() and number.isdigit() and len(number) <= 10) \
            or (method not in KNOWN_METHODS and _TOKEN_RE.fullmatch(method) is None):
        raise ParseError(f"invalid CSeq {value[:80]!r}", offset)
    n = int(number)
    if n >= 2**31:
        # RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
        raise ParseError(f"CSeq number out of range: {number}", offset)
    return cseq_of(n, method)


#: NameAddr fields a parsed NameAddr fills on first read.
_NAME_ADDR_LAZY = frozenset(("display_name", "params", "_uri_text", "_uri", "_offset"))


@attrs.frozen(init=False, eq=False)
class NameAddr:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route...).

    ``uri`` is parsed on first access (reading only ``tag`` never parses the URI).
    ``display_name`` is unquoted (backslash escapes resolved), or None. A NameAddr from the
    parser keeps the regex groups of its value and fills its fields on first read; ``tag`` is
    answered from the groups.
    """

    display_name: str | None
    params: dict[str, str | None]
    _uri_text: str
    _uri: Uri | None
    _offset: int
    _lazy: tuple[str | None, ...] | None = attrs.field(init=False, eq=False, repr=False)

    def __init__(self, uri: Uri | str, display_name: str | None = None,
                 params: dict[str, str | None] | None = None, *, _offset: int = 0) -> None:
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "params", {} if params is None else params)
        object.__setattr__(self, "_lazy", None)
        if isinstance(uri, str):
            object.__setattr__(self, "_uri_text", uri)
            object.__setattr__(self, "_uri", None)
        else:
            object.__setattr__(self, "_uri_text", str(uri))
            object.__setattr__(self, "_uri", uri)
        object.__setattr__(self, "_offset", _offset)

    if not TYPE_CHECKING:  # mypy must not think every attribute exists
        def __getattr__(self, name: str) -> Any:
            # Only reached for an unset slot: a field of a parsed NameAddr not filled yet.
            if name in _NAME_ADDR_LAZY and self._lazy is not None:
                before, quoted, tokens, uri, spec, rest = self._lazy[:6]
                _set(self, "params", _split_fast(rest) if rest else {})
                if uri is None:  # addr-spec (groups 1-3 may hold leftovers, see _scan)
                    _set(self, "display_name", None)
                    _set(self, "_uri_text", spec)
                    _set(self, "_offset", 0)
                else:
                    _set(self, "display_name", tokens if quoted is None else quoted)
                    _set(self, "_uri_text", uri)
                    _set(self, "_offset", len(before or "") + 1)
                _set(self, "_uri", None)
                _set(self, "_lazy", None)
                return getattr(self, name)
            raise AttributeError(name)

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
        lazy = self._lazy
        if lazy is not None:
            return lazy[6]
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


_UNQUOTE_RE = re.compile(r"\\(.)", re.S)
# name-addr: [ display-name ] LAQUOT addr-spec RAQUOT, then header parameters (RFC 3261 §25.1).
# No LWS is allowed inside the angle brackets (RFC 4475 §3.1.2.14).
_NAME_ADDR_RE = re.compile(
    r"\s*(?:\"((?:[^\"\\]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*)\"\s*"
    r"|(" + _TOKEN + r"(?:\s+" + _TOKEN + r")*)\s*)?"
    r"<([^<>\s\"]+)>(" + _PARAMS + r")\s*")
# addr-spec without brackets: the URI cannot hold ',', ';', '?' (RFC 3261 §20.10).
_ADDR_SPEC_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\";,?]+)(" + _PARAMS + r")\s*")


def _name_addr(uri_text: str, display: str | None, params: dict[str, str | None],
               offset: int) -> NameAddr:
    """NameAddr from parsed parts, without __init__'s type dispatch (the parser's hot path)."""
    obj: NameAddr = _new(NameAddr)
    _set(obj, "display_name", display)
    _set(obj, "params", params)
    _set(obj, "_uri_text", uri_text)
    _set(obj, "_uri", None)
    _set(obj, "_offset", offset)
    _set(obj, "_lazy", None)
    return obj



# The usual shapes, without optional LWS or escapes: tried first.
_FAST_NAME_ADDR_RE = re.compile(
    r'(?:"([^"\\\r\n]*)" ?|(' + _TOKEN + r'(?: ' + _TOKEN + r')*) ?)?<([^<>\s"]+)>('
    + _FAST_PARAMS + r")")
_FAST_ADDR_SPEC_RE = re.compile(r'([A-Za-z][A-Za-z0-9+\-.]*:[^\s<>";,?]+)(' + _FAST_PARAMS + r")")


(set_name_addr_lazy,) = slot_setters(NameAddr, "_lazy")


def name_addr_from_groups(groups: tuple[str | None, ...]) -> NameAddr:
    """A lazily filled NameAddr from the groups of :data:`NAME_ADDR_BODY`."""
    addr: NameAddr = _new(NameAddr)
    set_name_addr_lazy(addr, groups)
    return addr


def parse_name_addr(value: str, offset: int = 0) -> NameAddr:
    """``name-addr / addr-spec`` followed by ``*( SEMI generic-param )`` (RFC 3261 §20.10)."""
    if not offset:  # (a lazy NameAddr knows its URI's offset relative to the value only)
        m = _FAST_NAME_ADDR_BODY_RE.fullmatch(value)
        if m is not None:
            return name_addr_from_groups(m.groups())
    m = _FAST_NAME_ADDR_RE.fullmatch(value)
    if m is not None:
        quoted, tokens, uri_text, rest = m.groups()
        return _name_addr(uri_text, tokens if quoted is None else quoted,
                          _split_fast(rest) if rest else {}, offset + m.start(3))
    m = _FAST_ADDR_SPEC_RE.fullmatch(value)
    if m is not None:
        uri_text, rest = m.groups()
        return _name_addr(uri_text, None, _split_fast(rest) if rest else {}, offset)
    m = _NAME_ADDR_RE.fullmatch(value)
    if m is not None:
        quoted, tokens, uri_text, rest = m.groups()
        display = tokens
        if quoted is not None:
            display = _UNQUOTE_RE.sub(r"\1", quoted) if "\\" in quoted else quoted
        return NameAddr(uri_text, display, _split_params(rest) if rest else {},
                        _offset=offset + m.start(3))
    m = _ADDR_SPEC_RE.fullmatch(value)
    if m is not None:
        uri_text, rest = m.groups()
        return NameAddr(uri_text, None, _split_params(rest) if rest else {},
                        _offset=offset + m.start(1))
    raise ParseError(_name_addr_problem(value), offset)


def _name_addr_problem(value: str) -> str:
    """Say what is wrong with a value that is neither name-addr nor addr-spec."""
    stripped = value.lstrip()
    if stripped.startswith('"') and _QUOTED_RE.match(stripped) is None:
        return "unterminated quoted display name"
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            return "missing '>' in name-addr"
        inner = value[lt + 1:gt]
        if inner != inner.strip() or not inner:
            return f"whitespace or nothing inside <> in {value[:80]!r}"
        head = value[:lt].strip()
        if head and not (head.startswith('"') or _TOKEN_RE.fullmatch(head.replace(" ", ""))):
            return f"invalid display name {head[:80]!r}"
        return f"invalid name-addr parameters in {value[:80]!r}"
    return f"invalid addr-spec {value[:80]!r}"
