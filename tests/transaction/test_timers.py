"""RFC 3261 §17 timers, to the millisecond, in simulated time (T1 = 0.5 s, T2 = 4 s, T4 = 5 s)."""

from __future__ import annotations

import pytest

from rvoip_sansio.sim import Fate, LinkConfig, Network, Node
from rvoip_sansio.sip import make_response
from rvoip_sansio.transaction import (
    Endpoint,
    RequestReceived,
    ResponseReceived,
    State,
    TimerName,
    TransactionTimeout,
)

from .helpers import ALICE, BOB, answering, endpoint, pair, request

INVITE_TIMES = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # Timer A doubles: §17.1.1.2
NON_INVITE_TIMES = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]  # E caps at T2


def sends(net: Network, src: str, label: str) -> list[float]:
    from rvoip_sansio.sim import describe

    return [round(e.sent, 6) for e in net.trace
            if e.src_name == src and describe(e.data).startswith(label) and e.fate is not Fate.DUPLICATE]


def lone_alice(**config: object) -> tuple[Network, Node]:
    net = Network(seed=1)
    a = net.add_node("alice", ALICE, endpoint(ALICE, **config))
    return net, a


def timeouts(net: Network, name: str) -> list[tuple[float, TimerName]]:
    return [(round(t, 6), e.timer) for t, e in net.node(name).events if isinstance(e, TransactionTimeout)]


def test_invite_retransmissions_then_timer_b() -> None:
    net, a = lone_alice()
    a.endpoint.send_request(request("INVITE"), 0.0)  # type: ignore[attr-defined]
    net.poke(a)
    net.run(until=100)
    assert sends(net, "alice", "INVITE") == INVITE_TIMES
    assert timeouts(net, "alice") == [(32.0, TimerName.B)]
    assert a.endpoint.live_transactions == 0  # type: ignore[attr-defined]


def test_non_invite_retransmissions_then_timer_f() -> None:
    net, a = lone_alice()
    a.endpoint.send_request(request("OPTIONS"), 0.0)  # type: ignore[attr-defined]
    net.poke(a)
    net.run(until=100)
    assert sends(net, "alice", "OPTIONS") == NON_INVITE_TIMES
    assert timeouts(net, "alice") == [(32.0, TimerName.F)]


def test_t1_is_configurable() -> None:
    net, a = lone_alice(t1=0.1, t2=0.8)
    a.endpoint.send_request(request("OPTIONS"), 0.0)  # type: ignore[attr-defined]
    net.poke(a)
    net.run(until=100)
    assert sends(net, "alice", "OPTIONS") == [0.0, 0.1, 0.3, 0.7, 1.5, 2.3, 3.1, 3.9, 4.7, 5.5, 6.3]
    assert timeouts(net, "alice") == [(6.4, TimerName.F)]  # 64*T1


def test_non_invite_in_proceeding_retransmits_every_t2() -> None:
    # Bob answers 100 at once and never a final response: after the 100 (t=0.02) Timer E is
    # still due at 0.5, and from then on fires every T2 (§17.1.2.2).
    net, a, b = pair(bob_cb=lambda node, ev, now: isinstance(ev, RequestReceived) and node.endpoint.send_response(
        make_response(ev.request, 100), now, transaction=ev.transaction))
    a.endpoint.send_request(request("OPTIONS"), 0.0)
    net.poke(a)
    net.run(until=100)
    assert sends(net, "alice", "OPTIONS") == [0.0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    assert timeouts(net, "alice") == [(32.0, TimerName.F)]
    # Bob's server transaction answers every retransmission with the 100 again (§17.2.2).
    assert sends(net, "bob", "100 Trying") == [0.01, 0.51, 4.51, 8.51, 12.51, 16.51, 20.51, 24.51, 28.51]
    # Only one request reached Bob's TU.
    assert sum(isinstance(e, RequestReceived) for e in net.events("bob")) == 1


def test_invite_stops_retransmitting_after_provisional_and_has_no_timer_b() -> None:
    net, a, b = pair(bob_cb=lambda node, ev, now: isinstance(ev, RequestReceived) and node.endpoint.send_response(
        make_response(ev.request, 180, to_tag="b1"), now, transaction=ev.transaction))
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=200)
    assert sends(net, "alice", "INVITE") == [0.0]
    assert timeouts(net, "alice") == []
    assert a.endpoint.transaction_state(key) is State.PROCEEDING


