"""L16 byte order (RFC 3551 §4.5.11) and the codec registry."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs import (
    CodecError,
    codec_for_rtpmap,
    get_codec,
    l16_decode,
    l16_encode,
    list_codecs,
)


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


def test_codec_for_negotiated_rtpmap() -> None:
    assert codec_for_rtpmap("PCMU/8000").info.payload_type == 0
    assert codec_for_rtpmap("pcma/8000/1").info.name == "PCMA"
    assert codec_for_rtpmap("G722/8000").info.sample_rate == 16000
    assert codec_for_rtpmap("G722/16000/1").info.rtpmap == "G722/8000"  # baresip's spelling
    l16 = codec_for_rtpmap("L16/16000/2")
    assert (l16.info.sample_rate, l16.info.channels) == (16000, 2)
    opus = codec_for_rtpmap("opus/48000/2", "maxplaybackrate=16000;stereo=1;useinbandfec=1")
    assert opus.info.channels == 1  # stereo=1 is the peer's receive preference: mono is valid
    assert codec_for_rtpmap("opus/48000/2", "stereo=1", channels=2).info.channels == 2
    assert opus.settings["fec"] is True and opus.settings["max_bandwidth"] == 16000  # type: ignore[attr-defined]
    with pytest.raises(CodecError):
        codec_for_rtpmap("opus/48000")
    with pytest.raises(CodecError):
        codec_for_rtpmap("PCMU/16000")
    with pytest.raises(CodecError):
        codec_for_rtpmap("GSM/8000")
    for bad in ("PCMU", "PCMU/", "PCMU/8k", "/8000", "PCMU/8000/1/2", "PCMU/0", "PCMU/8\u00b2"):
        with pytest.raises(ParseError):
            codec_for_rtpmap(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_rtpmap_any_text_gives_a_codec_or_a_typed_error(text: str) -> None:
    try:
        codec_for_rtpmap(text)
    except (ParseError, CodecError):
        pass
