"""Received audio at the rate and frame length the *reader* chooses (issue 10 §1).

A call's :class:`~rvoip_sansio.callmedia.CallMedia` delivers :class:`AudioFrame` s at the
phone's rate ``R`` and frame length (the media clock's). :class:`Reframer` turns that stream
into frames at any rate ``R'`` and any frame length of a whole number of samples at ``R'``
(10, 20, 30, 40, 60 ms, ... or any ``frame_ms`` with ``R'·frame_ms/1000`` an integer),
streaming, with the project's polyphase :class:`~rvoip_sansio.codecs.Resampler` (no
interpolation shortcuts). :class:`AudioReader` is the per-reader bookkeeping the adapters'
``call.audio.frames(rate=, frame_ms=)`` / ``read(...)`` share: it pulls the core's frames
and hands out the reader's.

**Sample accounting** (exact, Python integers, over any length of stream): after ``N`` input
samples since the start (or the last reset) the resampler has produced exactly
``ceil(N·L/M)`` output samples (``L/M = R'/R`` reduced; the output lags the input by the
filter's group delay, :attr:`Reframer.delay` output samples) and the reframer has delivered
exactly ``floor(ceil(N·L/M) / F')`` frames of ``F'`` samples; the rest waits for more input.
How the input was cut does not change one output sample.

**Flags rule**: output sample ``n`` is the dot product of the filter with input samples
``floor(n·M/L) - T + 1 .. floor(n·M/L)`` (``T``: taps per phase, :attr:`Reframer.taps`; 1
without resampling). An output frame carries the OR of the flags of **every input frame
with a sample in the window of any of its samples**: a concealed / comfort-noise / silent /
after-gap input frame marks every output frame it contributes to, including the one or two
after it that hold the filter's tail of it. ``flags.is_speech`` is therefore True only for
output made of real decoded audio alone.

**Timestamps**: ``index`` counts output samples on the reader's clock, contiguous from frame
to frame; it starts at ``floor(first.index·L/M)`` (the first input frame's position scaled
to ``R'``). The sample at ``index`` represents the input's signal at about
``(index - delay)·M/L`` (the filter delay). ``time`` is the ``time`` of the input frame whose
arrival completed the output frame (the newest contributing media tick);
``rtp_timestamp`` is that of the input frame holding the signal of the output frame's first
sample (delay removed).

**Gaps**: loss inside the call needs no reset (the core delivers one frame per tick,
concealed or not, with contiguous ``index``). A jump in the input ``index`` (frames the
reader lost to a full receive queue, or a new media stream after a re-offer) resets the
reframer: the partial output frame is dropped (it would splice two moments), the resampler
starts afresh, the output ``index`` jumps with the input's, and the output frames whose
filter window reaches back before the restart are flagged ``AFTER_GAP``; counted in
:attr:`Reframer.resets`. So is a reader that starts mid-stream (first ``index`` not 0).
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from collections.abc import Callable
from math import gcd
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ..codecs import Resampler
from ._records import AudioFlags, AudioFrame, HealthReport

if TYPE_CHECKING:
    from ._stream import CallMedia

__all__ = ["Reframer", "AudioReader", "CallAudioBase", "FrameSource", "SourceConfig",
           "frame_samples"]

T = TypeVar("T")
PCM = npt.NDArray[np.int16]
_AFTER_GAP = int(AudioFlags.AFTER_GAP)
_FLAGS = tuple(AudioFlags(i) for i in range(16))


def frame_samples(rate: int, frame_ms: float) -> int:
    """Samples in one frame of ``frame_ms`` at ``rate``; ``ValueError`` unless that is a
    positive whole number (e.g. 1 ms at 44.1 kHz is 44.1 samples: refused)."""
    if not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"sample rate must be a positive integer, not {rate!r}")
    if not frame_ms > 0:
        raise ValueError(f"frame_ms must be positive, not {frame_ms!r}")
    n = Fraction(rate) * Fraction(frame_ms).limit_denominator(1000) / 1000
    if n.denominator != 1:
        raise ValueError(f"{frame_ms:g} ms at {rate} Hz is not a whole number of samples")
    return int(n)


class Reframer:
    """Streaming re-framer/resampler of one received stream; see the module docs.

    ``push(frame)`` takes the core's next :class:`AudioFrame` (at ``rate_in``) and returns
    the output frames it completes (often none or one), each ``frame_len`` samples at
    ``rate``.
    """

    __slots__ = ("rate_in", "rate", "frame_ms", "frame_len", "taps", "delay", "resets",
                 "_up", "_down", "_rs", "_delay_in", "_segs", "_buf", "_buf_len", "_n_in",
                 "_n_out", "_base", "_next_index", "_started", "_gap")

    def __init__(self, rate_in: int, rate: int, frame_ms: float) -> None:
        frame_samples(rate_in, 1000)  # validates rate_in
        self.rate_in = rate_in
        self.rate = rate
        self.frame_ms = frame_ms
        self.frame_len = frame_samples(rate, frame_ms)
        g = gcd(rate_in, rate)
        self._up, self._down = rate // g, rate_in // g
        if rate == rate_in:
            self._rs: Resampler | None = None
            self.taps = 1
            self.delay = 0.0
        else:
            self._rs = Resampler(rate_in, rate, shared=True)
            self.taps = self._rs._taps
            self.delay = self._rs.delay  #: filter group delay, in output samples
        self._delay_in = int(round(self.delay * self._down / self._up))
        self.resets = 0  #: discontinuities in the input index (see module docs)
        self._started = False
        self._gap = False
        self._restart(0)

    def _restart(self, index: int) -> None:
        if self._rs is not None:
            self._rs.reset()
        # Input frames still inside some future output sample's window:
        # [first sample, end, flags, rtp_timestamp], positions since the (re)start.
        self._segs: deque[tuple[int, int, int, int]] = deque()
        self._buf: list[PCM] = []
        self._buf_len = 0
        self._n_in = 0
        self._n_out = 0  # output samples delivered in frames (the buffer starts there)
        self._base = index * self._up // self._down
        self._next_index = index

    @property
    def samples_in(self) -> int:
        """Input samples since the start or the last reset."""
        return self._n_in

    @property
    def samples_out(self) -> int:
        """Output samples produced since the start or the last reset (delivered + waiting)."""
        return self._n_out + self._buf_len

    def reset(self, *, gap: bool = False) -> None:
        """Forget everything: the next frame starts a new stream (at its own index). With
        ``gap`` (a new stream of the same call) the first output frames are flagged
        ``AFTER_GAP``."""
        self._started = False
        self._gap = gap
        self._restart(0)

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        """Feed the next input frame; returns the output frames it completes."""
        if frame.rate != self.rate_in:
            raise ValueError(f"reframer fed {frame.rate} Hz audio, expects {self.rate_in} Hz")
        if not self._started or frame.index != self._next_index:
            gap = self._started or self._gap or frame.index != 0
            if self._started:
                self.resets += 1
            self._restart(frame.index)
            if gap:
                # The filter's window before the restart held nothing of this stream.
                self._segs.append((-1, 1, _AFTER_GAP, frame.rtp_timestamp))
            self._started = True
            self._gap = False
        pcm = frame.samples
        n = len(pcm)
        a = self._n_in
        self._n_in = a + n
        self._next_index = frame.index + n
        self._segs.append((a, a + n, int(frame.flags), frame.rtp_timestamp))
        out = self._rs.process(pcm) if self._rs is not None else pcm
        if len(out):
            self._buf.append(out)
            self._buf_len += len(out)
        fl = self.frame_len
        if self._buf_len < fl:
            return []
        buf = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
        done: list[AudioFrame] = []
        start = 0
        while self._buf_len - start >= fl:
            done.append(self._frame(buf[start : start + fl], frame.time))
            start += fl
        rest = buf[start:]
        self._buf = [rest] if len(rest) else []
        self._buf_len = len(rest)
        return done

    def _frame(self, samples: PCM, time: float) -> AudioFrame:
        up, down, reach = self._up, self._down, self.taps - 1
        n0 = self._n_out
        n1 = n0 + len(samples)
        lo = n0 * down // up  # newest input sample of the first output's window
        hi = (n1 - 1) * down // up  # ... of the last output's
        at = lo - self._delay_in  # input sample the first output represents
        segs = self._segs
        flags = 0
        ts = segs[0][3]
        for a, b, f, rts in segs:
            if a > hi:
                break
            if b + reach > lo:
                flags |= f
            if a <= at < b:
                ts = rts
        # Segments no later window reaches (the next frame's windows start at n1).
        lo_next = n1 * down // up
        while len(segs) > 1 and segs[0][1] + reach <= lo_next:
            segs.popleft()
        self._n_out = n1
        return AudioFrame(samples=np.ascontiguousarray(samples), rate=self.rate,
                          index=self._base + n0, time=time, rtp_timestamp=ts,
                          flags=_FLAGS[flags & 15])


class SourceConfig(Protocol):
    @property
    def rate(self) -> int: ...

    @property
    def frame_ms(self) -> float: ...


class FrameSource(Protocol):
    """What :class:`AudioReader` reads from: a ``CallMedia`` (its ``config.rate`` and
    ``config.frame_ms`` are the rate and frame length of the frames it delivers)."""

    @property
    def config(self) -> SourceConfig: ...

    def read_frame(self) -> AudioFrame | None: ...


class AudioReader:
    """One reader of a call's received audio at ``rate`` / ``frame_ms`` (None: the
    media's own), the per-reader state behind the adapters' ``call.audio.frames(rate=,
    frame_ms=)`` and ``read(...)``: it pulls the core's frames from the call's ``CallMedia``
    and returns the reader's.

    At the media's own rate and frame length, frames pass through untouched. Otherwise one
    :class:`Reframer` per reader; a different ``CallMedia`` object (the media rebuilt by a
    re-offer, a transfer) starts the stream afresh (``AFTER_GAP``, counted in ``resets``).
    Frames the reframer completed beyond the one asked for wait in the reader
    (:attr:`pending`, at most one input frame's worth).
    """

    __slots__ = ("rate", "frame_ms", "reframer", "_ready", "_media", "_resets")

    def __init__(self, rate: int | None = None, frame_ms: float | None = None) -> None:
        if rate is not None or frame_ms is not None:
            # validated now, not at the first frame (44.1 kHz needs frames of 10 ms steps)
            frame_samples(rate if rate is not None else 8000,
                          frame_ms if frame_ms is not None else 1000)
        self.rate = rate
        self.frame_ms = frame_ms
        self.reframer: Reframer | None = None
        self._ready: deque[AudioFrame] = deque()
        self._media: object | None = None
        self._resets = 0

    @property
    def resets(self) -> int:
        """New media streams and input index jumps this reader has seen."""
        return self._resets + (self.reframer.resets if self.reframer is not None else 0)

    @property
    def pending(self) -> int:
        """Output frames ready in the reader (not counting the core's queue)."""
        return len(self._ready)

    def _attach(self, media: FrameSource) -> None:
        cfg = media.config
        rate = cfg.rate if self.rate is None else self.rate
        ms = cfg.frame_ms if self.frame_ms is None else self.frame_ms
        switch = self._media is not None
        self._resets += switch + (self.reframer.resets if self.reframer is not None else 0)
        self._media = media
        if rate == cfg.rate and frame_samples(rate, ms) == frame_samples(cfg.rate, cfg.frame_ms):
            self.reframer = None
        else:
            self.reframer = Reframer(cfg.rate, rate, ms)
            self.reframer.reset(gap=switch)

    def poll(self, media: FrameSource | None) -> bool:
        """Pull the media's frames until the reader has a frame ready; True if it has."""
        if self._ready:
            return True
        if media is None:
            return False
        if media is not self._media:
            self._attach(media)
        rf = self.reframer
        while (frame := media.read_frame()) is not None:
            if rf is None:
                self._ready.append(frame)
                return True
            out = rf.push(frame)
            if out:
                self._ready.extend(out)
                return True
        return False

    def read(self, media: FrameSource | None) -> AudioFrame | None:
        """The reader's next frame from what ``media`` has received, or None when the frames
        waiting there do not complete one yet (None ``media``: only what is pending)."""
        return self._ready.popleft() if self.poll(media) else None


class CallAudioBase:
    """The loop-independent part of the adapters' ``call.audio`` (asyncio, trio, blocking):
    the readers (one :class:`AudioReader` per ``(rate, frame_ms)`` asked for) and the
    verbs that need no waiting. An adapter subclasses it, supplies ``_media()``, ``ended``
    and ``_act`` (run a verb on the media with the loop's ``now``, then pump), and adds its
    waits (``read``, ``write``, ``drained``) in its own idiom. The subclass declares the
    ``_readers`` slot.
    """

    __slots__ = ()
    _readers: dict[tuple[int | None, float | None], AudioReader]

    # ---- what the adapter supplies ------------------------------------------------------

    @property
    def ended(self) -> bool:
        """The call has ended: reads return None, writes accept nothing."""
        raise NotImplementedError

    def _media(self) -> CallMedia | None:
        raise NotImplementedError

    def _act(self, action: Callable[[CallMedia, float], T], default: T) -> T:
        raise NotImplementedError

    def _with(self, read: Callable[[CallMedia], T], default: T) -> T:
        media = self._media()
        return read(media) if media is not None and not self.ended else default

    # ---- receive ------------------------------------------------------------------------

    def reader(self, rate: int | None = None, frame_ms: float | None = None) -> AudioReader:
        """The reader of frames at ``rate`` / ``frame_ms`` (None: the phone's): one per pair,
        so successive ``frames()`` / ``read()`` at the same pair continue one stream.
        ``ValueError`` unless ``frame_ms`` is a whole number of samples at ``rate``."""
        key = (rate, frame_ms)
        found = self._readers.get(key)
        if found is None:
            found = self._readers[key] = AudioReader(rate, frame_ms)
        return found

    def read_nowait(self, rate: int | None = None,
                    frame_ms: float | None = None) -> AudioFrame | None:
        """The next frame at ``rate`` / ``frame_ms`` from what has been received, or None
        when none is complete yet (or the call has ended)."""
        reader = self.reader(rate, frame_ms)
        return self._with(reader.read, None)

    def read_all(self, rate: int | None = None, frame_ms: float | None = None) -> list[AudioFrame]:
        """Every frame complete now (oldest first; none: an empty list)."""
        out: list[AudioFrame] = []
        while (frame := self.read_nowait(rate, frame_ms)) is not None:
            out.append(frame)
        return out

    def _has_frame(self, reader: AudioReader) -> bool:
        """A wait condition: the call ended or ``reader`` has a frame (pulls the media's)."""
        return self.ended or reader.poll(self._media())

    @property
    def frames_available(self) -> int:
        """Frames waiting in the core's receive queue (at the phone's rate and size)."""
        return self._with(lambda m: m.frames_available, 0)

    # ---- send ---------------------------------------------------------------------------

    def write_nowait(self, pcm: npt.ArrayLike, rate: int | None = None) -> int:
        """Queue what fits of mono int16 ``pcm`` at ``rate`` (default the phone's) now;
        returns the samples accepted (the rest is the caller's to retry; ``CallMedia``
        counts it in ``health().samples_rejected``)."""
        data = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        if len(data) == 0:
            return 0
        return self._act(lambda m, now: m.write(data, rate), 0)

    def room(self) -> int:
        """Samples (at the rate last written, default the phone's) ``write_nowait`` takes now."""
        return self._with(lambda m: m.room(), 0)

    def clear(self) -> int:
        """Barge-in: drop everything queued for sending (at most the frame already on the
        wire is heard); returns the frames dropped. Pending ``drained`` waits return."""
        return self._act(lambda m, now: m.clear(), 0)

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

    def _has_room(self) -> bool:
        media = self._media()
        return self.ended or (media is not None and media.room() > 0)
