"""The shared RTP socket pump (adapters/_mediapump.py): one epoll for every call's socket, and
the per-socket fallback where epoll is missing, under each adapter's Phone (real loopback
sockets, real time, ~6 s)."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from typing import Any

import numpy as np
import pytest
import trio

from rvoip_sansio.adapters import _mediapump
from rvoip_sansio.adapters._mediapump import MediaPump
from rvoip_sansio.adapters.asyncio import Phone
from rvoip_sansio.adapters.blocking import open_phone as open_blocking
from rvoip_sansio.adapters.blocking._socket import bind_udp_socket
from rvoip_sansio.adapters.trio import open_phone as open_trio
from rvoip_sansio.media import ToneSource, level_dbm0
from rvoip_sansio.phone import SrtpMode
from rvoip_sansio.sdp import PCMU

LO = "127.0.0.1"
RATE = 16000
epoll_only = pytest.mark.skipif(not hasattr(select, "epoll"), reason="select.epoll is Linux only")


def _bound() -> tuple[tuple[str, int], socket.socket]:
    sock = bind_udp_socket((LO, 0))
    return (LO, int(sock.getsockname()[1])), sock


def _use_epoll(epoll: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Phones made next use one epoll, or (False) watch each RTP socket as where it is missing."""
    if epoll and not hasattr(select, "epoll"):
        pytest.skip("select.epoll is Linux only")
    monkeypatch.setattr(_mediapump, "USE_EPOLL", epoll)


