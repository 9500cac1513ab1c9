"""Codec speed: 20 ms frames per second on one core, side by side with the reference libraries.

* G.711: ours (numpy tables) against CPython's ``audioop`` (C), per frame and in batches of
  100 frames (``ulaw_encode_frames`` / ``ulaw_decode_frames``).
* G.722: our scalar coder against the PyPI ``G722`` package and libspandsp (ctypes), as
  multiples of real time for one stream; our batch coder as concurrent streams per core.
* Opus: our ``OpusCodec`` against the same libopus called directly through a minimal ctypes
  loop, and against ``opuslib``.
* Resampling: frames per second of the streaming resampler (no peer in the same shape).

Times are CPU time of this process (``time.process_time``; BLAS limited to one thread), and
the contenders take turns in shuffled order with the median round kept, so load from other
processes disturbs the figures as little as possible; the ratios are what count.

    .venv/bin/python bench/bench_codecs.py [--scale S] [--quick] [--only g711 g722 ...]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # "per core": no BLAS helper threads

# CPU time of this process: on a shared machine, time spent waiting for the CPU while other
# processes run is not ours, and "per core" figures should not include it.
clock = time.process_time

import numpy as np  # noqa: E402

from rvoip_sansio.codecs import (  # noqa: E402
    G722BatchDecoder,
    G722BatchEncoder,
    G722Decoder,
    G722Encoder,
    Resampler,
    alaw2lin,
    alaw_encode,
    get_codec,
    lin2ulaw,
    ulaw2lin,
    ulaw_decode,
    ulaw_decode_frames,
    ulaw_encode,
    ulaw_encode_frames,
)
from rvoip_sansio.codecs._opus import load_libopus  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+
        audioop = None  # type: ignore[assignment]
try:
    import G722 as g722pkg
except ImportError:
    g722pkg = None
try:
    import opuslib
except ImportError:
    opuslib = None


def race(contenders: dict[str, Callable[[int], Any]], rounds: int, per_round: int) -> dict[str, float]:
    """Units per second of each contender; ``fn(k)`` does ``k`` units of work.

    The contenders take turns (in a shuffled order each round) and each one's rate is taken
    from its median round, so a burst of load from other processes skews no one.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    rng = random.Random(7)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            t0 = clock()
            contenders[name](per_round)
            times[name].append(clock() - t0)
    return {name: per_round / statistics.median(t) for name, t in times.items()}


def speech(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * rate)) / rate
    x = 4000 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    x += 1500 * np.sin(2 * np.pi * 1100 * t) + rng.normal(0, 300, len(t))
    return np.clip(x, -32768, 32767).astype(np.int16)


def row(table: list[tuple[str, str, str]], what: str, value: str, ratio: str = "") -> None:
    table.append((what, value, ratio))
    print(f"  {what:<58} {value:>16} {ratio:>12}", flush=True)


