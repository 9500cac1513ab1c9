"""G.711: every input and code against the ITU-T G.191 tables; the audioop differences.

Every test that calls the codec runs twice, through the optional C accelerator ("native")
and through the pure numpy path ("pure"): the ``g711`` fixture switches the public functions
of ``_g711`` and ``_g711_bytes`` (and so what ``G711Codec`` picks up) to one path. Locally
the native run is skipped when the extension is not built; under ``CI=true`` it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import CodecError, G711Codec, G722Codec, _g711, _g711_bytes, get_codec
from tests.codecs import native, peers
from tests.conftest import DATA, require_module

ALL = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
CODES = bytes(range(256))
PATHS = ("native", "pure")


def path_functions(path: str) -> dict[str, object]:
    """The twelve G.711 functions of one path (skip/fail as require_module when not built)."""
    if path == "pure":
        return {**_g711.PURE, **_g711_bytes.PURE}
    require_module("rvoip_sansio.codecs._g711_native")
    native = _g711.load_native()
    if native is None:
        pytest.fail("rvoip_sansio.codecs._g711_native is a stale build: pip install -e .")
    native._set_fallbacks(_g711_bytes.PURE)
    return {name: getattr(native, name) for name in (*_g711.PURE, *_g711_bytes.PURE)}


@pytest.fixture(params=PATHS)
def g711(request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    fns = path_functions(request.param)
    with pytest.MonkeyPatch.context() as mp:
        for name, fn in fns.items():
            mp.setattr(_g711 if name in _g711.PURE else _g711_bytes, name, fn)
        yield SimpleNamespace(
            path=request.param, G711Codec=_g711.G711Codec,
            get_codec=get_codec, **fns,
        )


def tables(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = (DATA / "codecs" / f"g711_{name}_tables.bin").read_bytes()
    assert len(raw) == 2 * 65536 + 2 * 512
    u = np.frombuffer(raw, np.uint8, 65536, 0)
    a = np.frombuffer(raw, np.uint8, 65536, 65536)
    ud = np.frombuffer(raw, "<i2", 256, 131072)
    ad = np.frombuffer(raw, "<i2", 256, 131072 + 512)
    return u, a, ud, ad


def test_ulaw_encode_all_65536_inputs_equal_g191(g711: SimpleNamespace) -> None:
    u, _, _, _ = tables("g191")
    assert np.array_equal(np.frombuffer(g711.ulaw_encode(ALL), np.uint8), u)


def test_alaw_encode_all_65536_inputs_equal_g191(g711: SimpleNamespace) -> None:
    _, a, _, _ = tables("g191")
    assert np.array_equal(np.frombuffer(g711.alaw_encode(ALL), np.uint8), a)


def test_decode_all_256_codes_equal_g191(g711: SimpleNamespace) -> None:
    _, _, ud, ad = tables("g191")
    assert np.array_equal(g711.ulaw_decode(CODES), ud)
    assert np.array_equal(g711.alaw_decode(CODES), ad)


def test_audioop_differences_are_exactly_the_documented_ones(g711: SimpleNamespace) -> None:
    audioop = peers.audioop()
    ours_u = np.frombuffer(g711.ulaw_encode(ALL), np.uint8)
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
    dec_ours = g711.ulaw_decode(ours_u[diff].tobytes()).astype(np.int32)
    dec_theirs = g711.ulaw_decode(theirs_u[diff].tobytes()).astype(np.int32)
    assert ((dec_theirs < x) & (x <= dec_ours)).all()
    within = (ours_u[diff][::4] >> 4) == (theirs_u[diff][::4] >> 4)  # same segment
    assert np.array_equal(x[::4][within], ((dec_ours[::4] + dec_theirs[::4]) // 2)[within])
    # A-law both ways and μ-law decoding are identical.
    assert audioop.lin2alaw(ALL.tobytes(), 2) == g711.alaw_encode(ALL)
    assert audioop.ulaw2lin(CODES, 2) == g711.ulaw_decode(CODES).tobytes()
    assert audioop.alaw2lin(CODES, 2) == g711.alaw_decode(CODES).tobytes()
    # And the shipped audioop table (made independently) agrees with what we just measured.
    u_ao, a_ao, _, _ = tables("audioop")
    assert np.array_equal(u_ao, theirs_u)


def test_spandsp_table_differs_only_in_negative_ulaw() -> None:
    u, a, ud, ad = tables("g191")
    su, sa, sud, sad = tables("spandsp")
    assert np.array_equal(sa, a) and np.array_equal(sud, ud) and np.array_equal(sad, ad)
    diff = np.nonzero(su != u)[0]
    assert len(diff) == 127 and (ALL[diff] < 0).all()


def test_batch_api_equals_per_frame(g711: SimpleNamespace) -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(-32768, 32768, (100, 160)).astype(np.int16)
    assert g711.ulaw_encode_frames(frames) == [g711.ulaw_encode(f) for f in frames]
    assert g711.alaw_encode_frames(frames) == [g711.alaw_encode(f) for f in frames]
    pay = g711.ulaw_encode_frames(frames)
    assert np.array_equal(g711.ulaw_decode_frames(pay), np.stack([g711.ulaw_decode(p) for p in pay]))
    pay = g711.alaw_encode_frames(frames)
    assert np.array_equal(g711.alaw_decode_frames(pay), np.stack([g711.alaw_decode(p) for p in pay]))
    codec = g711.G711Codec("PCMA", plc=False)
    assert codec.encode_frames(frames) == pay
    odd = [p[:159] for p in pay]  # odd lengths take the one-code-at-a-time path
    assert np.array_equal(g711.alaw_decode_frames(odd), np.stack([g711.alaw_decode(p) for p in odd]))


def test_codec_objects_and_rtp_facts(g711: SimpleNamespace) -> None:
    pcmu = g711.get_codec("pcmu", plc=False)
    pcma = g711.get_codec("PCMA", plc=False)
    assert pcmu._encode is g711.ulaw_encode and pcma._decode is g711.alaw_decode  # this path
    assert (pcmu.info.payload_type, pcmu.info.rtpmap) == (0, "PCMU/8000")
    assert (pcma.info.payload_type, pcma.info.rtpmap) == (8, "PCMA/8000")
    assert pcmu.info.frame_samples == 160 and pcmu.info.timestamp_increment == 160
    x = np.random.default_rng(1).integers(-20000, 20000, 160).astype(np.int16)
    assert pcmu.decode(pcmu.encode(x)).tobytes() == g711.ulaw_decode(g711.ulaw_encode(x)).tobytes()
    assert np.array_equal(pcma.decode(pcma.encode(x)), g711.alaw_decode(g711.alaw_encode(x)))
    assert not pcmu.conceal().any()  # without PLC a lost frame is silence
    with pytest.raises(CodecError):
        pcmu.encode(x.astype(np.float32))  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        g711.ulaw_encode(x.astype(np.int32))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_decode_any_bytes(g711: SimpleNamespace, data: bytes) -> None:
    for codec in (g711.get_codec("PCMU"), g711.get_codec("PCMA", plc=False)):
        out = codec.decode(data)
        assert out.dtype == np.int16 and len(out) == len(data)


def test_long_payloads_decode_through_code_pairs_exactly(g711: SimpleNamespace) -> None:
    # Even payloads of 400 codes or more take the two-codes-per-lookup table.
    _, _, ud, ad = tables("g191")
    rng = np.random.default_rng(11)
    for n in (398, 399, 400, 401, 402, 16000):
        codes = rng.integers(0, 256, n).astype(np.uint8)
        assert np.array_equal(g711.ulaw_decode(codes.tobytes()), ud[codes]), n
        assert np.array_equal(g711.alaw_decode(bytearray(codes.tobytes())), ad[codes]), n
    assert g711.ulaw_decode(bytes(range(256)) * 2).flags.writeable


class Sub(np.ndarray):
    """An ndarray subclass: the C fast path leaves it to the pure path."""


def test_unusual_inputs_give_g191_results_or_codec_errors(g711: SimpleNamespace) -> None:
    # The C fast path takes only plain contiguous native int16 arrays and bytes/bytearray;
    # everything else must come out exactly as G.191 says, or as the same CodecError.
    u, a, ud, ad = tables("g191")
    rng = np.random.default_rng(17)
    x = rng.integers(-32768, 32768, 1000).astype(np.int16)

    def at(table: np.ndarray, v: np.ndarray) -> bytes:  # the G.191 tables start at -32768
        return table[np.asarray(v).reshape(-1).astype(np.int32) + 32768].tobytes()

    unaligned = np.frombuffer(b"\0" + x.tobytes(), np.int16, 1000, 1)
    assert not unaligned.flags.aligned
    for v in (x, x[::3], x[::-1], x.reshape(10, 100), x.reshape(10, 100).T, x[5:6].reshape(()), x[:0],
              unaligned, x.view(Sub)):
        assert g711.ulaw_encode(v) == at(u, v)
        assert g711.alaw_encode(v) == at(a, v)
    for bad in (x.astype(">i2"), x.astype(np.int32), x.astype(np.float64), [1, 2, 3], b"\0\0"):
        with pytest.raises(CodecError):
            g711.ulaw_encode(bad)
        with pytest.raises(CodecError):
            g711.alaw_encode_frames(bad)
    codes = rng.integers(0, 256, 480).astype(np.uint8)
    want = ud[codes]
    for p in (codes.tobytes(), bytearray(codes.tobytes()), memoryview(codes.tobytes()), codes):
        assert np.array_equal(g711.ulaw_decode(p), want)
        assert np.array_equal(g711.alaw_decode(p), ad[codes])
    # Batches: tuples, bytearrays, memoryviews, empty and zero-width, unequal lengths.
    rows = [codes[i : i + 160].tobytes() for i in (0, 160, 320)]
    for batch in (rows, tuple(rows), [bytearray(r) for r in rows], [memoryview(r) for r in rows]):
        assert np.array_equal(g711.ulaw_decode_frames(batch), want.reshape(3, 160))
    assert g711.alaw_decode_frames([]).shape == (0, 0)
    assert g711.ulaw_decode_frames([b"", b""]).shape == (2, 0)
    with pytest.raises(CodecError):
        g711.ulaw_decode_frames([rows[0], rows[1][:159]])
    with pytest.raises(CodecError):
        g711.alaw_decode_frames([rows[0][:159], rows[1][:161]])  # right total, wrong split
    block = x[:960].reshape(6, 160)
    for blk in (block, block[:, ::2], np.asfortranarray(block), block[::2]):
        assert g711.ulaw_encode_frames(blk) == [at(u, r) for r in blk]
    assert g711.ulaw_encode_frames(np.zeros((3, 0), np.int16)) == [b"", b"", b""]
    assert g711.alaw_encode_frames(np.zeros((0, 160), np.int16)) == []
    for bad in (x, x.reshape(10, 10, 10)):
        with pytest.raises(CodecError):
            g711.ulaw_encode_frames(bad)
    # The bytes API: keywords, other buffers and widths, huge widths, odd lengths.
    assert g711.ulaw2lin(codes.tobytes(), width=2) == want.astype(np.int16).tobytes()
    assert g711.alaw2lin(memoryview(codes.tobytes()), 2) == ad[codes].astype(np.int16).tobytes()
    assert g711.lin2ulaw(bytearray(x.tobytes()), 2) == at(u, x)
    assert g711.lin2alaw(x.tobytes(), width=2) == at(a, x)
    for fn in (g711.ulaw2lin, g711.lin2alaw):
        with pytest.raises(CodecError):
            fn(b"\0\0", 2**70)
    with pytest.raises(CodecError):
        g711.lin2ulaw(x.tobytes()[:-1], 2)
    with pytest.raises(CodecError):
        g711.lin2ulaw(x.tobytes(), 2, rounding="nearest")


def test_public_functions_take_the_native_path_unless_rvoip_pure_is_set() -> None:
    probe = ("from rvoip_sansio import codecs; from rvoip_sansio.codecs import _g711, _g711_bytes;"
             "print(_g711.NATIVE is None, codecs.ulaw_decode is _g711.PURE['ulaw_decode'],"
             " codecs.lin2alaw is _g711_bytes.PURE['lin2alaw'])")

    assert native.probe(probe, RVOIP_PURE="1") == "True True True"
    require_module("rvoip_sansio.codecs._g711_native")
    assert native.probe(probe) == native.probe(probe, RVOIP_PURE="0") == "False False False"


def test_codec_info_shared_between_identical_codecs() -> None:
    # Every call's codec objects share one frozen CodecInfo per configuration (nothing per
    # call for the garbage collector); the facts are RFC 3551's table 4 either way.
    a, b = G711Codec("PCMU"), G711Codec("pcmu", plc=False)
    assert a.info is b.info
    assert (a.info.payload_type, a.info.clock_rate, a.info.frame_ms) == (0, 8000, 20)
    assert G711Codec("PCMA").info is not a.info and G711Codec("PCMA").info.payload_type == 8
    ten = G711Codec("PCMU", frame_ms=10).info
    assert ten is not a.info and ten.frame_samples == 80
    # Equal values of another type are another configuration (repr and fields unchanged).
    as_float = G711Codec("PCMU", frame_ms=20.0).info  # type: ignore[arg-type]
    assert as_float is not a.info and type(as_float.frame_ms) is float
    assert G722Codec().info is G722Codec(plc=False).info
    assert G722Codec(bitrate=56000).info.bitrate == 56000
