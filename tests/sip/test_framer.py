"""Stream framing (RFC 3261 §18.3 Content-Length framing, RFC 5626 §3.5.1 CRLF keep-alives)."""

from __future__ import annotations

import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.sip import KeepAlive, Request, Response, StreamFramer
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("sip_path")  # native and pure parser (conftest)

SAMPLES = [(DATA / "sip" / n).read_bytes()
           for n in ("invite_sdp.sip", "ok_sdp.sip", "register_auth.sip", "bye.sip")]
STREAM = b"".join(SAMPLES)


def test_whole_stream_at_once() -> None:
    out = StreamFramer().feed(STREAM)
    assert [bytes(m) for m in out if isinstance(m, (Request, Response))] == SAMPLES


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000])
def test_any_chunking_gives_the_same_messages(chunk: int) -> None:
    framer = StreamFramer()
    out: list[object] = []
    for i in range(0, len(STREAM), chunk):
        out += framer.feed(STREAM[i:i + chunk])
    assert [bytes(m) for m in out if isinstance(m, (Request, Response))] == SAMPLES
    assert framer.buffered == 0


def test_keepalives_server_side() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [KeepAlive(kind="ping")]
    assert framer.feed(b"\r\n") == []  # could still become a ping
    assert framer.feed(b"\r\n" + SAMPLES[3])[0] == KeepAlive(kind="ping")
    out = framer.feed(b"\r\n" + SAMPLES[3])
    assert out[0] == KeepAlive(kind="pong") and isinstance(out[1], Request)


def test_keepalives_client_side() -> None:
    framer = StreamFramer(client=True)
    assert framer.feed(b"\r\n") == [KeepAlive(kind="pong")]
    assert framer.feed(b"\r\n\r\n") == [KeepAlive(kind="pong"), KeepAlive(kind="pong")]


@pytest.mark.parametrize("data,reason", [
    (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n", "duplicate"),
    (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     "duplicate"),
    (b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", "missing Content-Length"),
    (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
    (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n", "exceeds"),
])
def test_framing_errors(data: bytes, reason: str) -> None:
    framer = StreamFramer()
    with pytest.raises(ParseError, match=reason):
        framer.feed(data)
    with pytest.raises(ParseError):  # the framer stays broken
        framer.feed(SAMPLES[3])


def test_size_and_header_limits() -> None:
    with pytest.raises(ParseError, match="exceed"):
        StreamFramer(max_message_size=1024).feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X" * 2000)
    many = b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X-A: 1\r\n" * 300 + b"Content-Length: 0\r\n\r\n"
    with pytest.raises(ParseError, match="header lines"):
        StreamFramer(max_headers=256).feed(many)
    assert len(StreamFramer(max_headers=400).feed(many)) == 1
    # a slow drip of header lines without an end is cut off too, not buffered forever
    framer = StreamFramer(max_headers=10)
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n")
    with pytest.raises(ParseError):
        for _ in range(20):
            framer.feed(b"X-A: 1\r\n")


def test_messages_before_an_error_are_delivered_first() -> None:
    framer = StreamFramer()
    out = framer.feed(SAMPLES[3] + b"GARBAGE\r\n\r\n")
    assert len(out) == 1 and bytes(out[0]) == SAMPLES[3]  # type: ignore[arg-type]
    with pytest.raises(ParseError) as info:
        framer.feed(b"")
    assert info.value.offset >= len(SAMPLES[3])
