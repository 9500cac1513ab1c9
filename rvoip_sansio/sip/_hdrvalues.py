"""Typed values of the other common SIP headers (RFC 3261 §20 and extensions).

Each ``parse_*`` function takes one unfolded header value and returns a frozen value or raises
:class:`ParseError` whose offset is relative to the start of that value. The message accessors
(``_accessors``) call them lazily and turn the offset into one in the message.

Grammar sources: RFC 3261 §25.1 (Expires, Min-Expires, Date, Require, Supported, Unsupported,
Proxy-Require, Allow, Accept, Content-Disposition, Content-Encoding, Retry-After, Timestamp,
User-Agent, Server), RFC 4028 §4 (Session-Expires, Min-SE), RFC 3262 §7 (RSeq, RAck). The
event, transfer, identity and Reason headers are in ``_hdrext``; the helpers here are shared.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from rvoip_sansio._core import ParseError

from ._headers import _format_params, parse_params

__all__ = [
    "MediaType", "ContentDisposition", "SipDate", "RetryAfter", "SessionExpires", "RAck",
    "Timestamp", "Product", "parse_delta", "parse_date", "parse_token_list", "parse_media_type",
    "parse_accept", "parse_content_disposition", "parse_retry_after", "parse_session_expires",
    "parse_min_se", "parse_rseq", "parse_rack", "parse_timestamp", "parse_products", "unquote",
]

_V = TypeVar("_V")
_T = r"[A-Za-z0-9\-.!%*_+`'~]"
_TOKEN_RE = re.compile(_T + "++")
# The start of a value: a head matched by a caller's pattern, then ``*( SEMI generic-param )``.
_QUOTED_RE = re.compile(r'"((?:[^"\\\r\n]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*+)"')
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_LIST_PIECE_RE = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|$)|<[^>]*+(?:>|$)|[^",<]++|,', re.S)


def unquote(value: str | None) -> str | None:
    """A parameter value without its quotes and backslash escapes (RFC 3261 §25.1
    quoted-string); a token is returned as it is."""
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    return _UNESCAPE_RE.sub(r"\1", inner) if "\\" in inner else inner


def _items(value: str) -> list[tuple[int, str]]:
    """Split a comma list (quotes and ``<>`` respected) into (offset, stripped item); empty
    items are kept so that the caller can reject them."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in _LIST_PIECE_RE.finditer(value):
        if m.group() == ",":
            out.append(_stripped(value, start, m.start()))
            start = m.end()
    out.append(_stripped(value, start, len(value)))
    return out


def _merged(params: dict[str, str | None], **typed: str | bool | None) -> str:
    """``;name=value`` text of ``params`` with the typed fields written over them (a field
    set to None or False removes the parameter, True writes a bare flag). Keyword names use
    ``_`` for ``-``."""
    out = dict(params)
    for key, value in typed.items():
        name = key.replace("_", "-")
        if value is None or value is False:
            out.pop(name, None)
        else:
            out[name] = None if value is True else value
    return _format_params(out)


def _stripped(value: str, start: int, end: int) -> tuple[int, str]:
    piece = value[start:end]
    text = piece.lstrip()
    return start + len(piece) - len(text), text.rstrip()


def _head_params(pattern: re.Pattern[str], value: str, what: str
                 ) -> tuple[re.Match[str], dict[str, str | None]]:
    """Match ``pattern`` at the start of ``value``; the rest must be header parameters."""
    lead = len(value) - len(value.lstrip())
    m = pattern.match(value, lead)
    if m is None:
        raise ParseError(f"invalid {what} {value[:80]!r}", lead)
    rest = value[m.end():]
    return m, (parse_params(rest, m.end()) if rest else {})


# ---- numbers and dates ----------------------------------------------------------------

_DELTA_RE = re.compile(r"[0-9]{1,10}+")


def parse_delta(value: str, what: str = "delta-seconds", offset: int = 0) -> int:
    """``delta-seconds = 1*DIGIT`` (RFC 3261 §25.1), a 32-bit value (§20.19: 0 to 2**32-1).
    Used for Expires, Min-Expires and parameters."""
    text = value.strip()
    if _DELTA_RE.fullmatch(text) is None:
        if text.isascii() and text.isdigit():
            raise ParseError(f"{what} out of range: {text[:40]}", offset)
        raise ParseError(f"invalid {what} {value[:40]!r}", offset)
    n = int(text)
    if n >= 2**32:
        raise ParseError(f"{what} out of range: {text}", offset)
    return n


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# RFC 3261 §25.1: SIP-date = rfc1123-date = wkday "," SP date1 SP time SP "GMT" (§20.17).
_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT")


