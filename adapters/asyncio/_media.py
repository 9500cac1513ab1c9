"""Small datagram-core wrappers the :class:`~._phone.Phone` puts on its sockets.

:class:`MediaSlot`: a call's RTP socket is bound before the SDP answer says which codec and
address to use, so the socket first carries an empty slot and the call's
:class:`~rvoip_sansio.callmedia.CallMedia` is plugged in once negotiated.
:class:`TracedCore`: any datagram core, with every datagram it sends reported to a callback
(the demo's ladder diagram). Neither contains protocol logic: they forward.
"""

from __future__ import annotations

from collections.abc import Callable

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.callmedia import CallMedia

from ._udp import DatagramCore

__all__ = ["MediaSlot", "TracedCore", "TraceHook"]


#: ``hook(now, source, destination, data)`` for every datagram a core sends.
TraceHook = Callable[[float, Address, Address, bytes], object]


class MediaSlot:
    """The datagram contract for one call's RTP socket; silent until :meth:`attach`."""

    __slots__ = ("media", "dropped")

    def __init__(self) -> None:
        self.media: CallMedia | None = None
        self.dropped = 0  # datagrams that came before the media was attached

    def attach(self, media: CallMedia) -> None:
        self.media = media

    def receive(self, data: bytes, source: Address, now: float) -> None:
        if self.media is None:
            self.dropped += 1
            return
        self.media.receive(data, source, now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        return self.media.datagrams_to_send(now) if self.media is not None else []

    def next_event(self) -> Event | None:
        return self.media.next_event() if self.media is not None else None

    def next_deadline(self) -> float | None:
        return self.media.next_deadline() if self.media is not None else None

    def handle_timeout(self, now: float) -> None:
        if self.media is not None:
            self.media.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        if self.media is not None:
            self.media.transport_error(dest, now)


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
