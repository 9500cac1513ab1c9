"""DTMF: Q.23 generation and Q.24 detection, checked against spandsp and against the rules."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.media import dtmf as D
from rvoip_sansio.media._levels import level_dbm0
from rvoip_sansio.media.sources import silence, speech_like, white_noise

from ._peers import load_spandsp, spandsp_detect, spandsp_generate
from ._signals import music_like

RATES = (8000, 16000)


def _pad(x: np.ndarray, rate: int) -> np.ndarray:
    return np.concatenate([silence(rate, 0.05), x, silence(rate, 0.1)])


def test_q23_frequency_table() -> None:
    # ITU-T Q.23 Table 1: row 697/770/852/941, column 1209/1336/1477/1633.
    assert D.dtmf_frequencies("1") == (697, 1209)
    assert D.dtmf_frequencies("5") == (770, 1336)
    assert D.dtmf_frequencies("9") == (852, 1477)
    assert D.dtmf_frequencies("*") == (941, 1209)
    assert D.dtmf_frequencies("0") == (941, 1336)
    assert D.dtmf_frequencies("#") == (941, 1477)
    assert D.dtmf_frequencies("a") == (697, 1633)
    assert D.dtmf_frequencies("D") == (941, 1633)
    with pytest.raises(ValueError):
        D.dtmf_frequencies("E")


def test_generated_tone_has_the_q23_spectrum_and_level() -> None:
    rate = 8000
    x = D.dtmf_tone("8", rate, 1.0, level_dbm0=-10.0, twist_db=2.0)
    spec = np.abs(np.fft.rfft(x)) / len(x) * 2
    peaks = sorted(np.argsort(spec)[-2:].tolist())
    assert peaks == [852, 1336]  # 1 Hz bins over 1 s
    lo_dbm0 = 20 * np.log10(spec[852] / np.sqrt(2) / 32768) + 6.18
    hi_dbm0 = 20 * np.log10(spec[1336] / np.sqrt(2) / 32768) + 6.18
    assert lo_dbm0 == pytest.approx(-10.0, abs=0.05)
    assert hi_dbm0 == pytest.approx(-8.0, abs=0.05)


def test_goertzel_recurrence_equals_the_dft() -> None:
    x = np.random.default_rng(1).standard_normal(205)
    for k in (18, 31, 40):
        ref = np.fft.fft(x)[k]
        got = D.goertzel(x, k * 8000 / 205, 8000)
        assert abs(got - ref) < 1e-9 * max(1.0, abs(ref))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("level", [-3.0, -10.0, -20.0, -30.0, -36.0])
def test_every_key_detected_across_levels_with_noise(rate: int, level: float) -> None:
    keys = D.DTMF_KEYS
    sig = D.dtmf_sequence(keys, rate, on=0.05, off=0.05, level_dbm0=level).astype(np.float64)
    # White noise 20 dB below each tone (but not under -66 dBov).
    noise = white_noise(rate, len(sig) / rate, level_dbov=max(level - 6.18 - 20.0, -66.0), rng=random.Random(7))
    x = np.clip(sig + noise[: len(sig)], -32768, 32767).astype(np.int16)
    assert D.detect_dtmf(_pad(x, rate), rate) == keys


@pytest.mark.parametrize("rate", RATES)
def test_below_minimum_level_is_ignored(rate: int) -> None:
    x = D.dtmf_sequence("159", rate, level_dbm0=-50.0)
    assert D.detect_dtmf(_pad(x, rate), rate) == ""


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("twist", "accepted"),
    [(0.0, True), (-7.5, True), (3.5, True), (-10.0, False), (6.0, False)],
)
def test_twist_rules(rate: int, twist: float, accepted: bool) -> None:
    # Q.24: accept high group up to 8 dB below (normal twist) and 4 dB above (reverse twist).
    x = D.dtmf_sequence("2580", rate, level_dbm0=-15.0, twist_db=twist)
    assert D.detect_dtmf(_pad(x, rate), rate) == ("2580" if accepted else "")


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("dev", "accepted"),
    [(0.0, True), (0.015, True), (-0.015, True), (0.035, False), (-0.035, False), (0.06, False)],
)
def test_frequency_tolerance(rate: int, dev: float, accepted: bool) -> None:
    # Q.24: accept ±1.5 %, reject ±3.5 % deviation from nominal.
    got = ""
    for key in D.DTMF_KEYS:
        x = D.dtmf_tone(key, rate, 0.08, level_dbm0=-12.0, freq_scale=1 + dev)
        got += D.detect_dtmf(_pad(x, rate), rate)
    assert got == (D.DTMF_KEYS if accepted else "")


@pytest.mark.parametrize("rate", RATES)
def test_q24_timing_accept_40ms_reject_23ms(rate: int) -> None:
    hop = rate // 1000
    for offset_ms in range(0, 10):
        lead = np.zeros(offset_ms * hop, np.int16)
        long_ = np.concatenate([lead, D.dtmf_tone("7", rate, 0.040, level_dbm0=-20)])
        short = np.concatenate([lead, D.dtmf_tone("7", rate, 0.023, level_dbm0=-20)])
        assert D.detect_dtmf(_pad(long_, rate), rate) == "7"
        assert D.detect_dtmf(_pad(short, rate), rate) == ""


@pytest.mark.parametrize("rate", RATES)
def test_sequences_with_short_gaps_and_repeats(rate: int) -> None:
    # 40 ms tones with 40 ms pauses (10 keys/s, the fastest Q.24 signalling), repeats included.
    keys = "1112223334445556667778889990000**##"
    x = D.dtmf_sequence(keys, rate, on=0.040, off=0.040, level_dbm0=-15)
    assert D.detect_dtmf(_pad(x, rate), rate) == keys


@pytest.mark.parametrize("rate", RATES)
def test_short_dropout_is_bridged(rate: int) -> None:
    t = D.dtmf_tone("6", rate, 0.2, level_dbm0=-15)
    t[int(0.1 * rate) : int(0.105 * rate)] = 0  # 5 ms interruption
    assert D.detect_dtmf(_pad(t, rate), rate) == "6"


def test_events_carry_timing_level_and_twist() -> None:
    rate = 8000
    x = np.concatenate([silence(rate, 0.1), D.dtmf_tone("9", rate, 0.12, level_dbm0=-17, twist_db=-3), silence(rate, 0.1)])
    events = D.DtmfDetector(rate).process(x)
    assert [type(e) for e in events] == [D.DtmfDigit, D.DtmfDigitEnded]
    on, off = events
    assert isinstance(on, D.DtmfDigit) and isinstance(off, D.DtmfDigitEnded)
    assert on.digit == off.digit == "9"
    assert abs(on.start - 800) <= 40  # within one 5 ms hop
    assert off.duration == pytest.approx(0.12, abs=0.006)
    assert on.level_dbm0 == pytest.approx(-17, abs=1.0)
    assert on.twist_db == pytest.approx(-3, abs=1.0)


@pytest.mark.parametrize("rate", (8000, 16000, 48000))
def test_streaming_in_any_frame_size_matches_one_shot(rate: int) -> None:
    x = _pad(D.dtmf_sequence("A1B2", rate, on=0.06, off=0.05, level_dbm0=-20), rate)
    whole = D.DtmfDetector(rate).process(x)
    det = D.DtmfDetector(rate)
    got: list[object] = []
    rng = random.Random(3)
    i = 0
    while i < len(x):
        n = rng.randint(1, rate // 25)
        got += det.process(x[i : i + n])
        i += n
    assert got == whole
    assert "".join(e.digit for e in whole if isinstance(e, D.DtmfDigit)) == "A1B2"


@pytest.mark.parametrize("rate", RATES)
def test_no_talk_off_on_speech_like_signal(rate: int) -> None:
    hits = ""
    for seed in range(6):
        x, _ = speech_like(rate, 10.0, level_dbov=-16.0, rng=random.Random(seed))
        hits += D.detect_dtmf(x, rate)
    print(f"\n[dtmf] talk-off on 60 s of speech-like signal at {rate} Hz: {len(hits)} false digits")
    assert hits == ""


@pytest.mark.parametrize("rate", RATES)
def test_no_talk_off_on_music_like_signal(rate: int) -> None:
    hits = ""
    for seed in range(6):
        hits += D.detect_dtmf(music_like(rate, 10.0, seed=seed), rate)
    print(f"\n[dtmf] talk-off on 60 s of music-like signal at {rate} Hz: {len(hits)} false digits")
    assert hits == ""


def test_no_detection_in_noise_or_silence() -> None:
    rate = 8000
    x = white_noise(rate, 10.0, level_dbov=-20.0, rng=random.Random(11))
    assert D.detect_dtmf(x, rate) == ""
    assert D.detect_dtmf(silence(rate, 1.0), rate) == ""


def test_spandsp_receiver_decodes_our_generator() -> None:
    lib = load_spandsp()
    keys = D.DTMF_KEYS
    for level in (-5.0, -15.0, -25.0):
        x = D.dtmf_sequence(keys, 8000, on=0.05, off=0.05, level_dbm0=level)
        assert spandsp_detect(lib, x) == keys
    # and the level we call -10 dBm0 is what spandsp generates for -10 dBm0
    ref = spandsp_generate(lib, "5", level=-10, twist=0, on_ms=200, off_ms=0)
    ours = D.dtmf_tone("5", 8000, 0.2, level_dbm0=-10)
    assert level_dbm0(ref) == pytest.approx(level_dbm0(ours), abs=0.3)


@pytest.mark.parametrize("level", [-5, -15, -25, -35])
def test_our_detector_decodes_spandsp_generator(level: int) -> None:
    lib = load_spandsp()
    keys = D.DTMF_KEYS
    x = spandsp_generate(lib, keys, level=level, twist=0, on_ms=50, off_ms=50)
    assert D.detect_dtmf(_pad(x, 8000), 8000) == keys
    x = spandsp_generate(lib, keys, level=level, twist=-4, on_ms=40, off_ms=40)
    assert D.detect_dtmf(_pad(x, 8000), 8000) == keys


def test_talk_off_compared_with_spandsp() -> None:
    lib = load_spandsp()
    ours = theirs = 0
    for seed in range(4):
        x, _ = speech_like(8000, 10.0, level_dbov=-16.0, rng=random.Random(100 + seed))
        ours += len(D.detect_dtmf(x, 8000))
        theirs += len(spandsp_detect(lib, x))
        m = music_like(8000, 10.0, seed=100 + seed)
        ours += len(D.detect_dtmf(m, 8000))
        theirs += len(spandsp_detect(lib, m))
    print(f"\n[dtmf] false digits in 40 s speech-like + 40 s music-like: ours {ours}, spandsp {theirs}")
    assert ours <= theirs


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError):
        D.DtmfDetector(44100)
    det = D.DtmfDetector(8000)
    with pytest.raises(ValueError):
        det.process(np.zeros((2, 80), np.int16))
    with pytest.raises(ValueError):
        det.process(np.array([1.5, 2.0]))


@pytest.mark.parametrize("rate", RATES)
def test_detection_rate_against_noise(rate: int) -> None:
    rates = {}
    for snr in (20, 15, 12, 9):
        hits = 0
        total = 0
        for seed in range(4):
            sig = D.dtmf_sequence(D.DTMF_KEYS, rate, on=0.05, off=0.05, level_dbm0=-20).astype(np.float64)
            # SNR: power of the tone pair (two tones at -20 dBm0) over the white noise power.
            noise_dbov = -20 - 6.18 + 3.01 - snr
            noise = white_noise(rate, len(sig) / rate, level_dbov=noise_dbov, rng=random.Random(seed))
            x = np.clip(sig + noise[: len(sig)], -32768, 32767).astype(np.int16)
            got = D.detect_dtmf(_pad(x, rate), rate)
            hits += sum(1 for a, b in zip(got, D.DTMF_KEYS) if a == b) if len(got) == 16 else 0
            total += 16
        rates[snr] = hits / total
    print(f"\n[dtmf] {rate} Hz detection rate by SNR (pair power / white noise): " + ", ".join(f"{k} dB: {v:.0%}" for k, v in rates.items()))
    assert rates[20] == 1.0 and rates[15] == 1.0


def test_recorded_spandsp_vector_decodes() -> None:
    # tests/data/media/spandsp_dtmf_8k.raw: spandsp's generator, 3 levels/twists (see README).
    from tests.conftest import DATA

    x = np.fromfile(DATA / "media" / "spandsp_dtmf_8k.raw", dtype="<i2").astype(np.int16)
    assert D.detect_dtmf(_pad(x, 8000), 8000) == D.DTMF_KEYS * 3
