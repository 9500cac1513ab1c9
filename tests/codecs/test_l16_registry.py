"""L16 byte order (RFC 3551 §4.5.11) and the codec registry."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs import CodecError, get_codec, l16_decode, l16_encode, list_codecs


def test_l16_is_big_endian_and_interleaved() -> None:
    x = np.array([[1, -2], [0x1234, -32768]], np.int16)
    assert l16_encode(x) == struct.pack(">4h", 1, -2, 0x1234, -32768)
    assert np.array_equal(l16_decode(l16_encode(x), 2), x)
    codec = get_codec("l16", sample_rate=44100, channels=2)
    assert codec.info.payload_type == 10 and codec.info.rtpmap == "L16/44100/2"
    assert get_codec("L16", sample_rate=44100).info.payload_type == 11
    wide = get_codec("L16", sample_rate=16000)
    assert wide.info.payload_type is None and wide.info.rtpmap == "L16/16000"
    assert np.array_equal(codec.decode(codec.encode(x)), x)
    assert codec.conceal().shape == (882, 2)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 3))
def test_l16_decode_any_bytes(data: bytes, channels: int) -> None:
    try:
        out = l16_decode(data, channels)
    except ParseError as exc:
        assert len(data) % (2 * channels) and exc.offset <= len(data)
        return
    assert out.size * 2 == len(data)


def test_registry_names_options_and_listing() -> None:
    assert get_codec("pcmu").info.name == "PCMU"
    assert get_codec(" Pcma ").info.name == "PCMA"
    assert get_codec("g722").info.sample_rate == 16000
    with pytest.raises(CodecError, match="unknown codec"):
        get_codec("GSM")
    with pytest.raises(CodecError):
        get_codec("PCMU", sample_rate=16000)
    with pytest.raises(CodecError):
        get_codec("G722", channels=2)
    with pytest.raises(CodecError):
        get_codec("PCMA", bogus=1)
    infos = list_codecs()
    assert [i.name for i in infos] == ["opus", "G722", "PCMU", "PCMA", "L16"]
    lines = [line for i in infos for line in i.sdp_lines()]
    assert "a=rtpmap:9 G722/8000" in lines and "a=rtpmap:0 PCMU/8000" in lines
    assert "a=rtpmap:111 opus/48000/2" in lines
    assert infos[0].rtp_channels == 2 and infos[0].channels == 1
