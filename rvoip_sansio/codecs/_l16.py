"""L16: uncompressed 16-bit linear PCM in network byte order (RFC 3551 §4.5.11).

Any rate and channel count; RFC 3551 gives static payload types only to 44.1 kHz stereo (10)
and mono (11). Multi-channel samples are interleaved (RFC 3551 §4.1).
"""

from __future__ import annotations

import numpy as np

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs._base import PCM, Codec, CodecError, CodecInfo, as_pcm, shared_info

__all__ = ["L16Codec", "l16_encode", "l16_decode"]

_BE16 = np.dtype(">i2")


def l16_encode(pcm: PCM) -> bytes:
    """Big-endian bytes of int16 samples (interleaved when 2-D)."""
    return np.asarray(pcm, dtype=np.int16).astype(_BE16).tobytes()


def l16_decode(payload: bytes | bytearray | memoryview, channels: int = 1) -> PCM:
    """int16 samples of an L16 payload: shape ``(n,)`` mono or ``(n, channels)``."""
    size = len(payload)
    unit = 2 * channels
    if size % unit:
        raise ParseError(f"L16 payload of {size} bytes is not a whole number of "
                         f"{channels}-channel samples", size - size % unit)
    out = np.frombuffer(payload, _BE16).astype(np.int16)
    return out if channels == 1 else out.reshape(-1, channels)


class L16Codec(Codec):
    """L16 at ``sample_rate`` with ``channels``; :meth:`conceal` repeats silence."""

    __slots__ = ("_info",)

    def __init__(self, *, sample_rate: int = 8000, channels: int = 1, frame_ms: int = 20,
                 payload_type: int | None = None) -> None:
        if sample_rate <= 0 or channels <= 0 or frame_ms <= 0:
            raise CodecError("L16 needs a positive sample rate, channel count and frame size")
        static = {(44100, 2): 10, (44100, 1): 11}.get((sample_rate, channels))
        pt = payload_type if payload_type is not None else (static if static is not None else 96)
        self._info = shared_info(
            name="L16", payload_type=static, preferred_payload_type=pt,
            clock_rate=sample_rate, sample_rate=sample_rate, channels=channels,
            rtp_channels=channels, frame_ms=frame_ms, bitrate=16 * sample_rate * channels,
        )

    @property
    def info(self) -> CodecInfo:
        return self._info

    def encode(self, pcm: PCM) -> bytes:
        return l16_encode(as_pcm(pcm, self._info.channels))

    def decode(self, payload: bytes) -> PCM:
        return l16_decode(payload, self._info.channels)

    def conceal(self) -> PCM:
        n = self._info.frame_samples
        ch = self._info.channels
        return np.zeros(n if ch == 1 else (n, ch), np.int16)
