"""Multipart bodies (RFC 2046 §5.1, RFC 5621): the RFC 4475 §3.1.1.11 message, nested
multipart/mixed + multipart/alternative, cross-checks against Python's ``email`` package (a
MIME implementation nobody here wrote) in both directions, round trips, errors and fuzz."""

from __future__ import annotations

import email
import email.policy
import random
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sip import (
    BodyPart,
    Multipart,
    Request,
    make_boundary,
    parse_message,
    parse_multipart,
)
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_rfc4475_mpart01_multipart_with_binary_part() -> None:
    """RFC 4475 §3.1.1.11: a MESSAGE whose multipart/mixed body holds a text part and a
    binary (DER-encoded PKCS #7) part, Content-Transfer-Encoding binary."""
    m = parse_message((DATA / "rfc4475" / "mpart01.dat").read_bytes())
    mp = m.multipart
    assert mp is not None
    assert (mp.subtype, mp.boundary, mp.preamble, mp.epilogue) == (
        "mixed", "7a9cbec02ceef655", b"", b"")
    text, der = mp.parts
    assert text.headers == (("Content-Type", "text/plain"),
                            ("Content-Transfer-Encoding", "binary"))
    assert text.body == b"Hello" and text.decoded() == b"Hello"
    assert der.media_type.mime == "application/octet-stream"
    # The part is exactly one DER SEQUENCE: its own long-form length octets (0x82 LL LL)
    # announce the 4-octet header plus the content we cut out.
    assert der.body[:2] == b"\x30\x82"
    assert 4 + int.from_bytes(der.body[2:4], "big") == len(der.body)
    assert mp.find("application/octet-stream") is der and mp.find("image/png") is None
    # And the framing: both parts, the delimiters and the CRLF after the close delimiter
    # add up to Content-Length (553).
    assert m.body.endswith(b"\r\n--7a9cbec02ceef655--\r\n")
    delimiters = len(b"--7a9cbec02ceef655\r\n") + 2 * len(b"\r\n--7a9cbec02ceef655") + 2 + 2 + 2
    assert len(bytes(text)) + len(bytes(der)) + delimiters == m.content_length == 553


def _sdp_with_alternative() -> Multipart:
    inner = Multipart([BodyPart.of("text/plain", b"Join us\r\n"),
                       BodyPart.of("text/html; charset=utf-8", b"<p>Join us</p>\r\n")],
                      "boundary2", "alternative")
    return Multipart([
        BodyPart.of("application/sdp", b"v=0\r\no=alice 2890844526 2890844526 IN IP4 "
                    b"atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\n"
                    b"m=audio 49172 RTP/AVP 0\r\n"),
        BodyPart.of(None, inner, ("Content-Disposition", "render;handling=optional"),
                    ("Content-ID", "<text-1@atlanta.example.com>")),
    ], "boundary1")


def test_nested_mixed_and_alternative_in_a_message() -> None:
    mp = _sdp_with_alternative()
    req = Request("INVITE", "sip:bob@biloxi.example.com", [
        ("Content-Type", mp.content_type)], bytes(mp))
    parsed = parse_message(bytes(req))
    got = parsed.multipart
    assert got == mp
    sdp = got.find("application/sdp")
    assert sdp is not None and sdp.body.startswith(b"v=0\r\n")
    alt = got.parts[1]
    assert alt.multipart is not None and alt.multipart.subtype == "alternative"
    cd = alt.content_disposition
    assert cd is not None and cd.handling == "optional"
    assert got.by_content_id("cid:text-1@atlanta.example.com") is alt
    html = got.find("text/html")
    assert html is not None and html.media_type.charset == "utf-8"
    assert [p.media_type.mime for p in got.walk()] == [
        "application/sdp", "multipart/alternative", "text/plain", "text/html"]


def test_stdlib_email_reads_what_we_build() -> None:
    mp = _sdp_with_alternative()
    ref = email.message_from_bytes(b"Content-Type: " + mp.content_type.encode() + b"\r\n\r\n"
                                   + bytes(mp), policy=email.policy.compat32)
    leaves = [(p.get_content_type(), p.get_payload()) for p in ref.walk()
              if not p.is_multipart()]
    ours = [(p.media_type.mime, p.body.decode()) for p in mp.walk() if p.multipart is None]
    assert leaves == ours


