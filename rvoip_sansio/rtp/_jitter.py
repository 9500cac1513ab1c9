"""Adaptive jitter buffer driven by the caller's ``now``.

The network side calls :meth:`JitterBuffer.put` for every RTP packet of one source; the playout
side calls :meth:`JitterBuffer.pop` once per frame tick (e.g. every 20 ms) and gets one
:class:`PlayoutFrame`: a payload to decode, or a flag saying what to play instead (conceal a
missing frame with the codec's PLC, play comfort noise (RFC 3389), or silence).

How it decides (all in media time, never a clock read):

* Each packet's *relative delay* is ``arrival - timestamp / clock_rate``; the smallest one in
  a sliding window (``base``) stands for the fastest path through the network.
* The *target delay* is a high quantile of ``delay - base`` over the window (default the 99th
  percentile), clamped to ``[min_delay, max_delay]``.
* A talk spurt (first packet, marker bit, or first packet after silence) starts playing at
  the first tick at or after ``base + timestamp / clock_rate + target``: the depth is re-set
  there (RFC 3550 §5.1: the marker lets the receiver adjust playout at a talk-spurt start).
* Inside a long spurt the depth follows the target: one frame is dropped after the buffer
  has sat a whole tick above its target for ``shrink_after`` ticks (jitter fell, or the
  sender's clock is fast), one concealed frame is inserted as soon as it falls below the
  target (jitter grew, or the sender's clock is slow), so the delay stays in
  ``[target, target + tick)``.
* A packet whose slot has already been played is *late* (counted as late loss when that slot
  was concealed) or a *duplicate*; both are dropped.
"""

from __future__ import annotations

import enum
from array import array
from collections import deque
from typing import NamedTuple

import attrs

__all__ = ["FrameFlags", "PlayoutFrame", "JitterBufferConfig", "JitterBuffer", "PutResult"]


class FrameFlags(enum.IntFlag):
    """What a :class:`PlayoutFrame` holds. ``frame.flags`` is a plain ``int`` of these bits."""

    NONE = 0
    #: No packet for this slot (lost or late): the decoder should conceal it (PLC).
    MISSING = 1
    #: Frames were skipped or concealed just before this one: a discontinuity.
    GAP = 2
    #: Comfort noise (RFC 3389): ``payload`` is a CN packet, or CN continues (payload None).
    COMFORT_NOISE = 4
    #: No talk spurt in progress (not started yet, or a pause after the stream went quiet).
    SILENCE = 8
    #: First frame of a talk spurt (marker bit, or first after silence).
    TALKSPURT = 16


_MISSING = 1
_GAP = 2
_CN = 4
_SILENCE = 8
_TALKSPURT = 16


class PutResult(enum.IntEnum):
    ACCEPTED = 0
    LATE = 1
    DUPLICATE = 2
    OVERFLOW = 3


_ACCEPTED = PutResult.ACCEPTED
#: Largest sender/receiver clock-rate mismatch followed (0.5 %; crystals are ~0.005 %).
_MAX_SLOPE = 0.005


class PlayoutFrame(NamedTuple):
    """One playout slot: ``payload`` (None when there is nothing to decode), the RTP
    ``timestamp`` of the slot (32-bit), ``flags`` (:class:`FrameFlags` bits), the payload type
    and sequence number of the packet played (-1 when none)."""

    payload: bytes | None
    timestamp: int
    flags: int
    payload_type: int = -1
    sequence_number: int = -1


#: C-level tuple construction for the hot path (skips NamedTuple's Python ``__new__``).
_tuple_new = tuple.__new__


