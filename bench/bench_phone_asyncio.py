"""Bot-like calls per core through the asyncio Phone on real loopback sockets (issue 10 §4).

N calls between two asyncio Phones in one process (both ends counted as legs), PCMU, 16 kHz
application audio (8<->16 kHz resampling both ways), no SRTP; every 20 ms a Python loop writes
20 ms to every leg and reads what arrived. Prints legs per core = legs x wall / CPU and the
frames delivered per leg per second (50 = real time). Usage: bench_phone_asyncio.py N
"""
import asyncio, resource, sys, time, numpy as np
from rvoip_sansio.adapters.asyncio import Phone
from rvoip_sansio.sdp import PCMU
N = int(sys.argv[1]); SECS = 8.0
async def main():
    async with Phone.open("bot", ("127.0.0.1", 0), auto_answer=True, codecs=(PCMU,), srtp=False) as bot, \
               Phone.open("alice", ("127.0.0.1", 0), codecs=(PCMU,), srtp=False) as alice:
        calls = [await alice.call(f"sip:bot@127.0.0.1:{bot.config.local[1]}") for _ in range(N)]
        incoming = [await bot.accept() for _ in range(N)]
        legs = calls + incoming
        chunk = np.zeros(320, np.int16) + 100
        got = 0
        r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
        while time.monotonic() - t0 < SECS:
            for c in legs:
                c.audio.write_nowait(chunk)
                got += len(c.audio.read_all())
            await asyncio.sleep(0.02)
        r1 = resource.getrusage(resource.RUSAGE_SELF); wall = time.monotonic() - t0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(f"N={N} legs={2*N} wall={wall:.1f}s cpu={cpu:.2f}s frames/leg/s={got/(2*N)/wall:.1f} legs/core={2*N*wall/cpu:.0f}")
        for c in calls: await c.hangup()
asyncio.run(main())
