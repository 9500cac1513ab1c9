"""Run any sans-I/O datagram object on a plain UDP socket, for code without an event loop.

No protocol logic lives here: bytes from the socket go to ``core.receive`` with
``now = time.monotonic()``; after every input the shared :func:`rvoip_sansio.pump` sends what
the core produced and delivers its events; a ``selectors`` wait is bounded by
``core.next_deadline()``, which is the one timer.

Two ways to drive it:

* **background** (the default): a thread runs the selector loop; the caller reads events with
  ``next_event(timeout)`` or ``for event in endpoint.events()``, or gets them on that thread
  through ``on_event``. Every touch of the core holds one lock, so ``call()`` is safe from any
  thread.
* **caller-driven** (``background=False``): nothing runs until the caller calls
  ``poll(timeout)`` or ``next_event(timeout)``, which wait in the caller's thread.
"""

from __future__ import annotations

import collections
import logging
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

from rvoip_sansio import Address, Event, Transmit, pump

from rvoip_sansio._core import DatagramCore
from ._loop import Loop
from ._socket import bind_udp_socket, read_ready, send_datagram

__all__ = ["UdpEndpoint", "open_udp_endpoint", "DEFAULT_MAX_PENDING_EVENTS"]

log = logging.getLogger("rvoip_sansio.adapters.blocking")

T = TypeVar("T")

#: Events waiting for the application before the adapter stops reading its socket.
DEFAULT_MAX_PENDING_EVENTS = 1000

class UdpEndpoint:
    """A core on one UDP socket, driven by a selector loop (see the module docstring).

    Events go to ``on_event(event, now)`` when given (called with the core's lock held, so
    the callback may act on the core directly: what it produces is sent before the pump
    returns); else they wait in a queue for ``next_event``/``events``. At most
    ``max_pending_events`` wait: beyond that the adapter stops reading its socket until the
    application catches up (the kernel buffer then fills and drops, which UDP peers see as
    loss and retransmit). Events are never dropped or reordered by the adapter.

    An exception raised by ``on_event`` stops the loop; it is raised again to the caller by
    the next ``poll``/``next_event``/``call``/``close``.
    """

    def __init__(
        self,
        core: DatagramCore,
        sock: socket.socket,
        *,
        on_event: Callable[[Event, float], object] | None = None,
        max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS,
    ) -> None:
        if max_pending_events < 1:
            raise ValueError("max_pending_events must be at least 1")
        self.core = core
        self._sock = sock
        self._on_event = on_event
        self._max_pending = max_pending_events
        self._pending: collections.deque[Event] = collections.deque()
        self.local_address: Address = _address(sock.getsockname())
        self._loop = Loop(self._pump, core.handle_timeout, name=f"udp-{self.local_address[1]}")
        self._reading = False
        self._sync_reading()
        with self._loop.lock:
            self._loop.drain(time.monotonic())

    # ---- the application's side ------------------------------------------------------

    def start(self) -> UdpEndpoint:
        """Run the selector loop on a background thread (``open_udp_endpoint`` does it)."""
        self._loop.start()
        return self

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        return self._loop.call(action)

    def poll(self, timeout: float | None = None) -> None:
        """Caller-driven mode: wait up to ``timeout`` seconds for datagrams or the core's
        deadline (whichever is first) and process what is ready. ``None`` waits for input."""
        if self._loop.background:
            raise RuntimeError("poll() is for caller-driven endpoints; this one runs a thread")
        self._loop.check()
        self._loop.step(None if timeout is None else time.monotonic() + timeout)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: until one comes).

        Returns ``None`` on timeout, or once the endpoint is closed and nothing is left.
        """
        self._loop.wait(lambda: bool(self._pending), timeout)
        with self._loop.lock:
            if not self._pending:
                return None
            event = self._pending.popleft()
            self._sync_reading()
            return event

    def events(self) -> Iterator[Event]:
        """Every event, blocking between them, until the endpoint is closed."""
        while (event := self.next_event()) is not None:
            yield event

    def close(self) -> None:
        """Stop the loop (joining its thread), close the socket. Idempotent."""
        self._loop.close()
        self._sock.close()
        self._loop.check()

    def __enter__(self) -> UdpEndpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # the body's exception (a Ctrl-C, say) wins; ours is logged
            log.exception("error while closing after %r", exc)

    # ---- the loop side (lock held) -----------------------------------------------------

    def _pump(self, now: float) -> float | None:
        deadline = pump(self.core, now, self._send, self._deliver)
        self._sync_reading()
        return deadline

    def _read(self, mask: int) -> None:
        read_ready(self._sock, self.core, time.monotonic, self._loop.drain, self._has_room)

    def _has_room(self) -> bool:
        return not self._loop.closed and len(self._pending) < self._max_pending

    def _send(self, transmit: Transmit) -> None:
        send_datagram(self._sock, self.core, transmit, self._loop.now)

    def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event, self._loop.now)
        else:
            self._pending.append(event)

    def _sync_reading(self) -> None:
        """Read the socket only while the event queue has room (the backpressure policy)."""
        want = self._has_room()
        if want != self._reading:
            self._loop.watch(self._sock, selectors.EVENT_READ if want else 0, self._read)
            self._reading = want


def open_udp_endpoint(
    core: DatagramCore,
    local: Address,
    *,
    on_event: Callable[[Event, float], object] | None = None,
    background: bool = True,
    buffer_size: int | None = None,
    max_pending_events: int = DEFAULT_MAX_PENDING_EVENTS,
) -> UdpEndpoint:
    """Bind ``local`` and run ``core`` on it; use as ``with open_udp_endpoint(...) as ep:``.

    ``background=False`` leaves the driving to the caller (``poll``/``next_event``).
    """
    sock = bind_udp_socket(local, buffer_size)
    try:
        endpoint = UdpEndpoint(core, sock, on_event=on_event, max_pending_events=max_pending_events)
    except BaseException:
        sock.close()
        raise
    if background:
        endpoint.start()
    return endpoint


def _address(addr: tuple[str | object, ...]) -> Address:
    host, port = addr[0], addr[1]
    assert isinstance(host, str) and isinstance(port, int)
    return (host, port)
