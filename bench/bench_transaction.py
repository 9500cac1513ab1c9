"""Transactions per second through the SIP transaction layer, in process and over loopback.

1. In process, no sockets: datagrams straight into one ``Endpoint`` whose TU answers (parse,
   match, stamp Via, create the server transaction, respond, serialize); and the same
   exchanges end to end between two endpoints on the simulated network (``rvoip_sansio.sim``),
   which runs both client and server transactions plus the network model.
2. Over 127.0.0.1 with SIPp as the load: SIPp's UAC sends OPTIONS (tests/interop/sipp/
   options_uac.xml) to our Endpoint on the asyncio UDP adapter, whose TU answers 200; and,
   in the same run and at the same rates, to SIPp's own UAS answering the same flow
   (options_uas.xml), the ceiling. For each target rate of a ladder: calls completed and
   failed, the rate achieved (completed calls over SIPp's wall time) and the server's CPU
   time per transaction; the summary gives the best achieved rate of a clean run.

Run: ``.venv/bin/python bench/bench_transaction.py [--quick] [--no-sipp]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rvoip_sansio.sim import LinkConfig, Network  # noqa: E402
from rvoip_sansio.sip import Request, make_response  # noqa: E402
from rvoip_sansio.transaction import Endpoint, EndpointConfig, RequestReceived  # noqa: E402
from tests.interop._sipp import LOOPBACK, free_udp_port, run_sipp, start_endpoint  # noqa: E402

SRC = ("127.0.0.1", 5061)
CONFIG = EndpointConfig(max_transactions=10**7)


def request_bytes(method: str, i: int) -> bytes:
    # What SIPp's UAC sends (same header set and sizes).
    return (
        f"{method} sip:service@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-{i}-0\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag00{i}\r\n"
        "To: <sip:service@127.0.0.1:5060>\r\n"
        f"Call-ID: {i}-4242@127.0.0.1\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:sipp@127.0.0.1:5061>\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def ack_bytes(i: int, to_tag: str) -> bytes:
    return (
        "ACK sip:service@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-{i}-0\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag00{i}\r\n"
        f"To: <sip:service@127.0.0.1:5060>;tag={to_tag}\r\n"
        f"Call-ID: {i}-4242@127.0.0.1\r\n"
        "CSeq: 1 ACK\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def in_process(flow: str, n: int) -> float:
    """Server side only: transactions/s for OPTIONS->200 or INVITE->486->ACK."""
    ep = Endpoint(local=("127.0.0.1", 5060), rng=random.Random(1), config=CONFIG)
    method = "OPTIONS" if flow == "OPTIONS" else "INVITE"
    code = 200 if flow == "OPTIONS" else 486
    data = [request_bytes(method, i) for i in range(n)]
    acks = [ack_bytes(i, "t") for i in range(n)] if method == "INVITE" else None
    gc.collect()
    start = time.process_time()
    for i in range(n):
        now = i * 1e-4  # 10,000/s of simulated arrival time; timers run as they fall due
        ep.receive(data[i], SRC, now)
        while (ev := ep.next_event()) is not None:
            if isinstance(ev, RequestReceived) and ev.transaction is not None:
                ep.send_response(make_response(ev.request, code, to_tag="t"), now, transaction=ev.transaction)
        ep.datagrams_to_send(now)
        if acks is not None:
            ep.receive(acks[i], SRC, now)
            ep.datagrams_to_send(now)
        if not i & 255:
            ep.handle_timeout(now)
    return n / (time.process_time() - start)


def in_sim(flow: str, n: int) -> float:
    """Both ends on the simulated network: transactions/s of wall time."""
    net = Network(seed=1, link=LinkConfig(delay=0.001))
    alice = Endpoint(local=("10.0.0.1", 5060), rng=random.Random(1), config=CONFIG)
    bob = Endpoint(local=("10.0.0.2", 5060), rng=random.Random(2), config=CONFIG)
    code = 200 if flow == "OPTIONS" else 486
    method = "OPTIONS" if flow == "OPTIONS" else "INVITE"

    def answer(node: object, ev: object, now: float) -> None:
        if isinstance(ev, RequestReceived) and ev.transaction is not None:
            bob.send_response(make_response(ev.request, code, to_tag="t"), now, transaction=ev.transaction)

    net.add_node("alice", alice.local, alice)
    net.add_node("bob", bob.local, bob, answer)
    for i in range(n):
        req = Request(method, "sip:bob@10.0.0.2", [
            ("From", f"<sip:alice@10.0.0.1>;tag=a{i}"), ("To", "<sip:bob@10.0.0.2>"),
            ("Call-ID", f"c{i}"), ("CSeq", f"1 {method}"),
        ])
        net.at(i * 1e-4, lambda now, req=req: alice.send_request(req, now))  # type: ignore[misc]
    gc.collect()
    start = time.process_time()
    net.run()
    return n / (time.process_time() - start)


Row = tuple[int, int, tuple[int, int, float, float], tuple[int, int, float, float]]


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a child process (Linux /proc), to compare CPU cost per transaction."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sipp_ladder(sipp: str, rates: list[int], seconds: float) -> list[Row]:
    """For each rate: calls, then (successful, failed, CPU µs per transaction) against us
    and against SIPp's UAS."""
    rows = []
    for rate in rates:
        calls = int(rate * seconds)
        udp, _tu = await start_endpoint()
        cpu0 = time.process_time()
        ours = await run_sipp(sipp, udp.local_address, scenario="options_uac.xml", calls=calls, rate=rate,
                              timeout=seconds + 12)
        ours_cpu = (time.process_time() - cpu0) / max(ours.successful, 1) * 1e6
        await udp.close()
        port = free_udp_port()
        with tempfile.TemporaryDirectory() as tmp:
            uas = await asyncio.create_subprocess_exec(
                sipp, "-sf", str(ROOT / "tests/interop/sipp/options_uas.xml"), "-i", LOOPBACK,
                "-p", str(port), "-nostdin", "-buff_size", "4194304", cwd=tmp,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.sleep(0.3)
            uas_cpu0 = proc_cpu_seconds(uas.pid)
            ceiling = await run_sipp(sipp, (LOOPBACK, port), scenario="options_uac.xml", calls=calls,
                                     rate=rate, timeout=seconds + 12)
            uas_cpu = (proc_cpu_seconds(uas.pid) - uas_cpu0) / max(ceiling.successful, 1) * 1e6
            uas.terminate()
            await uas.wait()
        rows.append((rate, calls, (ours.successful, ours.failed, ours_cpu, ours.successful / ours.elapsed),
                     (ceiling.successful, ceiling.failed, uas_cpu, ceiling.successful / ceiling.elapsed)))
        # Achieved: SIPp's own wall time from start to the last call (includes its start-up).
        print(f"  target {rate:>6}/s | ours: {ours.successful:>6} ok {ours.failed:>4} failed,"
              f" {ours.successful / ours.elapsed:>7,.0f}/s achieved, {ours_cpu:5.1f} µs CPU/tx"
              f" | SIPp UAS: {ceiling.successful:>6} ok {ceiling.failed:>4} failed,"
              f" {ceiling.successful / ceiling.elapsed:>7,.0f}/s achieved, {uas_cpu:5.1f} µs CPU/tx",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--no-sipp", action="store_true", help="skip the loopback part")
    args = parser.parse_args()
    n = 5_000 if args.quick else 30_000

    print("In process, no sockets (best of 3; CPU time of this process, so other load on the"
          " machine counts less):")
    print(f"  {'flow':<28} {'transactions/s':>15}")
    results = {}
    for label, fn, flow in [
        ("server OPTIONS -> 200", in_process, "OPTIONS"),
        ("server INVITE -> 486 -> ACK", in_process, "INVITE"),
        ("sim, both ends, OPTIONS", in_sim, "OPTIONS"),
        ("sim, both ends, INVITE 486", in_sim, "INVITE"),
    ]:
        best = max(fn(flow, n if fn is in_process else n // 3) for _ in range(3))
        results[label] = best
        print(f"  {label:<28} {best:>15,.0f}")

    sipp = shutil.which("sipp")
    if args.no_sipp or sipp is None:
        print("\n(SIPp part skipped)" if sipp else "\n(SIPp not installed: loopback part skipped)")
        return
    seconds = 2.0 if args.quick else 4.0
    rates = [1000, 4000, 8000, 12000, 16000, 20000]
    print(f"\nLoopback UDP, SIPp UAC OPTIONS load, {seconds:.0f} s per rate "
          "(ours: Endpoint on the asyncio adapter; ceiling: SIPp's own UAS):")
    rows = asyncio.run(sipp_ladder(sipp, rates, seconds))
    # Clean: every call of the run completed (none failed, none left unfinished). Achieved:
    # completed calls over SIPp's wall time, since SIPp slows down (retransmits, waits) when
    # the server lags, rather than failing calls.
    ours_best = max((a for _, n, (ok, bad, _, a), _ in rows if bad == 0 and ok == n), default=0.0)
    sipp_best = max((a for _, n, _, (ok, bad, _, a) in rows if bad == 0 and ok == n), default=0.0)
    cpu_ours = min(c for _, _, (ok, _, c, _), _ in rows if ok > 0)
    cpu_sipp = min(c for _, _, _, (ok, _, c, _) in rows if ok > 0)
    print(f"\n  {'server':<30} {'best clean achieved tx/s':>25} {'CPU µs/tx':>10} {'tx/s per CPU s':>15}")
    print(f"  {'rvoip Endpoint (asyncio UDP)':<30} {ours_best:>25,.0f} {cpu_ours:>10.1f} {1e6 / cpu_ours:>15,.0f}")
    print(f"  {'SIPp UAS (ceiling)':<30} {sipp_best:>25,.0f} {cpu_sipp:>10.1f} {1e6 / cpu_sipp:>15,.0f}")
    print(f"  ratio ours / SIPp UAS: achieved {ours_best / max(sipp_best, 1):.2f}, "
          f"CPU cost {cpu_sipp / cpu_ours:.2f}")

if __name__ == "__main__":
    main()
