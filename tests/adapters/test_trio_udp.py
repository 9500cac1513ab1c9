"""The trio UDP adapter: trio's clock drives the timers, the event channel's limit holds,
errors and Ctrl-C leave the block as themselves with the socket closed, and SIPp's OPTIONS
are answered (the cross-adapter scenarios are in test_same_behaviour.py)."""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import socket

import attrs
import pytest
import trio
import trio.testing

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.adapters.trio import UdpEndpoint, open_udp_endpoint
from rvoip_sansio.transaction import Endpoint, EndpointConfig
from tests.conftest import require_program
from tests.interop._sipp import Answerer, run_sipp

from .test_same_behaviour import INVITE_486, LOOPBACK, Parties, assert_rebindable, reference, summary


@attrs.frozen(kw_only=True)
class Got(Event):
    data: bytes
    source: Address


@attrs.define(eq=False)
class Echo:
    """A minimal datagram core (no SIP): one event per datagram, and the datagram echoed."""

    received: int = 0
    events: collections.deque[Event] = attrs.field(factory=collections.deque)
    out: list[Transmit] = attrs.field(factory=list)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.received += 1
        self.events.append(Got(data=data, source=source))
        self.out.append(Transmit(data=data, dest=source))

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out, self.out = self.out, []
        return out

    def next_event(self) -> Event | None:
        return self.events.popleft() if self.events else None

    def next_deadline(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass

    def transport_error(self, dest: Address, now: float) -> None:
        pass


def test_timers_run_on_trios_clock() -> None:
    # Under trio's MockClock the adapter's timers follow the mock clock alone: INVITE -> 486
    # with the RFC's default timers (Timer D 32 s, Timer I 5 s) over real sockets finishes in
    # moments, and the event sequence is still the simulated one.
    ref = reference(INVITE_486)
    p = Parties.make(INVITE_486, (LOOPBACK, 0), (LOOPBACK, 0))
    for rec in (p.alice, p.bob):
        rec.inner = Endpoint(local=rec.inner.local, rng=random.Random(1), config=EndpointConfig(),
                             report_terminated=True)

    async def main() -> None:
        bob_done = trio.Event()
        async with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=p.bob_until(2, bob_done.set)) as bob, \
                open_udp_endpoint(p.alice, (LOOPBACK, 0)) as alice:
            p.alice.inner.local = alice.local_address
            alice.call(p.start(bob.local_address))
            async for _ in alice.events():
                if len(p.alice.events) == 2:
                    break
            await bob_done.wait()
        assert trio.current_time() >= 32.0  # Timer D, on the mock clock

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert (summary(p.alice.events), summary(p.bob.events)) == (ref.alice, ref.bob)
    (t0, _), (t1, _) = p.alice.events
    assert t1 - t0 == pytest.approx(32.0)  # RFC 3261 §17.1.1.2: Timer D, 32 s for UDP


def test_event_channel_limit_stops_reading_not_events() -> None:
    core = Echo()

    async def main() -> None:
        async with open_udp_endpoint(core, (LOOPBACK, 0), max_pending_events=3) as ep:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind((LOOPBACK, 0))
                for i in range(10):
                    peer.sendto(b"%d" % i, ep.local_address)
                await trio.testing.wait_all_tasks_blocked()
                assert core.received == 3  # the reader waits for room; the rest stay queued
                got = []
                async for event in ep.events():
                    assert isinstance(event, Got)
                    got.append(event.data)
                    if len(got) == 10:
                        break
                assert got == [b"%d" % i for i in range(10)]  # none lost, none reordered
                await trio.testing.wait_all_tasks_blocked()
                assert [peer.recv(100) for _ in range(10)] == got  # every datagram echoed

    trio.run(main)


def test_close_ends_the_event_iteration() -> None:
    got: list[Event] = []

    async def consume(ep: object) -> None:
        assert isinstance(ep, UdpEndpoint)
        async for event in ep.events():
            got.append(event)

    async def main() -> None:
        async with open_udp_endpoint(Echo(), (LOOPBACK, 0)) as ep:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume, ep)
                await trio.testing.wait_all_tasks_blocked()
                ep.close()  # the consumer's loop ends; the nursery can finish
            await trio.testing.wait_all_tasks_blocked()
            assert_rebindable(ep.local_address[1])  # closed once its tasks ended
        assert got == []

    trio.run(main)


class AppFailure(Exception):
    pass


def test_callback_error_leaves_as_itself_and_closes() -> None:
    ports: list[int] = []

    def on_event(event: Event, now: float) -> None:
        raise AppFailure("the application broke")

    async def main() -> None:
        async with open_udp_endpoint(Echo(), (LOOPBACK, 0), on_event=on_event) as ep:
            ports.append(ep.local_address[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.sendto(b"x", ep.local_address)
                await trio.sleep_forever()

    with pytest.raises(AppFailure):  # not an ExceptionGroup
        trio.run(main)
    assert_rebindable(ports[0])


def test_ctrl_c_mid_transaction_closes_the_sockets() -> None:
    p = Parties.make(INVITE_486, (LOOPBACK, 0), (LOOPBACK, 0))
    ports: list[int] = []

    async def main() -> None:
        arrived = trio.Event()
        async with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=lambda e, now: arrived.set()) as bob, \
                open_udp_endpoint(p.alice, (LOOPBACK, 0)) as alice:
            ports.extend((alice.local_address[1], bob.local_address[1]))
            alice.call(p.start(bob.local_address))
            await arrived.wait()
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C
            await trio.sleep_forever()

    with pytest.raises(KeyboardInterrupt):
        trio.run(main)
    assert p.alice.inner.live_transactions == 1  # interrupted mid-INVITE
    for port in ports:
        assert_rebindable(port)


@pytest.mark.interop
def test_sipp_options_against_trio() -> None:
    sipp = require_program("sipp")
    core = Endpoint(local=(LOOPBACK, 0), rng=random.Random(1), config=EndpointConfig(max_transactions=200_000))
    tu = Answerer(endpoint=core)

    async def main() -> None:
        async with open_udp_endpoint(core, (LOOPBACK, 0), on_event=tu.on_event, buffer_size=4194304) as udp:
            core.local = udp.local_address
            job = run_sipp(sipp, udp.local_address, scenario="options_uac.xml", calls=200, rate=100)
            result = await trio.to_thread.run_sync(asyncio.run, job)
            assert (result.successful, result.failed) == (200, 0), result.stdout + result.stderr

    trio.run(main)
    assert tu.requests == {"OPTIONS": 200}  # each reached the application once
    assert tu.timeouts == 0 and tu.other == []
