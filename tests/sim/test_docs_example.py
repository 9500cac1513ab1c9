"""The example of docs/sim.md, run as written (keep the two in step)."""

from __future__ import annotations


def test_docs_example(capsys) -> None:  # type: ignore[no-untyped-def]
    import random

    from rvoip_sansio.sim import LinkConfig, Network
    from rvoip_sansio.sip import Request, make_response
    from rvoip_sansio.transaction import Endpoint, RequestReceived, ResponseReceived

    ALICE, BOB = ("10.0.0.1", 5060), ("10.0.0.2", 5060)
    alice = Endpoint(local=ALICE, rng=random.Random(1))
    bob = Endpoint(local=BOB, rng=random.Random(2))


    def bob_app(node, event, now):
        # The application under test: ring at once, reject 2 s later.
        if isinstance(event, RequestReceived) and event.request.method == "INVITE":
            ringing = make_response(event.request, 180, to_tag="b0b")
            bob.send_response(ringing, now, transaction=event.transaction)
            busy = make_response(event.request, 486, to_tag="b0b")
            net.at(now + 2.0, lambda t: bob.send_response(busy, t, transaction=event.transaction))


    net = Network(seed=7, link=LinkConfig(delay=0.03, loss=0.3))   # 30% loss both ways
    net.add_node("alice", ALICE, alice)
    net.add_node("bob", BOB, bob, on_event=bob_app)

    invite = Request("INVITE", "sip:bob@10.0.0.2", [
        ("From", "<sip:alice@10.0.0.1>;tag=a11ce"), ("To", "<sip:bob@10.0.0.2>"),
        ("Call-ID", "doc-example-1"), ("CSeq", "1 INVITE"),
    ])
    net.at(0.0, lambda now: alice.send_request(invite, now))
    net.run()                                    # until quiet: 32 s of timers in a few ms

    finals = [e.response.status_code for e in net.events("alice")
              if isinstance(e, ResponseReceived) and e.response.status_code >= 200]
    assert finals == [486]
    print(net.ladder(end=10.0))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2] == "    0.000 |--------- INVITE --------->|"
    assert lines[4] == "    2.030 |x----- 486 Busy Here ------|"  # lost on the way
    assert lines[-1] == "    9.560 |----------- ACK ---------->|"
