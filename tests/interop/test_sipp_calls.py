"""SIPp 3.6.1 through ``rvoip serve`` (issue 8 §3): SIPp registers as alice with MD5 digest,
then calls bob through the B2BUA, over UDP and over TCP, with RTP; and once over TCP with
``rvoip serve --auth-calls``, where SIPp's INVITE is challenged too (401, ACK, INVITE with
credentials).

Bob is our answering side in this process: a ``UserAgent`` on a UDP socket, registered at the
same ``rvoip serve`` (digest), and a ``CallMedia`` on the call's RTP socket that sends a
1000 Hz tone at -10 dBm0 in PCMU to the address SIPp offered. SIPp runs with ``-rtp_echo``, so
every packet comes back to Bob's socket. Our own packets carry our own SSRC, which the sending
session would rightly take for a collision then a loop (RFC 3550 §8.2, see
tests/rtp/test_sipp_echo.py), so the socket hands what arrives to a second, receive-only
``CallMedia`` (the recorder): it decodes the echo through its jitter buffer and G.711 decoder,
and the test measures the recording's frequency and level, and its RTP statistics.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.adapters.asyncio import UdpEndpoint, open_udp_endpoint
from rvoip_sansio.adapters.cli._common import SETTLE, measure
from rvoip_sansio.callmedia import AudioFrame, CallMedia, CallMediaConfig, MediaReport
from rvoip_sansio.dialog import (CallEnded, EndReason, IncomingCall, RegistrationChanged, RegistrationState,
                                 UAConfig, UserAgent)
from rvoip_sansio.media import ToneSource
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sip.auth import Credentials
from tests.conftest import require_program
from tests.server._serve import Server

from ._sipp import LOOPBACK, run_sipp
from .test_sipp_ua import distinct_udp_ports

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).resolve().parent / "sipp_calls"
ACCOUNTS = {"realm": "sipp.test", "users": {"alice": "alice-pw", "bob": "bob-pw"}}
HOLD_MS = 3000      # SIPp's pause between ACK and BYE
TONE_HZ = 1000.0
LEVEL = -10.0       # dBm0
RATE = 8000         # the application rate of both CallMedia (PCMU's own)


class EchoTap:
    """The datagram contract for Bob's RTP socket: the sender's output goes out; everything
    that arrives (SIPp's echo of it) goes to the recorder only, whose own output (RTCP
    receiver reports) is dropped — SIPp would only echo it back."""

    def __init__(self, sender: CallMedia, recorder: CallMedia) -> None:
        self.sender, self.recorder = sender, recorder
        self.frames: list[AudioFrame] = []

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.recorder.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        self.recorder.datagrams_to_send(now)
        while (frame := self.recorder.read_frame()) is not None:
            self.frames.append(frame)
        return self.sender.datagrams_to_send(now)

    def next_event(self) -> Event | None:
        return self.sender.next_event() or self.recorder.next_event()

    def next_deadline(self) -> float | None:
        times = [t for t in (self.sender.next_deadline(), self.recorder.next_deadline()) if t is not None]
        return min(times) if times else None

    def handle_timeout(self, now: float) -> None:
        for media in (self.sender, self.recorder):
            deadline = media.next_deadline()
            if deadline is not None and deadline <= now:
                media.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.sender.transport_error(dest, now)


class Bob:
    """Our answering side: UA + RTP socket; answers, sends the tone, records the echo."""

    def __init__(self, sip_port: int, rtp_port: int) -> None:
        self.local: Address = (LOOPBACK, sip_port)
        self.rtp_port = rtp_port
        caps = LocalCapabilities(address=LOOPBACK, media=(MediaCapabilities(codecs=(PCMU,), port=rtp_port),))
        self.ua = UserAgent(config=UAConfig(local=self.local, user="bob", media=caps,
                                            credentials=(Credentials(username="bob", password="bob-pw"),)),
                            rng=random.Random(7))
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.sip: UdpEndpoint | None = None
        self.rtp: UdpEndpoint | None = None
        self.tap: EchoTap | None = None
        self.reports: tuple[MediaReport, MediaReport] | None = None
        self.media_started = asyncio.Event()

    async def start(self) -> None:
        self.sip = await open_udp_endpoint(self.ua, self.local, on_event=self.on_event)

    def on_event(self, ev: Event, now: float) -> None:
        self.events.append(ev)
        if isinstance(ev, IncomingCall):
            ev.call.answer(now)
            audio = ev.call.media.audio if ev.call.media is not None else None
            assert audio is not None, "no audio negotiated with SIPp's offer"
            asyncio.get_running_loop().create_task(self._media(audio))
        self.changed.set()

    async def _media(self, audio: object) -> None:
        cfg = CallMediaConfig.from_negotiated(audio, rate=RATE, receive_queue_frames=500)  # type: ignore[arg-type]
        holder: list[EchoTap] = []

        def build(now: float) -> None:
            sender = CallMedia(config=cfg, rng=random.Random(1), now=now)
            recorder = CallMedia(config=cfg, rng=random.Random(2), now=now)
            recorder.set_direction(send=False, receive=True)
            sender.write(ToneSource((TONE_HZ,), RATE, LEVEL).read(RATE * HOLD_MS // 1000))
            holder.append(EchoTap(sender, recorder))

        # The tap exists before the socket does, so no echo can arrive ahead of it.
        loop = asyncio.get_running_loop()
        build(loop.time())
        self.tap = holder[0]
        self.rtp = await open_udp_endpoint(self.tap, (LOOPBACK, self.rtp_port))
        self.media_started.set()

    async def until(self, done: Callable[[], object], timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]

    async def close(self) -> None:
        for endpoint in (self.rtp, self.sip):
            if endpoint is not None:
                await endpoint.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("transport", "auth_calls"), [("udp", False), ("tcp", False), ("tcp", True)],
                         ids=["udp", "tcp", "tcp-auth-calls"])
def test_sipp_registers_and_calls_through_serve_with_rtp_echo(tmp_path: Path, transport: str,
                                                               auth_calls: bool) -> None:
    sipp = require_program("sipp")
    server = Server(tmp_path, ACCOUNTS, *(["--auth-calls"] if auth_calls else []))
    scenario_file = SCENARIOS / ("register_auth_call_uac.xml" if auth_calls else "register_call_uac.xml")
    sip_port, rtp_port, sipp_port, sipp_media = distinct_udp_ports(4)

    async def scenario() -> tuple[Bob, object]:
        bob = Bob(sip_port, rtp_port)
        await bob.start()
        try:
            assert bob.sip is not None
            bob.sip.call(lambda now: bob.ua.register(f"sip:{LOOPBACK}:{server.udp}", now, expires=300))
            await bob.until(lambda: bob.of(RegistrationChanged))
            assert [e.state for e in bob.of(RegistrationChanged)] == [RegistrationState.REGISTERED]
            result = await run_sipp(
                sipp, (LOOPBACK, server.udp), scenario=str(scenario_file), calls=1, rate=1, timeout=20,
                extra=("-t", "u1" if transport == "udp" else "t1", "-key", "caller", "alice",
                       "-au", "alice", "-ap", "alice-pw", "-s", "bob", "-d", str(HOLD_MS),
                       "-rtp_echo", "-mi", LOOPBACK, "-mp", str(sipp_media)))
            await bob.until(lambda: bob.of(CallEnded))
            await asyncio.sleep(0.1)  # the last echoes
            assert bob.rtp is not None and bob.tap is not None
            tap = bob.tap
            bob.reports = bob.rtp.call(lambda now: (tap.sender.report(now), tap.recorder.report(now)))
            return bob, result
        finally:
            await bob.close()

    try:
        bob, result = asyncio.run(asyncio.wait_for(scenario(), 45))
    finally:
        log = server.stop()
    assert result.successful == 1 and result.failed == 0, (result.stdout, result.stderr, log)  # type: ignore[attr-defined]
    # Signalling: SIPp's digest REGISTER, the bridged call, the BYE relayed to Bob.
    assert "REGISTER sip:alice@127.0.0.1 from 127.0.0.1:" in log and ": challenged (401)" in log
    assert log.count("REGISTER sip:alice@127.0.0.1") == 2 and "registered" in log
    assert f"({transport.upper()}); leg B" in log and "-> sip:bob@127.0.0.1" in log
    # With --auth-calls the first INVITE got a 401 and never reached the B2BUA's bridging.
    assert log.count("; leg B ") == 1, log
    assert [e.reason for e in bob.of(CallEnded)] == [EndReason.REMOTE_HANGUP]
    # Media: what came back through SIPp's echo, decoded by our recorder.
    tap = bob.tap
    assert tap is not None
    freq, level, samples = measure(tap.frames, RATE)
    assert samples >= RATE * 2, samples                  # >= 2 s of real tone after SETTLE
    assert abs(freq - TONE_HZ) < 5.0, freq
    assert abs(level - LEVEL) < 1.0, level              # G.711 round trip: within a dB
    assert bob.reports is not None
    (sent, sent_health), (heard, _) = ((r.quality, r.health) for r in bob.reports)
    # Every packet we sent came back (SIPp echoes RTP as is); none lost, reordered or broken.
    assert sent_health.frames_sent >= 0.9 * HOLD_MS / 20, sent_health
    # (frames_sent counts the tone's frames; a silence packet or two may follow before the BYE.)
    assert heard.packets_received >= sent_health.frames_sent - 3, (heard, sent_health)
    assert heard.packets_received == heard.packets_expected, heard  # no gap in the sequence
    assert heard.packets_lost == 0 and heard.duplicates == 0 and heard.malformed == 0, heard
    assert heard.jitter_ms < 10.0, heard  # loopback: scheduling noise only
    assert sent.codec == heard.codec == "PCMU"
