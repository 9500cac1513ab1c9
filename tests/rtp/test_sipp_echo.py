"""A real peer on loopback: SIPp's ``-rtp_echo`` sends our RTP (audio and RFC 4733 DTMF)
straight back. A second session receives the echoes as a stream from another party, and
the sending session itself sees its own SSRC come back: RFC 3550 §8.2 collision, then loop."""

from __future__ import annotations

import random
import select
import socket
import subprocess
import time

import pytest

from rvoip_sansio import Event
from rvoip_sansio.rtp import (
    DtmfReceived,
    LoopDetected,
    RtpSession,
    RtpSessionConfig,
    SsrcCollision,
)
from tests.conftest import require_program

pytestmark = pytest.mark.interop


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drain(s: RtpSession) -> list[Event]:
    out = []
    while (e := s.next_event()) is not None:
        out.append(e)
    return out


def test_rtp_and_dtmf_through_sipp_echo() -> None:
    sipp = require_program("sipp")
    sip_port, media_port = _free_udp_port(), _free_udp_port()
    proc = subprocess.Popen(
        [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(sip_port), "-rtp_echo",
         "-mp", str(media_port), "-nostdin", "-timeout", "30s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        echo = ("127.0.0.1", media_port)
        clock = time.monotonic
        t0 = clock()
        a = RtpSession(config=RtpSessionConfig(remote_rtp=echo, latch=False),
                       rng=random.Random(1), now=0.0)
        b = RtpSession(config=RtpSessionConfig(inactivity_timeout=None), rng=random.Random(2),
                       now=0.0)
        # wait until SIPp's echo socket answers (it needs a moment to start)
        deadline = t0 + 10
        while True:
            sock.sendto(b"\x80\x7f\x00\x00" + b"\x00" * 8, echo)
            if select.select([sock], [], [], 0.2)[0]:
                sock.recv(2048)
                break
            assert clock() < deadline, "SIPp's echo port never answered"
        t0 = clock()
        received: list[Event] = []
        sent = 0
        next_send = 0.0
        while next_send < 3.0:
            now = clock() - t0
            if now >= next_send:
                a.send_audio(b"\xff" * 160, next_send)
                if sent == 50:
                    a.send_dtmf("12#", next_send, duration=0.1)
                sent += 1
                next_send += 0.02
            d = a.next_deadline()
            if d is not None and d <= now:
                a.handle_timeout(now)
            for tr in a.datagrams_to_send(now):
                sock.sendto(tr.data, tr.dest)
            wait = max(0.0, min(next_send, d if d is not None else next_send) - (clock() - t0))
            if select.select([sock], [], [], wait)[0]:
                data, src = sock.recvfrom(2048)
                now = clock() - t0
                b.receive(data, src, now)
                a.receive(data, src, now)  # our own packets, back from elsewhere
                b.pop_frame(now)
        end = clock() + 0.5
        while select.select([sock], [], [], max(0.0, end - clock()))[0]:
            data, src = sock.recvfrom(2048)
            b.receive(data, src, clock() - t0)
        received = _drain(b)
        mine = _drain(a)
    finally:
        sock.close()
        proc.terminate()
        proc.wait(timeout=10)
    digits = "".join(e.digit or "?" for e in received if isinstance(e, DtmfReceived))
    assert digits == "12#"
    st = b.source_stats()
    assert st is not None
    q = b.quality_report(3.5)
    assert q.packets_lost == 0 and st.duplicates_or_old == 0
    assert q.jitter_ms < 10.0  # loopback: timer and scheduling noise only
    # the first echo is a collision (we pick a new SSRC and send a BYE), the rest a loop
    assert sum(isinstance(e, SsrcCollision) for e in mine) == 1
    assert any(isinstance(e, LoopDetected) for e in mine)