def test_server_sends_100_trying_after_200_ms() -> None:
    net, a, b = pair()  # Bob's TU never answers
    a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=1)
    assert sends(net, "bob", "100 Trying") == [0.21]  # arrived at 0.01, + 200 ms
    assert sends(net, "alice", "INVITE") == [0.0]  # the 100 stopped Timer A


def test_no_100_trying_when_tu_answers_in_time() -> None:
    def ring_soon(node: Node, ev: object, now: float) -> None:
        if isinstance(ev, RequestReceived):
            net.at(now + 0.15, lambda t: node.endpoint.send_response(  # type: ignore[attr-defined]
                make_response(ev.request, 180, to_tag="b1"), t, transaction=ev.transaction))

    net, a, b = pair(bob_cb=ring_soon)
    a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=1)
    assert sends(net, "bob", "100") == []
    assert sends(net, "bob", "180") == [0.16]


def test_timer_g_retransmits_final_response_until_timer_h() -> None:
    # The INVITE comes from a peer that never ACKs (it is not on the network).
    net = Network(seed=1)
    b = net.add_node("bob", BOB, endpoint(BOB), answering(486))
    peer = ("10.0.0.9", 5060)
    net.inject(bytes(request("INVITE", branch="z9hG4bKpeer1", via_host="10.0.0.9")), peer, BOB)
    net.run(until=100)
    assert sends(net, "bob", "486") == [round(0.01 + t, 6) for t in NON_INVITE_TIMES]
    assert timeouts(net, "bob") == [(32.01, TimerName.H)]
    assert b.endpoint.live_transactions == 0  # type: ignore[attr-defined]


def test_ack_confirms_and_timer_i_absorbs_ack_retransmissions() -> None:
    net = Network(seed=1)
    b = net.add_node("bob", BOB, endpoint(BOB), answering(486))
    peer = ("10.0.0.9", 5060)
    invite = request("INVITE", branch="z9hG4bKpeer2", via_host="10.0.0.9")
    net.inject(bytes(invite), peer, BOB)
    net.run(until=0.6)  # 486 at 0.01 and again at 0.51 (Timer G)
    ack = request("ACK", branch="z9hG4bKpeer2", via_host="10.0.0.9", extra=())
    ack.set("To", "Bob <sip:bob@10.0.0.2:5060>;tag=b1")
    for t in (0.7, 1.0, 2.0):
        net.at(t, lambda now: net.inject(bytes(ack), peer, BOB))
    net.at(3.0, lambda now: net.inject(bytes(invite), peer, BOB))  # absorbed in Confirmed
    net.run(until=100)
    assert sends(net, "bob", "486") == [0.01, 0.51]  # G stopped by the ACK at 0.71
    assert [e for e in net.events("bob") if isinstance(e, RequestReceived)][1:] == []  # ACK not passed up
    assert timeouts(net, "bob") == []
    assert b.endpoint.live_transactions == 0  # type: ignore[attr-defined]
    # Timer I (T4 = 5 s) ended the transaction: a late INVITE copy is a new request again.
    net.inject(bytes(invite), peer, BOB)
    net.run(until=net.now + 0.1)
    assert sum(isinstance(e, RequestReceived) for e in net.events("bob")) == 2


