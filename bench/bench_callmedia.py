"""Call media (rvoip_sansio.callmedia): the stack's own one-way latency, and bot calls per core.

1. Latency, in simulated time (no sleeps, exact): zero network jitter, a fixed 20 ms path.
   * send: the application writes a 20 ms chunk (16 kHz) at a random instant between two
     media ticks; we measure the time until the RTP packet carrying its first sample leaves
     (``write -> packet``), and the same plus the resampler's group delay (``signal``: when
     the written sample's energy is actually in a packet, found by cross-correlating the
     decoded packets with the written chirp).
   * receive: a packet arrives at a random phase of our media clock; we measure until the
     frame holding its samples is in the receive queue (``packet -> frame``: jitter buffer
     minimum 20 ms plus waiting for the next tick), and the same plus the decoder's
     algorithmic delay (G.711 Appendix I PLC 3.75 ms) and the 8 -> 16 kHz resampler delay.
   100 random phases each; mean and max reported.
2. Barge-in, in simulated time: a 2 s tone is queued, ``clear()`` is called at a random
   instant; counted on the packets sent (decoded): tone packets after the clear (must be 0),
   the one frame already sent in the last 20 ms, how much of the cleared tone's media time
   lies after the clear instant, and at the far end (a second CallMedia over a 20 ms path)
   the span of tone it delivered against the span in the packets (nothing else is heard).
3. CPU: N calls, each one CallMedia at 16 kHz application rate (so 8 <-> 16 kHz resampling)
   with G.711 μ-law, receiving one 20 ms packet and writing 20 ms of audio per tick, reading
   every frame; SRTP (AES_CM_128_HMAC_SHA1_80) off and on. CPU seconds per media second
   (time.process_time, single thread) give calls per core = 1 / that; the median of 5 runs
   of 100 calls x 5 s (and the range) is reported. Components measured alone in the same
   run show where the time goes.

    .venv/bin/python bench/bench_callmedia.py [--quick]
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
from rvoip_sansio.codecs import Resampler, get_codec, ulaw_decode  # noqa: E402
from rvoip_sansio.rtp import JitterBufferConfig, parse_rtp_header  # noqa: E402
from rvoip_sansio.srtp import SrtpPolicy, SrtpSession  # noqa: E402

A = ("10.0.0.1", 40000)
B = ("10.0.0.2", 50000)
KEY = bytes(range(30))
PROFILE = "AES_CM_128_HMAC_SHA1_80"


def _keys() -> SrtpKeys:
    return SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY))


# ------------------------------------------------------------------ latency: send
def send_latency(rng: random.Random) -> tuple[float, float]:
    m = CallMedia(config=CallMediaConfig(remote_rtp=B, rate=16000), rng=random.Random(1),
                  now=0.0)
    for k in range(10):  # a running call: some ticks already passed
        m.handle_timeout(k * 0.02)
    m.datagrams_to_send(0.2)
    w = 0.18 + rng.random() * 0.02  # the write, at a random phase after the last tick
    n = 320
    chirp = np.zeros(n, np.int16)
    chirp[0] = 20000  # an impulse on the first sample
    m.write(np.concatenate([chirp, np.zeros(3 * n, np.int16)]))
    t = m.next_deadline()
    assert t is not None
    out: list[tuple[float, bytes]] = []
    while len(out) < 3:
        m.handle_timeout(t)
        out += [(t, d.data) for d in m.datagrams_to_send(t) if len(d.data) == 172]
        t = m.next_deadline() or t + 0.02
    first = out[0][0] - w
    # Where the impulse's energy peaks in the decoded stream (the resampler delays it).
    pcm = np.concatenate([ulaw_decode(d[12:]) for _, d in out]).astype(np.float64)
    k = int(np.argmax(np.abs(pcm)))
    signal = out[0][0] + k / 8000 - w
    return first, signal


# ------------------------------------------------------------------ latency: receive
def recv_latency(rng: random.Random, min_delay: float = 0.02) -> tuple[float, float]:
    phase = rng.random() * 0.02
    tx = CallMedia(config=CallMediaConfig(remote_rtp=B, rate=8000), rng=random.Random(2),
                   now=0.0)
    jb = JitterBufferConfig(min_delay=min_delay)
    rx = CallMedia(config=CallMediaConfig(remote_rtp=A, rate=16000, jitter_buffer=jb,
                                          receive_queue_frames=1000),
                   rng=random.Random(3), now=phase)
    delay = 0.02  # fixed path delay, zero jitter
    arrivals: dict[int, float] = {}
    impulse_ts = None
    impulse_pos = 37  # sample of the packet holding the impulse
    pending: list[tuple[float, bytes]] = []
    t_tx, t_rx = 0.0, phase
    frames = []
    for k in range(250):  # 5 s: the jitter buffer measures and settles at its minimum
        pcm = np.zeros(160, np.int16)
        if k == 200:
            pcm[impulse_pos] = 20000
        tx.write(pcm, 8000)
        while t_tx <= k * 0.02 + 1e-9:
            tx.handle_timeout(t_tx)
            for d in tx.datagrams_to_send(t_tx):
                if len(d.data) == 172:
                    pending.append((t_tx + delay, d.data))
                    ts = parse_rtp_header(d.data)[3]
                    if k == 200 and impulse_ts is None and max(d.data[12:]) != min(d.data[12:]):
                        impulse_ts = ts
            t_tx += 0.02
        # deliver packets and run the receiver's ticks in time order
        horizon = k * 0.02 + 0.02
        while True:
            nxt_rx = t_rx
            nxt_pkt = pending[0][0] if pending else float("inf")
            if min(nxt_rx, nxt_pkt) > horizon:
                break
            if nxt_pkt <= nxt_rx:
                when, data = pending.pop(0)
                arrivals[parse_rtp_header(data)[3]] = when
                rx.receive(data, A, when)
            else:
                rx.handle_timeout(t_rx)
                while (f := rx.read_frame()) is not None:
                    frames.append(f)
                t_rx = rx.next_deadline() or t_rx + 0.02
    assert impulse_ts is not None
    frame = next(f for f in frames if f.rtp_timestamp == impulse_ts)
    event = frame.time - arrivals[impulse_ts]
    # The impulse in the delivered 16 kHz stream:
    stream = np.concatenate([f.samples for f in frames]).astype(np.float64)
    pos = int(np.argmax(np.abs(stream)))
    f_hit = next(f for f in frames if f.index <= pos < f.index + len(f.samples))
    signal = (f_hit.time + (pos - f_hit.index) / 16000) - (arrivals[impulse_ts]
                                                           + impulse_pos / 8000)
    return event, signal


# ------------------------------------------------------------------ barge-in
def barge_in(rng: random.Random) -> tuple[int, int, float, int]:
    """One barge-in: 2 s of a 1 kHz tone queued at once, ``clear()`` at a random instant.

    Returns (tone packets sent after clear(), tone packets sent in the tick period before
    it -- the frame "already on the wire", ms of the cleared tone on the sender's media clock
    after the clear() instant, ms of tone the far end delivered minus ms of tone in the packets).
    """
    tx = CallMedia(config=CallMediaConfig(remote_rtp=B, rate=16000), rng=random.Random(4),
                   now=0.0)
    phase = rng.random() * 0.02
    rx = CallMedia(config=CallMediaConfig(remote_rtp=A, rate=16000, receive_queue_frames=1000),
                   rng=random.Random(5), now=phase)
    t16 = np.arange(32000) / 16000
    tone_pcm = np.round(8000 * np.sin(2 * np.pi * 1000 * t16)).astype(np.int16)
    t_write = 0.2 + rng.random() * 0.02  # after the far end has validated the source
    t_clear = 0.6 + rng.random() * 0.4
    written = cleared = False
    sent: list[tuple[float, int, bool]] = []  # (send time, RTP timestamp, carries tone)
    pending: list[tuple[float, bytes]] = []
    heard: list[np.ndarray] = []
    wire: list[np.ndarray] = []
    t_tx, t_rx, delay = 0.0, phase, 0.02
    while min(t_tx, t_rx) < 1.5:
        nxt_pkt = pending[0][0] if pending else float("inf")
        t = min(t_tx, t_rx, nxt_pkt, t_clear if not cleared else float("inf"))
        if not written and t >= t_write:
            tx.write(tone_pcm)
            written = True
        if not cleared and t == t_clear:
            tx.clear()
            cleared = True
        elif t == t_tx:
            tx.handle_timeout(t)
            for d in tx.datagrams_to_send(t):
                if len(d.data) == 172:
                    pcm8 = ulaw_decode(d.data[12:])
                    wire.append(pcm8)
                    tone = int(np.abs(pcm8.astype(np.int32)).max()) > 500
                    sent.append((t, parse_rtp_header(d.data)[3], tone))
                    pending.append((t + delay, d.data))
            t_tx = tx.next_deadline() or t + 0.02
        elif t == nxt_pkt:
            rx.receive(pending.pop(0)[1], A, t)
        else:
            rx.handle_timeout(t)
            while (f := rx.read_frame()) is not None:
                heard.append(f.samples)
            t_rx = rx.next_deadline() or t + 0.02
    tone = [(when, ts) for when, ts, is_tone in sent if is_tone]
    after = sum(1 for when, _ in tone if when > t_clear)
    on_wire = sum(1 for when, _ in tone if t_clear - 0.02 < when <= t_clear)
    last = max(when for when, _ in tone)
    # The far end: from its first to its last loud sample, against the same span in the
    # packets sent (decoded); equal to the sample if nothing but what was sent is heard.
    def span_ms(chunks: list[np.ndarray], rate: int) -> float:
        loud = np.nonzero(np.abs(np.concatenate(chunks).astype(np.int32)) > 500)[0]
        return float(loud[-1] - loud[0] + 1) * 1000 / rate

    return (after, on_wire, (last + 0.02 - t_clear) * 1000,
            span_ms(heard, 16000) - span_ms(wire, 8000))


# ------------------------------------------------------------------ CPU per call
def _incoming(srtp: bool, ticks: int) -> list[bytes]:
    src = CallMedia(config=CallMediaConfig(remote_rtp=B, rate=8000, srtp=_keys() if srtp
                                           else None), rng=random.Random(7), now=0.0)
    tone = np.round(6000 * np.sin(2 * np.pi * 440 * np.arange(160 * ticks) / 8000))
    src.write(tone.astype(np.int16))
    out = []
    for k in range(ticks):
        src.handle_timeout(k * 0.02)
        out += [d.data for d in src.datagrams_to_send(k * 0.02) if len(d.data) > 100]
    return out


def calls_per_core(n_calls: int, seconds: float, srtp: bool, grouped: bool = False) -> float:
    ticks = int(seconds / 0.02)
    packets = _incoming(srtp, ticks)
    calls = [CallMedia(config=CallMediaConfig(remote_rtp=A, rate=16000, srtp=_keys() if srtp
                                              else None, receive_queue_frames=10),
                       rng=random.Random(i), now=0.0) for i in range(n_calls)]
    group = CallMediaGroup(now=0.0)
    if grouped:
        for m in calls:
            group.add(m)
    out_pcm = np.round(6000 * np.sin(2 * np.pi * 300 * np.arange(320) / 16000)).astype(np.int16)
    got = 0
    c0 = time.process_time()
    for k in range(ticks):
        now = k * 0.02
        data = packets[k]
        if grouped:
            # One clock for all: the adapter wakes once per tick, not once per call; each
            # call's own deadline now only carries RTCP/DTMF timers.
            for m in calls:
                m.receive(data, A, now)
                m.write(out_pcm)
            group.handle_timeout(now)
            for m in calls:
                if (m.next_deadline() or 1e18) <= now:
                    m.handle_timeout(now)
                m.datagrams_to_send(now)
                while m.read_frame() is not None:
                    got += 1
            continue
        for m in calls:
            m.receive(data, A, now)
            m.write(out_pcm)
            m.handle_timeout(now)
            m.datagrams_to_send(now)
            while m.read_frame() is not None:
                got += 1
    cpu = time.process_time() - c0
    assert got >= n_calls * (ticks - 5)
    return n_calls * seconds / cpu


def component_us() -> dict[str, float]:
    """Microseconds per 20 ms frame of each piece alone (same machine, same run)."""
    res: dict[str, float] = {}
    n = 3000
    x16 = np.zeros(320, np.int16)
    x8 = np.zeros(160, np.int16)
    r1, r2 = Resampler(16000, 8000), Resampler(8000, 16000)
    codec = get_codec("PCMU")
    s_tx = SrtpSession(PROFILE, KEY)
    s_rx = SrtpSession(PROFILE, KEY)
    pkt = bytes.fromhex("8000") + bytes(10) + bytes(160)

    def timeit(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        c0 = time.process_time()
        for i in range(n):
            fn(i)
        res[name] = (time.process_time() - c0) / n * 1e6

    timeit("resample 16k->8k", lambda i: r1.process(x16))
    timeit("resample 8k->16k", lambda i: r2.process(x8))
    timeit("G.711 encode + decode", lambda i: codec.decode(codec.encode(x8)))
    prot = []
    timeit("SRTP protect", lambda i: prot.append(
        s_tx.protect(pkt[:2] + (i + 1).to_bytes(2, "big") + pkt[4:])))
    timeit("SRTP unprotect", lambda i: s_rx.unprotect(prot[i]))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1)
    runs = 20 if args.quick else 100
    sl = [send_latency(rng) for _ in range(runs)]
    rl = [recv_latency(rng) for _ in range(max(5, runs // 5))]
    rl10 = [recv_latency(rng, 0.01) for _ in range(max(5, runs // 5))]
    print("## One-way latency of the stack (simulated time, zero jitter)\n")
    print("| direction | measure | mean ms | max ms | target |")
    print("|---|---|---:|---:|---|")
    for name, vals, what in (
        ("send", [s[0] for s in sl], "write -> RTP packet out"),
        ("send", [s[1] for s in sl], "signal (+ 16->8 kHz resampler delay)"),
        ("receive", [r[0] for r in rl], "RTP packet in -> frame queued (jitter buffer min 20 ms)"),
        ("receive", [r[1] for r in rl], "signal (+ PLC 3.75 ms + 8->16 kHz resampler delay)"),
        ("receive", [r[0] for r in rl10], "packet -> frame, jitter buffer min_delay=10 ms"),
        ("receive", [r[1] for r in rl10], "signal, jitter buffer min_delay=10 ms"),
    ):
        ms = [v * 1000 for v in vals]
        print(f"| {name} | {what} | {statistics.mean(ms):.1f} | {max(ms):.1f} | ≤ 40 ms |")
    print()
    bi = [barge_in(rng) for _ in range(runs)]
    print(f"## Barge-in: clear() at {runs} random instants during a queued 2 s tone\n")
    print("| measure | mean | max | target |")
    print("|---|---:|---:|---|")
    print(f"| tone packets sent after clear() | {statistics.mean(b[0] for b in bi):.2f} | "
          f"{max(b[0] for b in bi)} | 0 |")
    print(f"| tone frames already on the wire at clear() (sent in the last 20 ms) | "
          f"{statistics.mean(b[1] for b in bi):.2f} | {max(b[1] for b in bi)} | ≤ 1 |")
    print(f"| cleared tone still heard after clear(), sender media clock (ms) | "
          f"{statistics.mean(b[2] for b in bi):.1f} | {max(b[2] for b in bi):.1f} | ≤ 20 ms |")
    print(f"| far end: tone heard minus tone in the packets (ms) | "
          f"{statistics.mean(b[3] for b in bi):.2f} | {max(b[3] for b in bi):.2f} | 0 |")
    print()
    seconds = 2.0 if args.quick else 5.0
    n = 50 if args.quick else 100
    reps = 3 if args.quick else 5
    print("## Concurrent bot calls per core (G.711 + 8<->16 kHz, receive + send)\n")
    print(f"| driving | SRTP | calls per core (median of {reps}) | range | target |")
    print("|---|---|---:|---:|---|")
    for grouped in (False, True):
        for srtp in (False, True):
            vals = sorted(calls_per_core(n, seconds, srtp, grouped) for _ in range(reps))
            target = "≥ 300 (issue 10)" + (", ≥ 500 (issue 8 §4)" if srtp else "")
            how = f"CallMediaGroup of {n}" if grouped else "one CallMedia (own clock) per call"
            print(f"| {how} | {'AES_CM_128_HMAC_SHA1_80' if srtp else 'off'} | "
                  f"{statistics.median(vals):,.0f} | {vals[0]:,.0f}–{vals[-1]:,.0f} | {target} |",
                  flush=True)
    print()
    comp = component_us()
    print("## Where one call's 20 ms goes (µs of CPU per frame, pieces alone)\n")
    print("| piece | µs |")
    print("|---|---:|")
    for k, v in comp.items():
        print(f"| {k} | {v:.1f} |")


if __name__ == "__main__":
    main()
