"""Packet-loss concealment speed (G.711 Appendix I): the C path against the numpy path.

A speech-like signal in 10 ms frames runs through one ``WaveformConcealer`` with bursts of
1 to 4 lost 10 ms units between runs of 6 good frames; every call is timed on its own
(``perf_counter_ns``, the timer's own cost subtracted) and the table gives the median per
kind of call, in µs:

* ``conceal, 1st 10 ms``: the start of a loss (pitch search, buffer set-up);
* ``conceal, 2nd-3rd 10 ms``: one more pitch period overlap-added in, fade;
* ``conceal, 4th+ 10 ms``: repeat and fade (silence after 60 ms);
* ``conceal, per 10 ms (bursts 1-4)``: the mean cost of a concealed unit over the bursts;
* ``receive, first frame after a loss``: the overlap-add back into the real signal;
* ``receive, no loss``: a plain good frame (history and output delay), for scale;
* ``PCMU decode`` / ``PCMU conceal``: what a call's 20 ms tick costs through ``G711Codec``
  (the decode with its history kept as codes, the concealment of one 20 ms packet).

At 8 kHz the same sequence also goes through libspandsp's ``plc_rx``/``plc_fillin`` (its
G.711 Appendix I style concealer, ctypes; 8 kHz only) as an outside reference: the ctypes
call itself costs about 0.5-1 µs of that figure.

    .venv/bin/python bench/bench_plc.py [--rounds N]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from rvoip_sansio.codecs import G711Codec, _plc, ulaw_encode  # noqa: E402
from rvoip_sansio.codecs._plc import WaveformConcealer  # noqa: E402
from tests.codecs.speechlike import speech_like  # noqa: E402

KINDS = ("conceal, 1st 10 ms", "conceal, 2nd-3rd 10 ms", "conceal, 4th+ 10 ms",
         "conceal, per 10 ms (bursts 1-4)", "receive, first frame after a loss",
         "receive, no loss")
BURSTS = (1, 2, 3, 4)
now = time.perf_counter_ns


def timer_cost() -> float:
    samples = []
    for _ in range(2000):
        t0 = now()
        samples.append(now() - t0)
    return float(statistics.median(samples))


class Spandsp:
    """libspandsp's concealer through ctypes (8 kHz; receives in place, no output delay)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL("libspandsp.so.2")
        vp = ctypes.c_void_p
        lib.plc_init.restype = vp
        lib.plc_init.argtypes = [vp]
        lib.plc_rx.argtypes = [vp, vp, ctypes.c_int]
        lib.plc_fillin.argtypes = [vp, vp, ctypes.c_int]
        self.lib, self.s = lib, lib.plc_init(None)
        self.buf = np.zeros(80, np.int16)
        self.ptr = self.buf.ctypes.data

    def receive(self, frame: np.ndarray) -> np.ndarray:
        self.buf[:] = frame
        self.lib.plc_rx(self.s, self.ptr, len(frame))
        return self.buf

    def conceal(self, n: int) -> np.ndarray:
        self.lib.plc_fillin(self.s, self.ptr, n)
        return self.buf


def run_sequence(plc: WaveformConcealer | Spandsp, x: np.ndarray, unit: int,
                 cost: float) -> dict[str, list[float]]:
    """Times of each call by kind (ns) over ``x`` in frames of ``unit`` with loss bursts."""
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    per_unit = times["conceal, per 10 ms (bursts 1-4)"]
    frames = [x[i : i + unit] for i in range(0, len(x) - unit + 1, unit)]
    receive, conceal = plc.receive, plc.conceal
    i = b = 0
    lost_before = False
    while i < len(frames):
        for _ in range(6):  # good frames
            if i >= len(frames):
                break
            f = frames[i]
            t0 = now()
            receive(f)
            dt = now() - t0 - cost
            times["receive, first frame after a loss" if lost_before else "receive, no loss"].append(dt)
            lost_before = False
            i += 1
        for k in range(BURSTS[b % len(BURSTS)]):  # lost units
            t0 = now()
            conceal(unit)
            dt = now() - t0 - cost
            kind = ("conceal, 1st 10 ms" if k == 0 else
                    "conceal, 2nd-3rd 10 ms" if k < 3 else "conceal, 4th+ 10 ms")
            times[kind].append(dt)
            per_unit.append(dt)
            i += 1
        lost_before = True
        b += 1
    return times


