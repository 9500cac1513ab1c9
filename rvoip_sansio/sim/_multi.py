"""A node with several sockets on the simulated network: one primary (SIP) address and any
number of extra (media) addresses bound and released while it runs.

The core must keep the :class:`~rvoip_sansio.phone.PhoneCore` shape: the usual contract for
its primary socket, plus ``media_receive(local, data, source, now)`` and
``media_datagrams_to_send(now) -> [(local, Transmit)]`` for the others. Every datagram is
sent from the socket the core names, so the trace and the ladder show real addresses.
"""

from __future__ import annotations

from typing import Protocol

from .._core import Address, Event, Transmit
from ._network import EventCallback, Network, Node

__all__ = ["MultiSocketCore", "MultiSocketNode"]


class MultiSocketCore(Protocol):
    def receive(self, data: bytes, source: Address, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[Transmit]: ...
    def next_event(self) -> Event | None: ...
    def next_deadline(self) -> float | None: ...
    def handle_timeout(self, now: float) -> None: ...
    def media_receive(self, local: Address, data: bytes, source: Address, now: float) -> None: ...
    def media_datagrams_to_send(self, now: float) -> list[tuple[Address, Transmit]]: ...


class _Primary:
    """The primary socket: the whole core's events and deadline, and every datagram (those of
    the other sockets are put on the wire from their own address)."""

    def __init__(self, owner: MultiSocketNode) -> None:
        self.owner = owner

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.owner.core.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        core, net = self.owner.core, self.owner.net
        for local, t in core.media_datagrams_to_send(now):
            net.inject(bytes(t.data), local, t.dest)
        return core.datagrams_to_send(now)

    def next_event(self) -> Event | None:
        return self.owner.core.next_event()

    def next_deadline(self) -> float | None:
        return self.owner.core.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.owner.core.handle_timeout(now)


class _Socket:
    """An extra socket: what arrives goes to ``media_receive``; the primary is drained."""

    def __init__(self, owner: MultiSocketNode, local: Address) -> None:
        self.owner = owner
        self.local = local
        self.open = True

    def receive(self, data: bytes, source: Address, now: float) -> None:
        if self.open:
            self.owner.core.media_receive(self.local, data, source, now)
            self.owner.net.poke(self.owner.node)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        return []

    def next_event(self) -> Event | None:
        return None

    def next_deadline(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass


class MultiSocketNode:
    """Put a multi-socket core on ``net``: ``bind()`` an extra socket (a port from
    ``first_port`` up in steps of 2, or the address given) and ``release(local)`` it."""

    def __init__(self, net: Network, name: str, address: Address, core: MultiSocketCore, *,
                 on_event: EventCallback | None = None, first_port: int = 40000) -> None:
        self.net = net
        self.name = name
        self.core = core
        self._next_port = first_port
        self.sockets: dict[Address, Node] = {}
        self.node = net.add_node(name, address, _Primary(self), on_event=on_event)

    @property
    def events(self) -> list[tuple[float, Event]]:
        return self.node.events

    def bind(self, local: Address | None = None) -> Address:
        if local is None:
            while (self.node.address[0], self._next_port) in self.sockets:
                self._next_port += 2
            local = (self.node.address[0], self._next_port)
            self._next_port += 2
        n = len(self.sockets) + 1
        self.sockets[local] = self.net.add_node(f"{self.name}.{n}", local, _Socket(self, local))
        return local

    def release(self, local: Address) -> None:
        """Stop receiving on ``local`` (datagrams to it are then dropped as if unreachable)."""
        node = self.sockets.get(local)
        if node is not None:
            assert isinstance(node.endpoint, _Socket)
            node.endpoint.open = False