@attrs.frozen
class SipDate:
    """Date (RFC 3261 §20.17): the text as written and the instant it names (UTC)."""

    text: str
    datetime: _dt.datetime

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_datetime(cls, when: _dt.datetime) -> SipDate:
        """The rfc1123-date of an aware datetime (converted to GMT), e.g. for a Date header
        (the caller passes the time: the core reads no clock)."""
        utc = when.astimezone(_dt.timezone.utc).replace(microsecond=0)
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[utc.weekday()]
        month = tuple(_MONTHS)[utc.month - 1]
        return cls(f"{day}, {utc.day:02d} {month} {utc.year:04d} {utc.hour:02d}:"
                   f"{utc.minute:02d}:{utc.second:02d} GMT", utc)


def parse_date(value: str) -> SipDate:
    m = _DATE_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid Date {value[:40]!r} (RFC 3261 §20.17: rfc1123-date in GMT)",
                         0)
    _, day, month, year, hour, minute, second = m.groups()
    try:
        when = _dt.datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute),
                            int(second), tzinfo=_dt.timezone.utc)
    except ValueError:
        raise ParseError(f"impossible Date {value[:40]!r}", 0) from None
    return SipDate(value, when)


# ---- token lists ----------------------------------------------------------------------


def parse_token_list(value: str, what: str = "token list", *, allow_empty: bool = True,
                     pattern: re.Pattern[str] = _TOKEN_RE) -> list[str]:
    """``[ token *(COMMA token) ]``: Supported, Allow (methods), Require, Proxy-Require,
    Unsupported (option-tags), Content-Encoding (RFC 3261 §25.1); each item matching
    ``pattern``. ``allow_empty`` permits an empty value (Supported, Allow); no item between
    two commas is ever empty."""
    if not value.strip():
        if allow_empty:
            return []
        raise ParseError(f"empty {what}", 0)
    out = []
    for pos, item in _items(value):
        if pattern.fullmatch(item) is None:
            raise ParseError(f"invalid {what} {item[:40]!r}", pos)
        out.append(item)
    return out


# ---- media types, Accept, Content-Disposition ------------------------------------------

_MEDIA_RE = re.compile(r"(" + _T + r"++)[ \t]*+/[ \t]*+(" + _T + r"++)")
# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (RFC 3261 §25.1)
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


@attrs.frozen
class MediaType:
    """A media type or Accept media-range (RFC 3261 §20.1, §20.15): type and subtype in
    lower case, parameters with lower-case names (values as written, quotes kept)."""

    type: str
    subtype: str
    params: dict[str, str | None] = attrs.field(factory=dict)

    @property
    def mime(self) -> str:
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """A parameter value, unquoted."""
        return unquote(self.params.get(name.lower()))

    @property
    def boundary(self) -> str | None:
        return self.param("boundary")

    @property
    def charset(self) -> str | None:
        return self.param("charset")

    @property
    def q(self) -> float:
        """The Accept q-value (1.0 when absent)."""
        value = self.params.get("q")
        if value is None:
            return 1.0
        if _QVALUE_RE.fullmatch(value) is None:
            raise ParseError(f"invalid q-value {value[:20]!r}", 0)
        return float(value)

    def __str__(self) -> str:
        return self.mime + _format_params(self.params)


def parse_media_type(value: str, *, accept: bool = False) -> MediaType:
    """``media-type = m-type SLASH m-subtype *(SEMI m-parameter)`` (Content-Type), or with
    ``accept`` an Accept ``media-range *(SEMI accept-param)`` whose q-value is checked."""
    m, params = _head_params(_MEDIA_RE, value, "media type")
    if not accept:
        for name, param in params.items():
            if param is None:  # m-parameter = m-attribute EQUAL m-value
                raise ParseError(f"media type parameter {name!r} without a value", m.end())
    q = params.get("q")
    if accept and q is not None and _QVALUE_RE.fullmatch(q) is None:
        raise ParseError(f"invalid q-value {q[:20]!r}", m.end())
    return MediaType(m.group(1).lower(), m.group(2).lower(), params)


