"""``rvoip demo``: a real call on 127.0.0.1 (registrar/B2BUA + two phones, SRTP, tones both
ways), run through the command's own ``main()``; each run is a few seconds of wall time."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rvoip_sansio.adapters.cli import demo
from rvoip_sansio.adapters.cli.main import main
from rvoip_sansio.callmedia import AudioFlags, AudioFrame

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
