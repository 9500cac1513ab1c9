"""Calls per second and memory per call of the dialog layer.

1. SIPp's built-in ``uac`` against ``rvoip answer`` (asyncio adapter), at rising rates.
2. SIPp ``uac`` -> B2BUA -> SIPp ``uas``: ``rvoip b2bua`` and sippy's ``b2bua_simple``.
3. SIPp ``uac`` -> SIPp ``uas`` directly: the ceiling of the machine and of SIPp itself.
4. Memory per established call in the core, per end: tracemalloc over 10,000 calls between
   two UserAgents on ``rvoip_sansio.sim`` (``record_trace=False``, events not kept), after
   every transaction has ended (``--memory-only`` runs just this; no SIPp needed).

A rate counts when every call of the run succeeded (SIPp's FailedCall = 0 and
SuccessfulCall = calls) with at most 1% of messages retransmitted by SIPp (more means the
server fell behind and only SIPp's retransmissions saved the calls). Each run lasts about
``--seconds`` seconds. Usage:

    .venv/bin/python bench/bench_ua.py [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def sipp_uac(target: int, rate: int, calls: int, tmp: Path) -> tuple[int, int, int, float]:
    stf = tmp / f"uac-{target}-{rate}.csv"
    args = ["sipp", "-sn", "uac", f"{LOOPBACK}:{target}", "-i", LOOPBACK, "-p", str(free_port()),
            "-m", str(calls), "-r", str(rate), "-l", str(max(rate * 2, 100)), "-nostdin",
            "-timeout", "60s", "-timeout_error", "-trace_stat", "-stf", str(stf), "-fd", "1",
            "-buff_size", "4194304"]
    start = time.monotonic()
    subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   cwd=tmp, timeout=120)
    elapsed = time.monotonic() - start
    if not stf.exists():
        return 0, calls, 0, elapsed
    last = list(csv.DictReader(stf.read_text().splitlines(), delimiter=";"))[-1]
    return (int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"]),
            int(last.get("Retransmissions(C)") or 0), elapsed)


def start(args: list[str], tmp: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tmp)
    time.sleep(0.8)  # bind
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rvoip(*args: str) -> list[str]:
    return [sys.executable, "-m", "rvoip_sansio.adapters.cli.main", *args]


def sippy_b2bua(listen: int, to: int, tmp: Path) -> list[str]:
    exe = shutil.which("b2bua_simple") or str(Path(sys.executable).parent / "b2bua_simple")
    return [exe, "-f", "-l", LOOPBACK, "-p", str(listen), "-n", f"{LOOPBACK}:{to}", "-L", str(tmp / "sippy.log")]


def ramp(name: str, rates: list[int], seconds: float, server, tmp: Path, results: list[tuple]) -> int:  # type: ignore[no-untyped-def,type-arg]
    """Run each rate against a fresh server; return the highest rate with 0 failures."""
    best = 0
    for rate in rates:
        calls = int(rate * seconds)
        procs, target = server()
        try:
            ok, failed, retrans, elapsed = sipp_uac(target, rate, calls, tmp)
        finally:
            for p in procs:
                stop(p)
        passed = failed == 0 and ok == calls
        clean = passed and retrans <= calls // 100
        results.append((name, rate, calls, ok, failed, retrans, passed))
        print(f"  {name:<28} {rate:>6}/s  {ok:>6}/{calls:<6} ok  {failed:>5} failed  "
              f"{retrans:>6} retrans  {elapsed:5.1f} s  {'PASS' if passed else 'fail'}"
              f"{'' if clean or not passed else ' (overloaded: retransmissions)'}", flush=True)
        if clean:
            best = rate
        if not passed:
            break
    return best


def memory_per_call(n: int = 10_000) -> tuple[float, float, float]:
    """Bytes per established call: (both ends, UAS end, UAC end), tracemalloc.

    Two UserAgents on ``rvoip_sansio.sim`` (trace recording off, events not kept: the
    application reads and drops them), n calls placed 0.5 ms apart and answered at once,
    then 80 simulated seconds so that every transaction ends (Timers K, J, L...): what is
    left is the established calls. The UAS end is measured by dropping Alice's node."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from rvoip_sansio.dialog import IncomingCall, UAConfig, UserAgent
    from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities
    from rvoip_sansio.sim import LinkConfig, Network
    from rvoip_sansio.transaction import EndpointConfig

    def caps(host: str) -> LocalCapabilities:
        return LocalCapabilities(address=host, media=(MediaCapabilities(codecs=(PCMU, PCMA), port=40000),))

    a_addr, b_addr = ("10.0.0.1", 5060), ("10.0.0.2", 5060)
    cfg = EndpointConfig(max_transactions=10 * n)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    a = UserAgent(config=UAConfig(local=a_addr, user="alice", media=caps(a_addr[0]), endpoint=cfg), rng=random.Random(1))
    b = UserAgent(config=UAConfig(local=b_addr, user="bob", media=caps(b_addr[0]), endpoint=cfg), rng=random.Random(2))
    net = Network(seed=1, link=LinkConfig(delay=0.001), record_trace=False)

    def drop(node, event, now):  # type: ignore[no-untyped-def]
        node.events.clear()  # the application keeps no events

    def answer(node, event, now):  # type: ignore[no-untyped-def]
        node.events.clear()
        if isinstance(event, IncomingCall):
            event.call.answer(now)

    a_node = net.add_node("alice", a_addr, a, drop)
    net.add_node("bob", b_addr, b, answer)
    step = 0.0005
    for i in range(n):
        net.at(i * step, lambda now: a.invite("sip:bob@10.0.0.2", now))
    net.run(until=n * step + 80.0)
    gc.collect()
    both = tracemalloc.get_traced_memory()[0] - base
    assert a.active_calls == b.active_calls == n, (a.active_calls, b.active_calls)
    assert a.endpoint.live_transactions == b.endpoint.live_transactions == 0
    assert not a_node.events and not net.trace
    # The UAS end alone: take Alice's node off the network and measure again.
    net.nodes.remove(a_node)
    net._by_address.pop(a_addr)  # the sim has no remove_node; a bench may reach in
    a_node = None  # type: ignore[assignment]
    a = None  # type: ignore[assignment]
    gc.collect()
    uas = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return both / n, uas / n, (both - uas) / n


