"""A deterministic simulated network: a clock, nodes, lossy links, and a trace.

Any sans-I/O object that keeps the project contract (``receive(data, source, now)``,
``datagrams_to_send(now)``, ``next_event()``, ``next_deadline()``, ``handle_timeout(now)``)
runs here as a node. Time is simulated: a 32-second SIP timer costs nothing to wait for, and
the same seed gives the same run, datagram for datagram.
"""

from __future__ import annotations

import enum
import heapq
import random
from typing import Callable

import attrs

from .._core import Address, DatagramNode, Event, RvoipError, Transmit, pump

__all__ = [
    "Endpointish",
    "LinkConfig",
    "Fate",
    "TraceEntry",
    "Node",
    "Network",
    "SimulationError",
    "EventCallback",
]


#: What a node must provide: the datagram side of the sans-I/O contract.
Endpointish = DatagramNode


class SimulationError(RvoipError):
    """The simulation cannot go on (a node that never stops asking for timeouts, ...)."""


@attrs.frozen(kw_only=True)
class LinkConfig:
    """How one direction of a link treats datagrams. Probabilities are per datagram.

    ``delay`` is the one-way latency; ``jitter`` adds a uniform random ``[0, jitter)``;
    ``loss`` drops; ``duplicate`` delivers a second copy (with its own delay); ``reorder``
    holds a datagram back by an extra ``reorder_delay`` so that later ones overtake it.
    """

    delay: float = 0.01
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.05

    def __attrs_post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"LinkConfig.{name} must be a probability, got {p}")
        if self.delay < 0 or self.jitter < 0 or self.reorder_delay < 0:
            raise ValueError("LinkConfig delays must not be negative")


class Fate(enum.Enum):
    """What happened to one datagram on the wire."""

    DELIVERED = "delivered"
    LOST = "lost"
    DUPLICATE = "duplicate"  # the extra copy of a duplicated datagram
    NO_ROUTE = "no route"  # nobody listens at the destination


@attrs.frozen(kw_only=True)
class TraceEntry:
    """One datagram seen by the network: who sent what to whom, when, and its fate."""

    sent: float
    arrival: float | None
    src: Address
    dst: Address
    src_name: str
    dst_name: str
    data: bytes
    fate: Fate


EventCallback = Callable[["Node", Event, float], object]


@attrs.define(slots=True, eq=False)
class Node:
    """One sans-I/O object at one address, with the events it reported (time, event)."""

    name: str
    address: Address
    endpoint: Endpointish
    on_event: EventCallback | None = None
    events: list[tuple[float, Event]] = attrs.field(factory=list)
    deadline: float | None = None


@attrs.frozen(slots=True)
class _Delivery:
    dst: Address
    src: Address
    data: bytes


# A scheduled thing: a datagram arriving, a node's deadline, or a test's action.
_Payload = _Delivery | Node | Callable[[float], object]


