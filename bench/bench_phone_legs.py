"""Bot-like call legs per core through each adapter's Phone on real loopback sockets (issue 10 §4).

N calls between two Phones in one process (both ends counted as legs: 2N), PCMU, 16 kHz
application audio (8<->16 kHz resampling both ways), SRTP off or SDES (AES_CM_128_HMAC_SHA1_80);
every 20 ms the application writes 20 ms to every leg and reads every frame that arrived.
Adapters: asyncio, uvloop (when installed), trio (real clock), trio-mock (trio under
``MockClock``: virtual time, so the figure is CPU per media second whatever else the machine
runs), asyncio-mock (the same for asyncio: a selector loop whose clock jumps to the next timer
when nothing is ready), blocking (each phone on its background thread, the application on the main thread). Each run is its own process
(``OPENBLAS_NUM_THREADS=1``); the measured window follows 1 s of warm-up.

legs per core = frames read / 50 / process CPU seconds (user + system) over the window: the
legs one core carries, counting only the media work actually done (on a loaded machine a run
that gets too little CPU falls behind: fewer frames, not a better figure). "frames" is
frames read per leg per second (50 = real time kept) and "missed" the share of frames
concealed or media ticks skipped (loss of real time on a loaded machine). Each cell is the median of
``--repeat`` runs with the range beside it; ``--raw FILE`` appends every run as JSON.

    .venv/bin/python bench/bench_phone_legs.py [--adapters asyncio,trio,blocking] [--calls 50,100,200]
                                               [--srtp off,on] [--repeat 3] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

WARMUP = 1.0
LO = "127.0.0.1"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _missed(legs: list[Any]) -> int:
    """Frames concealed plus ticks skipped so far, over every leg (a run that kept up: ~0)."""
    total = 0
    for c in legs:
        h = c.audio.health()
        if h is not None:
            total += h.frames_concealed + h.ticks_skipped
    return total


async def _async_app(legs: list[Any], seconds: float, sleep: Any, clock: Any) -> dict[str, float]:
    chunk = np.zeros(320, np.int16) + 100
    got = 0
    t_end = clock() + WARMUP
    while clock() < t_end:
        for c in legs:
            c.audio.write_nowait(chunk)
            c.audio.read_all()
        await sleep(0.02)
    missed0, cpu0, t0 = _missed(legs), _cpu(), clock()
    while clock() - t0 < seconds:
        for c in legs:
            c.audio.write_nowait(chunk)
            got += len(c.audio.read_all())
        await sleep(0.02)
    out = dict(cpu=_cpu() - cpu0, wall=clock() - t0, frames=got)
    out.update(missed=_missed(legs) - missed0)
    return out


async def _async_calls(alice: Any, bot: Any, port: int, n: int, seconds: float, sleep: Any,
                       clock: Any = time.monotonic) -> dict[str, float]:
    calls = [await alice.call(f"sip:bot@{LO}:{port}") for _ in range(n)]
    incoming = [await bot.accept() for _ in range(n)]
    out = await _async_app(calls + incoming, seconds, sleep, clock)
    for c in calls:
        await c.hangup()
    return out


def _virtual_loop() -> Any:
    """An asyncio selector loop on virtual time: when nothing is ready it jumps its clock to
    the next timer instead of sleeping (loopback datagrams are readable at once), so a run
    costs only its CPU work, like trio's MockClock."""
    import asyncio
    import selectors

    class Selector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
        def select(self, timeout: float | None = None) -> Any:
            ready = super().select(0)
            if ready or timeout is None or timeout <= 0:
                return ready if ready or timeout is not None else super().select(None)
            loop.virtual += timeout
            return []

    class Loop(asyncio.SelectorEventLoop):
        virtual = 1000.0

        def time(self) -> float:
            return self.virtual

    loop = Loop(Selector())
    return loop


def run_asyncio(n: int, srtp: bool, seconds: float, uv: bool, mock: bool = False) -> dict[str, float]:
    import asyncio

    from rvoip_sansio.adapters.asyncio import Phone
    from rvoip_sansio.sdp import PCMU

    async def main() -> dict[str, float]:
        async with Phone.open("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=srtp) as bot, \
                Phone.open("alice", (LO, 0), codecs=(PCMU,), srtp=srtp) as alice:
            clock = asyncio.get_running_loop().time if mock else time.monotonic
            return await _async_calls(alice, bot, bot.config.local[1], n, seconds, asyncio.sleep, clock)

    if mock:
        loop = _virtual_loop()
        try:
            return loop.run_until_complete(main())  # type: ignore[no-any-return]
        finally:
            loop.close()
    if uv:
        import uvloop
        return uvloop.run(main())  # type: ignore[no-any-return]
    return asyncio.run(main())


def run_trio(n: int, srtp: bool, seconds: float, mock: bool = False) -> dict[str, float]:
    import trio
    import trio.testing

    from rvoip_sansio.adapters.trio import open_phone
    from rvoip_sansio.phone import SrtpMode
    from rvoip_sansio.sdp import PCMU

    mode = SrtpMode.SDES if srtp else SrtpMode.NONE

    async def main() -> dict[str, float]:
        async with open_phone("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=mode) as bot, \
                open_phone("alice", (LO, 0), codecs=(PCMU,), srtp=mode) as alice:
            return await _async_calls(alice, bot, bot.core.config.local[1], n, seconds, trio.sleep,
                                      trio.current_time if mock else time.monotonic)

    if mock:  # virtual time: as fast as the CPU goes, whatever else the machine runs
        return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))  # type: ignore[no-any-return]
    return trio.run(main)  # type: ignore[no-any-return]


