"""CallMedia.transport_error: a failed send is counted and reported once per destination,
never raised, and the media keeps going (RTP over UDP has no error path; RFC 3550 notices
a gone peer by timeout)."""

from __future__ import annotations

import random

import numpy as np

from rvoip_sansio._core import DatagramCore
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, SendFailed
from rvoip_sansio.rtp import parse_rtp_header

from .helpers import B, tone

C = ("10.0.0.3", 60000)


def _events(m: CallMedia) -> list[object]:
    out = []
    while (e := m.next_event()) is not None:
        out.append(e)
    return out


def test_failed_sends_counted_reported_once_per_destination_media_continues() -> None:
    m = CallMedia(config=CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, remote_rtp=B),
                  rng=random.Random(3), now=0.0)
    core: DatagramCore = m  # satisfies the adapters' datagram contract
    m.write(tone(440, 16000, 1.0))
    sent: list[bytes] = []
    t = 0.0
    for i in range(50):
        t = 0.02 * i
        m.handle_timeout(t)
        for tr in m.datagrams_to_send(t):
            sent.append(tr.data)
            core.transport_error(tr.dest, t)  # every send refused (ICMP port unreachable)
    core.transport_error(C, t)
    ev = [e for e in _events(m) if isinstance(e, SendFailed)]
    assert [(e.dest, e.time) for e in ev] == [(B, 0.0), (C, t)]
    assert m.health().send_errors == len(sent) + 1
    # Nothing stopped: one RTP packet per 20 ms tick, consecutive sequence numbers.
    rtp = [parse_rtp_header(d) for d in sent if not 192 <= d[1] <= 223]
    assert len(rtp) == 50
    seqs = np.array([h[2] for h in rtp])
    assert np.all(np.diff(seqs) % 65536 == 1)


def test_send_failed_events_bounded_when_many_destinations_fail() -> None:
    m = CallMedia(config=CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, remote_rtp=B),
                  rng=random.Random(4), now=0.0)
    for port in range(1000):
        m.transport_error(("10.9.9.9", port), 0.0)
    assert len([e for e in _events(m) if isinstance(e, SendFailed)]) <= 16
    assert m.health().send_errors == 1000
