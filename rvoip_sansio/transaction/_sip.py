"""The transaction layer's view of the message layer: every use of ``rvoip_sansio.sip`` that
builds or edits messages lives here (ACK, CANCEL, 100, stateless 400/503, Via handling).
"""

from __future__ import annotations

import re

from rvoip_sansio._core import Address, ParseError
from rvoip_sansio.sip import (
    REASON_PHRASES,
    Request,
    Response,
    SipUri,
    Via,
    make_response,
    parse_message,
    parse_via,
)

__all__ = [
    "Request",
    "Response",
    "Via",
    "parse_message",
    "make_response",
    "MAGIC_COOKIE",
    "build_ack",
    "build_cancel",
    "response_address",
    "stamp_received",
    "default_port",
    "strip_brackets",
    "request_destination",
    "reconnect_address",
    "stateless_reply",
]

#: RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this.
MAGIC_COOKIE = "z9hG4bK"


#: The transports that run over TLS (RFC 3261 §26.2 sips:, RFC 7118 WSS).
SECURE_TRANSPORTS = frozenset({"TLS", "WSS"})


def default_port(transport: str) -> int:
    return 5061 if transport.upper() in SECURE_TRANSPORTS else 5060


def strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def build_ack(request: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the Request-URI, Call-ID,
    From, CSeq number and the single top Via of the request, the To of the response, and the
    request's Route headers."""
    return _derived(request, "ACK", response.get("to") or "")


def build_cancel(request: Request) -> Request:
    """The CANCEL for a pending request (RFC 3261 §9.1): same Request-URI, Call-ID, To, From,
    CSeq number, Route headers and a single Via equal to the request's top Via."""
    return _derived(request, "CANCEL", request.get("to") or "")


def _derived(request: Request, method: str, to: str) -> Request:
    headers: list[tuple[str, str]] = [("Via", _top_via_text(request))]
    headers.extend(("Route", v) for v in request.get_all("route", split=False))
    headers.append(("Max-Forwards", "70"))
    headers.append(("From", request.get("from") or ""))
    headers.append(("To", to))
    headers.append(("Call-ID", request.call_id))
    headers.append(("CSeq", f"{request.cseq.number} {method}"))
    return Request(method, request.uri_text, headers)


def _top_via_text(message: Request | Response) -> str:
    values = message.get_all("via")
    if not values:
        raise ParseError("missing Via header", 0)
    return values[0]


def stamp_received(request: Request, source: Address) -> Via:
    """RFC 3261 §18.2.1 and RFC 3581 §4: note the source address in the top Via.

    ``received`` is added when sent-by's host differs from the source IP, or whenever the
    client asked for ``rport`` (whose value becomes the source port). The message is edited
    only when something changes; returns the (possibly new) top Via.
    """
    top = request.top_via
    host, port = source
    needs_received = strip_brackets(top.host) != host
    if not (needs_received or top.has_rport):
        return top
    params = dict(top.params)
    params["received"] = host
    if top.has_rport:
        params["rport"] = str(port)
    new = Via(transport=top.transport, host=top.host, port=top.port, params=params,
              protocol=top.protocol)
    request.remove_first_value("via")
    request.add("Via", new, first=True)
    return new


def response_address(via: Via, source: Address, reliable: bool) -> Address:
    """Where responses go (RFC 3261 §18.2.2, RFC 3581 §4)."""
    if reliable:
        return source  # back over the connection the request came on
    maddr = via.maddr
    port = via.port or default_port(via.transport)
    if maddr:
        return (strip_brackets(maddr), port)
    received = via.received
    if received:
        rport = via.rport
        return (strip_brackets(received), rport if rport else port)
    return (strip_brackets(via.host), port)


def reconnect_address(via: Via) -> Address:
    """RFC 3261 §18.2.2 for reliable transports whose connection is gone: the ``received``
    address (else sent-by's host) with the sent-by port or the transport's default (never
    ``rport``, which named the closed connection's port)."""
    host = via.received or via.host
    return (strip_brackets(host), via.port or default_port(via.transport))


def request_destination(request: Request, transport: str) -> Address:
    """Next hop of a request without DNS (RFC 3261 §8.1.2): the top Route's URI when the
    route set is loose, else the Request-URI; maddr, then host; port or the default."""
    routes = request.route
    uri = routes[0].uri if routes else request.uri
    if not isinstance(uri, SipUri):
        raise ParseError(f"cannot send to a non-SIP URI {uri}", 0)
    port = uri.port or (5061 if uri.secure else default_port(transport))
    host = uri.params.get("maddr") or uri.host
    return (strip_brackets(host), port)


# ---- stateless answers from raw bytes ---------------------------------------------------

_REQUEST_LINE_RE = re.compile(rb"([A-Za-z0-9\-.!%*_+`'~]+) +[^ \r\n]+ +SIP/[0-9.]+\s*$")
_HEADER_LINE_RE = re.compile(rb"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*?)[ \t]*")
_COPIED = {
    b"via": b"Via", b"v": b"Via", b"from": b"From", b"f": b"From", b"to": b"To", b"t": b"To",
    b"call-id": b"Call-ID", b"i": b"Call-ID", b"cseq": b"CSeq",
}
_PRINTABLE_RE = re.compile(r"[^ -~]")


def stateless_reply(
    data: bytes, source: Address, code: int, reason: str, to_tag: str, reliable: bool,
    extra: tuple[tuple[str, str], ...] = (),
) -> tuple[bytes, Address] | None:
    """A stateless response built from the raw bytes of a request we could not (or will
    not) process: its Via, From, To, Call-ID and CSeq lines are copied verbatim (RFC 3261
    §8.2.6.2), the reason phrase says why. None when the datagram is not a request (or is an
    ACK), or when too little can be read: a Via whose address we can find and a CSeq."""
    head_end = data.find(b"\r\n\r\n")
    head = data if head_end < 0 else data[:head_end]
    first_end = head.find(b"\r\n")
    if first_end < 0:
        return None
    m = _REQUEST_LINE_RE.match(head[:first_end])
    if m is None or m.group(1).upper() == b"ACK":
        return None
    copied: list[tuple[bytes, bytes]] = []
    for text in head[first_end + 2 :].split(b"\r\n"):
        line = _HEADER_LINE_RE.fullmatch(text)
        if line is None:
            continue  # folded or broken lines are not copied
        name = _COPIED.get(line.group(1).lower())
        if name is not None:
            copied.append((name, line.group(2)))
    vias = [v for n, v in copied if n == b"Via"]
    if not vias or not any(n == b"CSeq" for n, _ in copied):
        return None
    try:
        top = parse_via(vias[0].split(b",")[0].decode("utf-8", "strict"))
    except (ParseError, UnicodeDecodeError):
        return None
    if top.has_rport or strip_brackets(top.host) != source[0]:
        params = dict(top.params)
        params["received"] = source[0]
        if top.has_rport:
            params["rport"] = str(source[1])
        top = Via(transport=top.transport, host=top.host, port=top.port, params=params,
                  protocol=top.protocol)
    dest = response_address(top, source, reliable)
    phrase = _PRINTABLE_RE.sub("?", f"{REASON_PHRASES.get(code, '')} ({reason})")[:120]
    out = [b"SIP/2.0 %d %s" % (code, phrase.encode("ascii"))]
    for name, value in copied:
        if name == b"To" and b";tag=" not in value.lower():
            value += b";tag=" + to_tag.encode("ascii")
        out.append(name + b": " + value)
    out.extend(f"{n}: {v}".encode("utf-8") for n, v in extra)
    out.append(b"Content-Length: 0")
    return b"\r\n".join(out) + b"\r\n\r\n", dest