def test_we_read_what_stdlib_email_builds() -> None:
    outer = MIMEMultipart("mixed", boundary="==outer==")
    outer.preamble = "This is a multi-part message in MIME format."
    outer.attach(MIMEText("v=0\r\ns=-\r\n", "plain"))
    outer.attach(MIMEApplication(bytes(range(256)), "octet-stream"))   # base64
    alt = MIMEMultipart("alternative", boundary="inner boundary")       # quoted: has a space
    alt.attach(MIMEText("caf\u00e9", "plain", "utf-8"))
    alt.attach(MIMEText("<b>hi</b>", "html"))
    outer.attach(alt)
    wire = outer.as_bytes(policy=email.policy.SMTP)                      # CRLF line ends
    head, _, body = wire.partition(b"\r\n\r\n")
    ctype = next(line.split(b":", 1)[1].decode() for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-type"))
    mp = parse_multipart(body, ctype)
    assert mp.preamble == b"This is a multi-part message in MIME format."
    ref = email.message_from_bytes(wire, policy=email.policy.compat32)
    expected = [(p.get_content_type(), p.get_payload(decode=True)) for p in ref.walk()
                if not p.is_multipart()]
    got = [(p.media_type.mime, p.decoded()) for p in mp.walk() if p.multipart is None]
    assert got == expected
    assert got[1][1] == bytes(range(256)) and got[2][1] == "caf\u00e9".encode()


BOUNDARY = st.text(alphabet="0123456789abcXYZ'()+_,-./:=? ", min_size=1, max_size=70).filter(
    lambda b: not b.endswith(" "))
HEADER = st.tuples(st.sampled_from(["Content-Type", "Content-ID", "X-Thing", "content-disposition"]),
                   st.text(alphabet="abc/;= 019-_", max_size=30).map(str.strip))
PART = st.builds(BodyPart, st.binary(max_size=200) | st.sampled_from([b"\r\n", b"--", b"\r\n--"]),
                 st.lists(HEADER.filter(lambda h: not h[0].lower() == "content-type"), max_size=3))


@FUZZ
@given(parts=st.lists(PART, min_size=1, max_size=5), boundary=BOUNDARY,
       subtype=st.sampled_from(["mixed", "alternative", "related"]),
       preamble=st.binary(max_size=30), epilogue=st.binary(max_size=30))
def test_round_trip(parts: list[BodyPart], boundary: str, subtype: str, preamble: bytes,
                    epilogue: bytes) -> None:
    mp = Multipart(parts, boundary, subtype, preamble=preamble, epilogue=epilogue)
    try:
        data = bytes(mp)
    except ValueError:
        # Only when the boundary really occurs in a part or the preamble.
        assert any(b"\r\n--" + boundary.encode() in bytes(p) for p in parts) \
            or b"--" + boundary.encode() in preamble
        return
    got = parse_multipart(data, mp.content_type)
    assert got.parts == mp.parts and got.boundary == boundary and got.subtype == subtype
    assert got.preamble == preamble and got.epilogue == epilogue
    assert bytes(got) == data


@FUZZ
@given(texts=st.lists(st.text(alphabet="abc xyz\r\n=.-", max_size=80), min_size=1, max_size=4),
       boundary=BOUNDARY.filter(lambda b: "?" not in b))
def test_stdlib_agrees_on_random_text_parts(texts: list[str], boundary: str) -> None:
    mp = Multipart([BodyPart.of("text/plain", t.encode()) for t in texts], boundary)
    try:
        data = bytes(mp)
    except ValueError:
        return
    ref = email.message_from_bytes(b"Content-Type: " + mp.content_type.encode() + b"\r\n\r\n"
                                   + data, policy=email.policy.compat32)
    assert [p.get_payload() for p in ref.get_payload()] == texts


BAD = [
    (b"--b\r\n\r\nx\r\n--b--", "text/plain", "not a multipart"),
    (b"--b\r\n\r\nx\r\n--b--", "multipart/mixed", "boundary"),
    (b"--b\r\n\r\nx\r\n--b--", "multipart/mixed;boundary=\"b \"", "boundary"),
    (b"hello", "multipart/mixed;boundary=b", "no boundary delimiter"),
    (b"--b\r\n\r\nx\r\n--b", "multipart/mixed;boundary=b", "CRLF"),
    (b"--b\r\n\r\nx", "multipart/mixed;boundary=b", "missing close delimiter"),
    (b"--bx\r\n\r\nx\r\n--b--", "multipart/mixed;boundary=b", "CRLF"),
    (b"--b--", "multipart/mixed;boundary=b", "without any part"),
    (b"--b\r\n\r\nx\r\n--b--junk", "multipart/mixed;boundary=b", "garbage"),
    (b"--b\r\nNo colon here\r\n\r\nx\r\n--b--", "multipart/mixed;boundary=b", "part header"),
    (b"--b\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n--b--", "multipart/mixed;boundary=b",
     "boundary"),
]


@pytest.mark.parametrize("body,ctype,words", BAD)
def test_bad_multipart_bodies(body: bytes, ctype: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_multipart(body, ctype)
    assert words in info.value.reason
    assert 0 <= info.value.offset <= len(body)


def test_error_offset_is_in_the_message_body() -> None:
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nBad header\r\n\r\ny\r\n--b--"
    req = Request("MESSAGE", "sip:bob@biloxi.example.com",
                  [("Content-Type", "multipart/mixed;boundary=b")], body)
    data = bytes(req)
    with pytest.raises(ParseError) as info:
        _ = parse_message(data).multipart
    assert data[info.value.offset:].startswith(b"Bad header")


def test_nesting_depth_is_bounded() -> None:
    part = BodyPart.of("text/plain", b"leaf")
    for depth in range(12):
        inner = Multipart([part], f"b{depth}")
        part = BodyPart.of(None, inner)
    data = bytes(inner)
    with pytest.raises(ParseError) as info:
        parse_multipart(data, inner.content_type)
    assert "nested" in info.value.reason


def test_builder_refuses_a_boundary_inside_a_part_and_bad_boundaries() -> None:
    with pytest.raises(ValueError):
        bytes(Multipart([BodyPart.of("text/plain", b"a\r\n--sep\r\nb")], "sep"))
    with pytest.raises(ValueError):
        bytes(Multipart([BodyPart.of("text/plain", b"a")], "x" * 71))
    with pytest.raises(ValueError):
        bytes(Multipart([], "sep"))
    boundary = make_boundary(random.Random(7))
    assert boundary == make_boundary(random.Random(7)) != make_boundary(random.Random(8))
    assert bytes(Multipart([BodyPart.of("text/plain", b"a")], boundary)).startswith(
        b"--" + boundary.encode() + b"\r\n")


def test_folded_part_headers_and_headerless_part() -> None:
    body = (b"preamble\r\n--b \t\r\nContent-Type: text/plain;\r\n charset=us-ascii\r\n\r\nx"
            b"\r\n--b\r\n\r\nno headers\r\n--b--\t\r\nepilogue")
    mp = parse_multipart(body, "multipart/mixed; boundary=b")
    first, second = mp.parts
    assert first.content_type == "text/plain; charset=us-ascii"
    assert first.media_type.charset == "us-ascii"
    assert second.headers == () and second.body == b"no headers"
    assert second.media_type.mime == "text/plain"        # the RFC 2046 §5.1 default
    assert (mp.preamble, mp.epilogue) == (b"preamble", b"epilogue")


SEED = bytes(_sdp_with_alternative())


@FUZZ
@given(data=st.binary(max_size=300), pos=st.integers(0, len(SEED)), cut=st.integers(0, 40),
       insert=st.sampled_from([b"\r\n", b"--", b"--boundary1", b"--boundary2--", b"\r\n\r\n",
                               b":", b"\x00", b"Content-Type: multipart/mixed;boundary=q"]))
def test_fuzz_random_and_mutated(data: bytes, pos: int, cut: int, insert: bytes) -> None:
    ctype = _sdp_with_alternative().content_type
    for body in (data, SEED[:pos] + insert + SEED[pos + cut:]):
        try:
            mp = parse_multipart(body, ctype)
        except ParseError as exc:
            assert 0 <= exc.offset <= len(body)
            continue
        for part in mp.walk():
            for read in (lambda: part.media_type, part.decoded, lambda: part.content_disposition):
                try:
                    read()
                except ParseError:
                    pass


def test_linear_time_on_adversarial_bodies() -> None:
    n = 200_000
    for body in (b"--b\r\n" * n, b"--b\r\n\r\n" + b"\r\n-" * n + b"\r\n--b--",
                 b"--b\r\n" + b"X: y\r\n" * (n // 4) + b"\r\nz\r\n--b--", b"\r\n--" * n):
        t0 = time.perf_counter()
        try:
            parse_multipart(body, "multipart/mixed;boundary=b")
        except ParseError:
            pass
        assert time.perf_counter() - t0 < 5.0
