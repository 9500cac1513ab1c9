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

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

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


def test_make_response_record_route_timestamp_and_existing_tag() -> None:
    invite = parse_message(load("invite_sdp.sip"))
    assert isinstance(invite, Request)
    invite.add("Record-Route", "<sip:p1.example.com;lr>")
    invite.add("Record-Route", "<sip:p2.example.com;lr>")
    invite.add("Timestamp", "54")
    ringing = parse_message(bytes(make_response(invite, 180, to_tag="t1")))
    assert [str(r.uri) for r in ringing.record_route] == ["sip:p1.example.com;lr",
                                                          "sip:p2.example.com;lr"]
    trying = parse_message(bytes(make_response(invite, 100)))
    assert trying.get("Timestamp") == "54" and trying.record_route == []
    busy = parse_message(bytes(make_response(invite, 486)))
    assert busy.record_route == [] and busy.get("Timestamp") is None  # §12.1.1 only 101-299
    bye = parse_message(load("bye.sip"))
    assert isinstance(bye, Request)
    ok = parse_message(bytes(make_response(bye, 200, "Fine", to_tag="other")))
    assert isinstance(ok, Response) and ok.reason == "Fine"
    assert ok.to.tag == "1928301774"  # an existing To tag is kept (§8.2.6.2)


