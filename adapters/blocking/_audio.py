"""``call.audio`` for blocking code: a call's audio as frames in and PCM out (issue 10 §1).

Everything here is a thin wrapper around the call's pure
:class:`~rvoip_sansio.callmedia.CallMedia` (framing, resampling, pacing on the 20 ms media
clock, queues, barge-in, marks): each touch of it goes through the phone's loop (its lock;
a verb's drain is left to the loop thread's next wake-up, at the latest the next media tick,
so audio written to many calls costs one drain), and the waits are :meth:`Loop.wait` (a
condition variable with a background thread; the caller driving the loop otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import AudioFrame, CallAudioBase, CallMedia

from ._loop import Loop

__all__ = ["CallAudio", "AudioOwner"]

T = TypeVar("T")
Pcm = npt.NDArray[np.int16]


class AudioOwner(Protocol):
    """What :class:`CallAudio` needs from its call (the blocking ``PhoneCall``)."""

    @property
    def loop(self) -> Loop: ...

    @property
    def ended(self) -> bool: ...

    @property
    def drained_marks(self) -> set[int]: ...

    def media(self) -> CallMedia | None: ...


class CallAudio(CallAudioBase):
    """The audio of one call. Until the call's media is negotiated (and after it ended)
    ``read`` returns None, ``write*`` accept 0 samples and ``health`` is None. The verbs
    without a wait (``write_nowait``, ``read_nowait``, ``read_all``, ``room``, ``clear``,
    ``mute``, ``pause``, ``resume``, ``health``) are the core's
    :class:`~rvoip_sansio.callmedia.CallAudioBase` (every touch of the media under the loop's
    lock); this class adds the blocking waits.

    Frames at any rate: ``read(timeout, rate=, frame_ms=)`` / ``frames(timeout, rate=,
    frame_ms=)`` deliver frames at any rate and any frame length of a whole number of
    samples, re-framed and resampled from the phone's frames by one
    :class:`~rvoip_sansio.callmedia.AudioReader` per ``(rate, frame_ms)``.

    Send policy: the send queue is bounded (``CallMediaConfig.send_queue_frames``, 10 s by
    default). :meth:`write` **waits for room** until everything is queued (or ``timeout``,
    or the call ends) and returns the samples accepted; :meth:`write_nowait` takes what fits
    now and returns that count. On the receive side a slow reader loses the oldest frames
    (counted in ``health().frames_dropped``); the media clock never waits for the reader.
    """

    __slots__ = ("_owner", "_readers")

    def __init__(self, owner: AudioOwner) -> None:
        self._owner = owner
        self._readers = {}

    @property
    def ended(self) -> bool:
        """The call has ended: reads return None, writes accept nothing."""
        return self._owner.ended

    # ---- receive ------------------------------------------------------------------------

    def read(self, timeout: float | None = None, *, rate: int | None = None,
             frame_ms: float | None = None) -> AudioFrame | None:
        """The next received frame (numpy int16 at ``rate``, ``frame_ms`` long, default the
        phone's; any rate and any frame length of a whole number of samples, else
        ``ValueError``), with its media timestamp and ``flags``, waiting up to ``timeout``
        seconds (``None``: until one comes or the call ends). None on timeout or once the
        call has ended."""
        reader = self.reader(rate, frame_ms)
        got: list[AudioFrame] = []

        def ready() -> bool:
            media = self._owner.media()
            frame = reader.read(media) if media is not None else None
            if frame is not None:
                got.append(frame)
                return True
            return self._owner.ended

        self._owner.loop.wait(ready, timeout)
        return got[0] if got else None

    def frames(self, timeout: float | None = None, *, rate: int | None = None,
               frame_ms: float | None = None) -> Iterator[AudioFrame]:
        """Every received frame until the call ends (or none comes for ``timeout`` s)."""
        self.reader(rate, frame_ms)  # validates now
        while (frame := self.read(timeout, rate=rate, frame_ms=frame_ms)) is not None:
            yield frame

    # ---- send ---------------------------------------------------------------------------

    def write(self, pcm: npt.ArrayLike, rate: int | None = None, *, timeout: float | None = None) -> int:
        """Queue mono int16 ``pcm`` at ``rate`` (any rate; default the phone's) for sending,
        waiting for room in the send queue as it empties (one frame per 20 ms). Returns the
        samples accepted: all of them unless ``timeout`` passed or the call ended first."""
        data = np.ascontiguousarray(pcm, dtype=np.int16)
        until = None if timeout is None else time.monotonic() + timeout
        done = self.write_nowait(data, rate)
        while done < len(data):
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0 or not self._owner.loop.wait(self._has_room, left):
                break
            more = self.write_nowait(data[done:], rate)
            if more == 0 and self._owner.ended:
                break
            done += more
        return done

    def drained(self, timeout: float | None = None) -> bool:
        """Wait until everything written so far has been sent (or cleared); False on
        timeout or when the call ended first."""
        mark = self._act(lambda m, now: m.mark(), None)
        if mark is None:
            return False
        marks = self._owner.drained_marks
        ok = self._owner.loop.wait(lambda: mark in marks or self._owner.ended, timeout)
        with self._owner.loop.lock:
            reached = mark in marks
            marks.discard(mark)
        return ok and reached

    # ---- what the core's CallAudioBase needs --------------------------------------------

    def _media(self) -> CallMedia | None:
        return self._owner.media()

    def _has_room(self) -> bool:
        media = self._owner.media()
        return media is None or self._owner.ended or media.room() > 0

    def _with(self, read: Callable[[CallMedia], T], default: T) -> T:
        with self._owner.loop.lock:
            media = self._owner.media()
            return read(media) if media is not None else default

    def _act(self, action: Callable[[CallMedia, float], T], default: T) -> T:
        def run(now: float) -> T:
            media = self._owner.media()
            return action(media, now) if media is not None and not self._owner.ended else default
        return self._owner.loop.call_soon(run)
