"""G.711: every input and code against the ITU-T G.191 tables; the audioop differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import (
    CodecError,
    G711Codec,
    alaw_decode,
    alaw_decode_frames,
    alaw_encode,
    alaw_encode_frames,
    get_codec,
    ulaw_decode,
    ulaw_decode_frames,
    ulaw_encode,
    ulaw_encode_frames,
)
from tests.codecs import peers
from tests.conftest import DATA

ALL = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
CODES = bytes(range(256))


def tables(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = (DATA / "codecs" / f"g711_{name}_tables.bin").read_bytes()
    assert len(raw) == 2 * 65536 + 2 * 512
    u = np.frombuffer(raw, np.uint8, 65536, 0)
    a = np.frombuffer(raw, np.uint8, 65536, 65536)
    ud = np.frombuffer(raw, "<i2", 256, 131072)
    ad = np.frombuffer(raw, "<i2", 256, 131072 + 512)
    return u, a, ud, ad


def test_ulaw_encode_all_65536_inputs_equal_g191() -> None:
    u, _, _, _ = tables("g191")
    assert np.array_equal(np.frombuffer(ulaw_encode(ALL), np.uint8), u)


def test_alaw_encode_all_65536_inputs_equal_g191() -> None:
    _, a, _, _ = tables("g191")
    assert np.array_equal(np.frombuffer(alaw_encode(ALL), np.uint8), a)


def test_decode_all_256_codes_equal_g191() -> None:
    _, _, ud, ad = tables("g191")
    assert np.array_equal(ulaw_decode(CODES), ud)
    assert np.array_equal(alaw_decode(CODES), ad)


def test_audioop_differences_are_exactly_the_documented_ones() -> None:
    audioop = peers.audioop()
    ours_u = np.frombuffer(ulaw_encode(ALL), np.uint8)
    theirs_u = np.frombuffer(audioop.lin2ulaw(ALL.tobytes(), 2), np.uint8)
    diff = np.nonzero(ours_u != theirs_u)[0]
    # 508 inputs, all negative, each one quantisation step apart on a decision boundary.
    assert len(diff) == 508
    assert (ALL[diff] < 0).all()
    # They come in 127 runs of 4 consecutive inputs (the 2 bits G.711 drops), one run per
    # negative decision level, and the two answers are adjacent codes.
    x = ALL[diff].astype(np.int32)
    assert np.array_equal(x.reshape(127, 4) - x.reshape(127, 4)[:, :1], np.tile(np.arange(4), (127, 1)))
    assert (np.abs(ours_u[diff].astype(int) - theirs_u[diff].astype(int)) == 1).all()
    # The run lies on the decision level between the two reconstruction values (halfway
    # inside a segment); G.191 picks the level nearer zero there, audioop the one further out.
    dec_ours = ulaw_decode(ours_u[diff].tobytes()).astype(np.int32)
    dec_theirs = ulaw_decode(theirs_u[diff].tobytes()).astype(np.int32)
    assert ((dec_theirs < x) & (x <= dec_ours)).all()
    within = (ours_u[diff][::4] >> 4) == (theirs_u[diff][::4] >> 4)  # same segment
    assert np.array_equal(x[::4][within], ((dec_ours[::4] + dec_theirs[::4]) // 2)[within])
    # A-law both ways and μ-law decoding are identical.
    assert audioop.lin2alaw(ALL.tobytes(), 2) == alaw_encode(ALL)
    assert audioop.ulaw2lin(CODES, 2) == ulaw_decode(CODES).tobytes()
    assert audioop.alaw2lin(CODES, 2) == alaw_decode(CODES).tobytes()
    # And the shipped audioop table (made independently) agrees with what we just measured.
    u_ao, a_ao, _, _ = tables("audioop")
    assert np.array_equal(u_ao, theirs_u)


def test_spandsp_table_differs_only_in_negative_ulaw() -> None:
    u, a, ud, ad = tables("g191")
    su, sa, sud, sad = tables("spandsp")
    assert np.array_equal(sa, a) and np.array_equal(sud, ud) and np.array_equal(sad, ad)
    diff = np.nonzero(su != u)[0]
    assert len(diff) == 127 and (ALL[diff] < 0).all()


def test_batch_api_equals_per_frame() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(-32768, 32768, (100, 160)).astype(np.int16)
    assert ulaw_encode_frames(frames) == [ulaw_encode(f) for f in frames]
    assert alaw_encode_frames(frames) == [alaw_encode(f) for f in frames]
    pay = ulaw_encode_frames(frames)
    assert np.array_equal(ulaw_decode_frames(pay), np.stack([ulaw_decode(p) for p in pay]))
    pay = alaw_encode_frames(frames)
    assert np.array_equal(alaw_decode_frames(pay), np.stack([alaw_decode(p) for p in pay]))
    codec = G711Codec("PCMA", plc=False)
    assert codec.encode_frames(frames) == pay
    odd = [p[:159] for p in pay]  # odd lengths take the one-code-at-a-time path
    assert np.array_equal(alaw_decode_frames(odd), np.stack([alaw_decode(p) for p in odd]))


def test_codec_objects_and_rtp_facts() -> None:
    pcmu = get_codec("pcmu", plc=False)
    pcma = get_codec("PCMA", plc=False)
    assert (pcmu.info.payload_type, pcmu.info.rtpmap) == (0, "PCMU/8000")
    assert (pcma.info.payload_type, pcma.info.rtpmap) == (8, "PCMA/8000")
    assert pcmu.info.frame_samples == 160 and pcmu.info.timestamp_increment == 160
    x = np.random.default_rng(1).integers(-20000, 20000, 160).astype(np.int16)
    assert pcmu.decode(pcmu.encode(x)).tobytes() == ulaw_decode(ulaw_encode(x)).tobytes()
    assert np.array_equal(pcma.decode(pcma.encode(x)), alaw_decode(alaw_encode(x)))
    assert not pcmu.conceal().any()  # without PLC a lost frame is silence
    with pytest.raises(CodecError):
        pcmu.encode(x.astype(np.float32))  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        ulaw_encode(x.astype(np.int32))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_decode_any_bytes(data: bytes) -> None:
    for codec in (get_codec("PCMU"), get_codec("PCMA", plc=False)):
        out = codec.decode(data)
        assert out.dtype == np.int16 and len(out) == len(data)


def test_long_payloads_decode_through_code_pairs_exactly() -> None:
    # Even payloads of 400 codes or more take the two-codes-per-lookup table.
    _, _, ud, ad = tables("g191")
    rng = np.random.default_rng(11)
    for n in (398, 399, 400, 401, 402, 16000):
        codes = rng.integers(0, 256, n).astype(np.uint8)
        assert np.array_equal(ulaw_decode(codes.tobytes()), ud[codes]), n
        assert np.array_equal(alaw_decode(bytearray(codes.tobytes())), ad[codes]), n
    assert ulaw_decode(bytes(range(256)) * 2).flags.writeable