def parse_accept(value: str) -> list[MediaType]:
    """``Accept: [ accept-range *(COMMA accept-range) ]`` (RFC 3261 §20.1); empty allowed."""
    if not value.strip():
        return []
    return [_at(pos, parse_media_type, item, accept=True) for pos, item in _items(value)]


def _at(pos: int, parse: Callable[..., _V], item: str, **kw: Any) -> _V:
    """``parse(item)`` with error offsets moved by ``pos`` (the item's place in the value)."""
    try:
        return parse(item, **kw)
    except ParseError as exc:
        raise ParseError(exc.reason, pos + exc.offset) from None


@attrs.frozen
class ContentDisposition:
    """Content-Disposition (RFC 3261 §20.11): type (lower case) and parameters."""

    type: str
    params: dict[str, str | None] = attrs.field(factory=dict)

    @property
    def handling(self) -> str:
        """``optional`` or ``required``; absent means required (§20.11)."""
        return (unquote(self.params.get("handling")) or "required").lower()

    def __str__(self) -> str:
        return self.type + _format_params(self.params)


def parse_content_disposition(value: str) -> ContentDisposition:
    m, params = _head_params(_TOKEN_RE, value, "Content-Disposition")
    return ContentDisposition(m.group().lower(), params)


# ---- Retry-After, Session-Expires, Min-SE ---------------------------------------------


def _comment_end(text: str, pos: int) -> int:
    """End (after ")") of the comment starting at ``text[pos] == "("``: ctext, quoted-pair
    and nested comments (RFC 3261 §25.1); ParseError when unterminated."""
    depth = 0
    i, n = pos, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c in "\r\n":
            break
        i += 1
    raise ParseError("unterminated comment", pos)


@attrs.frozen
class RetryAfter:
    """Retry-After (RFC 3261 §20.33): seconds, an optional comment (without the outer
    parentheses), the ``duration`` parameter and the other parameters."""

    seconds: int
    comment: str | None = None
    duration: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)

    def __str__(self) -> str:
        comment = "" if self.comment is None else f" ({self.comment})"
        duration = None if self.duration is None else str(self.duration)
        return f"{self.seconds}{comment}{_merged(self.params, duration=duration)}"


_DIGITS_RE = re.compile(r"[0-9]++")


def parse_retry_after(value: str) -> RetryAfter:
    """``delta-seconds [ comment ] *( SEMI retry-param )``."""
    m = _DIGITS_RE.match(value)
    if m is None:
        raise ParseError(f"invalid Retry-After {value[:40]!r}", 0)
    seconds = parse_delta(m.group(), "Retry-After")
    pos = m.end()
    rest = value[pos:]
    comment = None
    if rest.lstrip().startswith("("):
        start = pos + len(rest) - len(rest.lstrip())
        end = _comment_end(value, start)
        comment = value[start + 1:end - 1]
        pos = end
    params = parse_params(value[pos:], pos) if pos < len(value) else {}
    duration = params.get("duration")
    return RetryAfter(seconds, comment,
                      None if duration is None else parse_delta(duration, "duration", pos),
                      params)


@attrs.frozen
class SessionExpires:
    """Session-Expires (RFC 4028 §4): the interval, the refresher (``uac``/``uas``/None)."""

    seconds: int
    refresher: str | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)

    def __str__(self) -> str:
        return f"{self.seconds}{_merged(self.params, refresher=self.refresher)}"


_DELTA_HEAD_RE = re.compile(r"[0-9]++")


def parse_session_expires(value: str) -> SessionExpires:
    """``delta-seconds *(SEMI se-params)``; refresher-param = "refresher" EQUAL
    ("uas" / "uac")."""
    m, params = _head_params(_DELTA_HEAD_RE, value, "Session-Expires")
    seconds = parse_delta(m.group(), "Session-Expires")
    refresher = params.get("refresher")
    if refresher is not None:
        refresher = refresher.lower()
        if refresher not in ("uac", "uas"):
            raise ParseError(f"invalid refresher {refresher[:20]!r}", m.end())
    return SessionExpires(seconds, refresher, params)


