"""Framing SIP messages on byte streams: TCP, TLS, WebSocket (RFC 3261 §18.3, RFC 5626 §3.5.1).

Feed bytes as they arrive; whole messages come out. On a stream, Content-Length is mandatory
and frames the body (§18.3); duplicate or conflicting Content-Length headers, oversized
messages and too many header lines are framing errors. A framing error is raised once as
:class:`ParseError`; the framer then stays broken (the connection should be closed).
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

from rvoip_sansio._core import ParseError

from ._message import Request, Response, parse_message

__all__ = ["StreamFramer", "KeepAlive"]

_CL_RE = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_DIGITS_RE = re.compile(rb"[0-9]{1,10}[ \t]*")


@attrs.frozen(kw_only=True)
class KeepAlive:
    """A CRLF keep-alive (RFC 5626 §3.5.1): ``ping`` is a double CRLF (client to server; answer
    it with a single CRLF), ``pong`` a single CRLF."""

    kind: Literal["ping", "pong"]


@attrs.define(slots=True, init=False)
class StreamFramer:
    """Split a SIP byte stream into messages and keep-alives.

    ``client=True`` is for the connection's client side, which sends pings: every CRLF it
    receives is a pong. On the server side a double CRLF is a ping and a lone CRLF before a
    message is a pong; a lone CRLF at the end of the buffer waits for the next byte.
    """

    max_message_size: int
    max_headers: int
    client: bool
    _buf: bytearray
    _scanned: int
    _lines: int
    _error: ParseError | None
    _consumed: int

    def __init__(self, *, max_message_size: int = 65536, max_headers: int = 256,
                 client: bool = False) -> None:
        self.max_message_size = max_message_size
        self.max_headers = max_headers
        self.client = client
        self._buf = bytearray()
        self._scanned = 0
        self._lines = 0
        self._error = None
        self._consumed = 0

    @property
    def buffered(self) -> int:
        """Octets held waiting for the rest of a message."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Request | Response | KeepAlive]:
        """Add received bytes; return every complete message or keep-alive, in order.

        A framing or parse error is raised as ParseError (offset counted from the start of the
        stream); when messages were completed before the error in the same call, they are
        returned and the error is raised by the next call.
        """
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[Request | Response | KeepAlive] = []
        try:
            while True:
                item = self._next()
                if item is None:
                    return out
                out.append(item)
        except ParseError as exc:
            self._error = exc
            self._buf = bytearray()
            if out:
                return out
            raise

    def _fail(self, reason: str, offset: int) -> ParseError:
        return ParseError(reason, self._consumed + offset)

    def _take(self, n: int) -> bytes:
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        self._consumed += n
        self._scanned = 0
        self._lines = 0
        return chunk

    def _next(self) -> Request | Response | KeepAlive | None:
        buf = self._buf
        if buf[:2] == b"\r\n":
            if self.client:
                self._take(2)
                return KeepAlive(kind="pong")
            if buf[:4] == b"\r\n\r\n":
                self._take(4)
                return KeepAlive(kind="ping")
            if len(buf) < 4 and bytes(buf[2:]) in (b"", b"\r"):
                return None  # could still become a ping
            self._take(2)
            return KeepAlive(kind="pong")
        end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            # Count only what is new, so a slow drip stays linear.
            self._lines += buf.count(b"\r\n", max(0, self._scanned - 1))
            self._scanned = len(buf)
            if len(buf) > self.max_message_size:
                raise self._fail(f"headers exceed {self.max_message_size} octets", len(buf))
            if self._lines > self.max_headers + 1:
                raise self._fail(f"more than {self.max_headers} header lines", len(buf))
            return None
        head = bytes(buf[:end])
        if head.count(b"\r\n") > self.max_headers:
            raise self._fail(f"more than {self.max_headers} header lines", end)
        values = _CL_RE.findall(head)
        if not values:
            raise self._fail("missing Content-Length on a stream transport (RFC 3261 §18.3)",
                             end)
        if len(values) > 1:
            raise self._fail("duplicate Content-Length headers", end)
        if not _DIGITS_RE.fullmatch(values[0]):
            raise self._fail(f"invalid Content-Length {values[0][:20]!r}", end)
        length = int(values[0])
        total = end + 4 + length
        if total > self.max_message_size:
            raise self._fail(f"message of {total} octets exceeds {self.max_message_size}", end)
        if len(buf) < total:
            self._scanned = end  # the next feed finds this end again at once
            return None
        base = self._consumed
        data = self._take(total)
        try:
            return parse_message(data)
        except ParseError as exc:
            raise ParseError(exc.reason, base + exc.offset) from None
