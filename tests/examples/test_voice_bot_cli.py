"""``python -m examples.voice_bot`` as a user runs it, once per adapter: a phone of ours calls
it, hears the WAV greeting given on the command line (600 Hz, measured), sends ``#`` (the bot
hangs up and logs the digit), then Ctrl-C (SIGINT) ends the bot cleanly. And SIGTERM during a
call: the bot hangs the call up (BYE) and exits 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from rvoip_sansio.adapters.blocking import open_phone
from rvoip_sansio.dialog import EndReason
from rvoip_sansio.sdp import PCMU
from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(adapter: str, port: int, *args: str) -> subprocess.Popen[str]:
    bot = subprocess.Popen([sys.executable, "-m", "examples.voice_bot", "--adapter", adapter, "--listen",
                            f"127.0.0.1:{port}", "--codecs", "PCMU", "-v", *args],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert bot.stdout is not None
    assert bot.stdout.readline().strip() == f"voice bot ({adapter}) on sip:bot@127.0.0.1:{port}"
    return bot


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "blocking"])
def test_cli_bot_answers_greets_and_hangs_up_on_hash(tmp_path: Path, adapter: str) -> None:
    wav = tmp_path / "greeting.wav"
    t = np.arange(16000 * 2) / 16000
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(2 * np.pi * 600 * t) * 6000).astype(np.int16).tobytes())
    port = _free_port()
    bot = start(adapter, port, "--greeting", str(wav))
    try:
        with open_phone("alice", ("127.0.0.1", 0), codecs=(PCMU,), srtp=False) as alice:
            call = alice.call(f"sip:bot@127.0.0.1:{port}", timeout=5)
            heard: list[np.ndarray] = []
            while len(heard) < 60 and (frame := call.audio.read(timeout=2)) is not None:
                if frame.flags.is_speech:
                    heard.append(frame.samples)
            pcm = np.concatenate(heard[10:]).astype(np.float64)  # 1 s of the greeting
            spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
            assert abs(np.argmax(spectrum) * 16000 / len(pcm) - 600) < 2
            call.send_dtmf("#")
            assert call.wait_ended(5) and call.end is not None
            assert call.end.reason == EndReason.REMOTE_HANGUP
        bot.send_signal(signal.SIGINT)
        _, err = bot.communicate(timeout=10)
        assert bot.returncode == 0, err
        assert "digit # (rfc4733)" in err and "hangup digit #" in err, err
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate()


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "blocking"])
def test_sigterm_hangs_up_the_calls_and_exits(adapter: str) -> None:
    port = _free_port()
    bot = start(adapter, port)
    try:
        with open_phone("alice", ("127.0.0.1", 0), codecs=(PCMU,), srtp=False) as alice:
            call = alice.call(f"sip:bot@127.0.0.1:{port}", timeout=5)
            assert call.audio.read(timeout=2) is not None
            bot.send_signal(signal.SIGTERM)
            assert call.wait_ended(5) and call.end is not None
            assert call.end.reason == EndReason.REMOTE_HANGUP  # the bot's BYE
        _, err = bot.communicate(timeout=10)
        assert bot.returncode == 0, err
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate()