def codec_times(x: np.ndarray, cost: float) -> dict[str, list[float]]:
    """PCMU at 20 ms: decode (codes kept as history) and the concealment of one packet."""
    codec = G711Codec("PCMU")
    payloads = [ulaw_encode(x[i : i + 160]) for i in range(0, len(x) - 159, 160)]
    out: dict[str, list[float]] = {"PCMU decode 20 ms (no loss)": [],
                                   "PCMU conceal 20 ms (one lost packet)": []}
    for j, p in enumerate(payloads):
        lost = j % 8 == 7
        t0 = now()
        if lost:
            codec.conceal()
        else:
            codec.decode(p)
        dt = now() - t0 - cost
        out["PCMU conceal 20 ms (one lost packet)" if lost else "PCMU decode 20 ms (no loss)"].append(dt)
    return out


def measure(rate: int, path: str, rounds: int, cost: float) -> dict[str, float]:
    """Median µs per kind for ``path`` ("C", "numpy" or "spandsp") at ``rate``."""
    x = speech_like(4.0, rate, seed=3)
    unit = rate // 100
    merged: dict[str, list[float]] = {}
    _plc.NATIVE = native if path == "C" else None
    for r in range(rounds):
        plc: WaveformConcealer | Spandsp = Spandsp() if path == "spandsp" else WaveformConcealer(rate)
        gc.disable()
        try:
            got = run_sequence(plc, np.roll(x, r * 997), unit, cost)
            if rate == 8000 and path != "spandsp":
                got |= codec_times(np.roll(x, r * 997), cost)
        finally:
            gc.enable()
        for k, v in got.items():
            merged.setdefault(k, []).extend(v)
    res = {k: statistics.median(v) / 1000 for k, v in merged.items() if v}
    res["conceal, per 10 ms (bursts 1-4)"] = statistics.fmean(merged["conceal, per 10 ms (bursts 1-4)"]) / 1000
    return res


native = _plc.load_native()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="passes over 4 s of speech per path")
    args = ap.parse_args()
    if native is None:
        sys.exit("bench_plc: the C accelerator _plc_native is not built (pip install -e .)")
    try:
        Spandsp()
        peers = ["spandsp"]
    except OSError:
        peers = []
    cost = timer_cost()
    print(f"# G.711 Appendix I concealment, µs per call (median; timer cost {cost:.0f} ns "
          f"subtracted; 'per 10 ms' is a mean), {args.rounds} rounds of 4 s of speech")
    for rate in (8000, 16000):
        paths = ["C", "numpy"] + (peers if rate == 8000 else [])
        res = {p: measure(rate, p, args.rounds, cost) for p in paths}
        head = " | ".join(paths)
        print(f"\n## {rate} Hz\n\n| call | {head} | numpy / C |"
              + (" spandsp / C |" if len(paths) > 2 else ""))
        print("|---|" + "---:|" * (len(paths) + 1 + (len(paths) > 2)))
        kinds = [k for k in res["C"] if k in res["numpy"]]
        for k in kinds:
            cells = " | ".join(f"{res[p][k]:.2f}" if k in res[p] else "-" for p in paths)
            ratio = f"{res['numpy'][k] / res['C'][k]:.1f}x"
            extra = ""
            if len(paths) > 2:
                extra = (f" {res['spandsp'][k] / res['C'][k]:.2f}x |" if k in res["spandsp"]
                         else " - |")
            print(f"| {k} | {cells} | {ratio} |{extra}")


if __name__ == "__main__":
    main()
