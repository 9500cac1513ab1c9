"""WAV in memory: ``wav_bytes`` and ``read_wav_bytes`` over stdlib ``wave`` and ``io.BytesIO``.

No file I/O here (the core is pure); adapters wrap these for files. Reading accepts PCM
WAV with 8-, 16-, 24- or 32-bit samples and converts to int16; anything else is a
:class:`~rvoip_sansio.ParseError`.
"""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import numpy.typing as npt

from .._core import ParseError
from ._levels import Pcm

__all__ = ["wav_bytes", "read_wav_bytes"]


def wav_bytes(pcm: npt.ArrayLike, rate: int, channels: int = 1) -> bytes:
    """A complete 16-bit PCM WAV file holding ``pcm``.

    ``pcm`` is int16, shape ``(n,)`` for mono or ``(n, channels)`` (interleaved on output).
    """
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        raise ValueError(f"pcm must be int16, got {arr.dtype}")
    if channels < 1:
        raise ValueError("channels must be at least 1")
    if arr.ndim == 1 and channels == 1:
        frames = arr
    elif arr.ndim == 2 and arr.shape[1] == channels:
        frames = arr.reshape(-1)
    else:
        raise ValueError(f"pcm shape {arr.shape} does not match channels={channels}")
    if not 1 <= rate <= 0xFFFFFFFF:
        raise ValueError(f"bad sample rate {rate}")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.astype("<i2").tobytes())
    return buf.getvalue()


def _to_int16(raw: bytes, width: int) -> Pcm:
    if width == 1:  # 8-bit WAV is unsigned, offset 128
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(np.int16)
    return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)


def read_wav_bytes(data: bytes | bytearray | memoryview) -> tuple[Pcm, int, int]:
    """Parse a PCM WAV file: ``(pcm, rate, channels)``; pcm is ``(n,)`` mono or ``(n, ch)``."""
    try:
        with wave.open(io.BytesIO(bytes(data)), "rb") as w:
            channels = w.getnchannels()
            width = w.getsampwidth()
            rate = w.getframerate()
            nframes = w.getnframes()
            if channels < 1 or width not in (1, 2, 3, 4):
                raise ParseError(f"unsupported WAV format: {channels} ch, {width} bytes/sample", 20)
            if rate < 1:
                raise ParseError(f"bad WAV sample rate {rate}", 24)
            # Streamed WAVs (sox to a pipe) announce a bogus length: read what is there,
            # never more than the input holds.
            raw = w.readframes(min(nframes, len(data) // (width * channels)))
    except ParseError:
        raise
    except (wave.Error, EOFError, struct.error, ValueError, OverflowError, RuntimeError) as exc:
        raise ParseError(f"not a valid PCM WAV file: {exc}", 0) from None
    usable = len(raw) // (width * channels) * (width * channels)
    pcm = _to_int16(raw[:usable], width)
    if channels > 1:
        pcm = pcm.reshape(-1, channels)
    return pcm, rate, channels
