"""PhoneCore concurrent calls per core: N calls between two PhoneCores on rvoip_sansio.sim
(no trace), each end writing 20 ms of 16 kHz audio per tick and reading every frame
(8<->16 kHz resampling both ways, PCMU); CPU time of the whole run (both cores + the
simulated network). legs per core = 2 ends x N x media seconds / CPU seconds.

    .venv/bin/python bench/bench_phone.py [--calls 50,100,200] [--seconds 2] [--srtp]
        [--blas default,1] [--repeat 1]

Each configuration runs in a fresh process (OPENBLAS_NUM_THREADS must be set before numpy
loads): ``--blas default`` leaves the environment as it is, ``--blas 1`` sets
OPENBLAS_NUM_THREADS=1. Both drivings are measured: ``group`` (PhoneConfig.media_group=True,
one CallMediaGroup clock) and ``per-call`` (one clock per call). Also printed: the CPU cost
of one media input (media_receive + both pumps + next_deadline), which must not grow with N.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def run(n: int, seconds: float, srtp_on: bool, group: bool, profile: object = None) -> dict[str, float]:
    import random
    import time

    import numpy as np

    from rvoip_sansio.phone import IncomingCall, PhoneConfig, PhoneCore, SrtpMode
    from rvoip_sansio.sdp import PCMU
    from rvoip_sansio.sim import LinkConfig, MultiSocketNode, Network

    srtp = SrtpMode.SDES if srtp_on else SrtpMode.NONE
    net = Network(seed=1, link=LinkConfig(delay=0.02), record_trace=False)
    cores: dict[str, PhoneCore] = {}
    nodes: dict[str, MultiSocketNode] = {}

    def app(name: str):  # type: ignore[no-untyped-def]
        def on(node, e, now):  # type: ignore[no-untyped-def]
            if isinstance(e, IncomingCall):
                cores[name].answer(e.call_id, now, rtp=nodes[name].bind())
        return on

    for name, addr in (("a", ("10.0.0.1", 5060)), ("b", ("10.0.0.2", 5060))):
        cores[name] = PhoneCore(config=PhoneConfig(
            user=name, local=addr, codecs=(PCMU,), srtp=srtp, media_group=group,
            srtp_required=srtp is not SrtpMode.NONE, rtp_timeout=None),
            rng=random.Random(1), key_rng=random.Random(2))
        nodes[name] = MultiSocketNode(net, name, addr, cores[name], on_event=app(name),
                                      first_port=40000 if name == "a" else 50000)
    ids: list[str] = []
    for i in range(n):
        net.at(i * 0.001, lambda now: ids.append(
            cores["a"].call("sip:b@10.0.0.2", now, rtp=nodes["a"].bind())))
    net.run(until=1.0)
    assert len(cores["b"].calls) == n, len(cores["b"].calls)
    chunk = (3000 * np.sin(np.arange(320) / 5)).astype(np.int16)

    def feed(now: float) -> None:
        for c in cores.values():
            for cid in ids:
                c.write(cid, chunk)
                while c.read_frame(cid) is not None:
                    pass
        if now + 0.02 < 1.0 + seconds:
            net.at(now + 0.02, feed)

    net.at(1.0, feed)
    t0 = time.process_time()
    if profile is not None:
        profile.enable()  # type: ignore[attr-defined]
    net.run(until=1.0 + seconds)
    if profile is not None:
        profile.disable()  # type: ignore[attr-defined]
    cpu = time.process_time() - t0
    # One media input on a running phone, the adapter's whole pump (no tick due).
    core = cores["b"]
    local = next(iter(nodes["b"].sockets))
    pkt = bytes([0x80, 0x00]) + bytes(10) + bytes(160)  # any RTP; SSRC 0 is a new source
    now = net.now
    k = 2000
    t1 = time.process_time()
    for _ in range(k):
        core.media_receive(local, pkt, ("10.0.0.1", 40000), now)
        core.media_datagrams_to_send(now)
        core.datagrams_to_send(now)
        while core.next_event() is not None:
            pass
        core.next_deadline()
    per_input = (time.process_time() - t1) / k
    return {"legs": 2 * n * seconds / cpu, "cpu": cpu, "input_us": per_input * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="50,100,200")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--srtp", action="store_true")
    ap.add_argument("--blas", default="default,1")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, group = args.child.split(":")
        best: dict[str, float] | None = None
        for _ in range(args.repeat):
            r = run(int(n), args.seconds, args.srtp, group == "group")
            if best is None or r["legs"] > best["legs"]:
                best = r
        print(json.dumps(best))
        return
    print(f"legs per core (both ends + sim), PCMU 8<->16 kHz, SRTP {'on' if args.srtp else 'off'}, "
          f"{args.seconds:g} s of media, best of {args.repeat}")
    print(f"{'BLAS threads':>12} {'N':>4} {'group':>8} {'per-call':>9} {'ratio':>6} "
          f"{'input µs (group)':>17} {'input µs (per-call)':>20}")
    for blas in args.blas.split(","):
        env = dict(os.environ)
        if blas != "default":
            env["OPENBLAS_NUM_THREADS"] = blas
        for n in (int(x) for x in args.calls.split(",")):
            got = {}
            for mode in ("group", "per-call"):
                cmd = [sys.executable, __file__, "--child", f"{n}:{mode}", "--seconds",
                       str(args.seconds), "--repeat", str(args.repeat)] + (["--srtp"] if args.srtp else [])
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                got[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            g, p = got["group"], got["per-call"]
            print(f"{blas:>12} {n:>4} {g['legs']:>8.0f} {p['legs']:>9.0f} {g['legs'] / p['legs']:>6.2f} "
                  f"{g['input_us']:>17.1f} {p['input_us']:>20.1f}", flush=True)


if __name__ == "__main__":
    main()
