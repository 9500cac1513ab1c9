"""``call.audio`` for trio: a call's audio as an async stream of frames in and PCM out
(issue 10 §1).

A thin wrapper around the call's pure :class:`~rvoip_sansio.callmedia.CallMedia` (framing,
resampling, pacing on the 20 ms media clock, bounded queues, barge-in, marks): every verb runs
through the host (``act``: the call with ``trio.current_time()``, then a pump of both faces),
and every wait is a pure condition the host checks after each pump (``wait``). Waits are plain trio
checkpoints: bound them with ``trio.move_on_after`` / ``trio.fail_after``, cancel them with
their scope.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import AudioFrame, AudioReader, CallMedia, HealthReport

__all__ = ["CallAudio", "AudioOwner", "FrameStream"]

T = TypeVar("T")


class AudioOwner(Protocol):
    """What :class:`CallAudio` needs from its call (the trio ``PhoneCall``, or a test host)."""

    @property
    def ended(self) -> bool: ...

    @property
    def drained_marks(self) -> set[int]: ...

    def media(self) -> CallMedia | None: ...

    def act(self, action: Callable[[float], T]) -> T: ...

    async def wait(self, ready: Callable[[], bool]) -> None:
        """Return once ``ready()`` holds; ``ready`` is pure (the host may evaluate it)."""


class FrameStream:
    """``async for frame in call.audio.frames(rate, frame_ms)``: every received frame, at
    the reader's rate and frame length, until the call ends."""

    __slots__ = ("_audio", "reader")

    def __init__(self, audio: CallAudio, reader: AudioReader) -> None:
        self._audio = audio
        self.reader = reader  #: the core's per-reader resampler/reframer (``AudioReader``)

    def __aiter__(self) -> FrameStream:
        return self

    async def __anext__(self) -> AudioFrame:
        audio = self._audio
        while True:
            frame = self.reader.read(audio._media())
            if frame is not None:
                return frame
            if audio.ended:
                raise StopAsyncIteration
            await audio._owner.wait(audio._has_frame)


