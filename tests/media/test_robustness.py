"""Every streaming object survives arbitrary int16 input in arbitrary frame sizes (hypothesis),
and rejects wrong types with a clear ValueError."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.media import (
    AutomaticGainControl,
    ComfortNoiseEstimator,
    DtmfDetector,
    EchoCanceller,
    NoiseSuppressor,
    VoiceActivityDetector,
    estimate_comfort_noise,
)

chunks = st.lists(
    st.lists(st.integers(-32768, 32767), min_size=0, max_size=400).map(lambda v: np.array(v, dtype=np.int16)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(chunks, st.sampled_from([8000, 16000]))
def test_streaming_objects_take_any_frames(frames: list[np.ndarray], rate: int) -> None:
    dtmf = DtmfDetector(rate)
    vad = VoiceActivityDetector(rate)
    agc = AutomaticGainControl(rate)
    ns = NoiseSuppressor(rate)
    cn = ComfortNoiseEstimator()
    total = 0
    ns_out = 0
    for f in frames:
        dtmf.process(f)
        vad.process(f)
        y = agc.process(f)
        assert y.dtype == np.int16 and len(y) == len(f)
        ns_out += len(ns.process(f))
        cn.update(f)
        total += len(f)
    assert total - ns_out < rate // 100
    p = cn.payload()
    assert 0 <= p.level <= 127 and all(0 <= q <= 254 for q in p.reflection)
    if total:
        estimate_comfort_noise(np.concatenate(frames))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_echo_canceller_any_signals(blocks: int, seed: int) -> None:
    g = np.random.default_rng(seed)
    aec = EchoCanceller(8000)
    for _ in range(blocks):
        mic = g.integers(-32768, 32767, 160, dtype=np.int16)
        far = g.integers(-32768, 32767, 160, dtype=np.int16) * int(g.integers(0, 2))
        out = aec.process(mic, far.astype(np.int16))
        assert out.dtype == np.int16 and len(out) == 160


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 80), np.int16), np.array([0.5, 1.5]), np.array([70000, 0]), "text"]
)
def test_wrong_sample_types_are_value_errors(bad: object) -> None:
    for obj in (DtmfDetector(8000), VoiceActivityDetector(8000), AutomaticGainControl(8000), NoiseSuppressor(8000)):
        with pytest.raises(ValueError):
            obj.process(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EchoCanceller(8000).process(bad, bad)  # type: ignore[arg-type]
