"""Media DSP speed: 20 ms frames per second on one core, and multiples of real time.

Ours (``rvoip_sansio.media``, numpy) side by side with C peers where one is on the machine:

* DTMF detection against libspandsp's ``dtmf_rx`` (8 kHz only) through ctypes;
* VAD, noise suppression and AGC against libspeexdsp's preprocessor (``speex_preprocess_run``
  with only that feature enabled), echo cancellation against ``speex_echo_cancellation``
  (MDF, 128 ms tail) — both through ctypes;
* the conference mixer for N = 3, 10, 50 (no peer; cost per participant shown), and mixing
  8/16/48 kHz participants with the codecs package's resampler when it is importable.

Also printed: the echo cancellers' ERLE on the same synthetic room (measured, not
certified), so speed is read next to quality.

The contenders alternate in chunks and each one's time is summed, so load from other
processes lands on all alike: the ratios are what count.

    .venv/bin/python bench/bench_media.py [--seconds S]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rvoip_sansio.media import (
    AutomaticGainControl,
    ConferenceMixer,
    DtmfDetector,
    EchoCanceller,
    NoiseSuppressor,
    VoiceActivityDetector,
    dtmf_sequence,
    speech_like,
    white_noise,
)

FRAME_S = 0.02


def _lib(name: str) -> ctypes.CDLL | None:
    path = ctypes.util.find_library(name)
    try:
        return ctypes.CDLL(path or f"lib{name}.so")
    except OSError:
        return None


SPANDSP = _lib("spandsp")
SPEEXDSP = _lib("speexdsp")
if SPANDSP is not None:
    SPANDSP.dtmf_rx_init.restype = ctypes.c_void_p
    SPANDSP.dtmf_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    SPANDSP.dtmf_rx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
if SPEEXDSP is not None:
    SPEEXDSP.speex_preprocess_state_init.restype = ctypes.c_void_p
    SPEEXDSP.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    SPEEXDSP.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    SPEEXDSP.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    SPEEXDSP.speex_echo_state_init.restype = ctypes.c_void_p
    SPEEXDSP.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    SPEEXDSP.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    SPEEXDSP.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

# speex_preprocess.h request codes
_SET_DENOISE, _SET_AGC, _SET_VAD = 0, 2, 4
_SPEEX_ECHO_SET_SAMPLING_RATE = 24


def _frames(x: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(x[i : i + n]) for i in range(0, len(x) - n + 1, n)]


def race(contenders: dict[str, Callable[[int], Any]], rounds: int, per_round: int) -> dict[str, float]:
    """Frames per second of each contender; ``fn(k)`` processes ``k`` frames."""
    spent = {name: 0.0 for name in contenders}
    for fn in contenders.values():
        fn(2)  # warm-up
    for _ in range(rounds):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn(per_round)
            spent[name] += time.perf_counter() - t
    return {name: rounds * per_round / s for name, s in spent.items()}


def cycler(frames: list[Any], step: Callable[..., Any]) -> Callable[[int], None]:
    pos = 0

    def run(k: int) -> None:
        nonlocal pos
        for _ in range(k):
            step(frames[pos % len(frames)])
            pos += 1

    return run


def row(what: str, rate: int, fps: dict[str, float], ours: str = "ours") -> None:
    base = fps[ours]
    line = f"| {what} | {rate // 1000} kHz | {base:,.0f} | {base * FRAME_S:,.0f}x |"
    peers = [f"{name} {v:,.0f} ({base / v:.2f}x)" for name, v in fps.items() if name != ours]
    print(line + (" " + "; ".join(peers) if peers else " —") + " |")


def bench(seconds: float) -> None:
    rounds = 5
    print("| stage | rate | ours frames/s | ours x real time (streams/core) | peer frames/s (ours/peer) |")
    print("|---|---|---|---|---|")
    for rate in (8000, 16000):
        n = int(rate * FRAME_S)
        per = max(20, int(seconds * 50 / rounds))
        speech, _ = speech_like(rate, 4.0, level_dbov=-20, rng=random.Random(1))
        noisy = np.clip(speech.astype(int) + white_noise(rate, 4.0, level_dbov=-40, rng=random.Random(2)), -32768, 32767).astype(np.int16)
        sp = _frames(noisy, n)

        # DTMF
        keys = np.concatenate([dtmf_sequence("1234567890*#ABCD", rate, on=0.05, off=0.05), speech])
        kf = _frames(keys, n)
        det = DtmfDetector(rate)
        contenders: dict[str, Callable[[int], Any]] = {"ours": cycler(kf, det.process)}
        if SPANDSP is not None and rate == 8000:
            st = SPANDSP.dtmf_rx_init(None, None, None)
            contenders["spandsp"] = cycler(kf, lambda f: SPANDSP.dtmf_rx(st, f.ctypes.data, len(f)))
        row("DTMF detection", rate, race(contenders, rounds, per))

        # VAD / NS / AGC against speexdsp's preprocessor with one feature on
        def speex_pre(feature: int) -> Callable[[int], None] | None:
            if SPEEXDSP is None:
                return None
            st = SPEEXDSP.speex_preprocess_state_init(n, rate)
            for req in (_SET_DENOISE, _SET_AGC, _SET_VAD):
                v = ctypes.c_int(1 if req == feature else 0)
                SPEEXDSP.speex_preprocess_ctl(st, req, ctypes.byref(v))
            bufs = [f.copy() for f in sp]
            return cycler(bufs, lambda f: SPEEXDSP.speex_preprocess_run(st, f.ctypes.data))

        for label, ours, feature in (
            ("VAD", VoiceActivityDetector(rate).update, _SET_VAD),
            ("noise suppression", NoiseSuppressor(rate).process, _SET_DENOISE),
            ("AGC", AutomaticGainControl(rate).process, _SET_AGC),
        ):
            contenders = {"ours": cycler(sp, ours)}
            peer = speex_pre(feature)
            if peer is not None:
                contenders["speexdsp"] = peer
            row(label, rate, race(contenders, rounds, per))

        # AEC (128 ms tail)
        far = _frames(speech, n)
        mic = _frames(np.roll(noisy, 40) // 4, n)
        pairs = list(zip(mic, far))
        aec = EchoCanceller(rate)
        contenders = {"ours": cycler(pairs, lambda p: aec.process(p[0], p[1]))}
        if SPEEXDSP is not None:
            st = SPEEXDSP.speex_echo_state_init(n, int(rate * 0.128))
            r = ctypes.c_int(rate)
            SPEEXDSP.speex_echo_ctl(st, _SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
            out = np.zeros(n, np.int16)
            contenders["speexdsp"] = cycler(
                pairs, lambda p: SPEEXDSP.speex_echo_cancellation(st, p[0].ctypes.data, p[1].ctypes.data, out.ctypes.data)
            )
        row("echo canceller (128 ms)", rate, race(contenders, rounds, per))

        # Mixer
        for parts in (3, 10, 50):
            mixer = ConferenceMixer()
            for i in range(parts):
                mixer.add(i, rate)
            ticks = [{i: sp[(k + i) % len(sp)] for i in range(parts)} for k in range(20)]
            fps = race({"ours": cycler(ticks, mixer.mix)}, rounds, max(10, per // 2))
            base = fps["ours"]
            print(f"| mixer N={parts} (ticks/s) | {rate // 1000} kHz | {base:,.0f} | {base * FRAME_S:,.0f} conferences | {1e6 / base / parts:.1f} µs per participant per tick |")
    try:
        from rvoip_sansio.codecs import Resampler
    except ImportError:
        return
    mixer = ConferenceMixer(resampler=lambda a, b: Resampler(a, b).process)
    rates = [8000, 16000, 48000] * 4
    for i, r in enumerate(rates):
        mixer.add(i, r)
    ticks = [{i: np.zeros(int(r * FRAME_S), np.int16) for i, r in enumerate(rates)} for _ in range(5)]
    fps = race({"ours": cycler(ticks, mixer.mix)}, rounds, 20)
    print(f"| mixer N=12 at 8/16/48 kHz, mixed at 48 kHz (codecs Resampler) | mixed | {fps['ours']:,.0f} | {fps['ours'] * FRAME_S:,.0f} conferences | — |")


def erle_table() -> None:
    """Same synthetic room (128 ms, ERL 10 dB), speech-like far end, 10 s: ERLE of the last 5 s."""
    from scipy import signal  # dev extra; only this table needs it

    print("\n| echo canceller | rate | ERLE last 5 s, single talk (dB) |")
    print("|---|---|---|")
    for rate in (8000, 16000):
        n = int(rate * FRAME_S)
        far, _ = speech_like(rate, 10.0, level_dbov=-20, rng=random.Random(1), pause_fraction=0.1)
        g = np.random.default_rng(3)
        taps = int(rate * 0.128)
        h = g.standard_normal(taps) * 10 ** (-3 * np.arange(taps) / taps)
        h[: int(rate * 0.004)] = 0
        h *= 10 ** (-10 / 20) / np.sqrt(np.sum(h * h))
        echo = signal.lfilter(h, 1, far.astype(float))
        mic = np.clip(np.rint(echo), -32768, 32767).astype(np.int16)
        tail = slice(5 * rate, None)
        aec = EchoCanceller(rate)
        ours = np.concatenate([aec.process(m, f) for m, f in zip(_frames(mic, n), _frames(far, n))]).astype(float)
        res = {"ours (PBFDAF, two-path)": ours}
        if SPEEXDSP is not None:
            st = SPEEXDSP.speex_echo_state_init(n, taps)
            r = ctypes.c_int(rate)
            SPEEXDSP.speex_echo_ctl(st, _SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
            outs = []
            for m, f in zip(_frames(mic, n), _frames(far, n)):
                o = np.zeros(n, np.int16)
                SPEEXDSP.speex_echo_cancellation(st, m.ctypes.data, f.ctypes.data, o.ctypes.data)
                outs.append(o)
            res["speexdsp (MDF)"] = np.concatenate(outs).astype(float)
        for name, out in res.items():
            e = echo[: len(out)][tail]
            erle = 10 * np.log10(np.sum(e**2) / np.sum(out[tail] ** 2))
            print(f"| {name} | {rate // 1000} kHz | {erle:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="rough time per measurement")
    args = ap.parse_args()
    print(f"peers: spandsp {'yes' if SPANDSP else 'no'}, speexdsp {'yes' if SPEEXDSP else 'no'}\n")
    bench(args.seconds)
    erle_table()


if __name__ == "__main__":
    main()
