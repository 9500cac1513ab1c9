"""REFER (RFC 3515): Refer-Sub: false (RFC 4488) both ways, the implicit subscription's
refresh, unsubscribe and expiry (RFC 3515 §2.4.4, RFC 6665 §4.1.2 / §4.2.2), and REFER
outside a dialog (§2.4.2), in simulated time with seeded loss and reordering."""

from __future__ import annotations

import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.dialog import (
    CallAnswered,
    IncomingCall,
    NotificationReceived,
    RequestCompleted,
    SubscriptionChanged,
    TransferProgress,
    TransferRequested,
)
from rvoip_sansio.sip import parse_message

from .helpers import ALICE, BOB, CAROL, LOSSY, add, answering, call_of, network, of, ua


def three(link=None, seed=0, carol_delay=0.0, **alice_kw):  # type: ignore[no-untyped-def]
    net = network(link, seed)
    a = ua(ALICE, "alice", seed + 1, **alice_kw)
    b, c = ua(BOB, "bob", seed + 2), ua(CAROL, "carol", seed + 3)
    add(net, "alice", ALICE, a, answering())
    add(net, "bob", BOB, b, answering())
    add(net, "carol", CAROL, c, answering(carol_delay))
    return net, a, b, c


def distinct(net, src, start: bytes):  # type: ignore[no-untyped-def]
    """(first time sent, message) for each distinct message ``src`` sent starting with ``start``."""
    seen: dict[bytes, tuple[float, object]] = {}
    for entry in net.trace:
        if entry.src == src and entry.data.startswith(start):
            seen.setdefault(entry.data, (entry.sent, parse_message(entry.data)))
    return sorted(seen.values(), key=lambda pair: pair[0])


def established(net, a):  # type: ignore[no-untyped-def]
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.run(until=10.0)
    return call_of(net, "bob")


@pytest.mark.parametrize("seed", range(4))
def test_refer_sub_false_in_a_call(seed: int) -> None:
    """RFC 4488 §4: the transferor asks for no subscription; the 202 says Refer-Sub: false
    and no NOTIFY is sent; the transfer still happens."""
    net, a, b, c = three(LOSSY if seed else None, seed)
    bob_call = established(net, a)
    net.at(11.0, lambda t: bob_call.transfer("sip:carol@10.0.0.3", t, subscribe=False))
    net.run(until=60.0)
    refers = distinct(net, BOB, b"REFER")
    assert refers and refers[0][1].get("refer-sub") == "false"
    accepted = [m for _, m in distinct(net, ALICE, b"SIP/2.0 202")]
    assert accepted and all(m.get("refer-sub") == "false" for m in accepted)
    assert not distinct(net, ALICE, b"NOTIFY")
    requested = of(net, "alice", TransferRequested)
    assert len(requested) == 1 and requested[0].subscription is None
    assert len(of(net, "carol", CallAnswered)) == 1
    assert not of(net, "bob", TransferProgress) and bob_call.refer_sub is None
    done = [e for e in of(net, "bob", RequestCompleted) if e.method == "REFER"]
    assert [e.status_code for e in done] == [202]


@pytest.mark.parametrize("seed", range(4))
def test_implicit_subscription_refreshed_until_the_target_answers(seed: int) -> None:
    """The transferee announces expires=60; the transferor refreshes by SUBSCRIBE (Event:
    refer) before that; the final NOTIFY comes when Carol answers 90 s later."""
    net, a, b, c = three(LOSSY if seed else None, seed, carol_delay=90.0)
    bob_call = established(net, a)
    net.at(11.0, lambda t: bob_call.transfer("sip:carol@10.0.0.3", t))
    net.run(until=160.0)
    subscribes = distinct(net, BOB, b"SUBSCRIBE")
    assert len(subscribes) >= 2  # the subscription outlives two 60 s periods
    for _, sub in subscribes:
        assert sub.get("event") == "refer" and sub.get("expires") == "60" and sub.to.tag
    assert subscribes[0][0] < 11.0 + 60
    notifies = [m for _, m in distinct(net, ALICE, b"NOTIFY")]
    states = [n.get("subscription-state") for n in notifies]
    assert not any("timeout" in s for s in states)
    assert states[-1] == "terminated;reason=noresource" and notifies[-1].body.startswith(b"SIP/2.0 200")
    assert all(s.startswith("active;expires=") and 0 < int(s.split("=")[1]) <= 60 for s in states[:-1])
    progress = of(net, "bob", TransferProgress)
    assert progress[-1].status_code == 200 and progress[-1].final
    assert bob_call.refer_sub is None
    # Once the final NOTIFY has arrived, no more refreshes (one may cross it: 481).
    final_arrival = min(e.arrival for e in net.trace if e.src == ALICE and e.arrival is not None
                        and e.data.startswith(b"NOTIFY") and b"terminated" in e.data)
    assert all(t < final_arrival for t, _ in subscribes)


