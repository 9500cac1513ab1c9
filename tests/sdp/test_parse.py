"""SDP parsing and serialization against real and RFC documents (values asserted, not just parsed)."""

from __future__ import annotations

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sdp import (
    Attribute,
    Direction,
    MediaDescription,
    RtpMap,
    SessionDescription,
    Setup,
    parse_sdp,
)
from tests.conftest import DATA

SDP_DIR = DATA / "sdp"
# sdp01's body carries "a=rtpmap:31 LPC" (no clock rate): only the lenient mode takes it.
ALL_FILES = [
    p
    for p in sorted(SDP_DIR.glob("*.sdp")) + sorted((SDP_DIR / "rfc3665").glob("*.sdp"))
    if p.name != "rfc4475_sdp01_body.sdp"
]


def load(name: str) -> bytes:
    return (SDP_DIR / name).read_bytes()


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_every_file_round_trips_byte_exact(path: object) -> None:
    data = path.read_bytes()  # type: ignore[attr-defined]
    sdp = parse_sdp(data)
    assert bytes(sdp) == data
    # An edit elsewhere leaves every untouched line byte-identical.
    sdp.attributes.append(Attribute("x-test", "1"))
    out = bytes(sdp)
    assert out.startswith(data if not sdp.media else b"")
    assert out.count(b"\r\na=x-test:1\r\n") == 1
    assert set(data.split(b"\r\n")) <= set(out.split(b"\r\n"))


def test_baresip_offer_values() -> None:
    sdp = parse_sdp(load("baresip_offer_opus_g722.sdp"))
    assert sdp.origin.username == "-" and sdp.origin.session_id == 4194285275
    assert sdp.origin.session_version == 1670123655
    assert sdp.connection is not None and sdp.connection.host == "127.0.0.1"
    assert sdp.attribute("tool") == "baresip 1.0.0"
    (m,) = sdp.media
    assert (m.media, m.port, m.proto, m.formats) == ("audio", 3240, "RTP/AVP", ["96", "9", "0", "8", "101"])
    assert m.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert m.rtpmap(9) == RtpMap(9, "G722", 8000, None)
    assert m.fmtp(96) is not None and m.fmtp(96).parameters == {"stereo": "1", "sprop-stereo": "1"}  # type: ignore[union-attr]
    assert m.fmtp(101).params == "0-15"  # type: ignore[union-attr]
    assert m.ptime == 20.0 and m.attribute("minptime") == "20"
    assert m.direction is Direction.SENDRECV
    assert m.has_attribute("rtcp-rsize") and not m.rtcp_mux
    (ssrc,) = m.ssrcs
    assert (ssrc.ssrc, ssrc.attribute, ssrc.value) == (546713382, "cname", "sip:alice@127.0.0.1")