class CallAudio:
    """The audio of one call. Until the call's media is negotiated ``read`` waits, ``write``
    waits for room and ``write_nowait`` accepts 0; after the call ended reads return None,
    writes accept nothing and ``health`` is None.

    Send policy: the send queue is bounded (``send_queue_frames``, 10 s by default).
    :meth:`write` **waits for room** until everything is queued (or the call ends) and
    returns the samples accepted; :meth:`write_nowait` takes what fits now and returns that
    count. Cancelling a ``write`` leaves what was already accepted queued. On the receive side
    a slow reader loses the oldest frames (counted in ``health().frames_dropped``): the media
    clock never waits for the reader.
    """

    __slots__ = ("_owner", "rate", "frame_ms")

    def __init__(self, owner: AudioOwner, *, rate: int, frame_ms: float) -> None:
        self._owner = owner
        self.rate = rate  #: the rate of frames and the default rate of writes
        self.frame_ms = frame_ms

    @property
    def ended(self) -> bool:
        """The call has ended: reads return None, writes accept nothing."""
        return self._owner.ended

    # ---- receive ------------------------------------------------------------------------

    def frames(self, rate: int | None = None, frame_ms: float | None = None) -> FrameStream:
        """``async for frame in call.audio.frames(rate=16000, frame_ms=20)``: each received
        frame (numpy int16 ``samples``, its media ``index`` and ``time``, ``flags`` saying
        concealed / comfort noise / after a gap / silence) until the call ends. By default
        at the phone's rate and frame length (``open_phone(rate=..., frame_ms=...)``, the
        stack resampling from the codec); any other ``rate`` and ``frame_ms`` (a whole number
        of samples) are resampled and re-cut for this reader by the core's
        :class:`~rvoip_sansio.callmedia.AudioReader` (exact sample counts; a frame holding any
        concealed input is flagged so). One reader per call: two would share the frames."""
        kw: dict[str, Any] = {"rate": rate, "frame_ms": frame_ms}
        if "source_rate" in inspect.signature(AudioReader).parameters:
            # TRANSITIONAL: callmedia's first AudioReader took the source's rate and frame
            # length; the next one reads them from the media's config. Drop once it landed.
            kw.update(source_rate=self.rate, source_frame_ms=self.frame_ms)
        return FrameStream(self, AudioReader(**kw))

    async def read(self) -> AudioFrame | None:
        """The next received frame, waiting for it; None once the call has ended."""
        while True:
            frame = self.read_nowait()
            if frame is not None or self._owner.ended:
                return frame
            await self._owner.wait(self._has_frame)

    def read_nowait(self) -> AudioFrame | None:
        """The oldest received frame, or None when none is waiting."""
        media = self._owner.media()
        return media.read_frame() if media is not None and not self._owner.ended else None

    def read_all(self) -> list[AudioFrame]:
        """Every received frame waiting now (oldest first)."""
        out: list[AudioFrame] = []
        while (frame := self.read_nowait()) is not None:
            out.append(frame)
        return out

    @property
    def frames_available(self) -> int:
        return self._with(lambda m: m.frames_available, 0)

    # ---- send ---------------------------------------------------------------------------

    async def write(self, pcm: npt.ArrayLike, rate: int | None = None) -> int:
        """Queue mono int16 ``pcm`` at ``rate`` (default the phone's) for sending, waiting for
        room as the queue empties (one frame per ptime). Returns the samples accepted: all of
        them unless the call ended first."""
        data = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        done = self.write_nowait(data, rate)
        while done < len(data) and not self._owner.ended:
            await self._owner.wait(self._has_room)
            done += self.write_nowait(data[done:], rate)
        return done

    def write_nowait(self, pcm: npt.ArrayLike, rate: int | None = None) -> int:
        """Queue what fits of ``pcm`` now; returns the samples accepted (the rest is the
        caller's to retry; ``CallMedia`` counts it in ``health().samples_rejected``)."""
        data = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        if len(data) == 0:
            return 0
        return self._act(lambda m, now: m.write(data, rate), 0)

    def room(self) -> int:
        """Samples (at the phone's rate) that ``write_nowait`` takes now."""
        return self._with(lambda m: m.room(), 0)

    def clear(self) -> int:
        """Barge-in: drop everything queued for sending (at most the frame already on the
        wire is heard); returns the frames dropped. Pending :meth:`drained` waits return."""
        return self._act(lambda m, now: m.clear(), 0)

    async def drained(self) -> bool:
        """Wait until everything written so far has been sent (or cleared): then the far end
        has been sent all of it. False when the call ended first (or has no media)."""
        mark = self._act(lambda m, now: m.mark(), None)
        if mark is None:
            return False
        marks = self._owner.drained_marks
        try:
            await self._owner.wait(lambda: mark in marks or self._owner.ended)
            return mark in marks
        finally:
            marks.discard(mark)

    def mute(self, muted: bool = True) -> None:
        """Send silence instead of the queued audio (consumed as usual); the clock runs on."""
        self._act(lambda m, now: m.mute(muted), None)

    def pause(self) -> None:
        """Stop sending and hold the queue (RTP timestamps keep advancing)."""
        self._act(lambda m, now: m.pause(), None)

    def resume(self) -> None:
        """Send the held queue again (the first packet carries the marker bit)."""
        self._act(lambda m, now: m.resume(), None)

    def health(self) -> HealthReport | None:
        """Queue depths, frames dropped / concealed / late, send errors (None: no media)."""
        return self._with(lambda m: m.health(), None)

    # ---- plumbing -----------------------------------------------------------------------

    def _media(self) -> CallMedia | None:
        return None if self._owner.ended else self._owner.media()

    def _has_frame(self) -> bool:
        media = self._owner.media()
        return self._owner.ended or (media is not None and media.frames_available > 0)

    def _has_room(self) -> bool:
        media = self._owner.media()
        return self._owner.ended or (media is not None and media.room() > 0)

    def _with(self, read: Callable[[CallMedia], T], default: T) -> T:
        media = self._owner.media()
        return read(media) if media is not None and not self._owner.ended else default

    def _act(self, action: Callable[[CallMedia, float], T], default: T) -> T:
        def run(now: float) -> T:
            media = self._owner.media()
            return action(media, now) if media is not None and not self._owner.ended else default
        return self._owner.act(run)
