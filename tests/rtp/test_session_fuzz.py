"""Hypothesis drives a session with random mixes of valid, mutated and garbage datagrams,
timer firings and sends: nothing raises, memory stays bounded, deadlines stay sane."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import ParseError
from rvoip_sansio.rtp import (
    ReceiverReport,
    ReportBlock,
    RtpSession,
    RtpSessionConfig,
    SdesChunk,
    SdesItem,
    SourceDescription,
    TelephoneEvent,
    build_compound,
    build_rtp,
)

SOURCES = [("192.0.2.1", 4000), ("192.0.2.1", 4002), ("198.51.100.7", 9000)]

valid_rtp = st.builds(
    lambda pt, seq, ts, ssrc, m, n: build_rtp(pt, m, seq, ts, ssrc, b"\x00" * n),
    st.sampled_from([0, 8, 13, 101, 96]), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1),
    st.sampled_from([1, 2, 0xFFFFFFFF]), st.booleans(), st.integers(0, 200))
valid_rtcp = st.builds(
    lambda ssrc, cname, lsr: build_compound([
        ReceiverReport(ssrc=ssrc, reports=(ReportBlock(ssrc=ssrc ^ 1, lsr=lsr, dlsr=7),)),
        SourceDescription(chunks=(SdesChunk(ssrc=ssrc, items=(SdesItem(type=1, value=cname),)),))]),
    st.sampled_from([1, 2, 3]), st.binary(max_size=20), st.integers(0, 2**32 - 1))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(valid_rtp | valid_rtcp))
    for _ in range(draw(st.integers(1, 3))):
        if base:
            base[draw(st.integers(0, len(base) - 1))] = draw(st.integers(0, 255))
    return bytes(base[: draw(st.integers(0, len(base)))])


action = st.one_of(
    st.tuples(st.just("rx"), valid_rtp | valid_rtcp | mutated() | st.binary(max_size=60),
              st.sampled_from(SOURCES), st.floats(0, 0.5)),
    st.tuples(st.just("timer"), st.just(b""), st.just(SOURCES[0]), st.floats(0, 3.0)),
    st.tuples(st.just("send"), st.binary(max_size=160), st.just(SOURCES[0]), st.floats(0, 0.1)),
    st.tuples(st.just("pop"), st.just(b""), st.just(SOURCES[0]), st.floats(0, 0.05)),
    st.tuples(st.just("dtmf"), st.just(b""), st.just(SOURCES[0]), st.floats(0, 0.1)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1000), st.lists(action, max_size=60))
def test_session_never_raises(seed: int, actions: list[tuple[str, bytes, tuple[str, int], float]]) -> None:
    s = RtpSession(config=RtpSessionConfig(remote_rtp=SOURCES[0], max_sources=4),
                   rng=random.Random(seed), now=0.0)
    now = 0.0
    for kind, data, src, dt in actions:
        now += dt
        if kind == "rx":
            s.receive(data, src, now)
        elif kind == "timer":
            d = s.next_deadline()
            assert d is not None
            s.handle_timeout(max(now, d))
            now = max(now, d)
        elif kind == "send":
            s.send_audio(data, now)
        elif kind == "pop":
            s.pop_frame(now)
        elif kind == "dtmf":
            s.send_dtmf("1#", now)
        s.datagrams_to_send(now)
        while s.next_event() is not None:
            pass
    assert len(s._sources) <= 4
    assert s.jitter_buffer.depth <= s.jitter_buffer.config.max_packets
    s.quality_report(now)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=8))
def test_fuzz_telephone_event(data: bytes) -> None:
    try:
        te = TelephoneEvent.parse(data)
    except ParseError:
        assert len(data) < 4
        return
    assert bytes(te)[0] == data[0] and bytes(te)[2:] == data[2:4]
