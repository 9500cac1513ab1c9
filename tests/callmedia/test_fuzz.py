"""Garbage from the network never raises out of CallMedia.receive (plain and SRTP)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, SrtpKeys
from rvoip_sansio.srtp import SrtpPolicy

from .helpers import A, B

KEY = bytes(range(30))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20), st.booleans())
def test_garbage_never_raises(datagrams: list[bytes], srtp: bool) -> None:
    keys = SrtpKeys(tx=SrtpPolicy.from_key("AES_CM_128_HMAC_SHA1_80", KEY),
                    rx=SrtpPolicy.from_key("AES_CM_128_HMAC_SHA1_80", KEY)) if srtp else None
    m = CallMedia(config=CallMediaConfig(remote_rtp=B, srtp=keys), rng=random.Random(1),
                  now=0.0)
    now = 0.0
    for d in datagrams:
        # Valid-looking RTP headers too: force version 2 on half of them.
        data = bytes([0x80]) + d[1:] if d and d[0] & 1 else d
        m.receive(data, A, now)
        m.handle_timeout(now)
        m.datagrams_to_send(now)
        while m.next_event() is not None:
            pass
        while m.read_frame() is not None:
            pass
        now += 0.013
    # The media clock kept running through it: one frame per 20 ms tick, garbage or not.
    last = (len(datagrams) - 1) * 0.013
    ticks = int(last / 0.02 + 1e-9) + 1 if datagrams else 0
    assert m.health().frames_delivered == ticks
