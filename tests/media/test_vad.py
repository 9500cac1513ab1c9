"""VAD: detection and false-alarm rates on synthetic talkers in several noises, onset latency
(for barge-in), noise-step recovery, streaming invariance. Figures are printed (-s)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.media.cng import ComfortNoiseGenerator, ComfortNoisePayload
from rvoip_sansio.media.sources import pink_noise, speech_like, white_noise
from rvoip_sansio.media.vad import SpeechEnded, SpeechStarted, VadConfig, VoiceActivityDetector


def _noise(kind: str, rate: int, n: int, level: float, seed: int) -> np.ndarray:
    if kind == "white":
        return white_noise(rate, n / rate, level_dbov=level, rng=random.Random(seed)).astype(float)[:n]
    if kind == "pink":
        return pink_noise(rate, n / rate, level_dbov=level, rng=random.Random(seed)).astype(float)[:n]
    if kind == "comfort":
        cn = ComfortNoisePayload.from_model(level, [-0.8, 0.4, -0.2])
        return ComfortNoiseGenerator(random.Random(seed), cn).generate(n).astype(float)
    # line noise: 50 Hz hum with odd harmonics plus hiss 6 dB below
    t = np.arange(n) / rate
    h = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 3, 5, 7))
    h *= 32768 * 10 ** (level / 20) * 0.8 / np.sqrt(np.mean(h * h))
    return h + white_noise(rate, n / rate, level_dbov=level - 6, rng=random.Random(seed)).astype(float)[:n]


def _run(rate: int, x: np.ndarray, frame: int | None = None) -> np.ndarray:
    vad = VoiceActivityDetector(rate)
    step = frame or rate // 50
    return np.concatenate([vad.update(x[i : i + step]) for i in range(0, len(x), step)])


def _rates(rate: int, kind: str, snr: float, seed: int = 1) -> tuple[float, float, float]:
    s, act = speech_like(rate, 15.0, level_dbov=-20, rng=random.Random(seed))
    x = np.clip(s + _noise(kind, rate, len(s), -20 - snr, seed + 1), -32768, 32767).astype(np.int16)
    d = _run(rate, x)
    b = rate // 100
    truth = act[: len(d) * b].reshape(-1, b).mean(axis=1) > 0.5
    # False alarms are counted outside speech and outside the 250 ms after it (hangover).
    near = np.convolve(truth.astype(float), np.ones(25))[: len(truth)] > 0
    starts = np.nonzero(truth[1:] & ~truth[:-1])[0] + 1
    lat = []
    for st in starts:
        hit = np.nonzero(d[st : st + 30])[0]
        if d[st - 1]:
            continue  # still in hangover of the previous syllable
        lat.append(hit[0] * 10.0 if hit.size else 300.0)
    return float(d[truth].mean()), float(d[~near].mean()), float(np.median(lat))


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("kind", ["white", "pink", "comfort", "line"])
def test_detection_and_false_alarm_rates(rate: int, kind: str) -> None:
    rows = []
    for snr in (20, 10, 5, 0):
        det, fa, lat = _rates(rate, kind, snr)
        rows.append((snr, det, fa, lat))
        print(f"\n[vad] {rate} Hz {kind:7s} SNR {snr:2d} dB: detection {det:.3f}  false alarm {fa:.3f}  median onset {lat:.0f} ms", end="")
    by = {snr: (det, fa, lat) for snr, det, fa, lat in rows}
    assert by[20][0] >= 0.95 and by[10][0] >= 0.85
    assert by[5][0] >= 0.5
    assert all(fa <= 0.02 for _, _, fa, _ in rows)
    assert by[20][2] <= 30 and by[10][2] <= 40  # barge-in: fast onset


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize("level", [-70.0, -50.0, -30.0])
def test_no_false_alarms_on_noise_alone(rate: int, level: float) -> None:
    for kind in ("white", "pink", "comfort", "line"):
        x = np.clip(_noise(kind, rate, rate * 4, level, 3), -32768, 32767).astype(np.int16)
        d = _run(rate, x)
        assert d[30:].mean() <= 0.005, (kind, d[30:].mean())
    assert not _run(rate, np.zeros(rate * 2, np.int16)).any()


def test_noise_step_is_learnt_within_three_seconds() -> None:
    rate = 8000
    quiet = _noise("pink", rate, rate * 3, -60, 4)
    loud = _noise("pink", rate, rate * 8, -40, 5)
    d = _run(rate, np.concatenate([quiet, loud]).astype(np.int16))
    after = d[300:]  # blocks after the step
    settled = np.nonzero(~after)[0]
    print(f"\n[vad] +20 dB noise step: flagged as speech for {settled[0] * 10 if settled.size else 'ever'} ms")
    assert settled.size and settled[0] <= 300
    assert not after[500:].any()


def test_speech_after_noise_step_still_detected() -> None:
    rate = 16000
    s, act = speech_like(rate, 12.0, level_dbov=-20, rng=random.Random(9))
    n = np.concatenate([_noise("white", rate, rate * 4, -55, 1), _noise("white", rate, len(s) - rate * 4, -35, 2)])
    d = _run(rate, np.clip(s + n, -32768, 32767).astype(np.int16))
    b = rate // 100
    truth = act[: len(d) * b].reshape(-1, b).mean(axis=1) > 0.5
    assert d[800:][truth[800:]].mean() >= 0.85


def test_events_and_frame_size_invariance() -> None:
    rate = 16000
    s, _ = speech_like(rate, 6.0, level_dbov=-20, rng=random.Random(2))
    x = np.clip(s + _noise("white", rate, len(s), -45, 1), -32768, 32767).astype(np.int16)
    whole = _run(rate, x, frame=len(x))
    odd = _run(rate, x, frame=137)
    assert np.array_equal(whole, odd)
    vad = VoiceActivityDetector(rate)
    events = vad.process(x)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert starts and len(starts) - len(ends) in (0, 1)
    assert all(a.sample < b.sample for a, b in zip(starts, ends))
    edges = np.nonzero(np.diff(whole.astype(int)) == 1)[0] + 1
    assert [e.sample for e in starts] == [int(i) * (rate // 100) for i in edges]


def test_config_and_errors() -> None:
    with pytest.raises(ValueError):
        VoiceActivityDetector(11025)
    v = VoiceActivityDetector(8000, config=VadConfig(hangover=0.0, onset_blocks=1))
    assert v.update(np.zeros(79, np.int16)).size == 0
    assert v.update(np.zeros(1, np.int16)).tolist() == [False]
    assert not v.active


@pytest.mark.parametrize("codec", ["G722", "PCMU"])
def test_no_onset_on_a_codecs_idle_channel_noise(codec: str) -> None:
    """Digital silence through a real codec comes out as a faint hiss (G.722: about -88 dBov,
    peaks of a few LSB). Below ``min_level_dbov`` nothing is speech, so a barge-in detector
    must not fire on it (it did: the per-bin floor was computed without the window's energy),
    and speech after it is still found."""
    from rvoip_sansio.codecs import get_codec

    c = get_codec(codec)
    rate = c.info.sample_rate
    frame = rate // 50
    idle = np.concatenate([c.decode(c.encode(np.zeros(frame, np.int16))) for _ in range(150)])
    assert np.abs(idle).max() < 40  # a hiss of a few LSB (PCMU: exact zeros)
    vad = VoiceActivityDetector(rate)
    assert vad.process(idle) == []
    t = np.arange(rate) / rate
    voiced = (3000 * np.sin(2 * np.pi * 300 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    events = vad.process(voiced)
    assert events and isinstance(events[0], SpeechStarted)
    assert events[0].sample - idle.size < rate // 5  # found within 200 ms
