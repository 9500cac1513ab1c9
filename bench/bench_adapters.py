"""The adapters under load on 127.0.0.1 (issue 8 §4). Four parts, each printing a table:

1. ``calls``: SIPp's built-in ``uac`` (INVITE, 200, ACK, BYE, 200; 1 s calls) against a
   ``UserAgent`` answering every call, on each adapter: asyncio, asyncio on uvloop (when
   installed), trio, blocking (reader thread). Rates rise until a run fails; a rate counts
   when every call succeeded (SIPp FailedCall = 0, SuccessfulCall = all) with at most 1 % of
   messages retransmitted by SIPp. CPU = our process's user+system time per call.
2. ``media``: N concurrent calls with G.711 (PCMU) RTP both ways, SRTP on or off, in real time
   on real sockets. Two worker processes, each one thread (so at most one core; ``PIN=1``
   pins them to cores 0 and 1), each holding one end of every call. Drivings (``--drivings``):
   ``call``: N ``CallMedia`` on N asyncio ``UdpEndpoint``, one media clock per call;
   ``group``: the same on one ``CallMediaGroup`` timer; ``pump``: one ``CallMediaGroup``, every
   socket in one ``MediaPump`` epoll (what the Phones' hosts do, minus the Phone); ``phone``:
   the whole stack, an asyncio ``Phone`` per worker (SIP between them, SDES keying with the
   suite the Phones negotiate, the PhoneCore, ``call.audio``); ``phone-aescm``: the same
   with both Phones keyed AES_CM_128_HMAC_SHA1_80 only (``sdes_profiles``). The application writes a tone
   and reads every frame at 8 kHz (no resampling) every 100 ms. After 2 s of warm-up, over
   the measured window a worker "sustains" N calls when its CPU stays under 90 % of its core,
   no media tick was skipped (the clock never fell 200 ms behind), it received ≥ 99 % of the
   packets due and no SRTP packet failed. Frames concealed or late, the event loop's worst
   wake-up lag, the load average when the run started and the machine's busy cores during it
   (all processes, /proc/stat; the two workers' share is their CPU column) are printed
   beside it: a run where the machine was busier than our two workers measured the others'
   load as much as ours. "received / due" counts the packets a worker read in its window:
   below 1 with no loss counted, it fell behind and the kernel holds (then drops, "UDP
   receive-buffer drops", machine-wide from /proc/net/snmp over the window) the rest; above 1, it was behind
   when the window opened and caught up. N rises through ``--counts`` until a worker fails.
   ``PROFILE_WORKER=/tmp/w`` writes each worker's cProfile to /tmp/w.a and /tmp/w.b;
   ``GC_FREEZE=1``: each worker calls ``gc.freeze()`` once its calls are up (an
   application's choice; the collector's longest pause is printed beside the loop lag).
   ``NICE=-10`` (as root) runs the workers ahead of the machine's other processes, which on
   a shared machine is the only way to give each its core (the header says so).
3. ``options``: SIPp OPTIONS at fixed rates to the transaction ``Endpoint`` on each adapter
   and to SIPp's own UAS (the earlier table of this script).

    .venv/bin/python bench/bench_adapters.py [calls|media|media-cpu|options|all] [--quick] [--seconds S]
        [--counts 400,500,600] [--drivings pump,phone] [--srtp on,off] [--loops asyncio,uvloop]
        [--media-seconds S] [--phone-only]

4. ``media-cpu``: the cost behind part 2 without the clock: both ends of N calls in one
   process on 2N real UDP sockets, in *virtual* time (each 20 ms tick: every clock, ``sendto``
   of what it produced, ``recvfrom`` until empty, ``receive``), no event loop. Process CPU
   per media second gives calls per core for one end of each call, whatever else the machine
   runs; the difference from part 2 is the event loop's share. Its last rows run the same
   through two ``PhoneCore`` (SIP in memory, SDES, the core's CallMediaGroup, ``MediaPump``
   reads, ``media_receive_many``): the Phone's share without an event loop.

On a machine shared with other work, part 2 measures the others' load as much as ours (a
worker that gets a fifth of a core skips ticks whatever it costs; ``nice`` does not help when
the scheduler shares CPU between cgroups); the header prints the load average; part 4 does
not depend on it.

Parts 2 and 4 live in ``bench/_media_load.py`` (their worker processes re-run this script with
``--media-worker JSON``); ``media_cpu_run`` and the others stay importable from here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.interop._sipp
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from rvoip_sansio import Event  # noqa: E402
from rvoip_sansio.adapters.cli._common import free_ports  # noqa: E402
from rvoip_sansio.dialog import IncomingCall, UAConfig, UserAgent  # noqa: E402
from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities  # noqa: E402
from rvoip_sansio.transaction import Endpoint, EndpointConfig  # noqa: E402
from tests.interop._sipp import SCENARIOS, Answerer  # noqa: E402

# Parts 2 and 4 (media, media-cpu) and the worker processes: bench/_media_load.py.
# media_cpu_run, media_run, phone_cpu_run: re-exported for scripts that import this one.
from _media_load import (  # noqa: E402, F401
    DRIVINGS, LO, media_cpu_run, media_run, part_media, part_media_cpu, phone_cpu_run, run_loop, speed_probe,
    memory_probe, worker_main)

SIPP = shutil.which("sipp")
BUF = 4 * 1024 * 1024
try:
    import uvloop
except ImportError:  # reported separately when installed
    uvloop = None


# ---- SIPp ---------------------------------------------------------------------------------

class Sipp:
    """SIPp as a plain child process; its statistics CSV read when it has exited."""

    def __init__(self, target: tuple[str, int], scenario: list[str], calls: int, rate: int,
                 timeout: float, extra: list[str] = ()) -> None:  # type: ignore[assignment]
        assert SIPP, "sipp is not installed (Debian: sip-tester)"
        self.tmp = tempfile.mkdtemp()
        self.stf = Path(self.tmp) / "stats.csv"
        self.calls = calls
        args = [SIPP, f"{target[0]}:{target[1]}", *scenario, "-i", LO, "-p", str(free_ports(1)[0]),
                "-m", str(calls), "-r", str(rate), "-nostdin", "-timeout", f"{int(timeout)}s",
                "-timeout_error", "-trace_stat", "-stf", str(self.stf), "-buff_size", str(BUF), *extra]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.tmp)

    def result(self) -> tuple[int, int, int, float]:
        """(successful, failed, retransmissions, seconds) once SIPp has exited."""
        self.proc.wait()
        elapsed = time.monotonic() - self.started
        rows = list(csv.DictReader(self.stf.read_text().splitlines(), delimiter=";")) if self.stf.exists() else []
        shutil.rmtree(self.tmp, ignore_errors=True)
        if not rows:
            return 0, self.calls, 0, elapsed
        last = rows[-1]
        return (int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"]),
                int(last.get("Retransmissions(C)") or 0), elapsed)


def calls_sipp(target: tuple[str, int], rate: int, seconds: float) -> Sipp:
    # Built-in uac: INVITE (PCMU offer) -> 100/180 -> 200 -> ACK -> (-d) -> BYE -> 200.
    return Sipp(target, ["-sn", "uac", "-s", "bench"], int(rate * seconds), rate, seconds + 20,
                ["-d", "1000", "-l", str(rate * 3 + 100)])


def options_sipp(target: tuple[str, int], rate: int, seconds: float) -> Sipp:
    return Sipp(target, ["-sf", str(SCENARIOS / "options_uac.xml")], int(rate * seconds), rate, seconds + 12)


# ---- the servers: a UA answering calls, or an Endpoint answering OPTIONS, on each adapter ----

def answering_ua(port: int) -> tuple[UserAgent, Callable[[Event, float], None]]:
    caps = LocalCapabilities(address=LO, media=(MediaCapabilities(codecs=(PCMU, PCMA), port=40000),))
    ua = UserAgent(config=UAConfig(local=(LO, port), user="bench", media=caps,
                                   endpoint=EndpointConfig(max_transactions=500_000)),
                   rng=random.Random(1))

    def on_event(ev: Event, now: float) -> None:
        if isinstance(ev, IncomingCall):
            ev.call.answer(now)
    return ua, on_event


def options_endpoint(port: int) -> tuple[Endpoint, Callable[[Event, float], None]]:
    core = Endpoint(local=(LO, port), rng=random.Random(1), config=EndpointConfig(max_transactions=200_000))
    return core, Answerer(endpoint=core).on_event


Server = Callable[[int], tuple[Any, Callable[[Event, float], None]]]
Load = Callable[[tuple[str, int], int, float], Sipp]


def on_asyncio(server: Server, load: Load, rate: int, seconds: float, uv: bool = False) -> tuple[Sipp, float]:
    from rvoip_sansio.adapters.asyncio import open_udp_endpoint
    port = free_ports(1)[0]

    async def main() -> tuple[Sipp, float]:
        core, on_event = server(port)
        udp = await open_udp_endpoint(core, (LO, port), on_event=on_event, buffer_size=BUF)
        try:
            cpu = time.process_time()
            sipp = load((LO, port), rate, seconds)
            await asyncio.get_running_loop().run_in_executor(None, sipp.proc.wait)  # a thread in waitpid
            return sipp, time.process_time() - cpu
        finally:
            await udp.close()
    return run_loop(main, uv)  # type: ignore[no-any-return]


def on_trio(server: Server, load: Load, rate: int, seconds: float) -> tuple[Sipp, float]:
    import trio

    from rvoip_sansio.adapters.trio import open_udp_endpoint
    port = free_ports(1)[0]

    async def main() -> tuple[Sipp, float]:
        core, on_event = server(port)
        async with open_udp_endpoint(core, (LO, port), on_event=on_event, buffer_size=BUF):
            cpu = time.process_time()
            sipp = load((LO, port), rate, seconds)
            await trio.to_thread.run_sync(sipp.proc.wait)
            return sipp, time.process_time() - cpu
    return trio.run(main)  # type: ignore[no-any-return]


def on_blocking(server: Server, load: Load, rate: int, seconds: float) -> tuple[Sipp, float]:
    from rvoip_sansio.adapters.blocking import open_udp_endpoint
    port = free_ports(1)[0]
    core, on_event = server(port)
    with open_udp_endpoint(core, (LO, port), on_event=on_event, buffer_size=BUF, background=True):
        cpu = time.process_time()
        sipp = load((LO, port), rate, seconds)
        sipp.proc.wait()
        return sipp, time.process_time() - cpu


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def on_sipp_uas(server: Server, load: Load, rate: int, seconds: float) -> tuple[Sipp, float]:
    """The peer: SIPp's own UAS (built-in ``uas`` for calls, options_uas.xml for OPTIONS)."""
    assert SIPP
    port = free_ports(1)[0]
    scenario = ["-sn", "uas"] if load is calls_sipp else ["-sf", str(SCENARIOS / "options_uas.xml")]
    uas = subprocess.Popen([SIPP, *scenario, "-i", LO, "-p", str(port), "-nostdin", "-buff_size", str(BUF)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        cpu = _proc_cpu(uas.pid)
        sipp = load((LO, port), rate, seconds)
        sipp.proc.wait()
        return sipp, _proc_cpu(uas.pid) - cpu
    finally:
        uas.kill()
        uas.wait()


ADAPTERS: list[tuple[str, Callable[[Server, Load, int, float], tuple[Sipp, float]]]] = [
    ("asyncio", on_asyncio),
    *([("asyncio + uvloop", lambda s, ld, r, sec: on_asyncio(s, ld, r, sec, uv=True))] if uvloop else []),
    ("trio", on_trio),
    ("blocking (thread)", on_blocking),
    ("SIPp uas (the peer, C++)", on_sipp_uas),
]


def part_calls(rates: list[int], seconds: float) -> None:
    print(f"\n## Calls per second: SIPp uac -> UserAgent answering (1 s calls, {seconds:.0f} s per rate)\n")
    print("| adapter | " + " | ".join(f"{r:,}/s" for r in rates) + " | best clean calls/s | CPU µs/call there |")
    print("|---|" + "---|" * (len(rates) + 2))
    summary: list[tuple[str, int, float]] = []
    for name, run in ADAPTERS:
        cells, best, best_cpu = [], 0, 0.0
        for rate in rates:
            sipp, cpu = run(answering_ua, calls_sipp, rate, seconds)
            ok, failed, retrans, elapsed = sipp.result()
            total = int(rate * seconds)
            clean = failed == 0 and ok == total and retrans <= 0.01 * 3 * total  # SIPp sends 3 per call
            cells.append(f"{'ok' if clean else 'FAIL'} ({ok}/{total}, {failed} failed, {retrans} retr.)")
            if not clean:
                break
            best, best_cpu = rate, cpu / ok * 1e6
        cells += ["-"] * (len(rates) - len(cells))
        print(f"| {name} | " + " | ".join(cells) + f" | {best:,} | {best_cpu:.0f} |", flush=True)
        summary.append((name, best, best_cpu))
    peer = summary[-1]
    print("\n| adapter | best clean calls/s | vs asyncio | vs SIPp uas | CPU µs/call | CPU vs SIPp uas |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, best, cpu in summary:
        print(f"| {name} | {best:,} | {best / max(summary[0][1], 1):.2f} | {best / max(peer[1], 1):.2f} | "
              f"{cpu:.0f} | {cpu / peer[2] if peer[2] else 0:.1f} |")


def part_options(rates: list[int], seconds: float) -> None:
    print(f"\n## OPTIONS transactions per second: SIPp uac -> Endpoint ({seconds:.0f} s per rate)\n")
    print("| adapter | " + " | ".join(f"{r:,}/s" for r in rates) + " |")
    print("|---|" + "---|" * len(rates))
    for name, run in ADAPTERS:
        cells = []
        for rate in rates:
            sipp, cpu = run(options_endpoint, options_sipp, rate, seconds)
            ok, failed, _, elapsed = sipp.result()
            cells.append(f"{ok / elapsed:,.0f}/s, {failed} failed, {cpu / max(ok, 1) * 1e6:.0f} µs")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--media-worker":
        worker_main(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", default="all", choices=["calls", "media", "media-cpu", "options", "all"])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per SIPp run (calls, options)")
    parser.add_argument("--media-seconds", type=float, default=6.0, help="measured seconds per media run")
    parser.add_argument("--counts", help="comma-separated call counts for the media parts")
    parser.add_argument("--drivings", default="pump,phone",
                        help="media: comma-separated, of " + ",".join(DRIVINGS))
    parser.add_argument("--srtp", default="on,off", help="media: on,off")
    parser.add_argument("--loops", default="asyncio,uvloop", help="media: asyncio,uvloop (uvloop when installed)")
    parser.add_argument("--rounds", type=int, default=1, help="media: runs per call count (sustained: most of them)")
    parser.add_argument("--phone-only", action="store_true", help="media-cpu: only the PhoneCore rows")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="media-cpu: a second column with gc.freeze() after set-up")
    args = parser.parse_args()
    if os.environ.get("NICE") and args.part == "media":
        with contextlib.suppress(OSError):
            os.setsid()  # a session, so an autogroup, of its own: its nice is ours alone
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(os.environ["NICE"])
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"127.0.0.1, {os.cpu_count()} cores, load average {' '.join(load)} at start, niceness {os.nice(0)}; "
          f"uvloop {'installed' if uvloop else 'not installed'}; speed probe {speed_probe():.0f} ms, memory probe {memory_probe():.0f} ms (lower is faster)")
    if args.part in ("calls", "all"):
        part_calls([250, 1000] if args.quick else [250, 500, 1000, 1500, 2000, 3000, 4000], args.seconds)
    if args.part in ("media", "all"):
        counts = [int(c) for c in args.counts.split(",")] if args.counts else None
        loops = [name == "uvloop" for name in args.loops.split(",") if name == "asyncio" or uvloop]
        part_media(counts or ([100, 300] if args.quick else [250, 400, 500, 600]), args.media_seconds,
                   args.drivings.split(","), [x == "on" for x in args.srtp.split(",")], loops, args.rounds)
    if args.part in ("media-cpu", "all"):
        part_media_cpu([int(c) for c in args.counts.split(",")] if args.counts else [100] if args.quick else [100, 500],
                       args.media_seconds, args.gc_freeze, phone_only=args.phone_only)
    if args.part in ("options", "all"):
        part_options([1000, 4000] if args.quick else [1000, 4000, 8000], args.seconds)


if __name__ == "__main__":
    main()
