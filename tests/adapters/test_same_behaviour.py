"""One scenario suite, three adapters: asyncio, trio and blocking give the same behaviour.

Each scenario first runs in ``rvoip_sansio.sim`` (zero link delay); that run is the
reference. Then it runs over real loopback UDP once per adapter, and each side's event
sequence must equal the reference's (timestamps aside). The gaps between one side's events
must be at least the simulated ones (timers never fire early on the loop's clock), every
``now`` the core saw must lie on the adapter's own clock, and after shutdown both ports bind
again.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Callable

import attrs
import pytest
import trio

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.sim import LinkConfig, Network
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.transaction import (
    Endpoint,
    EndpointConfig,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
)

ADAPTERS = ["asyncio", "trio", "blocking", "blocking-polled"]
# Small timers keep the suite fast: Timer J (64·T1) is 0.64 s, K and I (T4) 0.1 s, D 0.3 s.
CONFIG = EndpointConfig(t1=0.01, t2=0.08, t4=0.1, timer_d=0.3)
LOOPBACK = "127.0.0.1"
PATIENCE = 15.0  # real seconds before a run is declared stuck


# ---- the scenarios ---------------------------------------------------------------------


def request(method: str, target: Address) -> Request:
    uri = f"sip:bob@{target[0]}:{target[1]}"
    return Request(method, uri, [
        ("From", "<sip:alice@127.0.0.1>;tag=a1"), ("To", f"<{uri}>"),
        ("Call-ID", f"same-{method.lower()}"), ("CSeq", f"1 {method}"),
        ("Contact", "<sip:alice@127.0.0.1>"),
    ])


@attrs.frozen
class Scenario:
    name: str
    method: str
    code: int  # Bob's final response; 0: Bob never answers
    drop_first_reply: bool = False


OPTIONS_200 = Scenario("options-200", "OPTIONS", 200)
INVITE_486 = Scenario("invite-486-ack", "INVITE", 486)
LOST_200 = Scenario("options-200-first-reply-lost", "OPTIONS", 200, drop_first_reply=True)
SCENARIOS = [OPTIONS_200, INVITE_486, LOST_200]


@attrs.define(eq=False)
class Recorded:
    """A datagram core wrapped to record what passed, with the ``now`` the core was given.

    ``drop_first_send`` loses the first datagram the core sends (a lossy link on one side).
    """

    inner: Endpoint
    drop_first_send: bool = False
    events: list[tuple[float, Event]] = attrs.field(factory=list)
    sent: list[tuple[float, Transmit]] = attrs.field(factory=list)
    received: list[tuple[float, bytes]] = attrs.field(factory=list)
    nows: list[float] = attrs.field(factory=list)
    last_now: float = 0.0

    def _saw(self, now: float) -> None:
        self.last_now = now
        self.nows.append(now)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self._saw(now)
        self.received.append((now, data))
        self.inner.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        self._saw(now)
        out = self.inner.datagrams_to_send(now)
        self.sent.extend((now, t) for t in out)
        if self.drop_first_send and out:
            self.drop_first_send = False
            out = out[1:]
        return out

    def next_event(self) -> Event | None:
        event = self.inner.next_event()
        if event is not None:
            self.events.append((self.last_now, event))
        return event

    def next_deadline(self) -> float | None:
        return self.inner.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self._saw(now)
        self.inner.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self._saw(now)
        self.inner.transport_error(dest, now)


@attrs.define(eq=False)
class Parties:
    alice: Recorded
    bob: Recorded
    scenario: Scenario

    @classmethod
    def make(cls, scenario: Scenario, alice_at: Address, bob_at: Address) -> Parties:
        def endpoint(at: Address, seed: int) -> Endpoint:
            return Endpoint(local=at, rng=random.Random(seed), config=CONFIG, report_terminated=True)

        return cls(Recorded(endpoint(alice_at, 1)), Recorded(endpoint(bob_at, 2), scenario.drop_first_reply), scenario)

    def bob_app(self, event: Event, now: float) -> None:
        """Bob's application: answer every new request with the scenario's code at once."""
        if isinstance(event, RequestReceived) and event.transaction is not None and self.scenario.code:
            response = make_response(event.request, self.scenario.code, to_tag="b0b")
            self.bob.inner.send_response(response, now, transaction=event.transaction)

    def bob_until(self, count: int, done: Callable[[], object]) -> Callable[[Event, float], None]:
        """Bob's application as an adapter callback that calls ``done()`` after ``count`` events."""
        def on_event(event: Event, now: float) -> None:
            self.bob_app(event, now)
            if len(self.bob.events) >= count:
                done()

        return on_event

    def start(self, bob_at: Address) -> Callable[[float], object]:
        return lambda now: self.alice.inner.send_request(request(self.scenario.method, bob_at), now)


