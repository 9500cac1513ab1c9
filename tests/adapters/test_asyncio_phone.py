"""The scenario suite of PHONE.md for the asyncio ``Phone`` over real loopback sockets, once per
SIP transport (UDP, TCP, TLS with a run-time test CA and verification on, WS): Alice, Bob and
Carol register with digest (SHA-256) at a registrar (``rvoip_sansio.server`` on an asyncio
``SipTransports``); Alice calls Bob; a 440 Hz tone goes one way and 1000 Hz the other, each
measured on arrival (FFT peak and level); hold and resume (nothing heard while held, the tone
again after); DTMF both ways (RFC 4733 one way, SIP INFO the other) arrives as typed events;
Bob blind-transfers Alice to Carol (audio checked on the new call); hang up; leaving the
``async with`` blocks removes the registrations and closes every socket (the ports bind again).
Plus the audio API (backpressure counts, barge-in, drained, mute, pause), sources and sinks,
the RTP port range, drain, and cancellation in the middle of a call."""

from __future__ import annotations

import asyncio
import math
import random
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from rvoip_sansio.adapters.asyncio import (AudioDeviceError, BufferSink, CallbackSink, CallbackSource, Phone,
                                          PhoneCall, PhoneError, SipTransports, SoundCardSink, WavSink,
                                          WavSource, open_sip_transports, play, record, stream)
from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.dialog import EndReason, UAConfig, UserAgent
from rvoip_sansio.media import level_dbm0, wav_bytes
from rvoip_sansio.media import ToneSource as PureTone
from rvoip_sansio.phone import (CallHeld, CallResumed, DtmfMethod, DtmfReceived, TransferProgress,
                                TransferRequested)
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip.auth import Algorithm, Credentials, DigestServer, DigestServerConfig, InMemoryCredentialStore
from rvoip_sansio.sdp import G722
from rvoip_sansio.transaction import EndpointConfig
from tests.adapters.test_asyncio_transports import Pki

LO = "127.0.0.1"
RATE = 16000
LEVEL = -12.0  # dBm0 of the test tones
REALM = "example.com"
USERS = {"alice": "a-pass", "bob": "b-pass", "carol": "c-pass"}
SECURE = ("TLS", "WSS")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("asyncio-phone-tls")))


# ---- helpers --------------------------------------------------------------------------------

def free_port(transport: str) -> int:
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LO, 0))
        return int(s.getsockname()[1])


def uri(user: str, transport: str, port: int) -> str:
    scheme = "sips" if transport in SECURE else "sip"
    param = {"TCP": ";transport=tcp", "WS": ";transport=ws", "WSS": ";transport=ws"}.get(transport, "")
    at = f"{user}@" if user else ""
    return f"{scheme}:{at}{LO}:{port}{param}"


def peak_hz(pcm: npt.NDArray[np.int16], rate: int = RATE) -> float:
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)  # parabolic interpolation of the peak
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((k + shift) * rate / len(x))


def speech(frames: list[AudioFrame]) -> npt.NDArray[np.int16]:
    parts = [f.samples for f in frames if f.flags.is_speech]
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


