"""Run SIPp against our transaction Endpoint on the asyncio UDP adapter (127.0.0.1 only).

Shared by the interop tests and bench/bench_transaction.py.
"""

from __future__ import annotations

import asyncio
import csv
import random
import socket
import tempfile
from pathlib import Path

import attrs

from rvoip_sansio import Event
from rvoip_sansio.adapters.asyncio import UdpEndpoint, open_udp_endpoint
from rvoip_sansio.sip import make_response
from rvoip_sansio.transaction import Endpoint, EndpointConfig, RequestReceived, TransactionTimeout

SCENARIOS = Path(__file__).resolve().parent / "sipp"
LOOPBACK = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@attrs.define
class Answerer:
    """A minimal transaction user: OPTIONS -> 200, INVITE -> ``invite_code``; counts things."""

    endpoint: Endpoint
    invite_code: int = 486
    requests: dict[str, int] = attrs.field(factory=dict)
    stray_acks: int = 0
    timeouts: int = 0
    other: list[Event] = attrs.field(factory=list)
    tag: int = 0

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, RequestReceived):
            method = event.request.method
            self.requests[method] = self.requests.get(method, 0) + 1
            if event.transaction is None:
                self.stray_acks += 1
                return
            code = self.invite_code if method == "INVITE" else 200
            self.tag += 1
            response = make_response(event.request, code, to_tag=f"rv{self.tag}")
            self.endpoint.send_response(response, now, transaction=event.transaction)
        elif isinstance(event, TransactionTimeout):
            self.timeouts += 1
        else:
            self.other.append(event)


@attrs.frozen
class SippResult:
    returncode: int
    successful: int
    failed: int
    retransmissions: int
    elapsed: float
    stdout: str
    stderr: str


async def start_endpoint(invite_code: int = 486, seed: int = 1) -> tuple[UdpEndpoint, Answerer]:
    core = Endpoint(local=(LOOPBACK, 0), rng=random.Random(seed), config=EndpointConfig(max_transactions=200_000))
    answerer = Answerer(endpoint=core, invite_code=invite_code)
    udp = await open_udp_endpoint(core, (LOOPBACK, 0), on_event=answerer.on_event, buffer_size=4194304)
    core.local = udp.local_address  # the Via sent-by of requests we would send
    return udp, answerer


async def run_sipp(
    sipp: str,
    target: tuple[str, int],
    *,
    scenario: str,
    calls: int,
    rate: int,
    limit: int | None = None,
    timeout: float = 20.0,
    extra: tuple[str, ...] = (),
) -> SippResult:
    """Run a SIPp client to ``target`` until ``calls`` are done; read its statistics CSV."""
    with tempfile.TemporaryDirectory() as tmp:
        stf = Path(tmp) / "stats.csv"
        scen = ["-sn", scenario] if scenario in ("uac", "uas") else ["-sf", str(SCENARIOS / scenario)]
        args = [
            f"{target[0]}:{target[1]}", *scen, "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-m", str(calls), "-r", str(rate), "-nostdin", "-timeout", f"{int(timeout)}s",
            "-timeout_error", "-trace_stat", "-stf", str(stf), "-fd", "1",
            "-buff_size", "4194304", *extra,
        ]
        if limit is not None:
            args += ["-l", str(limit)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc = await asyncio.create_subprocess_exec(
            sipp, *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout + 10)
        except asyncio.TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
        elapsed = loop.time() - started
        successful = failed = retrans = -1
        if stf.exists():
            rows = list(csv.DictReader(stf.read_text().splitlines(), delimiter=";"))
            if rows:
                last = rows[-1]
                successful = int(last["SuccessfulCall(C)"])
                failed = int(last["FailedCall(C)"])
                retrans = int(last.get("Retransmissions(C)", "0") or 0)
        return SippResult(
            returncode=proc.returncode if proc.returncode is not None else -1,
            successful=successful, failed=failed, retransmissions=retrans, elapsed=elapsed,
            stdout=out.decode("utf-8", "replace")[-3000:], stderr=err.decode("utf-8", "replace")[-3000:],
        )
