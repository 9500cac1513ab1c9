"""Parts 2 (``media``) and 4 (``media-cpu``) of ``bench_adapters.py``, which describes them and
runs them (``.venv/bin/python bench/bench_adapters.py media|media-cpu ...``): the media
workers, ``media_run`` (two worker processes, each re-running ``bench_adapters.py
--media-worker JSON``, which lands in ``worker_main``), ``media_cpu_run`` and ``phone_cpu_run``
(virtual time, no event loop) and the tables."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rvoip_sansio import Event
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, CallMediaGroup, SrtpKeys
from rvoip_sansio.media import ToneSource
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.srtp import SrtpPolicy, SrtpProfile

LO = "127.0.0.1"
SCRIPT = str(Path(__file__).with_name("bench_adapters.py"))  # what the worker processes run
try:
    import uvloop
except ImportError:  # reported separately when installed
    uvloop = None


def run_loop(main: Callable[[], Coroutine[Any, Any, Any]], uv: bool) -> Any:
    return uvloop.run(main()) if uv else asyncio.run(main())


# ---- part 2: concurrent calls with RTP both ways, one worker process per core --------------

KEY = bytes(range(30))
PROFILE = "AES_CM_128_HMAC_SHA1_80"
RATE = 8000
WARMUP = 2.0


def _totals(medias: list[CallMedia], now: float) -> dict[str, float]:
    out = dict(received=0.0, lost=0.0, concealed=0.0, late=0.0, skipped=0.0, sent=0.0, delivered=0.0,
               srtp_errors=0.0, jb_dropped=0.0, idle=0.0)
    for m in medias:
        h, q = m.health(), m.report(now).quality
        out["received"] += q.packets_received
        out["lost"] += q.packets_lost
        out["concealed"] += h.frames_concealed
        out["late"] += h.packets_late
        out["skipped"] += h.ticks_skipped
        out["sent"] += h.frames_sent
        out["delivered"] += h.frames_delivered
        out["srtp_errors"] += h.srtp_errors
        out["jb_dropped"] += q.jitter_buffer_overflow
        out["idle"] += h.idle_ticks
    return out


class _Slot:
    """A datagram core that forwards to a CallMedia attached after the socket is bound."""

    media: CallMedia | None = None

    def attach(self, media: CallMedia) -> None:
        self.media = media

    def receive(self, data: bytes, source: tuple[str, int], now: float) -> None:
        if self.media is not None:
            self.media.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Any]:
        return self.media.datagrams_to_send(now) if self.media is not None else []

    def next_event(self) -> Event | None:
        return self.media.next_event() if self.media is not None else None

    def next_deadline(self) -> float | None:
        return self.media.next_deadline() if self.media is not None else None

    def handle_timeout(self, now: float) -> None:
        if self.media is not None:
            self.media.handle_timeout(now)

    def transport_error(self, dest: tuple[str, int], now: float) -> None:
        if self.media is not None:
            self.media.transport_error(dest, now)


async def media_worker(spec: dict[str, Any]) -> dict[str, float]:
    if spec.get("phone"):
        return await media_worker_phone(spec)
    if spec.get("pump"):
        return await media_worker_pump(spec)
    from rvoip_sansio.adapters.asyncio import UdpEndpoint, open_udp_endpoint
    loop = asyncio.get_running_loop()
    # 1. Bind every socket (an empty MediaSlot on each), then say so and wait for the start
    #    time, so that both ends' media clocks start together whatever their start-up took.
    slots = [_Slot() for _ in range(spec["n"])]
    eps: list[UdpEndpoint] = [await open_udp_endpoint(slot, (LO, 0), buffer_size=256 * 1024) for slot in slots]
    print(json.dumps([ep.local_address[1] for ep in eps]), flush=True)
    order = json.loads(await loop.run_in_executor(None, sys.stdin.readline))  # the peer's ports, the start
    start = loop.time() + (order["start"] - time.time())
    # 2. One CallMedia per call, on the common start instant (and one group clock if asked).
    group = CallMediaGroup(now=start) if spec["group"] else None
    medias, tone = _start_medias(spec, start, order["remote"], group)
    for slot, media in zip(slots, medias):
        slot.attach(media)
    stopped = False

    def noop(now: float) -> None:
        return None

    def tick() -> None:  # the group's one timer: every call's tick, then each socket drained
        assert group is not None
        if stopped:
            return
        group.handle_timeout(loop.time())
        for ep in eps:
            ep.call(noop)
        deadline = group.next_deadline()
        if deadline is not None:
            loop.call_at(deadline, tick)

    if group is not None:
        loop.call_at(start, tick)
    else:
        for ep in eps:
            ep.call(noop)  # arm each call's own clock
    out = await _measure_worker(medias, tone, start, spec["seconds"])
    stopped = True
    for ep in eps:
        await ep.close()
    return out


def _start_medias(spec: dict[str, Any], start: float, remote: list[int],
                  group: CallMediaGroup | None) -> tuple[list[CallMedia], Any]:
    keys = SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY)) if spec["srtp"] else None
    tone = ToneSource((440.0 if spec["role"] == "a" else 1000.0,), RATE, -10.0).read(RATE)
    medias: list[CallMedia] = []
    for i, theirs in enumerate(remote):
        cfg = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=RATE, frame_ms=20, remote_rtp=(LO, theirs),
                              srtp=keys, receive_queue_frames=50)
        media = CallMedia(config=cfg, rng=random.Random(i * 2 + (spec["role"] == "b")), now=start)
        if group is not None:
            group.add(media)  # before anything is queued
        media.write(tone[:3 * (RATE // 10)])
        medias.append(media)
    return medias, tone


def _direct_step(medias: list[CallMedia], tone: Any) -> Callable[[int], None]:
    """The application on the CallMedia objects themselves: read every frame, write 100 ms."""
    chunk = RATE // 10

    def step(k: int) -> None:
        for m in medias:
            while m.read_frame() is not None:
                pass
            m.write(tone[k * chunk:(k + 1) * chunk])
    return step


async def _measure_worker(medias: list[CallMedia], tone: Any, start: float, seconds: float,
                          step: Callable[[int], None] | None = None) -> dict[str, float]:
    """The application (every 100 ms ``step(k)``, by default: read every frame, write 100 ms
    of tone on each CallMedia) and the loop-lag monitor around the measured window; returns
    the totals' difference."""
    loop = asyncio.get_running_loop()
    app_step = step if step is not None else _direct_step(medias, tone)

    async def application() -> None:
        # Paced by absolute time, as a real-time source would be: every 100 ms step that is
        # due is taken, late ones back to back (sleeping 100 ms after each step would drift by
        # the step's own duration and starve the send queues of a loaded process).
        t0, k = loop.time(), 0
        while True:
            await asyncio.sleep(max(0.0, t0 + (k + 1) * 0.1 - loop.time()))
            while t0 + (k + 1) * 0.1 <= loop.time():
                k += 1
                app_step(k % 10)

    lag = [0.0]

    async def monitor() -> None:  # how late the loop wakes up: stalls of the whole process
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            lag[0] = max(lag[0], loop.time() - t - 0.005)

    import gc
    gc_worst, gc_started = [0.0], [0.0]

    def gc_timing(phase: str, info: dict[str, int]) -> None:  # the collector's longest pause
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_worst[0] = max(gc_worst[0], time.perf_counter() - gc_started[0])

    tasks = [asyncio.ensure_future(application()), asyncio.ensure_future(monitor())]
    await asyncio.sleep(max(0.0, start + WARMUP - loop.time()))
    t0, cpu0, before = loop.time(), time.process_time(), _totals(medias, loop.time())
    lag[0] = 0.0
    if os.environ.get("GC_FREEZE"):  # the application's choice, not the library's
        gc.collect()
        gc.freeze()  # the calls' long-lived objects leave the collector's full passes
    gc.callbacks.append(gc_timing)
    await asyncio.sleep(seconds)
    gc.callbacks.remove(gc_timing)
    t1, cpu1, after = loop.time(), time.process_time(), _totals(medias, loop.time())
    for task in tasks:
        task.cancel()
    out = {k: after[k] - before[k] for k in after}
    out.update(cpu=(cpu1 - cpu0) / (t1 - t0), wall=t1 - t0, due=len(medias) * (t1 - t0) * 50,
               max_lag_ms=lag[0] * 1000, max_gc_ms=gc_worst[0] * 1000, gc_objects=len(gc.get_objects()))
    return out


