"""RFC 3550 A.1 / A.3 / A.8 receiver statistics: probation, wrap, restarts, loss, jitter,
and loss/jitter figures over a seeded lossy jittery link matching the link's parameters."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.rtp import RtpSession, RtpSessionConfig, SourceStats, build_rtp

from .link import expected_rfc3550_jitter_uniform, lossy_jittery_link, uniform_jitter


def test_probation_needs_two_in_sequence() -> None:
    s = SourceStats(1, 100, 8000)
    assert not s.update_seq(100)
    assert s.update_seq(101)
    assert s.received == 1 and s.base_seq == 101
    # out-of-sequence during probation restarts it
    t = SourceStats(2, 10, 8000)
    assert not t.update_seq(10)
    assert not t.update_seq(50)
    assert t.update_seq(51)


def test_sequence_wrap_extends_and_counts_loss() -> None:
    s = SourceStats(1, 65530, 8000)
    s.update_seq(65530)
    for seq in [65531, 65532, 65533, 65535, 0, 1, 3, 4]:  # 65534 and 2 lost
        assert s.update_seq(seq)
    assert s.cycles == 65536 and s.max_seq == 4
    assert s.extended_max == 65536 + 4
    assert s.expected == 65536 + 4 - 65531 + 1 == 10
    assert s.received == 8 and s.cumulative_lost == 2
    rb = s.report_block(0.0)
    assert rb.fraction_lost == (2 << 8) // 10 and rb.highest_seq == 0x10004
    # next interval: nothing lost -> fraction 0
    for seq in (5, 6):
        s.update_seq(seq)
    assert s.report_block(1.0).fraction_lost == 0


def test_large_jump_then_restart() -> None:
    s = SourceStats(1, 1000, 8000)
    s.update_seq(1000)
    s.update_seq(1001)
    assert not s.update_seq(40000)  # one bad jump is ignored (A.1)
    assert s.update_seq(40001)  # two in a row: the source restarted
    assert s.base_seq == 40001 and s.received == 1


def test_duplicates_make_cumulative_loss_negative() -> None:
    s = SourceStats(1, 1, 8000)
    for seq in (1, 2, 3, 3, 3):
        s.update_seq(seq)
    assert s.cumulative_lost == -2


def test_jitter_a8_by_hand() -> None:
    # transit differences 0, 80, 0 (timestamp units): J = 0 -> 5 -> 4.6875
    s = SourceStats(1, 1, 8000)
    s.update_jitter(0, 0.0)
    s.update_jitter(160, 0.02)
    s.update_jitter(320, 0.05)  # 10 ms late: D = 80
    assert s.jitter == pytest.approx(5.0)
    s.update_jitter(480, 0.07)  # D = 0
    assert s.jitter == pytest.approx(4.6875)


def test_jitter_across_timestamp_wrap() -> None:
    s = SourceStats(1, 1, 8000)
    ts = 2**32 - 320
    for i in range(6):
        s.update_jitter((ts + 160 * i) & 0xFFFFFFFF, i * 0.02)
    assert s.jitter == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.lists(st.booleans(), min_size=5, max_size=300))
def test_loss_count_is_exact_for_any_start_and_pattern(start: int, keep: list[bool]) -> None:
    keep = [True, True] + keep
    s = SourceStats(1, start, 8000)
    for i, k in enumerate(keep):
        if k:
            s.update_seq((start + i) & 0xFFFF)
    last = max(i for i, k in enumerate(keep) if k)
    assert s.expected == last - 1 + 1  # base is the 2nd packet (probation)
    assert s.cumulative_lost == sum(not k for k in keep[1 : last + 1])


@pytest.mark.parametrize(("loss", "peak"), [(0.0, 0.015), (0.05, 0.015), (0.02, 0.006)])
def test_lossy_jittery_link_figures(loss: float, peak: float) -> None:
    """A 20 ms G.711 stream over a link with i.i.d. loss and uniform [0, peak] extra delay
    (peak < 20 ms, so no reordering): measured loss matches ``loss`` and A.8 jitter averages
    peak / 3 (E|X - Y| of two independent uniforms)."""
    rng = random.Random(1234)
    n = 10000
    seq0, ts0 = 65000, 2**32 - 50 * 160  # both wrap during the run
    pkts = [(i * 0.02, build_rtp(0, i == 0, (seq0 + i) & 0xFFFF, (ts0 + 160 * i) & 0xFFFFFFFF,
                                 0xABCD, b"\xff" * 160)) for i in range(n)]
    arrivals = lossy_jittery_link(pkts, rng, base_delay=0.04, jitter=uniform_jitter(peak),
                                  loss=loss)
    sess = RtpSession(config=RtpSessionConfig(), rng=random.Random(5), now=0.0)
    jit = []
    for t, data in arrivals:
        sess.receive(data, ("127.0.0.1", 5004), t)
        st_ = sess.source_stats(0xABCD)
        if st_ is not None:
            jit.append(st_.jitter_seconds)
    q = sess.quality_report(n * 0.02)
    assert q.loss_percent == pytest.approx(100 * loss, abs=0.6)
    assert st_ is not None and st_.cycles == 65536
    mean_jitter = sum(jit[200:]) / len(jit[200:])
    expected = expected_rfc3550_jitter_uniform(peak)
    # with loss, consecutive arrivals are further apart but their transit difference is
    # still of two independent delays: the same expectation holds
    assert mean_jitter == pytest.approx(expected, rel=0.12)
    assert q.jitter_ms == pytest.approx(1000 * expected, rel=0.5)