def test_baresip_sdes_and_dtls_offers() -> None:
    sdes = parse_sdp(load("baresip_offer_sdes_srtp.sdp"))
    (crypto,) = sdes.media[0].crypto
    assert sdes.media[0].proto == "RTP/SAVP"
    assert (crypto.tag, crypto.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert crypto.key_params == "inline:zHXPXwsF9wO+txRq1YLfn3o/nwOfwXwRK4i6hccp"
    (key,) = crypto.keys
    assert key.method == "inline" and key.key_salt is not None and len(key.key_salt) == 30
    dtls = parse_sdp(load("baresip_offer_dtls_srtp.sdp"))
    assert dtls.media[0].proto == "UDP/TLS/RTP/SAVPF"
    assert dtls.setup is Setup.ACTPASS and dtls.media[0].setup is None  # session level
    (fp,) = dtls.fingerprints
    assert fp.hash_function == "SHA-256" and len(fp.digest) == 32 and fp.digest[:2] == b"\xa0\x9f"


def test_chrome_webrtc_offer() -> None:
    sdp = parse_sdp(load("chrome_webrtc_offer.sdp"))
    assert sdp.bundle is not None and sdp.bundle.mids == ("0", "1")
    assert sdp.connection is None and sdp.media_connection(0) is not None
    assert sdp.attribute("msid-semantic") == " WMS stream1"
    audio, video = sdp.media
    assert audio.mid == "0" and video.mid == "1"
    assert audio.rtcp_mux and audio.rtcp is not None and audio.rtcp.port == 9
    assert audio.rtcp.address == "0.0.0.0"
    host, srflx = audio.candidates
    assert (host.foundation, host.component, host.transport, host.priority) == ("1467250027", 1, "udp", 2122260223)
    assert (host.address, host.port, host.type) == ("192.168.0.196", 46243, "host")
    assert host.extensions == (("generation", "0"), ("network-id", "1"))
    assert (srflx.type, srflx.related_address, srflx.related_port) == ("srflx", "192.168.0.196", 46243)
    assert audio.ice_ufrag == "EsAw" and audio.ice_pwd == "bP+XJMM09aR8AiX1jdukzR6Y"
    assert audio.ice_options == ["trickle"]
    assert audio.setup is Setup.ACTPASS and audio.fingerprints[0].hash_function == "sha-256"
    ext = audio.extmaps
    assert [(e.id, e.uri) for e in ext][:2] == [
        (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        (2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    ]
    assert video.extmaps[1].direction is Direction.SENDONLY
    assert [str(c) for c in audio.candidates][1] == (
        "1853887674 1 udp 1686052607 203.0.113.7 46243 typ srflx raddr 192.168.0.196 "
        "rport 46243 generation 0 network-id 1"
    )
    assert video.fmtp(97).parameters == {"apt": "96"}  # type: ignore[union-attr]


def test_rfc8866_example() -> None:
    sdp = parse_sdp(load("rfc8866_example.sdp"))
    assert sdp.session_name == "Call to John Smith"
    assert sdp.information == "SDP Offer #1"
    assert sdp.uri == "http://www.jdoe.example.com/home.html"
    assert sdp.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert sdp.phones == ["+1 617 555-6011"]
    assert [m.port for m in sdp.media] == [49170, 49180, 51372]
    assert sdp.media_connection(2).addrtype == "IP6"  # type: ignore[union-attr]
    assert sdp.media_connection(2).host == "2001:db8::2"  # type: ignore[union-attr]
    assert sdp.media_connection(0).host == "198.51.100.1"  # type: ignore[union-attr]


def test_rfc4475_sdp01_body() -> None:
    data = load("rfc4475_sdp01_body.sdp")
    with pytest.raises(ParseError) as info:
        parse_sdp(data)
    assert info.value.offset == data.index(b"31 LPC") and "rtpmap" in info.value.reason
    sdp = parse_sdp(data, strict=False)
    assert bytes(sdp) == data
    assert [m.media for m in sdp.media] == ["audio", "video"]
    assert sdp.media[0].formats == ["0", "12"] and sdp.media[1].formats == ["31"]
    assert sdp.media[1].rtpmaps == [] and sdp.media[1].attribute("rtpmap") == "31 LPC"


def test_lf_only_and_trailing_blank_lines_round_trip() -> None:
    data = b"v=0\no=- 1 2 IN IP4 10.0.0.1\ns=x\nt=0 0\nm=audio 5004 RTP/AVP 0\n\n"
    sdp = parse_sdp(data)
    assert bytes(sdp) == data
    sdp.media[0].port = 6000
    assert bytes(sdp) == b"v=0\no=- 1 2 IN IP4 10.0.0.1\ns=x\nt=0 0\nm=audio 6000 RTP/AVP 0\n"
    no_final_eol = b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0"
    assert bytes(parse_sdp(no_final_eol)) == no_final_eol


def test_odd_spacing_kept_until_edited() -> None:
    data = b"v=0\r\no=-  1 2 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio  5004 RTP/AVP 0\r\na=rtpmap:0  PCMU/8000\r\n"
    sdp = parse_sdp(data)
    assert bytes(sdp) == data
    sdp.origin.session_version = 3
    out = bytes(sdp)
    assert b"o=- 1 3 IN IP4 10.0.0.1\r\n" in out  # edited: canonical
    assert b"m=audio  5004 RTP/AVP 0\r\na=rtpmap:0  PCMU/8000\r\n" in out  # untouched: verbatim


def test_non_utf8_bytes_round_trip() -> None:
    data = b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=caf\xe9\r\nt=0 0\r\n"
    sdp = parse_sdp(data)
    assert bytes(sdp) == data
    sdp.attributes.append(Attribute("x"))
    assert b"s=caf\xe9\r\n" in bytes(sdp)


def test_build_in_code_and_edit_helpers() -> None:
    sdp = SessionDescription(session_name="-")
    sdp.origin.address = "192.0.2.1"
    m = MediaDescription(media="audio", port=4000, formats=["0"])
    m.add_attribute("rtpmap", RtpMap(0, "PCMU", 8000))
    m.direction = Direction.SENDONLY
    m.direction = Direction.INACTIVE
    sdp.media.append(m)
    text = bytes(sdp)
    assert text == (
        b"v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        b"a=rtpmap:0 PCMU/8000\r\na=inactive\r\n"
    )
    back = parse_sdp(text)
    assert back == sdp
    m.set_attribute("ptime", 30)
    m.set_attribute("ptime", 40)
    assert m.attribute_values("ptime") == ["40"] and m.ptime == 40.0
    m.remove_attribute("ptime")
    assert m.ptime is None
    copy = sdp.copy()
    copy.media[0].port = 1
    assert sdp.media[0].port == 4000


H = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n"
# (document, where the error is: a marker the offset must point at (or an int), reason part)
BAD: list[tuple[bytes, bytes | int, str]] = [
    (b"", 0, "empty"),
    (b"o=- 1 1 IN IP4 a\r\n", 0, "start with v="),
    (b"v=1\r\n", b"1", "version"),
    (b"v=0\r\nx\r\n", b"x", "letter"),
    (b"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", b"- 1", "o="),
    (b"v=0\r\no=- a 1 IN IP4 h\r\ns=-\r\n", b"- a", "numbers"),
    (H + b"m=audio 99999 RTP/AVP 0\r\n", b"audio", "port"),
    (H + b"m=audio 1 RTP/AVP 0\r\no=x\r\n", b"o=x", "media section"),
    (H + b"x=1\r\n", b"x=1", "unknown"),
    (H + b"\r\nt=0 0\r\n", b"\r\n\r\n", "empty line"),
    (H + b"a=rtpmap:x PCMU/8000\r\n", b"x PCMU", "rtpmap"),
    (H + b"a=ptime:fast\r\n", b"fast", "ptime"),
    (H + b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%%%\r\n", b"1 AES", "base64"),
    (H + b"a=setup:sideways\r\n", b"sideways", "setup"),
    (H + b"a=fingerprint:sha-256 XYZ\r\n", b"sha-256", "fingerprint"),
    (H + b"a=candidate:1 1 udp 1 h 1 host\r\n", b"1 1 udp", "candidate"),
    (H + b"b=AS:x\r\n", b"AS:x", "b="),
    (b"v=0\r\ns=-\r\n", 10, "o= line"),
    (b"v=0\r\no=- 1 1 IN IP4 h\r\n", 23, "s= line"),
    (H + b"i=\x00\r\n", b"\x00", "NUL"),
    (b"v=0\r\no=- 1 1 IN\rIP4 h\r\ns=-\r\n", b"\rIP4", "CR"),
]


@pytest.mark.parametrize("data,where,reason", BAD, ids=[r for _, _, r in BAD])
def test_bad_input_parse_error_with_offset(data: bytes, where: bytes | int, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_sdp(data)
    assert reason in info.value.reason
    offset = where if isinstance(where, int) else data.index(where)
    if isinstance(where, bytes) and where == b"\r\n\r\n":
        offset += 2  # the empty line starts after the previous line's CRLF
    assert info.value.offset == offset


def test_lenient_mode_keeps_bad_typed_attributes() -> None:
    data = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\na=rtpmap:8 PCMA/8000\r\n"
    with pytest.raises(ParseError):
        parse_sdp(data)
    sdp = parse_sdp(data, strict=False)
    assert bytes(sdp) == data
    assert sdp.media[0].rtpmaps == [RtpMap(8, "PCMA", 8000)]


def test_size_limit() -> None:
    data = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n" + b"a=x:" + b"y" * 300_000 + b"\r\n"
    with pytest.raises(ParseError):
        parse_sdp(data)