async def media_worker_pump(spec: dict[str, Any]) -> dict[str, float]:
    """What the Phones' hosts do since adapters/_mediapump.py: every socket in one epoll that
    the loop watches (one reader, one datagram per ready socket per wake-up, fed at once),
    one CallMediaGroup timer sending with plain ``sendto``; each call's own timers (RTCP)
    checked at each tick."""
    from rvoip_sansio.adapters._mediapump import MediaPump
    from rvoip_sansio.adapters.blocking._socket import bind_udp_socket
    loop = asyncio.get_running_loop()
    pump = MediaPump()
    locals_: list[tuple[str, int]] = []
    for _ in range(spec["n"]):
        sock = bind_udp_socket((LO, 0), 256 * 1024)
        local = (LO, int(sock.getsockname()[1]))
        pump.add(local, sock)
        locals_.append(local)
    print(json.dumps([p for _, p in locals_]), flush=True)
    order = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    start = loop.time() + (order["start"] - time.time())
    group = CallMediaGroup(now=start)
    medias, tone = _start_medias(spec, start, order["remote"], group)
    by_local = dict(zip(locals_, medias))
    pairs = list(zip(locals_, medias))
    stopped = False

    def readable() -> None:
        now = loop.time()
        for local, data, source in pump.read():
            by_local[local].receive(data, source, now)

    def tick() -> None:
        if stopped:
            return
        now = loop.time()
        group.handle_timeout(now)
        send = pump.send
        for local, m in pairs:
            d = m.next_deadline()
            if d is not None and d <= now:
                m.handle_timeout(now)
            for t in m.datagrams_to_send(now):
                send(local, t.data, t.dest)
        deadline = group.next_deadline()
        if deadline is not None:
            loop.call_at(deadline, tick)

    assert pump.fileno is not None, "MediaPump needs epoll"
    loop.add_reader(pump.fileno, readable)
    loop.call_at(start, tick)
    out = await _measure_worker(medias, tone, start, spec["seconds"])
    stopped = True
    loop.remove_reader(pump.fileno)
    pump.close()
    return out


