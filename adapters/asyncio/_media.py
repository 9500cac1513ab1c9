"""Tracing: :data:`TraceHook` (the ``Phone``'s ``trace``/``media_trace``) and
:class:`TracedCore`, any datagram core with every datagram it sends reported to a callback
(the demo's ladder diagram). No protocol logic: it forwards.
"""

from __future__ import annotations

from collections.abc import Callable

from rvoip_sansio import Address, Event, Transmit

from ._udp import DatagramCore

__all__ = ["TracedCore", "TraceHook"]


#: ``hook(now, source, destination, data)`` for every datagram a core sends.
TraceHook = Callable[[float, Address, Address, bytes], object]


class TracedCore:
    """``core`` unchanged, with each datagram it sends from ``local`` passed to ``hook``."""

    __slots__ = ("core", "local", "hook")

    def __init__(self, core: DatagramCore, local: Address, hook: TraceHook) -> None:
        self.core = core
        self.local = local
        self.hook = hook

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.core.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out = self.core.datagrams_to_send(now)
        for t in out:
            self.hook(now, self.local, t.dest, t.data)
        return out

    def next_event(self) -> Event | None:
        return self.core.next_event()

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.core.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.core.transport_error(dest, now)