class Network:
    """Nodes, links and a simulated clock.

    ``run()`` advances time from one scheduled thing to the next (a datagram arriving, a
    node's deadline, a scheduled call) and stops when nothing is left or at ``until``.
    After every input the node is drained with :func:`rvoip_sansio.pump`; events go to the
    node's ``on_event(node, event, now)`` callback (where a test plays the application), and
    every node is drained again after a callback so that reactions on any node go out at once.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        link: LinkConfig | None = None,
        start: float = 0.0,
        max_steps: int = 5_000_000,
        record_trace: bool = True,
    ) -> None:
        self.now = start
        #: keep every datagram in ``trace`` (turn off for long media runs)
        self.record_trace = record_trace
        self.rng = random.Random(seed)
        self.default_link = link if link is not None else LinkConfig()
        self.trace: list[TraceEntry] = []
        self.nodes: list[Node] = []
        self._by_address: dict[Address, Node] = {}
        self._links: dict[tuple[Address, Address], LinkConfig] = {}
        self._queue: list[tuple[float, int, _Payload]] = []
        self._seq = 0
        self._steps = 0
        self._max_steps = max_steps
        self._dirty = False

    # -- building ------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        address: Address,
        endpoint: Endpointish,
        on_event: EventCallback | None = None,
    ) -> Node:
        if address in self._by_address:
            raise ValueError(f"address {address} is already taken by {self._by_address[address].name}")
        node = Node(name=name, address=address, endpoint=endpoint, on_event=on_event)
        self.nodes.append(node)
        self._by_address[address] = node
        self._drain(node)
        return node

    def set_link(self, a: Address, b: Address, config: LinkConfig, *, both_ways: bool = True) -> None:
        """Configure the path ``a -> b`` (and ``b -> a`` unless ``both_ways`` is false)."""
        self._links[(a, b)] = config
        if both_ways:
            self._links[(b, a)] = config

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    # -- acting --------------------------------------------------------------------------

    def at(self, when: float, action: Callable[[float], object]) -> None:
        """Run ``action(now)`` at simulated time ``when`` (e.g. the app placing a call)."""
        self._push(max(when, self.now), action)

    def poke(self, node: Node) -> None:
        """Drain a node after the test called one of its methods directly."""
        self._drain(node)

    def inject(self, data: bytes, source: Address, dest: Address) -> None:
        """Put a raw datagram on the wire from any address (a fake or hostile peer)."""
        self._transmit(source, Transmit(data=data, dest=dest))

    # -- running -------------------------------------------------------------------------

    def run(self, until: float | None = None) -> float:
        """Process everything scheduled up to ``until`` (or until quiet); returns ``now``."""
        while self._queue:
            when = self._queue[0][0]
            if until is not None and when > until:
                break
            self._step()
        if until is not None and until > self.now:
            self.now = until
        return self.now

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout`` seconds of simulated time pass."""
        limit = self.now + timeout
        while not predicate():
            if not self._queue or self._queue[0][0] > limit:
                self.now = max(self.now, limit)
                return predicate()
            self._step()
        return True

    def events(self, name: str) -> list[Event]:
        return [e for _, e in self.node(name).events]

    def ladder(
        self,
        *,
        width: int = 28,
        start: float | None = None,
        end: float | None = None,
        show_lost: bool = True,
    ) -> str:
        """The trace as a ladder diagram (see :func:`rvoip_sansio.sim.ladder`)."""
        from ._ladder import ladder

        nodes = [(n.name, n.address) for n in self.nodes]
        return ladder(self.trace, nodes, width=width, start=start, end=end, show_lost=show_lost)

    # -- internals -----------------------------------------------------------------------

    def _push(self, when: float, payload: _Payload) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, payload))

    def _step(self) -> None:
        self._steps += 1
        if self._steps > self._max_steps:
            raise SimulationError(f"more than {self._max_steps} steps at t={self.now}")
        when, _, payload = heapq.heappop(self._queue)
        self.now = max(self.now, when)
        now = self.now
        if isinstance(payload, _Delivery):
            node = self._by_address.get(payload.dst)
            if node is not None:
                node.endpoint.receive(payload.data, payload.src, now)
                self._drain(node)
        elif isinstance(payload, Node):
            node = payload
            if node.deadline != when:
                return  # stale: the node's deadline moved since this entry was pushed
            node.deadline = None
            node.endpoint.handle_timeout(now)
            self._drain(node)
        else:
            assert callable(payload)
            payload(now)
            self._dirty = True
        if self._dirty:
            self._drain_all()

    def _drain_all(self) -> None:
        # Callbacks may act on any node; drain them all until nothing more comes out.
        rounds = 0
        while self._dirty:
            self._dirty = False
            rounds += 1
            if rounds > 1000:
                raise SimulationError("event callbacks keep producing work at one instant")
            for node in self.nodes:
                self._drain(node)

    def _drain(self, node: Node) -> None:
        def send(transmit: Transmit) -> None:
            self._transmit(node.address, transmit)

        def deliver(event: Event) -> None:
            node.events.append((self.now, event))
            if node.on_event is not None:
                node.on_event(node, event, self.now)
                self._dirty = True

        deadline = pump(node.endpoint, self.now, send, deliver)
        if deadline is not None:
            deadline = max(deadline, self.now)
        if deadline != node.deadline:
            node.deadline = deadline
            if deadline is not None:
                self._push(deadline, node)

    def _name(self, address: Address) -> str:
        node = self._by_address.get(address)
        return node.name if node is not None else f"{address[0]}:{address[1]}"

    def _transmit(self, src: Address, transmit: Transmit) -> None:
        dst = transmit.dest
        data = bytes(transmit.data)
        link = self._links.get((src, dst), self.default_link)
        rng = self.rng
        now = self.now
        # Draw every random number for this datagram, always in the same order, so that one
        # link's settings never shift another datagram's fate.
        lost = rng.random() < link.loss
        dup = rng.random() < link.duplicate
        late = rng.random() < link.reorder
        delay = link.delay + rng.random() * link.jitter + (link.reorder_delay if late else 0.0)
        dup_delay = link.delay + rng.random() * link.jitter
        src_name, dst_name = self._name(src), self._name(dst)
        if dst not in self._by_address:
            fate = Fate.NO_ROUTE
        else:
            fate = Fate.LOST if lost else Fate.DELIVERED
        arrival = now + delay if fate is Fate.DELIVERED else None
        record = self.record_trace
        if record:
            self.trace.append(TraceEntry(
                sent=now, arrival=arrival, src=src, dst=dst, src_name=src_name,
                dst_name=dst_name, data=data, fate=fate,
            ))
        if arrival is not None:
            self._push(arrival, _Delivery(dst, src, data))
        if dup and fate is not Fate.NO_ROUTE:
            if record:
                self.trace.append(TraceEntry(
                    sent=now, arrival=now + dup_delay, src=src, dst=dst, src_name=src_name,
                    dst_name=dst_name, data=data, fate=Fate.DUPLICATE,
                ))
            self._push(now + dup_delay, _Delivery(dst, src, data))