async def media_worker_phone(spec: dict[str, Any]) -> dict[str, float]:
    """The whole stack: an asyncio ``Phone`` per worker (SIP over UDP between the two, SDES
    when SRTP is on, PCMU at 8 kHz application audio, the phone's own CallMediaGroup clock,
    MediaPump reads, the PhoneCore); the application goes through each leg's ``call.audio``
    (``read_all`` then ``write_nowait``), as a user of the Phone would."""
    from rvoip_sansio.adapters.asyncio import Phone
    loop = asyncio.get_running_loop()
    n, callee = spec["n"], spec["role"] == "b"
    suites = {"sdes_profiles": (SrtpProfile.AES_CM_128_HMAC_SHA1_80,)} if spec["phone"] == "aescm" else {}
    async with Phone.open(spec["role"], (LO, 0), codecs=(PCMU,), srtp=bool(spec["srtp"]), rate=RATE,
                          auto_answer=callee, rtp_timeout=None, **suites) as phone:
        print(json.dumps([phone.config.local[1]] if callee else []), flush=True)
        order = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
        if callee:
            calls = [await phone.accept(timeout=120.0) for _ in range(n)]
        else:
            calls = []
            for i in range(0, n, 25):  # in batches: SIP set-up while the first calls already carry media
                batch = [phone.dial(f"sip:b@{LO}:{order['remote'][0]}") for _ in range(min(25, n - i))]
                for c in batch:
                    await c.wait_answered(60.0)
                calls += batch
        medias = [c.media() for c in calls]
        assert all(m is not None for m in medias)
        keys = medias[0].config.srtp if medias[0] is not None else None
        profile = str(getattr(keys.tx.profile, "name", keys.tx.profile)) if keys is not None else "none"
        print(json.dumps({"ready": True, "srtp": profile}), flush=True)
        go = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
        start = loop.time() + (go["start"] - time.time())
        tone = ToneSource((440.0 if spec["role"] == "a" else 1000.0,), RATE, -10.0).read(RATE)
        chunk = RATE // 10

        def step(k: int) -> None:
            for c in calls:
                c.audio.read_all()
                c.audio.write_nowait(tone[k * chunk:(k + 1) * chunk])

        for c in calls:
            c.audio.write_nowait(tone[:3 * chunk])
        out = await _measure_worker([m for m in medias if m is not None], tone, start, spec["seconds"], step)
        out["srtp_profile"] = profile  # type: ignore[assignment]
        # Neither end hangs up (nor closes its Phone) before both took their last snapshot:
        # the other's late loop would otherwise count the first BYEs into its window.
        print(json.dumps(out), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        if not callee:
            for c in calls:
                c.act(lambda now, c=c: phone.core.hangup(c.call_id, now))  # type: ignore[misc]
            await asyncio.sleep(0.5)
        return out


def _loss(r: dict[str, float]) -> float:
    """Packets lost by sequence number over the window (RFC 3550 cumulative lost): unlike
    received/due, a stall at either end of the window does not move it."""
    return max(r["lost"], 0.0) / max(r["received"] + r["lost"], 1.0)


def _concealed(r: dict[str, float]) -> float:
    return (r["concealed"] + r["late"]) / max(r["delivered"], 1.0)


def sustains(r: dict[str, float]) -> bool:
    """Kept up in real time with good audio: CPU headroom (under 90 % of a core), no media
    tick skipped, no SRTP failure, at most 0.1 % of packets lost by sequence number, at most
    1 % of played frames concealed or late, at most 1 % of send ticks without audio from the
    application (a process too slow to feed its calls), and received/due (a snapshot, noisy
    by about 3 % when the window's edges meet a stall) at least 0.97."""
    ticks = r["sent"] + r["idle"]
    return (r["cpu"] < 0.9 and r["skipped"] == 0 and r["srtp_errors"] == 0 and _loss(r) <= 0.001
            and _concealed(r) <= 0.01 and r["idle"] <= 0.01 * max(ticks, 1.0)
            and r["received"] >= 0.97 * r["due"])


_FAILED = dict(received=0.0, lost=0.0, concealed=0.0, late=0.0, skipped=-1.0, sent=0.0, delivered=0.0,
               srtp_errors=0.0, jb_dropped=0.0, idle=0.0, cpu=1.0, wall=0.0, due=1.0, max_lag_ms=-1.0)


def _pct(r: dict[str, float]) -> str:
    return f"{_concealed(r):.2%}"


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat), to tell how much CPU
    other processes took during a run."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def _udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped so far because a UDP socket's receive buffer was full."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:])).get("RcvbufErrors", 0))


