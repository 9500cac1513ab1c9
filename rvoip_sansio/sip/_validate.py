"""Semantic checks of a parsed message (RFC 3261 §7.3.1, §8.1.1, §8.2.2, §19.1.1, §20).

:func:`parse_message` only rejects what it cannot frame or read; many RFC 4475 messages are
well-formed enough to parse yet must be refused (400, 505...). :func:`validate` finds those
problems, parsing every typed header, and raises :class:`ParseError` naming the first one.
"""

from __future__ import annotations

import re

from rvoip_sansio._core import ParseError

from ._message import Message, Request
from ._uri import SipUri

__all__ = ["validate", "SINGLE_VALUE_HEADERS"]

#: Headers that may appear once only (RFC 3261 §7.3.1: only list headers may repeat).
SINGLE_VALUE_HEADERS = ("to", "from", "call-id", "cseq", "max-forwards", "content-length",
                        "content-type", "expires")

# RFC 3261 §25.1: SIP-date = rfc1123-date, which always ends in "GMT".
_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")
_DELTA_RE = re.compile(r"[0-9]{1,10}")


def validate(msg: Message) -> None:
    """Raise ParseError for the first semantic problem of ``msg``; return None if it has none.

    Checks: SIP version 2.0 (else the reason starts with "505"), mandatory headers present
    (§8.1.1), single-value headers not repeated, every typed header well formed, CSeq method
    equal to the request method (§8.1.1.5), no headers in a SIP Request-URI (§19.1.1), a
    GMT Date (§20.17) and 32-bit Expires values (§20.19).
    """
    if msg.version != "SIP/2.0":
        raise ParseError(f"505 unsupported SIP version {msg.version}", 0)
    required = ["via", "from", "to", "call-id", "cseq"]
    if isinstance(msg, Request):
        required.append("max-forwards")  # §8.1.1: mandatory in requests
    for name in required:
        if name not in msg:
            raise ParseError(f"missing mandatory {name} header", 0)
    for name in SINGLE_VALUE_HEADERS:
        if len(msg.get_all(name, split=False)) > 1:
            raise ParseError(f"{name} header appears more than once", 0)
    _ = (msg.via, msg.from_.uri, msg.to.uri, msg.call_id, msg.cseq, msg.max_forwards,
         msg.content_length, [c.uri for c in msg.contact], [r.uri for r in msg.route],
         [r.uri for r in msg.record_route])
    if isinstance(msg, Request):
        uri = msg.uri
        if isinstance(uri, SipUri) and uri.headers:
            raise ParseError("headers are not allowed in a Request-URI (RFC 3261 §19.1.1)",
                             len(msg.method) + 1)
        if msg.cseq.method != msg.method:
            raise ParseError(f"CSeq method {msg.cseq.method} does not match {msg.method}", 0)
    date = msg.get("date")
    if date is not None and _DATE_RE.fullmatch(date) is None:
        raise ParseError(f"invalid Date {date[:40]!r} (RFC 3261 §20.17 wants GMT)", 0)
    expires = msg.get("expires")
    if expires is not None and (_DELTA_RE.fullmatch(expires) is None
                                or int(expires) >= 2**32):
        raise ParseError(f"invalid Expires {expires[:40]!r}", 0)
    for contact in msg.contact:
        value = contact.params.get("expires")
        if value is not None and (_DELTA_RE.fullmatch(value) is None or int(value) >= 2**32):
            raise ParseError(f"invalid Contact expires {value[:40]!r}", 0)
