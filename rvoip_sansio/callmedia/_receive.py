"""The receive half: one playout slot per tick -> decoded/concealed audio -> app frames.

Per tick the jitter buffer hands one slot (docs/rtp.md); it becomes codec-rate audio by
decoding, codec PLC (MISSING), RFC 3389 comfort noise (COMFORT_NOISE) or silence, is
resampled to the application's rate and cut into its frame size. Finished frames go into a
bounded queue: when the reader is slow the oldest frame is dropped and counted, so the media
clock never waits for the application.

The queue holds each frame's fields as a plain tuple of untracked values (samples, index,
time, RTP timestamp, flag bits) and the :class:`AudioFrame` is made when it is read. A frame
waits up to the application's read period (100 ms is common): an AudioFrame object waiting
that long outlives the young garbage-collector generations, and at hundreds of calls those
promotions are what triggers full collections; a tuple of untracked values is untracked by
the first young collection it survives, so it never reaches the old generation.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import numpy.typing as npt

from .._core import Event, ParseError, RandomSource
from ..codecs import Codec, CodecError, Resampler
from ..media import ComfortNoiseGenerator, ComfortNoisePayload, VoiceActivityDetector
from ..rtp import FrameFlags, PlayoutFrame
from ._records import AudioFlags, AudioFrame, _new_audio_frame

__all__ = ["ReceivePath", "QueuedFrame", "FLAGS"]

log = logging.getLogger("rvoip_sansio.callmedia")

PCM = npt.NDArray[np.int16]

_MISSING = int(FrameFlags.MISSING)
_GAP = int(FrameFlags.GAP)
_CN = int(FrameFlags.COMFORT_NOISE)
#: AudioFlags for every bit pattern, so a frame does not pay for an enum lookup.
FLAGS = tuple(AudioFlags(i) for i in range(16))
#: A queued frame: (samples, index, time, rtp_timestamp, AudioFlags bits) (see module docs).
QueuedFrame = tuple[PCM, int, float, int, int]
_AFTER_GAP = int(AudioFlags.AFTER_GAP)
_CONCEALED = int(AudioFlags.CONCEALED)
_COMFORT_NOISE = int(AudioFlags.COMFORT_NOISE)
_SILENCE = int(AudioFlags.SILENCE)


class ReceivePath:
    """Decode, conceal, resample and frame the received stream; see module docs."""

    __slots__ = (
        "codec", "payload_types", "app_rate", "frame_len", "limit", "queue", "_rs", "_rng",
        "_cn", "_silence", "_acc", "_acc_len", "_acc_flags", "_acc_ts", "_index", "_vad",
        "delivered", "dropped", "concealed", "comfort_noise",
    )

    def __init__(self, *, codec: Codec, payload_types: tuple[int, ...], app_rate: int,
                 frame_ms: float, limit: int, rng: RandomSource, vad: bool) -> None:
        self.codec = codec
        #: The payload types decoded (a tuple of ints: nothing for the garbage collector).
        self.payload_types = payload_types
        rate = codec.info.sample_rate
        self.app_rate = app_rate
        self.frame_len = max(1, round(app_rate * frame_ms / 1000))
        self.limit = limit
        self.queue: deque[QueuedFrame] = deque()
        self._rs = None if rate == app_rate else Resampler(rate, app_rate, shared=True)
        self._rng = rng
        self._cn: ComfortNoiseGenerator | None = None
        self._silence = np.zeros(codec.info.frame_samples, np.int16)
        # (A tuple, rebuilt when it changes: empty in the common case, nothing for the
        # garbage collector.)
        self._acc: tuple[PCM, ...] = ()
        self._acc_len = 0
        self._acc_flags = 0
        self._acc_ts = -1
        self._index = 0
        self._vad = VoiceActivityDetector(rate) if vad else None
        self.delivered = 0
        self.dropped = 0
        self.concealed = 0
        self.comfort_noise = 0

    def _noise(self, n: int, payload: bytes | None) -> PCM:
        if payload is not None:
            try:
                sid = ComfortNoisePayload.parse(payload)
            except ParseError:
                sid = None
            if sid is not None:
                if self._cn is None:
                    self._cn = ComfortNoiseGenerator(self._rng, sid)
                else:
                    self._cn.update(sid)
        if self._cn is None:
            return self._silence[:n] if n <= len(self._silence) else np.zeros(n, np.int16)
        return self._cn.generate(n)

    def tick(self, pf: PlayoutFrame, now: float, events: deque[Event]) -> None:
        """Turn one playout slot into audio and deliver the frames it completes."""
        payload, ts, pflags, pt, _seq = pf
        if (payload is not None and not pflags & _CN and pt in self.payload_types
                and self._vad is None):
            # decode()'s common case inlined (a packet to decode: once per call per tick).
            try:
                pcm = self.codec.decode(payload)
                flags = _AFTER_GAP if pflags & _GAP else 0
            except (CodecError, ParseError) as exc:
                pcm = self._undecodable(exc)
                flags = _CONCEALED
        else:
            pcm, flags = self.decode(pf, events)
        if self._rs is not None:
            pcm = self._rs.process(pcm)
        if not self._acc_len and len(pcm) == self.frame_len:
            # push() and _deliver() inlined: one slot, one frame (the common case).
            q = self.queue
            if len(q) >= self.limit:
                q.popleft()
                self.dropped += 1
            index = self._index
            q.append((pcm, index, now, ts, flags))
            self._index = index + len(pcm)
            self.delivered += 1
            return
        self.push(pcm, flags, ts, now)

    def decode(self, pf: PlayoutFrame, events: deque[Event]) -> tuple[PCM, int]:
        """One slot -> codec-rate audio and its AudioFlags bits (VAD events appended)."""
        payload, _ts, flags, pt, _seq = pf
        codec = self.codec
        if payload is not None and not flags & _CN and pt in self.payload_types:
            try:
                pcm = codec.decode(payload)
                out = _AFTER_GAP if flags & _GAP else 0
            except (CodecError, ParseError) as exc:
                pcm = self._undecodable(exc)
                out = _CONCEALED
        elif flags & _CN:
            pcm = self._noise(len(self._silence), payload)
            out = _COMFORT_NOISE
            self.comfort_noise += 1
        elif payload is not None or flags & _MISSING:
            # Lost/late slot, or a payload type we cannot decode: codec PLC.
            pcm = codec.conceal()
            out = _CONCEALED
            self.concealed += 1
        else:
            pcm = self._silence
            out = _SILENCE
        if self._vad is not None:
            events.extend(self._vad.process(pcm))
        return pcm, out

    def _undecodable(self, exc: Exception) -> PCM:
        log.debug("undecodable payload (%s): concealed", exc)
        pcm = self.codec.conceal()
        self.concealed += 1
        return pcm

    def push(self, pcm: PCM, flags: int, ts: int, now: float) -> None:
        """Deliver app-rate audio of one slot (cut into the application's frame size)."""
        fl = self.frame_len
        if not self._acc_len and len(pcm) == fl:
            self._deliver(pcm, flags, ts, now)  # the common case: one slot, one frame
            return
        if not self._acc_len:
            self._acc_ts = ts
        self._acc = (*self._acc, pcm)
        self._acc_len += len(pcm)
        self._acc_flags |= flags
        while self._acc_len >= fl:
            buf = np.concatenate(self._acc) if len(self._acc) > 1 else self._acc[0]
            self._deliver(buf[:fl], self._acc_flags, self._acc_ts, now)
            rest = buf[fl:]
            self._acc = (rest,) if len(rest) else ()
            self._acc_len = len(rest)
            # The remainder came from this slot: it carries this slot's flags.
            self._acc_flags = flags if len(rest) else 0
            self._acc_ts = ts

    def _deliver(self, samples: PCM, flags: int, ts: int, now: float) -> None:
        q = self.queue
        if len(q) >= self.limit:
            q.popleft()
            self.dropped += 1
        q.append((samples, self._index, now, ts, flags))
        self._index += len(samples)
        self.delivered += 1

    def read(self) -> AudioFrame | None:
        if not self.queue:
            return None
        samples, index, time, ts, flags = self.queue.popleft()
        return _new_audio_frame(samples, self.app_rate, index, time, ts, FLAGS[flags])
