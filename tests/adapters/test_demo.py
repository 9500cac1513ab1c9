"""``rvoip demo``: a real call on 127.0.0.1 (registrar/B2BUA + two phones, SRTP, tones both
ways), run through the command's own ``main()``; each run is a few seconds of wall time."""

from __future__ import annotations

import asyncio
import math
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rvoip_sansio.adapters.asyncio import Phone, PhoneError
from rvoip_sansio.adapters.cli import demo
from rvoip_sansio.adapters.cli.main import main
from rvoip_sansio.callmedia import AudioFlags, AudioFrame, SrtpKeys
from rvoip_sansio.media import ToneSource, read_wav_bytes, wav_bytes
from rvoip_sansio.sip.auth import Credentials
from tests.codecs.peers import spandsp_g722
from tests.codecs.speechlike import speech_like
from tests.conftest import require_module

LO = "127.0.0.1"

CHECK = re.compile(r"check: (\w+) heard +([\d.]+) Hz at +(-?[\d.]+) dBm0 over ([\d.]+) s")


def _checks(out: str) -> dict[str, tuple[float, float, float]]:
    return {m[1]: (float(m[2]), float(m[3]), float(m[4])) for m in CHECK.finditer(out)}


@pytest.mark.timeout(30)
def test_demo_g722_srtp(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", "2.5"]) == 0
    out = capsys.readouterr().out
    assert "call up: codec G722, SRTP" in out and "SDES" in out
    checks = _checks(out)
    # numbers printed by the demo, checked again here against the tones it was told to play
    assert abs(checks["alice"][0] - 1000) <= 5 and abs(checks["bob"][0] - 440) <= 5
    assert all(abs(level + 10) <= 2 and seconds >= 1.5 for _, level, seconds in checks.values())
    assert len(re.findall(r"hears G722 .* MOS [34]\.\d\d", out)) >= 4  # live lines, both sides
    # the ladder: registrations challenged then accepted, INVITE relayed, BYE relayed
    ladder = out[out.index("Signalling"):]
    flow = re.findall(r"(REGISTER|401 Unauthorized|INVITE|ACK|BYE|200 OK)", ladder)
    assert flow[:8] == ["REGISTER", "401 Unauthorized", "REGISTER", "200 OK"] * 2
    assert flow.count("INVITE") == 2 and flow.count("BYE") == 2 and flow.count("ACK") == 2
    assert out.rstrip().endswith("hung up.")


@pytest.mark.timeout(30)
def test_demo_plain_pcmu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", "1.5", "--no-srtp", "--codec", "pcmu", "--tones", "600", "1500",
                 "--no-ladder"]) == 0
    out = capsys.readouterr().out
    assert "call up: codec PCMU, plain RTP (SRTP not negotiated)" in out
    checks = _checks(out)
    assert abs(checks["alice"][0] - 1500) <= 5 and abs(checks["bob"][0] - 600) <= 5
    assert "Signalling" not in out


def test_demo_dtls_srtp(capsys: pytest.CaptureFixture[str]) -> None:
    """--dtls: both phones key SRTP with a DTLS handshake on the RTP socket (through the B2BUA,
    which relays the fingerprints), and each side still hears the other's tone."""
    assert main(["demo", "--duration", "1.5", "--dtls", "--no-ladder"]) == 0
    out = capsys.readouterr().out
    assert "call up: codec G722, SRTP keyed by DTLS-SRTP (RFC 5764)" in out
    checks = _checks(out)
    assert abs(checks["alice"][0] - 1000) <= 5 and abs(checks["bob"][0] - 440) <= 5


def test_demo_refuses_a_too_short_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", "0.2"]) == 2
    assert "--duration" in capsys.readouterr().err


def test_measure_against_numpy_tones() -> None:
    # A tone from numpy (not our generator): amplitude A -> RMS A/sqrt(2); dBm0 = dBov + 6.18.
    rate, amp = 16000, 8000.0
    t = np.arange(rate * 2) / rate
    pcm = (amp * np.sin(2 * np.pi * 733.3 * t)).astype(np.int16)
    frames = [AudioFrame(samples=pcm[i:i + 320], rate=rate, index=i, time=0.0, rtp_timestamp=0,
                         flags=AudioFlags(0)) for i in range(0, len(pcm), 320)]
    freq, level, n = demo.measure(frames, rate)
    expected = 20 * math.log10(amp / math.sqrt(2) / 32768) + 6.18
    assert abs(freq - 733.3) < 0.5 and abs(level - expected) < 0.05 and n == len(pcm) - 0.3 * rate
    silent = [AudioFrame(samples=pcm[:320], rate=rate, index=0, time=0.0, rtp_timestamp=0,
                         flags=AudioFlags.SILENCE)]
    assert demo.measure(silent, rate) == (0.0, -math.inf, 0)