def test_set_get_all_and_contact_star() -> None:
    msg = parse_message(b"REGISTER sip:r.example.com SIP/2.0\r\nContact: *\r\n"
                        b"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, "
                        b"SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\nl: 0\r\n\r\n")
    assert msg.contact_star and msg.contact == []
    assert msg.get_all("via", split=False) == [
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2"]
    assert [v.branch for v in msg.via] == ["z9hG4bK1", "z9hG4bK2"]
    assert msg.top_via.host == "a.example.com"
    assert msg.remove_first_value("Via") == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"
    assert msg.top_via.host == "b.example.com"
    msg.set("Contact", ["<sip:a@h1>", "<sip:b@h2>;expires=0"])
    assert not msg.contact_star
    assert [c.params for c in msg.contact] == [{}, {"expires": "0"}]
    assert msg.header_lines[0] == "Contact: <sip:a@h1>"
    assert msg.get("CONTENT-LENGTH") == "0" and msg.get("nope", "d") == "d"
    out = bytes(msg)
    assert out.endswith(b"\r\nl: 0\r\n\r\n")  # a correct compact Content-Length is kept
    with pytest.raises(ValueError):
        msg.set("X-Bad", "a\r\nInjected: yes")
    with pytest.raises(ValueError):
        msg.add("Bad Name", "x")


def test_request_line_edits_serialize() -> None:
    msg = parse_message(load("bye.sip"))
    assert isinstance(msg, Request)
    msg.uri = "sip:alice@192.0.2.9:5070;transport=tcp"
    msg.method = "OPTIONS"
    again = parse_message(bytes(msg))
    assert isinstance(again, Request) and again.method == "OPTIONS"
    assert isinstance(again.uri, SipUri) and again.uri.port == 5070
    resp = parse_message(load("ok_sdp.sip"))
    assert isinstance(resp, Response)
    resp.status_code, resp.reason = 202, "Accepted"
    assert bytes(resp).startswith(b"SIP/2.0 202 Accepted\r\n")


def test_folded_and_compact_headers_round_trip_and_unfold() -> None:
    data = (b"OPTIONS sip:a@b.example.com SIP/2.0\r\nSubject: one\r\n two\r\n\tthree\r\n"
            b"v : SIP/2.0/UDP h.example.com\r\n ;branch=z9hG4bKx\r\nl: 0\r\n\r\n")
    msg = parse_message(data)
    assert msg.get("subject") == "one two three"
    assert msg.top_via.branch == "z9hG4bKx"
    assert bytes(msg) == data
    msg.add("X-New", "1")
    out = bytes(msg)
    assert b"Subject: one\r\n two\r\n\tthree\r\n" in out  # untouched lines keep their text
    assert out.endswith(b"l: 0\r\nX-New: 1\r\n\r\n")


def test_first_header_wins_whatever_its_spelling() -> None:
    # RFC 3261 §7.3.1: names are case-insensitive and compact forms equal the long ones, so
    # the top Via is the first of "via", "VIA", "v"... lines, wherever "Via" itself appears.
    msg = parse_message(b"OPTIONS sip:a@example.com SIP/2.0\r\n"
                        b"VIA: SIP/2.0/UDP first.example.com;branch=z9hG4bK1\r\n"
                        b"v: SIP/2.0/TCP second.example.com;branch=z9hG4bK2\r\n"
                        b"Via: SIP/2.0/UDP third.example.com;branch=z9hG4bK3\r\n"
                        b"t: <sip:a@example.com>\r\nFROM: <sip:b@example.com>;tag=f1\r\n"
                        b"f: <sip:c@example.com>;tag=f2\r\ni: c1\r\nCall-ID: c2\r\n"
                        b"cseq: 4 OPTIONS\r\nl: 0\r\n\r\n")
    assert (msg.top_via.host, msg.top_via.branch) == ("first.example.com", "z9hG4bK1")
    assert [v.branch for v in msg.via] == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
    assert msg.from_.tag == "f1" and msg.call_id == "c1" and msg.cseq == CSeq(4, "OPTIONS")
    assert msg.get_all("call-id") == ["c1", "c2"]


@pytest.mark.parametrize("line, accessor", [
    (b"CSeq: 1 INVITE extra", "cseq"),                              # §20.16: number and method
    (b"CSeq: 2147483648 INVITE", "cseq"),                          # §8.1.1.5: below 2**31
    (b"Via: SIP/2.0/UDP h.example.com:70000;branch=z9hG4bK1", "top_via"),
    (b"Via: SIP/2.0/UDP h.example.com;rport=65536", "top_via"),    # RFC 3581 port range
    (b"Via: SIP/2.0/UDP h.example.com;received=1.2.3", "top_via"),  # §20.42: an address
    (b"Via: SIP/2.0/UDP -h.example.com", "top_via"),               # §25.1 hostname
    (b"To: <sip:a@b.example.com>;tag=1 junk", "to"),
    (b"From: Bob <sip:a @b.example.com>", "from_"),                # RFC 4475 §3.1.2.14
    (b"Call-ID: two words", "call_id"),
])
def test_usual_looking_values_still_checked(line: bytes, accessor: str) -> None:
    msg = parse_message(b"OPTIONS sip:a@example.com SIP/2.0\r\n" + line + b"\r\nl: 0\r\n\r\n")
    with pytest.raises(ParseError):
        getattr(msg, accessor)


def test_parsed_via_and_name_addr_behave_like_built_ones() -> None:
    import pickle

    import attrs

    msg = parse_message(load("invite_sdp.sip"))
    via = msg.top_via
    built = Via("UDP", "pc33.atlanta.example.com", 5060,
                {"branch": "z9hG4bK776asdhds", "rport": None})
    assert via == built and repr(via) == repr(built) and str(via) == str(built)
    assert pickle.loads(pickle.dumps(msg.top_via)) == built
    assert attrs.evolve(msg.via[0], port=5070).port == 5070
    frm = msg.from_
    assert frm == NameAddr("sip:alice@atlanta.example.com", "Alice Liddell", {"tag": "1928301774"})
    assert str(frm) == '"Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774'
    assert frm.with_params(tag="x").tag == "x" and frm.tag == "1928301774"
    with pytest.raises(AttributeError):
        getattr(via, "no_such_field")


def test_reads_after_edits_see_the_edits() -> None:
    msg = parse_message(load("bye.sip"))
    assert msg.cseq.number == 231 and msg.get("max-forwards") == "70"
    msg.set("CSeq", CSeq(232, "BYE"))
    msg.add("Via", "SIP/2.0/TCP p.example.com;branch=z9hG4bKp", first=True)
    assert msg.cseq.number == 232 and msg.top_via.branch == "z9hG4bKp"
    assert [v.branch for v in msg.via] == ["z9hG4bKp", "z9hG4bKnashds10"]
    again = parse_message(bytes(msg))
    assert again.cseq.number == 232 and again.top_via.branch == "z9hG4bKp"
