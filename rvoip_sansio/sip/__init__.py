"""rvoip_sansio.sip: the SIP message layer (RFC 3261 §7, §19, §20, §25; RFC 3966; RFC 5626).

Public API (stable names)::

    parse_message(data) -> Request | Response     # one datagram; ParseError on bad input
    ParseError                                    # .offset, .reason (also a ValueError)
    Request(method, uri, headers=[(name, value)...], body=b"")   # build a request
    Response(status_code, reason=None, headers=..., body=b"")
    make_response(request, code, reason=None, *, to_tag=None, headers=(), body=b"")

    msg.via -> list[Via]          Via.transport .host .port .branch .received .rport
                                  .has_rport .params .protocol .sent_by
    msg.cseq -> CSeq              .number .method
    msg.call_id -> str
    msg.from_, msg.to -> NameAddr .display_name .uri .uri_text .tag .params .with_params()
    msg.contact -> list[NameAddr] msg.contact_star -> bool  (``Contact: *``)
    msg.route, msg.record_route -> list[NameAddr]
    msg.max_forwards -> int | None, msg.content_type -> str | None,
    msg.content_length -> int | None, msg.body -> bytes (settable), msg.version
    msg.get(name), msg.get_all(name, split=None), name in msg, msg.headers, msg.header_lines
    msg.set(name, value | [values]), msg.add(name, value, first=False), msg.remove(name),
    msg.remove_first_value(name)
    msg.top_via -> Via            (the first Via only, parsed alone)
    Other typed headers (parsed on each read, None / [] when absent; _accessors.py):
    msg.expires, .min_expires, .min_se, .rseq -> int | None;  msg.date -> SipDate;
    msg.require, .proxy_require, .supported, .unsupported, .allow, .content_encoding,
    .allow_events, .privacy -> list[str];  msg.accept -> list[MediaType];
    msg.media_type -> MediaType (Content-Type);  msg.content_disposition;  msg.retry_after;
    msg.session_expires;  msg.rack;  msg.event -> EventHeader;  msg.subscription_state;
    msg.refer_to, msg.referred_by -> NameAddr;  msg.reasons -> list[Reason];
    msg.p_asserted_identity, msg.p_preferred_identity -> list[NameAddr];
    msg.replaces -> Replaces;  msg.timestamp;  msg.user_agent, msg.server -> list[Product]
    (str() of each value is its header text; set()/add() take them; SipDate.from_datetime)
    msg.multipart -> Multipart | None   (RFC 2046 / RFC 5621 bodies: .parts, .find(mime),
                                         .walk(), .by_content_id(); BodyPart .headers .body
                                         .multipart (nested) .decoded())
    Multipart(parts, boundary, subtype="mixed"): bytes(mp), mp.content_type;
    BodyPart.of(content_type, body_or_multipart, *headers); parse_multipart(body, ctype);
    make_boundary(rng)
    msg.validate()                # ParseError for semantic problems (missing mandatory
                                  # headers, repeated single-value headers, CSeq/method
                                  # mismatch, version != SIP/2.0 ("505 ..."), bad Date...)
    bytes(msg)                    # byte-identical when unmodified; else canonical edits
                                  # with Content-Length recomputed
    Request.method .uri .uri_text (settable);  Response.status_code .reason (settable)

    parse_uri(text) -> SipUri | TelUri | AbsoluteUri   (equality per RFC 3261 §19.1.4 /
                                                        RFC 3966 §4)
    SipUri(host, user=None, password=None, port=None, params={}, headers={}, scheme="sip")
    TelUri(number, params={});  AbsoluteUri(scheme, rest)
    Via, CSeq, NameAddr and parse_via / parse_cseq / parse_name_addr for single values,
    split_list(value), canonical_name(name), COMPACT_FORMS, REASON_PHRASES

    StreamFramer(max_message_size=65536, max_headers=256)   # TCP/TLS/WebSocket byte streams
        .feed(data) -> list[Request | Response | KeepAlive]   (KeepAlive: RFC 5626 §3.5.1)

Typed accessors parse their header on first use and cache the result; a malformed header
raises ParseError from the accessor, with the offset of the problem in the message.
"""

from rvoip_sansio._core import ParseError

from ._build import make_response
from ._framer import KeepAlive, StreamFramer
from ._headers import (
    COMPACT_FORMS,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    parse_cseq,
    parse_name_addr,
    parse_via,
    split_list,
)
from ._hdrext import (
    EventHeader,
    Reason,
    Replaces,
    SubscriptionState,
    parse_replaces,
)
from ._hdrvalues import (
    ContentDisposition,
    MediaType,
    Product,
    RAck,
    RetryAfter,
    SessionExpires,
    SipDate,
    Timestamp,
    parse_media_type,
)
from ._multipart import BodyPart, Multipart, make_boundary, parse_multipart
from ._message import REASON_PHRASES, HeaderValue, Message, Request, Response, parse_message
from ._uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from ._validate import validate

__all__ = [
    "ParseError",
    "parse_message",
    "Message",
    "Request",
    "Response",
    "HeaderValue",
    "make_response",
    "REASON_PHRASES",
    "Via",
    "CSeq",
    "NameAddr",
    "parse_via",
    "parse_cseq",
    "parse_name_addr",
    "split_list",
    "canonical_name",
    "COMPACT_FORMS",
    "Uri",
    "SipUri",
    "TelUri",
    "AbsoluteUri",
    "parse_uri",
    "StreamFramer",
    "KeepAlive",
    "validate",
    "MediaType",
    "ContentDisposition",
    "SipDate",
    "RetryAfter",
    "SessionExpires",
    "RAck",
    "EventHeader",
    "SubscriptionState",
    "Reason",
    "Replaces",
    "Timestamp",
    "Product",
    "parse_media_type",
    "parse_replaces",
    "BodyPart",
    "Multipart",
    "parse_multipart",
    "make_boundary",
]