def test_implicit_subscription_expires_without_refresh() -> None:
    """RFC 6665 §4.2.2: a transferor that never refreshes: the subscription ends with
    reason=timeout after 60 s, and Carol's later answer is not notified."""
    net, a, b, c = three(None, 0, carol_delay=90.0)
    bob_call = established(net, a)

    def refer_and_forget(t: float) -> None:
        bob_call.transfer("sip:carol@10.0.0.3", t)
        bob_call.refer_sub = None  # a transferor that keeps no subscription state

    net.at(11.0, refer_and_forget)
    net.run(until=160.0)
    assert not distinct(net, BOB, b"SUBSCRIBE")
    notifies = distinct(net, ALICE, b"NOTIFY")
    assert [m.get("subscription-state") for _, m in notifies] == ["active;expires=60", "terminated;reason=timeout"]
    assert notifies[1][0] == pytest.approx(notifies[0][0] + 60, abs=0.05)
    assert notifies[1][1].body.startswith(b"SIP/2.0 100")  # the last state, repeated
    assert len(of(net, "carol", CallAnswered)) == 1  # the transfer itself goes on
    assert [(p.status_code, p.final) for p in of(net, "bob", TransferProgress)] == [(100, False), (100, True)]


@pytest.mark.parametrize("seed", range(3))
def test_transferor_ends_the_subscription(seed: int) -> None:
    """RFC 6665 §4.1.2.3: SUBSCRIBE Expires: 0 ends it; a terminated NOTIFY follows."""
    net, a, b, c = three(LOSSY if seed else None, seed, carol_delay=40.0)
    bob_call = established(net, a)
    net.at(11.0, lambda t: bob_call.transfer("sip:carol@10.0.0.3", t))
    net.at(20.0, lambda t: bob_call.end_transfer_subscription(t))
    net.run(until=120.0)
    subscribes = distinct(net, BOB, b"SUBSCRIBE")
    assert [m.get("expires") for _, m in subscribes] == ["0"]
    notifies = [m for _, m in distinct(net, ALICE, b"NOTIFY")]
    assert notifies[-1].get("subscription-state") == "terminated;reason=timeout"
    assert not any(n.body.startswith(b"SIP/2.0 200") for n in notifies)  # Carol answered later
    assert len(of(net, "carol", CallAnswered)) == 1
    assert of(net, "bob", TransferProgress)[-1].final
    with pytest.raises(LocalProtocolError):
        bob_call.end_transfer_subscription(121.0)


def test_subscribe_for_no_refer_is_481() -> None:
    """A SUBSCRIBE refreshing a refer subscription that does not exist (RFC 6665 §4.2.1.2)."""
    net, a, b, c = three()
    bob_call = established(net, a)
    dialog = bob_call.dialog
    assert dialog is not None

    def stray(t: float) -> None:
        req, dest = dialog.request("SUBSCRIBE", b.contact, headers=[("Event", "refer"), ("Expires", "60")])
        b.send(req, t, lambda resp, now: None, dest=dest)

    net.at(11.0, stray)
    net.run(until=20.0)
    assert [m.status_code for _, m in distinct(net, ALICE, b"SIP/2.0 481")] == [481]