def summary(events: list[tuple[float, Event]]) -> list[str]:
    out = []
    for _, e in events:
        if isinstance(e, RequestReceived):
            out.append(f"request {e.request.method}")
        elif isinstance(e, ResponseReceived):
            out.append(f"response {e.response.status_code}")
        else:
            out.append(type(e).__name__)
    return out


@attrs.frozen
class Reference:
    alice: list[str]
    bob: list[str]
    alice_gaps: list[float]
    bob_gaps: list[float]
    alice_sends: list[float]


def gaps(events: list[tuple[float, Event]]) -> list[float]:
    return [b[0] - a[0] for a, b in zip(events, events[1:])]


def reference(scenario: Scenario) -> Reference:
    net = Network(seed=1, link=LinkConfig(delay=0.0))
    p = Parties.make(scenario, ("10.0.0.1", 5060), ("10.0.0.2", 5060))
    net.add_node("alice", ("10.0.0.1", 5060), p.alice)
    net.add_node("bob", ("10.0.0.2", 5060), p.bob, on_event=lambda node, e, now: p.bob_app(e, now))
    net.at(0.0, p.start(("10.0.0.2", 5060)))
    net.run()
    return Reference(summary(p.alice.events), summary(p.bob.events), gaps(p.alice.events), gaps(p.bob.events),
                     [t for t, _ in p.alice.sent])


# ---- one runner per adapter: same inputs, each in its own idiom ------------------------


@attrs.frozen
class Outcome:
    parties: Parties
    clock: tuple[float, float]  # the adapter's clock before opening and after closing
    ports: tuple[int, int]


def run_asyncio(scenario: Scenario, ref: Reference) -> Outcome:
    from rvoip_sansio.adapters.asyncio import open_udp_endpoint

    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        start = loop.time()
        p = Parties.make(scenario, (LOOPBACK, 0), (LOOPBACK, 0))
        bob_done = asyncio.Event()

        bob = await open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=p.bob_until(len(ref.bob), bob_done.set))
        alice = await open_udp_endpoint(p.alice, (LOOPBACK, 0))
        try:
            p.alice.inner.local = alice.local_address
            alice.call(p.start(bob.local_address))

            async def both() -> None:
                async for _ in alice.events():  # Alice reads the async iterator
                    if len(p.alice.events) >= len(ref.alice):
                        break
                await bob_done.wait()

            await asyncio.wait_for(both(), PATIENCE)
        finally:
            await alice.close()
            await bob.close()
        return Outcome(p, (start, loop.time()), (alice.local_address[1], bob.local_address[1]))

    return asyncio.run(main())


def run_trio(scenario: Scenario, ref: Reference) -> Outcome:
    from rvoip_sansio.adapters.trio import open_udp_endpoint

    async def main() -> Outcome:
        start = trio.current_time()
        p = Parties.make(scenario, (LOOPBACK, 0), (LOOPBACK, 0))
        bob_done = trio.Event()

        with trio.fail_after(PATIENCE):
            async with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=p.bob_until(len(ref.bob), bob_done.set)) as bob, \
                    open_udp_endpoint(p.alice, (LOOPBACK, 0)) as alice:
                p.alice.inner.local = alice.local_address
                alice.call(p.start(bob.local_address))
                async for _ in alice.events():  # Alice reads the async iterator
                    if len(p.alice.events) >= len(ref.alice):
                        break
                await bob_done.wait()
        return Outcome(p, (start, trio.current_time()), (alice.local_address[1], bob.local_address[1]))

    return trio.run(main)


def run_blocking(scenario: Scenario, ref: Reference, *, polled: bool = False) -> Outcome:
    """Bob on a background thread with a callback; Alice reads ``next_event`` — from a
    second background thread, or (``polled``) driving her socket from this thread."""
    from rvoip_sansio.adapters.blocking import open_udp_endpoint

    start = time.monotonic()
    p = Parties.make(scenario, (LOOPBACK, 0), (LOOPBACK, 0))
    bob_done = threading.Event()

    until = start + PATIENCE
    with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=p.bob_until(len(ref.bob), bob_done.set)) as bob, \
            open_udp_endpoint(p.alice, (LOOPBACK, 0), background=not polled) as alice:
        p.alice.inner.local = alice.local_address
        alice.call(p.start(bob.local_address))
        while not len(p.alice.events) >= len(ref.alice):
            assert alice.next_event(timeout=until - time.monotonic()) is not None, "stuck"
        assert bob_done.wait(until - time.monotonic()), "stuck"
    return Outcome(p, (start, time.monotonic()), (alice.local_address[1], bob.local_address[1]))


