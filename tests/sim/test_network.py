"""The simulated network itself: clock, links, fates, callbacks, determinism and the ladder."""

from __future__ import annotations

from collections import deque

import attrs
import pytest

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.sim import Fate, LinkConfig, Network, Node, SimulationError, describe, ladder

A: Address = ("10.0.0.1", 4000)
B: Address = ("10.0.0.2", 4000)


@attrs.frozen(kw_only=True)
class Got(Event):
    data: bytes
    source: Address


class Echo:
    """A toy sans-I/O node: reports every datagram and echoes it back with a prefix."""

    def __init__(self, *, prefix: bytes = b"re:", period: float | None = None, peer: Address | None = None) -> None:
        self.out: list[Transmit] = []
        self.events: deque[Event] = deque()
        self.prefix = prefix
        self.period = period
        self.peer = peer
        self.deadline: float | None = 0.0 if period is not None else None
        self.ticks = 0

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.events.append(Got(data=data, source=source))
        if not data.startswith(self.prefix):
            self.out.append(Transmit(data=self.prefix + data, dest=source))

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out, self.out = self.out, []
        return out

    def next_event(self) -> Event | None:
        return self.events.popleft() if self.events else None

    def next_deadline(self) -> float | None:
        return self.deadline

    def handle_timeout(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline and self.period is not None:
            assert self.peer is not None
            self.ticks += 1
            self.out.append(Transmit(data=b"tick %d" % self.ticks, dest=self.peer))
            self.deadline = now + self.period if self.ticks < 100 else None


def test_delay_and_clock() -> None:
    net = Network(link=LinkConfig(delay=0.25))
    net.add_node("a", A, Echo(period=1.0, peer=B))
    net.add_node("b", B, Echo())
    net.run(until=2.5)
    got = [(t, e.data) for t, e in net.node("b").events]  # type: ignore[attr-defined]
    assert got == [(0.25, b"tick 1"), (1.25, b"tick 2"), (2.25, b"tick 3")]
    replies = [t for t, _ in net.node("a").events]
    assert replies == [0.5, 1.5, 2.5]  # things due exactly at `until` are processed
    assert net.now == 2.5


def test_same_seed_same_run_and_rates() -> None:
    link = LinkConfig(delay=0.01, jitter=0.02, loss=0.3, duplicate=0.1, reorder=0.1)

    def run(seed: int) -> list[tuple[float, bytes, Fate]]:
        net = Network(seed=seed, link=link)
        net.add_node("a", A, Echo(period=0.01, peer=B))
        net.add_node("b", B, Echo())
        net.run()
        return [(e.sent, e.data, e.fate) for e in net.trace]

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    ticks = [f for _, d, f in first if d.startswith(b"tick")]
    lost = sum(f is Fate.LOST for f in ticks) / sum(f is not Fate.DUPLICATE for f in ticks)
    assert 0.15 < lost < 0.45
    assert any(f is Fate.DUPLICATE for f in ticks)


def test_reordering_lets_later_datagrams_overtake() -> None:
    net = Network(seed=3, link=LinkConfig(delay=0.01, reorder=0.5, reorder_delay=0.05))
    net.add_node("a", A, Echo(period=0.01, peer=B))
    net.add_node("b", B, Echo())
    net.run()
    order = [int(e.data.split()[1]) for _, e in net.node("b").events]  # type: ignore[attr-defined]
    assert sorted(order) == list(range(1, 101))
    assert order != sorted(order)


def test_callbacks_play_the_application() -> None:
    seen: list[tuple[str, float]] = []

    def on_event(node: Node, event: Event, now: float) -> None:
        assert isinstance(event, Got)
        seen.append((node.name, now))
        if node.name == "b" and event.data == b"ping":
            node.endpoint.out.append(Transmit(data=b"pong", dest=A))  # type: ignore[attr-defined]

    net = Network(link=LinkConfig(delay=0.1))
    net.add_node("a", A, Echo(prefix=b""), on_event)  # an empty prefix: never echoes
    net.add_node("b", B, Echo(prefix=b""), on_event)
    net.at(1.0, lambda now: net.inject(b"ping", A, B))
    net.run()
    assert seen == [("b", 1.1), ("a", pytest.approx(1.2))]


def test_no_route_and_per_link_settings() -> None:
    net = Network(link=LinkConfig(delay=0.01))
    net.add_node("a", A, Echo())
    net.set_link(A, B, LinkConfig(delay=0.5), both_ways=False)
    net.inject(b"hello", A, ("10.9.9.9", 1))
    net.run()
    assert [e.fate for e in net.trace] == [Fate.NO_ROUTE]
    net.add_node("b", B, Echo())
    net.inject(b"x", A, B)
    net.run()
    assert net.trace[-2].arrival == pytest.approx(net.trace[-2].sent + 0.5)
    assert net.trace[-1].arrival == pytest.approx(net.trace[-1].sent + 0.01)  # b -> a default


def test_run_until_predicate() -> None:
    net = Network()
    b = net.add_node("b", B, Echo())
    net.add_node("a", A, Echo(period=1.0, peer=B))
    assert net.run_until(lambda: len(b.events) >= 3, timeout=10)
    assert net.now == pytest.approx(2.01)
    assert not net.run_until(lambda: False, timeout=1)


def test_a_node_that_never_settles_is_reported() -> None:
    class Busy(Echo):
        def next_deadline(self) -> float | None:
            return 0.0

    net = Network(max_steps=1000)
    net.add_node("busy", A, Busy())
    with pytest.raises(SimulationError):
        net.run()


def test_link_config_is_validated() -> None:
    with pytest.raises(ValueError):
        LinkConfig(loss=1.5)
    with pytest.raises(ValueError):
        LinkConfig(delay=-1)


def test_describe_labels() -> None:
    assert describe(b"INVITE sip:b@x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n") == "INVITE"
    assert describe(b"SIP/2.0 180 Ringing\r\n\r\n") == "180 Ringing"
    assert describe(bytes([0x80, 0x00, 0x12, 0x34]) + bytes(8)) == "RTP pt=0 seq=4660"
    assert describe(bytes([0x80, 200]) + bytes(26)) == "RTCP SR"
    assert describe(b"\x01\x02") == "2 bytes"


def test_ladder_drawing() -> None:
    net = Network(link=LinkConfig(delay=0.01))
    net.add_node("alice", A, Echo(prefix=b"SIP/2.0 200"))
    net.add_node("bob", B, Echo(prefix=b"SIP/2.0 200 OK\r\n"))
    net.inject(b"OPTIONS sip:bob SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", A, B)
    net.run()
    text = net.ladder(width=20)
    assert text.splitlines() == [
        "          alice               bob",
        "          10.0.0.1:4000       10.0.0.2:4000",
        "    0.000 |----- OPTIONS ---->|",
        "    0.010 |<---- 200 OK ------|",
    ]
    lost = ladder([attrs.evolve(e, fate=Fate.LOST) for e in net.trace[:1]], [("alice", A), ("bob", B)], width=20)
    assert lost.splitlines()[-1] == "    0.000 |----- OPTIONS ----x|"
