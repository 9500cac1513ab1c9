"""Conference mixer: exact sum-minus-own, saturation safety, mixed rates through an injected
resampler (scipy's polyphase one here), linear cost measured by executed bytecodes."""

from __future__ import annotations

import math
import sys
import tracemalloc
from fractions import Fraction
from types import FrameType
from typing import Any

import numpy as np
import pytest
from scipy import signal

from rvoip_sansio.media.mixer import ConferenceMixer, MixerConfig, soft_limit
from rvoip_sansio.media.sources import tone


class ScipyResampler:
    """A stateful polyphase converter built from scipy (firwin + lfilter with state)."""

    def __init__(self, src: int, dst: int) -> None:
        f = Fraction(dst, src)
        self.up, self.down = f.numerator, f.denominator
        m = max(self.up, self.down)
        self.h = signal.firwin(32 * m + 1, 0.92 / m) * self.up
        self.zi = np.zeros(len(self.h) - 1)
        self.pos = 0

    def __call__(self, pcm: np.ndarray) -> np.ndarray:
        u = np.zeros(len(pcm) * self.up)
        u[:: self.up] = pcm
        y, self.zi = signal.lfilter(self.h, 1.0, u, zi=self.zi)
        start = (-self.pos) % self.down
        self.pos += len(u)
        return np.clip(np.rint(y[start :: self.down]), -32768, 32767).astype(np.int16)


def _frames(n_parts: int, n: int, seed: int, amp: int = 1000) -> dict[int, np.ndarray]:
    g = np.random.default_rng(seed)
    return {i: g.integers(-amp, amp, n).astype(np.int16) for i in range(n_parts)}


@pytest.mark.parametrize("n_parts", [2, 3, 10, 50])
def test_each_hears_exactly_the_sum_of_the_others(n_parts: int) -> None:
    mixer = ConferenceMixer()
    for i in range(n_parts):
        mixer.add(i, 8000)
    frames = _frames(n_parts, 160, n_parts, amp=600)
    out = mixer.mix(frames)
    for i in range(n_parts):
        ref = sum(frames[j].astype(np.int64) for j in range(n_parts) if j != i)
        assert np.array_equal(out[i], np.asarray(ref).astype(np.int16)), i


@pytest.mark.parametrize("mode", ["limiter", "soft", "clip"])
def test_saturation_safe_no_wraparound(mode: str) -> None:
    mixer = ConferenceMixer(config=MixerConfig(mode=mode))
    for i in range(10):
        mixer.add(i, 16000)
    for k in range(20):
        frames = {i: tone(300 + 10 * i, 16000, 0.02, level_dbm0=3.0) for i in range(10)}
        out = mixer.mix(frames)
        total = sum(f.astype(np.int64) for f in frames.values())
        for i in range(10):
            ref = total - frames[i]
            o = out[i].astype(np.int64)
            assert o.max() <= 32767 and o.min() >= -32768
            big = np.abs(ref) > 2000
            assert np.all(np.sign(o[big]) == np.sign(ref[big]))  # never wraps around


def test_limiter_rides_gain_down_and_releases() -> None:
    mixer = ConferenceMixer(config=MixerConfig(mode="limiter", release=0.1))
    for i in range(3):
        mixer.add(i, 8000)
    loud = {i: tone(400 + 50 * i, 8000, 0.02, level_dbm0=2.0) for i in range(3)}
    for _ in range(10):
        out = mixer.mix(loud)
    peak = max(np.abs(o.astype(int)).max() for o in out.values())
    assert 0.85 * 32767 <= peak <= 32767
    quiet = {i: tone(400 + 50 * i, 8000, 0.02, level_dbm0=-30.0) for i in range(3)}
    for _ in range(50):  # 1 s = 10 release time constants
        out = mixer.mix(quiet)
    ref = quiet[1].astype(int) + quiet[2].astype(int)
    assert np.max(np.abs(out[0].astype(int) - ref)) <= 2  # gain is back to unity


def test_soft_limit_is_transparent_below_threshold_and_bounded_above() -> None:
    x = np.array([0, 1000, -29000, 29490, 40000, -10**6, 10**6])
    y = soft_limit(x, 0.9)
    assert y[:4].tolist() == [0, 1000, -29000, 29490]
    assert 29490 < y[4] < 32767 and y[5] == -32767 and y[6] == 32767


