"""WAV helpers: round trips, stdlib/sox interop, and typed errors on garbage."""

from __future__ import annotations

import io
import subprocess
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.media import read_wav_bytes, wav_bytes
from rvoip_sansio.media.sources import tone
from tests.conftest import require_program


def test_round_trip_mono_and_stereo() -> None:
    x = tone(440, 8000, 0.5, level_dbm0=-6)
    pcm, rate, ch = read_wav_bytes(wav_bytes(x, 8000))
    assert (rate, ch) == (8000, 1)
    assert np.array_equal(pcm, x)
    st2 = np.stack([x, -x], axis=1)
    pcm2, rate2, ch2 = read_wav_bytes(wav_bytes(st2, 48000, 2))
    assert (rate2, ch2) == (48000, 2)
    assert np.array_equal(pcm2, st2)


def test_header_is_what_stdlib_wave_reads() -> None:
    x = np.arange(-100, 100, dtype=np.int16)
    data = wav_bytes(x, 16000)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, 200)
        assert w.readframes(200) == x.astype("<i2").tobytes()


def test_other_sample_widths_convert_to_int16() -> None:
    for width, raw, expect in [
        (1, bytes([0, 128, 255]), [-32768, 0, 32512]),
        (3, b"\x00\x00\x80\x00\x00\x00\xff\xff\x7f", [-32768, 0, 32767]),
        (4, b"\x00\x00\x00\x80\x00\x00\x00\x00", [-32768, 0]),
    ]:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(width)
            w.setframerate(8000)
            w.writeframes(raw)
        pcm, _, _ = read_wav_bytes(buf.getvalue())
        assert pcm.tolist() == expect


def test_sox_reads_our_wav(tmp_path: object) -> None:
    sox = require_program("sox")
    x = tone(1000, 8000, 0.25, level_dbm0=-10)
    res = subprocess.run(
        [sox, "-t", "wav", "-", "-t", "raw", "-e", "signed", "-b", "16", "-L", "-"],
        input=wav_bytes(x, 8000), capture_output=True, check=True, timeout=30,
    )
    assert np.array_equal(np.frombuffer(res.stdout, "<i2"), x)


def test_we_read_sox_wav() -> None:
    sox = require_program("sox")
    res = subprocess.run(
        [sox, "-n", "-r", "16000", "-c", "1", "-b", "16", "-t", "wav", "-", "synth", "0.1", "sine", "440"],
        capture_output=True, check=True, timeout=30,
    )
    pcm, rate, ch = read_wav_bytes(res.stdout)
    assert (rate, ch, len(pcm)) == (16000, 1, 1600)
    spec = np.abs(np.fft.rfft(pcm))
    assert int(np.argmax(spec)) == 44  # 440 Hz in 10 Hz bins


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        wav_bytes(np.zeros(10, np.float32), 8000)
    with pytest.raises(ValueError):
        wav_bytes(np.zeros((10, 3), np.int16), 8000, 2)


@pytest.mark.parametrize("data", [b"", b"RIFF", b"RIFF\x00\x00\x00\x00WAVE", b"not a wav at all" * 4])
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        read_wav_bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_only_parse_errors(data: bytes) -> None:
    try:
        read_wav_bytes(data)
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 43), st.binary(min_size=1, max_size=8))
def test_fuzz_mutated_header(pos: int, junk: bytes) -> None:
    good = bytearray(wav_bytes(np.arange(50, dtype=np.int16), 8000))
    good[pos : pos + len(junk)] = junk
    try:
        pcm, rate, ch = read_wav_bytes(bytes(good))
    except ParseError:
        return
    assert pcm.dtype == np.int16 and rate >= 1 and ch >= 1
