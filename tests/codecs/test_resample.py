"""Resampler: measured frequency response, streaming == one-shot, exact counts over an hour.

Every test runs twice: on the optional C accelerator (``_resample_native``) and on the numpy
path; test_resample_native.py checks that the two give the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import CodecError, Resampler, _resample, resample
from tests.conftest import require_module


@pytest.fixture(autouse=True, scope="module", params=["native", "pure"])
def resampler_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The whole module once per path (module scope: hypothesis tests may use it)."""
    saved = _resample.NATIVE
    if request.param == "native":
        require_module("rvoip_sansio.codecs._resample_native")
        _resample.NATIVE = _resample.load_native()
        if _resample.NATIVE is None:
            pytest.fail("rvoip_sansio.codecs._resample_native is a stale build: pip install -e .")
    else:
        _resample.NATIVE = None
    yield request.param
    _resample.NATIVE = saved

PAIRS = [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (16000, 48000),
         (48000, 16000), (44100, 48000), (48000, 44100)]


def tone(freq: float, rate: int, n: int, amp: float = 16000.0) -> np.ndarray:
    return np.round(amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.int16)


def level_at(x: np.ndarray, freq: float, rate: int) -> float:
    """Amplitude of the component at ``freq`` (least squares fit of sin and cos)."""
    t = np.arange(len(x)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x.astype(np.float64), rcond=None)
    return float(np.hypot(*coef))