@attrs.frozen(kw_only=True)
class JitterBufferConfig:
    clock_rate: int = 8000
    #: Samples per playout tick (one frame): 160 = 20 ms at 8 kHz.
    frame_samples: int = 160
    min_delay: float = 0.02
    max_delay: float = 0.4
    #: Delay before the window has enough samples to measure jitter.
    initial_delay: float = 0.04
    quantile: float = 0.99
    #: Packets in the measurement window (500 = 10 s of 20 ms frames).
    window: int = 500
    #: Packets per block: the base (fastest path) and target are re-measured once a block.
    adapt_every: int = 100
    #: Concealed frames with an empty buffer before the spurt is taken as ended.
    max_conceal: int = 5
    #: Ticks above target (by a whole frame) before one frame is dropped inside a spurt.
    shrink_after: int = 25
    #: Payload type of RFC 3389 comfort noise (13 static).
    cn_payload_type: int = 13
    #: Hard bound on buffered packets.
    max_packets: int = 200


class JitterBuffer:
    """Reorders one source's packets and hands out one frame per playout tick."""

    __slots__ = (
        "config", "_packets", "_last_ts32", "_last_ext", "_started", "_playing", "_play_ts",
        "_base", "_base_t", "_slope", "_window", "_prev_bmin", "_prev_t", "_block_t0", "_block_t1", "_block", "_excess", "_target", "_missing_run", "_missed", "_above",
        "_gap_pending", "_in_cn", "_held", "_tick", "_clock", "_samples", "_delay_sum", "_delay_n",
        "received", "played", "concealed", "late", "duplicates", "overflow", "dropped_adapt",
        "inserted_adapt", "last_delay", "max_delay_seen", "recent_delay", "_adapt_every", "_cn_pt", "_max_packets", "_rebase_gap",
    )

    def __init__(self, config: JitterBufferConfig | None = None) -> None:
        self.config = config or JitterBufferConfig()
        self._clock = float(self.config.clock_rate)
        self._samples = self.config.frame_samples
        self._tick = self._samples / self._clock
        self._adapt_every = self.config.adapt_every
        self._cn_pt = self.config.cn_payload_type
        self._max_packets = self.config.max_packets
        self._rebase_gap = 10 * self.config.clock_rate
        self._packets: dict[int, tuple[int, int, bool, bytes]] = {}
        # Relative delays of the current block (adapt_every packets), and of past blocks
        # measured against their own block's minimum (so clock drift does not widen them).
        # (Arrays of C doubles, not a list and a deque of float objects: the same values,
        # but nothing for the garbage collector to visit. A full collection otherwise
        # touches each of the window's 500 floats of every call: at 1,000 calls that was
        # half a million cache misses per pass.)
        self._block = array("d")
        self._excess = array("d")
        self._window = self.config.window
        if self._window < 0:
            raise ValueError("maxlen must be non-negative")  # (as the deque it replaces)
        self._missed: deque[int] = deque(maxlen=64)
        self.received = 0
        self.played = 0
        self.concealed = 0
        self.late = 0
        self.duplicates = 0
        self.overflow = 0
        self.dropped_adapt = 0
        self.inserted_adapt = 0
        self.last_delay = 0.0
        #: Buffer delay of played frames, smoothed over ~32 frames (for live reports).
        self.recent_delay = 0.0
        self.max_delay_seen = 0.0
        self._delay_sum = 0.0
        self._delay_n = 0
        self.reset()

    def reset(self) -> None:
        """Forget the stream (new source): counters are kept, the timeline is not."""
        self._packets.clear()
        del self._block[:]
        del self._excess[:]
        self._missed.clear()
        self._last_ts32 = 0
        self._last_ext = 0
        self._started = False
        self._playing = False
        self._play_ts = 0
        # The fastest path as a line in media time: base + slope * (t - base_t), so that a
        # sender clock running fast or slow (slope) is followed between measurements.
        self._base = 0.0
        self._base_t = 0.0
        self._slope = 0.0
        self._prev_bmin: float | None = None
        self._prev_t = 0.0
        self._block_t0 = 0.0
        self._block_t1 = 0.0
        self._target = self.config.initial_delay
        self._missing_run = 0
        self._above = 0
        self._gap_pending = False
        self._in_cn = False
        self._held = False

    # ------------------------------------------------------------------ network side
    def put(
        self, seq: int, timestamp: int, marker: bool, payload_type: int, payload: bytes,
        now: float,
    ) -> PutResult:
        """Add one packet (RTP header fields and payload) that arrived at ``now``."""
        if self._started:
            d = ((timestamp - self._last_ts32 + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            ext = self._last_ext + d
            if d > 0:
                self._last_ts32 = timestamp
                self._last_ext = ext
                if d > self._rebase_gap:
                    # Long silence: extrapolating the base line across it would carry any
                    # slope error along; measure the fastest path afresh instead.
                    self._base = now - ext / self._clock
                    self._base_t = ext / self._clock
                    del self._block[:]
                    self._block_t0 = self._base_t
                    self._prev_bmin = None
        else:
            ext = self._last_ext = timestamp
            self._last_ts32 = timestamp
            self._started = True
            self._play_ts = ext
            self._base = now - ext / self._clock
            self._base_t = self._block_t0 = ext / self._clock
        if ext < self._play_ts:
            # Its slot has been played already (or skipped over): too late to use.
            if ext in self._missed:
                self._missed.remove(ext)
                self.late += 1
                # Late packets must count in the delay statistics, or the buffer would only
                # ever learn from the packets that were in time and never grow.
                self._measure(now - ext / self._clock)
                return PutResult.LATE
            self.duplicates += 1
            return PutResult.DUPLICATE
        packets = self._packets
        if ext in packets:
            self.duplicates += 1
            return PutResult.DUPLICATE
        self.received += 1
        mt = ext / self._clock
        rel = now - mt
        block = self._block
        block.append(rel)
        self._block_t1 = mt
        if rel < self._base + self._slope * (mt - self._base_t):
            self._base = rel - self._slope * (mt - self._base_t)
        if len(block) >= self._adapt_every:
            self._adapt()
        if len(packets) >= self._max_packets:
            # Bounded memory: drop the oldest (it would be played first, and very late).
            oldest = min(packets)
            del packets[oldest]
            self.overflow += 1
            if oldest == self._play_ts:
                self._gap_pending = True
        packets[ext] = (seq, payload_type, marker, payload)
        return _ACCEPTED

    def _measure(self, rel: float) -> None:
        self._block.append(rel)
        if len(self._block) >= self._adapt_every:
            self._adapt()

    def _adapt(self) -> None:
        """Once per block: the block's fastest packet becomes the base (so a sender clock
        running slow or fast, or a route change, moves it within one block), and the
        target is the quantile of every packet's excess over its own block's minimum."""
        block = self._block
        bmin = min(block)
        center = 0.5 * (self._block_t0 + self._block_t1)
        if self._prev_bmin is not None and center - self._prev_t > 0.1:
            raw = (bmin - self._prev_bmin) / (center - self._prev_t)
            raw = max(-_MAX_SLOPE, min(_MAX_SLOPE, raw))
            self._slope += (raw - self._slope) * 0.25
        self._prev_bmin = bmin
        self._prev_t = center
        self._base = bmin
        self._base_t = center
        self._block_t0 = self._block_t1
        excess = self._excess
        excess.extend([r - bmin for r in block])
        if len(excess) > self._window:  # the newest ``window`` (was a bounded deque)
            del excess[: len(excess) - self._window]
        del block[:]
        w = sorted(excess)
        n = len(w)
        q = w[min(n - 1, int(self.config.quantile * (n - 1) + 0.999))]
        c = self.config
        self._target = min(c.max_delay, max(c.min_delay, q))

    # ------------------------------------------------------------------ playout side
    def pop(self, now: float) -> PlayoutFrame:
        """The frame for the playout tick at ``now`` (call once per tick)."""
        if not self._playing:
            packets = self._packets
            if not packets:
                return PlayoutFrame(None, self._play_ts & 0xFFFFFFFF,
                                    _SILENCE | (_CN if self._in_cn else 0))
            first = min(packets)
            mt = first / self._clock
            due = self._base + self._slope * (mt - self._base_t) + mt + self._target
            if now < due:
                return PlayoutFrame(None, self._play_ts & 0xFFFFFFFF,
                                    _SILENCE | (_CN if self._in_cn else 0))
            if first > self._play_ts and self.played:
                self._gap_pending = True
            self._play_ts = first
            self._playing = True
            self._in_cn = False
            self._above = 0
            self._missing_run = 0
            start_flag = _TALKSPURT
        else:
            start_flag = 0
        ts = self._play_ts
        mt = ts / self._clock
        delay = now - self._base - self._slope * (mt - self._base_t) - mt
        target = self._target
        # (A microsecond of tolerance for float rounding at exact tick boundaries.)
        if delay < target - 1e-6 and not start_flag and not self._held:
            # Ahead of schedule (the sender's clock is slow, or jitter grew): hold this slot
            # for one tick with a concealed frame rather than play past packets in flight.
            self._held = True
            self.inserted_adapt += 1
            self.concealed += 1
            self._gap_pending = True
            return PlayoutFrame(None, ts & 0xFFFFFFFF, _MISSING)
        self._held = False
        entry = self._packets.pop(ts, None)
        if entry is not None:
            tick = self._tick
            seq, pt, marker, payload = entry
            self._play_ts = ts + self._samples
            self._missing_run = 0
            self.played += 1
            self.last_delay = delay
            self._delay_sum += delay
            n = self._delay_n = self._delay_n + 1
            if n == 1:
                self.recent_delay = delay
            else:
                self.recent_delay += (delay - self.recent_delay) * 0.03125
            if delay > self.max_delay_seen:
                self.max_delay_seen = delay
            flags = start_flag
            if marker:
                flags |= _TALKSPURT
            if self._gap_pending:
                flags |= _GAP
                self._gap_pending = False
            if pt == self._cn_pt:
                # RFC 3389: after a CN packet the sender may go quiet; keep playing CN.
                flags |= _CN
                self._in_cn = True
                self._playing = False
            elif delay > target + tick:
                self._above += 1
                if self._above >= self.config.shrink_after:
                    self._above = 0
                    if self._packets.pop(self._play_ts, None) is not None:
                        self._play_ts += self._samples
                        self.dropped_adapt += 1
                        self._gap_pending = True
            else:
                self._above = 0
            return _tuple_new(PlayoutFrame, (payload, ts & 0xFFFFFFFF, flags, pt, seq))
        # Nothing for this slot.
        packets = self._packets
        if not packets:
            self._missing_run += 1
            if self._missing_run > self.config.max_conceal:
                # The spurt has ended (or the stream stopped): stop concealing.
                self._playing = False
                return PlayoutFrame(None, ts & 0xFFFFFFFF, _SILENCE)
        else:
            first = min(packets)
            if (first - ts) / self._clock > self.config.max_delay:
                # Timestamp jump (silence without a marker, or a sender reset): re-anchor.
                self._playing = False
                return self.pop(now)
            self._missing_run = 1
        self._missed.append(ts)
        self._play_ts = ts + self._samples
        self.concealed += 1
        self._gap_pending = True
        return PlayoutFrame(None, ts & 0xFFFFFFFF, _MISSING | start_flag)

    # ------------------------------------------------------------------ reporting
    @property
    def target_delay(self) -> float:
        """Seconds of buffering the buffer aims at now."""
        return self._target

    @property
    def mean_delay(self) -> float:
        """Mean buffering delay of played frames (seconds beyond the fastest packet)."""
        return self._delay_sum / self._delay_n if self._delay_n else 0.0

    @property
    def depth(self) -> int:
        """Packets waiting."""
        return len(self._packets)

    @property
    def late_loss_rate(self) -> float:
        """Late packets over packets that arrived (not counting duplicates)."""
        total = self.received + self.late
        return self.late / total if total else 0.0
