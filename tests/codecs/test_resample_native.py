"""The optional C accelerator of the resampler gives the numpy path's samples, bit for bit.

The reference is the numpy path (``_resample.NATIVE = None``), itself checked against the
filter's measured response and one-shot conversion in test_resample.py (which runs on both
paths). Inputs include full-scale noise and square waves (saturation), random chunkings
(every phase offset), and inputs off the fast path (the C function must decline them).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import CodecError, Resampler, _resample
from tests.codecs.native import probe
from tests.conftest import require_module

PAIRS = [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (16000, 48000),
         (48000, 16000), (16000, 24000), (44100, 16000), (48000, 44100)]


@pytest.fixture(scope="module")
def native() -> Iterator[object]:
    require_module("rvoip_sansio.codecs._resample_native")
    mod = _resample.load_native()
    if mod is None:
        pytest.fail("rvoip_sansio.codecs._resample_native is a stale build: pip install -e .")
    saved = _resample.NATIVE
    yield mod
    _resample.NATIVE = saved


def run(path: object, rin: int, rout: int, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    """``x`` through one Resampler in chunks of ``sizes`` (repeated), on ``path``."""
    _resample.NATIVE = path  # type: ignore[assignment]
    rs = Resampler(rin, rout, shared=True)
    out, i, k = [], 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        out.append(rs.process(x[i : i + n]))
        i += n
        k += 1
    out.append(rs.flush())
    return np.concatenate(out)


def signals(rate: int) -> list[np.ndarray]:
    rng = np.random.default_rng(rate)
    n = rate // 4
    noise = np.clip(rng.standard_normal(n) * 20000, -32768, 32767).astype(np.int16)
    square = np.where(np.arange(n) // max(1, rate // 1000) % 2, 32767, -32768).astype(np.int16)
    t = np.arange(n) / rate
    tone = np.round(16000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return [noise, square, tone]


@pytest.mark.parametrize("rin,rout", PAIRS)
def test_native_equals_numpy_for_frames_and_odd_chunks(native: object, rin: int,
                                                       rout: int) -> None:
    frame = rin // 50
    for x in signals(rin):
        for sizes in ([frame], [1, 7, frame, 333, 5 * frame], [4000], [len(x)]):
            a = run(native, rin, rout, x, sizes)
            b = run(None, rin, rout, x, sizes)
            assert a.dtype == b.dtype == np.int16
            assert np.array_equal(a, b), (rin, rout, sizes)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PAIRS), st.lists(st.integers(0, 900), min_size=1, max_size=10),
       st.integers(0, 2**32 - 1))
def test_any_chunking_same_samples(native: object, pair: tuple[int, int], sizes: list[int],
                                   seed: int) -> None:
    rin, rout = pair
    rng = np.random.default_rng(seed)
    x = np.clip(rng.standard_normal(3000) * 12000, -32768, 32767).astype(np.int16)
    sizes = [s for s in sizes if s] or [1]
    assert np.array_equal(run(native, rin, rout, x, sizes), run(None, rin, rout, x, sizes))


def test_inputs_off_the_fast_path_behave_as_numpy(native: object) -> None:
    x = np.arange(-800, 800, 5, dtype=np.int16)
    for path in (native, None):
        _resample.NATIVE = path  # type: ignore[assignment]
        rs = Resampler(16000, 8000)
        for bad in (x.astype(np.float32), x.astype(">i2")):  # not int16, other byte order
            with pytest.raises(CodecError):
                rs.process(bad)  # type: ignore[arg-type]
        assert rs.process(x[::2]).dtype == np.int16  # not contiguous: numpy path
    _resample.NATIVE = native  # type: ignore[assignment]
    a = Resampler(16000, 8000)
    _resample.NATIVE = None
    b = Resampler(16000, 8000)
    for chunk in (x[::2], x[:333], x, x[::-1]):
        _resample.NATIVE = native  # type: ignore[assignment]
        ya = a.process(chunk)
        _resample.NATIVE = None
        assert np.array_equal(ya, b.process(chunk))
    res = native.resample  # type: ignore[attr-defined]
    assert res(np.zeros(2), x, np.zeros((1, 4)), 0, 1, 2, 10) is None  # history != taps - 1
    assert res(np.zeros(3), x, np.zeros((1, 4)), 0, 1, 2, 400) is None  # reads past the input
    assert res(np.zeros(3), x, np.zeros((2, 4)), 0, 1, 2, 10) is None  # coef rows != up
    assert res(np.zeros(3), x.astype(np.int32), np.zeros((1, 4)), 0, 1, 2, 10) is None


def test_rvoip_pure_turns_the_accelerator_off() -> None:
    code = "from rvoip_sansio.codecs import _resample; print(_resample.NATIVE is None)"
    assert probe(code, RVOIP_PURE="1") == "True"
    require_module("rvoip_sansio.codecs._resample_native")
    assert probe(code) == probe(code, RVOIP_PURE="0") == "False"


def test_declines_arguments_whose_row_index_would_overflow(native: object) -> None:
    """A direct call whose last row index r + (count - 1) * down overflows is declined
    (``None``: the numpy path takes it) instead of reading outside the buffer; NaN
    coefficients saturate instead of an undefined cast (found by an ASan/UBSan review)."""
    hist, x = np.zeros(0), np.zeros(10, np.int16)
    fn = native.resample  # type: ignore[attr-defined]
    assert fn(hist, x, np.ones((1, 1)), 0, 1, 2**61 + 2**40, 5) is None
    assert fn(hist, x, np.ones((1, 1)), 2**63 - 1, 1, 1, 2) is None
    out = fn(hist, x, np.full((1, 2), np.nan), 0, 1, 1, 3)
    assert out is None or (np.asarray(out) == -32768).all()