@pytest.mark.timeout(30)
def test_phone_sends_srtp_that_libsrtp_decrypts_and_spandsp_decodes() -> None:
    """What the Phone puts on the wire, checked with other people's code: libsrtp (pylibsrtp)
    unprotects alice's packets with the key bob agreed by SDES, libspandsp decodes the G.722,
    and the 440 Hz tone alice wrote is there at its level."""
    lib: Any = require_module("pylibsrtp")
    spandsp = spandsp_g722()

    async def scenario() -> tuple[list[bytes], SrtpKeys | None, int]:
        alice_port, bob_port = demo._free_ports(2)
        wire: list[bytes] = []
        alice = await Phone.open("alice", (LO, alice_port),
                                 media_trace=lambda now, src, dst, data: wire.append(data))
        bob = await Phone.open("bob", (LO, bob_port), auto_answer=True)
        try:
            a = await alice.call(f"sip:bob@{LO}:{bob_port}")
            b = await bob.accept(5)
            assert a.codec == "G722" and a.srtp and b.srtp
            media = a.media()
            assert media is not None
            pt = media.config.payload_type
            a.audio.write_nowait(ToneSource(freqs=(440.0,), rate=16000, level_dbm0=-10.0).read(24000))
            await asyncio.sleep(1.8)
            await a.hangup()
            return wire, b.keys, pt
        finally:
            await alice.close()
            await bob.close()

    wire, keys, pt = asyncio.run(scenario())
    assert keys is not None and pt == 9
    master = keys.rx.keys[0]
    profiles = {"AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
                "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
                "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
                "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32"}
    policy = lib.Policy(key=master.key + master.salt, ssrc_type=lib.Policy.SSRC_ANY_INBOUND,
                        srtp_profile=getattr(lib.Policy, profiles[keys.rx.profile.name]))
    session = lib.Session(policy)
    payloads: list[bytes] = []
    for packet in wire:
        if 200 <= packet[1] <= 207:  # SRTCP (rtcp-mux, RFC 5761)
            continue
        plain = session.unprotect(packet)
        assert plain[1] & 0x7F == pt
        header = 12 + 4 * (plain[0] & 0x0F)
        if plain[0] & 0x10:  # header extension
            header += 4 + 4 * int.from_bytes(plain[header + 2:header + 4], "big")
        payloads.append(plain[header:])
        assert packet[header:header + len(payloads[-1])] != payloads[-1]  # encrypted on the wire
    assert len(payloads) >= 80
    pcm = spandsp.decode(spandsp.decoder(), b"".join(payloads)).astype(np.float64)
    loud = np.flatnonzero(np.abs(pcm) > 1000)
    tone = pcm[loud[0] + 1600:loud[-1] - 320]  # skip the onset; the tone lasts 1.5 s
    assert len(tone) >= 16000
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    assert abs(np.argmax(spectrum) * 16000 / len(tone) - 440) <= 2
    level = 20 * math.log10(math.sqrt(float(np.mean(tone * tone))) / 32768) + 6.18
    assert abs(level + 10) <= 1.0


@pytest.mark.timeout(30)
def test_demo_fails_clearly_when_a_registration_is_refused(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The phones present a wrong password; the registrar's digest check refuses it.
    monkeypatch.setattr(demo, "Credentials", lambda username, password: Credentials(
        username=username, password=password + "-wrong"))
    assert main(["demo", "--duration", "1", "--no-ladder"]) == 1
    err = capsys.readouterr().err
    assert "FAIL: registration failed" in err


@pytest.mark.timeout(30)
def test_demo_fails_when_the_tone_check_fails(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "FREQ_TOLERANCE", -1.0)  # no frequency can pass
    assert main(["demo", "--duration", "1", "--no-ladder"]) == 1
    captured = capsys.readouterr()
    assert "WRONG" in captured.out and "FAIL: alice heard" in captured.err
    assert "FAIL: bob heard" in captured.err and "OK:" not in captured.out


@pytest.mark.timeout(30)
def test_demo_as_a_process_ctrl_c_hangs_up_and_unregisters() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rvoip_sansio.adapters.cli.main", "demo", "--duration", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait for the first live quality line: the call is up
            if "hears" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "FAIL: interrupted" in err and "Traceback" not in err
    flow = re.findall(r"(REGISTER|BYE|200 OK)", out[out.index("Signalling"):])
    assert flow[-8:] == ["BYE", "200 OK", "BYE", "200 OK", "REGISTER", "200 OK", "REGISTER", "200 OK"]


@pytest.mark.timeout(30)
def test_phone_call_not_answered_in_time_is_cancelled() -> None:
    async def scenario() -> tuple[str, str]:
        alice_port, bob_port = demo._free_ports(2)
        alice = await Phone.open("alice", (LO, alice_port))
        bob = await Phone.open("bob", (LO, bob_port))
        try:
            with pytest.raises(PhoneError) as info:
                await alice.call(f"sip:bob@{LO}:{bob_port}", timeout=0.5)
            ringing = await bob.accept(2)
            assert await ringing.wait_ended(5) and ringing.end is not None
            return str(info.value), ringing.end.reason.value
        finally:
            await alice.close()
            await bob.close()

    message, bob_saw = asyncio.run(scenario())
    assert "no answer within 0.5 s" in message and bob_saw == "remote cancelled"


@pytest.mark.timeout(30)
def test_demo_plays_a_wav_scored_by_pesq_and_records(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    require_module("pesq")
    source, recorded = tmp_path / "speech.wav", tmp_path / "heard.wav"
    source.write_bytes(wav_bytes(speech_like(3.0, 16000, seed=3), 16000))
    assert main(["demo", "--duration", "2.5", "--no-ladder", "--play", str(source),
                 "--record", str(recorded)]) == 0
    out = capsys.readouterr().out
    score = float(re.findall(r"PESQ-wideband ([\d.]+)", out)[0])
    assert score >= 3.0 and "alice heard  1000.0 Hz" in out
    pcm, rate, channels = read_wav_bytes(recorded.read_bytes())
    assert rate == 16000 and channels == 1 and 2.3 * rate <= len(pcm) <= 2.7 * rate
