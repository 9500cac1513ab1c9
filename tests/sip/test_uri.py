"""URIs: RFC 3261 §19.1 SIP/SIPS (parsing, escapes, §19.1.4 comparison with the RFC's own
examples), RFC 3966 tel URIs, and other absolute URIs."""

from __future__ import annotations

import attrs
import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip import AbsoluteUri, SipUri, TelUri, parse_uri


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def test_sip_uri_parts() -> None:
    u = sip("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x"
            "&priority=urgent")
    assert (u.scheme, u.user, u.password, u.host, u.port) == (
        "sips", "alice", "secret", "atlanta.example.com", 5061)
    assert u.secure and u.transport == "tcp" and u.lr
    assert u.params == {"transport": "tcp", "lr": None}
    assert u.headers == {"subject": "project x", "priority": "urgent"}
    assert str(u) == ("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr"
                      "?subject=project%20x&priority=urgent")


@pytest.mark.parametrize("text,host,port", [
    ("sip:192.0.2.4", "192.0.2.4", None),
    ("sip:bob@[2001:db8::1]:5070", "[2001:db8::1]", 5070),
    ("sip:[::1]", "[::1]", None),
    ("sip:example.com.", "example.com.", None),
])
def test_hosts(text: str, host: str, port: int | None) -> None:
    u = sip(text)
    assert (u.host, u.port) == (host, port)


def test_built_uri_escapes_what_it_must() -> None:
    u = SipUri(host="example.com", user="I have spaces", params={"transport": "tcp"})
    assert str(u) == "sip:I%20have%20spaces@example.com;transport=tcp"
    assert parse_uri(str(u)) == u
    v6 = SipUri(host="2001:db8::1", port=5060)
    assert str(v6) == "sip:[2001:db8::1]:5060"
    assert str(attrs.evolve(sip("sip:a@b.example.com"), port=5080)) == "sip:a@b.example.com:5080"


# RFC 3261 §19.1.4: "The URIs within each of the following sets are equivalent".
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
]
# "... and the URIs within each of the following sets are not equivalent".
DIFFERENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:bob@biloxi.com", "sips:bob@biloxi.com"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;maddr=239.255.255.1"),
    ("sip:bob@biloxi.com;user=phone", "sip:bob@biloxi.com"),
]


@pytest.mark.parametrize("a,b", EQUIVALENT)
def test_rfc3261_equivalent(a: str, b: str) -> None:
    assert parse_uri(a) == parse_uri(b) and parse_uri(b) == parse_uri(a)
    assert hash(parse_uri(a)) == hash(parse_uri(b))


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_rfc3261_not_equivalent(a: str, b: str) -> None:
    assert parse_uri(a) != parse_uri(b) and parse_uri(b) != parse_uri(a)


def test_ipv6_hosts_compare_as_addresses() -> None:
    assert parse_uri("sip:[2001:DB8::0:1]") == parse_uri("sip:[2001:db8::1]")


@pytest.mark.parametrize("text", [
    "sip:", "sip:@example.com", "sip:user@", "sip:user@exa mple.com", "sip:user@[2001:db8::1",
    "sip:user@[2001:db8::g]", "sip:host:99999", "sip:host:port", "sip:host;=x", "sip:host?x",
    "sip:us%er@host", "nonsense", ":x", "sip:user@host.example.com>",
    "sip:2001:db8::10",  # RFC 5118 §4.2: IPv6 without brackets
])
def test_invalid_sip_uris(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


# RFC 3966 §3, §5 examples; §4 comparison.
def test_tel_uris() -> None:
    g = parse_uri("tel:+1-201-555-0123")
    assert isinstance(g, TelUri) and g.is_global and g.digits == "+12015550123"
    local = parse_uri("tel:7042;phone-context=example.com")
    assert isinstance(local, TelUri) and not local.is_global
    assert local.phone_context == "example.com"
    other = parse_uri("tel:863-1234;phone-context=+1-914-555")
    assert isinstance(other, TelUri) and other.digits == "8631234"
    assert parse_uri("tel:+1-201-555-0123") == parse_uri("tel:+1.201.555.0123")
    assert parse_uri("tel:863-1234;phone-context=+1-914-555") == \
        parse_uri("tel:8631234;phone-context=+1914555")
    assert parse_uri("tel:+1234;ext=5;isub=x") == parse_uri("tel:+1234;isub=X;ext=5")
    assert parse_uri("tel:+1234") != parse_uri("tel:+1234;ext=5")
    assert str(g) == "tel:+1-201-555-0123"
    with pytest.raises(ParseError):
        parse_uri("tel:7042")  # RFC 3966 §5.1.5: local numbers need phone-context
    with pytest.raises(ParseError):
        parse_uri("tel:+12a;x")


def test_other_schemes_kept_as_text() -> None:
    u = parse_uri("urn:service:sos")
    assert isinstance(u, AbsoluteUri) and (u.scheme, u.rest) == ("urn", "service:sos")
    assert str(u) == "urn:service:sos" and u == parse_uri("URN:service:sos")
