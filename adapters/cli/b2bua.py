"""``rvoip b2bua --listen HOST:PORT --to HOST:PORT``: bridge every incoming call to ``--to``.

Each call that arrives becomes a second call to the target (same user part), with SDP,
progress, answer, re-INVITEs, DTMF INFO, hangups and failures relayed both ways.
"""

from __future__ import annotations

import argparse
import random
import secrets

from rvoip_sansio import Event
from rvoip_sansio.dialog import CallEnded, UAConfig, UserAgent
from rvoip_sansio.server import B2BUA, route_to
from rvoip_sansio.transaction import EndpointConfig

from .answer import add_common, address, serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--to", type=address, required=True, metavar="HOST:PORT",
                        help="where every call is bridged to")
    parser.add_argument("--user", default="b2bua", help="our user name (Contact, From)")


def build(args: argparse.Namespace) -> B2BUA:
    config = UAConfig(local=args.listen, user=args.user, media=None,
                      endpoint=EndpointConfig(max_transactions=500_000))
    ua = UserAgent(config=config, rng=random.Random(secrets.randbits(64)))
    return B2BUA(ua=ua, router=route_to(args.to))


def run(args: argparse.Namespace) -> int:
    b2bua = build(args)
    ended = [0]

    def on_event(event: Event, now: float) -> None:
        if isinstance(event, CallEnded):
            ended[0] += 1

    def done() -> bool:
        # Each bridged call ends twice (leg A and leg B).
        return bool(args.count) and ended[0] >= 2 * args.count

    def summary() -> str:
        return f"bridged {b2bua.bridged} calls, refused {b2bua.refused}, {ended[0]} legs ended"

    return serve(b2bua, args.listen, on_event, done, summary, args.verbose)
