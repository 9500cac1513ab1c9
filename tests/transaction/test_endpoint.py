"""The endpoint's transport duties (RFC 3261 §18, RFC 3581), matching, errors and limits."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.sip import make_response
from rvoip_sansio.sip import parse_message
from rvoip_sansio.transaction import (
    Endpoint,
    EndpointConfig,
    MessageDiscarded,
    RequestReceived,
    ResponseReceived,
    State,
    TransportError,
)

from .helpers import ALICE, BOB, endpoint, request

PEER = ("192.0.2.7", 40000)


def drain(ep: Endpoint) -> list[object]:
    out = []
    while (e := ep.next_event()) is not None:
        out.append(e)
    return out


def raw(method: str, via: str, *, extra: str = "", cseq: str | None = None) -> bytes:
    return (
        f"{method} sip:bob@10.0.0.2 SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=x1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: c1@example.com\r\n"
        f"CSeq: {cseq or '7 ' + method}\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def answer(ep: Endpoint, code: int, now: float = 0.0) -> tuple[bytes, tuple[str, int]]:
    (ev,) = [e for e in drain(ep) if isinstance(e, RequestReceived)]
    ep.send_response(make_response(ev.request, code, to_tag="t9"), now, transaction=ev.transaction)
    (tx,) = ep.datagrams_to_send(now)
    return tx.data, tx.dest


def test_received_added_when_sent_by_differs_and_response_goes_there() -> None:
    # RFC 3261 §18.2.1: sent-by names a host the packet did not come from -> received=.
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bKaa"), PEER, 0.0)
    data, dest = answer(ep, 200)
    assert b"Via: SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bKaa;received=192.0.2.7\r\n" in data
    assert dest == ("192.0.2.7", 5066)  # §18.2.2: received address, sent-by port


def test_rport_filled_and_response_goes_to_source_port() -> None:
    # RFC 3581 §4: rport gets the source port and the response goes back there.
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 10.1.1.1:5060;rport;branch=z9hG4bKbb"), PEER, 0.0)
    data, dest = answer(ep, 200)
    assert b";rport=40000;branch=z9hG4bKbb;received=192.0.2.7" in data
    assert dest == PEER


def test_no_received_when_sent_by_is_the_source() -> None:
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKcc"), PEER, 0.0)
    data, dest = answer(ep, 200)
    assert b"Via: SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKcc\r\n" in data
    assert dest == PEER


def test_maddr_and_default_port() -> None:
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7;maddr=239.1.1.1;branch=z9hG4bKdd"), PEER, 0.0)
    assert answer(ep, 200)[1] == ("239.1.1.1", 5060)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKee", cseq="x OPTIONS"), "invalid CSeq"),
        (raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKee", cseq="7 INVITE"), "does not match"),
        (raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKee").replace(b"Call-ID: c1@example.com\r\n", b""),
         "missing Call-ID"),
        (raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKee").replace(b"Content-Length: 0", b"Content-Length: 50"),
         "Content-Length"),
        (raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKee").replace(b"From: <sip:alice@example.com>", b"From: <sip:alice@exa mple.com"),
         ""),
    ],
)
def test_bad_request_gets_stateless_400_with_reason(data: bytes, reason: str) -> None:
    ep = endpoint(BOB)
    ep.receive(data, PEER, 0.0)
    (tx,) = ep.datagrams_to_send(0.0)
    assert tx.dest == PEER
    resp = parse_message(tx.data)
    assert resp.status_code == 400  # type: ignore[union-attr]
    assert reason in resp.reason  # type: ignore[union-attr]
    assert resp.get("Call-ID") == ("c1@example.com" if b"Call-ID" in data else None)
    assert resp.to.tag is not None
    (ev,) = drain(ep)
    assert isinstance(ev, MessageDiscarded) and "answered 400" in ev.reason
    assert ep.live_transactions == 0


@pytest.mark.parametrize(
    "data",
    [b"\x00\xff garbage", b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
     raw("ACK", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKff", cseq="x ACK")],
)
def test_garbage_is_discarded_without_reply(data: bytes) -> None:
    ep = endpoint(BOB)
    ep.receive(data, PEER, 0.0)
    assert ep.datagrams_to_send(0.0) == []
    (ev,) = drain(ep)
    assert isinstance(ev, MessageDiscarded)


def test_keepalive_is_silently_ignored() -> None:
    ep = endpoint(BOB)
    ep.receive(b"\r\n\r\n", PEER, 0.0)
    assert ep.datagrams_to_send(0.0) == [] and drain(ep) == []


def test_stray_response_is_discarded() -> None:
    ep = endpoint(ALICE)
    resp = make_response(request("OPTIONS", branch="z9hG4bKnobody"), 200, to_tag="x")
    ep.receive(bytes(resp), BOB, 0.0)
    (ev,) = drain(ep)
    assert isinstance(ev, MessageDiscarded) and "no client transaction" in ev.reason


def test_transaction_limit_answers_503() -> None:
    ep = Endpoint(local=BOB, rng=random.Random(1), config=EndpointConfig(max_transactions=2))
    for i in range(3):
        ep.receive(raw("OPTIONS", f"SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK{i}"), PEER, 0.0)
    (tx,) = ep.datagrams_to_send(0.0)
    resp = parse_message(tx.data)
    assert resp.status_code == 503 and resp.get("Retry-After") == "5"  # type: ignore[union-attr]
    assert resp.via[0].branch == "z9hG4bK2"
    events = drain(ep)
    assert [type(e).__name__ for e in events] == ["RequestReceived", "RequestReceived", "MessageDiscarded"]
    # A retransmission of an existing transaction is still absorbed, not refused.
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK0"), PEER, 0.0)
    assert ep.datagrams_to_send(0.0) == [] and drain(ep) == []


def test_rfc2543_matching_without_magic_cookie() -> None:
    # §17.2.3: no z9hG4bK branch -> match on Request-URI, tags, Call-ID, CSeq and top Via.
    ep = endpoint(BOB)
    invite = raw("INVITE", "SIP/2.0/UDP 192.0.2.7:40000;branch=old1")
    ep.receive(invite, PEER, 0.0)
    ep.receive(invite, PEER, 0.1)  # retransmission: absorbed, answered with 100 Trying
    (trying,) = ep.datagrams_to_send(0.1)
    assert trying.data.startswith(b"SIP/2.0 100 Trying")
    (ev,) = drain(ep)
    assert isinstance(ev, RequestReceived)
    ep.send_response(make_response(ev.request, 486, to_tag="t9"), 0.2, transaction=ev.transaction)
    assert len(ep.datagrams_to_send(0.2)) == 1
    ack_wrong_tag = raw("ACK", "SIP/2.0/UDP 192.0.2.7:40000;branch=old1", cseq="7 ACK").replace(
        b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=zz")
    ep.receive(ack_wrong_tag, PEER, 0.3)
    assert ep.transaction_state(ev.transaction) is State.COMPLETED
    (stray,) = drain(ep)  # the ACK matched nothing: up to the TU like an ACK for 2xx
    assert isinstance(stray, RequestReceived) and stray.transaction is None
    ack = ack_wrong_tag.replace(b"tag=zz", b"tag=t9")
    ep.receive(ack, PEER, 0.4)
    assert ep.transaction_state(ev.transaction) is State.CONFIRMED
    # A different CSeq is a different transaction.
    ep.receive(raw("INVITE", "SIP/2.0/UDP 192.0.2.7:40000;branch=old1", cseq="8 INVITE"), PEER, 0.5)
    assert len([e for e in drain(ep) if isinstance(e, RequestReceived)]) == 1


def test_ack_for_2xx_goes_up_without_transaction() -> None:
    ep = endpoint(BOB)
    ep.receive(raw("ACK", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKnew", cseq="7 ACK"), PEER, 0.0)
    (ev,) = drain(ep)
    assert isinstance(ev, RequestReceived) and ev.transaction is None and ev.request.method == "ACK"
    assert ep.datagrams_to_send(0.0) == []


def test_sent_requests_get_via_branch_and_max_forwards() -> None:
    ep = endpoint(ALICE, seed=5)
    req = request("OPTIONS")
    key = ep.send_request(req, 0.0)
    (tx,) = ep.datagrams_to_send(0.0)
    msg = parse_message(tx.data)
    via = msg.via[0]
    assert (via.host, via.port, via.has_rport) == ("10.0.0.1", 5060, True)
    assert via.branch is not None and via.branch.startswith("z9hG4bK") and key[1] == via.branch
    assert msg.max_forwards == 70
    # The same seed gives the same bytes (determinism).
    ep2 = endpoint(ALICE, seed=5)
    ep2.send_request(request("OPTIONS"), 0.0)
    assert ep2.datagrams_to_send(0.0)[0].data == tx.data


def test_response_routed_by_branch_and_method() -> None:
    ep = endpoint(ALICE)
    key = ep.send_request(request("OPTIONS"), 0.0)
    (tx,) = ep.datagrams_to_send(0.0)
    sent = parse_message(tx.data)
    ep.receive(bytes(make_response(sent, 200, to_tag="x")), BOB, 0.1)  # type: ignore[arg-type]
    (ev,) = drain(ep)
    assert isinstance(ev, ResponseReceived) and ev.transaction == key
    wrong = make_response(sent, 200, to_tag="x")  # type: ignore[arg-type]
    wrong.set("CSeq", "1 INFO")
    ep.receive(bytes(wrong), BOB, 0.2)
    assert isinstance(drain(ep)[0], MessageDiscarded)


def test_transport_error_becomes_event_and_ends_transaction() -> None:
    ep = endpoint(ALICE)
    key = ep.send_request(request("INVITE"), 0.0)
    ep.datagrams_to_send(0.0)
    ep.transport_error(BOB, 0.1)
    (ev,) = drain(ep)
    assert isinstance(ev, TransportError) and ev.transaction == key and ev.dest == BOB
    assert ep.transaction_state(key) is None
    ep.transport_error(("10.9.9.9", 1), 0.2)  # nobody: still an event, never an exception
    (ev,) = drain(ep)
    assert isinstance(ev, TransportError) and ev.transaction is None


def test_misuse_raises_local_protocol_error_before_changing_state() -> None:
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKgg"), PEER, 0.0)
    (ev,) = drain(ep)
    ok = make_response(ev.request, 200, to_tag="t")
    ep.send_response(ok, 0.0, transaction=ev.transaction)
    with pytest.raises(LocalProtocolError, match="Completed"):
        ep.send_response(make_response(ev.request, 486, to_tag="t"), 0.0, transaction=ev.transaction)
    assert ep.transaction_state(ev.transaction) is State.COMPLETED
    with pytest.raises(LocalProtocolError, match="ACK"):
        ep.send_request(request("ACK"), 0.0)
    with pytest.raises(LocalProtocolError, match="no server transaction"):
        ep.send_response(make_response(request("INFO", branch="z9hG4bKzz"), 200), 0.0)
    bad = request("OPTIONS")
    bad.set("CSeq", "1 INFO")
    with pytest.raises(LocalProtocolError, match="CSeq"):
        ep.send_request(bad, 0.0)


def test_send_response_finds_transaction_from_via_by_default() -> None:
    ep = endpoint(BOB)
    ep.receive(raw("OPTIONS", "SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bKhh"), PEER, 0.0)
    (ev,) = drain(ep)
    ep.send_response(make_response(ev.request, 200, to_tag="t"), 0.0)
    assert ep.transaction_state(ev.transaction) is State.COMPLETED
