"""CPU per call-tick of the pure media core (rvoip_sansio.callmedia), no sockets, no loop.

Both ends of N G.711 μ-law calls run in this process on one virtual 20 ms clock: each tick
every clock runs (one ``CallMediaGroup`` per side, or each ``CallMedia``'s own
``next_deadline``/``handle_timeout``), every datagram a call produced goes straight into
its peer's ``receive`` (a dict lookup instead of ``sendto``/``recvfrom``), and every 100 ms
the application writes 100 ms of a 440 Hz tone and reads every frame (as in
``bench_adapters.py media-cpu``). Application rate 8 kHz (no resampling: issue 8's calls)
or 16 kHz (8 <-> 16 kHz resampling both ways: issue 10's bot calls); SRTP
AES_CM_128_HMAC_SHA1_80 off or on. Reported: process CPU time (``time.process_time``)
per call per tick in µs over 2 s of media after 1 s of warm-up, the median of the runs
and their range, and the calls one core carries at that cost (20 ms / cost, one end each).
Sockets are left out on purpose: ``sendto`` + ``recvfrom`` add ~5 µs per call-tick.

    .venv/bin/python bench/bench_media_cpu.py [--quick] [--counts 100,500] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rvoip_sansio.callmedia import (  # noqa: E402
    CallMedia, CallMediaConfig, CallMediaGroup, SrtpKeys,
)
from rvoip_sansio.srtp import SrtpPolicy  # noqa: E402

KEY = bytes(range(30))
PROFILE = "AES_CM_128_HMAC_SHA1_80"


def us_per_call_tick(n: int, srtp: bool, group: bool, rate: int, seconds: float = 2.0) -> float:
    keys = (SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY))
            if srtp else None)
    addrs = [("127.0.0.1", 20000 + i) for i in range(2 * n)]
    index = {a: i for i, a in enumerate(addrs)}
    groups = [CallMediaGroup(now=0.0), CallMediaGroup(now=0.0)] if group else []
    medias = []
    for i in range(2 * n):
        cfg = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=rate, frame_ms=20,
                              remote_rtp=addrs[(i + n) % (2 * n)], srtp=keys,
                              receive_queue_frames=50)
        m = CallMedia(config=cfg, rng=random.Random(i), now=0.0)
        if group:
            groups[i >= n].add(m)
        medias.append(m)
    tone = np.round(3000 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.int16)
    chunk = rate // 10
    warm, ticks = 50, int(seconds / 0.02)
    heard = 0
    c0 = 0.0
    for k in range(warm + ticks):
        if k == warm:
            c0, heard = time.process_time(), 0
        now = k * 0.02
        if k % 5 == 0:
            part = tone[(k // 5 % 10) * chunk:(k // 5 % 10 + 1) * chunk]
            for m in medias:
                m.write(part)
                while (frame := m.read_frame()) is not None:
                    heard += frame.flags.is_speech
        for g in groups:
            g.handle_timeout(now)
        inbox = []
        for i, m in enumerate(medias):
            d = m.next_deadline()
            if d is not None and d <= now:
                m.handle_timeout(now)
            for t in m.datagrams_to_send(now):
                inbox.append((index[t.dest], t.data, addrs[i]))
        for j, data, src in inbox:
            medias[j].receive(data, src, now)
    cpu = time.process_time() - c0
    # Nearly every frame read after warm-up is decoded speech (the tone): the calls worked.
    assert heard >= 0.9 * 2 * n * (ticks - 10), heard
    return cpu / (2 * n * ticks) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--counts", default=None, help="comma-separated call counts (default 100,500)")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")] if args.counts else (
        [100] if args.quick else [100, 500])
    reps = args.reps or (3 if args.quick else 5)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"load average {load}; {reps} runs each, 2 media s per run\n")
    print("| app rate | driving | SRTP | N calls | µs per call-tick (median) | range "
          "| calls per core (20 ms / median) |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for rate in (8000, 16000):
        for group in (False, True):
            for srtp in (False, True):
                for n in counts:
                    vals = sorted(us_per_call_tick(n, srtp, group, rate) for _ in range(reps))
                    med = statistics.median(vals)
                    print(f"| {rate // 1000} kHz | {'CallMediaGroup' if group else 'clock per call'} "
                          f"| {'on' if srtp else 'off'} | {n} | {med:.1f} | {vals[0]:.1f}–{vals[-1]:.1f} "
                          f"| {20000 / med:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