def _best_ms(work: Callable[[], object], rounds: int = 3) -> float:
    """CPU ms of the fastest of ``rounds`` runs of ``work``."""
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        work()
        best = min(best, time.process_time() - t)
    return best * 1000


def speed_probe() -> float:
    """CPU ms for a fixed pure-Python loop (best of 3) in this process just before a run:
    how fast the shared host lets the interpreter run now (it fits in the L1 cache, so it
    does not see the neighbours' cache and memory pressure: see :func:`memory_probe`)."""
    return _best_ms(lambda: sum(i * i for i in range(1_000_000)))


_CHASE: list[list[int]] = []


def memory_probe() -> float:
    """CPU ms to visit 200 k small objects in a shuffled order (best of 3): pointer chasing
    through ~20 MB, as the media tick over hundreds of calls and the collector's full passes
    do, so it moves with the cache and memory bandwidth other tenants leave us."""
    if not _CHASE:
        cells = [[i] for i in range(200_000)]
        random.Random(7).shuffle(cells)
        _CHASE.extend(cells)
    return _best_ms(lambda: sum(c[0] for c in _CHASE))


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def media_run(n: int, srtp: bool, group: bool, uv: bool, seconds: float,
              pump: bool = False, phone: bool | str = False) -> tuple[dict[str, float], dict[str, float]]:
    procs = []
    for role in ("a", "b"):
        spec = dict(role=role, n=n, srtp=srtp, group=group, uv=uv, seconds=seconds, pump=pump, phone=phone)
        procs.append(subprocess.Popen([sys.executable, SCRIPT, "--media-worker", json.dumps(spec)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    ports = []
    for p in procs:  # each binds its N sockets (port 0) and names them (a Phone: its SIP port)
        assert p.stdout is not None
        ports.append(json.loads(p.stdout.readline()))
    start_wall = time.time() + 0.3 + n / 1000  # time to build the CallMedia objects
    for p, theirs in zip(procs, reversed(ports)):
        assert p.stdin is not None
        p.stdin.write(json.dumps({"start": start_wall, "remote": theirs}) + "\n")
        p.stdin.flush()
    extra: dict[str, Any] = {}
    if phone:  # the calls are set up through SIP first; both say when they are up
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            with contextlib.suppress(ValueError):
                extra.update(json.loads(line))
        start_wall = time.time() + 0.3
        for p in procs:
            assert p.stdin is not None
            with contextlib.suppress(OSError):
                p.stdin.write(json.dumps({"start": start_wall}) + "\n")
                p.stdin.flush()
    load = _loadavg()
    probe, mem_probe = speed_probe(), memory_probe()
    busy0 = _machine_busy()
    # The kernel's drops over the measured window only (set-up and teardown drop a few
    # datagrams sent to sockets not yet or no longer read).
    time.sleep(max(0.0, start_wall + WARMUP - time.time()))
    drops0 = _udp_rcvbuf_errors()
    time.sleep(seconds)
    drops1 = _udp_rcvbuf_errors()
    if phone:  # both report their window, then both may end their calls
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()
        for p in procs:
            assert p.stdin is not None
            with contextlib.suppress(OSError):
                p.stdin.write("end\n")
                p.stdin.flush()
    results = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=seconds + 60 + n / 10)
            results.append(json.loads(out.strip().splitlines()[-1]))
        except (subprocess.TimeoutExpired, ValueError, IndexError):  # a worker that never finished
            p.kill()
            p.communicate()
            results.append(dict(_FAILED))
    busy1 = _machine_busy()
    # The machine's busy cores over the run (set-up and warm-up included), and the load average
    # when it started: what else competed with the workers.
    busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * (os.cpu_count() or 1)
    for r in results:
        r["load"], r["busy_cores"], r["rcvbuf_drops"], r["probe_ms"], r["mem_probe_ms"] = (
            float(load), busy, drops1 - drops0, probe, mem_probe)
    return results[0], results[1]


DRIVINGS = {
    "call": ("clock per call (UdpEndpoint per call)", False, False, False),
    "group": ("CallMediaGroup (UdpEndpoint per call)", True, False, False),
    "pump": ("CallMediaGroup + MediaPump (one epoll)", True, True, False),
    "phone": ("asyncio Phone (SIP, PhoneCore, call.audio)", True, True, True),
    "phone-aescm": ("asyncio Phone, SDES AES-CM only", True, True, "aescm"),
}


def part_media(counts: list[int], seconds: float, drivings: list[str], srtps: list[bool],
               loops: list[bool], rounds: int = 1) -> None:
    """Each N ``rounds`` times (one row each); N counts as sustained when most of its rounds
    were (a shared machine's other load makes single runs near the limit flip)."""
    print(f"\n## Concurrent G.711 calls with RTP both ways in real time, one process (one thread) per end "
          f"({WARMUP:.0f} s warm-up, {seconds:.0f} s measured, {rounds} round(s) per N; PIN={os.environ.get('PIN', '')}, "
          f"workers' NICE={os.environ.get('NICE', '0')}, GC_FREEZE={os.environ.get('GC_FREEZE', '')})\n")
    print("| loop | driving | SRTP | N calls | CPU of one core (end A / B) | received / due | lost (by sequence) | "
          "concealed or late frames | send ticks without audio | GC-tracked objects | worst loop lag ms (longest GC pause) | ticks skipped | load avg at start / machine busy "
          "cores during run / speed probe / memory probe, ms (lower: faster) | UDP receive-buffer drops in the window | sustained |")
    print("|---|---|---|---:|---|---|---|---|---|---|---|---|---|---:|---|")
    best: list[tuple[str, str, str, int, float]] = []
    for uv in loops:
        for key in drivings:
            name, group, pump, phone = DRIVINGS[key]
            for srtp in srtps:
                clean, clean_cpu = 0, 0.0
                for n in counts:
                    passed, cpus = 0, []
                    for _ in range(rounds):
                        a, b = media_run(n, srtp, group, uv, seconds, pump, phone)
                        ok = sustains(a) and sustains(b)
                        passed += ok
                        cpus.append(max(a["cpu"], b["cpu"]))
                        print(f"| {'uvloop' if uv else 'asyncio'} | {name} "
                              f"| {a.get('srtp_profile', PROFILE) if srtp else 'off'} | {n} | {a['cpu']:.0%} / {b['cpu']:.0%} | "
                              f"{a['received'] / a['due']:.3f} / {b['received'] / b['due']:.3f} | "
                              f"{_loss(a):.2%} / {_loss(b):.2%} | {_pct(a)} / {_pct(b)} | "
                              f"{int(a['idle'])} / {int(b['idle'])} | "
                              f"{int(a.get('gc_objects', 0)):,} / {int(b.get('gc_objects', 0)):,} | {a['max_lag_ms']:.0f} / {b['max_lag_ms']:.0f} "
                              f"(GC {a.get('max_gc_ms', -1):.0f} / {b.get('max_gc_ms', -1):.0f}) | "
                              f"{int(a['skipped'])} / {int(b['skipped'])} | {a['load']:.2f} / {a['busy_cores']:.2f} / {a.get('probe_ms', 0):.0f} / {a.get('mem_probe_ms', 0):.0f} | "
                              f"{int(a.get('rcvbuf_drops', 0))} | {'yes' if ok else 'no'} |", flush=True)
                    if 2 * passed <= rounds:  # most rounds failed: larger N would too
                        break
                    clean, clean_cpu = n, sorted(cpus)[len(cpus) // 2]
                best.append(("uvloop" if uv else "asyncio", name, "on" if srtp else "off", clean, clean_cpu))
    print("\n| loop | driving | SRTP | most calls sustained (most rounds) | median CPU there | calls per core at that CPU (N / CPU) |")
    print("|---|---|---|---:|---|---:|")
    for loop_name, driving, srtp_name, clean, cpu in best:
        per_core = f"{clean / cpu:,.0f}" if clean and cpu else "-"
        print(f"| {loop_name} | {driving} | {srtp_name} | {clean} | {cpu:.0%} | {per_core} |")


def media_cpu_run(n: int, srtp: bool, group: bool, seconds: float, epoll: bool = False,
                  freeze: bool = False) -> tuple[float, float]:
    """Both ends of N calls in this process on 2N real UDP sockets, in *virtual* time: each
    20 ms tick runs every CallMedia's clock (or the group's), sends what they produced with
    ``sendto`` and reads every socket until empty (loopback delivery is synchronous), feeding
    ``receive``. No event loop and no waiting, so the machine's other load cannot make us
    skip: process CPU time / media time gives what one core can carry. Returns (CPU seconds
    per media second for one end of N calls, fraction of packets received). ``epoll``: read
    through the phones' MediaPump (one epoll, one datagram per ready socket per poll, polled
    until nothing is ready) instead of ``recvfrom`` on every socket until EAGAIN. ``freeze``:
    ``gc.freeze()`` once the calls are set up (what an adapter may do; the library does not),
    so the collector's full passes skip the calls' long-lived objects."""
    import gc
    import socket as so

    from rvoip_sansio.adapters._mediapump import MediaPump
    keys = SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY)) if srtp else None
    socks = []
    for _ in range(2 * n):
        sock = so.socket(so.AF_INET, so.SOCK_DGRAM)
        sock.bind((LO, 0))
        sock.setblocking(False)
        socks.append(sock)
    addrs = [s.getsockname() for s in socks]
    pump = MediaPump()
    if epoll:
        for sock, addr in zip(socks, addrs):
            pump.add((LO, addr[1]), sock)
    index = {(LO, addr[1]): i for i, addr in enumerate(addrs)}
    tone = ToneSource((440.0,), RATE, -10.0).read(RATE)
    chunk = RATE // 10
    groups = [CallMediaGroup(now=0.0), CallMediaGroup(now=0.0)] if group else []
    medias = []
    for i in range(2 * n):
        peer = addrs[i + n] if i < n else addrs[i - n]
        cfg = CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=RATE, frame_ms=20,
                              remote_rtp=(LO, peer[1]), srtp=keys, receive_queue_frames=50)
        m = CallMedia(config=cfg, rng=random.Random(i), now=0.0)
        if group:
            groups[i >= n].add(m)
        medias.append(m)
    ticks = int(seconds / 0.02)
    received = 0
    warm = 100  # 2 s of warm-up, not timed
    cpu0 = 0.0
    if freeze:
        gc.collect()
        gc.freeze()
    for k in range(ticks + warm):
        if k == warm:
            cpu0, received = time.process_time(), 0
        now = k * 0.02
        if k % 5 == 0:  # the application: every 100 ms, 100 ms of tone in, every frame out
            for m in medias:
                m.write(tone[(k // 5 % 10) * chunk:(k // 5 % 10 + 1) * chunk])
                while m.read_frame() is not None:
                    pass
        for g in groups:
            g.handle_timeout(now)
        for m, sock in zip(medias, socks):
            d = m.next_deadline()
            if d is not None and d <= now:
                m.handle_timeout(now)
            for t in m.datagrams_to_send(now):
                sock.sendto(t.data, t.dest)
        if epoll:
            while batch := pump.read():
                for local, data, src in batch:
                    medias[index[local]].receive(data, src, now)
                received += len(batch)
            continue
        for m, sock, addr in zip(medias, socks, addrs):
            while True:
                try:
                    data, src = sock.recvfrom(2048)
                except BlockingIOError:
                    break
                m.receive(data, (src[0], src[1]), now)
                received += 1
    cpu = time.process_time() - cpu0
    if freeze:
        gc.unfreeze()
    pump.close()
    for sock in socks:
        sock.close()
    media_seconds = ticks * 0.02
    return cpu / 2 / media_seconds, received / (2 * n * ticks)


def phone_cpu_run(n: int, srtp: bool, seconds: float) -> tuple[float, float]:
    """``media_cpu_run`` through the Phone's core: two ``PhoneCore`` (one per end; SIP passed
    between them in memory, SDES keying when ``srtp``, PCMU at 8 kHz, the core's own
    CallMediaGroup clock), every RTP socket in one ``MediaPump`` per end, read with
    ``read()`` and fed with ``media_receive_many``, sent from ``media_datagrams_to_send``;
    the application every 100 ms: ``read_frame`` until empty, ``write`` 100 ms of tone, per
    call. Virtual time, no event loop: what an adapter's host does per wake-up, minus the
    loop itself. Returns (CPU s per media s for one end of N calls, packets received)."""
    from rvoip_sansio.adapters._mediapump import MediaPump
    from rvoip_sansio.adapters.blocking._socket import bind_udp_socket
    from rvoip_sansio.phone import PhoneConfig, PhoneCore, SrtpMode
    from rvoip_sansio.phone import _events as pe
    mode = SrtpMode.SDES if srtp else SrtpMode.NONE
    sips = [(LO, 5070), (LO, 5072)]
    cores = [PhoneCore(config=PhoneConfig(user=u, local=sip, codecs=(PCMU,), srtp=mode, rate=RATE,
                                          auto_answer=u == "b", rtp_timeout=None),
                       rng=random.Random(i), key_rng=random.Random(10 + i))
             for i, (u, sip) in enumerate(zip("ab", sips))]
    pumps = [MediaPump(), MediaPump()]
    calls: list[list[str]] = [[], []]

    def bind(side: int) -> tuple[str, int]:
        sock = bind_udp_socket((LO, 0), 256 * 1024)
        local = (LO, int(sock.getsockname()[1]))
        pumps[side].add(local, sock)
        return local

    def flush(now: float) -> int:
        """Both cores' SIP to each other, their media to the sockets, their events handled."""
        moved = 0
        for side, core in enumerate(cores):
            for t in core.datagrams_to_send(now):
                cores[1 - side].receive(t.data, sips[side], now)
                moved += 1
            send = pumps[side].send
            for local, t in core.media_datagrams_to_send(now):
                send(local, t.data, t.dest)
            while (e := core.next_event()) is not None:
                moved += 1
                if isinstance(e, pe.IncomingCall) and e.auto_answer:
                    core.answer(e.call_id, now, rtp=bind(side))
                    calls[side].append(e.call_id)
                elif isinstance(e, pe.MediaSocketReleased):
                    pumps[side].remove(e.local)
        return moved

    now = 0.0
    for _ in range(n):
        calls[0].append(cores[0].call(f"sip:b@{LO}:{sips[1][1]}", now, rtp=bind(0)))
        while flush(now):
            pass
    assert len(calls[1]) == n and all(cores[0].media(c) is not None for c in calls[0]), "calls not up"
    tone = ToneSource((440.0,), RATE, -10.0).read(RATE)
    chunk = RATE // 10
    ticks = int(seconds / 0.02)
    warm = 100
    received = 0
    cpu0 = 0.0
    base = 1.0
    for k in range(ticks + warm):
        if k == warm:
            cpu0, received = time.process_time(), 0
        now = base + k * 0.02
        if k % 5 == 0:
            piece = tone[(k // 5 % 10) * chunk:(k // 5 % 10 + 1) * chunk]
            for core, ids in zip(cores, calls):
                for cid in ids:
                    while core.read_frame(cid) is not None:
                        pass
                    core.write(cid, piece)
        for core in cores:
            d = core.next_deadline()
            if d is not None and d <= now:
                core.handle_timeout(now)
        flush(now)
        for side, core in enumerate(cores):
            while batch := pumps[side].read():
                core.media_receive_many(batch, now)
                received += len(batch)
        flush(now)
    cpu = time.process_time() - cpu0
    for side, core in enumerate(cores):
        core.close(now)
        flush(now)
        pumps[side].close()
    return cpu / 2 / (ticks * 0.02), received / (2 * n * ticks)


def part_media_cpu(counts: list[int], seconds: float, freeze: bool = False, phone: bool = True,
                   phone_only: bool = False) -> None:
    print(f"\n## CPU per call with G.711 RTP both ways, real sockets, virtual time ({seconds:.0f} media s per run)\n")
    print("| driving | reading | SRTP | N calls (both ends in one process) | CPU s per media s, one end of N calls "
          "| packets received | calls per core (one end each) |"
          + (" same with gc.freeze() after set-up (adapter's choice) |" if freeze else ""))
    print("|---|---|---|---:|---:|---|---:|" + ("---:|" if freeze else ""))
    for group, epoll in ((False, False), (True, False), (True, True)):
        for srtp in (True, False):
            for n in counts:
                if phone_only:
                    break
                cpu, rx = media_cpu_run(n, srtp, group, seconds, epoll)
                extra = ""
                if freeze:
                    fcpu, _ = media_cpu_run(n, srtp, group, seconds, epoll, freeze=True)
                    extra = f" {n / fcpu:,.0f} |"
                print(f"| {'CallMediaGroup' if group else 'clock per call'} | "
                      f"{'one epoll (MediaPump)' if epoll else 'recvfrom until EAGAIN'} | {'on' if srtp else 'off'} | "
                      f"{n} | {cpu:.3f} | {rx:.1%} | {n / cpu:,.0f} |{extra}", flush=True)
    if phone:
        for srtp in (True, False):
            for n in counts:
                cpu, rx = phone_cpu_run(n, srtp, seconds)
                print(f"| PhoneCore (its CallMediaGroup) | one epoll (MediaPump), media_receive_many | "
                      f"{'on (SDES, AEAD_AES_256_GCM)' if srtp else 'off'} | {n} | {cpu:.3f} | {rx:.1%} | "
                      f"{n / cpu:,.0f} |" + (" - |" if freeze else ""), flush=True)


# ---- the worker process (``bench_adapters.py --media-worker JSON``) -------------------------

def worker_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    with contextlib.suppress(OSError, AttributeError, ValueError):
        if os.environ.get("NICE"):  # e.g. NICE=-10 (root): the workers before others' load
            os.nice(int(os.environ["NICE"]))
            # With sched_autogroup the scheduler shares CPU between sessions first: the
            # nice that counts is the session's (the bench's own session, see bench_adapters.main()).
    with contextlib.suppress(OSError, AttributeError):
        if os.environ.get("PIN"):
            os.sched_setaffinity(0, {(spec["role"] == "b") % (os.cpu_count() or 1)})
    profile = os.environ.get("PROFILE_WORKER")  # a path: each worker's cProfile stats go to PATH.a / PATH.b
    if profile:
        import cProfile
        prof = cProfile.Profile()
        result = prof.runcall(run_loop, lambda: media_worker(spec), spec["uv"])
        prof.dump_stats(f"{profile}.{spec['role']}")
    else:
        result = run_loop(lambda: media_worker(spec), spec["uv"])
    print(json.dumps(result), flush=True)