def bench_g711(table: list[tuple[str, str, str]], scale: float) -> None:
    """Per 20 ms frame and per batch of 100 frames, ours against audioop, one race each way.

    Every contender runs on the same 100 distinct frames (speech-like, so every code range
    occurs), in shuffled turns; each rate is its median round. "x100" contenders make one
    call per 100 frames and are compared with audioop called once per frame on the same 100
    frames (the loop a user would write) and, for reference, on the 100 frames joined.
    """
    print("G.711 (160-sample frames)")
    x = speech(2.0, 8000)
    frames = [x[i : i + 160] for i in range(0, len(x), 160)][:100]
    fbytes = [f.tobytes() for f in frames]
    block = np.stack(frames)
    codes = [ulaw_encode(f) for f in frames]
    acodes = [alaw_encode(f) for f in frames]
    joined_codes, joined_pcm = b"".join(codes), block.tobytes()
    pcmu = get_codec("PCMU", plc=False)
    nf = len(frames)

    # The tightest natural loop for every per-frame contender alike, and no lambda around
    # audioop (a lambda, *args or list indexing would add 30-50 ns each to its ~95 ns call
    # and flatter us).
    def loop(fn: Callable[..., Any], items: list[Any], width: int = 0) -> Callable[[int], None]:
        if width:  # a plain two-argument call, as written by hand (no *args unpacking)
            def run(k: int) -> None:
                for _ in range(k // nf):
                    for item in items:
                        fn(item, width)
        else:
            def run(k: int) -> None:
                for _ in range(k // nf):
                    for item in items:
                        fn(item)
        return run

    def batch(fn: Callable[[], Any]) -> Callable[[int], None]:
        def run(k: int) -> None:
            for _ in range(k // nf):
                fn()
        return run

    rounds = max(5, int(60 * scale))
    enc: dict[str, Callable[[int], Any]] = {
        "ours ulaw_encode (numpy in, bytes out)": loop(ulaw_encode, frames),
        "ours codec.encode": loop(pcmu.encode, frames),
        "ours lin2ulaw (bytes)": loop(lin2ulaw, fbytes, 2),
        "ours ulaw_encode_frames x100": batch(lambda: ulaw_encode_frames(block)),
        "ours lin2ulaw x100 joined": batch(lambda: lin2ulaw(joined_pcm, 2)),
    }
    dec: dict[str, Callable[[int], Any]] = {
        "ours ulaw_decode (bytes in, numpy out)": loop(ulaw_decode, codes),
        "ours codec.decode": loop(pcmu.decode, codes),
        "ours ulaw2lin (bytes)": loop(ulaw2lin, codes, 2),
        "ours alaw2lin (bytes)": loop(alaw2lin, acodes, 2),
        "ours ulaw_decode_frames x100": batch(lambda: ulaw_decode_frames(codes)),
        "ours ulaw2lin x100 joined": batch(lambda: ulaw2lin(joined_codes, 2)),
        "ours ulaw_decode x100 joined": batch(lambda: ulaw_decode(joined_codes)),
    }
    if audioop is not None:
        enc["audioop lin2ulaw"] = loop(audioop.lin2ulaw, fbytes, 2)
        enc["audioop lin2ulaw x100 joined"] = batch(lambda: audioop.lin2ulaw(joined_pcm, 2))
        dec["audioop ulaw2lin"] = loop(audioop.ulaw2lin, codes, 2)
        dec["audioop alaw2lin"] = loop(audioop.alaw2lin, acodes, 2)
        dec["audioop ulaw2lin x100 joined"] = batch(lambda: audioop.ulaw2lin(joined_codes, 2))
    results = {"encode": race(enc, rounds, 2000), "decode": race(dec, rounds, 2000)}
    for label, res in results.items():
        per_frame = res.get("audioop lin2ulaw" if label == "encode" else "audioop ulaw2lin")
        for name, v in res.items():
            base = per_frame
            if "alaw" in name:
                base = res.get("audioop alaw2lin", per_frame)
            if "joined" in name and not name.startswith("audioop"):
                base = res.get(f"audioop {'lin2ulaw' if label == 'encode' else 'ulaw2lin'}"
                               " x100 joined")
            ratio = f"{v / base:.2f}x audioop" if base else ""
            if "x100" in name and "joined" not in name and per_frame:
                ratio += " (per-frame calls)"
            row(table, f"G.711 {label}: {name}", f"{v:,.0f} fr/s", ratio)
    print(f"  (median of {rounds} interleaved rounds of 2000 frames each)")


class SpanDSP:
    def __init__(self) -> None:
        lib = ctypes.CDLL("libspandsp.so.2")
        vp = ctypes.c_void_p
        lib.g722_encode_init.restype = vp
        lib.g722_encode_init.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.g722_decode_init.restype = vp
        lib.g722_decode_init.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.g722_encode.argtypes = [vp, vp, vp, ctypes.c_int]
        lib.g722_decode.argtypes = [vp, vp, vp, ctypes.c_int]
        self.lib = lib
        self.enc = lib.g722_encode_init(None, 64000, 0)
        self.dec = lib.g722_decode_init(None, 64000, 0)
        self.obuf = ctypes.create_string_buffer(160)
        self.pcm = np.zeros(320, np.int16)

    def encode(self, frame: np.ndarray) -> bytes:
        n = self.lib.g722_encode(self.enc, self.obuf, frame.ctypes.data, 320)
        return self.obuf.raw[:n]

    def decode(self, codes: bytes) -> np.ndarray:
        self.lib.g722_decode(self.dec, self.pcm.ctypes.data, codes, len(codes))
        return self.pcm.copy()


def bench_g722(table: list[tuple[str, str, str]], scale: float, streams: list[int]) -> None:
    print("G.722 (320-sample frames at 16 kHz; 50 frames = 1 s of audio)")
    x = speech(2.0, 16000)
    frames = [x[i : i + 320] for i in range(0, len(x), 320)]
    enc = G722Encoder()
    dec = G722Decoder()
    codes = [G722Encoder().encode(f) for f in frames]
    nf = len(frames)
    contenders_e: dict[str, Callable[[int], Any]] = {}
    contenders_d: dict[str, Callable[[int], Any]] = {}

    def loop(fn: Callable[[Any], Any], items: list[Any]) -> Callable[[int], None]:
        def run(k: int) -> None:
            for i in range(k):
                fn(items[i % nf])
        return run

    contenders_e["ours G722Encoder"] = loop(enc.encode, frames)
    contenders_d["ours G722Decoder"] = loop(dec.decode, codes)
    if g722pkg is not None:
        pe, pd = g722pkg.G722(16000, 64000), g722pkg.G722(16000, 64000)
        contenders_e["G722 package"] = loop(pe.encode, frames)
        contenders_d["G722 package"] = loop(pd.decode, codes)
    try:
        sp = SpanDSP()
        contenders_e["spandsp (ctypes)"] = loop(sp.encode, frames)
        contenders_d["spandsp (ctypes)"] = loop(sp.decode, codes)
    except OSError:
        pass
    rounds = max(3, int(15 * scale))
    for label, res in (("encode", race(contenders_e, rounds, 25)),
                       ("decode", race(contenders_d, rounds, 25))):
        ours = res[f"ours G722{'Encoder' if label == 'encode' else 'Decoder'}"]
        for name, v in res.items():
            row(table, f"G.722 {label}: {name}", f"{v / 50:,.1f}x realtime",
                "" if name.startswith("ours") else f"ours {ours / v:.3f}x")
    # Best of 5 runs of one second each, alone: the least disturbed figure on a busy machine.
    best_e = best_d = 0.0
    for _ in range(5):
        e1, d1 = G722Encoder(), G722Decoder()
        t0 = clock()
        for f in frames[:50]:
            e1.encode(f)
        best_e = max(best_e, 1.0 / (clock() - t0))
        t0 = clock()
        for c in codes[:50]:
            d1.decode(c)
        best_d = max(best_d, 1.0 / (clock() - t0))
    row(table, "G.722 encode: ours G722Encoder, best of 5 s", f"{best_e:,.1f}x realtime")
    row(table, "G.722 decode: ours G722Decoder, best of 5 s", f"{best_d:,.1f}x realtime")
    for n in streams:
        pcm = np.stack([np.roll(frames[0], k) for k in range(n)])
        benc = G722BatchEncoder(n)
        bdec = G722BatchDecoder(n)
        c = benc.encode(pcm)
        reps = max(3, int(7 * scale))
        te_all, td_all = [], []
        for _ in range(reps):  # alternate, keep the median 20 ms frame of each
            t0 = clock()
            c = benc.encode(pcm)
            te_all.append(clock() - t0)
            t0 = clock()
            bdec.decode(c)
            td_all.append(clock() - t0)
        te, td = statistics.median(te_all), statistics.median(td_all)
        row(table, f"G.722 batch encode, {n} streams", f"{n * 0.02 / te:,.0f} streams/core")
        row(table, f"G.722 batch decode, {n} streams", f"{n * 0.02 / td:,.0f} streams/core")


def bench_opus(table: list[tuple[str, str, str]], scale: float) -> None:
    print("Opus (48 kHz mono, 20 ms, 32 kbit/s, complexity 5)")
    x = speech(2.0, 48000)
    frames = [np.ascontiguousarray(x[i : i + 960]) for i in range(0, len(x), 960)]
    nf = len(frames)
    ours = get_codec("opus", bitrate=32000, complexity=5)
    lib = load_libopus()
    err = ctypes.c_int()
    raw_enc = lib.opus_encoder_create(48000, 1, 2048, err)
    raw_dec = lib.opus_decoder_create(48000, 1, err)
    lib.opus_encoder_ctl(ctypes.c_void_p(raw_enc), ctypes.c_int(4002), ctypes.c_int32(32000))
    lib.opus_encoder_ctl(ctypes.c_void_p(raw_enc), ctypes.c_int(4010), ctypes.c_int32(5))
    out = ctypes.create_string_buffer(1500)
    pcm_out = np.zeros(5760, np.int16)
    opus_encode, opus_decode = lib.opus_encode, lib.opus_decode
    packets = [ours.encode(f) for f in frames]

    def direct_enc(k: int) -> None:
        for i in range(k):
            n = opus_encode(raw_enc, frames[i % nf].ctypes.data, 960, out, 1500)
            ctypes.string_at(out, n)

    def direct_dec(k: int) -> None:
        for i in range(k):
            p = packets[i % nf]
            n = opus_decode(raw_dec, p, len(p), pcm_out.ctypes.data, 5760, 0)
            pcm_out[:n].copy()

    def ours_enc(k: int) -> None:
        for i in range(k):
            ours.encode(frames[i % nf])

    def ours_dec(k: int) -> None:
        for i in range(k):
            ours.decode(packets[i % nf])

    ce = {"ours OpusCodec.encode": ours_enc, "libopus direct (ctypes)": direct_enc}
    cd = {"ours OpusCodec.decode": ours_dec, "libopus direct (ctypes)": direct_dec}
    if opuslib is not None:
        oe = opuslib.Encoder(48000, 1, opuslib.APPLICATION_VOIP)
        oe.bitrate = 32000
        oe.complexity = 5
        od = opuslib.Decoder(48000, 1)
        fb = [f.tobytes() for f in frames]
        ce["opuslib"] = lambda k: [oe.encode(fb[i % nf], 960) for i in range(k)]
        cd["opuslib"] = lambda k: [od.decode(packets[i % nf], 960) for i in range(k)]
    rounds = max(3, int(40 * scale))
    for label, res in (("encode", race(ce, rounds, 25)), ("decode", race(cd, rounds, 25))):
        ref = res["libopus direct (ctypes)"]
        for name, v in res.items():
            row(table, f"Opus {label}: {name}", f"{v:,.0f} fr/s", f"{v / ref:.3f}x direct")


def bench_resample(table: list[tuple[str, str, str]], scale: float) -> None:
    print("Resampler (20 ms frames, streaming)")
    for rin, rout in ((8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (16000, 48000)):
        rs = Resampler(rin, rout)
        x = speech(1.0, rin)
        n = rin // 50
        fr = [x[i : i + n] for i in range(0, len(x), n)]
        k = max(50, int(500 * scale))
        t0 = clock()
        for i in range(k):
            rs.process(fr[i % len(fr)])
        v = k / (clock() - t0)
        row(table, f"resample {rin} -> {rout}", f"{v:,.0f} fr/s")
    for rin, rout in ((8000, 16000), (16000, 8000), (48000, 16000)):
        streams = 300
        rs = Resampler(rin, rout, channels=streams)
        block = np.tile(speech(0.02, rin)[:, None], (1, streams))
        rs.process(block)
        k = max(5, int(50 * scale))
        t0 = clock()
        for _ in range(k):
            rs.process(block)
        per = (clock() - t0) / k
        row(table, f"resample {rin} -> {rout}, {streams} streams side by side",
            f"{streams * 0.02 / per:,.0f} streams/core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="work multiplier (default 1)")
    ap.add_argument("--quick", action="store_true", help="a fast smoke run")
    ap.add_argument("--streams", type=int, nargs="*", default=[50, 100, 300, 1000])
    ap.add_argument("--only", nargs="*", choices=["g711", "g722", "opus", "resample"],
                    help="run only these parts")
    args = ap.parse_args()
    scale = 0.1 if args.quick else args.scale
    only = set(args.only or ["g711", "g722", "opus", "resample"])
    table: list[tuple[str, str, str]] = []
    if "g711" in only:
        bench_g711(table, scale)
    if "g722" in only:
        bench_g722(table, scale, args.streams if not args.quick else [50])
    if "opus" in only:
        bench_opus(table, scale)
    if "resample" in only:
        bench_resample(table, scale)
    print("\n| what | rate | ratio |\n|---|---:|---:|")
    for what, value, ratio in table:
        print(f"| {what} | {value} | {ratio} |")


if __name__ == "__main__":
    main()
