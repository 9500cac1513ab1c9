"""RFC 4475 SIP torture tests: every message of the RFC's archive, classified as in its §3.

Valid messages (§3.1.1, §3.2, §3.3, §3.4) parse and expose the values asserted below.
Invalid messages (§3.1.2) raise ParseError: from ``parse_message`` when the start line or the
framing is broken, otherwise from the typed accessor of the broken header or from
``validate()`` (RFC 3261 semantic checks) — the RFC lets an element parse these far enough to
answer them (400, 505...), and the problem is then visible, never silently accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip import (
    AbsoluteUri,
    Message,
    Request,
    Response,
    SipUri,
    parse_message,
    parse_uri,
)
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

VECTORS = DATA / "rfc4475"


def load(name: str) -> bytes:
    return (VECTORS / f"{name}.dat").read_bytes()


def parse(name: str) -> Request | Response:
    return parse_message(load(name))


def req(name: str) -> Request:
    msg = parse(name)
    assert isinstance(msg, Request)
    return msg


def sip(uri: object) -> SipUri:
    assert isinstance(uri, SipUri)
    return uri


# §3.1.1 valid, §3.2 transaction-layer, §3.3 application-layer (syntactically valid), §3.4.
VALID = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
         "semiuri", "transports", "mpart01", "unreason", "noreason", "badbranch", "insuf",
         "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "multi01", "mcl01",
         "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01", "inv2543"]

# §3.1.2 invalid messages: where the problem shows up.
Check = Callable[[Message], object]
INVALID: dict[str, str | Check] = {
    "badinv01": lambda m: m.via,                 # 3.1.2.1  ";;,;,," in Via
    "clerr": "parse",                            # 3.1.2.2  Content-Length > datagram body
    "ncl": "parse",                              # 3.1.2.3  negative Content-Length
    "scalar02": lambda m: m.cseq,                # 3.1.2.4  CSeq number > 2**32
    "scalarlg": lambda m: m.cseq,                # 3.1.2.5  response CSeq overlarge
    "quotbal": lambda m: m.to,                   # 3.1.2.6  unterminated quoted string
    "ltgtruri": "parse",                         # 3.1.2.7  <> around the Request-URI
    "lwsruri": "parse",                          # 3.1.2.8  LWS inside the Request-URI
    "lwsstart": "parse",                         # 3.1.2.9  several SP in the Request-Line
    "trws": "parse",                             # 3.1.2.10 SP before CRLF in Request-Line
    "escruri": lambda m: m.validate(),           # 3.1.2.11 headers in the Request-URI
    "baddate": lambda m: m.validate(),           # 3.1.2.12 Date not in GMT
    "regbadct": lambda m: m.contact,             # 3.1.2.13 URI with '?' outside <>
    "badaspec": lambda m: m.to,                  # 3.1.2.14 spaces inside <>
    "baddn": lambda m: m.from_,                  # 3.1.2.15 non-token display name
    "badvers": lambda m: m.validate(),           # 3.1.2.16 SIP/7.0 (answer 505)
    "mismatch01": lambda m: m.validate(),        # 3.1.2.17 CSeq method != method
    "mismatch02": lambda m: m.validate(),        # 3.1.2.18 unknown method, CSeq mismatch
    "bigcode": "parse",                          # 3.1.2.19 status code 4294967301
    # Not in RFC 4475 §3 but in the archive: no SIP-Version on the request line, a header
    # line without a colon. Invalid by RFC 3261 §25.1.
    "test": "parse",
}


def test_every_archive_file_is_classified() -> None:
    names = {p.stem for p in VECTORS.glob("*.dat")}
    assert names == set(VALID) | set(INVALID)
    assert len(names) == 50


@pytest.mark.parametrize("name", VALID)
def test_valid_messages_parse_and_round_trip(name: str) -> None:
    data = load(name)
    msg = parse_message(data)
    # Unmodified messages serialize byte for byte (dblreq: only the first message is ours).
    assert data.startswith(bytes(msg))
    if name != "dblreq":
        assert bytes(msg) == data


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_messages_raise_parse_error(name: str) -> None:
    where = INVALID[name]
    if where == "parse":
        with pytest.raises(ParseError) as info:
            parse(name)
    else:
        assert callable(where)
        msg = parse(name)
        with pytest.raises(ParseError) as info:
            where(msg)
    assert info.value.reason and info.value.offset >= 0


@pytest.mark.parametrize("name", ["wsinv", "intmeth", "esc01", "escnull", "lwsdisp",
                                  "longreq", "semiuri", "transports", "mpart01",
                                  "badbranch", "bext01", "invut", "regaut01", "zeromf",
                                  "cparam01", "cparam02", "regescrt", "sdp01"])
def test_semantically_clean_requests_validate(name: str) -> None:
    req(name).validate()


# ---- §3.1.1 valid messages, value by value -----------------------------------------------


def test_wsinv_short_tortuous_invite() -> None:
    m = req("wsinv")
    assert m.method == "INVITE"
    uri = sip(m.uri)
    assert (uri.user, uri.host, uri.params) == ("vivekg", "chair-dnrc.example.com",
                                                {"unknownparam": None})
    assert str(m.to.uri) == "sip:vivekg@chair-dnrc.example.com"
    assert m.to.tag == "1918181833n"
    assert m.from_.display_name == 'J Rosenberg \\"'
    assert m.from_.tag == "98asjd8" and str(m.from_.uri) == "sip:jdrosen@example.com"
    assert m.max_forwards == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (m.cseq.number, m.cseq.method) == (9, "INVITE")
    assert m.content_length == 150 and len(m.body) == 150
    assert [(v.transport, v.host, v.branch) for v in m.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert m.get("s") == "" and m.get("subject") == ""
    assert m.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert m.content_type == "application/sdp"
    route = m.route
    assert len(route) == 1
    assert sip(route[0].uri).params == {"lr": None, "unknownwith": "value",
                                        "unknown-no-value": None}
    contact = m.contact[0]
    assert contact.display_name == 'Quoted string ""'
    assert str(contact.uri) == "sip:jdrosen@example.com"
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}


def test_intmeth_wide_range_of_valid_characters() -> None:
    m = req("intmeth")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.method == method and m.cseq.method == method and m.cseq.number == 139122385
    uri = sip(m.uri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert m.via[0].branch == "z9hG4bK-.!%66*_+`'~"
    assert m.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert sip(m.to.uri).user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.from_.params["fromparam''~+*_!.-%"] == '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.max_forwards == 255
    assert m.get("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"
    assert m.content_length == 0 and m.body == b""


def test_esc01_valid_escaping() -> None:
    m = req("esc01")
    uri = sip(m.uri)
    assert uri.user == "sips:user@example.com" and uri.host == "example.net"
    assert sip(m.to.uri).user == "user"
    assert m.to.uri == parse_uri("sip:user@example.com")  # RFC 3261 §19.1.4: escapes equal
    assert sip(m.from_.uri).user == "I have spaces" and m.from_.tag == "938"
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert m.content_type == "application/sdp"
    contact = sip(m.contact[0].uri)
    assert contact.user == "caller"
    assert contact.params == {"lr": None, "name": "value%41"}
    assert len(m.body) == 150


def test_escnull_escaped_nulls() -> None:
    m = req("escnull")
    assert sip(m.to.uri).user == "null-\x00-null"
    assert sip(m.from_.uri).user == "null-\x00-null"
    assert [sip(c.uri).user for c in m.contact] == ["\x00", "\x00\x00"]
    assert m.content_length == 0


def test_esc02_percent_that_is_not_an_escape() -> None:
    m = req("esc02")
    assert m.method == "RE%47IST%45R"  # a token: not unescaped, not REGISTER
    assert m.cseq.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45" and m.from_.display_name == "%Z%45"
    assert m.via[0].branch == "z9hG4bK209%fzsnel234"
    # "C%6Fntact" is another header, not Contact.
    assert [sip(c.uri).host for c in m.contact] == ["host1.example.com", "host3.example.com"]
    assert m.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_no_space_before_laquot() -> None:
    m = req("lwsdisp")
    assert m.from_.display_name == "caller" and m.from_.tag == "323"
    assert str(m.from_.uri) == "sip:caller@example.com"


def test_longreq_long_values() -> None:
    m = req("longreq")
    assert m.to.display_name is not None and "extremeextreme" in m.to.display_name
    to_uri = sip(m.to.uri)
    assert to_uri.port == 6000
    assert to_uri.params["unknownparam1"] == "very" + "long" * 20 + "value"
    assert m.from_.tag is not None and len(m.from_.tag) > 100
    vias = m.via
    assert len(vias) == 34
    assert vias[0].host == "sip33.example.com" and vias[32].host == "sip1.example.com"
    assert vias[33].received == "192.0.2.5"
    assert vias[33].branch == "very" + "long" * 50 + "branchvalue"
    assert m.content_length == 150 and len(m.body) == 150


def test_dblreq_extra_octets_ignored() -> None:
    data = load("dblreq")
    m = req("dblreq")
    assert m.method == "REGISTER" and m.content_length == 0 and m.body == b""
    assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert len(bytes(m)) < len(data) and not b"INVITE" in bytes(m)


def test_semiuri_semicolon_in_user_part() -> None:
    m = req("semiuri")
    uri = sip(m.uri)
    assert uri.user == "user;par=u@example.net" and uri.host == "example.com"
    assert uri.params == {}
    assert m.get_all("Accept") == ["application/sdp", "application/pkcs7-mime",
                                   "multipart/mixed", "multipart/signed", "message/sip",
                                   "message/sipfrag"]


def test_transports_varied_and_unknown() -> None:
    m = req("transports")
    assert [v.transport for v in m.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_multipart_body_with_binary() -> None:
    m = req("mpart01")
    assert m.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"
    assert m.content_length == 553 and len(m.body) == 553
    assert m.body.startswith(b"--7a9cbec02ceef655\r\n") and b"\x00" in m.body
    assert m.via[0].has_rport and m.via[0].port == 5070
    assert sip(m.route[0].uri).port == 5080


def test_unreason_utf8_reason_phrase() -> None:
    m = parse("unreason")
    assert isinstance(m, Response) and m.status_code == 200
    assert m.reason == ("= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e "
                        "\u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e "
                        "\u0434\u0435\u0432\u044f\u0442\u044c - "
                        "\u043f\u0440\u043e\u0441\u0442\u043e\u0435")
    assert len(m.body) == 154


def test_noreason_empty_reason_phrase() -> None:
    m = parse("noreason")
    assert isinstance(m, Response)
    assert (m.status_code, m.reason) == (100, "")
    assert m.to.tag == "902jndnke3"


# ---- §3.2 / §3.3 / §3.4: syntactically valid, semantics visible -------------------------


def test_badbranch_bare_magic_cookie() -> None:
    m = req("badbranch")
    assert m.via[0].branch == "z9hG4bK"  # the transaction layer decides (400 or RFC 2543)


def test_insuf_missing_required_headers() -> None:
    m = req("insuf")
    for accessor in ("call_id", "from_", "to"):
        with pytest.raises(ParseError, match="missing"):
            getattr(m, accessor)
    assert m.max_forwards is None
    with pytest.raises(ParseError, match="missing"):
        m.validate()


def test_unknown_and_novel_schemes() -> None:
    unk = req("unkscm").uri
    assert isinstance(unk, AbsoluteUri)
    assert (unk.scheme, unk.rest) == ("nobodyKnowsThisScheme", "totallyopaquecontent")
    novel = req("novelsc").uri
    assert isinstance(novel, AbsoluteUri) and novel.scheme == "soap.beep"
    assert novel.rest == "//192.0.2.103:3002"
    m = req("unksm2")
    assert m.to.uri == AbsoluteUri("isbn", "2983792873")
    assert m.from_.uri == AbsoluteUri("http", "//www.example.com") and m.from_.tag == "3234233"
    assert m.contact[0].uri == AbsoluteUri("name", "John_Smith")


def test_bext01_require_and_proxy_require() -> None:
    m = req("bext01")
    assert m.get_all("Require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.get_all("Proxy-Require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_invut_unknown_content_type() -> None:
    m = req("invut")
    assert m.content_type == "application/unknownformat"
    assert m.body.startswith(b"<audio>") and len(m.body) == 40


def test_regaut01_unknown_authorization_scheme() -> None:
    m = req("regaut01")
    assert m.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"
    assert m.content_length == 0


def test_multi01_multiple_single_value_headers() -> None:
    m = req("multi01")
    assert m.get_all("CSeq") == ["5 INVITE", "59 INVITE"]
    assert len(m.get_all("To")) == 2 and len(m.get_all("From")) == 2
    assert len(m.get_all("Call-ID")) == 2 and len(m.get_all("Max-Forwards")) == 2
    with pytest.raises(ParseError, match="more than once"):
        m.validate()


def test_mcl01_conflicting_content_length() -> None:
    m = req("mcl01")
    with pytest.raises(ParseError, match="conflicting Content-Length"):
        m.content_length
    with pytest.raises(ParseError):
        m.validate()


def test_bcast_broadcast_via() -> None:
    m = parse("bcast")
    assert isinstance(m, Response)
    assert [v.host for v in m.via] == ["192.0.2.198", "255.255.255.255"]


def test_zeromf_max_forwards_zero() -> None:
    assert req("zeromf").max_forwards == 0


def test_cparam_contact_parameters() -> None:
    c1 = req("cparam01").contact[0]
    # addr-spec form: the parameter belongs to the header, not the URI (RFC 3261 §20.10).
    assert c1.params == {"unknownparam": None}
    assert sip(c1.uri).params == {} and sip(c1.uri).user == "+19725552222"
    c2 = req("cparam02").contact[0]
    assert c2.params == {} and sip(c2.uri).params == {"unknownparam": None}


def test_regescrt_escaped_header_in_contact_uri() -> None:
    m = req("regescrt")
    uri = sip(m.contact[0].uri)
    assert uri.headers == {"Route": "<sip:sip.example.com>"}
    assert m.content_length == 0


def test_sdp01_accept_without_sdp() -> None:
    m = req("sdp01")
    assert m.get_all("Accept") == ["text/nobodyKnowsThis"]
    assert m.content_type == "application/sdp" and len(m.body) == 150


def test_inv2543_rfc2543_syntax() -> None:
    m = req("inv2543")
    assert m.via[0].branch is None and m.via[0].host == "iftgw.example.com"
    assert m.from_.tag is None and m.to.tag is None
    assert sip(m.to.uri).params == {}  # addr-spec: ";user=phone" is a header parameter
    assert m.to.params == {"user": "phone"}
    assert sip(m.from_.uri).params == {"user": "phone"}
    assert sip(m.record_route[0].uri).params == {"maddr": "ss1.example.com"}
    assert m.max_forwards is None and m.content_length is None
    assert m.body.startswith(b"v=0")


# ---- §3.1.2 invalid messages: the specific reasons -------------------------------------


def test_badinv01_contact_separators_also_rejected() -> None:
    m = req("badinv01")
    with pytest.raises(ParseError):
        m.contact


def test_scalar02_overlarge_fields() -> None:
    m = req("scalar02")
    with pytest.raises(ParseError, match="CSeq"):
        m.cseq
    with pytest.raises(ParseError, match="Max-Forwards"):
        m.max_forwards  # 300 > 255


def test_badvers_is_a_505() -> None:
    m = req("badvers")
    assert m.version == "SIP/7.0"
    with pytest.raises(ParseError, match="^505"):
        m.validate()


def test_escruri_headers_visible_in_uri() -> None:
    uri = sip(req("escruri").uri)
    assert uri.headers == {"Route": "<sip:example.com>"}


def test_mismatch_methods_visible() -> None:
    m1 = req("mismatch01")
    assert (m1.method, m1.cseq.method) == ("OPTIONS", "INVITE")
    m2 = req("mismatch02")
    assert (m2.method, m2.cseq.method) == ("NEWMETHOD", "INVITE")


def test_offsets_point_at_the_problem() -> None:
    data = load("lwsstart")
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.offset < data.find(b"\r\n")
    data = load("clerr")
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.offset == len(data)
    raw = load("quotbal")
    with pytest.raises(ParseError) as info:
        req("quotbal").to
    assert raw.find(b"\r\nTo:") < info.value.offset < raw.find(b"\r\nFrom:")
