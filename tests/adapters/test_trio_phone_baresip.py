"""The trio ``Phone`` against a live baresip 1.0 on 127.0.0.1 (issue 8 §3), on trio's real clock.

baresip plays a 440 Hz tone and records what it decodes; our phone plays 1000 Hz through
``call.audio.write_nowait`` and reads ``call.audio`` frames. Both sides' audio is checked by
frequency and level, our receive statistics (no loss, duplicates or late packets, small
jitter, timestamps advancing with the audio) and baresip's RTCP reaching our report, with the
checks and the baresip harness of tests/interop/test_baresip_media.py. baresip calls us
(PCMU, plain RTP); we call baresip (G.722, SDES-SRTP mandatory on its side, both ends
agreeing on the suite).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from rvoip_sansio.adapters.trio import PhoneCall, open_phone
from rvoip_sansio.callmedia import AudioFrame, MediaReport
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
                    results.append(check_received(frames, report, PCMU.clock_rate))
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
                    results.append(check_received(frames, report, G722.clock_rate))
                    results.append(check_baresip_heard(peer, report))
                    assert report.health.srtp_errors == 0
                    suite = call.keys.tx.profile.name
                    assert f"SRTP is Enabled (cryptosuite={suite})" in peer.stop(), suite

    trio.run(main)
    print(f"\nG722+SRTP baresip->trio: {results[0]}\nG722+SRTP trio->baresip: {results[1]}")
