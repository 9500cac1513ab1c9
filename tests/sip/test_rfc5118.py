"""RFC 5118 IPv6 torture messages (classification from RFC 5118 §4, see tests/data/rfc5118)."""

from __future__ import annotations

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip import Request, SipUri, parse_message, parse_uri
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

VECTORS = DATA / "rfc5118"
VALID = ["ipv6-good", "port-ambiguous", "port-unambiguous", "via-received-param-with-delim",
         "via-received-param-no-delim", "ipv6-in-sdp", "mult-ip-in-header", "mult-ip-in-sdp",
         "ipv4-mapped-ipv6", "ipv6-bug-abnf-3-colons", "ipv6-correct-abnf-2-colons"]


def load(name: str) -> bytes:
    return (VECTORS / f"{name}.dat").read_bytes()


def req(name: str) -> Request:
    msg = parse_message(load(name))
    assert isinstance(msg, Request)
    return msg


def sip(uri: object) -> SipUri:
    assert isinstance(uri, SipUri)
    return uri


def test_every_file_is_classified() -> None:
    assert {p.stem for p in VECTORS.glob("*.dat")} == set(VALID) | {"ipv6-bad"}


@pytest.mark.parametrize("name", VALID)
def test_valid_messages(name: str) -> None:
    data = load(name)
    msg = parse_message(data)
    msg.validate()
    # RFC 3261 §18.3: octets past Content-Length are not part of the message (the SDP
    # messages' Content-Length is smaller than their CRLF bodies, see the data README).
    assert msg.content_length == len(msg.body)
    end = data.find(b"\r\n\r\n") + 4 + len(msg.body)
    assert bytes(msg) == data[:end]
    assert end == len(data) or name in ("ipv6-in-sdp", "mult-ip-in-sdp", "ipv4-mapped-ipv6")


def test_4_1_ipv6_good() -> None:
    m = req("ipv6-good")
    assert (sip(m.uri).host, sip(m.uri).port) == ("[2001:db8::10]", None)
    assert m.via[0].host == "[2001:db8::9:1]" and m.via[0].port is None
    assert sip(m.contact[0].uri).host == "[2001:db8::1]"


def test_4_2_ipv6_bad_without_brackets() -> None:
    m = req("ipv6-bad")
    with pytest.raises(ParseError):
        m.uri
    with pytest.raises(ParseError):
        m.validate()


def test_4_3_port_ambiguous_is_part_of_the_address() -> None:
    uri = sip(req("port-ambiguous").uri)
    assert (uri.host, uri.port) == ("[2001:db8::10:5070]", None)


def test_4_4_port_unambiguous() -> None:
    uri = sip(req("port-unambiguous").uri)
    assert (uri.host, uri.port) == ("[2001:db8::10]", 5070)


def test_4_5_received_with_and_without_delimiters() -> None:
    assert req("via-received-param-with-delim").via[0].received == "[2001:db8::9:255]"
    assert req("via-received-param-no-delim").via[0].received == "2001:db8::9:255"


def test_4_6_to_4_9_addresses_in_headers_and_sdp() -> None:
    m = req("mult-ip-in-header")
    assert [(v.transport, v.host, v.port) for v in m.via] == [
        ("UDP", "[2001:db8::9:1]", 6050), ("UDP", "192.0.2.1", None),
        ("TCP", "[2001:db8::9:255]", None)]
    assert m.via[2].received == "192.0.2.200"
    assert b"c=IN IP6 2001:db8::20" in req("ipv6-in-sdp").body
    assert b"c=IN IP6 2001:db8::1" in req("mult-ip-in-sdp").body
    mapped = req("ipv4-mapped-ipv6")
    assert [(v.host, v.port) for v in mapped.via] == [("[::ffff:192.0.2.10]", 19823),
                                                      ("[::ffff:192.0.2.2]", None)]
    assert sip(mapped.contact[0].uri).host == "[::ffff:192.0.2.2]"
    assert mapped.contact[0].display_name == "T. desk phone"


def test_4_10_abnf_bug_tolerated_and_equal_to_correct_form() -> None:
    buggy, correct = req("ipv6-bug-abnf-3-colons"), req("ipv6-correct-abnf-2-colons")
    assert sip(buggy.uri).host == "[2001:db8:::192.0.2.1]"  # kept as received
    assert sip(correct.uri).host == "[2001:db8::192.0.2.1]"
    assert buggy.uri == correct.uri  # RFC 5118 §4.10: the same address
    assert buggy.to.uri == parse_uri("sip:user@[2001:db8::192.0.2.1]")


@pytest.mark.parametrize("name", ["ipv6-bug-abnf-3-colons", "ipv6-correct-abnf-2-colons"])
def test_4_10_as_printed_in_the_rfc_without_final_empty_line(name: str) -> None:
    # The RFC's text ends these messages after "Content-Length: 0" + CRLF; as a datagram that
    # has no end of header section, which we report rather than guess.
    data = load(name)
    assert data.endswith(b"Content-Length: 0\r\n\r\n")
    with pytest.raises(ParseError, match="empty line"):
        parse_message(data[:-2])
