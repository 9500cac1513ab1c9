"""DTMF as RTP telephone-events (RFC 4733 §2.3, §2.5).

Payload: event (8 bits), E (end), R, volume (6 bits, -dBm0), duration (16 bits, timestamp
units). The sender keeps one RTP timestamp for the whole event (the event's start), sets the
marker on its first packet, sends duration updates every ``interval`` and the end packet three
times (§2.5.1.4). Events longer than 0xFFFF units are cut into segments (§2.5.1.3), each
segment starting at the previous one's timestamp + its duration; only the last segment carries
the E bit. The receiver joins segments, drops retransmissions and works across timestamp wrap.
"""

from __future__ import annotations

import struct
from collections import deque

import attrs

from .._core import Event, ParseError

__all__ = [
    "DTMF_DIGITS",
    "TelephoneEvent",
    "DtmfStarted",
    "DtmfReceived",
    "DtmfSender",
    "DtmfReceiver",
    "digit_to_event",
]

#: RFC 4733 §3.2 events 0-15.
DTMF_DIGITS = "0123456789*#ABCD"
_PAYLOAD = struct.Struct("!BBH")
_MAX_DURATION = 0xFFFF


def digit_to_event(digit: str) -> int:
    code = DTMF_DIGITS.find(digit.upper())
    if len(digit) != 1 or code < 0:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return code


