"""What a call's media hands to the application: audio frames, events and reports."""

from __future__ import annotations

import enum

import attrs
import numpy as np
import numpy.typing as npt

from .._core import Address, Event, slot_setters
from ..rtp import QualityReport

__all__ = [
    "AudioFlags", "AudioFrame", "BackpressureChanged", "Drained", "HealthReport",
    "MediaReport", "SendFailed", "SrtpDropped",
]


class AudioFlags(enum.IntFlag):
    """What a received :class:`AudioFrame` holds (bits OR-ed over the codec frames in it)."""

    NONE = 0
    #: Packet-loss concealment (codec PLC) stands in for a lost or late packet.
    CONCEALED = 1
    #: Comfort noise (RFC 3389) generated from the peer's CN packets.
    COMFORT_NOISE = 2
    #: Real audio that follows concealed/skipped frames (a discontinuity before it).
    AFTER_GAP = 4
    #: No talk spurt in progress (the peer is silent or not started): digital silence.
    SILENCE = 8

    @property
    def is_speech(self) -> bool:
        """Decoded audio from real packets (neither concealment, CN nor silence)."""
        return not self & (AudioFlags.CONCEALED | AudioFlags.COMFORT_NOISE | AudioFlags.SILENCE)


@attrs.frozen(kw_only=True, eq=False)
class AudioFrame:
    """One frame of received audio at the application's rate and frame size.

    ``index``: position of the first sample on the receive media clock (samples at ``rate``
    since the stream started; consecutive frames are contiguous). ``time``: the media tick
    (the caller's ``now`` scale) that produced the last codec frame in it.
    ``rtp_timestamp``: RTP timestamp of the slot that produced its first codec frame.
    """

    samples: npt.NDArray[np.int16]
    rate: int
    index: int
    time: float
    rtp_timestamp: int
    flags: AudioFlags

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    @property
    def concealed(self) -> bool:
        return bool(self.flags & (AudioFlags.CONCEALED | AudioFlags.COMFORT_NOISE))


#: Hot-path construction of an AudioFrame (once per frame per call): object.__new__ and the
#: slots' own descriptors instead of attrs' __init__, which sets each field through
#: object.__setattr__ by name. The same object (class and fields; AudioFrame has no
#: validators, converters or post-init); about half the cost (measured 2.3 -> 1.0 µs under
#: load). tests/callmedia/test_queues.py checks it against the attrs constructor.
_new = object.__new__
(_SET_SAMPLES, _SET_RATE, _SET_INDEX, _SET_TIME, _SET_TS, _SET_FLAGS) = slot_setters(
    AudioFrame, "samples", "rate", "index", "time", "rtp_timestamp", "flags")


def _new_audio_frame(samples: npt.NDArray[np.int16], rate: int, index: int, time: float,
                     rtp_timestamp: int, flags: AudioFlags) -> AudioFrame:
    frame: AudioFrame = _new(AudioFrame)
    _SET_SAMPLES(frame, samples)
    _SET_RATE(frame, rate)
    _SET_INDEX(frame, index)
    _SET_TIME(frame, time)
    _SET_TS(frame, rtp_timestamp)
    _SET_FLAGS(frame, flags)
    return frame


@attrs.frozen(kw_only=True)
class Drained(Event):
    """Everything queued before :meth:`CallMedia.mark` returned ``mark`` has been sent
    (``cleared=False``), or was dropped by :meth:`CallMedia.clear` (``cleared=True``).
    ``time`` is the media tick of the last frame sent before it."""

    mark: int
    cleared: bool
    time: float


@attrs.frozen(kw_only=True)
class BackpressureChanged(Event):
    """(SendPolicy.ACCEPT_ALL) the send queue passed its bound (``active``) or drained
    below half of it (not ``active``): pause writing until then."""

    active: bool
    queued_frames: int


@attrs.frozen(kw_only=True)
class SrtpDropped(Event):
    """An inbound packet failed SRTP/SRTCP checks (``kind``: AUTH, REPLAY, ...); reported for
    the first of each kind, then only counted in the health report."""

    kind: str
    reason: str


@attrs.frozen(kw_only=True)
class SendFailed(Event):
    """The adapter could not send to ``dest`` (e.g. ICMP port unreachable). RTP over UDP
    keeps going (RFC 3550 leaves a gone peer to the inactivity timeout, ``MediaTimeout``):
    reported for the first failure to each destination, then only counted in the health
    report (``send_errors``)."""

    dest: Address
    time: float


@attrs.frozen(kw_only=True)
class HealthReport:
    """The media pipeline's own counters (issue 10 §1): queues, drops, concealment."""

    receive_queue_frames: int
    receive_queue_limit: int
    frames_delivered: int
    #: Frames the slow reader lost (oldest dropped when the receive queue was full).
    frames_dropped: int
    frames_concealed: int
    frames_comfort_noise: int
    #: Packets that arrived after their slot was concealed (jitter buffer late loss).
    packets_late: int
    send_queue_frames: int
    send_queue_limit: int
    send_queue_seconds: float
    frames_sent: int
    #: Idle ticks (nothing queued): silence/CN/nothing sent instead.
    idle_ticks: int
    #: Ticks where the application was mid-stream but had not written a whole frame.
    send_underruns: int
    #: Frames dropped by clear().
    frames_cleared: int
    #: Samples (at the application rate) refused by write() under SendPolicy.REJECT.
    samples_rejected: int
    #: Media ticks skipped because the caller fell more than ``max_catchup`` behind.
    ticks_skipped: int
    srtp_errors: int
    malformed: int
    #: Datagrams the adapter reported as not sent (``CallMedia.transport_error``).
    send_errors: int = 0
    muted: bool
    paused: bool


@attrs.frozen(kw_only=True)
class MediaReport:
    """Health and quality together: what ``call.quality`` shows."""

    health: HealthReport
    quality: QualityReport
