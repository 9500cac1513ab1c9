"""Basic behaviour of the SIP message layer on realistic messages (RFC 3261 §7, §8.2.6, §20)."""

from __future__ import annotations

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip import (
    CSeq,
    NameAddr,
    Request,
    Response,
    SipUri,
    Via,
    make_response,
    parse_message,
)
from tests.conftest import DATA

SIP = DATA / "sip"


def load(name: str) -> bytes:
    return (SIP / name).read_bytes()


def test_invite_with_sdp_accessors() -> None:
    data = load("invite_sdp.sip")
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert msg.method == "INVITE"
    uri = msg.uri
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.port) == ("bob", "biloxi.example.com", None)
    assert len(msg.via) == 1
    via = msg.via[0]
    assert (via.transport, via.host, via.port) == ("UDP", "pc33.atlanta.example.com", 5060)
    assert via.branch == "z9hG4bK776asdhds"
    assert via.has_rport and via.rport is None and via.received is None
    assert msg.cseq == CSeq(314159, "INVITE")
    assert msg.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert msg.from_.display_name == "Alice Liddell"
    assert msg.from_.tag == "1928301774"
    assert str(msg.from_.uri) == "sip:alice@atlanta.example.com"
    assert msg.to.display_name == "Bob" and msg.to.tag is None
    assert [str(c.uri) for c in msg.contact] == ["sip:alice@pc33.atlanta.example.com:5060;transport=udp"]
    assert msg.max_forwards == 70
    assert msg.content_type == "application/sdp"
    assert msg.body.startswith(b"v=0\r\n") and msg.content_length == len(msg.body) == 262
    assert msg.get("allow") is not None
    assert msg.get_all("Allow")[:3] == ["INVITE", "ACK", "CANCEL"]
    assert msg.get_all("supported") == ["replaces", "timer", "100rel"]
    assert bytes(msg) == data


def test_response_accessors() -> None:
    data = load("ok_sdp.sip")
    msg = parse_message(data)
    assert isinstance(msg, Response)
    assert (msg.status_code, msg.reason) == (200, "OK")
    assert [v.host for v in msg.via] == ["server10.biloxi.example.com",
                                         "bigbox3.site3.atlanta.example.com",
                                         "pc33.atlanta.example.com"]
    assert msg.via[2].rport == 5060 and msg.via[2].received == "192.0.2.1"
    assert [str(r.uri) for r in msg.record_route] == ["sip:server10.biloxi.example.com;lr",
                                                      "sip:bigbox3.site3.atlanta.example.com;lr"]
    assert msg.to.tag == "a6c85cf"
    assert bytes(msg) == data


def test_compact_forms_and_case() -> None:
    data = (b"OPTIONS sip:a@example.com SIP/2.0\r\n"
            b"v: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
            b"f: <sip:b@example.com>;tag=x\r\nt: sip:a@example.com\r\ni: cid\r\n"
            b"CSEQ: 1 OPTIONS\r\nm: <sip:b@h.example.com>\r\nl: 0\r\n\r\n")
    msg = parse_message(data)
    assert msg.via[0].branch == "z9hG4bK1"
    assert msg.from_.tag == "x" and msg.call_id == "cid" and msg.cseq.number == 1
    assert msg.get("Call-ID") == "cid" and msg.get("i") == "cid" and "content-length" in msg
    assert msg.content_length == 0 and len(msg.contact) == 1


def test_edit_serializes_canonically_and_recomputes_content_length() -> None:
    msg = parse_message(load("invite_sdp.sip"))
    msg.add("Via", Via(transport="TCP", host="proxy.example.com", params={"branch": "z9hG4bKp"}),
            first=True)
    msg.body = b"v=0\r\n"
    out = bytes(msg)
    again = parse_message(out)
    assert [v.branch for v in again.via] == ["z9hG4bKp", "z9hG4bK776asdhds"]
    assert again.content_length == 5 and again.body == b"v=0\r\n"
    assert b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp\r\n" in out
    assert msg.remove_first_value("via") == "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp"
    assert [v.branch for v in msg.via] == ["z9hG4bK776asdhds"]
    msg.set("Max-Forwards", 69)
    assert parse_message(bytes(msg)).max_forwards == 69
    assert msg.remove("Contact") == 1 and msg.contact == []


def test_build_request_and_response() -> None:
    req = Request("OPTIONS", "sip:bob@example.com", [
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport"),
        ("Max-Forwards", 70),
        ("From", NameAddr(SipUri(host="example.com", user="alice"), "Alice", {"tag": "t1"})),
        ("To", NameAddr("sip:bob@example.com")),
        ("Call-ID", "c1@192.0.2.1"),
        ("CSeq", CSeq(7, "OPTIONS")),
    ])
    data = bytes(req)
    assert data.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP ")
    assert data.endswith(b"Content-Length: 0\r\n\r\n")
    parsed = parse_message(data)
    assert isinstance(parsed, Request)
    assert parsed.from_.display_name == "Alice" and parsed.from_.tag == "t1"
    resp = make_response(parsed, 200, to_tag="srv")
    assert (resp.status_code, resp.reason) == (200, "OK")
    wire = parse_message(bytes(resp))
    assert wire.via[0].branch == "z9hG4bKabc"
    assert wire.to.tag == "srv" and wire.from_.tag == "t1"
    assert wire.cseq == CSeq(7, "OPTIONS") and wire.call_id == "c1@192.0.2.1"
    assert make_response(parsed, 100).to.tag is None  # RFC 3261 §8.2.6.2: no tag on 100


@pytest.mark.parametrize("data", [
    b"",
    b"INVITE sip:a@b SIP/2.0\r\n",
    b"INVITE  sip:a@b SIP/2.0\r\n\r\n",
    b"SIP/2.0 2000 OK\r\n\r\n",
    b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc",
    b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
])
def test_bad_messages_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.offset >= 0 and info.value.reason