def test_mixed_rates_mix_at_the_highest_rate() -> None:
    mixer = ConferenceMixer(resampler=ScipyResampler)
    mixer.add("nb", 8000)
    mixer.add("wb", 16000)
    mixer.add("fb", 48000)
    assert mixer.mix_rate == 48000
    outs: dict[str, list[np.ndarray]] = {"nb": [], "wb": [], "fb": []}
    for k in range(50):
        frames = {
            "nb": tone(440, 8000, 1.0, level_dbm0=-20)[k * 160 : (k + 1) * 160],
            "wb": tone(5000, 16000, 1.0, level_dbm0=-20)[k * 320 : (k + 1) * 320],
            "fb": np.zeros(960, np.int16),
        }
        for pid, o in mixer.mix(frames).items():
            outs[pid].append(o)
    fb = np.concatenate(outs["fb"]).astype(float)
    nb = np.concatenate(outs["nb"]).astype(float)
    wb = np.concatenate(outs["wb"]).astype(float)
    assert len(fb) == 48000 and len(nb) == 8000 and len(wb) == 16000

    def level_at(x: np.ndarray, rate: int, f: float) -> float:
        seg = x[len(x) // 4 :]
        n = np.arange(len(seg))
        a = abs(np.dot(seg, np.exp(-2j * np.pi * f * n / rate))) * 2 / len(seg)
        return 20 * math.log10(max(a, 1e-9) / math.sqrt(2) / 32768) + 6.18

    # The 48 kHz listener hears both; the 8 kHz listener hears the 16 kHz talker's 5 kHz
    # tone removed (above its Nyquist) and nothing of itself.
    assert level_at(fb, 48000, 440) == pytest.approx(-20, abs=0.5)
    assert level_at(fb, 48000, 5000) == pytest.approx(-20, abs=0.5)
    assert level_at(wb, 16000, 440) == pytest.approx(-20, abs=0.5)
    assert level_at(nb, 8000, 440) < -60
    assert np.sqrt(np.mean(nb[len(nb) // 4 :] ** 2)) < 10  # the 5 kHz tone is filtered out


def test_without_resampler_rates_must_match() -> None:
    mixer = ConferenceMixer()
    mixer.add("a", 8000)
    with pytest.raises(ValueError, match="resampler"):
        mixer.add("b", 16000)


def test_missing_muted_and_bad_frames() -> None:
    mixer = ConferenceMixer()
    for pid in "abc":
        mixer.add(pid, 8000)
    a = np.full(160, 100, np.int16)
    out = mixer.mix({"a": a})
    assert not out["a"].any() and np.array_equal(out["b"], a) and np.array_equal(out["c"], a)
    mixer.set_muted("a", True)
    out = mixer.mix({"a": a, "b": a})
    assert np.array_equal(out["a"], a) and not out["b"].any() and np.array_equal(out["c"], a)
    with pytest.raises(ValueError):
        mixer.mix({"a": a, "b": a[:80]})
    with pytest.raises(ValueError):
        mixer.mix({"zz": a})
    with pytest.raises(ValueError):
        mixer.mix({})
    with pytest.raises(ValueError):
        mixer.add("a", 8000)
    mixer.remove("a")
    assert mixer.participants == ("b", "c")


def _opcodes(fn: Any) -> int:
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def test_cost_grows_linearly_with_participants() -> None:
    # Deterministic cost measure, no timing: Python bytecodes executed per tick (the work
    # numpy does is over N x n arrays by construction) and peak memory allocated.
    ops = {}
    mem = {}
    for n_parts in (10, 20, 40, 80):
        mixer = ConferenceMixer()
        for i in range(n_parts):
            mixer.add(i, 8000)
        frames = _frames(n_parts, 160, 1)
        mixer.mix(frames)
        ops[n_parts] = _opcodes(lambda: mixer.mix(frames))
        tracemalloc.start()
        mixer.mix(frames)
        mem[n_parts] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"\n[mixer] bytecodes per tick: {ops}; peak bytes: {mem}")
    for a, b in ((10, 20), (20, 40), (40, 80)):
        assert ops[b] / ops[a] <= 2.2  # doubling N at most doubles the work (plus slack)
        assert mem[b] / mem[a] <= 2.3
