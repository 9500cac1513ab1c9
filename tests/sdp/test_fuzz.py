"""Hypothesis: random and mutated SDP gives a value or ParseError, never another exception,
and whatever parses serializes back to the same bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.sdp import (
    LocalCapabilities,
    MediaCapabilities,
    OfferAnswer,
    PCMU,
    OPUS,
    parse_sdp,
)
from tests.conftest import DATA

SAMPLES = [p.read_bytes() for p in sorted((DATA / "sdp").glob("*.sdp"))]
CAPS = LocalCapabilities(
    address="192.0.2.1",
    media=(MediaCapabilities(codecs=(PCMU, OPUS), port=4000, accept_protos=("UDP/TLS/RTP/SAVPF",)),),
)


def _check(data: bytes) -> None:
    for strict in (True, False):
        try:
            sdp = parse_sdp(data, strict=strict)
        except ParseError as exc:
            assert 0 <= exc.offset <= len(data) or exc.offset == 256 * 1024
            continue
        assert bytes(sdp) == data
        # Typed accessors never raise on a parsed document.
        for m in sdp.media:
            m.rtpmaps, m.fmtps, m.crypto, m.candidates, m.ssrcs, m.extmaps, m.rtcp  # noqa: B018
            m.ptime, m.fingerprints, m.setup, m.mid, m.direction  # noqa: B018
        sdp.groups  # noqa: B018
        # Offer/answer on hostile offers: an answer or a typed error.
        try:
            OfferAnswer(local=CAPS, session_id=1).answer_offer(sdp)
        except ParseError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.integers(0, 600), st.integers(0, 30), st.binary(max_size=12))
def test_mutated_real_sdp(sample: bytes, pos: int, cut: int, insert: bytes) -> None:
    pos = min(pos, len(sample))
    _check(sample[:pos] + insert + sample[pos + cut :])


LINES = st.sampled_from([
    b"v=0", b"o=- 1 2 IN IP4 h", b"s=-", b"t=0 0", b"c=IN IP4 1.2.3.4", b"m=audio 5 RTP/AVP 0 96",
    b"m=video 0 RTP/AVP 31", b"a=rtpmap:96 opus/48000/2", b"a=fmtp:96 a=b;c", b"a=sendonly",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
    b"a=candidate:1 1 udp 1 1.2.3.4 5 typ host", b"a=rtcp:9", b"a=rtcp-mux", b"a=mid:a",
    b"a=group:BUNDLE a", b"a=extmap:1/recvonly urn:x", b"a=ssrc:1 cname:x", b"b=AS:64", b"",
    b"a=ptime:20.5", b"a=setup:actpass", b"a=fingerprint:sha-1 AB:CD", b"i=x", b"k=clear:x",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=14), st.sampled_from([b"\r\n", b"\n"]))
def test_random_line_soup(lines: list[bytes], eol: bytes) -> None:
    _check(eol.join([b"v=0", *lines]) + eol)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _check(data)
