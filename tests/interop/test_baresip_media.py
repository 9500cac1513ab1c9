"""Media interop with a live baresip 1.0 on 127.0.0.1 (issue 5 §5, issue 6 §3, issue 8 §3).

baresip plays a 440 Hz tone (a WAV at the codec's rate, written here) and records what it
hears; our ``Phone`` plays 1000 Hz. Each side's audio is checked by frequency and level, our
receive statistics for loss, duplicates, jitter and timestamp continuity, and baresip's RTCP
must reach our report. Calls: baresip calls us with PCMU, PCMA and G.722 (plain RTP); we call
baresip with G.722 over SDES-SRTP (its ``srtp`` module, ``mediaenc=srtp-mand``) and with Opus
(baresip's default stereo preference and mono). Figures: docs/interop.md.
"""

from __future__ import annotations

import asyncio
import math
import socket
import string
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from rvoip_sansio.adapters.asyncio import Phone, PhoneCall
from rvoip_sansio.callmedia import AudioFlags, AudioFrame, MediaReport
from rvoip_sansio.media import ToneSource, level_dbm0, read_wav_bytes, wav_bytes
from rvoip_sansio.sdp import G722, OPUS, PCMA, PCMU, Codec
from tests.conftest import require_program

pytestmark = pytest.mark.interop

TEMPLATES = Path(__file__).parent / "baresip"
MODULES = Path("/usr/lib/baresip/modules")
RATE = 16000  # our phone's audio rate
LEVEL = -10.0  # dBm0, both tones
THEIR_TONE, OUR_TONE = 440.0, 1000.0
TALK = 6.0  # seconds of audio per call (baresip's first RTCP report comes after ~5 s)
SETTLE = 0.3  # seconds skipped at the start of what is measured
FREQ_TOL, LEVEL_TOL = 5.0, 2.0  # Hz, dB
SDP_NAMES = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1",
             "opus": "opus/48000/2"}
# (rate, channels) of the audio baresip plays with aufile: the codec's own (it does not resample)
AUDIO_FORMATS = {"PCMU": (8000, 1), "PCMA": (8000, 1), "G722": (16000, 1), "opus": (48000, 2)}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tone(pcm: npt.NDArray[np.int16], rate: int) -> tuple[float, float, int]:
    """(peak frequency in Hz, level in dBm0, samples) of ``pcm`` between its first and last
    loud sample, the first ``SETTLE`` seconds skipped."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 1000)
    if len(loud) == 0:
        return 0.0, -math.inf, 0
    x = pcm[loud[0] + int(SETTLE * rate):loud[-1]].astype(np.float64)
    if len(x) < rate // 10:
        return 0.0, -math.inf, len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)  # parabolic interpolation of the peak
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return (k + shift) * rate / len(x), level_dbm0(x), len(x)


class Baresip:
    """One baresip process with a config made from the templates; stopped on exit."""

    def __init__(self, tmp: Path, codec: Codec, *, dial: str | None = None, extra: str = "",
                 config_extra: str = "", mono: bool = False) -> None:
        self.port = _free_port()
        self.record = tmp / "recorded"
        self.record.mkdir()
        source = tmp / "baresip-plays.wav"
        rate, channels = AUDIO_FORMATS[codec.name]
        channels = 1 if mono else channels
        pcm = ToneSource(freqs=(THEIR_TONE,), rate=rate, level_dbm0=LEVEL).read(int((TALK + 4) * rate))
        source.write_bytes(wav_bytes(np.repeat(pcm[:, None], channels, axis=1) if channels > 1 else pcm,
                                     rate, channels))
        cfg = tmp / "baresip"
        cfg.mkdir()
        values = dict(sip_port=self.port, source_wav=source, record_dir=self.record,
                      codecs=SDP_NAMES[codec.name].replace("/2", "/1") if mono else SDP_NAMES[codec.name],
                      extra=extra, config_extra=config_extra)
        for name in ("config", "accounts"):
            text = (TEMPLATES / f"{name}.in").read_text()
            (cfg / name).write_text(string.Template(text).substitute(values))
        self.log = tmp / "baresip.log"
        args = [require_program("baresip"), "-s", "-4", "-n", "127.0.0.1", "-f", str(cfg), "-t", "20"]
        if dial:
            args += ["-e", f"/dial {dial}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)

    async def ready(self, timeout: float = 5.0) -> None:
        """Wait until baresip has loaded its modules and listens."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while b"baresip is ready" not in self.log.read_bytes():
            assert self.proc.poll() is None and loop.time() < deadline, self.log.read_text()
            await asyncio.sleep(0.05)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")

    def summary(self) -> dict[str, str]:
        """baresip's own view of the call: the ``rtcpsummary`` line (PR/PS packets received and
        sent, PL lost, JI jitter in ms, each pair rx,tx as baresip reports them)."""
        line = next(ln for ln in self.stop().splitlines() if ln.startswith("EX=BareSip;"))
        return dict(kv.split("=", 1) for kv in line.split(";") if "=" in kv)

    def heard(self) -> tuple[npt.NDArray[np.int16], int]:
        # baresip's sndfile filter dumps what it decoded (the received audio) to *-dec.wav.
        (wav,) = self.record.glob("dump-*-dec.wav")
        pcm, rate, channels = read_wav_bytes(wav.read_bytes())
        return (pcm if channels == 1 else pcm[:, 0]), rate


