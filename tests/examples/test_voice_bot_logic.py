"""The voice bot's logic (examples/voice_bot/bot.py) driven by hand: frames and events in,
actions out, no sockets and no clock (frame times are the media ticks)."""

from __future__ import annotations

import random
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from examples.voice_bot import BotConfig, BotOptions, Journal
from examples.voice_bot.bot import BEEP_HZ, GREETING_HZ, BotCall, Clear, HangUp, Say
from examples.voice_bot.options import parse_args
from rvoip_sansio.callmedia import AudioFlags, AudioFrame
from rvoip_sansio.dialog import EndReason
from rvoip_sansio.media import SpeechEnded, SpeechStarted, level_dbm0, speech_like
from rvoip_sansio.phone import CallEnded, DtmfMethod, DtmfReceived, MediaEvent

RATE, N = 16000, 320  # 20 ms frames
CID = "call-1"


def peak_hz(pcm: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum)) * rate / len(pcm)


def frames(pcm: npt.NDArray[np.int16], start: int = 0) -> list[AudioFrame]:
    """``pcm`` cut into 20 ms frames; frame k is produced by the tick at (start + k) * 20 ms."""
    return [AudioFrame(samples=pcm[i:i + N], rate=RATE, index=(start * N) + i, time=(start + i // N) * 0.02,
                       rtp_timestamp=0, flags=AudioFlags.NONE) for i in range(0, len(pcm) - N + 1, N)]


def speech(seconds: float) -> npt.NDArray[np.int16]:
    """Synthetic speech starting at its first sample, whole frames long."""
    pcm, _ = speech_like(RATE, seconds + 0.2, level_dbov=-20.0, rng=random.Random(3), pause_fraction=0.0)
    pcm = pcm[np.flatnonzero(pcm)[0]:]
    return pcm[:int(seconds * RATE) // N * N]


def vad(event: object) -> MediaEvent:
    return MediaEvent(call_id=CID, event=event)  # type: ignore[arg-type]


def test_greeting_is_a_1khz_test_tone() -> None:
    bot = BotCall(call_id=CID, config=BotConfig(), journal=Journal())
    (say,) = bot.answered(0.0)
    assert isinstance(say, Say) and say.what == "greeting" and say.rate is None
    assert len(say.pcm) == 3 * RATE
    assert abs(peak_hz(say.pcm, RATE) - GREETING_HZ) < 1.0
    assert abs(level_dbm0(say.pcm[RATE // 10:-RATE // 10]) + 10.0) < 0.1


def test_barge_in_clears_on_speech_not_on_idle_noise() -> None:
    journal = Journal()
    bot = BotCall(call_id=CID, config=BotConfig(), journal=journal)
    bot.answered(0.0)
    hiss = np.random.default_rng(1).integers(-8, 9, 50 * N).astype(np.int16)  # ~-75 dBov idle noise
    for f in frames(hiss):
        assert bot.frame(f) == []
    assert bot.event(vad(SpeechStarted(sample=0)), 1.0) == []      # the VAD on codec noise: ignored
    assert journal.kinds()[-1] == "noise"
    assert bot.event(vad(SpeechEnded(sample=0)), 1.1) == []        # and no echo follows it
    for f in frames(speech(0.1), start=50):
        bot.frame(f)
    assert bot.event(vad(SpeechStarted(sample=0)), 1.093) == [Clear(why="speech")]
    # the runner cleared 100 frames 1.5 ms after the event: nothing sent after the VAD's tick
    bot.cleared(Clear(why="speech"), 100, 1.0945)
    (b,) = journal.barge_ins
    assert b.vad_tick == pytest.approx(1.08) and b.frames_after_vad == 0 and b.frames_cleared == 100
    bot.cleared(Clear(why="speech"), 7, 1.131)   # a late clear counts the ticks it missed
    assert journal.barge_ins[-1].frames_after_vad == 2
    bot.cleared(Clear(why="speech"), 0, 1.2)     # nothing was playing: no barge-in
    assert len(journal.barge_ins) == 2


def test_echo_after_the_delay_holds_the_callers_words() -> None:
    journal = Journal()
    bot = BotCall(call_id=CID, config=BotConfig(echo_delay=0.5, preroll=0.1), journal=journal)
    quiet = np.zeros(25 * N, dtype=np.int16)
    words = speech(0.6)
    for f in frames(quiet):
        bot.frame(f)
    said = frames(words, start=25)
    for f in said[:2]:              # the VAD fires 40 ms into the speech
        bot.frame(f)
    assert bot.event(vad(SpeechStarted(sample=0)), 0.53) == [Clear(why="speech")]
    for f in said[2:]:
        assert bot.frame(f) == []
    assert bot.event(vad(SpeechEnded(sample=0)), 1.1) == []   # last tick seen: 1.08
    out: list[tuple[float, Say]] = []
    for f in frames(np.zeros(40 * N, dtype=np.int16), start=55):
        out += [(f.time, a) for a in bot.frame(f) if isinstance(a, Say)]
    ((at, echo),) = out
    assert at == pytest.approx(1.08 + 0.5) and echo.what == "echo"
    # the echo: 0.1 s of preroll (3 quiet frames here: 5 frames kept, 2 of them speech), the words
    assert len(echo.pcm) == 3 * N + len(words)
    assert np.array_equal(echo.pcm[3 * N:], words) and not echo.pcm[:3 * N].any()


def test_new_speech_cancels_a_pending_echo() -> None:
    bot = BotCall(call_id=CID, config=BotConfig(), journal=Journal())
    loud = frames(speech(0.4))
    for f in loud:
        bot.frame(f)
    bot.event(vad(SpeechStarted(sample=0)), 0.1)
    bot.event(vad(SpeechEnded(sample=0)), 0.4)
    bot.event(vad(SpeechStarted(sample=0)), 0.6)   # talks again before the echo is due
    assert all(bot.frame(f) == [] for f in frames(np.zeros(50 * N, dtype=np.int16), start=20))


def test_digits_beep_and_hash_hangs_up() -> None:
    journal = Journal()
    bot = BotCall(call_id=CID, config=BotConfig(), journal=journal)
    bot.answered(0.0)
    clear, beep = bot.event(DtmfReceived(call_id=CID, digit="5", duration=0.1, method=DtmfMethod.RFC4733), 1.0)
    assert clear == Clear(why="digit") and isinstance(beep, Say) and beep.what == "beep 5"
    assert abs(peak_hz(beep.pcm, RATE) - BEEP_HZ) < 10 and len(beep.pcm) == int(0.15 * RATE)
    assert bot.event(DtmfReceived(call_id=CID, digit="#", duration=0.1, method=DtmfMethod.INFO), 2.0) == \
        [Clear(why="hangup"), HangUp(why="digit #")]
    assert bot.event(DtmfReceived(call_id=CID, digit="7", duration=0.1, method=DtmfMethod.INFO), 2.1) == []
    bot.event(CallEnded(call_id=CID, reason=EndReason.LOCAL_HANGUP), 2.2)
    assert journal.digits == ["5", "#"]
    assert [e.detail for e in journal.entries if e.kind == "digit"] == ["5 (rfc4733)", "# (info)"]
    assert journal.kinds()[-1] == "ended"


def test_options_from_the_command_line(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    stereo = (np.stack([np.sin(2 * np.pi * 600 * t)] * 2, axis=1) * 8000).astype(np.int16)
    wav = tmp_path / "hello.wav"
    with wave.open(str(wav), "wb") as w:  # written with the stdlib, not our WAV code
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(stereo.tobytes())
    adapter, opts = parse_args(["--adapter", "trio", "--listen", "127.0.0.1:5099", "--codecs", "PCMU,G722",
                                "--greeting", str(wav), "--echo-delay", "0.3", "--rtp-ports", "30000-30100"])
    assert adapter == "trio" and opts.listen == ("127.0.0.1", 5099) and opts.codecs == ("PCMU", "G722")
    assert opts.rtp_ports == (30000, 30100) and opts.credentials() is None
    cfg = opts.bot_config()
    assert cfg.greeting_rate == 8000 and cfg.echo_delay == 0.3
    assert cfg.greeting is not None and cfg.greeting.shape == (8000,)
    assert abs(peak_hz(cfg.greeting, 8000) - 600) < 2
    (say,) = BotCall(call_id=CID, config=cfg, journal=Journal()).answered(0.0)
    assert isinstance(say, Say) and say.rate == 8000
    assert [c.name for c in opts.phone_config()["codecs"]] == ["PCMU", "G722"]
    assert BotOptions(password="pw", auth_user="acct-7").credentials() is not None
    with pytest.raises(SystemExit) as exc:
        parse_args(["--help"])
    assert exc.value.code == 0


def test_a_long_utterance_is_cut_and_echoed_only_after_the_caller_stops() -> None:
    bot = BotCall(call_id=CID, config=BotConfig(max_echo=1.0, preroll=0.0), journal=Journal())
    talk = frames(speech(1.6))
    bot.frame(talk[0])
    bot.event(vad(SpeechStarted(sample=0)), 0.01)
    assert all(bot.frame(f) == [] for f in talk[1:])      # still talking: no echo yet
    bot.event(vad(SpeechEnded(sample=0)), talk[-1].time)
    out = [a for f in frames(np.zeros(30 * N, dtype=np.int16), start=len(talk)) for a in bot.frame(f)]
    (echo,) = out
    assert isinstance(echo, Say) and len(echo.pcm) == 50 * N  # max_echo: 1.0 s