def run(adapter: str, scenario: Scenario, ref: Reference) -> Outcome:
    if adapter == "asyncio":
        return run_asyncio(scenario, ref)
    if adapter == "trio":
        return run_trio(scenario, ref)
    return run_blocking(scenario, ref, polled=adapter == "blocking-polled")


def assert_rebindable(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, port))  # OSError (EADDRINUSE) if the adapter left it bound


# ---- the suite ---------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_reference_is_what_rfc3261_says(scenario: Scenario) -> None:
    # The reference itself, checked against RFC 3261 §17 rather than trusted blindly.
    ref = reference(scenario)
    assert ref.bob[0] == f"request {scenario.method}"
    assert ref.alice[0] == f"response {scenario.code}"
    assert ref.alice[1:] == ref.bob[1:] == ["TransactionTerminated"]
    if scenario.method == "INVITE":
        assert ref.alice_gaps == [pytest.approx(CONFIG.timer_d)]  # Timer D after the 486
        assert ref.bob_gaps == [pytest.approx(CONFIG.t4)]  # Timer I after the ACK
    else:
        assert ref.alice_gaps == [pytest.approx(CONFIG.t4)]  # Timer K
        assert ref.bob_gaps == [pytest.approx(64 * CONFIG.t1)]  # Timer J
    if scenario.drop_first_reply:  # §17.1.2.2 Timer E: the OPTIONS again after T1
        assert ref.alice_sends == [0.0, pytest.approx(CONFIG.t1)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_same_events_as_simulation(adapter: str, scenario: Scenario) -> None:
    ref = reference(scenario)
    out = run(adapter, scenario, ref)
    alice, bob = out.parties.alice, out.parties.bob
    assert (summary(alice.events), summary(bob.events)) == (ref.alice, ref.bob)
    assert alice.inner.live_transactions == bob.inner.live_transactions == 0
    # Timers ran on the loop's clock and never early: real gaps are at least the simulated
    # ones (the simulation has zero link delay; real latency only adds).
    for real, simulated in ((gaps(alice.events), ref.alice_gaps), (gaps(bob.events), ref.bob_gaps)):
        assert all(r >= s - 1e-9 for r, s in zip(real, simulated)), (real, simulated)
    # Every now the cores saw is a reading of the adapter's own clock, in order.
    lo, hi = out.clock
    for rec in (alice, bob):
        assert all(lo <= t <= hi for t in rec.nows), (lo, rec.nows[:3], hi)
        assert rec.nows == sorted(rec.nows)
    if scenario.drop_first_reply:
        # Bob's first 200 was lost: Alice's Timer E sent the OPTIONS again, no sooner than T1
        # later on her loop's clock; Bob absorbed the copy (his TU saw one request) and
        # answered it again from the transaction.
        sends = [t for t, _ in alice.sent]
        assert len(sends) >= 2 and sends[1] - sends[0] >= CONFIG.t1 - 1e-9
        assert len(bob.received) >= 2
        assert len([d for _, d in bob.sent if d.data.startswith(b"SIP/2.0 200")]) >= 2
    for port in out.ports:
        assert_rebindable(port)


# ---- cancellation mid-transaction ---------------------------------------------------------


SILENT = Scenario("invite-unanswered", "INVITE", 0)


def cancelled_asyncio() -> tuple[Parties, tuple[int, int]]:
    from rvoip_sansio.adapters.asyncio import open_udp_endpoint

    p = Parties.make(SILENT, (LOOPBACK, 0), (LOOPBACK, 0))

    async def main() -> tuple[int, int]:
        arrived = asyncio.Event()
        bob = await open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=lambda e, now: arrived.set())
        alice = await open_udp_endpoint(p.alice, (LOOPBACK, 0))
        ports = (alice.local_address[1], bob.local_address[1])

        async def call() -> None:
            try:
                alice.call(p.start(bob.local_address))
                async for _ in bob.events():  # never ends: Bob's events go to his callback
                    pass
            finally:
                await alice.close()
                await bob.close()

        task = asyncio.create_task(call())
        await asyncio.wait_for(arrived.wait(), PATIENCE)  # the INVITE reached Bob
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return ports

    return p, asyncio.run(main())


