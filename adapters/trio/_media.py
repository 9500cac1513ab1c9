"""One UDP socket per call for RTP/RTCP (rtcp-mux) under trio, from a configurable port range.

Only I/O lives here: every socket is in one epoll (:class:`~.._mediapump.MediaPump`) read by
one task, which hands each wake-up's datagrams (one per ready socket) to ``receive_many(batch,
now)`` (or ``receive(local, data, source, now)`` each) followed by one ``drain(now)`` (the
host's pump of both faces); what a core wants sent from a socket goes out with
:meth:`MediaSockets.send`. Which packets those are (RTP, SRTP, RTCP BYE before the socket
goes) is the core's business. Without epoll each socket has its own reading task.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable

import trio

from rvoip_sansio import Address, Transmit

from .._mediapump import Datagram, MediaPump
from ..blocking._socket import bind_udp_socket

__all__ = ["MediaSockets", "NoFreePort"]

log = logging.getLogger("rvoip_sansio.adapters.trio")


class NoFreePort(OSError):
    """Every port of the configured RTP range is taken."""


class MediaSockets:
    """The RTP sockets of a phone: :meth:`bind` one per call, :meth:`release` it at the end.

    ``ports=(low, high)`` binds in that inclusive range (round robin, skipping ports in use);
    None lets the kernel pick. ``on_error(local, dest, now)`` hears of a send the kernel
    refused (not of a full buffer, which is loss as on the wire). ``receive_many(batch, now)``,
    when given, takes a wake-up's datagrams at once instead of ``receive`` one by one.
    """

    def __init__(self, nursery: trio.Nursery, host: str, *,
                 receive: Callable[[Address, bytes, Address, float], object],
                 drain: Callable[[float], object],
                 on_error: Callable[[Address, Address, float], object] | None = None,
                 ports: tuple[int, int] | None = None, buffer_size: int | None = None,
                 receive_many: Callable[[list[Datagram], float], object] | None = None,
                 epoll: bool | None = None) -> None:
        if ports is not None and not 0 < ports[0] <= ports[1] <= 65535:
            raise ValueError(f"bad RTP port range {ports}")
        self.host = host
        self._nursery = nursery
        self._receive = receive
        self._receive_many = receive_many
        self._drain = drain
        self._on_error = on_error
        self._ports = ports
        self._buffer_size = buffer_size
        self._next = 0
        self._pump = MediaPump(on_error=self._refused, epoll=epoll)
        self._scopes: dict[Address, trio.CancelScope] = {}  # per-socket readers (no epoll)
        self._reader: trio.CancelScope | None = None  # the one epoll reader

    def __contains__(self, local: Address) -> bool:
        return local in self._pump

    def __len__(self) -> int:
        return len(self._pump)

    def bind(self) -> Address:
        """Bind a socket for one call and start reading it; returns its local address."""
        sock = self._bind()
        name = sock.getsockname()
        local: Address = (str(name[0]), int(name[1]))
        self._pump.add(local, sock)
        if self._pump.fileno is None:
            scope = self._scopes[local] = trio.CancelScope()
            self._nursery.start_soon(self._serve_one, sock, local, scope)
        elif self._reader is None:
            self._reader = trio.CancelScope()
            self._nursery.start_soon(self._serve, self._pump.fileno, self._reader)
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
        self._pump.send(local, data, dest)

    def send_many(self, datagrams: Iterable[tuple[Address, Transmit]]) -> None:
        """Send each ``(local socket, datagram)`` pair (gone sockets: dropped)."""
        self._pump.send_many(datagrams)

    def release(self, local: Address) -> None:
        """Stop reading and close the socket of ``local`` (the port binds again at once)."""
        sock = self._pump.get(local)
        if sock is None:
            return
        scope = self._scopes.pop(local, None)
        if scope is not None:
            scope.cancel()
            trio.lowlevel.notify_closing(sock)  # wakes its reader with ClosedResourceError
        self._pump.remove(local)

    def close(self) -> None:
        for local in self._pump.locals():
            self.release(local)
        if self._reader is not None:
            self._reader.cancel()
            fileno = self._pump.fileno
            if fileno is not None:
                trio.lowlevel.notify_closing(fileno)
        self._pump.close()

    async def _serve(self, fileno: int, scope: trio.CancelScope) -> None:
        """The one reader: wait for the epoll, read one datagram per ready socket, feed the
        batch, pump once."""
        with scope:
            try:
                while True:
                    await trio.lowlevel.wait_readable(fileno)
                    batch = self._pump.read()
                    if batch:
                        self._feed(batch)
            except (trio.ClosedResourceError, OSError) as exc:  # closed under us
                log.debug("RTP sockets' epoll: %s", exc)

    async def _serve_one(self, sock: socket.socket, local: Address, scope: trio.CancelScope) -> None:
        with scope:
            try:
                while self._pump.get(local) is sock:  # released (maybe before this task ran): done
                    batch: list[Datagram] = []
                    empty = self._pump.read_socket(local, batch)
                    if batch:
                        self._feed(batch)
                    if empty and self._pump.get(local) is sock:
                        await trio.lowlevel.wait_readable(sock)
                    else:
                        await trio.lowlevel.checkpoint()  # a full batch: let the timer in
            except (trio.ClosedResourceError, OSError) as exc:  # closed under us
                log.debug("RTP socket %s: %s", local, exc)

    def _feed(self, batch: list[Datagram]) -> None:
        """A batch of datagrams to the core, then one pump (media packets only fill the
        jitter buffer: nothing in between needs the pump)."""
        now = trio.current_time()
        if self._receive_many is not None:
            self._receive_many(batch, now)
        else:
            receive = self._receive
            for local, data, source in batch:
                receive(local, data, source, now)
        self._drain(now)

    def _refused(self, local: Address, dest: Address) -> None:
        on_error = self._on_error
        if on_error is not None:
            self._later(lambda t: on_error(local, dest, t))

    def _later(self, action: Callable[[float], object]) -> None:
        """An input after the current pump (never re-enter the core from inside it)."""
        async def later() -> None:
            await trio.lowlevel.checkpoint()
            now = trio.current_time()
            action(now)
            self._drain(now)

        self._nursery.start_soon(later)