def check_tone(frames: list[AudioFrame], freq: float, *, least: float = 0.5) -> None:
    pcm = speech(frames)
    assert len(pcm) >= least * RATE, f"only {len(pcm)} samples of real audio"
    settled = pcm[RATE // 5:]
    assert abs(peak_hz(settled) - freq) < 3.0, peak_hz(settled)
    assert abs(level_dbm0(settled) - LEVEL) < 1.5, level_dbm0(settled)


def tone(freq: float, seconds: float) -> npt.NDArray[np.int16]:
    return PureTone(freqs=(freq,), rate=RATE, level_dbm0=LEVEL).read(int(seconds * RATE))


async def collect(call: PhoneCall, seconds: float) -> list[AudioFrame]:
    """Every frame ``call`` receives during the next ``seconds``."""
    got: list[AudioFrame] = []

    async def reader() -> None:
        async for frame in call.audio.frames():
            got.append(frame)

    task = asyncio.ensure_future(reader())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return got + call.audio.read_all()


async def exchange(x: PhoneCall, y: PhoneCall, fx: float, fy: float, seconds: float
                   ) -> tuple[list[AudioFrame], list[AudioFrame]]:
    """``x`` plays ``fx`` Hz and ``y`` plays ``fy`` Hz for ``seconds``; what each heard."""
    x.audio.clear()
    y.audio.clear()
    assert await x.audio.write(tone(fx, seconds)) == int(seconds * RATE)
    assert await y.audio.write(tone(fy, seconds)) == int(seconds * RATE)
    heard_x, heard_y = await asyncio.gather(collect(x, seconds + 0.1), collect(y, seconds + 0.1))
    return heard_x, heard_y


def registrar(transport: str, pki: Pki) -> tuple[UserAgent, Registrar, dict[str, Any]]:
    store = InMemoryCredentialStore()
    for user, password in USERS.items():
        store.add(user, REALM, password)
    auth = DigestServer(config=DigestServerConfig(realm=REALM, algorithms=(Algorithm.SHA_256,)),
                        secret=b"0123456789abcdef0123", store=store, rng=random.Random(5))
    reg = Registrar(auth=auth)
    local = (LO, free_port(transport))
    ua = UserAgent(config=UAConfig(local=local, user="registrar", media=None,
                                   endpoint=EndpointConfig(transport=transport)), rng=random.Random(7))
    ua.serve("REGISTER", reg)
    return ua, reg, {transport: (local, pki.good) if transport in SECURE else local}


def phone(user: str, transport: str, pki: Pki, **kw: Any) -> Any:
    ssl_kw: dict[str, ssl.SSLContext] = {}
    if transport in SECURE:
        ssl_kw = {"server_ssl": pki.good, "client_ssl": pki.client()}
    return Phone.open(user, (LO, 0), transport=transport.lower(), rate=RATE, auto_answer=True, **ssl_kw, **kw)


def port_of(p: Phone) -> int:
    return p.config.local[1]


# ---- the scenario, per transport ------------------------------------------------------------

async def _scenario(transport: str, pki: Pki) -> None:
    ua, reg, spec = registrar(transport, pki)
    server: SipTransports = await open_sip_transports(ua, spec)
    reg_port = server.locals[transport][1]
    loop = asyncio.get_running_loop()
    try:
        async with AsyncExitStack() as stack:
            alice = await stack.enter_async_context(phone("alice", transport, pki))
            bob = await stack.enter_async_context(phone("bob", transport, pki))
            carol = await stack.enter_async_context(phone("carol", transport, pki))
            phones = {"alice": alice, "bob": bob, "carol": carol}
            # Register with digest: a 401 challenge, then 200 (PhoneError otherwise).
            await asyncio.gather(*(p.register(uri("", transport, reg_port),
                                              Credentials(username=u, password=USERS[u]))
                                   for u, p in phones.items()))
            assert reg.binding_count == 3
            (binding,) = reg.lookup(f"sip:bob@{LO}", loop.time())
            assert str(port_of(bob)) in str(binding.contact)

            # Call, audio both ways, measured.
            a = await alice.call(uri("bob", transport, port_of(bob)))
            b = await bob.accept(5)
            assert a.codec == b.codec == "G722" and a.srtp and b.srtp  # SDES by default
            heard_a, heard_b = await exchange(a, b, 440.0, 1000.0, 1.0)
            check_tone(heard_b, 440.0)
            check_tone(heard_a, 1000.0)

            # Hold: Alice sends sendonly, Bob stops sending; resume brings his tone back.
            assert await a.hold()
            assert await b.wait_for(CallHeld, 5) == CallHeld(call_id=b.call_id, by_peer=True)
            await b.audio.write(tone(1000.0, 2.0))
            await asyncio.sleep(0.1)  # what was in flight before the hold
            held = speech(await collect(a, 0.4))
            assert len(held) <= 0.04 * RATE, f"{len(held)} samples heard while on hold"
            assert await a.resume()
            assert await b.wait_for(CallResumed, 5) == CallResumed(call_id=b.call_id, by_peer=True)
            check_tone(await collect(a, 0.7), 1000.0, least=0.4)
            b.audio.clear()

            # DTMF both ways, as typed events whichever way it was sent.
            a.send_dtmf("12#")
            b.send_dtmf("*9", method="info")
            got_b = [await b.wait_for(DtmfReceived, 5) for _ in range(3)]
            got_a = [await a.wait_for(DtmfReceived, 5) for _ in range(2)]
            assert [(e.digit, e.method) for e in got_b if e] == [(d, DtmfMethod.RFC4733) for d in "12#"]
            assert [(e.digit, e.method) for e in got_a if e] == [(d, DtmfMethod.INFO) for d in "*9"]

            # Blind transfer: Bob refers Alice to Carol; Alice's phone follows it.
            b.transfer(uri("carol", transport, port_of(carol)))
            requested = await a.wait_for(TransferRequested, 5)
            assert requested is not None and "carol" in requested.target
            c = await carol.accept(5)
            a2 = a.transferred_to
            assert a2 is not None and a2 is not a
            await a2.wait_answered(5)
            while (progress := await b.wait_for(TransferProgress, 5)) is not None and not progress.final:
                pass
            assert progress is not None and progress.status_code == 200
            await b.hangup()
            assert await a.wait_ended(5) and a.end is not None
            heard_a2, heard_c = await exchange(a2, c, 440.0, 1000.0, 0.8)
            check_tone(heard_c, 440.0, least=0.4)
            check_tone(heard_a2, 1000.0, least=0.4)

            # Hang up.
            assert await a2.hangup()
            assert await c.wait_ended(5) and c.end is not None and c.end.reason is EndReason.REMOTE_HANGUP
            sip_ports = [port_of(p) for p in phones.values()]
        # Clean close: registrations removed, every socket closed (the ports bind again).
        assert reg.binding_count == 0
        for p in phones.values():
            assert p.host.closed and not p.host.rtp_sockets
        for port in sip_ports:
            kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
            with socket.socket(socket.AF_INET, kind) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((LO, port))
    finally:
        await server.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transport", ["UDP", "TCP", "TLS", "WS", "WSS"])
def test_scenario(transport: str, pki: Pki) -> None:
    asyncio.run(asyncio.wait_for(_scenario(transport, pki), 25))


# ---- call.audio -----------------------------------------------------------------------------

@asynccontextmanager
async def pair(**kw: Any) -> AsyncIterator[tuple[PhoneCall, PhoneCall]]:
    """Alice calls Bob over UDP (plain RTP unless told otherwise)."""
    kw.setdefault("srtp", False)
    async with Phone.open("alice", (LO, 0), **kw) as alice, \
            Phone.open("bob", (LO, 0), auto_answer=True, **kw) as bob:
        a = await alice.call(f"sip:bob@{LO}:{port_of(bob)}")
        b = await bob.accept(5)
        yield a, b


@pytest.mark.timeout(30)
def test_audio_api_backpressure_barge_in_drained_mute_pause() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with pair() as (a, b):
            with pytest.raises(ValueError):
                a.audio.frames(rate=44100, frame_ms=1)  # 44.1 samples: not a whole frame
            # write_nowait takes exactly what fits (SendPolicy.REJECT) and says how much.
            room = a.audio.room()
            assert room > 0
            assert a.audio.write_nowait(np.zeros(room + 16000, np.int16)) == room
            health = a.audio.health()
            assert health is not None and health.samples_rejected == 16000
            assert a.audio.write_nowait(np.zeros(320, np.int16)) == 0
            # Barge-in: clear drops the queue; a drained() wait returns at once after it.
            assert a.audio.clear() >= health.send_queue_frames - 2
            assert await asyncio.wait_for(a.audio.drained(), 1)
            # drained() returns once 0.4 s of audio has been sent: about 0.4 s later.
            start = loop.time()
            assert await a.audio.write(tone(440.0, 0.4)) == int(0.4 * RATE)
            assert await a.audio.drained()
            assert 0.3 <= loop.time() - start <= 0.6
            # write() waits for room: 12 s into a 10 s queue returns only once 2 s went out.
            task = asyncio.ensure_future(a.audio.write(np.zeros(12 * RATE, np.int16)))
            await asyncio.sleep(0.3)
            assert not task.done()
            assert a.audio.clear() > 0  # room again: the write completes
            assert await asyncio.wait_for(task, 2) == 12 * RATE
            a.audio.clear()
            # Mute: the queue is consumed but silence goes out.
            a.audio.mute()
            health = a.audio.health()
            assert health is not None and health.muted
            await a.audio.write(tone(440.0, 0.5))
            await asyncio.sleep(0.1)  # in flight before the mute (jitter buffer)
            b.audio.read_all()
            muted = speech(await collect(b, 0.4))
            assert len(muted) == 0 or level_dbm0(muted) < LEVEL - 20  # no tone: silence
            a.audio.mute(False)
            # Pause holds the queue: nothing is sent until resume.
            a.audio.pause()
            sent = a.audio.health()
            await a.audio.write(tone(440.0, 0.3))
            await asyncio.sleep(0.2)
            now = a.audio.health()
            assert sent is not None and now is not None and now.frames_sent == sent.frames_sent
            assert now.send_queue_frames == 15
            a.audio.resume()
            assert await a.audio.drained()
            quality = b.quality()
            assert quality is not None and quality.quality.packets_received > 50
        assert a.audio.ended and a.audio.health() is None and a.audio.write_nowait(tone(440.0, 0.1)) == 0
        assert await a.audio.read() is None and [f async for f in a.audio.frames()] == []

    asyncio.run(main())


@pytest.mark.timeout(30)
def test_frames_at_any_rate_and_length() -> None:
    """A 16 kHz phone; Bob reads Alice's 1000 Hz tone as 8 kHz / 10 ms frames, then as
    48 kHz / 30 ms frames: sizes, contiguous indexes, frame counts exact for the samples
    the reader took from the core (ceil(N·L/M) // F), tone frequency and level."""
    async def take(b: PhoneCall, rate: int, ms: int, seconds: float) -> list[AudioFrame]:
        got: list[AudioFrame] = []

        async def reader() -> None:
            async for frame in b.audio.frames(rate=rate, frame_ms=ms):
                got.append(frame)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return got + b.audio.read_all(rate, ms)

    async def main() -> None:
        async with pair() as (a, b):
            assert await a.audio.write(tone(1000.0, 2.6)) == int(2.6 * RATE)
            await asyncio.sleep(0.2)
            b.audio.read_all()  # before the tone: silence and the jitter buffer's start
            for rate, ms in ((8000, 10), (48000, 30)):
                frames = await take(b, rate, ms, 1.0)
                size = rate * ms // 1000
                assert all(f.rate == rate and len(f.samples) == size for f in frames)
                assert [f.index for f in frames] == \
                    [frames[0].index + i * size for i in range(len(frames))]
                reframer = b.audio.reader(rate, ms).reframer
                assert reframer is not None and reframer.resets == 0
                g = math.gcd(16000, rate)
                made = -(-reframer.samples_in * (rate // g) // (16000 // g))
                assert len(frames) == made // size and len(frames) >= 0.9 / (ms / 1000)
                pcm = speech(frames)[rate // 10:]
                assert len(pcm) >= rate // 2
                assert abs(peak_hz(pcm, rate) - 1000.0) < 3.0, (rate, peak_hz(pcm, rate))
                assert abs(level_dbm0(pcm) - LEVEL) < 1.5, (rate, level_dbm0(pcm))

    asyncio.run(main())


@pytest.mark.timeout(30)
def test_sources_and_sinks(tmp_path: Path) -> None:
    source, recorded = tmp_path / "tone.wav", tmp_path / "heard.wav"
    source.write_bytes(wav_bytes(tone(440.0, 1.0), RATE))

    async def main() -> tuple[list[AudioFrame], BufferSink]:
        async with pair() as (a, b):
            seen: list[AudioFrame] = []
            buffer = BufferSink()
            # A WAV file one way (play waits until it has been sent), a callback source the
            # other (a 1000 Hz tone), recorded by a WAV sink, a buffer and a callback.
            pos = [0]
            pcm = tone(1000.0, 1.0)

            def next_chunk(count: int) -> npt.NDArray[np.int16] | None:
                chunk = pcm[pos[0]:pos[0] + count]
                pos[0] += len(chunk)
                return chunk if len(chunk) else None

            rec_b = asyncio.ensure_future(record(b.audio, WavSink(recorded)))
            rec_a = asyncio.ensure_future(stream(a.audio, sink=CallbackSink(seen.append), duration=1.3))
            await asyncio.gather(play(a.audio, WavSource(source)),
                                 stream(b.audio, source=CallbackSource(next_chunk, rate=RATE), sink=buffer))
            await rec_a
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(rec_b, 2) > 40  # ends with the call; the file is written
        return seen, buffer

    seen, buffer = asyncio.run(main())
    check_tone(seen, 1000.0)
    from rvoip_sansio.media import read_wav_bytes
    pcm, rate, channels = read_wav_bytes(recorded.read_bytes())
    assert rate == RATE and channels == 1
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 1000)
    x = pcm[loud[0] + RATE // 5:loud[-1]]
    assert len(x) > RATE // 2 and abs(peak_hz(x) - 440.0) < 3 and abs(level_dbm0(x) - LEVEL) < 1.5


def test_sound_card_needs_sounddevice() -> None:
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(AudioDeviceError, match=r"rvoip-sansio\[audio\]"):
            SoundCardSink()
    else:
        pytest.skip("sounddevice is installed")


# ---- port range, drain, cancellation ---------------------------------------------------------

@pytest.mark.timeout(30)
def test_rtp_port_range() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LO, 0))
        low = s.getsockname()[1]
    # Two ports the kernel just gave out are very likely free; the third of the range is
    # taken by us, so the range really has two.
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind((LO, low + 2))
            async with Phone.open("alice", (LO, 0), srtp=False, rtp_ports=(low, low + 2)) as alice, \
                    Phone.open("bob", (LO, 0), srtp=False, auto_answer=True) as bob:
                target = f"sip:bob@{LO}:{port_of(bob)}"
                calls = [await alice.call(target), await alice.call(target)]
                assert sorted(c.rtp[1] for c in calls if c.rtp) == [low, low + 1]
                with pytest.raises(OSError, match="no free RTP port"):
                    alice.dial(target)
                assert await calls[0].hangup()
                await asyncio.sleep(0.1)  # the RTCP BYE goes out, then the socket is released
                third = await alice.call(target)
                assert third.rtp is not None and third.rtp[1] == low

    try:
        asyncio.run(main())
    except OSError as exc:  # the ports were taken by someone else meanwhile
        pytest.skip(f"port range not free: {exc}")


@pytest.mark.timeout(30)
def test_drain_refuses_new_calls_and_waits_for_running_ones() -> None:
    async def main() -> None:
        async with Phone.open("alice", (LO, 0), srtp=False) as alice, \
                Phone.open("bob", (LO, 0), srtp=False, auto_answer=True) as bob, \
                Phone.open("carol", (LO, 0), srtp=False) as carol:
            a = await alice.call(f"sip:bob@{LO}:{port_of(bob)}")
            drain = asyncio.ensure_future(bob.drain())
            await asyncio.sleep(0.05)
            with pytest.raises(PhoneError, match=r"rejected \(503\)"):
                await carol.call(f"sip:bob@{LO}:{port_of(bob)}")
            assert not drain.done()
            await a.hangup()
            assert await asyncio.wait_for(drain, 2)

    asyncio.run(main())


@pytest.mark.timeout(30)
def test_cancelled_in_a_call_hangs_up_unregisters_and_closes(pki: Pki) -> None:
    async def main() -> None:
        ua, reg, spec = registrar("UDP", pki)
        server = await open_sip_transports(ua, spec)
        try:
            async with Phone.open("bob", (LO, 0), srtp=False, auto_answer=True) as bob:
                up = asyncio.Event()
                ports: list[int] = []

                async def alice_main() -> None:
                    async with Phone.open("alice", (LO, 0), srtp=False) as alice:
                        ports.append(port_of(alice))
                        await alice.register(uri("", "UDP", server.locals["UDP"][1]),
                                             Credentials(username="alice", password=USERS["alice"]))
                        call = await alice.call(f"sip:bob@{LO}:{port_of(bob)}")
                        ports.append(call.rtp[1] if call.rtp else 0)
                        up.set()
                        await asyncio.sleep(math.inf)

                task = asyncio.ensure_future(alice_main())
                await asyncio.wait_for(up.wait(), 5)
                b = await bob.accept(1)
                assert reg.binding_count == 1
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                # The BYE went out and the registration was removed before the sockets closed.
                assert await b.wait_ended(2) and b.end is not None and b.end.reason is EndReason.REMOTE_HANGUP
                assert reg.binding_count == 0
                for port in ports:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.bind((LO, port))
        finally:
            await server.close()

    asyncio.run(main())


CTRL_C_SCRIPT = """
import asyncio, sys
from rvoip_sansio.adapters.asyncio import Phone

async def main():
    async with Phone.open("alice", ("127.0.0.1", 0), srtp=False) as alice:
        await alice.call(sys.argv[1])
        print("up", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.timeout(30)
def test_ctrl_c_in_a_call_hangs_up_before_exiting() -> None:
    """A program with no signal handling of its own: Ctrl-C makes ``asyncio.run`` cancel the
    main task, the ``async with`` ends the call (the far end sees the BYE), then the
    KeyboardInterrupt leaves as itself."""

    async def main() -> tuple[int, bytes, EndReason | None]:
        async with Phone.open("bob", (LO, 0), srtp=False, auto_answer=True) as bob:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CTRL_C_SCRIPT, f"sip:bob@{LO}:{port_of(bob)}",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            assert proc.stdout is not None
            assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"up\n"
            b = await bob.accept(2)
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 10)
            assert await b.wait_ended(2)
            assert proc.returncode is not None
            return proc.returncode, err, b.end.reason if b.end else None

    rc, err, reason = asyncio.run(main())
    assert reason is EndReason.REMOTE_HANGUP  # the BYE went out before the process ended
    # Python ends an uncaught KeyboardInterrupt by re-raising SIGINT on itself.
    assert rc == -2 and err.rstrip().endswith(b"KeyboardInterrupt"), (rc, err[-500:])
    for trouble in (b"PhoneError", b"OSError", b"never retrieved", b"Exception in callback"):
        assert trouble not in err, err[-800:]  # nothing else went wrong on the way out


@pytest.mark.timeout(30)
def test_dtls_srtp_call() -> None:
    """DTLS-SRTP (RFC 5763/5764): the handshake runs in the core on each call's RTP socket;
    the host only carries the datagrams. Both tones arrive, nothing failed to authenticate."""
    async def main() -> None:
        async with pair(srtp="dtls", srtp_required=True, codecs=(G722,)) as (a, b):
            assert a.srtp and b.srtp and a.keying == b.keying == "dtls"
            heard_a, heard_b = await exchange(a, b, 440.0, 1000.0, 0.8)
            check_tone(heard_b, 440.0, least=0.4)
            check_tone(heard_a, 1000.0, least=0.4)
            for c in (a, b):
                health = c.audio.health()
                assert health is not None and health.srtp_errors == 0

    asyncio.run(main())


@pytest.mark.timeout(30)
def test_manual_answer_reject_headers_and_max_calls() -> None:
    """Issue 10 §2 through the asyncio Phone: custom headers set on the INVITE are read on the
    incoming call, headers set on the 200 / on a rejection reach the caller; a ringing call is
    answered by hand; beyond ``max_calls`` new calls get 503."""
    async def main() -> None:
        async with Phone.open("alice", (LO, 0), srtp=False) as alice, \
                Phone.open("bob", (LO, 0), srtp=False, max_calls=1) as bob:
            target = f"sip:bob@{LO}:{port_of(bob)}"
            first = alice.dial(target, headers=[("X-Case", "reject-me")])
            ringing = await bob.accept(2)
            assert ringing.incoming is not None and ringing.incoming.header("x-case") == "reject-me"
            ringing.reject(486, headers=[("X-Why", "busy-test")])
            with pytest.raises(PhoneError, match=r"rejected \(486\)"):
                await first.wait_answered(2)
            second = alice.dial(target, headers=[("P-Asserted-Identity", "<sip:+15551234@example.com>")])
            ringing = await bob.accept(2)
            assert ringing.incoming is not None
            assert ringing.incoming.header("P-Asserted-Identity") == "<sip:+15551234@example.com>"
            assert not ringing.answered and ringing.rtp is None  # ringing: no socket yet
            await ringing.answer(headers=[("X-Answered-By", "test")])
            answered = await second.wait_answered(2)
            assert ("X-Answered-By", "test") in answered.headers
            with pytest.raises(PhoneError, match=r"rejected \(503\)"):
                await alice.call(target, timeout=2)
            assert await second.hangup()

    asyncio.run(main())
