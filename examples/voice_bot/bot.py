"""The voice bot's behaviour, in plain code: no sockets, no event loop, no clock.

One :class:`BotCall` per call. The runners (``run_asyncio``, ``run_trio``, ``run_blocking``)
feed it what their adapter's ``Phone`` delivers — received audio frames, call events, the
moment the call was answered — and carry out the :data:`Action` s it returns on
``call.audio`` (``write_nowait``, ``clear``) and on the call (``hangup``). Everything it
does and hears is written to a :class:`Journal` (digits, barge-ins, what it said), which is
how tests and the command line's log see the bot.

Behaviour:

- answered: say the greeting (a WAV given by the user, else a synthesised 1 kHz test tone);
- the caller speaks (the stack's VAD, ``vad=True``, reports ``SpeechStarted``): stop talking
  at once (``clear()``: barge-in) and record what the caller says;
- the caller stops (``SpeechEnded``): ``echo_delay`` later, say it back (echo);
- a DTMF digit: stop talking, play a short confirmation beep; the ``hangup_digit`` hangs up.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque

import attrs
import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.media import SpeechEnded, SpeechStarted, level_dbov, tone
from rvoip_sansio.phone import CallEnded, DtmfReceived, MediaEvent

__all__ = ["BotConfig", "Journal", "Entry", "BargeIn", "BotCall", "Say", "Clear", "HangUp",
           "Action", "default_greeting", "beep"]

log = logging.getLogger("examples.voice_bot")
Pcm = npt.NDArray[np.int16]

GREETING_HZ = 1000.0  # the synthesised greeting: a test tone the checks measure
BEEP_HZ = 1400.0


def default_greeting(rate: int, seconds: float = 3.0) -> Pcm:
    """A synthesised prompt: ``seconds`` of a steady 1 kHz tone at -10 dBm0, faded in and out
    over 10 ms (so checks can measure its frequency and level)."""
    pcm = tone(GREETING_HZ, rate, seconds, level_dbm0=-10.0).astype(np.float64)
    ramp = np.linspace(0.0, 1.0, rate // 100)
    pcm[:len(ramp)] *= ramp
    pcm[-len(ramp):] *= ramp[::-1]
    return pcm.astype(np.int16)


def beep(rate: int, seconds: float = 0.15) -> Pcm:
    """The confirmation for a digit: a short 1.4 kHz beep at -12 dBm0."""
    return tone(BEEP_HZ, rate, seconds, level_dbm0=-12.0)


@attrs.frozen(kw_only=True)
class BotConfig:
    rate: int = 16000            # the application's audio rate (the phone's ``rate``)
    frame_ms: float = 20.0
    greeting: Pcm | None = None  # None: default_greeting
    greeting_rate: int | None = None  # the greeting's sample rate (None: ``rate``)
    echo_delay: float = 0.5      # seconds between the end of the caller's speech and the echo
    max_echo: float = 5.0        # longest utterance echoed (seconds)
    preroll: float = 0.1         # audio kept from before the VAD fired (its onset latency)
    hangup_digit: str = "#"
    #: The VAD's SpeechStarted is taken for speech only when the last ``speech_window`` of the
    #: caller's audio is at least this loud: a codec's idle-channel noise (G.722 decoding
    #: digital silence is ~-70 dBov) must not stop the greeting.
    min_speech_dbov: float = -55.0
    speech_window: float = 0.04


@attrs.frozen(kw_only=True)
class Say:
    """Queue ``pcm`` (at ``rate``, None: the bot's) for sending; ``what``: greeting / echo / beep."""
    pcm: Pcm = attrs.field(eq=False)
    what: str
    rate: int | None = None


@attrs.frozen(kw_only=True)
class Clear:
    """Drop everything still queued (barge-in); ``why``: speech / digit / hangup."""
    why: str


@attrs.frozen(kw_only=True)
class HangUp:
    why: str


Action = Say | Clear | HangUp


@attrs.frozen(kw_only=True)
class Entry:
    time: float     # the runner's clock (the phone's ``now`` scale)
    call_id: str
    kind: str       # answered, say, clear, digit, speech, noise, silence, barge-in, hangup, ended
    detail: str = ""


@attrs.frozen(kw_only=True)
class BargeIn:
    """One barge-in, measured by the bot: ``event_time`` when ``SpeechStarted`` reached it,
    ``vad_tick`` the media tick the VAD fired on (the last tick at or before ``event_time``),
    ``clear_time`` when ``clear()`` returned, ``frames_cleared`` what it dropped, and
    ``frames_after_vad`` the greeting frames sent on ticks after the VAD's tick."""
    call_id: str
    event_time: float
    vad_tick: float
    clear_time: float
    frames_cleared: int
    frames_after_vad: int


@attrs.define(kw_only=True)
class Journal:
    """What the bot did and heard, across calls (appended from the runner's thread)."""
    entries: list[Entry] = attrs.field(factory=list)
    digits: list[str] = attrs.field(factory=list)
    barge_ins: list[BargeIn] = attrs.field(factory=list)
    calls_ended: threading.Event = attrs.field(factory=threading.Event)

    def add(self, time: float, call_id: str, kind: str, detail: str = "") -> None:
        self.entries.append(Entry(time=time, call_id=call_id, kind=kind, detail=detail))
        log.info("%s %s %s", call_id, kind, detail, extra={"call_id": call_id})

    def kinds(self, call_id: str | None = None) -> list[str]:
        return [e.kind for e in self.entries if call_id is None or e.call_id == call_id]


@attrs.define(kw_only=True)
class BotCall:
    """The bot's side of one call. Feed it :meth:`answered`, :meth:`frame`, :meth:`event`;
    report :class:`Clear` results with :meth:`cleared`. ``now`` is the runner's clock."""
    call_id: str
    config: BotConfig
    journal: Journal
    _ring: deque[AudioFrame] = attrs.field(factory=lambda: deque(maxlen=300))
    _utterance: list[AudioFrame] | None = None   # recording the caller while not None
    _echo: tuple[float, Pcm] | None = None       # (due tick, audio) waiting for its time
    _phase: float | None = None                  # a media tick time (for the tick grid)
    _speech_at: float | None = None              # when the last SpeechStarted arrived
    _speaking: bool = False                      # between SpeechStarted and SpeechEnded
    _done: bool = False

    def answered(self, now: float) -> list[Action]:
        self.journal.add(now, self.call_id, "answered")
        c = self.config
        if c.greeting is None:
            return [Say(pcm=default_greeting(c.rate), what="greeting")]
        return [Say(pcm=c.greeting, what="greeting", rate=c.greeting_rate)]

    def frame(self, frame: AudioFrame) -> list[Action]:
        """One received 20 ms frame (its ``time`` is the media tick: the bot's timer)."""
        if self._phase is None:
            self._phase = frame.time
        self._ring.append(frame)
        if self._utterance is not None:
            self._utterance.append(frame)
            if len(self._utterance) * self.config.frame_ms / 1000 >= self.config.max_echo:
                self._finish_utterance(frame.time)
        if self._echo is not None and not self._speaking and frame.time >= self._echo[0]:
            pcm, self._echo = self._echo[1], None
            return [Say(pcm=pcm, what="echo")]
        return []

    def event(self, event: object, now: float) -> list[Action]:
        """One call event. Feed the frames received so far first (``read_all()``): the VAD's
        events come with the frame they fired on, and the bot looks at that audio."""
        if isinstance(event, CallEnded):
            self._done = True
            self.journal.add(now, self.call_id, "ended", f"{event.reason.name} {event.detail}".strip())
            return []
        if self._done:
            return []
        if isinstance(event, DtmfReceived):
            self.journal.digits.append(event.digit)
            self.journal.add(now, self.call_id, "digit", f"{event.digit} ({event.method.value})")
            self._echo = None
            if event.digit == self.config.hangup_digit:
                self._done = True
                return [Clear(why="hangup"), HangUp(why=f"digit {event.digit}")]
            return [Clear(why="digit"), Say(pcm=beep(self.config.rate), what=f"beep {event.digit}")]
        if isinstance(event, MediaEvent) and isinstance(event.event, SpeechStarted):
            window = max(1, round(self.config.speech_window * 1000 / self.config.frame_ms))
            recent = list(self._ring)[-window:]
            level = level_dbov(np.concatenate([f.samples for f in recent])) if recent else -math.inf
            if level < self.config.min_speech_dbov:
                self.journal.add(now, self.call_id, "noise", f"VAD ignored at {level:.1f} dBov")
                return []
            self.journal.add(now, self.call_id, "speech", f"{level:.1f} dBov")
            self._speech_at, self._echo, self._speaking = now, None, True
            keep = int(self.config.preroll * 1000 / self.config.frame_ms)
            self._utterance = list(self._ring)[-keep:] if keep else []
            return [Clear(why="speech")]
        if isinstance(event, MediaEvent) and isinstance(event.event, SpeechEnded) and self._speaking:
            self._speaking = False
            self.journal.add(now, self.call_id, "silence")
            last_tick = self._ring[-1].time if self._ring else now
            if self._utterance is not None:
                self._finish_utterance(last_tick)
            elif self._echo is not None:  # cut at max_echo: still due echo_delay after the end
                self._echo = (last_tick + self.config.echo_delay, self._echo[1])
            return []
        return []

    def cleared(self, action: Clear, dropped: int, now: float) -> None:
        """The runner ran ``clear()`` for ``action``: it dropped ``dropped`` frames."""
        self.journal.add(now, self.call_id, "clear", f"{action.why}: {dropped} frames dropped")
        if action.why == "speech" and dropped and self._speech_at is not None:
            ptime = self.config.frame_ms / 1000
            phase = self._phase if self._phase is not None else self._speech_at
            tick = phase + ((self._speech_at - phase) // ptime) * ptime
            after = int((now - tick) // ptime)
            self.journal.barge_ins.append(BargeIn(
                call_id=self.call_id, event_time=self._speech_at, vad_tick=tick, clear_time=now,
                frames_cleared=dropped, frames_after_vad=after))
            self.journal.add(now, self.call_id, "barge-in", f"{1000 * (now - tick):.1f} ms after the "
                             f"VAD's tick, {after} frame(s) sent since")

    def said(self, action: Say, accepted: int, now: float) -> None:
        """The runner queued ``accepted`` samples of ``action``."""
        rate = action.rate or self.config.rate
        short = "" if accepted == len(action.pcm) else f" (of {len(action.pcm) / rate:.2f} s: queue full)"
        self.journal.add(now, self.call_id, "say", f"{action.what} {accepted / rate:.2f} s{short}")

    def _finish_utterance(self, last_tick: float) -> None:
        assert self._utterance is not None
        frames, self._utterance = self._utterance, None
        if frames:
            pcm = np.concatenate([f.samples for f in frames])
            self._echo = (last_tick + self.config.echo_delay, pcm)