@contextmanager
def baresip(tmp: Path, codec: Codec, **kw: Any) -> Iterator[Baresip]:
    if not MODULES.joinpath("g722.so").exists():
        pytest.skip("baresip modules not found")
    peer = Baresip(tmp, codec, **kw)
    try:
        yield peer
    finally:
        peer.stop()


async def talk(pc: PhoneCall, seconds: float) -> tuple[list[AudioFrame], MediaReport]:
    """Play our tone for ``seconds`` (kept ~0.3 s ahead of the media clock) and collect
    what arrives; the report is taken before hanging up."""
    source = ToneSource(freqs=(OUR_TONE,), rate=RATE, level_dbm0=LEVEL)
    loop = asyncio.get_running_loop()
    start, written, frames = loop.time(), 0, []
    while (t := loop.time() - start) < seconds:
        want = min(int((t + 0.3) * RATE), int(seconds * RATE)) - written
        if want > 0:
            written += pc.audio.write_nowait(source.read(want), RATE)
        frames += pc.audio.read_all()
        await asyncio.sleep(0.05)
    frames += pc.audio.read_all()
    report = pc.quality()
    assert report is not None
    return frames, report


def check_received(frames: list[AudioFrame], report: MediaReport, clock_rate: int) -> dict[str, float]:
    """Our side: the 440 Hz tone at its level, no loss/duplicates/late packets, small jitter,
    RTP timestamps advancing exactly with the audio, and baresip's RTCP seen."""
    speech = [f for f in frames if f.flags.is_speech]
    assert speech, "no audio received from baresip"
    freq, level, n = tone(np.concatenate([f.samples for f in speech]), RATE)
    assert n > RATE, f"only {n} samples of tone received"
    assert abs(freq - THEIR_TONE) <= FREQ_TOL, f"we heard {freq:.1f} Hz"
    assert abs(level - LEVEL) <= LEVEL_TOL, f"we heard {level:.1f} dBm0"
    # Timestamps: between consecutive received speech frames the RTP timestamp advances by the
    # frame's duration on the codec clock (RFC 3550 §5.1; G.722 runs an 8 kHz clock, RFC 3551 §4.5.2).
    # A frame flagged AFTER_GAP follows one the jitter buffer concealed or dropped (it adapts
    # its delay); those steps are whole frames, every other step exactly one.
    frame_step = len(speech[0].samples) * clock_rate // RATE
    gaps = 0
    for prev, cur in zip(speech, speech[1:]):
        step = (cur.rtp_timestamp - prev.rtp_timestamp) % 2**32
        if cur.flags & AudioFlags.AFTER_GAP:
            gaps += 1
            assert step % frame_step == 0 and step < 2**31, (prev, cur)
        elif cur.index == prev.index + len(prev.samples):
            assert step == frame_step, (prev, cur)
    q, h = report.quality, report.health
    assert q.packets_received > 0.8 * TALK * 50
    assert (q.packets_lost, q.duplicates, q.malformed) == (0, 0, 0), q
    # baresip 1.0 may send one cleartext 16-byte RTCP APP "PING" as its stream starts; when it
    # arrives after our SRTP keys are set it cannot authenticate (RFC 3711 §3.4: dropped and
    # counted). Anything beyond that one packet is a real SRTP failure.
    assert q.loss_percent == 0.0 and h.packets_late == 0 and h.srtp_errors <= 1, report
    assert q.jitter_ms < 5.0, q
    # baresip's RTCP (SR/RR, RFC 3550 §6.4) parsed by us: a round-trip time or its loss figure.
    assert q.rtt_ms is not None or q.remote_loss_percent is not None, q
    return dict(freq=freq, level=level, loss=q.loss_percent, jitter=q.jitter_ms, mos=q.mos, gaps=gaps,
                rtt=q.rtt_ms if q.rtt_ms is not None else math.nan)


