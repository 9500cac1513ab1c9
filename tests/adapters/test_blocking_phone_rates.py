"""Blocking ``call.audio.read(timeout, rate=, frame_ms=)`` / ``frames(...)`` at the reader's
own rate and frame length, on two real media sockets (the harness of
test_blocking_phone_audio.py): a 16 kHz / 20 ms phone read as 8 kHz / 10 ms and as
48 kHz / 30 ms frames; sizes, contiguous indexes, frame counts exact for the samples the
reader took from the core, tone frequency (FFT peak) and level (dBm0)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from rvoip_sansio.media import level_dbm0, tone

from .test_blocking_phone_audio import RATE, Side, pair, peak_hz

__all__ = ["pair"]  # the fixture, imported for its use here


@pytest.mark.parametrize("rate,ms", [(8000, 10), (48000, 30)])
def test_frames_at_the_readers_rate_and_length(pair: tuple[Side, Side], rate: int, ms: int) -> None:
    a, b = pair
    with pytest.raises(ValueError):
        a.audio.read(0.0, rate=44100, frame_ms=1)   # 44.1 samples: not a whole frame
    pcm = tone(1000.0, RATE, 1.4, level_dbm0=-10.0)
    assert b.audio.write(pcm, timeout=5) == len(pcm)   # fits the 10 s queue at once
    frames = []
    until = time.monotonic() + 1.5
    for frame in a.audio.frames(0.5, rate=rate, frame_ms=ms):
        frames.append(frame)
        if time.monotonic() > until:
            break
    size = rate * ms // 1000
    assert frames and all(f.rate == rate and len(f.samples) == size for f in frames)
    assert [f.index for f in frames] == [frames[0].index + i * size for i in range(len(frames))]
    reframer = a.audio.reader(rate, ms).reframer
    assert reframer is not None and reframer.resets == 0
    g = math.gcd(RATE, rate)
    made = -(-reframer.samples_in * (rate // g) // (RATE // g))
    assert len(frames) + a.audio.reader(rate, ms).pending == made // size
    speech = [f.samples for f in frames if f.flags.is_speech]
    got = np.concatenate(speech)[rate // 5:]
    assert len(got) >= rate * 3 // 4
    assert abs(peak_hz(got, rate) - 1000.0) < 2.0
    assert abs(level_dbm0(got) - (-10.0)) < 1.0