def cancelled_trio() -> tuple[Parties, tuple[int, int]]:
    from rvoip_sansio.adapters.trio import open_udp_endpoint

    p = Parties.make(SILENT, (LOOPBACK, 0), (LOOPBACK, 0))
    ports: list[int] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            # The INVITE reaching Bob cancels everything, mid-transaction.
            async with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=p.bob_until(1, scope.cancel)) as bob, \
                    open_udp_endpoint(p.alice, (LOOPBACK, 0)) as alice:
                ports.extend((alice.local_address[1], bob.local_address[1]))
                alice.call(p.start(bob.local_address))
                await trio.sleep_forever()
        assert scope.cancelled_caught

    trio.run(main)
    return p, (ports[0], ports[1])


def cancelled_blocking() -> tuple[Parties, tuple[int, int]]:
    # For blocking code, "cancellation" is leaving the with block early (an exception).
    from rvoip_sansio.adapters.blocking import open_udp_endpoint

    p = Parties.make(SILENT, (LOOPBACK, 0), (LOOPBACK, 0))
    arrived = threading.Event()

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        with open_udp_endpoint(p.bob, (LOOPBACK, 0), on_event=lambda e, now: arrived.set()) as bob, \
                open_udp_endpoint(p.alice, (LOOPBACK, 0)) as alice:
            ports = (alice.local_address[1], bob.local_address[1])
            alice.call(p.start(bob.local_address))
            assert arrived.wait(PATIENCE)
            raise Abandon
    assert not [t for t in threading.enumerate() if t.name.startswith("rvoip-udp")]
    return p, ports


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "blocking"])
def test_cancellation_mid_transaction_is_clean(adapter: str) -> None:
    p, ports = {"asyncio": cancelled_asyncio, "trio": cancelled_trio, "blocking": cancelled_blocking}[adapter]()
    # Cancelled while Alice's INVITE client transaction was still Calling, retransmitting.
    assert summary(p.bob.events) == ["request INVITE"]
    assert p.alice.events == [] and p.alice.inner.live_transactions == 1
    for port in ports:
        assert_rebindable(port)


# ---- a failed send reaches the core ---------------------------------------------------------

# RFC 3261 §18.4 / §17.1.4: a transport failure is reported to the transaction user. Linux
# refuses a datagram to the broadcast address on a socket without SO_BROADCAST (EACCES).
UNSENDABLE = ("255.255.255.255", 5060)


def first_event_after_failed_send(adapter: str) -> Event | None:
    rec = Parties.make(OPTIONS_200, (LOOPBACK, 0), (LOOPBACK, 0)).alice
    send = lambda now: rec.inner.send_request(request("OPTIONS", UNSENDABLE), now)  # noqa: E731
    if adapter == "asyncio":
        from rvoip_sansio.adapters import asyncio as aio

        async def main() -> Event | None:
            ep = await aio.open_udp_endpoint(rec, (LOOPBACK, 0))
            try:
                ep.call(send)
                async for event in ep.events():
                    return event
                return None
            finally:
                await ep.close()

        try:
            return asyncio.run(asyncio.wait_for(main(), 2.0))
        except asyncio.TimeoutError:
            return None
    if adapter == "trio":
        from rvoip_sansio.adapters import trio as tri

        async def tmain() -> Event | None:
            async with tri.open_udp_endpoint(rec, (LOOPBACK, 0)) as ep:
                ep.call(send)
                with trio.move_on_after(2.0):
                    async for event in ep.events():
                        return event
            return None

        return trio.run(tmain)
    from rvoip_sansio.adapters import blocking

    with blocking.open_udp_endpoint(rec, (LOOPBACK, 0), background=adapter == "blocking") as ep:
        ep.call(send)
        return ep.next_event(timeout=2.0)


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "blocking", "blocking-polled"])
def test_failed_send_becomes_a_transport_error_event(adapter: str) -> None:
    from rvoip_sansio.transaction import TransportError

    event = first_event_after_failed_send(adapter)
    assert isinstance(event, TransportError), event
    assert event.dest == UNSENDABLE and event.transaction is not None


# ---- the examples in docs/adapters.md run ---------------------------------------------------


def test_docs_examples_run() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "adapters.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    # The three complete examples (other blocks are fragments).
    blocks = [b for b in blocks if b.splitlines()[0] in ("# asyncio", "# trio", "# blocking")]
    assert [b.splitlines()[0] for b in blocks] == ["# asyncio", "# trio", "# blocking"]
    namespace: dict[str, object] = {}
    for block in blocks:  # later blocks reuse options() and answerer() from the first
        exec(compile(block, "docs/adapters.md", "exec"), namespace)