def run_blocking(n: int, srtp: bool, seconds: float) -> dict[str, float]:
    from rvoip_sansio.adapters.blocking import open_phone
    from rvoip_sansio.phone import SrtpMode
    from rvoip_sansio.sdp import PCMU

    mode = SrtpMode.SDES if srtp else SrtpMode.NONE
    with open_phone("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=mode) as bot, \
            open_phone("alice", (LO, 0), codecs=(PCMU,), srtp=mode) as alice:
        calls = [alice.call(f"sip:bot@{LO}:{bot.core.config.local[1]}") for _ in range(n)]
        incoming = [bot.next_call(10.0) for _ in range(n)]
        legs = calls + incoming
        chunk = np.zeros(320, np.int16) + 100
        got = 0
        tick = time.monotonic()
        t_end = tick + WARMUP
        while time.monotonic() < t_end:
            for c in legs:
                c.audio.write_nowait(chunk)
                c.audio.read_all()
            tick += 0.02
            time.sleep(max(0.0, tick - time.monotonic()))
        missed0, cpu0, t0 = _missed(legs), _cpu(), time.monotonic()
        while time.monotonic() - t0 < seconds:
            for c in legs:
                c.audio.write_nowait(chunk)
                got += len(c.audio.read_all())
            tick += 0.02
            time.sleep(max(0.0, tick - time.monotonic()))
        out = dict(cpu=_cpu() - cpu0, wall=time.monotonic() - t0, frames=got)
        out.update(missed=_missed(legs) - missed0)
        for c in calls:
            c.hangup()
        return out


def one(adapter: str, n: int, srtp: bool, seconds: float) -> dict[str, float]:
    if adapter in ("asyncio", "uvloop", "asyncio-mock"):
        return run_asyncio(n, srtp, seconds, adapter == "uvloop", adapter == "asyncio-mock")
    if adapter in ("trio", "trio-mock"):
        return run_trio(n, srtp, seconds, adapter == "trio-mock")
    return run_blocking(n, srtp, seconds)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        adapter, n, srtp, seconds = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "on", float(sys.argv[5])
        print(json.dumps(one(adapter, n, srtp, seconds)), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapters", default="asyncio,uvloop,trio,blocking")
    parser.add_argument("--calls", default="50,100,200")
    parser.add_argument("--srtp", default="off,on")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--raw", help="append each run's JSON to this file")
    args = parser.parse_args()
    adapters = args.adapters.split(",")
    if "uvloop" in adapters:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            adapters.remove("uvloop")
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"127.0.0.1, {os.cpu_count()} cores, load average {load} at start; "
          f"{args.seconds:.0f} s measured per run, median of {args.repeat} (range)\n")
    print("| adapter | SRTP | calls (legs) | legs per core | frames per leg per s | missed | CPU of one core |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for adapter in adapters:
        for srtp in args.srtp.split(","):
            for n in (int(c) for c in args.calls.split(",")):
                per_core, frames, cpu, missed = [], [], [], []
                for _ in range(args.repeat):
                    proc = subprocess.run([sys.executable, __file__, "--one", adapter, str(n), srtp,
                                           str(args.seconds)], capture_output=True, text=True,
                                          timeout=args.seconds + 120 + n)
                    try:
                        r = json.loads(proc.stdout.strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        print(f"<!-- {adapter} {srtp} {n}: failed: {proc.stderr[-300:]!r} -->")
                        continue
                    if args.raw:
                        with open(args.raw, "a") as f:
                            f.write(json.dumps(dict(r, adapter=adapter, srtp=srtp, n=n)) + "\n")
                    per_core.append(r["frames"] / 50 / r["cpu"])
                    frames.append(r["frames"] / (2 * n) / r["wall"])
                    cpu.append(r["cpu"] / r["wall"])
                    missed.append(r["missed"] / max(r["frames"], 1))
                if not per_core:
                    continue
                print(f"| {adapter} | {srtp} | {n} ({2 * n}) | {statistics.median(per_core):.0f} "
                      f"({min(per_core):.0f}–{max(per_core):.0f}) | {statistics.median(frames):.1f} "
                      f"({min(frames):.1f}–{max(frames):.1f}) | {statistics.median(missed):.1%} | "
                      f"{statistics.median(cpu):.0%} |", flush=True)


if __name__ == "__main__":
    main()
