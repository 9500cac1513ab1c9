"""parse_message: one datagram to a Request or Response (RFC 3261 §7, §18.3).

Only boundaries are found here: the end of the header section, the start line, the shape of
every header line and Content-Length. Header values are parsed later, by the lazy accessors of
:class:`Message`.

The usual message is checked by one regex match over the decoded datagram (``_scan``) and
stays in raw mode (its headers are found by regex searches, no line list is built). Anything
unusual (folded lines, another SIP version, duplicate Content-Length, an error...) goes through
:func:`_parse_general`, which splits the header lines and says precisely what is wrong.

Speed: when the optional C extension ``_sip_native`` is built (``setup.py``; it needs a C
compiler and the Python headers), ``parse_message`` is its function, which takes the usual
datagram (a strict subset of what the regex fast path takes) in C, fills the hot accessors'
caches with the objects they would build, and hands anything else to the pure function below
(kept as :data:`parse_message_pure`), so results and errors are identical on both paths. It also
answers the cached accessors (``cseq``, ``top_via``, ``call_id``, ``from_``, ``to``, ``Via.branch``,
``NameAddr.tag``) in C when their cache is filled. ``RVOIP_PURE=1`` in the environment forces the
pure path; so does a missing or stale build.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import MemberDescriptorType, ModuleType
from typing import TYPE_CHECKING, Any

from rvoip_sansio._core import ParseError
from rvoip_sansio._native import import_native, pure_requested

from ._headers import COMPACT_FORMS, KNOWN_METHODS
from ._message import Request, Response
from ._scan import G_CL, G_CL_BAD, G_CL_DUP, REQUEST_RE, RESPONSE_RE

__all__ = ["parse_message", "parse_message_pure", "NATIVE", "load_native"]

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
# One header-line start: CRLF, a token name, optional SP/HT, the colon (RFC 3261 §7.3.1).
_NAME_RE = re.compile(r"\r\n([" + _TOKEN_CHARS + r"]+)[ \t]*:")
_LINE_NAME_RE = re.compile(r"([" + _TOKEN_CHARS + r"]+)[ \t]*:")
_COMPACT_NAMES = frozenset(COMPACT_FORMS)
_TOKEN_RE = re.compile(r"[" + _TOKEN_CHARS + r"]+")
_VERSION_RE = re.compile(r"[Ss][Ii][Pp]/[0-9]{1,3}\.[0-9]{1,3}")
_RURI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\"]*")


def _split_folded(text: str, base: int) -> tuple[list[str], list[str]]:
    """Slow path: header lines with folding (RFC 3261 §7.3.1) or a malformed line."""
    groups: list[list[str]] = []
    names: list[str] = []
    pos = base
    for part in text.split("\r\n"):
        if part[:1] in (" ", "\t"):
            if not groups:
                raise ParseError("continuation line before any header", pos)
            groups[-1].append(part)  # joined once below: no quadratic concatenation
        else:
            m = _LINE_NAME_RE.match(part)
            if m is None:
                raise ParseError(f"malformed header line {part[:60]!r}", pos)
            groups.append([part])
            names.append(m.group(1))
        pos += len(part) + 2
    return ["\r\n".join(g) for g in groups], names


def _bare_crlf(head: str) -> int:
    m = re.search(r"\r(?!\n)|(?<!\r)\n", head)
    return m.start() if m else 0


def parse_message(data: bytes | bytearray | memoryview) -> Request | Response:
    """Parse one SIP message from a datagram (RFC 3261 §7, §18.3).

    With a Content-Length, octets after the body are ignored (§18.3) and a body shorter than
    announced is an error; without one, the body is the rest of the datagram. Raises
    :class:`ParseError` (offset, reason) on malformed input, never anything else.
    """
    if type(data) is not bytes:
        # A copy of the octets of any buffer: the caller cannot change it under us, a bytes
        # subclass's overridden methods are never called, and _raw is exactly bytes. (Not
        # bytes(data): parse_message(10**9) must be a TypeError, not a gigabyte of zeros.)
        data = bytes(memoryview(data))
    skip = 0
    if data[:2] == b"\r\n":  # RFC 3261 §7.5: tolerate CRLFs before the start line
        skip = len(data) - len(data.lstrip(b"\r\n"))
        data = data[skip:]
    text = data.decode("utf-8", "surrogateescape")
    if text.isascii():
        body_start = 0  # found by the match: characters are octets
    else:
        # Non-ASCII octets (UTF-8 text, a binary body): decode the header section alone.
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return _parse_general(data, skip)
        body_start = end + 4
        text = data[:body_start].decode("utf-8", "surrogateescape")
    response = text[:4] == "SIP/"
    m = (RESPONSE_RE if response else REQUEST_RE).match(text)
    if m is None:
        return _parse_general(data, skip)
    hend = m.end() - 4
    groups = m.groups()
    if groups[G_CL_DUP] is not None or groups[G_CL_BAD] is not None:
        return _parse_general(data, skip)  # Content-Length twice or malformed
    msg: Request | Response
    if response:
        msg = _new(Response)
        msg._status_code = int(groups[0])
        msg._reason = groups[1] or ""
    else:
        msg = _new(Request)
        msg._method = groups[0]
        msg._uri_text = groups[1]
        msg._uri = None
    msg._version = "SIP/2.0"
    msg._text = text
    msg._hend = hend
    msg._groups = groups
    msg._lines = msg._names = None
    msg._c_via = msg._c_top_via = msg._c_cseq = msg._c_from = msg._c_to = None
    msg._c_call_id = None
    msg._c_contact = None
    cl_text = groups[G_CL]
    if not body_start:
        body_start = hend + 4
    if cl_text is None:
        return _frame(msg, data, body_start, None, skip)
    length = int(cl_text)
    if body_start + length == len(data):  # the usual datagram: framed exactly
        msg._body = data[body_start:]
        msg._raw = data
        return msg
    return _frame(msg, data, body_start, length, skip)


def _frame(msg: Request | Response, data: bytes, body_start: int, length: int | None,
           skip: int) -> Request | Response:
    """Set the body and the original octets: ``length`` octets after the headers (RFC 3261
    §18.3: a datagram whose body is shorter than Content-Length is discarded, octets after it
    are ignored), or, without a Content-Length, the rest of the datagram."""
    if length is not None:
        available = len(data) - body_start
        if length > available:
            raise ParseError(f"Content-Length {length} exceeds the {available} body octets",
                             skip + len(data))
        if length < available:
            msg._body = data[body_start:body_start + length]
            msg._raw = data[:body_start + length]
            return msg
    msg._body = data[body_start:]
    msg._raw = data
    return msg


_new = object.__new__


def _parse_general(data: bytes, skip: int) -> Request | Response:
    """The general parser: splits the header lines, handles folding, reports errors."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ParseError("no empty line ending the headers", skip + len(data))
    head = data[:end].decode("utf-8", "surrogateescape")
    nl = head.find("\r\n")
    if nl < 0:
        start_line, lines, names = head, [], []
    else:
        start_line = head[:nl]
        names = _NAME_RE.findall(head.lower())
        lines = head[nl + 2:].split("\r\n")
    crlf = len(lines)
    if head.count("\n") != crlf or head.count("\r") != crlf:
        # RFC 3261 §7.3.1, §25.1: CR and LF only ever appear together, as line ends.
        raise ParseError("bare CR or LF in the header section", skip + _bare_crlf(head))
    if nl >= 0:
        if len(names) != len(lines):
            lines, names = _split_folded(head[nl + 2:], skip + nl + 2)
            names = [n.lower() for n in names]
        if not _COMPACT_NAMES.isdisjoint(names):
            names = [COMPACT_FORMS.get(n, n) for n in names]

    msg: Request | Response
    if start_line[:4] == "SIP/":
        parts = start_line.split(" ", 2)
        if len(parts) == 2:
            parts.append("")
        if len(parts) != 3 or len(parts[1]) != 3 or not (parts[1].isdigit() and parts[1].isascii()) \
                or parts[1][0] == "0":
            raise ParseError(f"invalid status line {start_line[:80]!r}", skip)
        if parts[0] != "SIP/2.0" and not _VERSION_RE.fullmatch(parts[0]):
            raise ParseError(f"invalid SIP version {parts[0][:20]!r}", skip)
        msg = Response.__new__(Response)
        msg._version = parts[0]
        msg._status_code = int(parts[1])
        msg._reason = parts[2]
    else:
        parts = start_line.split(" ")
        if len(parts) != 3:
            raise ParseError(f"invalid request line {start_line[:80]!r}", skip)
        method, uri_text, version = parts
        if method not in KNOWN_METHODS and not _TOKEN_RE.fullmatch(method):
            raise ParseError(f"invalid method {method[:40]!r}", skip)
        if not _RURI_RE.fullmatch(uri_text):
            raise ParseError(f"invalid Request-URI {uri_text[:80]!r}", skip + len(method) + 1)
        if version != "SIP/2.0" and not _VERSION_RE.fullmatch(version):
            raise ParseError(f"invalid SIP version {version[:20]!r}",
                             skip + len(method) + len(uri_text) + 2)
        msg = Request.__new__(Request)
        msg._version = version
        msg._method = method
        msg._uri_text = uri_text
        msg._uri = None
    msg._text = None
    msg._hend = 0
    msg._groups = None
    msg._lines = lines
    msg._names = names
    msg._c_via = msg._c_top_via = msg._c_cseq = msg._c_from = msg._c_to = None
    msg._c_call_id = None
    msg._c_contact = None

    body_start = end + 4
    try:
        cl_index = names.index("content-length")
    except ValueError:
        cl_index = -1
    if cl_index < 0 or names.count("content-length") > 1:
        # No framing information, or conflicting (RFC 4475 §3.3.9: the datagram is kept whole
        # and the conflict shows up in ``content_length`` and ``validate()``).
        return _frame(msg, data, body_start, None, skip)
    line = lines[cl_index]
    cl_text = line[line.find(":") + 1:].strip()
    if not (cl_text.isdigit() and cl_text.isascii() and len(cl_text) <= 10):
        raise ParseError("invalid Content-Length", skip + msg._line_offset(cl_index))
    return _frame(msg, data, body_start, int(cl_text), skip)


