"""Event state compositor store (RFC 3903 §6): entity tags, refresh, modify, remove, 412,
423, 489, 415, expiry from ``now``; and our PUBLISH client against it in simulated time
with loss."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio.dialog import PublicationChanged, UAConfig, UserAgent
from rvoip_sansio.server import PublicationConfig, PublicationStore
from rvoip_sansio.sip import Request, Response, parse_message

from tests.dialog.helpers import ALICE, BOB, LOSSY, add, network, of, ua

SRC = ("10.0.0.1", 5060)
PIDF = b'<?xml version="1.0"?><presence entity="sip:alice@example.com"><tuple id="a"><status><basic>open</basic></status></tuple></presence>'
N = [0]


def publish(body: bytes = PIDF, *, etag: str | None = None, expires: int | None = None,
            event: str = "presence", uri: str = "sip:alice@example.com",
            ctype: str = "application/pidf+xml") -> Request:
    N[0] += 1
    headers = [("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp{N[0]}"),
               ("From", "<sip:alice@example.com>;tag=a"), ("To", "<sip:alice@example.com>"),
               ("Call-ID", f"pub-{N[0]}"), ("CSeq", "1 PUBLISH"), ("Max-Forwards", "70"),
               ("Event", event)]
    if etag is not None:
        headers.append(("SIP-If-Match", etag))
    if expires is not None:
        headers.append(("Expires", str(expires)))
    if body:
        headers.append(("Content-Type", ctype))
    return Request("PUBLISH", uri, headers, body)


def store(**kw: object) -> PublicationStore:
    return PublicationStore(rng=random.Random(1), config=PublicationConfig(**kw))  # type: ignore[arg-type]


def send(esc: PublicationStore, req: Request, now: float) -> Response:
    # Over the wire and back: what a peer would read.
    resp = parse_message(bytes(esc.handle_request(req, SRC, now)))
    assert isinstance(resp, Response)
    return resp


def test_initial_refresh_modify_remove() -> None:
    esc = store()
    r1 = send(esc, publish(expires=600), 0.0)
    assert r1.status_code == 200 and r1.get("expires") == "600" and r1.to.tag
    tag1 = r1.get("sip-etag")
    assert tag1 and [p.body for p in esc.state("sip:alice@example.com", "presence", 1.0)] == [PIDF]
    # §4.3 refresh: no body, SIP-If-Match; a new entity tag, the body kept, the expiry moved.
    r2 = send(esc, publish(b"", etag=tag1, expires=600), 500.0)
    tag2 = r2.get("sip-etag")
    assert r2.status_code == 200 and tag2 and tag2 != tag1
    [pub] = esc.state("sip:alice@example.com", "presence", 700.0)
    assert pub.body == PIDF and pub.etag == tag2 and pub.expires_at == 1100.0
    # The old tag is gone (§6 step 8: each successful PUBLISH gets a new one).
    assert send(esc, publish(b"", etag=tag1, expires=600), 701.0).status_code == 412
    # §4.4 modify
    r3 = send(esc, publish(b"<closed/>", etag=tag2), 702.0)
    assert r3.status_code == 200 and r3.get("expires") == "3600"
    [pub] = esc.state("sip:alice@example.com", "presence", 703.0)
    assert pub.body == b"<closed/>" and pub.etag == r3.get("sip-etag")
    # §4.5 remove: Expires 0, no new entity tag.
    r4 = send(esc, publish(b"", etag=r3.get("sip-etag"), expires=0), 704.0)
    assert r4.status_code == 200 and r4.get("expires") == "0" and r4.get("sip-etag") is None
    assert esc.state("sip:alice@example.com", "presence", 705.0) == [] and len(esc) == 0


def test_expiry_from_now() -> None:
    esc = store(min_expires=60)
    tag = send(esc, publish(expires=60), 10.0).get("sip-etag")
    assert len(esc.state("sip:alice@example.com", "presence", 69.99)) == 1
    assert esc.state("sip:alice@example.com", "presence", 70.0) == []
    # A refresh after the state lapsed: the entity tag is unknown (412, §6 step 4).
    assert send(esc, publish(b"", etag=tag, expires=60), 70.5).status_code == 412
    send(esc, publish(expires=60), 71.0)
    send(esc, publish(expires=3600), 72.0)
    assert esc.purge(200.0) == 1 and len(esc) == 1


def test_several_publications_of_one_resource_and_isolation() -> None:
    esc = store()
    a = send(esc, publish(b"<a/>"), 0.0).get("sip-etag")
    b = send(esc, publish(b"<b/>", uri="sip:alice@EXAMPLE.com;transport=udp"), 1.0).get("sip-etag")
    send(esc, publish(b"<c/>", uri="sip:bob@example.com"), 2.0)
    send(esc, publish(b"<d/>", event="dialog", ctype="application/dialog-info+xml"), 3.0)
    assert [p.body for p in esc.state("sip:alice@example.com", "presence", 4.0)] == [b"<a/>", b"<b/>"]
    assert a != b
    # An entity tag only names state of the same resource and event package.
    assert send(esc, publish(b"", etag=a, uri="sip:bob@example.com"), 5.0).status_code == 412
    assert send(esc, publish(b"", etag=a, event="dialog"), 5.0).status_code == 412


@pytest.mark.parametrize(("request_", "code"), [
    (lambda: publish(etag="nope"), 412),
    (lambda: publish(b""), 400),  # initial without a body
    (lambda: publish(expires=10), 423),
    (lambda: publish(event="message-summary"), 489),
    (lambda: publish(ctype="text/plain"), 415),
    (lambda: publish(b"x" * 70_000), 413),
])
def test_refusals(request_, code: int) -> None:  # type: ignore[no-untyped-def]
    esc = store(events=("presence",), content_types=("application/pidf+xml",))
    resp = send(esc, request_(), 0.0)
    assert resp.status_code == code
    if code == 423:
        assert resp.get("min-expires") == "60"
    if code == 489:
        assert resp.get("allow-events") == "presence"
    assert len(esc) == 0


def test_expires_clamped_and_bounded() -> None:
    esc = store(max_expires=1000, max_publications=2)
    assert send(esc, publish(expires=99999), 0.0).get("expires") == "1000"
    send(esc, publish(), 0.0)
    assert send(esc, publish(), 1.0).status_code == 503
    assert send(esc, publish(), 1001.0).status_code == 200  # the first lapsed: room again


@pytest.mark.parametrize("seed", range(4))
def test_our_publish_client_against_the_store(seed: int) -> None:
    """ua.publish against ua.serve("PUBLISH", store), over a lossy link: the state is
    refreshed before it lapses (never a gap), modified, then removed."""
    net = network(LOSSY if seed else None, seed)
    a = ua(ALICE, "alice", seed + 1)
    server = UserAgent(config=UAConfig(local=BOB, user="esc"), rng=random.Random(seed + 9))
    esc = store(max_expires=120)
    server.serve("PUBLISH", esc)
    add(net, "alice", ALICE, a)
    add(net, "esc", BOB, server)
    pubs = []
    net.at(0.0, lambda t: pubs.append(a.publish("sip:alice@10.0.0.2", "presence", PIDF, t,
                                                content_type="application/pidf+xml", expires=3600)))
    gaps = []

    def probe(t: float) -> None:
        if t > 5 and not esc.state("sip:alice@10.0.0.2", "presence", t):
            gaps.append(t)

    for k in range(1, 80):
        net.at(k * 5.0, probe)
    net.run(until=400.0)
    assert not gaps
    [state] = esc.state("sip:alice@10.0.0.2", "presence", 400.0)
    assert state.body == PIDF and pubs[0].etag == state.etag
    net.at(401.0, lambda t: pubs[0].modify(b"<closed/>", t))
    net.run(until=420.0)
    assert [p.body for p in esc.state("sip:alice@10.0.0.2", "presence", 420.0)] == [b"<closed/>"]
    net.at(421.0, lambda t: pubs[0].remove(t))
    net.run(until=460.0)
    assert esc.state("sip:alice@10.0.0.2", "presence", 460.0) == []
    assert of(net, "alice", PublicationChanged)[-1].expires == 0
