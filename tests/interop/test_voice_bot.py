"""The example voice bot (examples/voice_bot) called by a live baresip 1.0 on 127.0.0.1
(issue 10 §3, §4), under the asyncio, trio and blocking runners, with PCMU and G.722.

baresip dials the bot and plays a WAV: silence, then ~0.8 s of synthetic speech that starts
while the bot's 3 s greeting (a 1 kHz test tone at -10 dBm0) is still playing, then silence.
It records what it decodes (its sndfile module). Then the test sends two DTMF digits through
baresip's ctrl_tcp (``sndcode 1``, ``sndcode #``: RFC 4733 events). Checked:

- baresip heard the greeting: its frequency and level, measured in baresip's recording;
- barge-in: the bot's VAD fired on the speech and ``clear()`` stopped the greeting within one
  frame of the VAD's media tick (the bot's own measurement), and baresip heard the greeting
  stop early (the tone's length in its recording);
- the echo: baresip heard its own speech back (cross-correlation with what it sent, after two
  codec passes) about ``echo_delay`` after it stopped talking;
- DTMF: both digits reached the bot as typed ``DtmfReceived`` events (RFC 4733), the bot
  beeped (1.4 kHz in baresip's recording) and hung up on ``#``.
"""

from __future__ import annotations

import json
import random
import socket
import string
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from examples.voice_bot import BotOptions, Journal, runner
from examples.voice_bot.bot import BEEP_HZ, GREETING_HZ
from rvoip_sansio.media import speech_like, wav_bytes
from tests.conftest import require_program
from tests.interop import test_baresip_media

pytestmark = pytest.mark.interop

TEMPLATES = Path(__file__).parent / "voice_bot"
MODULES = Path("/usr/lib/baresip/modules")
SDP_NAMES = {"PCMU": "PCMU/8000/1", "G722": "G722/16000/1"}
RATES = {"PCMU": 8000, "G722": 16000}  # baresip plays and records at the codec's rate
QUIET, SPEECH = 1.2, 0.8  # seconds of silence before the caller talks over the greeting; speech
GREETING = 3.0  # the bot's default greeting (seconds)
DIGIT_AT = 4.0  # seconds after the answer: "1", then "#" 0.6 s later
FREQ_TOL, LEVEL_TOL = 5.0, 2.0  # Hz, dB
PBX_PASSWORD = "rvoip-secret"  # rvoip serve's default accounts (alice, bob, carol)


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:  # the media test's, for TCP too
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def caller_audio(rate: int) -> tuple[npt.NDArray[np.int16], slice]:
    """What baresip plays: QUIET s of silence, SPEECH s of synthetic speech, silence."""
    speech, _ = speech_like(rate, SPEECH, level_dbov=-20.0, rng=random.Random(7), pause_fraction=0.05)
    pcm = np.zeros(int(12 * rate), dtype=np.int16)
    start = int(QUIET * rate)
    pcm[start:start + len(speech)] = speech
    return pcm, slice(start, start + len(speech))


class Baresip(test_baresip_media.Baresip):
    """One baresip that dials ``target`` (the media test's harness: ``stop``, ``heard``);
    ``send`` runs a command on its ctrl_tcp port."""

    def __init__(self, tmp: Path, codec: str, target: str) -> None:
        self.rate = RATES[codec]
        self.record = tmp / "recorded"
        self.record.mkdir()
        self.played, self.speech = caller_audio(self.rate)
        source = tmp / "caller.wav"
        source.write_bytes(wav_bytes(self.played, self.rate, 1))
        self.port, self.ctrl_port = _free_port(), _free_port(socket.SOCK_STREAM)
        values = dict(sip_port=self.port, ctrl_port=self.ctrl_port, source_wav=source,
                      record_dir=self.record, codecs=SDP_NAMES[codec])
        cfg = tmp / "baresip"
        cfg.mkdir()
        for name in ("config", "accounts"):
            text = (TEMPLATES / f"{name}.in").read_text()
            (cfg / name).write_text(string.Template(text).substitute(values))
        self.log = tmp / "baresip.log"
        args = [require_program("baresip"), "-4", "-n", "127.0.0.1", "-f", str(cfg), "-t", "20",
                "-e", f"/dial {target}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.ctrl: socket.socket | None = None

    def send(self, command: str, params: str) -> None:
        """A command as baresip's ctrl_tcp takes it: a netstring holding JSON."""
        if self.ctrl is None:
            self.ctrl = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=2)
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.ctrl.sendall(b"%d:%s," % (len(body), body))

    def stop(self) -> str:
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        return super().stop()