def check_baresip_heard(peer: Baresip, report: MediaReport) -> dict[str, float]:
    """baresip's side: our 1000 Hz tone in what it decoded, a frame decoded for every packet
    we sent, and no loss in its RTCP summary."""
    summary = peer.summary()
    lost = int(summary["PL"].split(",")[0])
    assert lost <= 0, summary  # its PR/PS counts are RTCP-interval snapshots, not totals
    pcm, rate = peer.heard()
    frame = rate // 50  # 20 ms
    decoded = len(pcm) // frame
    assert decoded >= report.health.frames_sent - 2, (decoded, report.health)
    freq, level, n = tone(pcm, rate)
    assert n > rate, f"baresip recorded only {n} samples of tone"
    assert abs(freq - OUR_TONE) <= FREQ_TOL, f"baresip heard {freq:.1f} Hz"
    assert abs(level - LEVEL) <= LEVEL_TOL, f"baresip heard {level:.1f} dBm0"
    return dict(freq=freq, level=level, decoded=decoded, sent=report.health.frames_sent,
                lost=lost, jitter=float(summary["JI"].split(",")[0]))


@pytest.mark.parametrize("codec", [PCMU, PCMA, G722], ids=lambda c: c.name)
def test_baresip_calls_us(tmp_path: Path, codec: Codec) -> None:
    async def main() -> tuple[dict[str, float], dict[str, float]]:
        port = _free_port()
        phone = await Phone.open("alice", ("127.0.0.1", port), codecs=(codec,), srtp=False, rate=RATE,
                                 auto_answer=True)
        try:
            with baresip(tmp_path, codec, dial=f"sip:alice@127.0.0.1:{port}") as peer:
                pc = await phone.accept(8)
                await pc.wait_answered(2)
                assert pc.codec == codec.name and not pc.srtp
                frames, report = await talk(pc, TALK)
                await pc.hangup()
                await asyncio.sleep(0.3)  # baresip closes its recording on the BYE
                ours = check_received(frames, report, codec.clock_rate)
                theirs = check_baresip_heard(peer, report)
        finally:
            await phone.close()
        return ours, theirs

    ours, theirs = asyncio.run(asyncio.wait_for(main(), 30))
    print(f"\n{codec.name} baresip->us: {ours}\n{codec.name} us->baresip: {theirs}")


def _we_call(tmp: Path, codec: Codec, *, srtp: bool, **baresip_kw: Any
             ) -> tuple[dict[str, float], dict[str, float]]:
    async def main() -> tuple[dict[str, float], dict[str, float]]:
        # SRTP mandatory on our side too: RTP/SAVP (optional SDES offers RTP/AVP + a=crypto,
        # which baresip's srtp-mand refuses with 488).
        phone = await Phone.open("alice", ("127.0.0.1", _free_port()), codecs=(codec,), srtp=srtp,
                                 srtp_required=srtp, rate=RATE)
        try:
            with baresip(tmp, codec, **baresip_kw) as peer:
                await peer.ready()
                pc = await phone.call(f"sip:bob@127.0.0.1:{peer.port}", timeout=8)
                assert pc.codec == codec.name and pc.srtp == srtp
                frames, report = await talk(pc, TALK)
                await pc.hangup()
                await asyncio.sleep(0.3)
                ours = check_received(frames, report, codec.clock_rate)
                theirs = check_baresip_heard(peer, report)
                if srtp:  # both ends agree SRTP ran, with the same suite
                    assert pc.keys is not None and report.health.srtp_errors <= 1  # see above
                    suite = pc.keys.tx.profile.name
                    assert f"SRTP is Enabled (cryptosuite={suite})" in peer.stop(), suite
                    print(f"\nSRTP suite {suite}")
        finally:
            await phone.close()
        return ours, theirs

    return asyncio.run(asyncio.wait_for(main(), 30))


def test_we_call_baresip_sdes_srtp_g722(tmp_path: Path) -> None:
    """RTP/SAVP with SDES a=crypto (RFC 4568) to baresip's srtp module, SRTP mandatory there."""
    ours, theirs = _we_call(tmp_path, G722, srtp=True, extra=";mediaenc=srtp-mand")
    print(f"\nG722+SRTP baresip->us: {ours}\nG722+SRTP us->baresip: {theirs}")


def test_we_call_baresip_opus(tmp_path: Path) -> None:
    """Opus (RFC 7587, opus/48000/2) both ways; baresip plays a 48 kHz stereo tone."""
    ours, theirs = _we_call(tmp_path, OPUS, srtp=False)
    print(f"\nopus baresip->us: {ours}\nopus us->baresip: {theirs}")


def test_we_call_baresip_opus_mono(tmp_path: Path) -> None:
    """Opus with baresip told to ask for mono (``opus_stereo no``: fmtp stereo=0); its opus
    module then registers itself as opus/48000/1 and reads a mono WAV."""
    ours, theirs = _we_call(tmp_path, OPUS, srtp=False, mono=True,
                            config_extra="opus_stereo\t\tno\nopus_sprop_stereo\tno")
    print(f"\nopus mono baresip->us: {ours}\nopus mono us->baresip: {theirs}")
