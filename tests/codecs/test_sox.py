"""sox (Debian ``sox``) reads what we write exactly as we do: .ul, .al, big-endian L16, .wav."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from rvoip_sansio.codecs import alaw_decode, alaw_encode, l16_encode, ulaw_decode, ulaw_encode
from tests.codecs.speechlike import mixed_test_signal
from tests.conftest import require_program

pytestmark = pytest.mark.interop


def sox_to_raw(sox: str, src: Path, *in_args: str) -> np.ndarray:
    out = subprocess.run(
        [sox, *in_args, str(src), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout
    return np.frombuffer(out, "<i2").astype(np.int16)


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return mixed_test_signal(2.0, 8000, seed=31)


@pytest.mark.parametrize("ext,encode,decode", [
    ("ul", ulaw_encode, ulaw_decode),
    ("al", alaw_encode, alaw_decode),
])
def test_sox_decodes_our_g711_like_we_do(tmp_path: Path, signal: np.ndarray, ext: str,
                                          encode, decode) -> None:  # type: ignore[no-untyped-def]
    sox = require_program("sox")
    path = tmp_path / f"x.{ext}"
    codes = encode(signal) + bytes(range(256))  # and every code word
    path.write_bytes(codes)
    by_sox = sox_to_raw(sox, path, "-r", "8000", "-c", "1")
    assert np.array_equal(by_sox, decode(codes))


def test_sox_reads_our_l16_network_order(tmp_path: Path, signal: np.ndarray) -> None:
    sox = require_program("sox")
    path = tmp_path / "x.raw"
    path.write_bytes(l16_encode(signal))
    by_sox = sox_to_raw(sox, path, "-t", "raw", "-r", "8000", "-c", "1", "-e", "signed-integer",
                        "-b", "16", "-B")
    assert np.array_equal(by_sox, signal)


@pytest.mark.parametrize("rate,channels", [(8000, 1), (16000, 1), (48000, 2)])
def test_sox_reads_our_wav(tmp_path: Path, rate: int, channels: int) -> None:
    sox = require_program("sox")
    x = mixed_test_signal(0.5, rate, seed=rate)
    if channels == 2:
        x = np.stack([x, x[::-1]], axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())
    path = tmp_path / "x.wav"
    path.write_bytes(buf.getvalue())
    by_sox = sox_to_raw(sox, path)
    assert np.array_equal(by_sox, x.reshape(-1))
    info = subprocess.run([sox, "--i", "-r", str(path)], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()
    assert info == str(rate)
