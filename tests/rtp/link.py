"""A small seeded network-link model for simulated-time RTP tests (independent of
rvoip_sansio.sim): pure functions of a ``random.Random`` giving ``(arrival_time, packet)``."""

from __future__ import annotations

import random
from typing import Callable, TypeVar

T = TypeVar("T")


def send_times(count: int, interval: float = 0.02, start: float = 0.0) -> list[float]:
    return [start + i * interval for i in range(count)]


def lossy_jittery_link(
    packets: list[tuple[float, T]],
    rng: random.Random,
    *,
    base_delay: float = 0.03,
    jitter: Callable[[random.Random], float] = lambda r: 0.0,
    loss: float = 0.0,
    duplicate: float = 0.0,
) -> list[tuple[float, T]]:
    """Each packet is lost with probability ``loss`` (independently), else delayed by
    ``base_delay + jitter(rng)`` (so it may be reordered) and maybe duplicated. Returns the
    deliveries sorted by arrival time."""
    out: list[tuple[float, T]] = []
    for t, p in packets:
        if rng.random() < loss:
            continue
        out.append((t + base_delay + jitter(rng), p))
        if duplicate and rng.random() < duplicate:
            out.append((t + base_delay + jitter(rng), p))
    out.sort(key=lambda x: x[0])
    return out


def uniform_jitter(peak: float) -> Callable[[random.Random], float]:
    """Extra delay uniform in [0, peak] seconds."""
    return lambda r: r.uniform(0.0, peak)


def expected_rfc3550_jitter_uniform(peak: float) -> float:
    """Expected RFC 3550 interarrival jitter (seconds) for i.i.d. uniform [0, peak] delay on
    equally spaced packets: E|X - Y| for two independent uniforms = peak / 3 (A.8's estimator
    converges to the mean absolute transit difference)."""
    return peak / 3.0
