"""``call.audio`` of the blocking adapter on two real media sockets (no signalling): a
:class:`CallMedia` per side on the blocking ``Loop``, as the ``Phone`` hosts them. A 440 Hz
tone goes through ``write``/``stream`` and comes out of ``read`` with its frequency and level;
``write`` waits for room, ``write_nowait`` returns what fitted, ``clear`` and ``drained`` act
on the queue, pause stops the packets; sources and sinks (WAV, buffer, callback, tone,
silence); the sound card fails with a clear error when ``sounddevice`` is absent."""

from __future__ import annotations

import math
import random
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from rvoip_sansio import Address, Event, Transmit, pump
from rvoip_sansio.adapters.blocking._audio import CallAudio
from rvoip_sansio.adapters.blocking._loop import Loop
from rvoip_sansio.adapters.blocking._socket import bind_udp_socket, read_ready, send_datagram
from rvoip_sansio.adapters.blocking._sources import (AudioDeviceError, BufferSink, BufferSource, CallbackSink,
                                                     CallbackSource, SilenceSource, SoundCardSink, ToneSource,
                                                     WavSink, WavSource, stream)
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, Drained
from rvoip_sansio.media import level_dbm0, tone, wav_bytes

LOOP = "127.0.0.1"
RATE = 16000


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((k + shift) * rate / len(x))


class Side:
    """One CallMedia on one UDP socket, driven by a blocking Loop (what the Phone does per call)."""

    def __init__(self, background: bool, **cfg: object) -> None:
        self.sock = bind_udp_socket((LOOP, 0))
        self.local: Address = self.sock.getsockname()[:2]
        self.cfg = cfg
        self.media_obj: CallMedia | None = None
        self.drained_marks: set[int] = set()
        self.ended = False
        self.events: list[Event] = []
        self.loop = Loop(self._drain, self._timeout, name="test-media")
        self.loop.watch(self.sock, 1, self._read)
        self.audio = CallAudio(self)
        self.background = background

    def connect(self, remote: Address) -> None:
        config = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=RATE, frame_ms=20,
                                 remote_rtp=remote, receive_queue_frames=200, **self.cfg)  # type: ignore[arg-type]
        self.loop.call(lambda now: setattr(self, "media_obj", CallMedia(config=config, rng=random.Random(id(self)), now=now)))
        if self.background:
            self.loop.start()

    def media(self) -> CallMedia | None:
        return self.media_obj

    def _drain(self, now: float) -> float | None:
        if self.media_obj is None:
            return None
        return pump(self.media_obj, now, self._send, self._deliver)

    def _send(self, t: Transmit) -> None:
        assert self.media_obj is not None
        send_datagram(self.sock, self.media_obj, t, self.loop.now)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, Drained):
            self.drained_marks.add(event.mark)
        self.events.append(event)

    def _timeout(self, now: float) -> None:
        if self.media_obj is not None:
            self.media_obj.handle_timeout(now)

    def _read(self, mask: int) -> None:
        if self.media_obj is not None:
            read_ready(self.sock, self.media_obj, time.monotonic, self.loop.drain, lambda: True)

    def close(self) -> None:
        self.ended = True
        self.loop.close()
        self.sock.close()


@pytest.fixture(params=["thread", "caller"])
def pair(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    a, b = Side(request.param == "thread"), Side(True)
    a.connect(b.local)
    b.connect(a.local)
    yield a, b
    a.close()
    b.close()


def heard(side: Side, seconds: float) -> np.ndarray:
    sink = BufferSink()
    stream(side.audio, sink=sink, duration=seconds)
    return sink.samples(speech_only=True)


def test_tone_through_write_and_read(pair: tuple[Side, Side]) -> None:
    a, b = pair
    pcm = tone(440.0, RATE, 1.2, level_dbm0=-10.0)
    assert b.audio.write(pcm, timeout=5) == len(pcm)  # waits for room as the queue empties
    got = heard(a, 1.4)
    assert len(got) >= RATE  # about a second of real (decoded) audio
    settled = got[RATE // 5:]
    assert abs(peak_hz(settled, RATE) - 440.0) < 2.0
    assert abs(level_dbm0(settled) - (-10.0)) < 1.0  # G.711 keeps the level within 1 dB


def test_write_nowait_clear_drained_pause(pair: tuple[Side, Side]) -> None:
    a, b = pair
    pcm = tone(1000.0, RATE, 12.0, level_dbm0=-10.0)  # more than the 10 s queue
    taken = b.audio.write_nowait(pcm)
    assert 9 * RATE <= taken <= 10 * RATE  # what fits the 10 s queue (frames leave as it fills)
    assert b.audio.write(pcm[taken:], timeout=0.1) < len(pcm) - taken  # timed out: partial
    dropped = b.audio.clear()
    assert dropped > 400  # ~10 s of 20 ms frames dropped at once
    assert b.audio.write(pcm[:RATE // 5]) == RATE // 5
    t0 = time.monotonic()
    assert b.audio.drained(timeout=2)  # 200 ms of audio sent
    assert 0.1 < time.monotonic() - t0 < 1.5
    health = b.audio.health()
    assert health is not None and health.frames_cleared == dropped and health.send_queue_frames == 0
    b.audio.pause()
    assert b.audio.health().paused  # type: ignore[union-attr]
    b.audio.resume()
    b.audio.mute(True)
    assert b.audio.health().muted  # type: ignore[union-attr]


def test_sources_and_sinks(pair: tuple[Side, Side], tmp_path: Path) -> None:
    a, b = pair
    wav = tmp_path / "in.wav"
    wav.write_bytes(wav_bytes(tone(440.0, 8000, 0.8, level_dbm0=-12.0), 8000))  # 8 kHz file
    out = tmp_path / "out.wav"
    got: list[int] = []
    stream(b.audio, source=WavSource(wav))  # plays it all (resampled 8 -> 16 kHz), waits drained
    stream(a.audio, sink=WavSink(out), duration=0.6)
    from rvoip_sansio.media import read_wav_bytes
    rec, rate, _ = read_wav_bytes(out.read_bytes())
    assert rate == RATE and len(rec) >= RATE // 2
    voiced = rec[np.abs(rec) > 0]
    assert len(voiced) > RATE // 4 and abs(peak_hz(voiced, RATE) - 440.0) < 5.0
    calls = []
    src = CallbackSource(lambda n: (calls.append(n), np.full(n, 1000, np.int16))[1] if len(calls) < 5 else None)
    stream(b.audio, source=src)
    assert len(calls) == 5  # the sixth read said it had ended (None): stream returned
    stream(b.audio, source=ToneSource(440.0, level_dbm0=-20.0, duration=0.3),
           sink=CallbackSink(lambda f: got.append(len(f.samples))), duration=0.3)
    assert got and all(n == RATE // 50 for n in got)
    stream(b.audio, source=SilenceSource(duration=0.1))
    stream(b.audio, source=BufferSource(np.zeros(160, np.int16), RATE))


def test_sound_card_error_is_clear() -> None:
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(AudioDeviceError, match="sounddevice"):
            SoundCardSink()
    else:
        pytest.skip("sounddevice is installed")


def test_read_returns_none_after_end() -> None:
    a = Side(False)
    a.connect((LOOP, 9))
    a.ended = True
    assert a.audio.read(timeout=1) is None and a.audio.write_nowait(np.ones(10, np.int16)) == 0
    a.close()


_ = (math, socket)
