"""The asyncio UDP adapter carries our own endpoints over real loopback sockets, and the
event sequence matches the same exchange in the simulated network (timestamps aside)."""

from __future__ import annotations

import asyncio
import random

from rvoip_sansio import Event
from rvoip_sansio.sim import Network
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.transaction import Endpoint, EndpointConfig, RequestReceived, ResponseReceived

CONFIG = EndpointConfig(t1=0.05, t2=0.4, t4=0.5)


def options(target: tuple[str, int]) -> Request:
    return Request("OPTIONS", f"sip:bob@{target[0]}:{target[1]}", [
        ("From", "<sip:alice@127.0.0.1>;tag=a1"), ("To", f"<sip:bob@{target[0]}:{target[1]}>"),
        ("Call-ID", "loop-1"), ("CSeq", "1 OPTIONS"),
    ])


def summary(events: list[Event]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, RequestReceived):
            out.append(f"request {e.request.method}")
        elif isinstance(e, ResponseReceived):
            out.append(f"response {e.response.status_code}")
        else:
            out.append(type(e).__name__)
    return out


def answer(core: Endpoint, seen: list[Event]):  # type: ignore[no-untyped-def]
    def on_event(event: Event, now: float) -> None:
        seen.append(event)
        if isinstance(event, RequestReceived) and event.transaction is not None:
            core.send_response(make_response(event.request, 200, to_tag="b"), now, transaction=event.transaction)

    return on_event


def test_loopback_matches_simulation() -> None:
    # Reference run in the simulated network.
    net = Network(seed=1)
    a = Endpoint(local=("10.0.0.1", 5060), rng=random.Random(1), config=CONFIG)
    b = Endpoint(local=("10.0.0.2", 5060), rng=random.Random(2), config=CONFIG)
    net.add_node("alice", a.local, a)
    bob_seen: list[Event] = []
    net.add_node("bob", b.local, b, lambda node, ev, now: answer(b, bob_seen)(ev, now))
    net.at(0.0, lambda now: a.send_request(options(b.local), now))
    net.run()
    reference = (summary(net.events("alice")), summary(net.events("bob")))

    async def main() -> tuple[list[str], list[str]]:
        from rvoip_sansio.adapters.asyncio import open_udp_endpoint

        alice_seen: list[Event] = []
        bob_seen: list[Event] = []
        b = Endpoint(local=("127.0.0.1", 0), rng=random.Random(2), config=CONFIG)
        bob = await open_udp_endpoint(b, ("127.0.0.1", 0), on_event=answer(b, bob_seen))
        a = Endpoint(local=("127.0.0.1", 0), rng=random.Random(1), config=CONFIG)
        alice = await open_udp_endpoint(a, ("127.0.0.1", 0), on_event=lambda e, now: alice_seen.append(e))
        a.local = alice.local_address
        alice.call(lambda now: a.send_request(options(bob.local_address), now))
        for _ in range(100):
            if alice_seen:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(CONFIG.t4 + 0.1)  # Timer K ends Alice's transaction
        assert a.live_transactions == 0
        await alice.close()
        await bob.close()
        return summary(alice_seen), summary(bob_seen)

    assert asyncio.run(main()) == reference == (["response 200"], ["request OPTIONS"])
