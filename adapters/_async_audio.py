"""``call.audio`` for the async adapters (asyncio and trio): a call's audio as an async stream
of frames in and PCM out (issue 10 §1).

A thin wrapper around the call's pure :class:`~rvoip_sansio.callmedia.CallMedia` (framing,
resampling, pacing on the 20 ms media clock, bounded queues, barge-in, marks): every verb runs
through the owner's ``act`` (the verb with the loop's ``now``, then a pump of both faces of the
core), and every wait is a pure condition awaited through the owner's ``wait``. Nothing here
imports an event loop: the coroutines await only what the owner returns, so asyncio and trio
share this code. Bound waits with ``asyncio.wait_for`` / ``trio.move_on_after`` as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import AudioFrame, CallAudioBase, CallMedia

__all__ = ["CallAudio", "AudioOwner", "FrameStream"]

T = TypeVar("T")


class AudioOwner(Protocol):
    """What :class:`CallAudio` needs from its call (the asyncio or trio ``PhoneCall``, or a
    test host); ``wait`` is the only place an event loop shows."""

    @property
    def ended(self) -> bool: ...

    @property
    def drained_marks(self) -> set[int]: ...

    def media(self) -> CallMedia | None: ...

    def act(self, action: Callable[[float], T]) -> T: ...

    # Optional: ``act_soon(action)``, ``action(now)`` at once and the pump deferred to one
    # for all such actions before the loop waits again (many calls' audio written in a row
    # cost one pump). Owners without it get ``act``.

    async def wait(self, ready: Callable[[], bool]) -> None:
        """Return once ``ready()`` holds; ``ready`` is pure (the host may evaluate it)."""


class FrameStream:
    """``async for frame in call.audio.frames(rate, frame_ms)``: every received frame, at
    the reader's rate and frame length, until the call ends."""

    __slots__ = ("_audio", "_rate", "_frame_ms")

    def __init__(self, audio: CallAudio, rate: int | None, frame_ms: float | None) -> None:
        self._audio = audio
        self._rate = rate
        self._frame_ms = frame_ms

    def __aiter__(self) -> FrameStream:
        return self

    async def __anext__(self) -> AudioFrame:
        frame = await self._audio.read(self._rate, self._frame_ms)
        if frame is None:
            raise StopAsyncIteration
        return frame


class CallAudio(CallAudioBase):
    """The audio of one call. Until the call's media is negotiated ``read`` waits, ``write``
    waits for room and ``write_nowait`` accepts 0; after the call ended reads return None,
    writes accept nothing and ``health`` is None. The verbs without a wait (``write_nowait``,
    ``read_nowait``, ``read_all``, ``room``, ``clear``, ``mute``, ``pause``, ``resume``,
    ``health``) are the core's :class:`~rvoip_sansio.callmedia.CallAudioBase`; this class
    adds the waits, through the owner's ``wait`` (asyncio or trio).

    **Frames at any rate**: ``frames(rate=, frame_ms=)`` / ``read(rate, frame_ms)`` deliver
    frames at any rate and any frame length of a whole number of samples, re-framed and
    resampled from the phone's frames by one core ``AudioReader`` per ``(rate, frame_ms)``.

    **Send policy**: the send queue is bounded (``send_queue_frames``, 10 s by default).
    :meth:`write` **waits for room** until everything is queued (or the call ends) and
    returns the samples accepted; ``write_nowait`` takes what fits now and returns that
    count. Cancelling a ``write`` leaves what was already accepted queued. On the receive side
    a slow reader loses the oldest frames (counted in ``health().frames_dropped``): the media
    clock never waits for the reader.
    """

    __slots__ = ("_owner", "rate", "frame_ms", "_readers")

    def __init__(self, owner: AudioOwner, *, rate: int, frame_ms: float) -> None:
        self._owner = owner
        self.rate = rate  #: the phone's rate: of frames by default and of writes
        self.frame_ms = frame_ms
        self._readers = {}

    @property
    def ended(self) -> bool:
        """The call has ended: reads return None, writes accept nothing."""
        return self._owner.ended

    # ---- receive ------------------------------------------------------------------------

    def frames(self, rate: int | None = None, frame_ms: float | None = None) -> FrameStream:
        """``async for frame in call.audio.frames(rate=16000, frame_ms=20)``: each received
        frame (numpy int16 ``samples`` at ``rate``, ``frame_ms`` long, its media ``index`` and
        ``time``, ``flags`` saying concealed / comfort noise / after a gap / silence) until
        the call ends. Any rate, and any ``frame_ms`` that is a whole number of samples at it
        (else ``ValueError``, at once); None: the phone's rate and frame length. Frames at one ``(rate, frame_ms)`` form one stream however many
        ``frames()`` / ``read()`` take from it."""
        self.reader(rate, frame_ms)  # validates now
        return FrameStream(self, rate, frame_ms)

    async def read(self, rate: int | None = None, frame_ms: float | None = None) -> AudioFrame | None:
        """The next received frame at ``rate`` / ``frame_ms`` (default the phone's), waiting
        for it; None once the call has ended."""
        reader = self.reader(rate, frame_ms)
        while True:
            frame = self.read_nowait(rate, frame_ms)
            if frame is not None or self.ended:
                return frame
            await self._owner.wait(lambda: self._has_frame(reader))

    # ---- send ---------------------------------------------------------------------------

    async def write(self, pcm: npt.ArrayLike, rate: int | None = None) -> int:
        """Queue mono int16 ``pcm`` at ``rate`` (any rate; default the phone's) for sending,
        waiting for room as the queue empties (one frame per ptime). Returns the samples
        accepted: all of them unless the call ended first."""
        data = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        done = self.write_nowait(data, rate)
        while done < len(data) and not self._owner.ended:
            await self._owner.wait(self._has_room)
            done += self.write_nowait(data[done:], rate)
        return done

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

    # ---- what the core's CallAudioBase needs --------------------------------------------

    def _media(self) -> CallMedia | None:
        return None if self._owner.ended else self._owner.media()

    def _act(self, action: Callable[[CallMedia, float], T], default: T) -> T:
        def run(now: float) -> T:
            media = self._owner.media()
            return action(media, now) if media is not None and not self._owner.ended else default
        act: Callable[[Callable[[float], T]], T] = getattr(self._owner, "act_soon", self._owner.act)
        return act(run)
