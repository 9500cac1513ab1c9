"""G.722: bit-exact with the reference (shipped vector, spandsp via ctypes, the G722 package)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import CodecError, G722Decoder, G722Encoder, get_codec
from tests.codecs import peers
from tests.codecs.speechlike import mixed_test_signal
from tests.conftest import DATA

VEC_IN = np.frombuffer((DATA / "codecs" / "g722_in_16k.raw").read_bytes(), "<i2").astype(np.int16)
VEC_OUT = (DATA / "codecs" / "g722_spandsp.g722").read_bytes()


def frames(x: np.ndarray, n: int) -> list[np.ndarray]:
    return [x[i : i + n] for i in range(0, len(x), n)]


@pytest.mark.parametrize("frame", [2, 320, 16000])
def test_encode_vector_exact(frame: int) -> None:
    enc = G722Encoder()
    assert b"".join(enc.encode(f) for f in frames(VEC_IN, frame)) == VEC_OUT


def test_decode_vector_equals_spandsp() -> None:
    sp = peers.spandsp_g722()
    want = sp.decode(sp.decoder(), VEC_OUT)
    dec = G722Decoder()
    got = np.concatenate([dec.decode(VEC_OUT[i : i + 160]) for i in range(0, len(VEC_OUT), 160)])
    assert np.array_equal(got, want)


@pytest.fixture(scope="module")
def long_signal() -> np.ndarray:
    # 6 s: speech-like + tones + noise, with full-scale bursts that push every saturation.
    return mixed_test_signal(6.0, 16000, seed=11)


def test_long_signal_encode_equals_spandsp_and_g722_package(long_signal: np.ndarray) -> None:
    sp = peers.spandsp_g722()
    ref_sp = sp.encode(sp.encoder(), long_signal)
    G722 = peers.g722_package()
    ref_pkg = bytes(G722.G722(16000, 64000).encode(long_signal))
    enc = G722Encoder()
    ours = b"".join(enc.encode(f) for f in frames(long_signal, 320))
    assert ours == ref_sp
    assert ours == ref_pkg


def test_long_signal_decode_equals_both_references(long_signal: np.ndarray) -> None:
    sp = peers.spandsp_g722()
    codes = sp.encode(sp.encoder(), long_signal)
    # Random octets too: every code word in every state.
    codes += np.random.default_rng(5).integers(0, 256, 16000).astype(np.uint8).tobytes()
    want = sp.decode(sp.decoder(), codes)
    G722 = peers.g722_package()
    pkg = np.array(G722.G722(16000, 64000).decode(codes), dtype=np.int16)
    dec = G722Decoder()
    ours = np.concatenate([dec.decode(codes[i : i + 160]) for i in range(0, len(codes), 160)])
    assert np.array_equal(ours, pkg)
    assert_equal_but_spandsp_wraps(ours, want)


def assert_equal_but_spandsp_wraps(ours: np.ndarray, spandsp: np.ndarray) -> None:
    """spandsp 0.0.6 casts the receive QMF output to int16 where the ITU reference (and the
    G722 package, and ffmpeg) saturate; that only happens on code streams no encoder makes."""
    diff = np.nonzero(ours != spandsp)[0]
    o = ours[diff].astype(np.int32)
    unwrapped = spandsp[diff].astype(np.int32) + np.where(o > 0, 65536, -65536)
    assert np.isin(o, (-32768, 32767)).all()
    assert np.array_equal(np.clip(unwrapped, -32768, 32767), o)


@pytest.mark.parametrize("bitrate,shift", [(56000, 1), (48000, 2)])
def test_56_and_48_kbit_decoder_modes_equal_spandsp(long_signal: np.ndarray, bitrate: int,
                                                     shift: int) -> None:
    sp = peers.spandsp_g722()
    codes = sp.encode(sp.encoder(), long_signal[:32000])
    codes += np.random.default_rng(6).integers(0, 256, 4000).astype(np.uint8).tobytes()
    # spandsp's unpacked 7/6-bit mode takes the octet with the auxiliary data bits shifted out.
    packed = (np.frombuffer(codes, np.uint8) >> shift).astype(np.uint8).tobytes()
    want = sp.decode(sp.decoder(bitrate), packed)
    dec = G722Decoder(bitrate)
    ours = np.concatenate([dec.decode(codes[i : i + 160]) for i in range(0, len(codes), 160)])
    assert_equal_but_spandsp_wraps(ours, want)
    assert np.array_equal(ours[:32000], want[:32000])  # real encoder output: no overflow
    # The data bits really are ignored.
    noisy = (np.frombuffer(codes, np.uint8) ^ ((1 << shift) - 1)).astype(np.uint8).tobytes()
    assert np.array_equal(G722Decoder(bitrate).decode(noisy), G722Decoder(bitrate).decode(codes))


def test_codec_object_rtp_facts_and_quirk() -> None:
    g = get_codec("g722", plc=False)
    assert g.info.payload_type == 9
    assert g.info.rtpmap == "G722/8000"  # RFC 3551 §4.5.2: 8000 in SDP...
    assert g.info.sample_rate == 16000  # ...while the audio is sampled at 16 kHz
    assert g.info.frame_samples == 320 and g.info.timestamp_increment == 160
    assert len(g.encode(np.zeros(320, np.int16))) == 160
    with pytest.raises(CodecError):
        g.encode(np.zeros(321, np.int16))
    with pytest.raises(CodecError):
        G722Decoder(32000)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_decode_any_octets(data: bytes) -> None:
    out = G722Decoder().decode(data)
    assert out.dtype == np.int16 and len(out) == 2 * len(data)