@attrs.frozen(kw_only=True)
class TelephoneEvent:
    """One telephone-event payload (RFC 4733 §2.3)."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> TelephoneEvent:
        if len(data) < 4:
            raise ParseError("telephone-event payload shorter than 4 octets", len(data))
        ev, flags, dur = _PAYLOAD.unpack_from(data, 0)
        return cls(event=ev, end=bool(flags & 0x80), volume=flags & 0x3F, duration=dur)

    def __bytes__(self) -> bytes:
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | (self.volume & 0x3F),
                             self.duration)

    @property
    def digit(self) -> str | None:
        return DTMF_DIGITS[self.event] if self.event < 16 else None


@attrs.frozen(kw_only=True)
class DtmfStarted(Event):
    """The first packet of a telephone event arrived (useful for barge-in)."""

    digit: str | None
    event: int
    timestamp: int


@attrs.frozen(kw_only=True)
class DtmfReceived(Event):
    """A whole telephone event: ``duration`` in timestamp units and ``duration_s`` seconds;
    ``volume`` in -dBm0; ``ended`` False when it was closed by a timeout or the next event
    because its end packets were lost."""

    digit: str | None
    event: int
    duration: int
    duration_s: float
    volume: int
    timestamp: int
    ended: bool = True


@attrs.frozen(kw_only=True)
class _Pending:
    event: int
    duration_samples: int
    volume: int


class DtmfSender:
    """Schedules the packets of queued telephone events. The session supplies the event
    timestamp and sends what :meth:`due` returns as ``(payload, marker, timestamp)``."""

    __slots__ = ("clock_rate", "interval", "gap", "_queue", "_current", "_next_time",
                 "_ts", "_seg_ts", "_elapsed", "_total", "_ends_left", "_volume", "_event",
                 "_first", "_idle_until")

    def __init__(self, *, clock_rate: int = 8000, interval: float = 0.05,
                 gap: float = 0.05) -> None:
        self.clock_rate = clock_rate
        self.interval = interval
        self.gap = gap
        self._queue: deque[_Pending] = deque()
        self._current = False
        self._next_time = 0.0
        self._idle_until = 0.0
        self._ts = self._seg_ts = self._elapsed = self._total = 0
        self._ends_left = 0
        self._volume = 10
        self._event = 0
        self._first = True

    def queue(self, digits: str, *, duration: float = 0.1, volume: int = 10) -> None:
        """Queue digits (each ``duration`` seconds) to send after any in progress."""
        if not 0 <= volume <= 63:
            raise ValueError("volume is 0..63 (-dBm0)")
        samples = int(round(duration * self.clock_rate))
        if samples <= 0:
            raise ValueError("duration must be positive")
        for d in digits:
            self._queue.append(_Pending(event=digit_to_event(d), duration_samples=samples,
                                        volume=volume))

    @property
    def busy(self) -> bool:
        return self._current or bool(self._queue)

    def next_deadline(self) -> float | None:
        if self._current:
            return self._next_time
        if self._queue:
            return self._idle_until
        return None

    def due(self, now: float, timestamp: int) -> list[tuple[bytes, bool, int]]:
        """Packets due at ``now``; ``timestamp`` is the RTP timestamp a new event would use."""
        out: list[tuple[bytes, bool, int]] = []
        step = int(round(self.interval * self.clock_rate))
        while True:
            if not self._current:
                if not self._queue or now < self._idle_until:
                    return out
                p = self._queue.popleft()
                self._current = True
                self._event, self._total, self._volume = p.event, p.duration_samples, p.volume
                self._ts = self._seg_ts = timestamp & 0xFFFFFFFF
                self._elapsed = 0
                self._ends_left = 3
                self._first = True
                self._next_time = now
            if now < self._next_time:
                return out
            if self._ends_left < 3 or self._elapsed + step >= self._total:
                # End packets: final duration, E bit, three times (§2.5.1.4).
                dur = self._total - (self._seg_ts - self._ts) % (1 << 32)
                payload = _PAYLOAD.pack(self._event, 0x80 | self._volume, min(dur, 0xFFFF))
                out.append((payload, self._first, self._seg_ts))
                self._first = False
                self._ends_left -= 1
                if self._ends_left == 0:
                    self._current = False
                    self._idle_until = self._next_time + self.gap
                    # The event used this much media time: the caller advances its clock.
                self._next_time += self.interval
                continue
            self._elapsed += step
            seg_dur = self._elapsed - ((self._seg_ts - self._ts) % (1 << 32))
            if seg_dur > _MAX_DURATION:
                # §2.5.1.3: close this segment at the maximum (no E bit) and start another.
                for _ in range(3):
                    out.append((_PAYLOAD.pack(self._event, self._volume, _MAX_DURATION),
                                False, self._seg_ts))
                self._seg_ts = (self._seg_ts + _MAX_DURATION) & 0xFFFFFFFF
                seg_dur = self._elapsed - ((self._seg_ts - self._ts) % (1 << 32))
            payload = _PAYLOAD.pack(self._event, self._volume, seg_dur)
            out.append((payload, self._first, self._seg_ts))
            self._first = False
            self._next_time += self.interval

    @property
    def event_samples(self) -> int:
        """Media time taken by the event in progress (for the audio clock)."""
        return self._total


class DtmfReceiver:
    """Turns telephone-event packets of one source into :class:`DtmfStarted` /
    :class:`DtmfReceived` events (deduplicated, segments joined, wrap-safe)."""

    __slots__ = ("clock_rate", "timeout", "_cur", "_base", "_last_seen", "_done", "_events")

    def __init__(self, *, clock_rate: int = 8000, timeout: float = 1.0) -> None:
        self.clock_rate = clock_rate
        self.timeout = timeout
        # current: [timestamp of segment, event, duration in segment, volume, start ts]
        self._cur: list[int] | None = None
        self._base = 0
        self._last_seen = 0.0
        self._done: deque[tuple[int, int]] = deque(maxlen=16)
        self._events: list[Event] = []

    def _finish(self, ended: bool) -> None:
        cur = self._cur
        assert cur is not None
        ts, ev, dur, vol, start = cur
        total = self._base + dur
        self._done.append((ts, ev))
        self._events.append(DtmfReceived(
            digit=DTMF_DIGITS[ev] if ev < 16 else None, event=ev, duration=total,
            duration_s=total / self.clock_rate, volume=vol, timestamp=start, ended=ended,
        ))
        self._cur = None
        self._base = 0

    def receive(self, timestamp: int, payload: bytes, now: float) -> list[Event]:
        """Feed one packet's timestamp and payload; returns the events it completes."""
        te = TelephoneEvent.parse(payload)
        ev, end, vol, dur = te.event, te.end, te.volume, te.duration
        if (timestamp, ev) in self._done:
            return self._drain()  # retransmitted end, or a straggler of a finished event
        cur = self._cur
        if cur is not None and cur[0] == timestamp and cur[1] == ev:
            if dur > cur[2]:
                cur[2] = dur
        elif (cur is not None and cur[1] == ev
              and (cur[0] + cur[2]) & 0xFFFFFFFF == timestamp and cur[2] == _MAX_DURATION):
            # §2.5.1.3: next segment of a long event.
            self._done.append((cur[0], ev))
            self._base += cur[2]
            cur[0], cur[2] = timestamp, dur
        else:
            if cur is not None:
                self._finish(ended=False)  # its end packets were lost
            self._cur = cur = [timestamp, ev, dur, vol, timestamp]
            self._events.append(DtmfStarted(digit=DTMF_DIGITS[ev] if ev < 16 else None,
                                            event=ev, timestamp=timestamp))
        self._last_seen = now
        if end:
            self._finish(ended=True)
        return self._drain()

    def _drain(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> float | None:
        return None if self._cur is None else self._last_seen + self.timeout

    def handle_timeout(self, now: float) -> list[Event]:
        if self._cur is not None and now >= self._last_seen + self.timeout:
            self._finish(ended=False)
        return self._drain()
