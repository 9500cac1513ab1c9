"""SIPp OPTIONS load against the SIP Endpoint on each adapter (asyncio, trio, blocking thread,
blocking caller-driven), and against SIPp's own UAS, at the same target rates in one run.
Achieved rate = completed / SIPp wall time; CPU µs per transaction of the server process."""
from __future__ import annotations
import asyncio, random, shutil, subprocess, sys, threading, time
from pathlib import Path
import trio
from rvoip_sansio.transaction import Endpoint, EndpointConfig
from tests.interop._sipp import Answerer, run_sipp, free_udp_port, SCENARIOS, LOOPBACK

SIPP = shutil.which("sipp")
RATES = [int(r) for r in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1000, 4000, 8000, 12000]
SECONDS = 3.0
BUF = 4194304

def core_tu():
    core = Endpoint(local=(LOOPBACK, 0), rng=random.Random(1), config=EndpointConfig(max_transactions=200_000))
    return core, Answerer(endpoint=core)

import csv, tempfile
class Res:
    pass
def sipp_popen(target, rate):
    """SIPp as a plain child process (no reader thread in our process): stats to a file."""
    tmp = tempfile.mkdtemp()
    stf = Path(tmp) / "stats.csv"
    args = [SIPP, f"{target[0]}:{target[1]}", "-sf", str(SCENARIOS / "options_uac.xml"), "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-m", str(int(rate * SECONDS)), "-r", str(rate), "-nostdin",
            "-timeout", f"{int(SECONDS + 12)}s", "-timeout_error", "-trace_stat", "-stf", str(stf),
            "-buff_size", str(BUF)]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    proc.started = time.monotonic(); proc.stf = stf
    return proc
def sipp_result(proc):
    r = Res(); r.elapsed = time.monotonic() - proc.started
    last = list(csv.DictReader(proc.stf.read_text().splitlines(), delimiter=";"))[-1]
    r.successful = int(last["SuccessfulCall(C)"]); r.failed = int(last["FailedCall(C)"])
    return r
def sipp_job(target, rate):
    return run_sipp(SIPP, target, scenario="options_uac.xml", calls=int(rate * SECONDS), rate=rate, timeout=SECONDS + 12)

def measure(run):
    cpu0 = time.process_time()
    res = run()
    return res, (time.process_time() - cpu0) / max(res.successful, 1) * 1e6

def on_asyncio(rate):
    from rvoip_sansio.adapters.asyncio import open_udp_endpoint
    async def main():
        core, tu = core_tu()
        udp = await open_udp_endpoint(core, (LOOPBACK, 0), on_event=tu.on_event, buffer_size=BUF)
        try:
            return await sipp_job(udp.local_address, rate)
        finally:
            await udp.close()
    return measure(lambda: asyncio.run(main()))

def on_trio(rate):
    from rvoip_sansio.adapters.trio import open_udp_endpoint
    async def main():
        core, tu = core_tu()
        async with open_udp_endpoint(core, (LOOPBACK, 0), on_event=tu.on_event, buffer_size=BUF) as udp:
            proc = sipp_popen(udp.local_address, rate)
            await trio.to_thread.run_sync(proc.wait)  # blocked in waitpid: no GIL traffic
            return sipp_result(proc)
    return measure(lambda: trio.run(main))

def on_blocking(rate, background):
    from rvoip_sansio.adapters.blocking import open_udp_endpoint
    def main():
        core, tu = core_tu()
        with open_udp_endpoint(core, (LOOPBACK, 0), on_event=tu.on_event, buffer_size=BUF, background=background) as udp:
            proc = sipp_popen(udp.local_address, rate)
            if background:
                proc.wait()
            else:
                while proc.poll() is None:
                    udp.poll(0.05)
            return sipp_result(proc)
    return measure(main)

def proc_cpu(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def on_sipp_uas(rate):
    port = free_udp_port()
    uas = subprocess.Popen([SIPP, "-sf", str(SCENARIOS / "options_uas.xml"), "-i", LOOPBACK, "-p", str(port),
                            "-nostdin", "-buff_size", str(BUF)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        c0 = proc_cpu(uas.pid)
        res = asyncio.run(sipp_job((LOOPBACK, port), rate))
        return res, (proc_cpu(uas.pid) - c0) / max(res.successful, 1) * 1e6
    finally:
        uas.kill(); uas.wait()

ALL = [("asyncio", on_asyncio), ("trio", on_trio), ("blocking (thread)", lambda r: on_blocking(r, True)),
           ("blocking (caller-driven)", lambda r: on_blocking(r, False)), ("SIPp UAS", on_sipp_uas)]
import os
SERVERS = [x for x in ALL if x[0] in os.environ.get("ONLY", "asyncio,trio,blocking (thread),blocking (caller-driven),SIPp UAS").split(",")]
print(f"SIPp UAC OPTIONS, {SECONDS:.0f} s per target rate, 4 MB socket buffers, 127.0.0.1")
print("| target/s | " + " | ".join(n for n, _ in SERVERS) + " |")
print("|---|" + "---|" * len(SERVERS))
best = {n: (0.0, 1e9) for n, _ in SERVERS}
for rate in RATES:
    cells = []
    for name, fn in SERVERS:
        res, cpu = fn(rate)
        ach = res.successful / res.elapsed if res.elapsed else 0
        total = int(rate * SECONDS)
        cells.append(f"{ach:,.0f}/s, {res.failed} failed{'' if res.successful == total else f' ({res.successful}/{total} done)'}, {cpu:.0f} µs")
        if res.failed == 0 and res.successful == total:
            b = best[name]; best[name] = (max(b[0], ach), min(b[1], cpu))
    print(f"| {rate:,} | " + " | ".join(cells) + " |", flush=True)
print()
print("| server | best clean achieved tx/s | least CPU µs/tx | rate vs asyncio | CPU vs asyncio |")
print("|---|---|---|---|---|")
ra, ca = best.get("asyncio", (1, 1))
for name, _ in SERVERS:
    r, c = best[name]
    print(f"| {name} | {r:,.0f} | {c:.0f} | {r / ra:.2f} | {c / ca:.2f} |")
