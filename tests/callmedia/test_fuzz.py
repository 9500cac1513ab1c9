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


OPS = st.lists(st.tuples(st.sampled_from(["write", "mark", "clear", "pause", "resume", "mute",
                                          "unmute", "tick", "dtmf"]),
                         st.integers(0, 5000)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(OPS, st.booleans())
def test_random_api_sequences_keep_the_books(ops: list[tuple[str, int]], accept_all: bool) -> None:
    """Any order of application calls: every mark is answered exactly once, in order, and
    the REJECT bound holds."""
    import numpy as np

    from rvoip_sansio.callmedia import Drained, SendPolicy

    m = CallMedia(config=CallMediaConfig(
        remote_rtp=B, send_queue_frames=20,
        send_policy=SendPolicy.ACCEPT_ALL if accept_all else SendPolicy.REJECT),
        rng=random.Random(2), now=0.0)
    now = 0.0
    marks: list[int] = []
    answered: list[int] = []
    accepted = 0
    for op, n in ops:
        if op == "write":
            accepted += m.write(np.full(n, 1000, np.int16))
        elif op == "mark":
            marks.append(m.mark())
        elif op == "clear":
            m.clear()
        elif op in ("pause", "resume"):
            getattr(m, op)()
        elif op in ("mute", "unmute"):
            m.mute(op == "mute")
        elif op == "dtmf":
            m.send_dtmf("1", now)
        else:
            now += n / 1000.0
            m.handle_timeout(now)
        m.datagrams_to_send(now)
        answered += [e.mark for e in iter(m.next_event, None) if isinstance(e, Drained)]
    assert accepted <= sum(n for op, n in ops if op == "write")
    h = m.health()
    q = m.tx
    assert q.dequeued <= q.enqueued + (1 if len(q._pending) else 0)
    assert h.send_queue_frames <= 20 or accept_all      # the bound holds under REJECT
    # Marks: answered in order, none twice; the unanswered ones are the newest.
    assert answered == marks[:len(answered)]
    pending = marks[len(answered):]
    if pending:
        assert h.send_queue_frames > 0
    # Drop everything: every mark is answered.
    m.clear()
    rest = [e.mark for e in iter(m.next_event, None) if isinstance(e, Drained)]
    assert answered + rest == marks
