"""The RTP sockets of a phone behind one readiness source, shared by the three adapters.

Every call has its own UDP socket (RTP and RTCP muxed). Watching each one separately costs a
loop callback, a protocol object and a pump of the core per datagram; here every socket is
registered in one level-triggered ``select.epoll``, so the host waits on that one descriptor
(asyncio ``loop.add_reader``, trio ``wait_readable``, the blocking selector loop), and one
wake-up reads one datagram from each ready socket with a plain ``recvfrom`` (a socket still
holding more stays ready: the next wake-up reads on; no read ever ends in EAGAIN), hands the
whole batch to the core at once, and the host pumps the core once. What the core wants sent
goes out with ``sock.sendto`` (no transport objects in between).

Where ``select.epoll`` is missing (not Linux), :attr:`MediaPump.fileno` is None and the host
watches each socket itself (:meth:`MediaPump.sockets`), reading with :meth:`read_socket`.

Only I/O lives here: which datagrams those are, and what they mean, is the core's business.
"""

from __future__ import annotations

import logging
import select
import socket
from collections.abc import Callable, Iterable, Iterator

from rvoip_sansio import Address, Transmit

__all__ = ["Datagram", "MediaPump", "READ_BATCH"]

log = logging.getLogger("rvoip_sansio.adapters")

#: ``(local socket address, data, source)``: one received media datagram.
Datagram = tuple[Address, bytes, Address]

#: Datagrams read from one socket per wake-up (the per-socket fallback here, the SIP UDP
#: sockets in blocking/_socket.py) before timers and other tasks get a turn.
READ_BATCH = 64
_MAX_DATAGRAM = 65535
_EPOLLIN = getattr(select, "EPOLLIN", 1)
#: Whether new pumps use epoll (where it exists); False: the hosts watch each socket.
USE_EPOLL = hasattr(select, "epoll")


class MediaPump:
    """The RTP sockets of one phone: :meth:`add` / :meth:`remove` (closes), :meth:`read`
    every ready one, :meth:`send` from one.

    ``on_error(local, dest)`` hears of a send the kernel refused (not of a full buffer, which
    is loss as on the wire); the host reports it to the core *after* its current pump.
    ``epoll=False`` forces the per-socket fallback (default: :data:`USE_EPOLL`).
    """

    __slots__ = ("_epoll", "_by_fd", "_by_local", "_on_error", "closed")

    def __init__(self, *, on_error: Callable[[Address, Address], object] | None = None,
                 epoll: bool | None = None) -> None:
        use = USE_EPOLL if epoll is None else epoll and hasattr(select, "epoll")
        self._epoll: select.epoll | None = select.epoll() if use else None
        self._by_fd: dict[int, tuple[socket.socket, Address]] = {}
        self._by_local: dict[Address, socket.socket] = {}
        self._on_error = on_error
        self.closed = False

    # ---- the sockets ----------------------------------------------------------------------

    @property
    def fileno(self) -> int | None:
        """The one descriptor to wait on (readable when any socket is), or None: watch each
        socket of :meth:`sockets` instead."""
        return self._epoll.fileno() if self._epoll is not None and not self.closed else None

    def add(self, local: Address, sock: socket.socket) -> None:
        """Watch ``sock`` (non-blocking, bound at ``local``) from now on."""
        if self.closed:
            sock.close()
            raise OSError("the media sockets are closed")
        self._by_local[local] = sock
        self._by_fd[sock.fileno()] = (sock, local)
        if self._epoll is not None:
            self._epoll.register(sock.fileno(), _EPOLLIN)

    def remove(self, local: Address) -> socket.socket | None:
        """Stop watching the socket at ``local`` and close it (the port binds again at once);
        returns it (closed), or None when there was none. Per-socket watchers must have
        stopped watching it first."""
        sock = self._by_local.pop(local, None)
        if sock is None:
            return None
        fd = sock.fileno()
        self._by_fd.pop(fd, None)
        if self._epoll is not None and fd >= 0:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass
        sock.close()
        return sock

    def __contains__(self, local: object) -> bool:
        return local in self._by_local

    def __len__(self) -> int:
        return len(self._by_local)

    def locals(self) -> tuple[Address, ...]:
        return tuple(self._by_local)

    def sockets(self) -> Iterator[tuple[Address, socket.socket]]:
        return iter(list(self._by_local.items()))

    def get(self, local: Address) -> socket.socket | None:
        return self._by_local.get(local)

    def close(self) -> None:
        """Close every socket and the epoll descriptor."""
        for local in list(self._by_local):
            self.remove(local)
        self.closed = True
        if self._epoll is not None:
            self._epoll.close()

    # ---- receive --------------------------------------------------------------------------

    def read(self) -> list[Datagram]:
        """One datagram from each socket that is ready now (epoll only; none blocks)."""
        ep = self._epoll
        if ep is None or self.closed:
            return []
        out: list[Datagram] = []
        by_fd = self._by_fd
        for fd, _ in ep.poll(0, max(len(by_fd), 1)):
            entry = by_fd.get(fd)
            if entry is None:
                continue
            sock, local = entry
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                continue
            except OSError as exc:  # an ICMP error queued on the socket
                log.debug("RTP receive error on %s: %s", local, exc)
                continue
            # AF_INET gives (host, port) as is; AF_INET6 adds flow info and scope id.
            out.append((local, data, addr if len(addr) == 2 else (addr[0], addr[1])))
        return out

    def read_socket(self, local: Address, out: list[Datagram]) -> bool:
        """The per-socket fallback: append up to :data:`READ_BATCH` datagrams waiting on the
        socket at ``local`` to ``out``; True when it was found empty (or is gone)."""
        sock = self._by_local.get(local)
        if sock is None:
            return True
        for _ in range(READ_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                return True
            except OSError as exc:
                log.debug("RTP receive error on %s: %s", local, exc)
                continue
            out.append((local, data, addr if len(addr) == 2 else (addr[0], addr[1])))
        return False

    # ---- send -----------------------------------------------------------------------------

    def send(self, local: Address, data: bytes, dest: Address) -> None:
        """Send one datagram from the socket at ``local`` (gone: dropped)."""
        sock = self._by_local.get(local)
        if sock is None:
            log.debug("media datagram from released socket %s dropped", local)
            return
        try:
            sock.sendto(data, dest)
        except OSError as exc:
            self._refused(local, dest, exc)

    def send_many(self, datagrams: Iterable[tuple[Address, Transmit]]) -> None:
        """:meth:`send` each ``(local socket, datagram)`` pair (what the core's media face
        gives back), in one call: one tick sends a datagram on every call."""
        by_local = self._by_local
        for local, transmit in datagrams:
            sock = by_local.get(local)
            if sock is None:
                log.debug("media datagram from released socket %s dropped", local)
                continue
            try:
                sock.sendto(transmit.data, transmit.dest)
            except OSError as exc:
                self._refused(local, transmit.dest, exc)

    def _refused(self, local: Address, dest: Address, exc: OSError) -> None:
        if isinstance(exc, BlockingIOError):  # a full buffer: loss, as on the wire
            log.debug("RTP send buffer full on %s: datagram to %s dropped", local, dest)
            return
        log.debug("RTP send from %s to %s failed: %s", local, dest, exc)
        if self._on_error is not None:
            self._on_error(local, dest)
