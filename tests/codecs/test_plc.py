"""G.711 Appendix I concealment: behaviour the Appendix specifies, measured.

Every test runs twice, on the optional C accelerator ("native") and on the numpy path
("pure"): the autouse ``path`` fixture sets ``_plc.NATIVE``, which each new concealer reads
(also those the codecs make). Locally the native run is skipped when the extension is not
built; under ``CI=true`` it fails. test_plc_native.py compares the two paths sample by sample.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio.codecs import WaveformConcealer, _plc, get_codec, ulaw_encode
from tests.codecs.native import plc_native


@pytest.fixture(autouse=True, params=["native", "pure"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(_plc, "NATIVE", plc_native() if request.param == "native" else None)
    # Not the same path twice by accident: the concealers made now take the chosen path.
    assert (WaveformConcealer(8000)._c is None) == (request.param == "pure")
    yield request.param


FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the path stays the same for all examples


def voiced(rate: int, seconds: float, f0: float = 125.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return np.round(6000 * x).astype(np.int16)


def test_output_delay_is_quarter_of_longest_pitch() -> None:
    plc = WaveformConcealer(8000)
    assert plc.delay == 30  # 3.75 ms (POVERLAPMAX)
    x = voiced(8000, 0.1)
    out = np.concatenate([plc.receive(x[i : i + 80]) for i in range(0, 800, 80)])
    assert np.array_equal(out[30:], x[:-30])
    assert WaveformConcealer(16000).delay == 60


def test_first_lost_frame_repeats_the_pitch_period() -> None:
    plc = WaveformConcealer(8000)
    x = voiced(8000, 0.5)  # 125 Hz: a pitch period of 64 samples
    for i in range(0, 3200, 80):
        plc.receive(x[i : i + 80])
    lost = plc.conceal(80).astype(np.float64)
    assert plc._pitch == 64  # found by the Appendix I correlation search
    # The true continuation (delayed by 30 samples like everything the concealer outputs).
    truth = x[3200 - 30 : 3200 + 50].astype(np.float64)
    corr = np.dot(lost, truth) / np.sqrt(np.dot(lost, lost) * np.dot(truth, truth))
    assert corr > 0.95
    assert np.abs(lost).max() > 0.8 * np.abs(truth).max()  # no fade in the first 10 ms


def test_fades_by_20_percent_per_10ms_and_is_silent_after_60ms() -> None:
    plc = WaveformConcealer(8000)
    x = voiced(8000, 0.5, f0=100.0)  # one pitch period per 10 ms: equal RMS per unit
    for i in range(0, 3200, 80):
        plc.receive(x[i : i + 80])
    units = [plc.conceal(80).astype(np.float64) for _ in range(8)]
    rms = [np.sqrt(np.mean(u**2)) for u in units]
    # Synthetic unit k >= 1 fades linearly from 1 - 0.2(k-1) to 1 - 0.2k; output unit k is
    # centred 10 samples into synthetic unit k (the 30-sample delay), gain 1.175 - 0.2k there.
    for k in (1, 2, 3, 4, 5):
        assert abs(rms[k] / rms[0] - (1.175 - 0.2 * k)) < 0.03, (k, rms[k] / rms[0])
    # After 60 ms only the delayed tail of the 6th unit may remain, then exact silence.
    assert not units[6][30:].any() and not units[7].any()


def test_recovery_overlap_adds_into_real_signal() -> None:
    plc = WaveformConcealer(8000)
    x = voiced(8000, 0.6)
    out = []
    for i in range(0, 4800, 80):
        if 3200 <= i < 3360:  # two lost 10 ms units
            out.append(plc.conceal(80))
        else:
            out.append(plc.receive(x[i : i + 80]))
    y = np.concatenate(out).astype(np.float64)
    # No click at the seams: sample-to-sample steps stay as small as the signal's own.
    own = np.abs(np.diff(x.astype(np.float64))).max()
    assert np.abs(np.diff(y[3000:3600])).max() < 1.3 * own
    assert plc.erased == 0


def test_codec_conceal_uses_appendix_i() -> None:
    pcmu = get_codec("PCMU")
    x = voiced(8000, 0.4)
    for i in range(0, 3200, 160):
        pcmu.decode(ulaw_encode(x[i : i + 160]))
    lost = pcmu.conceal()
    assert lost.shape == (160,) and np.abs(lost).max() > 1000
    assert pcmu.delay_samples == 30
    g722 = get_codec("G722")
    assert g722.conceal().shape == (320,) and g722.delay_samples == 60


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=30),
       st.sampled_from([8000, 16000]))
def test_any_sequence_of_frames_and_losses(ops: list[tuple[bool, int]], rate: int) -> None:
    plc = WaveformConcealer(rate)
    rng = np.random.default_rng(len(ops))
    for lost, n in ops:
        if lost:
            out = plc.conceal(n)
        else:
            out = plc.receive(rng.integers(-32768, 32768, n).astype(np.int16))
        assert out.dtype == np.int16 and out.shape == (n,)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(law=st.sampled_from(["PCMU", "PCMA"]), frame_ms=st.sampled_from([5, 10, 20, 60]),
       steps=st.lists(st.tuples(st.sampled_from(["good", "good", "good", "lost", "odd",
                                                 "bytearray", "reset"]),
                                st.integers(0, 2**31)), max_size=40))
def test_g711_codec_conceals_exactly_as_the_concealer_fed_directly(
        law: str, frame_ms: int, steps: list[tuple[str, int]]) -> None:
    # G711Codec keeps the concealer's history as codes while it is only decoded packets
    # (a shortcut); every output must equal decode + WaveformConcealer step by step.
    from rvoip_sansio.codecs import G711Codec, alaw_decode, ulaw_decode

    codec = G711Codec(law, frame_ms=frame_ms)
    plc = WaveformConcealer(8000)
    decode = ulaw_decode if law == "PCMU" else alaw_decode
    n = codec.info.frame_samples
    for kind, seed in steps:
        rng = np.random.default_rng(seed)
        if kind == "reset":
            codec.reset()
            plc.reset()
            continue
        if kind == "lost":
            got, want = codec.conceal(), plc.conceal(n)
        else:
            size = int(rng.integers(0, 500)) if kind == "odd" else n
            payload = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            got = codec.decode(bytearray(payload) if kind == "bytearray" else payload)
            want = plc.receive(decode(payload))
        assert got.dtype == np.int16 and got.flags.writeable
        assert np.array_equal(got, want)
        got[:] = 1  # the caller may write into what it gets: the history must not change