def tone_power(pcm: npt.NDArray[np.int16], rate: int, freq: float) -> npt.NDArray[np.float64]:
    """Per 20 ms frame: the share of the frame's energy at ``freq`` (Goertzel-like DFT bin)."""
    n = rate // 50
    frames = pcm[:len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    w = np.exp(-2j * np.pi * freq * np.arange(n) / rate)
    at = np.abs(frames @ w) ** 2 * 2 / n
    total = (frames ** 2).sum(axis=1) + 1e-9
    return np.asarray(at / total, dtype=np.float64)


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, end) frame index pairs of the True runs of ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def check_heard(peer: Baresip) -> dict[str, float]:
    pcm, rate = peer.heard()
    assert rate == peer.rate, rate
    ms = 1000 // 50
    greet = tone_power(pcm, rate, GREETING_HZ) > 0.8
    greeting_runs = [r for r in runs(greet) if r[1] - r[0] >= 10]
    assert greeting_runs, "baresip never heard the greeting tone"
    g0, g1 = greeting_runs[0]
    n = rate // 50
    freq, level, _ = test_baresip_media.tone(pcm[g0 * n:g1 * n], rate)  # its first 0.3 s skipped
    assert abs(freq - GREETING_HZ) <= FREQ_TOL, f"greeting heard at {freq:.1f} Hz"
    assert abs(level - (-10.0)) <= LEVEL_TOL, f"greeting heard at {level:.1f} dBm0"
    heard_for = (g1 - g0) * ms / 1000
    # Barge-in: the greeting (3 s) stopped soon after the caller started talking (QUIET s into
    # the call on baresip's side; both ends start their audio at the answer).
    assert QUIET - 0.1 < heard_for < QUIET + 0.25, f"greeting heard for {heard_for:.2f} s"
    assert len(greeting_runs) == 1, greeting_runs
    # The echo: the caller's own speech, back after its end + hangover + echo_delay.
    said = peer.played[peer.speech].astype(np.float64)
    tail = pcm[g1 * n:].astype(np.float64)
    corr = np.correlate(tail, said, mode="valid")
    energy = np.sqrt(np.convolve(tail ** 2, np.ones(len(said)), mode="valid") * (said ** 2).sum()) + 1e-9
    score = corr / energy
    at = int(np.argmax(score))
    echo_start = (g1 * n + at) / rate
    assert score[at] > 0.5, f"no echo of the caller's speech (best correlation {score[at]:.2f})"
    echo_after = echo_start - (peer.speech.stop / rate)
    # Beep for the digit "1" after the echo.
    beeps = [r for r in runs(tone_power(pcm, rate, BEEP_HZ) > 0.8) if r[1] - r[0] >= 3]
    assert beeps, "baresip never heard the confirmation beep"
    return dict(greet_hz=round(float(freq), 1), greet_dbm0=round(level, 2), greeting_s=heard_for,
                echo_corr=round(float(score[at]), 3), echo_after_s=round(echo_after, 3),
                beep_s=(beeps[0][1] - beeps[0][0]) * ms / 1000)