@pytest.mark.parametrize("rin,rout", PAIRS)
def test_passband_flat_within_0_1_db(rin: int, rout: int) -> None:
    nyq = min(rin, rout) / 2
    n = rin // 2
    for frac in (0.05, 0.3, 0.6, 0.8, 0.9):
        f = frac * nyq
        y = resample(tone(f, rin, n), rin, rout)
        core = y[len(y) // 8 : -len(y) // 8]
        gain_db = 20 * np.log10(level_at(core, f, rout) / 16000.0)
        assert abs(gain_db) < 0.1, (f, gain_db)


@pytest.mark.parametrize("rin,rout", [p for p in PAIRS if p[0] > p[1]])
def test_stopband_attenuation_when_decimating(rin: int, rout: int) -> None:
    # Components above the output Nyquist frequency must not alias back above -60 dB.
    n = rin // 2
    for frac in (1.0, 1.05, 1.3, 1.8):
        f = frac * rout / 2
        if f >= rin / 2:
            continue
        y = resample(tone(f, rin, n), rin, rout).astype(np.float64)
        core = y[len(y) // 8 : -len(y) // 8]
        rms = np.sqrt(np.mean(core**2))
        assert 20 * np.log10(rms * np.sqrt(2) / 16000.0 + 1e-12) < -60, f


@pytest.mark.parametrize("rin,rout", [p for p in PAIRS if p[0] < p[1]])
def test_images_suppressed_when_interpolating(rin: int, rout: int) -> None:
    f = 0.7 * rin / 2
    y = resample(tone(f, rin, rin // 2), rin, rout).astype(np.float64)
    core = y[len(y) // 8 : -len(y) // 8]
    spec = np.abs(np.fft.rfft(core * np.kaiser(len(core), 14)))
    freqs = np.fft.rfftfreq(len(core), 1 / rout)
    peak = spec.max()
    above = spec[freqs >= rin / 2].max()  # no image of the tone above the input Nyquist
    assert 20 * np.log10(above / peak) < -60


@pytest.mark.parametrize("rin,rout", PAIRS)
def test_streaming_in_random_chunks_equals_one_shot(rin: int, rout: int) -> None:
    rng = np.random.default_rng(rin + rout)
    x = rng.integers(-20000, 20000, rin).astype(np.int16)
    whole = Resampler(rin, rout).process(x)
    rs = Resampler(rin, rout)
    parts, i = [], 0
    while i < len(x):
        k = int(rng.integers(0, 700))
        parts.append(rs.process(x[i : i + k]))
        i += k
    assert np.array_equal(np.concatenate(parts), whole)
    assert len(whole) == -(-len(x) * rout // rin)


def test_an_hour_without_drift() -> None:
    # One hour at 8 kHz through 8 -> 16 kHz in uneven chunks: the count is exact and a 1 kHz
    # tone still has the phase it should have at the end (no sample gained or lost).
    rin, rout = 8000, 16000
    rs = Resampler(rin, rout)
    rng = np.random.default_rng(1)
    total_in = 3600 * rin
    fed = 0
    produced = 0
    last = np.zeros(0, np.int16)
    while fed < total_in:
        k = min(int(rng.integers(1, 5 * rin)), total_in - fed)
        n = np.arange(fed, fed + k)
        x = np.round(10000 * np.sin(2 * np.pi * 1000 * n / rin)).astype(np.int16)
        y = rs.process(x)
        produced += len(y)
        last = y
        fed += k
        assert produced == rs.samples_out == -(-fed * rout // rin)
    assert produced == 3600 * rout
    # The last chunk's output sample j is output number produced - len(last) + j, which sits at
    # input time (that - delay) / 2: compare with the ideal tone there.
    j = np.arange(len(last) - 400, len(last))
    t_out = (produced - len(last) + j - rs.delay) / rout
    ideal = 10000 * np.sin(2 * np.pi * 1000 * t_out)
    assert np.max(np.abs(last[j] - ideal)) < 10


def test_counts_exact_for_44100_to_48000_over_an_hour_of_frames() -> None:
    rs = Resampler(44100, 48000)
    frame = np.zeros(441, np.int16)  # 10 ms
    total = 0
    for _ in range(6000):  # one minute of 10 ms frames, processed
        total += len(rs.process(frame))
    assert total == 60 * 48000
    # ...and the arithmetic continues exactly for the rest of the hour.
    assert rs.output_count(59 * 60 * 44100) == 59 * 60 * 48000


def test_stereo_and_errors() -> None:
    x = np.stack([tone(500, 16000, 1600), tone(700, 16000, 1600)], axis=1)
    y = Resampler(16000, 8000, channels=2).process(x)
    assert y.shape == (800, 2)
    assert np.array_equal(y[:, 0], Resampler(16000, 8000).process(x[:, 0]))
    with pytest.raises(CodecError):
        Resampler(0, 8000)
    with pytest.raises(CodecError):
        Resampler(8000, 16000).process(np.zeros(10, np.float32))  # type: ignore[arg-type]
    assert np.array_equal(resample(x[:, 0], 16000, 16000), x[:, 0])


@pytest.mark.parametrize("rin,rout", [(8000, 16000), (48000, 8000), (44100, 48000)])
def test_many_streams_side_by_side_equal_one_by_one(rin: int, rout: int) -> None:
    # channels = independent streams: the matrix path gives exactly the per-stream answer.
    rng = np.random.default_rng(rin)
    x = rng.integers(-32768, 32768, (rin // 4, 7)).astype(np.int16)
    rs = Resampler(rin, rout, channels=7)
    parts, i = [], 0
    while i < len(x):
        k = int(rng.integers(1, 900))
        parts.append(rs.process(x[i : i + k]))
        i += k
    y = np.concatenate(parts)
    for s in range(7):
        assert np.array_equal(y[:, s], Resampler(rin, rout).process(x[:, s]))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PAIRS), st.lists(st.integers(0, 1200), max_size=12), st.integers(1, 3))
def test_any_chunking_any_channels(pair: tuple[int, int], sizes: list[int], ch: int) -> None:
    rin, rout = pair
    rng = np.random.default_rng(sum(sizes) + ch)
    x = rng.integers(-32768, 32768, (sum(sizes), ch)).astype(np.int16)
    rs = Resampler(rin, rout, channels=ch)
    parts, i = [], 0
    for k in sizes:
        parts.append(rs.process(x[i : i + k]))
        i += k
    y = np.concatenate(parts) if parts else np.zeros((0, ch), np.int16)
    assert len(y) == -(-len(x) * rout // rin) == rs.samples_out
    assert np.array_equal(y, Resampler(rin, rout, channels=ch).process(x))


@pytest.mark.parametrize("rin,rout", [(8000, 16000), (16000, 8000), (44100, 48000)])
def test_shared_matrix_cache_changes_no_sample(rin: int, rout: int) -> None:
    # Resamplers sharing the rate pair's cache, fed interleaved with different framings
    # (so they evict and reuse each other's matrices), equal private ones sample for sample
    # and still pass a 1 kHz tone at unit gain (level measured, not compared with itself).
    rng = np.random.default_rng(rout)
    streams = [tone(1000, rin, rin), rng.integers(-32768, 32768, rin).astype(np.int16)]
    shared = [Resampler(rin, rout, shared=True) for _ in streams]
    outs: list[list[np.ndarray]] = [[] for _ in streams]
    pos = [0, 0]
    while min(pos) < rin:
        for s, x in enumerate(streams):
            k = int(rng.choice([rin // 50, rin // 100, int(rng.integers(1, 400))]))
            outs[s].append(shared[s].process(x[pos[s] : pos[s] + k]))
            pos[s] += k
    for s, x in enumerate(streams):
        y = np.concatenate(outs[s])
        assert np.array_equal(y, Resampler(rin, rout).process(x))
    y0 = np.concatenate(outs[0])[rout // 10 :]
    assert abs(20 * np.log10(level_at(y0, 1000, rout) / 16000)) < 0.1


@pytest.mark.parametrize("rin,rout", PAIRS)
def test_frames_take_the_block_path_and_equal_one_shot(rin: int, rout: int) -> None:
    # 10 and 20 ms frames (and frames mixed with odd chunks, which move the phase) go
    # through the per-frame block product; the one-shot call through per-phase correlation.
    rng = np.random.default_rng(rin * 3 + rout)
    x = rng.integers(-32768, 32768, 2 * rin).astype(np.int16)
    whole = Resampler(rin, rout).process(x)
    for sizes in ([rin // 50], [rin // 100], [rin // 50, 7, rin // 100, 1]):
        rs = Resampler(rin, rout, shared=True)
        parts, i, j = [], 0, 0
        while i < len(x):
            k = sizes[j % len(sizes)]
            parts.append(rs.process(x[i : i + k]))
            i, j = i + k, j + 1
        assert np.array_equal(np.concatenate(parts), whole), sizes
    # Full-scale input saturates the same way on both paths (a square wave overshoots).
    sq = np.where(np.arange(rin // 5) % 40 < 20, 32767, -32768).astype(np.int16)
    rs = Resampler(rin, rout)
    framed = np.concatenate([rs.process(sq[i : i + rin // 50]) for i in range(0, len(sq), rin // 50)])
    assert np.array_equal(framed, Resampler(rin, rout).process(sq))
    assert framed.max() == 32767 and framed.min() == -32768
