"""Codec speed: 20 ms frames per second on one core, side by side with the reference libraries.

* G.711: ours, both paths (the optional C accelerator and pure numpy), against CPython's
  ``audioop`` (C), per frame and in batches of 100 frames (``ulaw_encode_frames`` /
  ``ulaw_decode_frames``), as ratios to audioop.
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
    alaw_encode,
    get_codec,
    ulaw_encode,
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


G711_OPS = (
    # (operation, ours per path, audioop per frame, audioop on the same call shape)
    ("μ-law encode, numpy in: ulaw_encode", "ulaw_encode", "lin2ulaw", None),
    ("A-law encode, numpy in: alaw_encode", "alaw_encode", "lin2alaw", None),
    ("μ-law encode, codec.encode (PCMU)", "codec.encode", "lin2ulaw", None),
    ("μ-law encode, bytes: lin2ulaw(b, 2)", "lin2ulaw", "lin2ulaw", None),
    ("μ-law decode, numpy out: ulaw_decode", "ulaw_decode", "ulaw2lin", None),
    ("A-law decode, numpy out: alaw_decode", "alaw_decode", "alaw2lin", None),
    ("μ-law decode, codec.decode (PCMU, plc=False)", "codec.decode", "ulaw2lin", None),
    ("μ-law decode, bytes: ulaw2lin(b, 2)", "ulaw2lin", "ulaw2lin", None),
    ("A-law decode, bytes: alaw2lin(b, 2)", "alaw2lin", "alaw2lin", None),
    ("μ-law encode x100: ulaw_encode_frames", "ulaw_encode_frames", "lin2ulaw", None),
    ("A-law encode x100: alaw_encode_frames", "alaw_encode_frames", "lin2alaw", None),
    ("μ-law decode x100: ulaw_decode_frames", "ulaw_decode_frames", "ulaw2lin", None),
    ("A-law decode x100: alaw_decode_frames", "alaw_decode_frames", "alaw2lin", None),
    ("μ-law encode x100 joined: lin2ulaw(joined, 2)", "lin2ulaw joined", "lin2ulaw",
     "lin2ulaw joined"),
    ("μ-law decode x100 joined: ulaw2lin(joined, 2)", "ulaw2lin joined", "ulaw2lin",
     "ulaw2lin joined"),
)


def g711_paths() -> dict[str, dict[str, Callable[..., Any]]]:
    """The G.711 functions of each path: the C accelerator (when active) and pure numpy."""
    from rvoip_sansio.codecs import _g711, _g711_bytes

    paths = {"pure": {**_g711.PURE, **_g711_bytes.PURE}}
    native = _g711.NATIVE  # None when not built or RVOIP_PURE=1: then the column reads "—"
    if native is not None:
        paths = {"native": {n: getattr(native, n) for n in paths["pure"]}, **paths}
    return paths


def g711_codec(fns: dict[str, Callable[..., Any]]) -> Any:
    """A PCMU codec (no PLC) bound to one path: G711Codec takes the module's functions."""
    from rvoip_sansio.codecs import _g711

    saved = {n: getattr(_g711, n) for n in _g711.PURE}
    try:
        for n in _g711.PURE:
            setattr(_g711, n, fns[n])
        return get_codec("PCMU", plc=False)
    finally:
        for n, fn in saved.items():
            setattr(_g711, n, fn)


