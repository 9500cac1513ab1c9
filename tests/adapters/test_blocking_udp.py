"""The blocking UDP adapter: the event queue's limit holds in both driving modes, callback
errors reach the caller's thread, Ctrl-C closes everything, and SIPp's OPTIONS are answered
(the cross-adapter scenarios are in test_same_behaviour.py)."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import threading

import pytest

from rvoip_sansio import Event
from rvoip_sansio.adapters.blocking import open_udp_endpoint
from rvoip_sansio.transaction import Endpoint, EndpointConfig
from tests.conftest import require_program
from tests.interop._sipp import Answerer, run_sipp

from .test_same_behaviour import INVITE_486, LOOPBACK, PATIENCE, Parties, assert_rebindable
from .test_trio_udp import Echo, Got


def no_adapter_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("rvoip-udp")]


def test_caller_driven_queue_limit_stops_reading_not_events() -> None:
    core = Echo()
    with open_udp_endpoint(core, (LOOPBACK, 0), background=False, max_pending_events=3) as ep, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind((LOOPBACK, 0))
        for i in range(10):
            peer.sendto(b"%d" % i, ep.local_address)
        for _ in range(3):
            ep.poll(0)
        assert core.received == 3  # no room: the socket is not read; the rest wait there
        got = []
        while len(got) < 10:
            event = ep.next_event(timeout=PATIENCE)
            assert isinstance(event, Got)
            got.append(event.data)
        assert got == [b"%d" % i for i in range(10)]  # none lost, none reordered
        assert [peer.recv(100) for _ in range(10)] == got  # every datagram echoed
        assert ep.next_event(timeout=0) is None


def test_background_queue_keeps_order_and_events_end_on_close() -> None:
    core = Echo()
    with open_udp_endpoint(core, (LOOPBACK, 0), max_pending_events=2) as ep, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        for i in range(50):
            peer.sendto(b"%d" % i, ep.local_address)
        got = []
        for event in ep.events():
            assert isinstance(event, Got)
            got.append(event.data)
            if len(got) == 50:
                closer = threading.Thread(target=ep.close)
                closer.start()  # from another thread: the iteration ends
        closer.join()
        assert got == [b"%d" % i for i in range(50)]
        assert core.received == 50
    assert no_adapter_threads()
    assert_rebindable(ep.local_address[1])


class AppFailure(Exception):
    pass


def test_callback_error_reaches_the_callers_thread() -> None:
    def on_event(event: Event, now: float) -> None:
        raise AppFailure("the application broke")

    with pytest.raises(AppFailure):
        with open_udp_endpoint(Echo(), (LOOPBACK, 0), on_event=on_event) as ep, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.sendto(b"x", ep.local_address)
            ep.next_event(timeout=PATIENCE)  # raises the loop thread's error here
    assert no_adapter_threads()
    assert_rebindable(ep.local_address[1])


@pytest.mark.parametrize("background", [True, False], ids=["background", "caller-driven"])
def test_ctrl_c_mid_transaction_closes_everything(background: bool) -> None:
    p = Parties.make(INVITE_486, (LOOPBACK, 0), (LOOPBACK, 0))
    arrived = threading.Event()
    main = threading.get_ident()

    def press_ctrl_c() -> None:
        if arrived.wait(PATIENCE):
            signal.pthread_kill(main, signal.SIGINT)  # what the terminal does on Ctrl-C

    presser = threading.Thread(target=press_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=lambda e, now: arrived.set()) as bob, \
                open_udp_endpoint(p.alice, (LOOPBACK, 0), background=background) as alice:
            ports = (alice.local_address[1], bob.local_address[1])
            presser.start()
            alice.call(p.start(bob.local_address))
            alice.next_event(timeout=PATIENCE)  # Bob never answers: interrupted while waiting
    presser.join()
    assert p.alice.inner.live_transactions == 1  # interrupted mid-INVITE
    assert no_adapter_threads()
    for port in ports:
        assert_rebindable(port)


@pytest.mark.interop
@pytest.mark.parametrize("background", [True, False], ids=["background", "caller-driven"])
def test_sipp_options_against_blocking(background: bool) -> None:
    sipp = require_program("sipp")
    core = Endpoint(local=(LOOPBACK, 0), rng=random.Random(1), config=EndpointConfig(max_transactions=200_000))
    tu = Answerer(endpoint=core)
    with open_udp_endpoint(core, (LOOPBACK, 0), on_event=tu.on_event, buffer_size=4194304,
                           background=background) as udp:
        core.local = udp.local_address
        job = run_sipp(sipp, udp.local_address, scenario="options_uac.xml", calls=200, rate=100)
        if background:
            result = asyncio.run(job)
        else:  # SIPp runs from a helper thread while this one drives the socket
            done: list[object] = []
            runner = threading.Thread(target=lambda: done.append(asyncio.run(job)))
            runner.start()
            while runner.is_alive():
                udp.poll(0.05)
            runner.join()
            result = done[0]  # type: ignore[assignment]
    assert (result.successful, result.failed) == (200, 0), result.stdout + result.stderr
    assert tu.requests == {"OPTIONS": 200}  # each reached the application once
    assert tu.timeouts == 0 and tu.other == []
