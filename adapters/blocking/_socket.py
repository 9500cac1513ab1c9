"""Plain non-blocking UDP socket steps shared by the blocking and trio adapters.

Only I/O lives here (bind, read what is ready, send one datagram); what the bytes mean is the
core's business.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from rvoip_sansio import Address, Transmit

from rvoip_sansio._core import DatagramCore

from .._mediapump import _MAX_DATAGRAM, READ_BATCH

__all__ = ["bind_udp_socket", "read_ready", "send_datagram"]

log = logging.getLogger("rvoip_sansio.adapters")



def bind_udp_socket(local: Address, buffer_size: int | None = None) -> socket.socket:
    """A non-blocking UDP socket bound to ``local`` (port 0 picks a free one).

    ``buffer_size`` sets the kernel receive and send buffers (bytes), for bursts under load.
    """
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if buffer_size is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
        sock.bind(local)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def read_ready(
    sock: socket.socket,
    core: DatagramCore,
    clock: Callable[[], float],
    drain: Callable[[float], None],
    room: Callable[[], bool],
) -> bool:
    """Feed the datagrams waiting on ``sock`` to ``core`` (at most :data:`READ_BATCH`, and
    only while ``room()`` says the application keeps up), draining after each one.

    True when the socket was found empty (wait for readiness before the next read)."""
    for _ in range(READ_BATCH):
        if not room():
            return False
        try:
            data, addr = sock.recvfrom(_MAX_DATAGRAM)
        except BlockingIOError:
            return True
        except OSError as exc:  # e.g. an ICMP error queued on the socket
            log.debug("UDP receive error: %s", exc)
            continue
        now = clock()
        core.receive(data, (str(addr[0]), int(addr[1])), now)
        drain(now)
    return False


def send_datagram(sock: socket.socket, core: DatagramCore, transmit: Transmit, now: float) -> None:
    """Send one datagram; a failure other than a full buffer goes back to the core."""
    try:
        sock.sendto(transmit.data, transmit.dest)
    except BlockingIOError:
        # A full send buffer is loss on a datagram path: peers retransmit as on the wire.
        log.debug("send buffer full, datagram to %s dropped", transmit.dest)
    except OSError as exc:
        log.debug("send to %s failed: %s", transmit.dest, exc)
        core.transport_error(transmit.dest, now)