def core_calls_per_second(n: int = 5000) -> float:
    """Calls/s of one answering UserAgent with no sockets: SIPp-like INVITE (with SDP), ACK
    and BYE datagrams in, responses out, transaction layer included."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from rvoip_sansio.dialog import IncomingCall, UAConfig, UserAgent
    from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities
    from rvoip_sansio.transaction import EndpointConfig

    local = ("127.0.0.1", 5060)
    caps = LocalCapabilities(address=local[0], media=(MediaCapabilities(codecs=(PCMU, PCMA), port=40000),))
    ua = UserAgent(config=UAConfig(local=local, media=caps, endpoint=EndpointConfig(max_transactions=10 * n)),
                   rng=random.Random(1))
    sdp = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
           b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

    def msg(method: str, i: int, to_tag: str = "") -> bytes:
        body = sdp if method == "INVITE" else b""
        return (f"{method} sip:service@127.0.0.1:5060 SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{i}-{method}\r\n"
                f"From: sipp <sip:sipp@127.0.0.1:5061>;tag={i}SIPpTag00{i}\r\n"
                f"To: service <sip:service@127.0.0.1:5060>{to_tag}\r\nCall-ID: {i}-1@127.0.0.1\r\n"
                f"CSeq: {2 if method == 'BYE' else 1} {method}\r\nContact: sip:sipp@127.0.0.1:5061\r\n"
                f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    messages = [msg("INVITE", i) for i in range(n)]
    src = ("127.0.0.1", 5061)
    start = time.perf_counter()
    now = 0.0
    for i in range(n):
        ua.receive(messages[i], src, now)
        while (ev := ua.next_event()) is not None:
            if isinstance(ev, IncomingCall):
                ev.call.answer(now)
                tag = f";tag={ev.call.dialog.local_tag}" if ev.call.dialog else ""
        ua.datagrams_to_send(now)
        ua.receive(msg("ACK", i, tag), src, now)
        ua.receive(msg("BYE", i, tag), src, now)
        while ua.next_event() is not None:
            pass
        ua.datagrams_to_send(now)
        now += 0.0005
        ua.handle_timeout(now)
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="fewer rates")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    opts = parser.parse_args()
    if opts.memory_only:
        print_memory()
        return 0
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian: sip-tester)")
        return 1
    seconds = opts.seconds
    results: list[tuple] = []  # type: ignore[type-arg]
    best: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print(f"SIPp uac at rising rates, {seconds:g} s per run (cores: {os.cpu_count()})", flush=True)

        def answer() -> tuple[list[subprocess.Popen[bytes]], int]:
            port = free_port()
            return [start(rvoip("answer", "--listen", f"{LOOPBACK}:{port}"), tmp)], port

        def uas() -> tuple[list[subprocess.Popen[bytes]], int]:
            port = free_port()
            return [start(["sipp", "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
                           "-buff_size", "4194304"], tmp)], port

        def b2b(kind: str):  # type: ignore[no-untyped-def]
            def server() -> tuple[list[subprocess.Popen[bytes]], int]:
                uas_procs, uas_port = uas()
                port = free_port()
                cmd = (rvoip("b2bua", "--listen", f"{LOOPBACK}:{port}", "--to", f"{LOOPBACK}:{uas_port}")
                       if kind == "rvoip" else sippy_b2bua(port, uas_port, tmp))
                return [start(cmd, tmp), *uas_procs], port
            return server

        answer_rates = [1000, 1500, 2000] if opts.quick else [1000, 1500, 2000, 2500, 3000, 3500]
        b2b_rates = [500, 800, 1000] if opts.quick else [500, 800, 1000, 1200, 1500]
        sippy_rates = [50, 70, 100] if opts.quick else [50, 70, 100, 130]
        ceiling_rates = [3000, 5000] if opts.quick else [3000, 5000, 8000]
        best["rvoip answer"] = ramp("rvoip answer", answer_rates, seconds, answer, tmp, results)
        best["sipp uas (ceiling)"] = ramp("sipp uas (ceiling)", ceiling_rates, seconds, uas, tmp, results)
        best["rvoip b2bua -> sipp uas"] = ramp("rvoip b2bua -> sipp uas", b2b_rates, seconds, b2b("rvoip"), tmp, results)
        best["sippy b2bua_simple -> uas"] = ramp("sippy b2bua_simple -> uas", sippy_rates, seconds, b2b("sippy"), tmp, results)

    print()
    print("| topology (SIPp uac ->) | highest rate, 0 failed, <=1% retransmitted | vs sippy b2bua_simple | vs SIPp uas |")
    print("| --- | ---: | ---: | ---: |")
    sippy = best["sippy b2bua_simple -> uas"] or 1
    ceiling = best["sipp uas (ceiling)"] or 1
    for name, rate in best.items():
        print(f"| {name} | {rate} calls/s | {rate / sippy:.1f}x | {rate / ceiling:.2f}x |")
    print()
    print(f"core alone (one UserAgent answering SIPp-like datagrams, no sockets): "
          f"{core_calls_per_second():,.0f} calls/s")
    if not opts.no_memory:
        print_memory()
    return 0


def print_memory() -> None:
    both, uas_b, uac_b = memory_per_call()
    print()
    print("| memory per established call (tracemalloc, 10,000 calls in rvoip_sansio.sim, "
          "transactions ended) | bytes per call |")
    print("| --- | ---: |")
    print(f"| UAS end (answered call: dialog, call handle, SDP bytes, shared negotiated media) | {uas_b:,.0f} |")
    print(f"| UAC end (placed call; the ACK is rebuilt for a retransmitted 2xx, not kept) | {uac_b:,.0f} |")
    print(f"| both ends | {both:,.0f} |")


if __name__ == "__main__":
    sys.exit(main())
