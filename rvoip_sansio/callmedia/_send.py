"""The outgoing audio queue: application PCM at any length and rate in, codec frames out.

Samples are resampled to the codec's rate as they are written and cut into frames of one
ptime; the media clock takes one frame per tick. Positions are counted in frames, so a mark
placed after a write fires exactly when the frame holding the write's last sample is taken.
"""

from __future__ import annotations

from collections import deque
from math import gcd

import numpy as np
import numpy.typing as npt

from ..codecs import Resampler
from ._config import SendPolicy

__all__ = ["SendQueue"]

PCM = npt.NDArray[np.int16]
_EMPTY = np.zeros(0, np.int16)


class SendQueue:
    """Bounded FIFO of codec frames with markers; see :class:`CallMedia.write`."""

    __slots__ = (
        "app_rate", "codec_rate", "frame_samples", "limit", "policy", "_rs", "_ratio",
        "_pending", "_frames", "_marks", "_waited", "enqueued", "dequeued", "rejected",
        "cleared", "underruns", "backpressure",
    )

    def __init__(self, *, app_rate: int, codec_rate: int, frame_samples: int, limit: int,
                 policy: SendPolicy) -> None:
        self.codec_rate = codec_rate
        self.frame_samples = frame_samples
        self.limit = limit
        self.policy = policy
        self.app_rate = 0
        self._rs: Resampler | None = None
        self._ratio = (1, 1)
        self._set_rate(app_rate)
        self._pending: PCM = _EMPTY
        self._frames: deque[PCM] = deque()
        #: (frame position, mark id): fires when ``dequeued`` reaches the position. Made on
        #: the first mark (a call's queue lives as long as the call: one object less for
        #: the garbage collector to walk while no mark is ever placed).
        self._marks: deque[tuple[int, int]] | None = None
        self._waited = False
        self.enqueued = 0
        self.dequeued = 0
        self.rejected = 0
        self.cleared = 0
        self.underruns = 0
        self.backpressure = False

    def _set_rate(self, rate: int) -> None:
        if rate <= 0:
            raise ValueError("sample rate must be positive")
        self.app_rate = rate
        self._rs = None if rate == self.codec_rate else Resampler(rate, self.codec_rate, shared=True)
        g = gcd(self.codec_rate, rate)
        self._ratio = (self.codec_rate // g, rate // g)  # L/M: outputs per input

    # ---------------------------------------------------------------- sizes
    @property
    def queued_frames(self) -> int:
        """Whole frames waiting (a partial frame being filled counts as one)."""
        return len(self._frames) + (1 if len(self._pending) else 0)

    def room(self) -> int:
        """Samples at the application rate that ``write`` would accept now (REJECT policy)."""
        room = (self.limit - len(self._frames)) * self.frame_samples - len(self._pending)
        if room <= 0:
            return 0
        rs = self._rs
        if rs is None:
            return room
        # After T input samples exactly ceil(T·L/M) have come out (docs/codecs.md), so the
        # most input whose output fits is floor((out + room)·M/L) - in.
        up, down = self._ratio
        t_max = (rs.samples_out + room) * down // up
        return max(0, t_max - rs.samples_in)

    def _surely_fits(self) -> int:
        """A lower bound of ``room()`` without the resampler's counts: the free samples at
        the codec rate times M/L, rounded down. (``room()`` is floor((out + free)·M/L) - in
        with out >= in·L/M, so it is at least floor(free·M/L).)"""
        free = (self.limit - len(self._frames)) * self.frame_samples - len(self._pending)
        if free <= 0:
            return 0
        up, down = self._ratio
        return free * down // up

    # ---------------------------------------------------------------- input
    def write(self, pcm: PCM, rate: int | None = None) -> int:
        """Queue ``pcm``; returns how many samples were accepted (all, unless REJECT and
        the queue is full)."""
        if rate is not None and rate != self.app_rate:
            self._set_rate(rate)
        x = np.asarray(pcm)
        if x.dtype != np.int16 or x.ndim != 1:
            raise ValueError("write() takes mono numpy int16 samples, shape (n,)")
        n = len(x)
        if self.policy is SendPolicy.REJECT and n > self._surely_fits():
            room = self.room()
            if n > room:
                self.rejected += n - room
                x = x[:room]
                n = room
        if n == 0:
            return 0
        # Copy at the app's rate: the queued frames must not be views of the caller's array,
        # which an application may reuse as soon as write() returns.
        y = x.copy() if self._rs is None else self._rs.process(x)
        buf = np.concatenate((self._pending, y)) if len(self._pending) else y
        fs = self.frame_samples
        whole = len(buf) // fs
        for i in range(whole):
            self._frames.append(buf[i * fs:(i + 1) * fs])
        self.enqueued += whole
        self._pending = buf[whole * fs:]
        if whole:
            self._waited = False
        if (self.policy is SendPolicy.ACCEPT_ALL and not self.backpressure
                and len(self._frames) >= self.limit):
            self.backpressure = True
        return n

    def mark(self, mark_id: int) -> bool:
        """Place a marker after everything written so far; True if nothing is queued (it is
        drained already)."""
        pos = self.enqueued + (1 if len(self._pending) else 0)
        if pos <= self.dequeued:
            return True
        marks = self._marks
        if marks is None:
            marks = self._marks = deque()
        marks.append((pos, mark_id))
        return False

    # ---------------------------------------------------------------- output
    def pop(self) -> PCM | None:
        """The next frame to send, or None (nothing queued, or an unfinished frame waits).

        A partial frame is held for one tick for the rest to arrive (an underrun), then sent
        padded with silence; it goes at once when a mark waits for it (end of utterance).
        """
        if self._frames:
            self.dequeued += 1
            return self._frames.popleft()
        if not len(self._pending):
            return None
        if not self._waited and not self._marks:
            self._waited = True
            self.underruns += 1
            return None
        frame = np.zeros(self.frame_samples, np.int16)
        frame[:len(self._pending)] = self._pending
        self._pending = _EMPTY
        self._waited = False
        self.enqueued += 1
        self.dequeued += 1
        return frame

    def reached_marks(self) -> list[int]:
        """Marks whose position has been reached, in order."""
        out = []
        marks = self._marks
        while marks and marks[0][0] <= self.dequeued:
            out.append(marks.popleft()[1])
        return out

    def backpressure_released(self) -> bool:
        if self.backpressure and len(self._frames) <= self.limit // 2:
            self.backpressure = False
            return True
        return False

    def clear(self) -> list[int]:
        """Drop everything queued (and the resampler's history); returns the marks dropped."""
        self.cleared += len(self._frames) + (1 if len(self._pending) else 0)
        self._frames.clear()
        self._pending = _EMPTY
        self._waited = False
        self.dequeued = self.enqueued
        if self._rs is not None:
            self._rs.reset()
        marks = [m for _, m in self._marks] if self._marks else []
        self._marks = None
        return marks
