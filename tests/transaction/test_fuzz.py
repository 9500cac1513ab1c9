"""Hostile datagrams: whatever arrives, Endpoint.receive never raises, and answers go only
where a Via says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.sip import make_response
from rvoip_sansio.transaction import RequestReceived

from .helpers import BOB, endpoint, request

PEER = ("192.0.2.1", 5060)
SEEDS = [
    bytes(request("INVITE", branch="z9hG4bKf1", via_host="192.0.2.1")),
    bytes(request("OPTIONS", branch="old-style", via_host="192.0.2.1")),
    bytes(request("CANCEL", branch="z9hG4bKf1", via_host="192.0.2.1")),
    bytes(request("ACK", branch="z9hG4bKf1", via_host="192.0.2.1")),
    bytes(make_response(request("OPTIONS", branch="z9hG4bKf2"), 200, to_tag="x")),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.sampled_from([b";", b",", b":", b"\r\n", b" ", b"<", b"\"", b"=", b"9" * 12, b"\x00"]))
        elif op == 2 and data:
            del data[pos : pos + draw(st.integers(1, 20))]
        else:
            data = data[:pos]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(datagrams=st.lists(st.one_of(mutated(), st.binary(max_size=300)), min_size=1, max_size=6))
def test_receive_never_raises(datagrams: list[bytes]) -> None:
    ep = endpoint(BOB)
    now = 0.0
    for data in datagrams:
        ep.receive(data, PEER, now)
        for tx in ep.datagrams_to_send(now):
            assert isinstance(tx.data, bytes) and len(tx.dest) == 2
        while (ev := ep.next_event()) is not None:
            if isinstance(ev, RequestReceived) and ev.transaction is not None:
                ep.send_response(make_response(ev.request, 486, to_tag="t"), now, transaction=ev.transaction)
        now += 0.3
        ep.handle_timeout(now)
    ep.handle_timeout(now + 100)
    assert ep.live_transactions == 0
