"""Helpers shared by ``rvoip demo``, ``rvoip serve`` and ``rvoip call``: free loopback ports,
a registrar + B2BUA built from an account table, tone measurement and the live quality line."""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import signal
import socket
import sys

import numpy as np
import numpy.typing as npt

from rvoip_sansio import Address
from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.dialog import UAConfig, UserAgent
from rvoip_sansio.dialog._ua import RequestHandler
from rvoip_sansio.media import level_dbm0, read_wav_bytes
from rvoip_sansio.server import B2BUA, Registrar, route_registered
from rvoip_sansio.sip.auth import Algorithm, DigestServer, DigestServerConfig, InMemoryCredentialStore
from rvoip_sansio.transaction import EndpointConfig

from ..asyncio import PhoneCall

__all__ = ["SETTLE", "free_ports", "build_pbx", "measure", "quality_line", "stop_on_signals", "read_mono_wav"]

SETTLE = 0.3  # seconds of received tone skipped before measuring (jitter buffer, filters)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` UDP ports free on ``host`` right now (bound then released)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def build_pbx(local: Address, accounts: dict[str, str], realm: str, *,
              wrap: type[RequestHandler] | None = None) -> tuple[B2BUA, Registrar]:
    """A registrar (MD5 digest against ``accounts``) and a B2BUA routing calls to registered
    users, on one media-less UserAgent (SDP is relayed verbatim). ``wrap``, when given, is
    called with the registrar and plugged in its place (e.g. to log every REGISTER)."""
    store = InMemoryCredentialStore()
    for user, password in accounts.items():
        store.add(user, realm, password)
    auth = DigestServer(config=DigestServerConfig(realm=realm, algorithms=(Algorithm.MD5,)),
                        secret=secrets.token_bytes(32), store=store)
    registrar = Registrar(auth=auth)
    ua = UserAgent(config=UAConfig(local=local, user="pbx", media=None,
                                   endpoint=EndpointConfig(max_transactions=100_000)),
                   rng=random.Random(secrets.randbits(64)))
    ua.serve("REGISTER", wrap(registrar) if wrap is not None else registrar)  # type: ignore[call-arg]
    return B2BUA(ua=ua, router=route_registered(registrar)), registrar


def measure(frames: list[AudioFrame], rate: int) -> tuple[float, float, int]:
    """(peak frequency in Hz, level in dBm0, samples) of the real audio in ``frames``,
    skipping the first ``SETTLE`` seconds of it."""
    speech = [f.samples for f in frames if f.flags.is_speech]
    if not speech:
        return 0.0, -math.inf, 0
    pcm = np.concatenate(speech)[int(SETTLE * rate):].astype(np.float64)
    if len(pcm) < rate // 10:
        return 0.0, -math.inf, len(pcm)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)  # parabolic interpolation of the peak
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return (k + shift) * rate / len(pcm), level_dbm0(pcm), len(pcm)


def quality_line(t: float, name: str, pc: PhoneCall) -> str:
    """One line of live call quality (codec, loss, jitter, RTT, MOS) for ``pc``."""
    report = pc.quality()
    if report is None:
        return f"{t:5.1f}s {name}: no media"
    q, h = report.quality, report.health
    rtt = f"{q.rtt_ms:5.1f} ms" if q.rtt_ms is not None else "   -    "
    return (f"{t:5.1f}s {name:>5} hears {q.codec:<9} loss {q.loss_percent:4.1f}%  jitter "
            f"{q.jitter_ms:5.2f} ms  rtt {rtt}  MOS {q.mos:4.2f}  rx {q.packets_received} pkts"
            f"  concealed {h.frames_concealed}")


def stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM (inside a running loop), so the command can end its
    calls cleanly instead of dying mid-call."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    return stop


def read_mono_wav(path: str, command: str) -> tuple[npt.NDArray[np.int16], int] | None:
    """(samples of the first channel, rate) of a 16-bit PCM WAV; None (after saying why on
    stderr) when it cannot be read."""
    try:
        with open(path, "rb") as f:
            pcm, rate, channels = read_wav_bytes(f.read())
    except (OSError, ValueError) as exc:
        print(f"rvoip {command}: cannot read {path}: {exc}", file=sys.stderr)
        return None
    return (pcm if channels == 1 else pcm[:, 0], rate)
