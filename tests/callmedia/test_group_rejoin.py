"""CallMediaGroup membership churn: a call leaves and others join between the same two ticks
(its BatchResampler slots reused at once), with PCMU (8 kHz, resampled) and G.722 (16 kHz,
not resampled) in one group, and the new members start with a tone written before their
first tick. Each new member must send and hear exactly what a CallMedia on its own clock
does at the same instants (bit for bit), so nothing of the old call, another member or a
stale buffer reaches its first frames, and its first frames are no louder than the tone."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, CallMediaGroup

from .helpers import A, B, rms, tone

LEVEL = 5700  # peak of a -12 dBm0 sine (RMS ~4030)


def _media(rtpmap: str, pt: int, seed: int, now: float) -> CallMedia:
    return CallMedia(config=CallMediaConfig(remote_rtp=A, rtpmap=rtpmap, payload_type=pt,
                                            rate=16000, receive_queue_frames=10_000),
                     rng=random.Random(seed), now=now)


def _packets(rtpmap: str, pt: int, start: float, count: int) -> list[tuple[float, bytes]]:
    """A far end's RTP stream of a 1 kHz tone, from its own first packet."""
    src = CallMedia(config=CallMediaConfig(remote_rtp=B, rtpmap=rtpmap, payload_type=pt,
                                           rate=16000), rng=random.Random(99), now=start)
    src.write(tone(1000, 16000, count * 0.02, LEVEL))
    out = []
    for k in range(count):
        t = start + k * 0.02
        src.handle_timeout(t)
        out += [(t + 0.013, d.data) for d in src.datagrams_to_send(t)
                if not 192 <= d.data[1] <= 223]
    return out


@pytest.mark.parametrize("old,new", [(("PCMU/8000", 0), ("G722/8000", 9)),
                                     (("G722/8000", 9), ("PCMU/8000", 0)),
                                     (("PCMU/8000", 0), ("PCMU/8000", 0))])
def test_members_joining_as_one_leaves_hear_and_send_like_single_calls(old, new) -> None:  # type: ignore[no-untyped-def]
    g = CallMediaGroup(now=0.0)
    stay = [_media("PCMU/8000", 0, 1, 0.0), _media("G722/8000", 9, 2, 0.0)]
    leaving = _media(*old, 3, 0.0)
    for m in (*stay, leaving):
        g.add(m)
        m.write(tone(300, 16000, 2.0, 20000))  # loud: must not leak into the new call
    t = 0.0
    while t < 0.6:
        g.handle_timeout(t)
        t = round(t + 0.02, 6)
    # Between two ticks (0.58 ran, 0.60 is next; the adapter is 7 ms late): the old call
    # leaves and two calls join; the first new one takes the slots it freed.
    now = 0.607
    leaving.close(now)
    g.remove(leaving)
    joined = [_media(*new, 10, now), _media(*new, 11, now)]
    refs = [_media(*new, 10, 0.6), _media(*new, 11, 0.6)]  # own clocks, same instants
    for m in joined:
        g.add(m)
    pkts = _packets(*new, 0.6, 40)
    for m in (*joined, *refs):
        m.write(tone(440, 16000, 0.6, LEVEL))
    sent: list[list[bytes]] = [[] for _ in range(4)]
    pi = 0
    t = 0.6
    while t <= 1.4 + 1e-9:
        while pi < len(pkts) and pkts[pi][0] <= t:
            for m in (*joined, *refs):
                m.receive(pkts[pi][1], B, pkts[pi][0])
            pi += 1
        g.handle_timeout(t + 0.007)
        for r in refs:
            r.handle_timeout(t + 0.007)
        for i, m in enumerate((*joined, *refs)):
            sent[i] += [d.data[12:] for d in m.datagrams_to_send(t + 0.007)
                        if not 192 <= d.data[1] <= 223]
        t = round(t + 0.02, 6)
    for i in range(2):
        assert sent[i] == sent[i + 2] and len(sent[i]) == 41  # same payloads, tick for tick
        got = [f.samples for f in iter(joined[i].read_frame, None)]
        want = [f.samples for f in iter(refs[i].read_frame, None)]
        assert len(got) == len(want) == 41
        assert all(np.array_equal(a, b) for a, b in zip(got, want))
        assert max(rms(x) for x in got) < LEVEL  # no burst: at most the tone's level
        heard = np.concatenate(got[-20:])  # the far end's tone, settled: -12 dBm0 within 1 dB
        assert abs(20 * np.log10(rms(heard) / (LEVEL / np.sqrt(2)))) < 1.0
