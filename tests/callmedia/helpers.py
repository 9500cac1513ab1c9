"""Two CallMedia objects on rvoip_sansio.sim's simulated network, and tone measurement.

Frequency and level are measured with a windowed FFT peak (parabolic interpolation) and the
RMS of the received samples: an outside yardstick, not our own code path.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig
from rvoip_sansio.sim import LinkConfig, Network

A = ("10.0.0.1", 40000)
B = ("10.0.0.2", 50000)


def tone(freq: float, rate: int, seconds: float, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    n = int(round(rate * seconds))
    t = np.arange(n) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_frequency(x: npt.NDArray[Any], rate: int) -> float:
    x = np.asarray(x, np.float64)
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w))
    k = int(np.argmax(spec[1:])) + 1
    a, b, c = np.log(spec[k - 1] + 1e-12), np.log(spec[k] + 1e-12), np.log(spec[k + 1] + 1e-12)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + delta) * rate / len(x)


def rms(x: npt.NDArray[Any]) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def pair(*, seed: int = 1, link: LinkConfig | None = None, rtpmap: str = "PCMU/8000",
         payload_type: int = 0, a_kw: dict[str, Any] | None = None,
         b_kw: dict[str, Any] | None = None, record_trace: bool = True,
         ) -> tuple[Network, CallMedia, CallMedia]:
    net = Network(seed=seed, link=link or LinkConfig(delay=0.02), record_trace=record_trace)
    common = dict(rtpmap=rtpmap, payload_type=payload_type, receive_queue_frames=100_000)
    a = CallMedia(config=CallMediaConfig(**{**common, "remote_rtp": B, **(a_kw or {})}),
                  rng=random.Random(seed * 2 + 1), now=0.0)
    b = CallMedia(config=CallMediaConfig(**{**common, "remote_rtp": A, **(b_kw or {})}),
                  rng=random.Random(seed * 2 + 2), now=0.0)
    net.add_node("a", A, a)
    net.add_node("b", B, b)
    return net, a, b


def drain_frames(m: CallMedia) -> list[Any]:
    out = []
    while (f := m.read_frame()) is not None:
        out.append(f)
    return out
