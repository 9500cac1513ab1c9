"""CallMediaGroup.poll: ticks, each member's RTP timers and its datagrams in one pass."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, CallMediaGroup, SrtpKeys
from rvoip_sansio.srtp import SrtpPolicy

from .helpers import peak_frequency, tone

KEY = bytes(range(30))
PROFILE = "AES_CM_128_HMAC_SHA1_80"


def _calls(n: int, rate: int) -> tuple[list[CallMedia], list[CallMediaGroup], list[tuple[str, int]]]:
    keys = SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY))
    addrs = [("127.0.0.1", 30000 + 2 * i) for i in range(2 * n)]
    groups = [CallMediaGroup(now=0.0), CallMediaGroup(now=0.0)]
    medias = []
    for i in range(2 * n):
        cfg = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=rate, frame_ms=20,
                              remote_rtp=addrs[(i + n) % (2 * n)], srtp=keys,
                              receive_queue_frames=10**4)
        m = CallMedia(config=cfg, rng=random.Random(i), now=0.0)
        groups[i >= n].add(m)
        medias.append(m)
    return medias, groups, addrs


def _drive(poll: bool, rate: int, steps: list[float]) -> tuple[list[list[bytes]], list[np.ndarray]]:
    medias, groups, addrs = _calls(3, rate)
    index = {a: i for i, a in enumerate(addrs)}
    for i, m in enumerate(medias):
        m.write(tone(400 + 100 * i, rate, 8.0))
    wire: list[list[bytes]] = [[] for _ in medias]
    for now in steps:
        inbox = []
        if poll:
            pos = {id(m): i for i, m in enumerate(medias)}
            for g in groups:
                for m, ds in g.poll(now):
                    inbox += [(pos[id(m)], t) for t in ds]
        else:
            for g in groups:
                g.handle_timeout(now)
            for i, m in enumerate(medias):
                d = m.next_deadline()
                if d is not None and d <= now:
                    m.handle_timeout(now)
                inbox += [(i, t) for t in m.datagrams_to_send(now)]
        for i, t in inbox:
            wire[i].append(t.data)
            medias[index[t.dest]].receive(t.data, addrs[i], now)
    heard = [np.concatenate([f.samples for f in iter(m.read_frame, None)]) for m in medias]
    return wire, heard


@pytest.mark.parametrize("rate", [8000, 16000])
def test_poll_carries_srtp_audio_and_rtcp_like_separate_calls(rate: int) -> None:
    # Every 20 ms, plus stalls the group catches up on (several ticks in one poll).
    steps = [k * 0.02 for k in range(150)] + [3.1, 3.5] + [3.52 + k * 0.02 for k in range(200)]
    wire, heard = _drive(True, rate, steps)
    for i, h in enumerate(heard):
        # Each end hears the tone its peer sent (a 400 + 100·j Hz tone from call j).
        peer = (i + 3) % 6
        assert abs(peak_frequency(h[rate:], rate) - (400 + 100 * peer)) < 15
    # RTCP (a compound SRTCP packet, second octet 200/201) went out from the members' own
    # timers: poll ran them.
    assert all(any(192 <= d[1] <= 223 for d in w) for w in wire)
    # Same datagrams and audio as ticking the group and running each member separately.
    wire2, heard2 = _drive(False, rate, steps)
    assert wire == wire2
    assert all(np.array_equal(a, b) for a, b in zip(heard, heard2))


def test_poll_of_an_empty_group_returns_nothing() -> None:
    assert CallMediaGroup(now=0.0).poll(1.0) == []
