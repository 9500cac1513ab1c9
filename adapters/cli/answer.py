"""``rvoip answer --listen HOST:PORT``: a user agent that answers every call.

It answers at once (or after ``--ring`` seconds of ringing), hangs up when the caller does
(or after ``--duration`` seconds), and can challenge callers (``--auth USER:PASSWORD``, MD5
digest, RFC 3261 §22) and act as a registrar for REGISTER (``--registrar``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import secrets
import sys
from typing import Callable

from rvoip_sansio import Address, Event
from rvoip_sansio.dialog import CallEnded, CallState, IncomingCall, UAConfig, UserAgent
from rvoip_sansio.sdp import PCMA, PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip.auth import Algorithm, DigestServer, DigestServerConfig, InMemoryCredentialStore
from rvoip_sansio.transaction import EndpointConfig

from rvoip_sansio._core import DatagramCore

from ..asyncio import open_udp_endpoint
from ._common import stop_on_signals

__all__ = ["add_arguments", "run", "build", "address", "add_common", "serve"]



def address(text: str) -> Address:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as an Address; argparse type."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return (host.strip("[]"), int(port))


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", type=address, required=True, metavar="HOST:PORT",
                        help="UDP address to listen on (e.g. 127.0.0.1:5080)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="exit after N calls have ended (default: run until Ctrl-C)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")


def serve(core: DatagramCore, local: Address, on_event: Callable[[Event, float], object],
          done: Callable[[], bool], summary: Callable[[], str], verbose: int = 0) -> int:
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        # Room for bursts of load (SIPp at thousands of calls/s).
        udp = await open_udp_endpoint(core, local, on_event=on_event, buffer_size=4 * 1024 * 1024)
        print(f"listening on {local[0]}:{local[1]} (udp)", file=sys.stderr, flush=True)
        stop = stop_on_signals()
        while not stop.is_set() and not done():
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
        await udp.close()

    asyncio.run(main())
    print(summary(), file=sys.stderr, flush=True)
    return 0



def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--user", default="rvoip", help="our user name (Contact, From)")
    parser.add_argument("--ring", type=float, default=0.0, metavar="S",
                        help="send 180 Ringing and answer after S seconds (default: answer at once)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S",
                        help="hang up answered calls after S seconds (default: wait for the caller)")
    parser.add_argument("--auth", metavar="USER:PASSWORD",
                        help="challenge INVITEs (and REGISTERs) with MD5 digest for this account")
    parser.add_argument("--realm", default="rvoip", help="digest realm (default rvoip)")
    parser.add_argument("--registrar", action="store_true", help="also accept REGISTER (a registrar)")
    parser.add_argument("--rtp-port", type=int, default=40000, help="RTP port written into SDP")


def build(args: argparse.Namespace) -> tuple[UserAgent, Registrar | None]:
    local = args.listen
    caps = LocalCapabilities(address=local[0], media=(MediaCapabilities(codecs=(PCMU, PCMA), port=args.rtp_port),))
    config = UAConfig(local=local, user=args.user, media=caps,
                      endpoint=EndpointConfig(max_transactions=500_000))
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        store = InMemoryCredentialStore()
        store.add(user, args.realm, password)
        auth = DigestServer(config=DigestServerConfig(realm=args.realm, algorithms=(Algorithm.MD5,)),
                            secret=secrets.token_bytes(32), store=store)
    ua = UserAgent(config=config, rng=random.Random(secrets.randbits(64)), auth=auth,
                   auth_methods=("INVITE",))
    registrar = None
    if args.registrar:
        registrar = Registrar(auth=auth)
        ua.serve("REGISTER", registrar)
    return ua, registrar


def run(args: argparse.Namespace) -> int:
    ua, _ = build(args)
    stats = {"answered": 0, "ended": 0}

    def on_event(event: Event, now: float) -> None:
        if isinstance(event, IncomingCall):
            call = event.call
            if args.ring > 0:
                call.ring(now)
                ua.timers.arm(now + args.ring, lambda t: call.answer(t) if call.state in (
                    CallState.INCOMING, CallState.EARLY) else None)
            else:
                call.answer(now)
            stats["answered"] += 1
            if args.duration > 0:
                ua.timers.arm(now + args.duration, lambda t: call.hangup(t) if call.is_active else None)
        elif isinstance(event, CallEnded):
            stats["ended"] += 1

    def done() -> bool:
        return bool(args.count) and stats["ended"] >= args.count

    def summary() -> str:
        return f"answered {stats['answered']} calls, {stats['ended']} ended"

    return serve(ua, args.listen, on_event, done, summary, args.verbose)
