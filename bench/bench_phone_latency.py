"""Application-to-application latency through two Phones on loopback, per adapter (issue 10 §4).

One call between two Phones in one process (PCMU, 16 kHz application audio, no SRTP). At
random instants Alice writes 20 ms holding one impulse; Bob reads every frame and notes when
the frame holding the impulse reaches him. The figure is write -> frame read: Alice's send
side (waiting for the next 20 ms tick, encoding), the loopback, Bob's receive side (jitter
buffer at its minimum, playout on his tick) and both hosts' wake-ups. It checks that the
adapters add nothing to what the core's own one-way figures (bench/bench_callmedia.py) predict.

    .venv/bin/python bench/bench_phone_latency.py [--adapters asyncio,trio,blocking] [--count 40]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

LO = "127.0.0.1"


def _impulse() -> Any:
    pcm = np.zeros(320, np.int16)
    pcm[0] = 20000
    return pcm


def _has_impulse(frames: list[Any]) -> bool:
    return any(int(np.abs(f.samples).max()) > 4000 for f in frames)


async def _async_run(alice: Any, bob: Any, port: int, count: int, sleep: Any) -> list[float]:
    call = await alice.call(f"sip:bot@{LO}:{port}")
    peer = await bob.accept()
    await sleep(1.0)
    rng = random.Random(7)
    out = []
    for _ in range(count):
        await sleep(0.2 + rng.random() * 0.02)
        peer.audio.read_all()
        t_w = time.monotonic()
        call.audio.write_nowait(_impulse())
        while True:
            frame = await peer.audio.read()
            if frame is None or _has_impulse([frame]):
                break
        out.append(time.monotonic() - t_w)
    await call.hangup()
    return out


def run_asyncio(count: int) -> list[float]:
    import asyncio

    from rvoip_sansio.adapters.asyncio import Phone
    from rvoip_sansio.sdp import PCMU

    async def main() -> list[float]:
        async with Phone.open("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=False) as bot, \
                Phone.open("alice", (LO, 0), codecs=(PCMU,), srtp=False) as alice:
            return await _async_run(alice, bot, bot.config.local[1], count, asyncio.sleep)

    return asyncio.run(main())


def run_trio(count: int) -> list[float]:
    import trio

    from rvoip_sansio.adapters.trio import open_phone
    from rvoip_sansio.phone import SrtpMode
    from rvoip_sansio.sdp import PCMU

    async def main() -> list[float]:
        async with open_phone("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=SrtpMode.NONE) as bot, \
                open_phone("alice", (LO, 0), codecs=(PCMU,), srtp=SrtpMode.NONE) as alice:
            return await _async_run(alice, bot, bot.core.config.local[1], count, trio.sleep)

    return trio.run(main)  # type: ignore[no-any-return]


def run_blocking(count: int) -> list[float]:
    from rvoip_sansio.adapters.blocking import open_phone
    from rvoip_sansio.phone import SrtpMode
    from rvoip_sansio.sdp import PCMU

    with open_phone("bot", (LO, 0), auto_answer=True, codecs=(PCMU,), srtp=SrtpMode.NONE) as bot, \
            open_phone("alice", (LO, 0), codecs=(PCMU,), srtp=SrtpMode.NONE) as alice:
        call = alice.call(f"sip:bot@{LO}:{bot.core.config.local[1]}")
        peer = bot.next_call(10.0)
        assert peer is not None
        time.sleep(1.0)
        rng = random.Random(7)
        out = []
        for _ in range(count):
            time.sleep(0.2 + rng.random() * 0.02)
            peer.audio.read_all()
            t_w = time.monotonic()
            call.audio.write_nowait(_impulse())
            while True:
                frame = peer.audio.read(1.0)
                if frame is None or _has_impulse([frame]):
                    break
            out.append(time.monotonic() - t_w)
        call.hangup()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapters", default="asyncio,trio,blocking")
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    print("| adapter | impulses | write -> frame read, median ms | min–max ms |")
    print("|---|---:|---:|---|")
    runs = {"asyncio": run_asyncio, "trio": run_trio, "blocking": run_blocking}
    for name in args.adapters.split(","):
        lat = [x * 1000 for x in runs[name](args.count)]
        print(f"| {name} | {len(lat)} | {statistics.median(lat):.1f} | {min(lat):.1f}–{max(lat):.1f} |", flush=True)


if __name__ == "__main__":
    main()
