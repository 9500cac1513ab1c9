"""RFC 3389 comfort noise: payload format, Levinson-Durbin against scipy, generated level."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, signal

from rvoip_sansio import ParseError
from rvoip_sansio.media._levels import level_dbov
from rvoip_sansio.media.cng import (
    ComfortNoiseEstimator,
    ComfortNoiseGenerator,
    ComfortNoisePayload,
    estimate_comfort_noise,
    levinson_durbin,
    reflection_to_lpc,
)
from rvoip_sansio.media.sources import pink_noise


def test_rfc3389_level_byte() -> None:
    # §3.1: level magnitude in -dBov in the 7 low bits, MSB 0; no spectrum is allowed.
    p = ComfortNoisePayload.parse(b"\x40")
    assert p.level == 64 and p.level_dbov == -64.0 and p.order == 0
    assert bytes(p) == b"\x40"
    with pytest.raises(ParseError) as e:
        ComfortNoisePayload.parse(b"\x80")
    assert e.value.offset == 0
    with pytest.raises(ParseError):
        ComfortNoisePayload.parse(b"")


def test_rfc3389_reflection_quantization() -> None:
    # §3.2 scaling as decoded by FFmpeg/WebRTC: k = (q - 127) / 128.
    p = ComfortNoisePayload.parse(bytes([30, 127, 0, 254, 12, 191]))
    assert p.order == 5
    assert p.coefficients == (0.0, -127 / 128, 127 / 128, -115 / 128, 0.5)
    q = ComfortNoisePayload.from_model(-30.4, [0.0, -0.99, 0.99, -0.9, 0.5, 1.5, -1.5])
    assert bytes(q) == bytes([30, 127, 0, 254, 12, 191, 254, 0])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_parse_round_trips_or_parse_error(data: bytes) -> None:
    try:
        p = ComfortNoisePayload.parse(data)
    except ParseError:
        return
    assert bytes(p) == data


def test_levinson_matches_scipy_toeplitz_solve() -> None:
    rng = np.random.default_rng(5)
    x = signal.lfilter([1.0], [1.0, -1.3, 0.8, -0.2], rng.standard_normal(8000))
    r = np.array([np.dot(x[: len(x) - i], x[i:]) for i in range(11)])
    a, k, err = levinson_durbin(r, 10)
    ref = linalg.solve_toeplitz(r[:10], -r[1:11])
    assert np.allclose(a[1:], ref, atol=1e-9)
    assert np.allclose(reflection_to_lpc(k), a, atol=1e-12)
    assert err == pytest.approx(float(r[0] + np.dot(a[1:], r[1:])), rel=1e-9)


def test_first_order_sign_convention() -> None:
    x = signal.lfilter([1.0], [1.0, -0.9], np.random.default_rng(2).standard_normal(16000))
    p = estimate_comfort_noise(np.clip(x * 300, -32768, 32767).astype(np.int16), order=1)
    assert p.coefficients[0] == pytest.approx(-0.9, abs=0.02)


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("true_a", [[1.0, -0.9], [1.0, -1.2, 0.6], [1.0, 0.5, 0.3, -0.2]])
def test_estimate_recovers_a_known_ar_model_and_level(rate: int, true_a: list[float]) -> None:
    e = np.random.default_rng(3).standard_normal(rate * 2)
    x = signal.lfilter([1.0], true_a, e)
    x = np.rint(x / np.sqrt(np.mean(x * x)) * 32768 * 10 ** (-35 / 20)).astype(np.int16)
    p = estimate_comfort_noise(x, order=len(true_a) - 1)
    assert p.level == 35
    est = reflection_to_lpc(p.coefficients)
    assert np.allclose(est, true_a, atol=0.05)


@pytest.mark.parametrize("level", [20, 35, 50, 65, 80])
@pytest.mark.parametrize("spectrum", ["flat", "pink", "ar"])
def test_generated_noise_level_within_2db_of_payload(level: int, spectrum: str) -> None:
    if spectrum == "flat":
        payload = ComfortNoisePayload(level=level)
    elif spectrum == "pink":
        shape = estimate_comfort_noise(pink_noise(8000, 2.0, level_dbov=-30, rng=random.Random(1)))
        payload = ComfortNoisePayload(level=level, reflection=shape.reflection)
    else:
        payload = ComfortNoisePayload.from_model(-level, [-0.9, 0.6, -0.3, 0.2])
    gen = ComfortNoiseGenerator(random.Random(9), payload)
    out = gen.generate(16000)
    measured = level_dbov(out)
    print(f"\n[cng] payload -{level} dBov ({spectrum}): generated {measured:.2f} dBov")
    assert abs(measured - (-level)) <= 2.0


def test_generated_spectrum_follows_the_model() -> None:
    k = [-0.8, 0.5, -0.3, 0.1]
    payload = ComfortNoisePayload.from_model(-30, k)
    out = ComfortNoiseGenerator(random.Random(4), payload).generate(8000 * 8).astype(np.float64)
    f, pxx = signal.welch(out, fs=8000, nperseg=256)
    _, h = signal.freqz([1.0], reflection_to_lpc(payload.coefficients), worN=f, fs=8000)
    model = np.abs(h) ** 2
    ratio_db = 10 * np.log10(pxx / model)
    ratio_db -= np.median(ratio_db)
    assert np.max(np.abs(ratio_db[3:-3])) < 1.5
    # and the output matches scipy's all-pole filter run on the same excitation
    gen = ComfortNoiseGenerator(np.random.default_rng(8), payload)
    ours = gen.generate(400).astype(np.float64)
    exc = np.random.default_rng(8).standard_normal(400)
    gain = 32768 * 10 ** (-30 / 20) * np.sqrt(np.prod(1 - np.array(payload.coefficients) ** 2))
    ref = signal.lfilter([1.0], reflection_to_lpc(payload.coefficients), exc * gain)
    assert np.max(np.abs(ours - np.rint(ref))) <= 1


def test_frames_of_any_size_give_the_same_noise() -> None:
    payload = ComfortNoisePayload.from_model(-40, [-0.5, 0.2])
    one = ComfortNoiseGenerator(random.Random(1), payload).generate(1000)
    gen = ComfortNoiseGenerator(random.Random(1), payload)
    parts = [gen.generate(n) for n in (1, 159, 160, 80, 600)]
    assert np.array_equal(np.concatenate(parts), one)


def test_round_trip_noise_to_payload_to_noise() -> None:
    src = pink_noise(16000, 3.0, level_dbov=-45, rng=random.Random(6))
    est = ComfortNoiseEstimator(order=12)
    for i in range(0, len(src), 320):
        est.update(src[i : i + 320])
    p = est.payload()
    assert abs(p.level - 45) <= 2 and p.order == 12  # recent frames of 1/f noise vary
    p2 = ComfortNoisePayload.parse(bytes(p))
    assert p2 == p
    out = ComfortNoiseGenerator(random.Random(2), p2).generate(48000)
    assert abs(level_dbov(out) - level_dbov(src)) <= 2.0
    # spectral tilt survives: low band louder than high band, as in the source
    def tilt(x: np.ndarray) -> float:
        f, pxx = signal.welch(x.astype(float), fs=16000, nperseg=512)
        return float(10 * np.log10(pxx[(f > 200) & (f < 1000)].mean() / pxx[(f > 4000) & (f < 7000)].mean()))
    assert abs(tilt(out) - tilt(src)) < 3.0


def test_level_change_glides_and_silence_estimates() -> None:
    gen = ComfortNoiseGenerator(random.Random(3), ComfortNoisePayload(level=60))
    gen.generate(800)
    gen.update(ComfortNoisePayload(level=30))
    out = gen.generate(8000)
    assert abs(level_dbov(out[4000:]) + 30) < 1.0
    assert estimate_comfort_noise(np.zeros(160, np.int16)).level == 127
    assert ComfortNoiseEstimator().payload().level == 127
    assert ComfortNoiseGenerator(random.Random(1)).generate(10).tolist() == [0] * 10
    with pytest.raises(ValueError):
        ComfortNoisePayload(level=200)
