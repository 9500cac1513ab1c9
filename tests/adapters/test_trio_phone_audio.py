"""``call.audio`` of the trio adapter on two real media sockets (no signalling): a
:class:`CallMedia` per side on the trio ``MediaSockets`` and the one-timer ``CoreDriver``, as the
``Phone`` hosts a call's media. A 440 Hz tone goes through ``write`` and comes out of
``frames()`` with its frequency and level; ``write`` waits for room, ``write_nowait`` returns
what fitted, ``clear`` and ``drained`` act on the queue, pause stops the packets; sources and
sinks (WAV, buffer, callback, tone, silence); the RTP port range; the sound card fails with a
clear error when ``sounddevice`` is absent. Runs under ``MockClock`` (autojump): seconds of
media take no real time, over real loopback sockets."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import trio
import trio.testing

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.adapters.trio._audio import CallAudio
from rvoip_sansio.adapters.trio._drive import CoreDriver
from rvoip_sansio.adapters.trio._media import MediaSockets, NoFreePort
from rvoip_sansio.adapters.trio._sources import (AudioDeviceError, BufferSink, BufferSource, CallbackSink,
                                                 CallbackSource, SilenceSource, SoundCardSink, ToneSource,
                                                 WavSink, WavSource, play, record, stream)
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, Drained
from rvoip_sansio.media import level_dbm0, read_wav_bytes, tone, wav_bytes

LOOP = "127.0.0.1"
RATE = 16000
T = TypeVar("T")


def peak_hz(pcm: np.ndarray, rate: int = RATE) -> float:
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((k + shift) * rate / len(x))


class Side:
    """One CallMedia on one trio media socket with one timer (what the Phone does per call)."""

    def __init__(self, nursery: trio.Nursery, seed: int, ports: tuple[int, int] | None = None) -> None:
        self.media_obj: CallMedia | None = None
        self.ended = False
        self.drained_marks: set[int] = set()
        self.events: list[Event] = []
        self.datagrams_sent = 0
        self.seed = seed
        self._lot = trio.lowlevel.ParkingLot()
        self.sockets = MediaSockets(nursery, LOOP, receive=self._receive, drain=self._drain, ports=ports)
        self.local = self.sockets.bind()
        self.driver: CoreDriver | None = None
        self._nursery = nursery

    def connect(self, remote: Address) -> None:
        config = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=RATE, frame_ms=20,
                                 remote_rtp=remote, receive_queue_frames=200)
        self.media_obj = CallMedia(config=config, rng=random.Random(self.seed), now=trio.current_time())
        self.driver = CoreDriver(self.media_obj, self._send, self._deliver, 1000, after=self._after)
        self._nursery.start_soon(self.driver.run_timer)
        self.driver.drain(trio.current_time())

    # AudioOwner
    def media(self) -> CallMedia | None:
        return self.media_obj

    def act(self, action: Callable[[float], T]) -> T:
        assert self.driver is not None
        return self.driver.call(action)

    async def wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._lot.park()

    # host plumbing
    def _receive(self, local: Address, data: bytes, source: Address, now: float) -> None:
        if self.media_obj is not None:
            self.media_obj.receive(data, source, now)

    def _drain(self, now: float) -> None:
        if self.driver is not None:
            self.driver.drain(now)

    def _send(self, t: Transmit) -> None:
        assert self.driver is not None
        self.datagrams_sent += 1
        self.sockets.send(self.local, t.data, t.dest, self.driver.now)

    def _deliver(self, event: Event, now: float) -> None:
        if isinstance(event, Drained):
            self.drained_marks.add(event.mark)
        self.events.append(event)

    def _after(self, now: float) -> None:
        self._lot.unpark_all()

    def end(self) -> None:
        self.ended = True
        self._lot.unpark_all()


def run_pair(test: Callable[[Side, Side, CallAudio, CallAudio], Awaitable[None]]) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            a, b = Side(nursery, 1), Side(nursery, 2)
            a.connect(b.local)
            b.connect(a.local)
            with trio.fail_after(60):
                await test(a, b, CallAudio(a, rate=RATE, frame_ms=20), CallAudio(b, rate=RATE, frame_ms=20))
            a.sockets.close()
            b.sockets.close()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def heard(audio: CallAudio, seconds: float) -> np.ndarray:
    sink = BufferSink()
    await stream(audio, sink=sink, duration=seconds)
    return sink.samples(speech_only=True)


def test_tone_through_write_and_frames() -> None:
    async def scenario(a: Side, b: Side, aa: CallAudio, ba: CallAudio) -> None:
        pcm = tone(440.0, RATE, 1.2, level_dbm0=-10.0)
        t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            got: list[np.ndarray] = []

            async def listen() -> None:
                async for frame in aa.frames(rate=RATE, frame_ms=20):
                    if frame.flags.is_speech:
                        got.append(frame.samples)
                    if trio.current_time() - t0 > 1.5:
                        return

            nursery.start_soon(listen)
            assert await ba.write(pcm) == len(pcm)
        pcm_in = np.concatenate(got)
        assert len(pcm_in) >= RATE  # about a second of real (decoded) audio
        start = int(np.argmax(np.abs(pcm_in) > 0))  # the idle sender's silence is real audio too
        settled = pcm_in[start + RATE // 5:start + RATE]
        assert abs(peak_hz(settled) - 440.0) < 2.0
        assert abs(level_dbm0(settled) - (-10.0)) < 1.0  # G.711 keeps the level within 1 dB
        with pytest.raises(ValueError, match="whole number"):
            aa.frames(rate=44100, frame_ms=1)  # 44.1 samples a frame

    run_pair(scenario)


def test_frames_at_the_readers_rate_and_length() -> None:
    """``frames(rate=8000, frame_ms=10)`` on a 16 kHz / 20 ms phone: the core's AudioReader
    resamples and re-cuts for this reader; 80-sample frames with contiguous indexes, and the
    tone keeps its frequency and level."""
    async def scenario(a: Side, b: Side, aa: CallAudio, ba: CallAudio) -> None:
        pcm = tone(440.0, RATE, 1.2, level_dbm0=-10.0)
        got: list[np.ndarray] = []
        indexes: list[int] = []
        t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            async def listen() -> None:
                async for frame in aa.frames(rate=8000, frame_ms=10):
                    assert frame.rate == 8000 and len(frame.samples) == 80
                    indexes.append(frame.index)
                    if frame.flags.is_speech:
                        got.append(frame.samples)
                    if trio.current_time() - t0 > 1.5:
                        return

            nursery.start_soon(listen)
            assert await ba.write(pcm) == len(pcm)
        assert all(j - i == 80 for i, j in zip(indexes, indexes[1:]))
        pcm_in = np.concatenate(got)
        start = int(np.argmax(np.abs(pcm_in) > 2000))
        settled = pcm_in[start + 8000 // 5:start + 8000]
        assert len(settled) == 8000 * 4 // 5
        assert abs(peak_hz(settled, 8000) - 440.0) < 2.0
        assert abs(level_dbm0(settled) - (-10.0)) < 1.0

    run_pair(scenario)


def test_write_nowait_waits_clear_drained_pause() -> None:
    async def scenario(a: Side, b: Side, aa: CallAudio, ba: CallAudio) -> None:
        pcm = tone(1000.0, RATE, 12.0, level_dbm0=-10.0)  # more than the 10 s queue
        taken = ba.write_nowait(pcm)
        assert 0 < taken < len(pcm) and ba.room() <= RATE // 50  # full (a frame may have left)
        t0 = trio.current_time()
        with trio.move_on_after(0.5):
            await ba.write(pcm[taken:])  # waits for room: 0.5 s of it is sent meanwhile
        assert 0.5 <= trio.current_time() - t0 < 0.6
        health = ba.health()
        assert health is not None and health.send_queue_frames >= 490  # refilled as it drained
        dropped = ba.clear()
        assert dropped >= 490  # ~10 s of 20 ms frames dropped at once
        assert await ba.write(pcm[:RATE // 5]) == RATE // 5
        t0 = trio.current_time()
        assert await ba.drained()  # 200 ms of audio sent
        assert 0.18 <= trio.current_time() - t0 <= 0.24
        health = ba.health()
        assert health is not None and health.frames_cleared == dropped and health.send_queue_frames == 0
        ba.pause()
        sent = b.datagrams_sent
        await trio.sleep(0.5)
        assert b.datagrams_sent - sent <= 1  # paused: no RTP (an RTCP report at most)
        assert (h := ba.health()) is not None and h.paused
        ba.resume()
        await trio.sleep(0.1)
        assert b.datagrams_sent - sent >= 4
        ba.mute(True)
        assert (h := ba.health()) is not None and h.muted
        b.end()
        assert await ba.read() is None and ba.write_nowait(np.ones(10, np.int16)) == 0
        assert await ba.write(np.ones(10, np.int16)) == 0 and not await ba.drained()

    run_pair(scenario)


def test_sources_and_sinks(tmp_path: Path) -> None:
    async def scenario(a: Side, b: Side, aa: CallAudio, ba: CallAudio) -> None:
        wav = tmp_path / "in.wav"
        wav.write_bytes(wav_bytes(tone(440.0, 8000, 0.8, level_dbm0=-12.0), 8000))  # 8 kHz file
        out = tmp_path / "out.wav"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(stream, aa, sink=WavSink(out), duration=1.2))  # record 1.2 s
            # plays it all (resampled 8 -> 16 kHz), waits until drained
            assert await play(ba, WavSource(wav)) == 6400
        rec, rate, _ = read_wav_bytes(out.read_bytes())
        assert rate == RATE and len(rec) == 60 * 320  # every 20 ms frame of 1.2 s
        nonzero = np.flatnonzero(rec)
        voiced = rec[nonzero[0]:nonzero[-1]]
        assert len(voiced) > RATE * 3 // 4 and abs(peak_hz(voiced) - 440.0) < 2.0
        assert abs(level_dbm0(voiced[RATE // 10:-RATE // 10]) - (-12.0)) < 1.0
        calls: list[int] = []

        def cb(n: int) -> np.ndarray | None:
            calls.append(n)
            return np.full(n, 1000, np.int16) if len(calls) < 5 else None

        await stream(ba, source=CallbackSource(cb))
        assert len(calls) == 5  # the fifth read said it had ended (None): stream returned
        got: list[int] = []
        while ba.read_nowait() is not None:  # what queued up meanwhile
            pass
        await stream(ba, source=ToneSource(440.0, level_dbm0=-20.0, duration=0.3),
                     sink=CallbackSink(lambda f: got.append(len(f.samples))), duration=0.3)
        assert 14 <= len(got) <= 16 and all(n == RATE // 50 for n in got)
        await stream(ba, source=SilenceSource(duration=0.1))
        await stream(ba, source=BufferSource(np.zeros(160, np.int16), RATE))
        sink = BufferSink()
        while aa.read_nowait() is not None:
            pass
        with trio.move_on_after(0.2):
            await record(aa, sink)
        assert 9 <= len(sink.frames) <= 11

    run_pair(scenario)


def free_run(count: int) -> int:
    """The first of ``count`` consecutive UDP ports free right now on 127.0.0.1."""
    import socket
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((LOOP, 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
        try:
            for i, s in enumerate(socks):
                s.bind((LOOP, base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def test_port_range_and_release() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            base = free_run(3)
            ports = (base, base + 2)  # three ports
            side = Side(nursery, 3, ports=ports)
            first = side.local
            assert ports[0] <= first[1] <= ports[1]
            more = [side.sockets.bind() for _ in range(2)]
            assert sorted(p for _, p in [first, *more]) == [base, base + 1, base + 2]
            with pytest.raises(NoFreePort):
                side.sockets.bind()
            side.sockets.release(more[0])
            assert side.sockets.bind() == more[0]  # released: binds again at once
            side.sockets.close()
            assert len(side.sockets) == 0
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_sound_card_error_is_clear() -> None:
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(AudioDeviceError, match="sounddevice"):
            SoundCardSink()
    else:
        pytest.skip("sounddevice is installed")
