"""Parsing and formatting of authentication header values (RFC 7235 §2.1, RFC 3261 §25.1).

``WWW-Authenticate`` / ``Proxy-Authenticate`` carry challenges and ``Authorization`` /
``Proxy-Authorization`` carry credentials. Both have the shape::

    auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param = token BWS "=" BWS ( token / quoted-string )

HTTP allows several challenges in one header value (RFC 7235 §4.1); SIP puts one in each
header field, but a value holding several is accepted here too. Offsets in :class:`ParseError`
count characters from the start of the header value.
"""

from __future__ import annotations

import re

import attrs

from rvoip_sansio._core import ParseError

__all__ = ["AuthHeader", "parse_auth_headers", "parse_auth_header", "quote", "MAX_HEADER_LENGTH"]

#: Longest header value accepted; anything longer is hostile (RFC 3261 sets no limit).
MAX_HEADER_LENGTH = 8192
#: Most auth-params accepted in one challenge or credentials.
MAX_PARAMS = 64

# RFC 7230 §3.2.6 tchar; SIP's token (RFC 3261 §25.1) is the same set.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7235 §2.1 token68, only when followed by optional whitespace then "," or the end.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=[ \t\r\n]*(?:,|$))")
# Linear whitespace, including SIP's folded lines (RFC 3261 §7.3.1).
_WS = re.compile(r"[ \t]*(?:\r?\n[ \t]+)*[ \t]*")
# RFC 3261 §25.1 quoted-string body: qdtext (no '"' or '\') or quoted-pair (no CR/LF).
_QUOTED = re.compile(r'"((?:[^"\\\r\n]|\\[^\r\n])*)"')
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_ESCAPE = re.compile(r'(["\\])')


@attrs.frozen(kw_only=True)
class AuthHeader:
    """One challenge or one set of credentials: a scheme and its ordered parameters.

    ``params`` keeps the names as written (lookups ignore case) and the values unquoted;
    ``quoted`` holds the lowercase names whose value was a quoted-string on the wire.
    """

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    token68: str | None = None
    quoted: frozenset[str] = frozenset()

    def get(self, name: str) -> str | None:
        """Value of parameter ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.params:
            if key.lower() == lname:
                return value
        return None

    def __str__(self) -> str:
        """Canonical form: values quoted when they were quoted or need quoting."""
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        parts = []
        for key, value in self.params:
            if key.lower() in self.quoted or not _TOKEN.fullmatch(value):
                parts.append(f"{key}={quote(value)}")
            else:
                parts.append(f"{key}={value}")
        return f"{self.scheme} {', '.join(parts)}" if parts else self.scheme


def quote(value: str) -> str:
    """A quoted-string holding ``value`` (RFC 3261 §25.1 quoted-pair for '"' and '\\')."""
    if "\r" in value or "\n" in value:
        raise ValueError("CR and LF cannot appear in a quoted-string")
    return '"' + _NEEDS_ESCAPE.sub(r"\\\1", value) + '"'


def parse_auth_header(value: str) -> AuthHeader:
    """Parse a value holding exactly one challenge or one set of credentials."""
    headers = parse_auth_headers(value)
    if len(headers) != 1:
        raise ParseError(f"expected one auth scheme, found {len(headers)}", 0)
    return headers[0]


def parse_auth_headers(value: str) -> list[AuthHeader]:
    """Parse every challenge (or credentials) in one header value, in order.

    Raises :class:`ParseError` on malformed input, duplicate parameter names (RFC 7235 §2.1:
    "each parameter name MUST only occur once per challenge") or a value past the limits.
    """
    if not isinstance(value, str):
        raise ParseError("auth header value must be str", 0)
    if len(value) > MAX_HEADER_LENGTH:
        raise ParseError(f"auth header value longer than {MAX_HEADER_LENGTH}", MAX_HEADER_LENGTH)
    result: list[AuthHeader] = []
    pos = _skip_list_separators(value, 0)
    end = len(value)
    while pos < end:
        header, pos = _parse_one(value, pos)
        result.append(header)
        pos = _skip_list_separators(value, pos)
    if not result:
        raise ParseError("empty auth header value", 0)
    return result


def _skip_ws(value: str, pos: int) -> int:
    m = _WS.match(value, pos)
    return m.end() if m else pos


def _skip_list_separators(value: str, pos: int) -> int:
    # RFC 7230 §7: empty list elements are allowed and ignored.
    while True:
        pos = _skip_ws(value, pos)
        if pos < len(value) and value[pos] == ",":
            pos += 1
            continue
        return pos


def _starts_param(value: str, pos: int) -> bool:
    """True when a ``token BWS "="`` starts at ``pos`` (an auth-param, not a new scheme)."""
    m = _TOKEN.match(value, pos)
    if m is None:
        return False
    after = _skip_ws(value, m.end())
    return after < len(value) and value[after] == "="


def _parse_one(value: str, pos: int) -> tuple[AuthHeader, int]:
    m = _TOKEN.match(value, pos)
    if m is None:
        raise ParseError("expected an auth scheme token", pos)
    scheme = m.group()
    pos = m.end()
    end = len(value)
    if pos < end and value[pos] not in " \t\r\n,":
        raise ParseError("auth scheme must be followed by whitespace", pos)
    pos = _skip_ws(value, pos)
    t68 = _TOKEN68.match(value, pos)
    if t68 is not None:  # lookahead: it ends the element, so it cannot be "name=value"
        return AuthHeader(scheme=scheme, token68=t68.group()), t68.end()
    params: list[tuple[str, str]] = []
    seen: set[str] = set()
    quoted: set[str] = set()
    while pos < end and value[pos] != ",":
        name_m = _TOKEN.match(value, pos)
        if name_m is None:
            raise ParseError("expected an auth-param name", pos)
        name = name_m.group()
        lname = name.lower()
        pos = _skip_ws(value, name_m.end())
        if pos >= end or value[pos] != "=":
            raise ParseError(f"expected '=' after auth-param {name!r}", pos)
        pos = _skip_ws(value, pos + 1)
        if pos < end and value[pos] == '"':
            q = _QUOTED.match(value, pos)
            if q is None:
                raise ParseError("unterminated or invalid quoted-string", pos)
            param_value = _UNESCAPE.sub(r"\1", q.group(1))
            quoted.add(lname)
            pos = q.end()
        else:
            tok = _TOKEN.match(value, pos)
            if tok is None:
                raise ParseError(f"expected a token or quoted-string for {name!r}", pos)
            param_value = tok.group()
            pos = tok.end()
        if lname in seen:
            raise ParseError(f"duplicate auth-param {name!r}", name_m.start())
        seen.add(lname)
        params.append((name, param_value))
        if len(params) > MAX_PARAMS:
            raise ParseError(f"more than {MAX_PARAMS} auth-params", name_m.start())
        pos = _skip_ws(value, pos)
        if pos < end:
            if value[pos] != ",":
                raise ParseError("expected ',' between auth-params", pos)
            after = _skip_list_separators(value, pos)
            if after >= end or not _starts_param(value, after):
                # The end, or the next token is a new scheme: leave the comma to the caller.
                break
            pos = after
    return AuthHeader(scheme=scheme, params=tuple(params), quoted=frozenset(quoted)), pos
