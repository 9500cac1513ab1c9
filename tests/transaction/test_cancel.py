"""CANCEL (RFC 3261 §9) and its races with the final response, in simulated time."""

from __future__ import annotations

from rvoip_sansio.sim import Network, Node, describe
from rvoip_sansio.sip import make_response
from rvoip_sansio.transaction import (
    CancelReceived,
    Endpoint,
    RequestReceived,
    ResponseReceived,
    State,
)

from .helpers import pair, request


def labels(net: Network) -> list[tuple[str, str]]:
    return [(e.src_name, describe(e.data)) for e in net.trace]


def codes(net: Network, name: str) -> list[tuple[int, str]]:
    return [(e.response.status_code, e.response.cseq.method)
            for e in net.events(name) if isinstance(e, ResponseReceived)]


def ringing(node: Node, ev: object, now: float) -> None:
    if isinstance(ev, RequestReceived) and ev.request.method == "INVITE":
        assert isinstance(node.endpoint, Endpoint)
        node.endpoint.send_response(make_response(ev.request, 180, to_tag="b1"), now,
                                    transaction=ev.transaction)


def test_cancel_after_ringing_gets_487_and_ack() -> None:
    net, a, b = pair(bob_cb=ringing)
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.at(1.0, lambda now: a.endpoint.cancel(key, now))
    net.run()
    assert labels(net) == [
        ("alice", "INVITE"), ("bob", "180 Ringing"), ("alice", "CANCEL"),
        ("bob", "200 OK"), ("bob", "487 Request Terminated"), ("alice", "ACK"),
    ]
    assert codes(net, "alice") == [(180, "INVITE"), (200, "CANCEL"), (487, "INVITE")]
    (cancel,) = [e for e in net.events("bob") if isinstance(e, CancelReceived)]
    assert cancel.answered and cancel.invite_transaction is not None
    # §9.2: the 487 keeps the To tag of the 180; the ACK for it too (§17.1.1.3).
    ack = next(e.data for e in net.trace if e.data.startswith(b"ACK"))
    assert b";tag=b1" in ack
    assert b"CSeq: 1 ACK" in ack


def test_cancel_before_any_provisional_waits_for_one() -> None:
    # RFC 3261 §9.1: no CANCEL before a provisional response. Bob rings only at t=2.
    def ring_late(node: Node, ev: object, now: float) -> None:
        if isinstance(ev, RequestReceived) and ev.request.method == "INVITE":
            net.at(2.0, lambda t: ringing(node, ev, t))

    # Slow timers so that no INVITE retransmission (which would draw a 100) comes first.
    net, a, b = pair(bob_cb=ring_late, trying_delay=10.0, t1=5.0, t2=8.0)
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.at(0.1, lambda now: a.endpoint.cancel(key, now))
    net.run()
    cancel_sent = [e.sent for e in net.trace if e.data.startswith(b"CANCEL")]
    assert cancel_sent == [2.01]  # right after the 180 arrived
    assert codes(net, "alice")[-1] == (487, "INVITE")


def test_cancel_crossing_200_ok() -> None:
    # Bob answers 200 at t=1.0 while Alice's CANCEL is on the wire: the INVITE transaction
    # at Bob is Accepted, so the CANCEL gets 200 and the INVITE stays answered (no 487).
    def answer_at_1(node: Node, ev: object, now: float) -> None:
        if isinstance(ev, RequestReceived) and ev.request.method == "INVITE":
            ringing(node, ev, now)
            net.at(1.0, lambda t: node.endpoint.send_response(  # type: ignore[attr-defined]
                make_response(ev.request, 200, to_tag="b1"), t, transaction=ev.transaction))

    net, a, b = pair(bob_cb=answer_at_1)
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.at(0.995, lambda now: a.endpoint.cancel(key, now))
    net.run()
    assert codes(net, "alice") == [(180, "INVITE"), (200, "INVITE"), (200, "CANCEL")]
    (cancel,) = [e for e in net.events("bob") if isinstance(e, CancelReceived)]
    assert not cancel.answered  # too late: the dialog layer must BYE if it wants out
    assert not any(e.data.startswith(b"SIP/2.0 487") for e in net.trace)


def test_cancel_after_final_response_is_a_no_op() -> None:
    net, a, b = pair(bob_cb=lambda n, ev, now: isinstance(ev, RequestReceived) and n.endpoint.send_response(
        make_response(ev.request, 486, to_tag="b1"), now, transaction=ev.transaction))
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=1.0)
    assert a.endpoint.transaction_state(key) is State.COMPLETED
    assert a.endpoint.cancel(key, 1.0) is None


def test_cancel_matching_nothing_gets_481() -> None:
    net, a, b = pair()
    cancel = request("CANCEL", branch="z9hG4bKnothing")
    net.inject(bytes(cancel), a.address, b.address)
    net.run(until=1)
    assert [describe(e.data) for e in net.trace] == ["CANCEL", "481 Call/Transaction Does Not Exist"]
    (ev,) = [e for e in net.events("bob") if isinstance(e, CancelReceived)]
    assert ev.invite_transaction is None


def test_retransmitted_cancel_is_absorbed() -> None:
    net, a, b = pair(bob_cb=ringing)
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.at(1.0, lambda now: a.endpoint.cancel(key, now))
    net.run(until=1.5)
    cancel = next(e.data for e in net.trace if e.data.startswith(b"CANCEL"))
    net.inject(cancel, a.address, b.address)
    net.run()
    assert sum(isinstance(e, CancelReceived) for e in net.events("bob")) == 1
    oks = [e for e in net.trace if e.src_name == "bob" and describe(e.data) == "200 OK"]
    assert len(oks) == 2  # the copy got the 200 again from the CANCEL's server transaction
