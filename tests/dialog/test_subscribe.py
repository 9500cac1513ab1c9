"""SUBSCRIBE/NOTIFY (RFC 6665) and PUBLISH (RFC 3903) in simulated time."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import Address
from rvoip_sansio.dialog import (
    NotificationReceived,
    PublicationChanged,
    SubscriptionChanged,
    SubscriptionRequested,
    UAConfig,
    UserAgent,
)
from rvoip_sansio.sim import LinkConfig
from rvoip_sansio.sip import Request, Response, make_response, parse_message

from .helpers import ALICE, BOB, LOSSY, add, network, of, ua

PIDF = b'<?xml version="1.0"?><presence entity="sip:bob@10.0.0.2"><tuple id="t"><status><basic>open</basic></status></tuple></presence>'


def notifier_app(node, event, now):  # type: ignore[no-untyped-def]
    if isinstance(event, SubscriptionRequested):
        event.subscription.notify(now, body=PIDF, content_type="application/pidf+xml")


def sent(net, src, method):  # type: ignore[no-untyped-def]
    return [(e.sent, parse_message(e.data)) for e in net.trace if e.src == src and e.data.startswith(method.encode() + b" ")]


@pytest.mark.parametrize("seed", range(4))
def test_subscribe_notify_refresh_and_unsubscribe(seed: int) -> None:
    net = network(LOSSY if seed else None, seed)
    a, b = ua(ALICE, "alice", seed + 1), ua(BOB, "bob", seed + 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, notifier_app)
    subs = []
    net.at(0.0, lambda t: subs.append(a.subscribe("sip:bob@10.0.0.2", "presence", t, expires=120,
                                                  accept="application/pidf+xml")))
    net.run(until=300.0)
    sub = subs[0]
    notes = of(net, "alice", NotificationReceived)
    assert notes[0].state == "active" and any(n.body == PIDF for n in notes)
    assert sub.state == "active" and sub.dialog is not None
    subscribes = sent(net, ALICE, "SUBSCRIBE")
    # Refreshed in the dialog before each expiry (120 s, 30 s early).
    assert len({r.call_id for _, r in subscribes}) == 1 and len({r.cseq.number for _, r in subscribes}) >= 3
    if seed == 0:
        assert [round(t, 2) for t, _ in subscribes] == [0.0, 90.02, 180.04, 270.06]
    net.at(net.now, lambda t: sub.unsubscribe(t))
    net.run(until=net.now + 40)
    assert sub.state == "terminated"
    assert of(net, "alice", SubscriptionChanged)[-1].reason == "timeout"


def test_notifier_ends_an_unrefreshed_subscription() -> None:
    net = network()
    a, b = ua(ALICE, "alice", 1), ua(BOB, "bob", 2)
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, notifier_app)
    net.at(0.0, lambda t: a.subscribe("sip:bob@10.0.0.2", "presence", t, expires=100))
    net.at(5.0, lambda t: net.set_link(ALICE, BOB, LinkConfig(loss=1.0), both_ways=False))
    net.run(until=200.0)
    final = [(t, n) for t, n in sent(net, BOB, "NOTIFY") if n.get("subscription-state").startswith("terminated")]
    assert final[0][1].get("subscription-state") == "terminated;reason=timeout"
    assert final[0][0] == pytest.approx(100.01, abs=0.02)  # then retransmitted: no answer
    assert of(net, "bob", SubscriptionRequested)[0].subscription.state == "terminated"


def test_notify_before_the_2xx_creates_the_dialog() -> None:
    """§4.1.2.4: the NOTIFY may overtake the 200 to SUBSCRIBE (a notifier played by hand)."""
    net = network()
    a = ua(ALICE, "alice", 1)
    add(net, "alice", ALICE, a)
    subs = []
    net.at(0.0, lambda t: subs.append(a.subscribe("sip:bob@10.0.0.2", "presence", t, expires=600)))
    net.run(until=0.05)
    subscribe = parse_message(net.trace[0].data)
    notify = Request("NOTIFY", "sip:alice@10.0.0.1:5060", [
        ("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKn1"), ("Max-Forwards", "70"),
        ("From", "<sip:bob@10.0.0.2>;tag=n1"), ("To", subscribe.get("from")),
        ("Call-ID", subscribe.call_id), ("CSeq", "1 NOTIFY"), ("Contact", "<sip:bob@10.0.0.2:5060>"),
        ("Event", "presence"), ("Subscription-State", "active;expires=600"),
        ("Content-Type", "application/pidf+xml")], PIDF)
    net.inject(bytes(notify), BOB, ALICE)
    net.run(until=0.1)
    assert [n.body for n in of(net, "alice", NotificationReceived)] == [PIDF]
    assert subs[0].dialog is not None and subs[0].dialog.remote_target == "sip:bob@10.0.0.2:5060"
    assert parse_message(net.trace[-1].data).status_code == 200
    net.inject(bytes(make_response(subscribe, 200, to_tag="n1", headers=[("Expires", "600")])), BOB, ALICE)
    net.run(until=1.0)
    assert subs[0].state == "active" and subs[0].expires == 600


class Compositor:
    """A tiny event state compositor for the test (RFC 3903 §6 server side)."""

    def __init__(self) -> None:
        self.etags: dict[str, bytes] = {}
        self.n = 0

    def handle_request(self, request: Request, source: Address, now: float) -> Response:
        match = request.get("sip-if-match")
        if match is not None and match not in self.etags:
            return make_response(request, 412, to_tag="c")
        expires = int(request.get("expires") or "3600")
        if expires == 0:
            self.etags.pop(match or "", None)
            return make_response(request, 200, to_tag="c", headers=[("Expires", "0")])
        body = request.body or self.etags.get(match or "", b"")
        self.etags.pop(match or "", None)
        self.n += 1
        tag = f"e{self.n}"
        self.etags[tag] = body
        return make_response(request, 200, to_tag="c", headers=[("SIP-ETag", tag), ("Expires", str(min(expires, 60)))])


def test_publish_refresh_modify_remove_and_412() -> None:
    net = network()
    a = ua(ALICE, "alice", 1)
    server = UserAgent(config=UAConfig(local=BOB, user="esc"), rng=random.Random(3))
    esc = Compositor()
    server.serve("PUBLISH", esc)
    add(net, "alice", ALICE, a)
    add(net, "esc", BOB, server)
    pubs = []
    net.at(0.0, lambda t: pubs.append(a.publish("sip:alice@10.0.0.2", "presence", PIDF, t,
                                                content_type="application/pidf+xml", expires=3600)))
    net.run(until=100.0)
    pub = pubs[0]
    publishes = sent(net, ALICE, "PUBLISH")
    # Granted 60 s: refreshed at 30 s without a body, with SIP-If-Match (§4.3).
    assert [round(t, 2) for t, _ in publishes] == [0.0, 30.02, 60.04, 90.06]
    assert publishes[1][1].body == b"" and publishes[1][1].get("sip-if-match") == "e1"
    assert esc.etags == {"e4": PIDF} and pub.etag == "e4"
    esc.etags.clear()  # the compositor forgets us: the next refresh gets 412 and re-publishes
    net.run(until=125.0)
    assert pub.etag == "e5" and esc.etags == {"e5": PIDF}
    net.at(net.now, lambda t: pub.modify(b"<closed/>", t))
    net.run(until=net.now + 1)
    assert esc.etags == {"e6": b"<closed/>"}
    net.at(net.now, lambda t: pub.remove(t))
    net.run(until=net.now + 100)
    assert esc.etags == {} and of(net, "alice", PublicationChanged)[-1].expires == 0