# ---- the optional C accelerator ---------------------------------------------------------

#: The pure parser (what the accelerator hands everything unusual to).
parse_message_pure = parse_message

# Must equal SIP_NATIVE_ABI in _sip_native.c: a build older than its source is not used.
_NATIVE_ABI = 1
_log = logging.getLogger(__name__)


def _fast_properties() -> list[tuple[type, str, str, int]]:
    """(class, property, slot, index): properties whose first step returns the slot's value
    when it is not None (index -1), or item ``index`` of the tuple in it."""
    from ._headers import NameAddr, Via
    from ._message import Message

    return [(Message, "cseq", "_c_cseq", -1), (Message, "top_via", "_c_top_via", -1),
            (Message, "call_id", "_c_call_id", -1), (Message, "from_", "_c_from", -1),
            (Message, "to", "_c_to", -1), (Via, "branch", "_lazy", 4),
            (NameAddr, "tag", "_lazy", 6)]


def native_init_args() -> tuple[type, type, type, type, type,
                                Callable[[bytes], Request | Response], dict[str, Any]]:
    """The arguments of the accelerator's ``_init``: the classes it builds, the pure parser,
    and the slots' member descriptors by ``"Class.slot"`` (their offsets, checked in C)."""
    from ._headers import CSeq, NameAddr, Via
    from ._message import Message

    slots = {f"{cls.__name__}.{name}": value
             for cls in (Message, Request, Response, CSeq, Via, NameAddr)
             for name, value in vars(cls).items() if isinstance(value, MemberDescriptorType)}
    return Request, Response, CSeq, Via, NameAddr, parse_message_pure, slots