def _rebinds(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((LO, port))
        except OSError:
            return False
    return True


def _settle() -> None:
    time.sleep(0.02)  # loopback delivery is synchronous; a margin for a loaded machine


@epoll_only
def test_one_datagram_per_ready_socket_per_read_then_the_rest() -> None:
    pump = MediaPump()
    (a, sa), (b, sb), (c, sc) = _bound(), _bound(), _bound()
    for local, sock in ((a, sa), (b, sb), (c, sc)):
        pump.add(local, sock)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind((LO, 0))
        src = (LO, peer.getsockname()[1])
        for data in (b"a1", b"a2", b"a3"):
            peer.sendto(data, a)
        peer.sendto(b"b1", b)
        _settle()
        first = pump.read()
        assert sorted(first) == sorted([(a, b"a1", src), (b, b"b1", src)])  # c had nothing: not read
        assert pump.read() == [(a, b"a2", src)]  # level-triggered: a is still ready
        assert pump.read() == [(a, b"a3", src)]
        assert pump.read() == []
    assert len(pump) == 3 and b in pump and pump.locals() == (a, b, c)
    assert pump.remove(b) is sb and sb.fileno() == -1 and b not in pump and _rebinds(b[1])
    assert pump.remove(b) is None
    pump.close()
    assert sa.fileno() == sc.fileno() == -1 and pump.fileno is None and _rebinds(a[1])
    with pytest.raises(OSError):
        pump.add(*_bound())


def test_fallback_reads_each_socket_in_batches_and_send_reports_refusals() -> None:
    refused: list[tuple[tuple[str, int], tuple[str, int]]] = []
    pump = MediaPump(on_error=lambda local, dest: refused.append((local, dest)), epoll=False)
    assert pump.fileno is None
    a, sa = _bound()
    b, sb = _bound()
    pump.add(a, sa)
    pump.add(b, sb)
    for i in range(70):
        pump.send(b, bytes([i]), a)
    _settle()
    out: list[tuple[tuple[str, int], bytes, tuple[str, int]]] = []
    assert pump.read() == []  # nothing to poll: the host watches each socket
    assert pump.read_socket(a, out) is False and len(out) == 64  # a full batch: more waiting
    assert pump.read_socket(a, out) is True and [d for _, d, _ in out] == [bytes([i]) for i in range(70)]
    assert {src for _, _, src in out} == {b}
    pump.send(a, b"x", (LO, 0))  # port 0: refused by the kernel (EINVAL)
    assert refused == [(a, (LO, 0))]
    pump.send((LO, 1), b"x", a)  # no such socket: dropped quietly
    pump.close()
    assert sa.fileno() == sb.fileno() == -1


def _check_tone(pcm: np.ndarray, freq: float) -> None:
    x = pcm[RATE // 5:].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak = (int(np.argmax(spectrum[1:-1])) + 1) * RATE / len(x)
    assert abs(peak - freq) < 5.0, peak
    assert abs(level_dbm0(pcm[RATE // 5:]) - -12.0) < 1.5


def _tone(freq: float) -> np.ndarray:
    return ToneSource(freqs=(freq,), rate=RATE, level_dbm0=-12.0).read(int(0.8 * RATE))


def _speech(frames: list) -> np.ndarray:  # type: ignore[type-arg]
    return np.concatenate([f.samples for f in frames if f.flags.is_speech])


async def _tones_both_ways(call: Any, peer: Any, sleep: Any) -> None:
    call.audio.write_nowait(_tone(440.0))
    peer.audio.write_nowait(_tone(1000.0))
    await sleep(1.0)
    _check_tone(_speech(peer.audio.read_all()), 440.0)
    _check_tone(_speech(call.audio.read_all()), 1000.0)


@pytest.mark.parametrize("epoll", [True, False], ids=["epoll", "per-socket"])
def test_asyncio_phone_media_both_ways(epoll: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_epoll(epoll, monkeypatch)

    async def main() -> None:
        async with Phone.open("bob", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=False) as bob, \
                Phone.open("alice", (LO, 0), codecs=(PCMU,), srtp=False) as alice:
            assert (bob.host.pump.fileno is not None) is epoll
            call = await alice.call(f"sip:bob@{LO}:{bob.config.local[1]}")
            await _tones_both_ways(call, await bob.accept(), asyncio.sleep)
            ports = [p[1] for p in alice.host.rtp_sockets + bob.host.rtp_sockets]
            assert len(ports) == 2
            await call.hangup()
        assert all(_rebinds(p) for p in ports)

    asyncio.run(main())


@pytest.mark.parametrize("epoll", [True, False], ids=["epoll", "per-socket"])
def test_trio_phone_media_both_ways(epoll: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_epoll(epoll, monkeypatch)

    async def main() -> None:
        async with open_trio("bob", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=SrtpMode.NONE) as bob, \
                open_trio("alice", (LO, 0), codecs=(PCMU,), srtp=SrtpMode.NONE) as alice:
            call = await alice.call(f"sip:bob@{LO}:{bob.core.config.local[1]}")
            await _tones_both_ways(call, await bob.accept(), trio.sleep)
            assert len(alice.media_sockets) == len(bob.media_sockets) == 1
            assert (bob.media_sockets._pump.fileno is not None) is epoll
            await call.hangup()

    trio.run(main)


@pytest.mark.parametrize("epoll", [True, False], ids=["epoll", "per-socket"])
def test_blocking_phone_media_both_ways(epoll: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_epoll(epoll, monkeypatch)
    with open_blocking("bob", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=SrtpMode.NONE) as bob, \
            open_blocking("alice", (LO, 0), codecs=(PCMU,), srtp=SrtpMode.NONE) as alice:
        call = alice.call(f"sip:bob@{LO}:{bob.core.config.local[1]}")
        peer = bob.next_call(5.0)
        assert peer is not None
        call.audio.write_nowait(_tone(440.0))
        peer.audio.write_nowait(_tone(1000.0))
        time.sleep(1.0)
        _check_tone(_speech(peer.audio.read_all()), 440.0)
        _check_tone(_speech(call.audio.read_all()), 1000.0)
        ports = [p[1] for p in alice.rtp_sockets + bob.rtp_sockets]
        assert len(ports) == 2 and (bob._pump.fileno is not None) is epoll
        call.hangup()
    assert all(_rebinds(p) for p in ports)
