"""Opus through libopus: settings reach the encoder, packets interoperate with opuslib, fmtp."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs import CodecError, get_codec
from rvoip_sansio.codecs import _opus
from rvoip_sansio.codecs._opus import OpusCodec, OpusParams
from tests.codecs.speechlike import speech_like
from tests.conftest import require_module


def sine(freq: float, rate: int, n: int, amp: float = 8000) -> np.ndarray:
    return np.round(amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.int16)


def dominant(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_round_trip_keeps_a_tone(rate: int) -> None:
    codec = get_codec("opus", sample_rate=rate, bitrate=32000)
    n = codec.info.frame_samples
    x = sine(440, rate, n * 50)
    out = np.concatenate([codec.decode(codec.encode(x[i : i + n])) for i in range(0, len(x), n)])
    assert len(out) == len(x)
    tail = out[-n * 20 :]
    assert abs(dominant(tail, rate) - 440) < 15
    assert np.sqrt(np.mean(tail.astype(float) ** 2)) > 0.5 * 8000 / np.sqrt(2)


def test_rtp_facts_and_fmtp() -> None:
    codec = OpusCodec(sample_rate=16000, channels=2, fec=True, dtx=True, bitrate=24000)
    info = codec.info
    assert info.rtpmap == "opus/48000/2" and info.clock_rate == 48000  # RFC 7587 §7
    assert info.payload_type is None and info.preferred_payload_type == 111
    assert info.timestamp_increment == 960 and info.frame_samples == 320
    p = OpusParams.parse(info.fmtp or "")
    assert p.maxplaybackrate == 16000 and p.stereo and p.sprop_stereo
    assert p.useinbandfec and p.usedtx and p.maxaveragebitrate == 24000 and p.minptime == 10


def test_short_frames() -> None:
    codec = OpusCodec(sample_rate=48000, frame_ms=2.5)
    assert codec.info.frame_samples == 120 and codec.info.timestamp_increment == 120
    assert codec.decode(codec.encode(np.zeros(120, np.int16))).shape == (120,)


def test_fmtp_parse_and_format() -> None:
    p = OpusParams.parse("maxplaybackrate=16000; sprop-maxcapturerate=16000;stereo=0;"
                         "useinbandfec=1;usedtx=1;maxaveragebitrate=20000;minptime=10;x-foo=9")
    assert (p.maxplaybackrate, p.sprop_maxcapturerate, p.stereo) == (16000, 16000, False)
    assert (p.useinbandfec, p.usedtx, p.maxaveragebitrate, p.minptime) == (True, True, 20000, 10)
    assert OpusParams.parse(str(p)) == p
    for bad in ("stereo=2", "maxplaybackrate=abc", "minptime=\u00b2", "useinbandfec", "maxaveragebitrate=99999999999"):
        with pytest.raises(ParseError):
            OpusParams.parse(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_fmtp_parser_never_raises_anything_else(text: str) -> None:
    try:
        OpusParams.parse(text)
    except ParseError:
        pass


def test_remote_params_configure_the_encoder() -> None:
    codec = OpusCodec(bitrate=64000)
    codec.apply_remote_params("maxplaybackrate=8000;maxaveragebitrate=12000;useinbandfec=1;"
                              "usedtx=1;cbr=1")
    s = codec.settings
    assert s["max_bandwidth"] == 8000 and s["bitrate"] == 12000
    assert s["fec"] is True and s["dtx"] is True and s["cbr"] is True
    # The encoder really obeys: CBR 12 kbit/s in 20 ms frames is 30 bytes per packet.
    x = speech_like(1.0, 48000, seed=3)
    sizes = {len(codec.encode(x[i : i + 960])) for i in range(0, 48000, 960)}
    assert sizes == {30}


def test_dtx_sends_tiny_packets_in_silence() -> None:
    codec = OpusCodec(dtx=True, bitrate=24000)
    sizes = [len(codec.encode(np.zeros(960, np.int16))) for _ in range(50)]
    assert sum(s <= 2 for s in sizes) > 30  # RFC 7587 §3.3: 1-2 byte DTX frames


def test_fec_recovers_a_lost_frame_better_than_plc() -> None:
    x = speech_like(2.0, 16000, seed=4)
    enc = OpusCodec(sample_rate=16000, fec=True, packet_loss_perc=20, bitrate=32000)
    packets = [enc.encode(x[i : i + 320]) for i in range(0, len(x), 320)]
    lost = 40
    fec = OpusCodec(sample_rate=16000)
    plc = OpusCodec(sample_rate=16000)
    for p in packets[:lost]:
        fec.decode(p)
        plc.decode(p)
    by_fec = fec.decode_fec(packets[lost + 1]).astype(float)
    by_plc = plc.conceal().astype(float)
    ref = OpusCodec(sample_rate=16000)
    truth = np.concatenate([ref.decode(p) for p in packets[: lost + 1]])[-320:].astype(float)
    err_fec = np.mean((by_fec - truth) ** 2)
    err_plc = np.mean((by_plc - truth) ** 2)
    assert err_fec < err_plc


def test_packets_interoperate_with_opuslib() -> None:
    opuslib = require_module("opuslib")
    ours = OpusCodec(sample_rate=48000, bitrate=32000, complexity=5)
    theirs = opuslib.Encoder(48000, 1, opuslib.APPLICATION_VOIP)
    theirs.bitrate = 32000
    theirs.complexity = 5
    x = speech_like(1.0, 48000, seed=5)
    for i in range(0, 48000, 960):
        frame = x[i : i + 960]
        # The same libopus with the same settings: byte-identical packets.
        assert ours.encode(frame) == theirs.encode(frame.tobytes(), 960)
    dec = opuslib.Decoder(48000, 1)
    p = ours.encode(x[:960])
    assert np.frombuffer(dec.decode(p, 960), np.int16).shape == ours.decode(p).shape


def test_missing_library_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str, *a: object, **k: object) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(_opus, "_lib", None)
    monkeypatch.setattr(ctypes, "CDLL", refuse)
    with pytest.raises(CodecError, match="libopus0"):
        get_codec("OPUS")


def test_bad_settings_and_packets() -> None:
    with pytest.raises(CodecError):
        OpusCodec(sample_rate=44100)
    with pytest.raises(CodecError):
        OpusCodec(complexity=11)
    codec = OpusCodec()
    with pytest.raises(CodecError):
        codec.encode(np.zeros(100, np.int16))
    with pytest.raises(ParseError):
        codec.decode(b"\xff\xff\xff\xff\xff")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_decode_any_bytes(data: bytes) -> None:
    codec = OpusCodec(sample_rate=16000)
    try:
        out = codec.decode(data)
    except ParseError:
        return
    assert out.dtype == np.int16
