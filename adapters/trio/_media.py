"""One UDP socket per call for RTP/RTCP (rtcp-mux) under trio, from a configurable port range.

Only I/O lives here: each socket's datagrams go to ``receive(local, data, source, now)`` (the
phone core's media face) followed by ``drain(now)`` (the host's pump of both faces); what a
core wants sent from a socket goes out with :meth:`MediaSockets.send`. Which packets those are
(RTP, SRTP, RTCP BYE before the socket goes) is the core's business.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import trio

from rvoip_sansio import Address

from ..blocking._socket import READ_BATCH, bind_udp_socket

__all__ = ["MediaSockets", "NoFreePort"]

log = logging.getLogger("rvoip_sansio.adapters.trio")

_MAX_DATAGRAM = 65535


class NoFreePort(OSError):
    """Every port of the configured RTP range is taken."""


class MediaSockets:
    """The RTP sockets of a phone: :meth:`bind` one per call, :meth:`release` it at the end.

    ``ports=(low, high)`` binds in that inclusive range (round robin, skipping ports in use);
    None lets the kernel pick. ``on_error(local, dest, now)`` hears of a send the kernel
    refused (not of a full buffer, which is loss as on the wire).
    """

    def __init__(self, nursery: trio.Nursery, host: str, *,
                 receive: Callable[[Address, bytes, Address, float], object],
                 drain: Callable[[float], object],
                 on_error: Callable[[Address, Address, float], object] | None = None,
                 ports: tuple[int, int] | None = None, buffer_size: int | None = None) -> None:
        if ports is not None and not 0 < ports[0] <= ports[1] <= 65535:
            raise ValueError(f"bad RTP port range {ports}")
        self.host = host
        self._nursery = nursery
        self._receive = receive
        self._drain = drain
        self._on_error = on_error
        self._ports = ports
        self._buffer_size = buffer_size
        self._next = 0
        self._socks: dict[Address, tuple[socket.socket, trio.CancelScope]] = {}

    def __contains__(self, local: Address) -> bool:
        return local in self._socks

    def __len__(self) -> int:
        return len(self._socks)

    def bind(self) -> Address:
        """Bind a socket for one call and start reading it; returns its local address."""
        sock = self._bind()
        name = sock.getsockname()
        local: Address = (str(name[0]), int(name[1]))
        scope = trio.CancelScope()
        self._socks[local] = (sock, scope)
        self._nursery.start_soon(self._serve, sock, local, scope)
        return local

    def _bind(self) -> socket.socket:
        if self._ports is None:
            return bind_udp_socket((self.host, 0), self._buffer_size)
        low, high = self._ports
        count = high - low + 1
        for i in range(count):
            port = low + (self._next + i) % count
            try:
                sock = bind_udp_socket((self.host, port), self._buffer_size)
            except OSError:
                continue
            self._next = (port - low + 1) % count
            return sock
        raise NoFreePort(f"no free RTP port in {low}-{high} on {self.host}")

    def send(self, local: Address, data: bytes, dest: Address, now: float) -> None:
        """Send one datagram from the socket bound at ``local`` (gone: dropped)."""
        entry = self._socks.get(local)
        if entry is None:
            log.debug("media datagram from released socket %s dropped", local)
            return
        try:
            entry[0].sendto(data, dest)
        except BlockingIOError:
            log.debug("RTP send buffer full, datagram to %s dropped", dest)
        except OSError as exc:
            log.debug("RTP send from %s to %s failed: %s", local, dest, exc)
            on_error = self._on_error
            if on_error is not None:
                self._later(lambda t: on_error(local, dest, t))

    def release(self, local: Address) -> None:
        """Stop reading and close the socket of ``local`` (the port binds again at once)."""
        entry = self._socks.pop(local, None)
        if entry is not None:
            entry[1].cancel()
            trio.lowlevel.notify_closing(entry[0])  # wakes the reader with ClosedResourceError
            entry[0].close()

    def close(self) -> None:
        for local in list(self._socks):
            self.release(local)

    async def _serve(self, sock: socket.socket, local: Address, scope: trio.CancelScope) -> None:
        with scope:
            try:
                while True:
                    if self._read(sock, local):
                        await trio.lowlevel.wait_readable(sock)
                    else:
                        await trio.lowlevel.checkpoint()  # a full batch: let the timer in
            except (trio.ClosedResourceError, OSError) as exc:  # closed under us
                log.debug("RTP socket %s: %s", local, exc)
            finally:
                if local not in self._socks:
                    sock.close()

    def _read(self, sock: socket.socket, local: Address) -> bool:
        """Feed up to a batch of datagrams, then pump once (media packets only fill the
        jitter buffer: nothing in between needs the pump); True when the socket was empty."""
        now: float | None = None
        empty = False
        for _ in range(READ_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                empty = True
                break
            except OSError as exc:  # an ICMP error queued on the socket
                log.debug("RTP receive error on %s: %s", local, exc)
                continue
            now = trio.current_time()
            self._receive(local, data, (str(addr[0]), int(addr[1])), now)
        if now is not None:
            self._drain(now)
        return empty

    def _later(self, action: Callable[[float], object]) -> None:
        """An input after the current pump (never re-enter the core from inside it)."""
        async def later() -> None:
            await trio.lowlevel.checkpoint()
            now = trio.current_time()
            action(now)
            self._drain(now)

        self._nursery.start_soon(later)