def scenario(tmp_path: Path, adapter: str, codec: str, *, pbx: int | None = None) -> str:
    """baresip calls the bot (directly, or through ``rvoip serve`` on port ``pbx``, where the
    bot registers as bob); everything checked; returns the result line."""
    if not MODULES.joinpath("ctrl_tcp.so").exists():
        pytest.skip("baresip modules not found")
    require_program("baresip")
    journal, stop, up = Journal(), threading.Event(), threading.Event()
    address: list[tuple[str, int]] = []

    def ready(a: tuple[str, int]) -> None:
        address.append(a)
        up.set()

    options = BotOptions(listen=("127.0.0.1", 0), codecs=(codec,))
    if pbx is not None:
        options = BotOptions(listen=("127.0.0.1", 0), codecs=(codec,), user="bob",
                             register=f"sip:127.0.0.1:{pbx}", password=PBX_PASSWORD)
    bot = threading.Thread(target=runner(adapter), args=(options, journal), kwargs=dict(stop=stop, ready=ready),
                           name=f"voice-bot-{adapter}")
    bot.start()
    peer, log = None, ""
    try:
        assert up.wait(5), "the bot did not start"  # (registered first, with a registrar)
        host, port = address[0]
        peer = Baresip(tmp_path, codec, f"sip:bot@{host}:{port}" if pbx is None else f"sip:bob@127.0.0.1:{pbx}")
        deadline = time.monotonic() + 8
        while "answered" not in journal.kinds():
            assert time.monotonic() < deadline and peer.proc.poll() is None, peer.log.read_text()
            time.sleep(0.02)
        answered = time.monotonic()
        for digits, at in (("12", DIGIT_AT), ("#", DIGIT_AT + 0.6)):
            time.sleep(max(0.0, answered + at - time.monotonic()))
            peer.send("sndcode", digits)  # one RFC 4733 event per digit
        while "ended" not in journal.kinds():
            assert time.monotonic() < answered + DIGIT_AT + 4, ("\n".join(map(str, journal.entries)),
                                                                  peer.log.read_text())
            time.sleep(0.02)
        time.sleep(0.3)  # baresip closes its recording on the BYE
        peer.stop()
        heard = check_heard(peer)
    finally:
        stop.set()
        bot.join(10)
        if peer is not None:
            log = peer.stop()
    assert not bot.is_alive()
    kinds = journal.kinds()
    assert journal.digits == ["1", "2", "#"], (journal.digits, journal.entries, log)
    assert [e.detail for e in journal.entries if e.kind == "digit"] == ["1 (rfc4733)", "2 (rfc4733)", "# (rfc4733)"]
    assert kinds.count("barge-in") == 1, journal.entries
    (b,) = journal.barge_ins
    assert b.frames_after_vad <= 1, b  # stopped within one frame of the VAD's tick
    assert any(e.kind == "say" and e.detail.startswith("echo") for e in journal.entries), journal.entries
    assert any(e.kind == "hangup" for e in journal.entries)
    return (f"{adapter} {codec}: baresip heard {heard}; barge-in: VAD tick -> clear "
            f"{1000 * (b.clear_time - b.vad_tick):.1f} ms, {b.frames_after_vad} frame(s) after, "
            f"{b.frames_cleared} frames cleared; VAD onsets ignored as noise: {kinds.count('noise')}")


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "blocking"])
@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_baresip_calls_voice_bot(tmp_path: Path, adapter: str, codec: str) -> None:
    print("\n" + scenario(tmp_path, adapter, codec))


def test_baresip_calls_registered_bot_through_rvoip_serve(tmp_path: Path) -> None:
    """The bot registers (``--register``, digest) at ``rvoip serve`` as bob; baresip calls
    bob at the server, whose B2BUA bridges the call to the bot (SDP relayed: media direct)."""
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "rvoip"), "serve", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        while not (line := server.stderr.readline()).startswith("rvoip serve:"):  # the accounts first
            assert line, "rvoip serve did not start"
        print("\nvia rvoip serve: " + scenario(tmp_path, "trio", "PCMU", pbx=port))
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "REGISTER sip:bob@127.0.0.1 from" in err and ": registered" in err, err
    assert f"sip:bob@127.0.0.1:{port}" in err and "answered (caller leg)" in err, err