def test_timer_i_length() -> None:
    net = Network(seed=1)
    b = net.add_node("bob", BOB, endpoint(BOB), answering(486))
    peer = ("10.0.0.9", 5060)
    net.inject(bytes(request("INVITE", branch="z9hG4bKpeer3", via_host="10.0.0.9")), peer, BOB)
    ack = request("ACK", branch="z9hG4bKpeer3", via_host="10.0.0.9")
    ack.set("To", "Bob <sip:bob@10.0.0.2:5060>;tag=b1")
    net.at(0.1, lambda now: net.inject(bytes(ack), peer, BOB))
    net.run(until=0.2)
    (tx_key,) = [e.transaction for e in net.events("bob") if isinstance(e, RequestReceived)]
    assert b.endpoint.transaction_state(tx_key) is State.CONFIRMED  # type: ignore[attr-defined]
    net.run(until=5.10)
    assert b.endpoint.transaction_state(tx_key) is State.CONFIRMED  # type: ignore[attr-defined]
    net.run(until=5.12)  # ACK arrived at 0.11: Timer I fires at 5.11
    assert b.endpoint.transaction_state(tx_key) is None  # type: ignore[attr-defined]


def test_timer_j_absorbs_request_retransmissions() -> None:
    net = Network(seed=1)
    b = net.add_node("bob", BOB, endpoint(BOB), answering(200))
    peer = ("10.0.0.9", 5060)
    options = request("OPTIONS", branch="z9hG4bKpeer4", via_host="10.0.0.9")
    for t in (0.0, 0.5, 1.5, 31.0):
        net.at(t, lambda now: net.inject(bytes(options), peer, BOB))
    net.run(until=32.0)
    assert sends(net, "bob", "200") == [0.01, 0.51, 1.51, 31.01]  # final response resent
    (key,) = [e.transaction for e in net.events("bob") if isinstance(e, RequestReceived)]
    assert b.endpoint.transaction_state(key) is State.COMPLETED  # type: ignore[attr-defined]
    net.run(until=32.02)  # Timer J = 64*T1 after the 200 at 0.01
    assert b.endpoint.transaction_state(key) is None  # type: ignore[attr-defined]


def test_timer_k_and_absorbed_response_retransmission() -> None:
    net, a, b = pair(bob_cb=answering(200))
    key = a.endpoint.send_request(request("OPTIONS"), 0.0)
    net.poke(a)
    net.run(until=0.1)
    assert a.endpoint.transaction_state(key) is State.COMPLETED
    # A copy of the 200 (as a retransmission would be) is absorbed, not passed up.
    final = next(e for e in net.trace if e.src_name == "bob")
    net.inject(final.data, BOB, ALICE)
    net.run(until=5.019)
    assert a.endpoint.transaction_state(key) is State.COMPLETED
    net.run(until=5.021)  # 200 arrived at 0.02: Timer K = T4 later
    assert a.endpoint.transaction_state(key) is None
    assert sum(isinstance(e, ResponseReceived) for e in net.events("alice")) == 1


def test_timer_d_resends_ack_for_retransmitted_final_response() -> None:
    net, a, b = pair(bob_cb=answering(486))
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=0.1)
    final = next(e for e in net.trace if e.src_name == "bob" and b"486" in e.data[:20])
    net.at(1.0, lambda now: net.inject(final.data, BOB, ALICE))
    net.run(until=32.019)
    assert sends(net, "alice", "ACK") == [0.02, 1.01]
    assert a.endpoint.transaction_state(key) is State.COMPLETED
    net.run(until=32.021)  # Timer D = 32 s after the 486 arrived at 0.02
    assert a.endpoint.transaction_state(key) is None
    assert sum(isinstance(e, ResponseReceived) for e in net.events("alice")) == 1


