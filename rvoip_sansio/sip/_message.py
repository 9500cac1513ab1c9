"""SIP requests and responses: parsing, typed lazy accessors, editing, serialization.

The parser only finds boundaries (end of headers, lines, header names) with C-level string
operations; each typed accessor parses its header on first use and caches the result. The
original bytes are kept, so an unmodified message serializes byte-identically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Union

import attrs

from rvoip_sansio._core import ParseError

from ._accessors import HeaderAccessors
from ._hdrext import (
    EventHeader,
    Reason,
    Replaces,
    SubscriptionState,
)
from ._hdrvalues import (
    ContentDisposition,
    MediaType,
    RAck,
    RetryAfter,
    SessionExpires,
    SipDate,
    Timestamp,
)
from ._headers import (
    COMPACT_FORMS,
    MULTI_VALUE_HEADERS,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    parse_cseq,
    parse_name_addr,
    parse_via,
    set_cseq_method,
    set_cseq_number,
    set_name_addr_lazy,
    split_list,
    via_from_groups,
)
from ._scan import (
    G_CALL_ID,
    G_CSEQ,
    G_CSEQ_OK,
    G_CSEQ_SEEN,
    G_FROM,
    G_FROM_OK,
    G_FROM_SEEN,
    G_TO,
    G_TO_OK,
    G_TO_SEEN,
    G_VIA,
    G_VIA_OK,
    G_VIA_SEEN,
    lookup_re,
)
from ._uri import Uri, parse_uri

__all__ = ["Message", "Request", "Response", "parse_message", "REASON_PHRASES", "HeaderValue"]

#: Anything a header value may be given as: text, or a typed value whose ``str()`` is the text.
HeaderValue = Union[str, int, Via, CSeq, NameAddr, Uri, MediaType, ContentDisposition, SipDate,
                    RetryAfter, SessionExpires, RAck, EventHeader, SubscriptionState, Reason,
                    Replaces, Timestamp]

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_FOLD_RE = re.compile(r"\r\n[ \t]+")
_DIGITS_RE = re.compile(r"[ \t]*([0-9]{1,10})[ \t]*")
# One header-line start in a lower-cased header section: the name (RFC 3261 §7.3.1).
_NAME_RE = re.compile(r"\r\n([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:")
_COMPACT_NAMES = frozenset(COMPACT_FORMS)
_new = object.__new__

#: RFC 3261 §21 default reason phrases (plus a few later ones).
REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated", 200: "OK", 202: "Accepted",
    204: "No Notification", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required",
    422: "Session Interval Too Small", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 580: "Precondition Failure", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


def _key(name: str) -> str:
    low = name.strip().lower()
    return COMPACT_FORMS.get(low, low)


@attrs.define(slots=True, init=False, eq=False, repr=False)
class Message(HeaderAccessors):
    """What requests and responses share: headers in order, body, lazy typed accessors.

    A parsed message starts in *raw mode*: ``_text`` holds the decoded header section (checked
    line by line by the parser) and headers are found by regex searches over it (``_scan``).
    The list of header lines is only built (``_index``) when something needs it: an edit,
    ``headers``, a folded header section. From then on the message is in *line mode*.
    """

    _text: str | None            # raw mode: text holding the header section (else None)
    _hend: int                   # raw mode: index in _text of the CRLFCRLF ending the headers
    _groups: tuple[str | None, ...] | None  # raw mode: groups of the parser's match (_scan)
    _lines: list[str] | None     # line mode: header lines as on the wire (folds included)
    _names: list[str] | None     # line mode: lower-case full names, aligned with _lines
    _body: bytes
    _raw: bytes | None           # the original bytes while the message is unmodified
    _version: str
    _c_via: list[Via] | None
    _c_top_via: Via | None
    _c_cseq: CSeq | None
    _c_from: NameAddr | None
    _c_to: NameAddr | None
    _c_call_id: str | None
    _c_contact: list[NameAddr] | None

    def _init_headers(self, headers: Iterable[tuple[str, HeaderValue]], body: bytes,
                      version: str) -> None:
        lines: list[str] = []
        names: list[str] = []
        for name, value in headers:
            _check_name(name)
            lines.append(f"{canonical_name(name)}: {_text(value)}")
            names.append(_key(name))
        self._text = None
        self._hend = 0
        self._groups = None
        self._lines = lines
        self._names = names
        self._body = bytes(body)
        self._raw = None
        self._version = version
        self._reset_cache()

    def _reset_cache(self) -> None:
        self._c_via = None
        self._c_top_via = None
        self._c_cseq = None
        self._c_from = None
        self._c_to = None
        self._c_call_id = None
        self._c_contact = None

    def _modified(self) -> None:
        self._raw = None
        self._reset_cache()

    def _index(self) -> tuple[list[str], list[str]]:
        """The header lines and their keys, built from the raw text on first need."""
        lines, names = self._lines, self._names
        if lines is None or names is None:
            text = self._text
            assert text is not None
            head = text[:self._hend]
            nl = head.find("\r\n")
            if nl < 0:
                lines, names = [], []
            else:
                # The parser checked every line (no folds, a name and a colon on each).
                lines = head[nl + 2:].split("\r\n")
                names = _NAME_RE.findall(head.lower())
                if not _COMPACT_NAMES.isdisjoint(names):
                    names = [COMPACT_FORMS.get(n, n) for n in names]
            self._lines, self._names = lines, names
            self._text = self._groups = None
        return lines, names

    def _first(self, key: str) -> int:
        """Index of the first line called ``key`` (a lower-case full name), or -1."""
        try:
            return self._index()[1].index(key)
        except ValueError:
            return -1

    # ---- generic header access -------------------------------------------------------

    def _value_at(self, i: int) -> str:
        line = self._index()[0][i]
        value = line[line.find(":") + 1:]
        if "\r\n" in value:
            value = _FOLD_RE.sub(" ", value)  # RFC 3261 §7.3.1: a fold is one SP
        return value.strip()

    def _line_offset(self, i: int) -> int:
        """Byte-ish offset (in characters of the decoded head) of header line ``i``."""
        return len(self._start_line()) + 2 + sum(len(x) + 2 for x in self._index()[0][:i])

    def _indices(self, key: str) -> list[int]:
        names = self._index()[1]
        count = names.count(key)
        if count == 1:
            return [names.index(key)]
        if count == 0:
            return []
        return [i for i, n in enumerate(names) if n == key]

    def _entries(self, key: str) -> list[tuple[int, str]]:
        """(locator, unfolded value) of every ``key`` line; see :meth:`_value_offset`."""
        text = self._text
        if text is not None:
            return [(m.start(1), m.group(1).strip())
                    for m in lookup_re(key).finditer(text, 0, self._hend + 1)]
        return [(i, self._value_at(i)) for i in self._indices(key)]

    def _required(self, key: str) -> tuple[int, str]:
        """Locator and unfolded value of the first ``key`` line; ParseError when missing."""
        text = self._text
        if text is not None:
            m = lookup_re(key).search(text, 0, self._hend + 1)
            if m is not None:
                return m.start(1), m.group(1).strip()
        else:
            i = self._first(key)
            if i >= 0:
                return i, self._value_at(i)
        raise ParseError(f"missing {canonical_name(key)} header", 0)

    def _value_offset(self, loc: int) -> int:
        """Offset just after the colon of the line an :meth:`_entries` locator names (raw
        mode: the locator is that offset; line mode: it is the line's index)."""
        if self._text is not None:
            return loc
        return self._line_offset(loc) + self._index()[0][loc].find(":") + 1

    def _line_start(self, loc: int) -> int:
        """Offset of the start of the line an :meth:`_entries` locator names."""
        text = self._text
        if text is not None:
            return text.rfind("\r\n", 0, loc) + 2
        return self._line_offset(loc)

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of the first header called ``name`` (any case, compact forms too)."""
        key = _key(name)
        text = self._text
        if text is not None:
            m = lookup_re(key).search(text, 0, self._hend + 1)
            return default if m is None else m.group(1).strip()
        i = self._first(key)
        return default if i < 0 else self._value_at(i)

    def get_all(self, name: str, *, split: bool | None = None) -> list[str]:
        """Every value of ``name`` in order. List-valued headers (Via, Contact, Route...) are
        split at commas outside quotes and ``<>``; ``split`` forces either behaviour."""
        key = _key(name)
        if split is None:
            split = key in MULTI_VALUE_HEADERS
        text = self._text
        if text is not None:
            values = [v.strip() for v in lookup_re(key).findall(text, 0, self._hend + 1)]
        else:
            values = [self._value_at(i) for i in self._indices(key)]
        if not split:
            return values
        return [item for v in values for item in split_list(v)]

    def __contains__(self, name: str) -> bool:
        key = _key(name)
        text = self._text
        if text is not None:
            return lookup_re(key).search(text, 0, self._hend + 1) is not None
        return key in self._index()[1]

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name as written, unfolded value) for every header line, in order."""
        out = []
        for i, line in enumerate(self._index()[0]):
            out.append((line[:line.find(":")].strip(), self._value_at(i)))
        return out

    @property
    def header_lines(self) -> list[str]:
        """The header lines exactly as they will be serialized (folds included)."""
        return list(self._index()[0])

    def set(self, name: str, value: HeaderValue | list[HeaderValue]) -> None:
        """Replace every ``name`` header by one (or, for a list, several) canonical lines,
        at the position of the first; appended when absent."""
        key = _key(name)
        _check_name(name)
        values = value if isinstance(value, list) else [value]
        new = [f"{canonical_name(name)}: {_text(v)}" for v in values]
        lines, names = self._index()
        idx = self._indices(key)
        pos = idx[0] if idx else len(lines)
        for i in reversed(idx):
            del lines[i]
            del names[i]
        lines[pos:pos] = new
        names[pos:pos] = [key] * len(new)
        self._modified()

    def add(self, name: str, value: HeaderValue, *, first: bool = False) -> None:
        """Add a header line: at the end, or with ``first=True`` above the other lines of the
        same name (how a proxy pushes its Via, RFC 3261 §16.6 step 8)."""
        key = _key(name)
        _check_name(name)
        line = f"{canonical_name(name)}: {_text(value)}"
        text = self._text
        if text is not None:
            # Raw mode: splice the line into the text (a proxy pushing its Via need not
            # build the line index). It is a well-formed line: a token, no CR or LF.
            hend = self._hend
            m = lookup_re(key).search(text, 0, hend + 1) if first else None
            pos = hend if m is None else m.start()
            self._text = text[:pos] + "\r\n" + line + text[pos:hend] + "\r\n\r\n"
            self._hend = hend + 2 + len(line)
            self._groups = None
            self._modified()
            return
        lines, names = self._index()
        pos = len(lines)
        if first and key in names:
            pos = names.index(key)
        lines.insert(pos, line)
        names.insert(pos, key)
        self._modified()

    def remove(self, name: str) -> int:
        """Remove every ``name`` header line; returns how many were removed."""
        lines, names = self._index()
        idx = self._indices(_key(name))
        for i in reversed(idx):
            del lines[i]
            del names[i]
        if idx:
            self._modified()
        return len(idx)

    def remove_first_value(self, name: str) -> str | None:
        """Remove the first value of a list header (e.g. the top Via, RFC 3261 §18.1.2) and
        return it; the rest of that line stays."""
        key = _key(name)
        i = self._first(key)
        if i < 0:
            return None
        lines, names = self._index()
        values = split_list(self._value_at(i))
        if len(values) <= 1:
            del lines[i]
            del names[i]
        else:
            line = lines[i]
            lines[i] = f"{line[:line.find(':')].strip()}: {', '.join(values[1:])}"
        self._modified()
        return values[0] if values else ""

    # ---- body and framing ------------------------------------------------------------

    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = bytes(value)
        self._raw = None

    @property
    def version(self) -> str:
        return self._version

    @property
    def content_length(self) -> int | None:
        """Content-Length as a number; ParseError if malformed or given twice differently."""
        entries = self._entries("content-length")
        if not entries:
            return None
        found = set()
        for loc, value in entries:
            m = _DIGITS_RE.fullmatch(value)
            if m is None:
                raise ParseError("invalid Content-Length", self._line_start(loc))
            found.add(int(m.group(1)))
        if len(found) > 1:
            raise ParseError("conflicting Content-Length values",
                             self._line_start(entries[1][0]))
        return found.pop()

    @property
    def content_type(self) -> str | None:
        return self.get("content-type")

    # ---- typed accessors (lazy, cached) ----------------------------------------------

    def _typed_error(self, loc: int, exc: ParseError) -> ParseError:
        return ParseError(exc.reason, self._value_offset(loc) + exc.offset)

    @property
    def via(self) -> list[Via]:
        """Every Via value, top first (RFC 3261 §20.42). Empty when there is none."""
        vias = self._c_via
        if vias is None:
            vias = []
            for loc, value in self._entries("via"):
                try:
                    if "," in value:
                        vias.extend(parse_via(v) for v in split_list(value))
                    else:
                        vias.append(parse_via(value))
                except ParseError as exc:
                    raise self._typed_error(loc, exc) from None
            self._c_via = vias
        return vias

    @property
    def top_via(self) -> Via:
        """The first Via value (the one transactions match on, RFC 3261 §17.2.3), parsed
        alone; ParseError when there is no Via."""
        top = self._c_top_via
        if top is None:
            groups = self._groups
            if groups is not None and groups[G_VIA_OK] is not None:
                top = via_from_groups(groups[G_VIA:G_VIA + 7])
            if top is None:
                vias = self._c_via
                if vias is not None:
                    if not vias:
                        raise ParseError("missing Via header", 0)
                    return vias[0]
                if groups is not None and groups[G_VIA_SEEN] is None:
                    raise ParseError("missing Via header", 0)
                loc, value = self._required("via")
                try:
                    if "," in value:
                        items = split_list(value)
                        if not items:
                            raise ParseError(f"invalid Via value {value[:80]!r}", 0)
                        value = items[0]
                    top = parse_via(value)
                except ParseError as exc:
                    raise self._typed_error(loc, exc) from None
            self._c_top_via = top
        return top

    @property
    def cseq(self) -> CSeq:
        """CSeq; ParseError when missing or malformed."""
        c = self._c_cseq
        if c is None:
            groups = self._groups
            if groups is not None:
                number = groups[G_CSEQ]
                if groups[G_CSEQ_OK] is not None and number is not None:  # (None: for mypy)
                    n = int(number)
                    if n < 2147483648:  # RFC 3261 §8.1.1.5: less than 2**31
                        c = self._c_cseq = _new(CSeq)
                        set_cseq_number(c, n)
                        set_cseq_method(c, groups[G_CSEQ + 1])
                        return c
                if groups[G_CSEQ_SEEN] is None:
                    raise ParseError("missing CSeq header", 0)
            loc, value = self._required("cseq")
            try:
                c = self._c_cseq = parse_cseq(value)
            except ParseError as exc:
                raise self._typed_error(loc, exc) from None
        return c

    @property
    def call_id(self) -> str:
        """Call-ID (RFC 3261 §20.8); ParseError when missing or empty."""
        c = self._c_call_id
        if c is None:
            groups = self._groups
            if groups is not None:
                raw = groups[G_CALL_ID]
                if raw is None:
                    raise ParseError("missing Call-ID header", 0)
                c = raw.strip()
                if c and " " not in c and "\t" not in c:
                    self._c_call_id = c
                    return c
            loc, c = self._required("call-id")
            if not c or " " in c or "\t" in c:
                raise ParseError("invalid Call-ID", self._line_start(loc))
            self._c_call_id = c
        return c

    def _name_addr(self, key: str) -> NameAddr:
        loc, value = self._required(key)
        try:
            return parse_name_addr(value)
        except ParseError as exc:
            raise self._typed_error(loc, exc) from None

    @property
    def from_(self) -> NameAddr:
        """From (RFC 3261 §20.20); ParseError when missing or malformed."""
        f = self._c_from
        if f is None:
            groups = self._groups
            if groups is not None:
                if groups[G_FROM_OK] is not None:
                    f = self._c_from = _new(NameAddr)
                    set_name_addr_lazy(f, groups[G_FROM:G_FROM + 7])
                    return f
                if groups[G_FROM_SEEN] is None:
                    raise ParseError("missing From header", 0)
            f = self._c_from = self._name_addr("from")
        return f

    @property
    def to(self) -> NameAddr:
        """To (RFC 3261 §20.39); ParseError when missing or malformed."""
        t = self._c_to
        if t is None:
            groups = self._groups
            if groups is not None:
                if groups[G_TO_OK] is not None:
                    t = self._c_to = _new(NameAddr)
                    set_name_addr_lazy(t, groups[G_TO:G_TO + 7])
                    return t
                if groups[G_TO_SEEN] is None:
                    raise ParseError("missing To header", 0)
            t = self._c_to = self._name_addr("to")
        return t

    def _name_addr_list(self, key: str) -> list[NameAddr]:
        out: list[NameAddr] = []
        for loc, value in self._entries(key):
            try:
                out.extend(parse_name_addr(v) for v in split_list(value))
            except ParseError as exc:
                raise self._typed_error(loc, exc) from None
        return out

    @property
    def contact(self) -> list[NameAddr]:
        """Every Contact value; empty when absent or for ``Contact: *`` (see contact_star)."""
        c = self._c_contact
        if c is None:
            c = [] if self.contact_star else self._name_addr_list("contact")
            self._c_contact = c
        return c

    @property
    def contact_star(self) -> bool:
        """True for ``Contact: *`` (RFC 3261 §10.2.2, remove all bindings)."""
        entries = self._entries("contact")
        return len(entries) == 1 and entries[0][1] == "*"

    @property
    def route(self) -> list[NameAddr]:
        return self._name_addr_list("route")

    @property
    def record_route(self) -> list[NameAddr]:
        return self._name_addr_list("record-route")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255 per RFC 3261 §20.22); ParseError when malformed."""
        entries = self._entries("max-forwards")
        if not entries:
            return None
        loc, value = entries[0]
        m = _DIGITS_RE.fullmatch(value)
        if m is None or int(m.group(1)) > 255:
            raise ParseError("invalid Max-Forwards", self._line_start(loc))
        return int(m.group(1))

    def validate(self) -> None:
        """Raise ParseError for the first semantic problem (see :func:`validate`)."""
        from ._validate import validate

        validate(self)

    # ---- serialization ---------------------------------------------------------------

    def _start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        raw = self._raw
        if raw is not None:
            return raw
        text = self._text
        if text is not None:
            return self._raw_bytes(text)
        lines = list(self._index()[0])
        body_len = len(self._body)
        idx = self._indices("content-length")
        if idx:
            # Recompute Content-Length; keep the original line when it is already right.
            if _DIGITS_RE.fullmatch(self._value_at(idx[0])) is None or \
                    int(self._value_at(idx[0])) != body_len:
                lines[idx[0]] = f"Content-Length: {body_len}"
            for i in reversed(idx[1:]):
                del lines[i]
        else:
            lines.append(f"Content-Length: {body_len}")
        head = self._start_line() + "\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
        data = head.encode("utf-8", "surrogateescape") + self._body
        return data

    def _raw_bytes(self, text: str) -> bytes:
        """Serialize a raw-mode message: its header lines as they are in the text, with
        Content-Length recomputed as in line mode (first line kept when right, others
        dropped, one appended when there is none)."""
        body_len = len(self._body)
        head = text[:self._hend]
        nl = head.find("\r\n")
        headers = head[nl:] if nl >= 0 else ""
        found = list(lookup_re("content-length").finditer(headers))
        if not found:
            headers += f"\r\nContent-Length: {body_len}"
        else:
            first = found[0]
            pieces = []
            value = first.group(1).strip()
            if _DIGITS_RE.fullmatch(value) is not None and int(value) == body_len:
                pos = 0
            else:
                pieces.append(headers[:first.start()] + f"\r\nContent-Length: {body_len}")
                pos = first.end()
            for extra in found[1:]:
                pieces.append(headers[pos:extra.start()])
                pos = extra.end()
            pieces.append(headers[pos:])
            headers = "".join(pieces)
        data = (self._start_line() + headers + "\r\n\r\n").encode("utf-8", "surrogateescape")
        return data + self._body

    def __str__(self) -> str:
        return bytes(self).decode("utf-8", "replace")


@attrs.define(slots=True, init=False, eq=False, repr=False)
class Request(Message):  # type: ignore[override]
    """A SIP request. Build one with ``Request(method, uri, headers, body)``."""

    _method: str
    _uri_text: str
    _uri: Uri | None

    def __init__(self, method: str, uri: Uri | str,
                 headers: Iterable[tuple[str, HeaderValue]] = (), body: bytes = b"",
                 *, version: str = "SIP/2.0") -> None:
        if not _TOKEN_RE.fullmatch(method):
            raise ValueError(f"invalid method {method!r}")
        self._method = method
        if isinstance(uri, str):
            self._uri_text, self._uri = uri, parse_uri(uri)
        else:
            self._uri_text, self._uri = str(uri), uri
        self._init_headers(headers, body, version)

    @property
    def method(self) -> str:
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        if not _TOKEN_RE.fullmatch(value):
            raise ValueError(f"invalid method {value!r}")
        self._method = value
        self._raw = None

    @property
    def uri(self) -> Uri:
        """The Request-URI, parsed on first access (ParseError if malformed)."""
        uri = self._uri
        if uri is None:
            uri = self._uri = parse_uri(self._uri_text, len(self._method) + 1)
        return uri

    @uri.setter
    def uri(self, value: Uri | str) -> None:
        if isinstance(value, str):
            value = parse_uri(value)
        self._uri, self._uri_text = value, str(value)
        self._raw = None

    @property
    def uri_text(self) -> str:
        return self._uri_text

    def _start_line(self) -> str:
        return f"{self._method} {self._uri_text} {self._version}"

    def __repr__(self) -> str:
        return f"<Request {self._method} {self._uri_text}>"


@attrs.define(slots=True, init=False, eq=False, repr=False)
class Response(Message):  # type: ignore[override]
    """A SIP response. Build one with ``Response(code, reason, headers, body)`` or, usually,
    :func:`rvoip_sansio.sip.make_response`."""

    _status_code: int
    _reason: str

    def __init__(self, status_code: int, reason: str | None = None,
                 headers: Iterable[tuple[str, HeaderValue]] = (), body: bytes = b"",
                 *, version: str = "SIP/2.0") -> None:
        if not 100 <= status_code <= 699:
            raise ValueError(f"status code out of range: {status_code}")
        self._status_code = status_code
        self._reason = REASON_PHRASES.get(status_code, "") if reason is None else _text(reason)
        self._init_headers(headers, body, version)

    @property
    def status_code(self) -> int:
        return self._status_code

    @status_code.setter
    def status_code(self, value: int) -> None:
        if not 100 <= value <= 699:
            raise ValueError(f"status code out of range: {value}")
        self._status_code = value
        self._raw = None

    @property
    def reason(self) -> str:
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = _text(value)
        self._raw = None

    def _start_line(self) -> str:
        return f"{self._version} {self._status_code} {self._reason}"

    def __repr__(self) -> str:
        return f"<Response {self._status_code} {self._reason}>"


def _text(value: HeaderValue) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("header values may not contain CR or LF")
    return text


def _check_name(name: str) -> None:
    if not _TOKEN_RE.fullmatch(name.strip()):
        raise ValueError(f"invalid header name {name!r}")


# parse_message lives in _parser (which needs the classes above); re-exported here.
from ._parser import parse_message  # noqa: E402
