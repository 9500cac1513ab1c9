"""The SIP face of an object built around a :class:`~rvoip_sansio.dialog.UserAgent`.

:class:`UAForwarding` passes the datagram contract (``receive``, ``datagrams_to_send``,
``transport_error``) and the connection-oriented contract (``add_transport``,
``connection_made``, ``data_received``, ``connection_lost``, ``close_connections``; see
docs/transports.md) through to ``self.ua`` and then lets the owner react to what the UA did
(``_process(now)``), so the phone core and the B2BUA are ``DatagramCore`` and ``StreamCore``
alike and the adapters' transport hosts run them unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core import Address, Transmit

if TYPE_CHECKING:
    from ._ua import UserAgent

__all__ = ["UAForwarding"]


class UAForwarding:
    """Mixin: the owner sets ``ua`` and defines ``_process(now)`` (drain the UA's events)."""

    __slots__ = ()

    ua: UserAgent

    def _process(self, now: float) -> None:
        raise NotImplementedError

    # ---- datagrams -----------------------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.ua.receive(data, source, now)
        self._process(now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        """The UA's SIP datagrams (an owner with media has its own face for those)."""
        return self.ua.datagrams_to_send(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.ua.transport_error(dest, now)
        self._process(now)

    # ---- connection-oriented transports (TCP, TLS, WS) -----------------------------------

    def add_transport(self, transport: str, local: Address) -> None:
        self.ua.add_transport(transport, local)

    def connection_made(self, peer: Address, transport: str, now: float) -> None:
        self.ua.connection_made(peer, transport, now)
        self._process(now)

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None:
        self.ua.data_received(peer, transport, data, now)
        self._process(now)

    def connection_lost(self, peer: Address, transport: str, now: float) -> None:
        self.ua.connection_lost(peer, transport, now)
        self._process(now)

    def close_connections(self, now: float) -> None:
        self.ua.close_connections(now)
        self._process(now)