def parse_min_se(value: str) -> int:
    """Min-SE (RFC 4028 §5): ``delta-seconds *(SEMI generic-param)``; the seconds."""
    m, _ = _head_params(_DELTA_HEAD_RE, value, "Min-SE")
    return parse_delta(m.group(), "Min-SE")


# ---- RSeq, RAck (RFC 3262 §7) ---------------------------------------------------------


def parse_rseq(value: str) -> int:
    """``response-num = 1*DIGIT``, 1 to 2**31-1 (RFC 3262 §3)."""
    n = parse_delta(value, "RSeq")
    if not 1 <= n < 2**31:
        raise ParseError(f"RSeq out of range: {n}", 0)
    return n


@attrs.frozen
class RAck:
    """RAck (RFC 3262 §7.2): the RSeq acknowledged and the CSeq number and method."""

    rseq: int
    cseq: int
    method: str

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


_RACK_RE = re.compile(r"([0-9]{1,10}+)[ \t]++([0-9]{1,10}+)[ \t]++(" + _T + r"++)")


def parse_rack(value: str) -> RAck:
    """``response-num LWS CSeq-num LWS Method``."""
    m = _RACK_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid RAck {value[:60]!r}", 0)
    rseq, cseq = int(m.group(1)), int(m.group(2))
    if not 1 <= rseq < 2**31 or cseq >= 2**31:
        raise ParseError(f"RAck number out of range in {value[:60]!r}", 0)
    return RAck(rseq, cseq, m.group(3))


# ---- Timestamp, User-Agent / Server ---------------------------------------------------

_TIMESTAMP_RE = re.compile(r"([0-9]++(?:\.[0-9]*+)?+)(?:[ \t]++([0-9]*+(?:\.[0-9]*+)?+))?+")


@attrs.frozen
class Timestamp:
    """Timestamp (RFC 3261 §20.38): the value and delay as written (a UAS echoes them,
    §8.2.6.1), with ``time`` and ``delay_time`` as numbers."""

    value: str
    delay: str | None = None

    @property
    def time(self) -> float:
        return float(self.value)

    @property
    def delay_time(self) -> float | None:
        return None if not self.delay or self.delay == "." else float(self.delay)

    def __str__(self) -> str:
        return self.value if self.delay is None else f"{self.value} {self.delay}"


def parse_timestamp(value: str) -> Timestamp:
    """``1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ]``; delay = ``*(DIGIT) [ "." *(DIGIT) ]``."""
    m = _TIMESTAMP_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"invalid Timestamp {value[:40]!r}", 0)
    return Timestamp(m.group(1), m.group(2) or None)


@attrs.frozen
class Product:
    """One server-val of User-Agent / Server (RFC 3261 §20.41): a product ``name[/version]``
    or a comment (``name`` None, ``comment`` the text without the outer parentheses)."""

    name: str | None
    version: str | None = None
    comment: str | None = None

    def __str__(self) -> str:
        if self.name is None:
            return f"({self.comment})"
        return self.name if self.version is None else f"{self.name}/{self.version}"


_PRODUCT_RE = re.compile(r"(" + _T + r"++)(?:[ \t]*+/[ \t]*+(" + _T + r"++))?+")
_LWS_RE = re.compile(r"[ \t]*+")


def parse_products(value: str) -> list[Product]:
    """``server-val *(LWS server-val)``; server-val = product / comment."""
    out = []
    pos, n = 0, len(value)
    while pos < n:
        if value[pos] == "(":
            end = _comment_end(value, pos)
            out.append(Product(None, None, value[pos + 1:end - 1]))
        else:
            m = _PRODUCT_RE.match(value, pos)
            if m is None:
                raise ParseError(f"invalid product {value[pos:pos + 40]!r}", pos)
            out.append(Product(m.group(1), m.group(2)))
            end = m.end()
        skip = _LWS_RE.match(value, end)
        assert skip is not None
        if skip.end() == end and end < n and value[end] != "(" and value[end - 1] != ")":
            raise ParseError(f"invalid product {value[pos:pos + 40]!r}", end)
        pos = skip.end()
    if not out:
        raise ParseError("empty product list", 0)
    return out