def bench_g711(table: list[tuple[str, str, str]], scale: float) -> None:
    """Per 20 ms frame and per batch of 100 frames: native and pure side by side with audioop.

    Every contender runs on the same 100 distinct frames (speech-like, so every code range
    occurs), in shuffled turns; each rate is its median round. Per-frame contenders and
    audioop run in the same bare loop (no lambda, no indexing: those would add 30-50 ns to
    audioop's ~95 ns call and flatter us). "x100" contenders make one call per 100 frames and
    are compared with audioop called once per frame on the same 100 frames (the loop a user
    would write); "joined" ones with audioop called once on the 100 frames joined.
    """
    print("G.711 (160-sample frames)")
    x = speech(2.0, 8000)
    frames = [x[i : i + 160] for i in range(0, len(x), 160)][:100]
    nf = len(frames)
    block = np.stack(frames)
    data: dict[str, list[Any]] = {
        "pcm": frames, "pcm bytes": [f.tobytes() for f in frames],
        "ulaw": [ulaw_encode(f) for f in frames], "alaw": [alaw_encode(f) for f in frames],
    }
    joined = {"pcm": block.tobytes(), "ulaw": b"".join(data["ulaw"])}

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

    def batch(fn: Callable[[Any], Any], arg: Any, width: int = 0) -> Callable[[int], None]:
        def run(k: int) -> None:
            for _ in range(k // nf):
                fn(arg, width) if width else fn(arg)
        return run

    def contender(name: str, fns: dict[str, Callable[..., Any]], codec: Any) -> Callable[[int], None]:
        law = "alaw" if "alaw" in name else "ulaw"
        if name == "codec.encode":
            return loop(codec.encode, frames)
        if name == "codec.decode":
            return loop(codec.decode, data["ulaw"])
        if name.endswith(" joined"):
            fn = fns[name.split()[0]]
            return batch(fn, joined["pcm" if fn is fns["lin2ulaw"] else "ulaw"], 2)
        if name.endswith("_frames"):
            return batch(fns[name], block if "encode" in name else data[law])
        if name in ("lin2ulaw", "lin2alaw"):
            return loop(fns[name], data["pcm bytes"], 2)
        if name in ("ulaw2lin", "alaw2lin"):
            return loop(fns[name], data[law], 2)
        return loop(fns[name], frames if "encode" in name else data[law])

    paths = g711_paths()
    races: dict[str, dict[str, Callable[[int], Any]]] = {"encode": {}, "decode": {}}
    for path, fns in paths.items():
        codec = g711_codec(fns)
        for _, ours, _, _ in G711_OPS:
            kind = "encode" if "encode" in ours or "lin2" in ours else "decode"
            races[kind][f"{path} {ours}"] = contender(ours, fns, codec)
    if audioop is not None:
        for fn in ("lin2ulaw", "lin2alaw"):
            races["encode"][f"audioop {fn}"] = loop(getattr(audioop, fn), data["pcm bytes"], 2)
        for fn, law in (("ulaw2lin", "ulaw"), ("alaw2lin", "alaw")):
            races["decode"][f"audioop {fn}"] = loop(getattr(audioop, fn), data[law], 2)
        races["encode"]["audioop lin2ulaw joined"] = batch(audioop.lin2ulaw, joined["pcm"], 2)
        races["decode"]["audioop ulaw2lin joined"] = batch(audioop.ulaw2lin, joined["ulaw"], 2)
    rounds = max(5, int(60 * scale))
    res = {**race(races["encode"], rounds, 2000), **race(races["decode"], rounds, 2000)}

    def ratio(name: str, base: str) -> str:
        ref = res.get(f"audioop {base}")
        return f"{res[name] / ref:.2f}x" if ref and name in res else "—"

    summary = []
    for op, ours, per_frame, same_shape in G711_OPS:
        cells = [ratio(f"{p} {ours}", same_shape or per_frame) for p in ("native", "pure")]
        summary.append((op, *cells))
        for path in paths:
            name = f"{path} {ours}"
            row(table, f"G.711 {name}", f"{res[name]:,.0f} fr/s",
                f"{ratio(name, same_shape or per_frame)} audioop")
    for name, v in res.items():
        if name.startswith("audioop"):
            row(table, f"G.711 {name}", f"{v:,.0f} fr/s")
    print(f"  (median of {rounds} interleaved rounds of 2000 frames each)")
    print("\n| G.711 operation (20 ms frames) | native | pure |\n|---|---:|---:|")
    for op, native, pure in summary:
        print(f"| {op} | {native} | {pure} |")
    print()


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