@pytest.mark.parametrize("seed", range(4))
def test_refer_outside_a_dialog(seed: int) -> None:
    """RFC 3515 §2.4.2: the REFER makes a dialog of its own; its NOTIFYs report Carol's
    answer; the transferee's event has no call."""
    net, a, b, c = three(LOSSY if seed else None, seed)
    subs = []
    net.at(1.0, lambda t: subs.append(b.refer("sip:alice@10.0.0.1", "sip:carol@10.0.0.3", t)))
    net.run(until=60.0)
    requested = of(net, "alice", TransferRequested)
    assert len(requested) == 1 and requested[0].call is None and requested[0].target == "sip:carol@10.0.0.3"
    assert requested[0].subscription is not None
    refers = distinct(net, BOB, b"REFER")
    assert refers and refers[0][1].to.tag is None and refers[0][1].get("refer-to") == "<sip:carol@10.0.0.3>"
    assert len(of(net, "carol", CallAnswered)) == 1
    notes = of(net, "bob", NotificationReceived)
    assert notes and notes[-1].event == "refer" and notes[-1].state == "terminated"
    assert notes[-1].body.startswith(b"SIP/2.0 200") and notes[-1].content_type == "message/sipfrag;version=2.0"
    assert subs[0].state == "terminated"
    assert of(net, "bob", SubscriptionChanged)[-1].state == "terminated"


@pytest.mark.parametrize("seed", range(3))
def test_refer_outside_a_dialog_without_subscription(seed: int) -> None:
    net, a, b, c = three(LOSSY if seed else None, seed)
    subs = []
    net.at(1.0, lambda t: subs.append(b.refer("sip:alice@10.0.0.1", "sip:carol@10.0.0.3", t, subscribe=False)))
    net.run(until=60.0)
    assert [m.get("refer-sub") for _, m in distinct(net, BOB, b"REFER")][:1] == ["false"]
    assert all(m.get("refer-sub") == "false" for _, m in distinct(net, ALICE, b"SIP/2.0 202"))
    assert not distinct(net, ALICE, b"NOTIFY")
    assert subs[0].state == "terminated" and of(net, "bob", SubscriptionChanged)[-1].reason == "norefersub"
    assert of(net, "alice", TransferRequested)[0].subscription is None
    assert len(of(net, "carol", CallAnswered)) == 1


def test_refer_outside_a_dialog_followed_by_the_application() -> None:
    net = network()
    a = ua(ALICE, "alice", 1, follow_transfers=False)
    b, c = ua(BOB, "bob", 2), ua(CAROL, "carol", 3)
    placed = []

    def alice_app(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, TransferRequested):
            net.at(now + 2.0, lambda t: placed.append(a.follow_transfer(event, t)))

    add(net, "alice", ALICE, a, alice_app)
    add(net, "bob", BOB, b, answering())
    add(net, "carol", CAROL, c, answering())
    net.at(1.0, lambda t: b.refer("sip:alice@10.0.0.1", "sip:carol@10.0.0.3", t))
    net.run(until=30.0)
    assert len(placed) == 1 and len(of(net, "carol", IncomingCall)) == 1
    assert of(net, "carol", IncomingCall)[0].request.get("referred-by") == "<sip:bob@10.0.0.2>"
    notes = of(net, "bob", NotificationReceived)
    assert [n.body.split(b"\r\n")[0] for n in notes] == [b"SIP/2.0 100 Trying", b"SIP/2.0 200 OK"]


def test_followed_transfer_offers_the_media_the_application_gives() -> None:
    """The transferee's application follows the REFER with its own capabilities (a new RTP
    port): the INVITE to the target offers them, not the transferred call's."""
    from .helpers import caps

    net = network()
    a = ua(ALICE, "alice", 1, follow_transfers=False)
    b, c = ua(BOB, "bob", 2), ua(CAROL, "carol", 3)
    placed = []
    answer = answering()

    def alice_app(node, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, TransferRequested):
            placed.append(event.call.follow_transfer(now, media=caps(ALICE, port=41234)))
        answer(node, event, now)

    add(net, "alice", ALICE, a, alice_app)
    add(net, "bob", BOB, b, answering())
    add(net, "carol", CAROL, c, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(b.invite("sip:alice@10.0.0.1", t)))
    net.run(until=5.0)
    net.at(6.0, lambda t: calls[0].transfer("sip:carol@10.0.0.3", t))
    net.run(until=20.0)
    assert len(placed) == 1
    (invite,) = [m for _, m in distinct(net, ALICE, b"INVITE sip:carol")]
    assert b"m=audio 41234 " in invite.body
    assert len(of(net, "carol", CallAnswered)) == 1
