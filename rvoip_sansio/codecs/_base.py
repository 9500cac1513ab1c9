"""What every codec object offers: its RTP/SDP facts (:class:`CodecInfo`) and the frame API.

A codec object is small and stateful (ADPCM predictors, the loss concealer's history, an
Opus encoder); the pure per-sample transforms live beside it as functions over numpy arrays.
"""

from __future__ import annotations

import abc
import functools

import attrs
import numpy as np
import numpy.typing as npt

from rvoip_sansio._core import RvoipError

__all__ = ["CodecInfo", "Codec", "CodecError", "PCM", "as_pcm"]

#: Audio samples: numpy int16, shape ``(n,)`` for mono or ``(n, channels)`` interleaved.
PCM = npt.NDArray[np.int16]


class CodecError(RvoipError, ValueError):
    """A codec was asked for something it cannot do (unknown name, bad option, bad frame)."""


@attrs.frozen(kw_only=True)
class CodecInfo:
    """The RTP and SDP facts of one codec configuration (RFC 3551, RFC 7587).

    ``clock_rate`` is the RTP timestamp rate written in SDP; ``sample_rate`` is the rate the
    audio is actually sampled at. They differ for G.722 (RFC 3551 §4.5.2: 8000 in SDP for
    historical reasons, 16000 in reality) and may differ for Opus (always 48000 on the wire).
    """

    name: str
    """Encoding name as written in ``a=rtpmap`` (``PCMU``, ``G722``, ``opus``, ``L16``)."""
    payload_type: int | None
    """Static payload type from RFC 3551 table 4, or None when it must be dynamic."""
    preferred_payload_type: int
    """Payload type to offer: the static one, or a customary dynamic number."""
    clock_rate: int
    sample_rate: int
    channels: int
    rtp_channels: int
    """Channel count written in ``a=rtpmap`` (Opus: always 2, RFC 7587 §7)."""
    frame_ms: float = 20
    """Packet duration (Opus also allows 2.5 ms)."""
    fmtp: str | None = None
    bitrate: int | None = None

    @property
    def rtpmap(self) -> str:
        """The ``a=rtpmap`` value after the payload type, e.g. ``G722/8000``, ``opus/48000/2``."""
        base = f"{self.name}/{self.clock_rate}"
        return base if self.rtp_channels == 1 else f"{base}/{self.rtp_channels}"

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one frame at ``sample_rate``."""
        return round(self.sample_rate * self.frame_ms / 1000)

    @property
    def timestamp_increment(self) -> int:
        """RTP timestamp units per frame (at ``clock_rate``)."""
        return round(self.clock_rate * self.frame_ms / 1000)

    def sdp_lines(self, payload_type: int | None = None) -> list[str]:
        """The ``a=rtpmap`` (and ``a=fmtp``) attribute lines for an SDP offer."""
        pt = self.preferred_payload_type if payload_type is None else payload_type
        lines = [f"a=rtpmap:{pt} {self.rtpmap}"]
        if self.fmtp:
            lines.append(f"a=fmtp:{pt} {self.fmtp}")
        return lines


@functools.lru_cache(maxsize=256, typed=True)
def shared_info(**fields: str | int | float | None) -> CodecInfo:
    """``CodecInfo(**fields)``, one shared object per distinct set of field values.

    A ``CodecInfo`` is frozen and holds only strings and numbers, so the codec objects of
    every call can share one: a call then keeps no ``CodecInfo`` of its own for the garbage
    collector to walk on each full pass (two per call-end, 11 references each). ``typed``:
    ``frame_ms=20`` and ``frame_ms=20.0`` stay apart."""
    return CodecInfo(**fields)  # type: ignore[arg-type]


def as_pcm(pcm: npt.ArrayLike, channels: int = 1) -> PCM:
    """Check and view ``pcm`` as contiguous int16 of shape ``(n,)`` or ``(n, channels)``."""
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        raise CodecError(f"PCM must be numpy int16, got {arr.dtype}")
    if channels > 1:
        if arr.ndim == 1 and arr.size % channels == 0:
            arr = arr.reshape(-1, channels)
        if arr.ndim != 2 or arr.shape[1] != channels:
            raise CodecError(f"PCM must have shape (n, {channels}), got {arr.shape}")
    elif arr.ndim != 1:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        else:
            raise CodecError(f"mono PCM must have shape (n,), got {arr.shape}")
    return np.ascontiguousarray(arr)


class Codec(abc.ABC):
    """One direction-agnostic codec instance: an encoder and a decoder sharing RTP facts.

    ``encode`` takes one frame (any whole number of samples the codec accepts) and returns
    the RTP payload; ``decode`` takes a payload and returns the samples; ``conceal`` returns
    one frame of substitute audio for a lost packet and keeps the decoder state going.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def info(self) -> CodecInfo: ...

    @abc.abstractmethod
    def encode(self, pcm: PCM) -> bytes: ...

    @abc.abstractmethod
    def decode(self, payload: bytes) -> PCM: ...

    @abc.abstractmethod
    def conceal(self) -> PCM: ...

    def reset(self) -> None:
        """Forget all history (a new stream, or after a long gap)."""

    @property
    def delay_samples(self) -> int:
        """Algorithmic delay the decoder adds (samples at ``info.sample_rate``)."""
        return 0
