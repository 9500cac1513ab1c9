"""The same exchanges under 30% loss with duplication and reordering, over many seeds."""

from __future__ import annotations

import pytest

from rvoip_sansio.sim import Fate, LinkConfig
from rvoip_sansio.transaction import (
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
)

from .helpers import answering, pair, request

LOSSY = LinkConfig(delay=0.02, jitter=0.03, loss=0.3, duplicate=0.2, reorder=0.2, reorder_delay=0.1)
SEEDS = range(40)


def finals(events: list[object]) -> list[int]:
    return [e.response.status_code for e in events
            if isinstance(e, ResponseReceived) and e.response.status_code >= 200]


@pytest.mark.parametrize("seed", SEEDS)
def test_options_completes_under_loss(seed: int) -> None:
    net, a, b = pair(LOSSY, seed=seed, bob_cb=answering(200))
    a.endpoint.send_request(request("OPTIONS"), 0.0)
    net.poke(a)
    net.run()
    assert finals(net.events("alice")) == [200]
    assert [e.request.method for e in net.events("bob") if isinstance(e, RequestReceived)] == ["OPTIONS"]
    assert not any(isinstance(e, TransactionTimeout) for e in net.events("alice") + net.events("bob"))
    assert a.endpoint.live_transactions == b.endpoint.live_transactions == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_rejected_invite_completes_under_loss(seed: int) -> None:
    net, a, b = pair(LOSSY, seed=seed, bob_cb=answering(486, provisional=180))
    a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run()
    assert finals(net.events("alice")) == [486]
    bob = net.events("bob")
    assert [e.request.method for e in bob if isinstance(e, RequestReceived)] == ["INVITE"]
    # Bob's Timer H never fired: some ACK got through (§17.2.1).
    assert not any(isinstance(e, TransactionTimeout) for e in net.events("alice") + bob)


@pytest.mark.parametrize("seed", range(20))
def test_cancel_completes_under_loss(seed: int) -> None:
    net, a, b = pair(LOSSY, seed=seed, bob_cb=lambda n, ev, now: None)  # Bob's TU never answers
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.at(2.0, lambda now: a.endpoint.cancel(key, now))
    net.run()
    assert finals(net.events("alice")) in ([200, 487], [487, 200])
    assert sum(isinstance(e, CancelReceived) for e in net.events("bob")) == 1
    assert not any(isinstance(e, TransactionTimeout) for e in net.events("alice") + net.events("bob"))


def test_the_lossy_link_really_loses_duplicates_and_reorders() -> None:
    lost = dup = total = retransmitted = 0
    for seed in SEEDS:
        net, a, b = pair(LOSSY, seed=seed, bob_cb=answering(200))
        a.endpoint.send_request(request("OPTIONS"), 0.0)
        net.poke(a)
        net.run()
        total += len(net.trace)
        lost += sum(e.fate is Fate.LOST for e in net.trace)
        dup += sum(e.fate is Fate.DUPLICATE for e in net.trace)
        retransmitted += sum(e.src_name == "alice" and e.fate is not Fate.DUPLICATE for e in net.trace) > 1
    assert 0.15 < lost / total < 0.35 and dup > 0
    assert retransmitted > 10  # most runs needed retransmissions to complete
