"""Shared builders for transaction tests: requests as a real UA would write them."""

from __future__ import annotations

import random

from rvoip_sansio import Address
from rvoip_sansio.sim import LinkConfig, Network, Node
from rvoip_sansio.sip import make_response
from rvoip_sansio.sip import Request
from rvoip_sansio.transaction import Endpoint, EndpointConfig, RequestReceived

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)


def request(method: str, *, to: Address = BOB, cseq: int = 1, call_id: str = "call-1@alice",
            branch: str | None = None, via_host: str = "10.0.0.1", extra: tuple[tuple[str, str], ...] = ()) -> Request:
    headers: list[tuple[str, str]] = []
    if branch is not None:
        headers.append(("Via", f"SIP/2.0/UDP {via_host}:5060;branch={branch}"))
    headers += [
        ("Max-Forwards", "70"),
        ("From", "Alice <sip:alice@10.0.0.1>;tag=a1"),
        ("To", f"Bob <sip:bob@{to[0]}:{to[1]}>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", "<sip:alice@10.0.0.1:5060>"),
        *extra,
    ]
    return Request(method, f"sip:bob@{to[0]}:{to[1]}", headers)


def endpoint(address: Address, seed: int = 1, **config: object) -> Endpoint:
    return Endpoint(local=address, rng=random.Random(seed), config=EndpointConfig(**config))  # type: ignore[arg-type]


def answering(code: int, *, provisional: int | None = None, delay: float = 0.0):  # type: ignore[no-untyped-def]
    """An on_event callback that answers every new request (not ACK) with ``code``."""

    def on_event(node: Node, event: object, now: float) -> None:
        if isinstance(event, RequestReceived) and event.transaction is not None:
            ep = node.endpoint
            assert isinstance(ep, Endpoint)
            if event.request.method in ("CANCEL", "ACK"):
                return
            if provisional is not None:
                ep.send_response(make_response(event.request, provisional, to_tag="b1"), now,
                                 transaction=event.transaction)
            ep.send_response(make_response(event.request, code, to_tag="b1"), now,
                             transaction=event.transaction)

    return on_event


def pair(link: LinkConfig | None = None, seed: int = 0, alice_cb=None, bob_cb=None, **config: object):  # type: ignore[no-untyped-def]
    net = Network(seed=seed, link=link)
    a = net.add_node("alice", ALICE, endpoint(ALICE, seed + 1, **config), alice_cb)
    b = net.add_node("bob", BOB, endpoint(BOB, seed + 2, **config), bob_cb)
    return net, a, b
