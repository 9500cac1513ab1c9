"""Reframer / AudioReader: received audio at the reader's rate and frame length.

Yardsticks from outside the code under test: tone frequency (windowed FFT peak) and RMS
level, the analytic sine the output must match after the filter delay (phase after a
simulated hour: no drift), exact integer sample counts from the formula, and the flags rule
recomputed sample by sample from the filter's support.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.callmedia import AudioFlags, AudioFrame, AudioReader, Reframer
from rvoip_sansio.callmedia import frame_samples
from rvoip_sansio.sim import LinkConfig

from .helpers import pair, peak_frequency, rms, tone


def frames_of(x: np.ndarray, rate: int, sizes: list[int], *, start: int = 0,
              flags: list[int] | None = None) -> list[AudioFrame]:
    out, pos = [], 0
    for i, n in enumerate(sizes):
        out.append(AudioFrame(samples=x[pos:pos + n], rate=rate, index=start + pos,
                              time=(start + pos + n) / rate, rtp_timestamp=1000 + pos,
                              flags=AudioFlags(flags[i] if flags else 0)))
        pos += n
    return out


def run(rf: Reframer, frames: list[AudioFrame]) -> list[AudioFrame]:
    out: list[AudioFrame] = []
    for f in frames:
        out.extend(rf.push(f))
    return out


def expected_frames(n_in: int, rate_in: int, rate: int, frame_len: int) -> int:
    g = math.gcd(rate_in, rate)
    return -(-n_in * (rate // g) // (rate_in // g)) // frame_len


@pytest.mark.parametrize("rate,frame_ms", [(8000, 10), (48000, 30), (44100, 10), (16000, 30),
                                           (24000, 60), (16000, 20)])
def test_tone_frequency_level_and_counts(rate: int, frame_ms: int) -> None:
    x = tone(1000.0, 16000, 2.0, amplitude=8000)
    rf = Reframer(16000, rate, frame_ms)
    out = run(rf, frames_of(x, 16000, [320] * 100))
    fl = rate * frame_ms // 1000
    assert len(out) == expected_frames(len(x), 16000, rate, fl)
    assert all(len(f.samples) == fl and f.rate == rate for f in out)
    assert [f.index for f in out] == [i * fl for i in range(len(out))]
    y = np.concatenate([f.samples for f in out])[rate // 10:]   # after the filter's start
    assert abs(peak_frequency(y, rate) - 1000.0) < 0.5
    assert abs(20 * math.log10(rms(y) / (8000 / math.sqrt(2)))) < 0.1


def test_matches_analytic_sine_after_delay() -> None:
    """Output sample k is the input signal at (k - delay)·M/L: checked against the sine."""
    for rate in (8000, 48000, 44100):
        rf = Reframer(16000, rate, 10)
        x = tone(440.0, 16000, 1.0, amplitude=8000)
        y = np.concatenate([f.samples for f in run(rf, frames_of(x, 16000, [320] * 50))])
        k = np.arange(len(y))[rate // 10:]
        want = 8000 * np.sin(2 * np.pi * 440 * (k - rf.delay) / rate)
        assert np.max(np.abs(y[k] - want)) < 40, rate   # 70 dB filter: within ~0.5 %


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([(16000, 8000, 10), (16000, 48000, 30), (8000, 44100, 10),
                        (16000, 16000, 30), (48000, 16000, 20), (16000, 24000, 7)]),
       st.lists(st.integers(1, 900), min_size=1, max_size=25), st.integers(0, 2**32 - 1))
def test_any_chunking_same_samples_and_exact_counts(rates: tuple[int, int, int],
                                                    sizes: list[int], seed: int) -> None:
    rate_in, rate, ms = rates
    rng = np.random.default_rng(seed)
    x = rng.integers(-20000, 20000, sum(sizes), dtype=np.int16)
    whole = run(Reframer(rate_in, rate, ms), frames_of(x, rate_in, [len(x)]))
    rf = Reframer(rate_in, rate, ms)
    cut = run(rf, frames_of(x, rate_in, sizes))
    fl = frame_samples(rate, ms)
    assert len(cut) == len(whole) == expected_frames(len(x), rate_in, rate, fl)
    g = math.gcd(rate_in, rate)
    assert rf.samples_out == -(-len(x) * (rate // g) // (rate_in // g))
    if cut:
        assert np.array_equal(np.concatenate([f.samples for f in cut]),
                              np.concatenate([f.samples for f in whole]))
        assert [f.index for f in cut] == [i * fl for i in range(len(cut))]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([(16000, 8000, 10), (16000, 48000, 30), (16000, 16000, 30),
                        (8000, 44100, 20), (16000, 16000, 10)]),
       st.lists(st.tuples(st.integers(1, 700), st.sampled_from([0, 1, 2, 4, 8])),
                min_size=1, max_size=20))
def test_flags_rule_sample_by_sample(rates: tuple[int, int, int],
                                     chunks: list[tuple[int, int]]) -> None:
    """Each output frame's flags = OR over the input frames with a sample in the filter
    window of one of its samples, recomputed per output sample here."""
    rate_in, rate, ms = rates
    sizes = [n for n, _ in chunks]
    flags = [f for _, f in chunks]
    x = np.zeros(sum(sizes), np.int16)
    rf = Reframer(rate_in, rate, ms)
    out = run(rf, frames_of(x, rate_in, sizes, flags=flags))
    per_sample = np.repeat(np.array(flags), sizes)   # input sample -> its frame's flags
    g = math.gcd(rate_in, rate)
    up, down = rate // g, rate_in // g
    # per flag bit: how many input samples up to s carry it (prefix sums)
    counts = {bit: np.concatenate(([0], np.cumsum((per_sample & bit) != 0)))
              for bit in (1, 2, 4, 8)}
    for f in out:
        n = np.arange(f.index, f.index + len(f.samples))
        newest = n * down // up
        oldest = np.maximum(0, newest - rf.taps + 1)
        want = 0
        for bit, c in counts.items():
            if np.any(c[newest + 1] - c[oldest] > 0):
                want |= bit
        assert int(f.flags) == want


def test_concealed_frame_marks_only_what_it_reaches() -> None:
    """16 kHz 20 ms in, 8 kHz 10 ms out: input frame 10 (samples 3200..3519) marks its two
    output frames (20, 21) and those whose 177-tap window still reaches sample 3519: frame
    22 and frame 23 (its first output's window is 3504..3680); nothing else."""
    x = tone(500.0, 16000, 0.4)
    fl = [0] * 20
    fl[10] = int(AudioFlags.CONCEALED)
    out = run(Reframer(16000, 8000, 10), frames_of(x, 16000, [320] * 20, flags=fl))
    marked = [i for i, f in enumerate(out) if f.flags & AudioFlags.CONCEALED]
    assert marked == [20, 21, 22, 23]
    assert all(f.concealed == (i in marked) for i, f in enumerate(out))


def test_simulated_hour_no_drift() -> None:
    """An hour of 16 kHz in 1 s frames to 8 kHz / 30 ms (and 5 min to 48 kHz / 20 ms): exact counts,
    contiguous indexes, and the tone's phase in the last second still where the delay
    puts it (any drift of one sample would show as a 1000 Hz phase error of 45°)."""
    one = tone(1000.0, 16000, 1.0)   # whole cycles: the hour is the same second repeated
    for rate, ms, seconds in ((8000, 30, 3600), (48000, 20, 300)):
        rf = Reframer(16000, rate, ms)
        fl = rate * ms // 1000
        count, last_index, last = 0, -fl, None
        for s in range(seconds):
            f = AudioFrame(samples=one, rate=16000, index=s * 16000, time=float(s),
                           rtp_timestamp=s * 8000, flags=AudioFlags.NONE)
            for o in rf.push(f):
                assert o.index == last_index + fl
                last_index = o.index
                count += 1
                last = o
        assert count == expected_frames(16000 * seconds, 16000, rate, fl)
        assert rf.samples_out == seconds * rate
        assert last is not None
        k = np.arange(last.index, last.index + fl)
        want = 8000 * np.sin(2 * np.pi * 1000 * (k - rf.delay) / rate)
        assert np.max(np.abs(last.samples - want)) < 40


def test_index_jump_resets_and_flags_after_gap() -> None:
    x = tone(1000.0, 16000, 1.0)
    rf = Reframer(16000, 8000, 20)
    a = run(rf, frames_of(x[:3200], 16000, [320] * 10))
    assert all(not f.flags for f in a) and rf.resets == 0
    # the reader lost 5 frames (a full receive queue): input index jumps by 1600
    b = run(rf, frames_of(x[4800:], 16000, [320] * 35, start=4800))
    assert rf.resets == 1
    assert b[0].index == 4800 // 2 and b[0].flags & AudioFlags.AFTER_GAP
    assert [f.index for f in b] == [2400 + 160 * i for i in range(len(b))]
    assert len(b) == expected_frames(320 * 35, 16000, 8000, 160)
    # only frame 0's window (177 taps, newest sample 0..318) reaches before the restart
    assert [i for i, f in enumerate(b) if f.flags & AudioFlags.AFTER_GAP] == [0]


def test_reader_started_mid_stream_is_after_gap_and_rtp_timestamp() -> None:
    x = tone(1000.0, 16000, 0.2)
    out = run(Reframer(16000, 48000, 10), frames_of(x, 16000, [320] * 10, start=32000))
    assert out[0].index == 96000 and out[0].flags == AudioFlags.AFTER_GAP
    assert not out[1].flags
    # first sample minus the delay (132 at 48 kHz = 44 at 16 kHz) lies in the input frame
    # starting at 320·k: frame k = 3 starts at 960 (rtp_timestamp 1000 + 960)
    k = 3 * 480 // 3 - 44
    assert out[3].rtp_timestamp == 1000 + 320 * (k // 320)


def test_same_rate_and_length_passes_through() -> None:
    x = tone(700.0, 16000, 0.2)
    fl = [0, 1, 0, 2, 4, 8, 0, 0, 1, 0]
    src = frames_of(x, 16000, [320] * 10, flags=fl)
    out = run(Reframer(16000, 16000, 20), src)
    assert [(f.index, int(f.flags), f.rtp_timestamp) for f in out] == \
        [(f.index, int(f.flags), f.rtp_timestamp) for f in src]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(out, src))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        frame_samples(44100, 1)          # 44.1 samples
    with pytest.raises(ValueError):
        Reframer(16000, 8000, 0)
    with pytest.raises(ValueError):
        Reframer(16000, 0, 20)
    assert frame_samples(44100, 10) == 441 and frame_samples(8000, 2.5) == 20
    rf = Reframer(16000, 8000, 20)
    with pytest.raises(ValueError):
        rf.push(AudioFrame(samples=np.zeros(160, np.int16), rate=8000, index=0, time=0.0,
                           rtp_timestamp=0, flags=AudioFlags.NONE))


def test_audio_reader_on_a_lossy_call() -> None:
    """A real CallMedia pair (PCMU, 16 kHz app rate, 5 % loss): a reader at 8 kHz / 10 ms
    gets every sample (count exact), the tone, and concealment where the core had it."""
    net, a, b = pair(seed=3, link=LinkConfig(delay=0.02, loss=0.05),
                     a_kw=dict(rate=16000), b_kw=dict(rate=16000))
    a.write(tone(400.0, 16000, 3.0))
    net.run(until=3.2)
    core = []
    while (f := b.read_frame()) is not None:
        core.append(f)
    src = _Replay(core)
    reader = AudioReader(rate=8000, frame_ms=10)
    got = []
    while (f := reader.read(src)) is not None or reader.pending:
        if f is not None:
            got.append(f)
    n_in = sum(len(f.samples) for f in core)
    assert len(got) == expected_frames(n_in, 16000, 8000, 80)
    assert any(f.concealed for f in core)
    assert reader.reframer is not None and reader.resets == 0
    # every concealed core frame shows in the output frames covering its span
    for cf in core:
        if cf.concealed:
            i0 = cf.index // 2
            assert any(g.concealed for g in got if g.index <= i0 < g.index + 80)
    speech = np.concatenate([g.samples for g in got if g.flags.is_speech])
    assert abs(peak_frequency(speech, 8000) - 400.0) < 3
    # a different CallMedia (media rebuilt): a fresh stream, flagged AFTER_GAP
    again = _Replay(core[:10])
    first = reader.read(again)
    assert first is not None and first.flags & AudioFlags.AFTER_GAP and first.index == 0
    assert reader.resets == 1
    # the reader also runs straight off the CallMedia itself
    assert AudioReader(48000, 30).read(b) is None   # b's queue was emptied above


def test_audio_reader_passthrough_is_the_core_frame() -> None:
    frames = frames_of(tone(300.0, 16000, 0.1), 16000, [320] * 5)
    src = _Replay(frames)
    reader = AudioReader(16000, 20)
    assert [reader.read(src) for _ in range(5)] == frames and reader.read(src) is None
    assert reader.reframer is None
    assert reader.read(None) is None


class _Config:
    rate = 16000
    frame_ms = 20.0


class _Replay:
    config = _Config()

    def __init__(self, frames: list[AudioFrame]) -> None:
        self.frames = list(frames)

    def read_frame(self) -> AudioFrame | None:
        return self.frames.pop(0) if self.frames else None