def load_native() -> ModuleType | None:
    """The C accelerator set up with this package's classes, or ``None`` when not built."""
    mod = import_native("rvoip_sansio.sip._sip_native", _NATIVE_ABI)
    if mod is None:
        return None
    try:
        mod._init(*native_init_args())
    except TypeError as exc:  # classes changed without the build (a slot renamed...)
        _log.warning("ignoring %s: %s (rebuild: pip install -e .)", mod.__name__, exc)
        return None
    for cls, name, slot, index in _fast_properties():
        prop = getattr(cls, name)  # the property itself, even when already replaced
        setattr(cls, name, mod.fast_property(prop, vars(cls)[slot], index))
    return mod


def unload_native() -> None:
    """Put the Python properties back (the accelerator's parse_message stays importable)."""
    for cls, name, _slot, _index in _fast_properties():
        prop = getattr(cls, name)
        if vars(cls)[name] is not prop:
            setattr(cls, name, prop)


#: The loaded C accelerator, or ``None`` (not built, stale, or ``RVOIP_PURE`` set).
NATIVE: ModuleType | None = (
    None if pure_requested() else load_native()
)

if NATIVE is not None and not TYPE_CHECKING:
    # The same signature, results and errors; type checkers keep seeing the pure definition.
    parse_message = NATIVE.parse_message
