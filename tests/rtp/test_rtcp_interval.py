"""RTCP transmission intervals (RFC 3550 §6.3, A.7) against the math.

With a stable membership and timer reconsideration, A.7 draws T·U/(e-3/2), U uniform on
[0.5, 1.5], and on expiry re-draws, sending only when the new draw is not later. For draws
u in [0, 1] (rescaled) the sent value has CDF G(x) = 1 - (1 - x)·e^x, whose mean is e - 2, so
the mean interval is T·(0.5 + e - 2)/(e - 3/2) = T: the compensation factor makes the mean
exactly T, with every interval inside [0.5, 1.5]·T/(e - 3/2).
"""

from __future__ import annotations

import math
import random

import pytest

from rvoip_sansio.rtp import COMPENSATION, RtcpScheduler, RtpSession, RtpSessionConfig, rtcp_interval


def test_interval_formula_cases() -> None:
    rng = random.Random(0)
    lo, hi = 0.5 / COMPENSATION, 1.5 / COMPENSATION
    # small session: the 5 s minimum rules (2.5 s before the first report)
    for initial, tmin in ((False, 5.0), (True, 2.5)):
        xs = [rtcp_interval(2, 1, 500.0, False, 100.0, initial, rng) for _ in range(2000)]
        assert min(xs) >= tmin * lo and max(xs) <= tmin * hi
        assert sum(xs) / len(xs) == pytest.approx(tmin / COMPENSATION, rel=0.03)
    # large session, receiver: 75 % of the RTCP bandwidth shared by the non-senders
    t = 200.0 * 98 / (500.0 * 0.75)
    xs = [rtcp_interval(100, 2, 500.0, False, 200.0, False, rng) for _ in range(2000)]
    assert min(xs) >= t * lo and max(xs) <= t * hi
    # sender: 25 % shared by the senders
    t = 200.0 * 2 / (500.0 * 0.25)
    assert t < 5.0
    t2 = 200.0 * 20 / (500.0 * 0.25)
    xs = [rtcp_interval(100, 20, 500.0, True, 200.0, False, rng) for _ in range(2000)]
    assert min(xs) >= t2 * lo and max(xs) <= t2 * hi


def _sent_intervals(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    s = RtcpScheduler(rtcp_bw=500.0, rng=rng, now=0.0)
    s.set_members(2, 1, False)
    sent = []
    now = 0.0
    while len(sent) < count + 1:
        now = s.tn
        if s.on_expire(now):
            s.sent(now, 100)
            sent.append(now)
    return [b - a for a, b in zip(sent[1:], sent[2:])]


def test_reconsideration_mean_is_t_and_spread_bounded() -> None:
    xs = _sent_intervals(7, 6000)
    T = 5.0
    assert sum(xs) / len(xs) == pytest.approx(T, rel=0.02)
    assert min(xs) >= 0.5 * T / COMPENSATION - 1e-9
    assert max(xs) <= 1.5 * T / COMPENSATION + 1e-9
    # Kolmogorov-Smirnov against G(x) = 1 - (1 - x) e^x on the rescaled interval
    lo, span = 0.5 * T / COMPENSATION, T / COMPENSATION
    us = sorted((x - lo) / span for x in xs)
    n = len(us)
    d = max(max(abs((i + 1) / n - g), abs(i / n - g))
            for i, u in enumerate(us) for g in [1 - (1 - u) * math.exp(u)])
    assert d < 1.36 / math.sqrt(n)  # 95 % critical value


def test_session_rtcp_intervals_in_simulated_time() -> None:
    s = RtpSession(config=RtpSessionConfig(remote_rtp=("192.0.2.1", 4000),
                                           inactivity_timeout=None),
                   rng=random.Random(11), now=0.0)
    times = []
    while len(times) < 400:
        t = s.next_deadline()
        assert t is not None
        s.handle_timeout(t)
        if s.datagrams_to_send(t):
            times.append(t)
    assert times[0] <= 2.5 * 1.5 / COMPENSATION  # initial interval halved (§6.2)
    xs = [b - a for a, b in zip(times[1:], times[2:])]
    assert sum(xs) / len(xs) == pytest.approx(5.0, rel=0.06)
    assert 5.0 * 0.5 / COMPENSATION - 1e-9 <= min(xs) and max(xs) <= 5.0 * 1.5 / COMPENSATION + 1e-9


def test_reverse_reconsideration_on_bye() -> None:
    s = RtcpScheduler(rtcp_bw=100.0, rng=random.Random(1), now=0.0)
    s.set_members(40, 1, False)
    s.sent(0.0, 200)
    s.pmembers = 40
    tn = s.tn
    s.member_left(10.0, 20)
    assert s.tn == pytest.approx(10.0 + 0.5 * (tn - 10.0))
    assert s.tp == pytest.approx(10.0 - 0.5 * 10.0)


def test_bye_reconsideration_only_in_large_sessions() -> None:
    s = RtcpScheduler(rtcp_bw=100.0, rng=random.Random(1), now=0.0)
    assert s.leave(1.0, 60) is None
    s.set_members(80, 1, False)
    when = s.leave(1.0, 60)
    assert when is not None and when > 1.0
