"""The trio ``Phone`` against a live baresip 1.0 on 127.0.0.1 (issue 8 §3), on trio's real clock.

baresip plays a 440 Hz tone and records what it decodes; our phone plays 1000 Hz through
``call.audio.write_nowait`` and reads ``call.audio`` frames. Both sides' audio is checked by
frequency and level, our receive statistics (no loss, duplicates or late packets, small
jitter, timestamps advancing with the audio) and baresip's RTCP reaching our report, with the
checks and the baresip harness of tests/interop/test_baresip_media.py. baresip calls us
(PCMU, plain RTP); we call baresip (G.722, SDES-SRTP mandatory on its side, both ends
agreeing on the suite). Two allowances, each explained where it is made: up to 2 % late
packets on a loaded machine, and baresip's one cleartext RTCP APP "PING" in an SRTP call.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio

from rvoip_sansio.adapters.trio import PhoneCall, open_phone
from rvoip_sansio import phone as pe
from rvoip_sansio.callmedia import AudioFrame, MediaReport, SrtpDropped
from rvoip_sansio.media import ToneSource
from rvoip_sansio.phone import SrtpMode
from rvoip_sansio.sdp import G722, PCMU
from tests.interop.test_baresip_media import (LEVEL, OUR_TONE, RATE, TALK, Baresip, baresip,
                                              check_baresip_heard, check_received)

pytestmark = pytest.mark.interop


async def ready(peer: Baresip, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while b"baresip is ready" not in peer.log.read_bytes():
            assert peer.proc.poll() is None, peer.log.read_text()
            await trio.sleep(0.05)


def tolerate_late(report: MediaReport) -> MediaReport:
    """The shared check wants no late packet at all, which this process cannot promise when
    the machine is loaded (a reader task scheduled late makes the jitter buffer conceal a
    slot whose packet then arrives): allow up to 2 % late here, and check the rest as is."""
    late = report.health.packets_late
    assert late <= 0.02 * report.quality.packets_received, report.health
    return attrs.evolve(report, health=attrs.evolve(report.health, packets_late=0))


async def tolerate_plain_ping(call: PhoneCall, report: MediaReport) -> MediaReport:
    """baresip 1.0 starts an SRTP call with one RTCP APP packet in the clear (16 bytes:
    ``80cc0003 <ssrc> "PING" "PONG"``, seen on the wire here) before its SRTCP. When it arrives
    after our keys are set it is rightly dropped as a malformed SRTCP packet (RFC 3711 §3.4:
    SRTCP is always authenticated) and counted; when it arrives before our media starts it is
    not. Allow exactly that one drop; any other SRTP failure still fails the check."""
    drops = []
    while (event := await call.next_event()) is not None:
        if isinstance(event, pe.MediaEvent) and isinstance(event.event, SrtpDropped):
            drops.append(event.event.kind)
    if report.health.srtp_errors == 1 and drops == ["MALFORMED"]:
        return attrs.evolve(report, health=attrs.evolve(report.health, srtp_errors=0))
    return report


async def talk(call: PhoneCall, seconds: float) -> tuple[list[AudioFrame], MediaReport]:
    """Play our tone for ``seconds`` (kept ~0.3 s ahead of the media clock) and collect what
    arrives; the report is taken before hanging up."""
    source = ToneSource(freqs=(OUR_TONE,), rate=RATE, level_dbm0=LEVEL)
    start, written, frames = trio.current_time(), 0, []
    while (t := trio.current_time() - start) < seconds:
        want = min(int((t + 0.3) * RATE), int(seconds * RATE)) - written
        if want > 0:
            written += call.audio.write_nowait(source.read(want), RATE)
        frames += call.audio.read_all()
        await trio.sleep(0.05)
    frames += call.audio.read_all()
    report = call.quality()
    assert report is not None
    return frames, report


def test_baresip_calls_trio_phone_pcmu(tmp_path: Path) -> None:
    results: list[dict[str, float]] = []

    async def main() -> None:
        with trio.fail_after(30):
            async with open_phone("alice", ("127.0.0.1", 0), codecs=(PCMU,), srtp=SrtpMode.NONE,
                                  rate=RATE, auto_answer=True) as phone:
                with baresip(tmp_path, PCMU, dial=f"sip:alice@127.0.0.1:{phone.locals['UDP'][1]}") as peer:
                    call = await phone.accept()
                    await call.wait_answered()
                    assert call.codec == "PCMU" and not call.srtp
                    frames, report = await talk(call, TALK)
                    await call.hangup()
                    await trio.sleep(0.3)  # baresip closes its recording on the BYE
                    results.append(check_received(frames, tolerate_late(report), PCMU.clock_rate))
                    results.append(check_baresip_heard(peer, report))

    trio.run(main)
    print(f"\nPCMU baresip->trio: {results[0]}\nPCMU trio->baresip: {results[1]}")


def test_trio_phone_calls_baresip_g722_sdes(tmp_path: Path) -> None:
    results: list[dict[str, float]] = []

    async def main() -> None:
        with trio.fail_after(30):
            async with open_phone("alice", ("127.0.0.1", 0), codecs=(G722,), srtp=SrtpMode.SDES,
                                  srtp_required=True, rate=RATE) as phone:
                with baresip(tmp_path, G722, extra=";mediaenc=srtp-mand") as peer:
                    await ready(peer)
                    call = await phone.call(f"sip:bob@127.0.0.1:{peer.port}")
                    assert call.codec == "G722" and call.srtp and call.keys is not None
                    frames, report = await talk(call, TALK)
                    await call.hangup()
                    await trio.sleep(0.3)
                    report = await tolerate_plain_ping(call, tolerate_late(report))
                    results.append(check_received(frames, report, G722.clock_rate))
                    results.append(check_baresip_heard(peer, report))
                    suite = call.keys.tx.profile.name
                    assert f"SRTP is Enabled (cryptosuite={suite})" in peer.stop(), suite

    trio.run(main)
    print(f"\nG722+SRTP baresip->trio: {results[0]}\nG722+SRTP trio->baresip: {results[1]}")