def test_timer_l_accepted_server_absorbs_invites_and_passes_ack_up() -> None:
    net = Network(seed=1)
    b = net.add_node("bob", BOB, endpoint(BOB), answering(200))
    peer = ("10.0.0.9", 5060)
    invite = request("INVITE", branch="z9hG4bKpeer5", via_host="10.0.0.9")
    net.inject(bytes(invite), peer, BOB)
    net.at(0.5, lambda now: net.inject(bytes(invite), peer, BOB))  # retransmission: absorbed
    # An ACK that matches the transaction (RFC 2543-style peer reusing the branch).
    ack = request("ACK", branch="z9hG4bKpeer5", via_host="10.0.0.9")
    ack.set("To", "Bob <sip:bob@10.0.0.2:5060>;tag=b1")
    net.at(1.0, lambda now: net.inject(bytes(ack), peer, BOB))
    net.run(until=32.0)
    received = [e for e in net.events("bob") if isinstance(e, RequestReceived)]
    assert [r.request.method for r in received] == ["INVITE", "ACK"]
    assert received[1].transaction == received[0].transaction
    assert sends(net, "bob", "200") == [0.01]  # the TU, not the transaction, retransmits 2xx
    assert b.endpoint.transaction_state(received[0].transaction) is State.ACCEPTED  # type: ignore[attr-defined]
    net.run(until=32.02)  # Timer L = 64*T1 after the 200 at 0.01
    assert b.endpoint.transaction_state(received[0].transaction) is None  # type: ignore[attr-defined]


def test_timer_m_passes_every_2xx_up_then_ends() -> None:
    net, a, b = pair(bob_cb=answering(200))
    key = a.endpoint.send_request(request("INVITE"), 0.0)
    net.poke(a)
    net.run(until=0.1)
    ok = next(e for e in net.trace if e.src_name == "bob" and b"200" in e.data[:20])
    net.at(10.0, lambda now: net.inject(ok.data, BOB, ALICE))  # the UAS retransmits its 2xx
    net.run(until=32.019)
    assert a.endpoint.transaction_state(key) is State.ACCEPTED
    oks = [t for t, e in net.node("alice").events if isinstance(e, ResponseReceived)]
    assert [round(t, 6) for t in oks] == [0.02, 10.01]
    net.run(until=32.021)  # Timer M = 64*T1 after the 200 at 0.02
    assert a.endpoint.transaction_state(key) is None
    net.inject(ok.data, BOB, ALICE)  # now a stray response: discarded (RFC 6026 §7.3)
    net.run(until=net.now + 1)
    assert sum(isinstance(e, ResponseReceived) for e in net.events("alice")) == 2


@pytest.mark.parametrize("method", ["INVITE", "OPTIONS"])
def test_reliable_transport_never_retransmits_and_ends_at_once(method: str) -> None:
    net, a, b = pair(bob_cb=answering(486), reliable=True, transport="TCP")
    key = a.endpoint.send_request(request(method), 0.0)
    net.poke(a)
    net.run(until=0.05)
    # Timer D / K are zero on reliable transports: the client transaction ended with the final
    # response; Bob's server transaction waits for the ACK (INVITE) or ended (J = 0).
    assert a.endpoint.transaction_state(key) is None
    net.run(until=100)
    assert len(sends(net, "alice", method)) == 1
    assert len(sends(net, "bob", "486")) == 1
    assert b.endpoint.live_transactions == 0


def test_reliable_timer_b_still_runs() -> None:
    net, a = lone_alice(reliable=True)
    a.endpoint.send_request(request("INVITE"), 0.0)  # type: ignore[attr-defined]
    net.poke(a)
    net.run(until=100)
    assert sends(net, "alice", "INVITE") == [0.0]
    assert timeouts(net, "alice") == [(32.0, TimerName.B)]


def test_handle_timeout_is_harmless_early_and_late() -> None:
    ep = endpoint(ALICE)
    ep.send_request(request("OPTIONS"), 0.0)
    assert [t.dest for t in ep.datagrams_to_send(0.0)] == [BOB]
    ep.handle_timeout(0.3)  # early: nothing
    assert ep.datagrams_to_send(0.3) == []
    ep.handle_timeout(0.5)  # on time
    assert len(ep.datagrams_to_send(0.5)) == 1
    assert ep.next_deadline() == 1.5
    ep.handle_timeout(2.0)  # late: one retransmission, never a burst
    assert len(ep.datagrams_to_send(2.0)) == 1
    assert ep.next_deadline() == 3.5  # still on the original schedule (1.5 + 2.0)
