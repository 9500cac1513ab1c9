"""The audioop-style bytes API (ulaw2lin, lin2ulaw, alaw2lin, lin2alaw) against G.191 and audioop.

Each test runs on the native (C) and the pure path (the ``g711`` fixture of test_g711.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import CodecError
from tests.codecs import peers
from tests.codecs.test_g711 import ALL, g711, tables  # noqa: F401 (g711: the path fixture)

CODES = bytes(range(256))
# Short fragments take the bytes.translate path, long ones the numpy pair table; odd
# lengths of the long kind take the one-code-per-lookup table.
LENGTHS = (0, 1, 7, 160, 399, 400, 401, 768, 1001)


def test_decode_width2_all_codes_equal_g191_both_paths(g711: SimpleNamespace) -> None:
    _, _, ud, ad = tables("g191")
    for n in LENGTHS:
        codes = (CODES * 4)[:n]
        idx = np.frombuffer(codes, np.uint8)
        assert g711.ulaw2lin(codes, 2) == ud.take(idx).astype(np.int16).tobytes(), n
        assert g711.alaw2lin(codes, 2) == ad.take(idx).astype(np.int16).tobytes(), n
        assert g711.ulaw2lin(bytearray(codes), 2) == g711.ulaw2lin(memoryview(codes), 2) == g711.ulaw2lin(codes, 2)


def test_encode_width2_all_inputs_equal_g191(g711: SimpleNamespace) -> None:
    u, a, _, _ = tables("g191")
    assert g711.lin2ulaw(ALL.tobytes(), 2) == u.tobytes()
    assert g711.lin2alaw(ALL.tobytes(), 2) == a.tobytes()


def test_audioop_rounding_reproduces_the_audioop_table(g711: SimpleNamespace) -> None:
    u_ao, _, _, _ = tables("audioop")
    u, _, _, _ = tables("g191")
    assert g711.lin2ulaw(ALL.tobytes(), 2, rounding="audioop") == u_ao.tobytes()
    assert int(np.count_nonzero(np.frombuffer(g711.lin2ulaw(ALL.tobytes(), 2), np.uint8) != u_ao)) == 508
    assert np.array_equal(np.frombuffer(g711.lin2ulaw(ALL.tobytes(), 2), np.uint8), u)


def test_all_widths_equal_audioop(g711: SimpleNamespace) -> None:
    audioop = peers.audioop()
    rng = np.random.default_rng(5)
    for n in LENGTHS:
        codes = (CODES * 4)[:n]
        for w in (1, 2, 3, 4):
            assert g711.ulaw2lin(codes, w) == audioop.ulaw2lin(codes, w), (n, w)
            assert g711.alaw2lin(codes, w) == audioop.alaw2lin(codes, w), (n, w)
    for w in (1, 2, 3, 4):
        frag = rng.integers(0, 256, w * 5000, dtype=np.uint8).tobytes()
        assert g711.lin2alaw(frag, w) == audioop.lin2alaw(frag, w), w
        assert g711.lin2ulaw(frag, w, rounding="audioop") == audioop.lin2ulaw(frag, w), w
        # G.191 rounding: the top 16 bits of each sample through the G.191 table.
        u, _, _, _ = tables("g191")
        top = np.frombuffer(audioop.lin2lin(frag, w, 2), np.int16).astype(np.int32) + 32768
        assert g711.lin2ulaw(frag, w) == u.take(top).tobytes(), w


def test_errors_are_codec_errors(g711: SimpleNamespace) -> None:
    with pytest.raises(CodecError):
        g711.ulaw2lin(b"\x00", 5)
    with pytest.raises(CodecError):
        g711.lin2ulaw(b"\x00" * 3, 2)
    with pytest.raises(CodecError):
        g711.lin2alaw(b"\x00" * 4, 3)
    with pytest.raises(CodecError):
        g711.lin2ulaw(b"\x00" * 4, 2, rounding="nearest")  # type: ignore[arg-type]
    assert issubclass(CodecError, ValueError)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=1200), st.integers(0, 5))
def test_any_bytes_any_width(g711: SimpleNamespace, data: bytes, width: int) -> None:
    for fn in (g711.ulaw2lin, g711.alaw2lin, g711.lin2ulaw, g711.lin2alaw):
        try:
            out = fn(data, width)
        except CodecError:
            assert width not in (1, 2, 3, 4) or (fn in (g711.lin2ulaw, g711.lin2alaw) and len(data) % width)
            continue
        if fn in (g711.ulaw2lin, g711.alaw2lin):
            assert len(out) == len(data) * width
        else:
            assert len(out) == len(data) // width
