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
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

from rvoip_sansio import Address, Event, Transmit, pump

from rvoip_sansio._core import DatagramCore
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
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # events queued, or endpoint closed
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._reading = False
        self._deadline: float | None = None
        self._now = 0.0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.local_address: Address = _address(sock.getsockname())
        self._sync_reading()
        with self._lock:
            self._drain(time.monotonic())

    # ---- the application's side ------------------------------------------------------

    def start(self) -> UdpEndpoint:
        """Run the selector loop on a background thread (``open_udp_endpoint`` does it)."""
        if self._thread is not None or self._closed:
            raise RuntimeError("endpoint already started or closed")
        self._thread = threading.Thread(target=self._run, name=f"rvoip-udp-{self.local_address[1]}", daemon=True)
        self._thread.start()
        return self

    def call(self, action: Callable[[float], T]) -> T:
        """Act on the core (``action(now)``), then send what it produced and re-arm the timer."""
        with self._lock:
            self._check()
            now = time.monotonic()
            result = action(now)
            self._drain(now)
        self._wake()
        return result

    def poll(self, timeout: float | None = None) -> None:
        """Caller-driven mode: wait up to ``timeout`` seconds for datagrams or the core's
        deadline (whichever is first) and process what is ready. ``None`` waits for input."""
        if self._thread is not None:
            raise RuntimeError("poll() is for caller-driven endpoints; this one runs a thread")
        self._check()
        self._step(None if timeout is None else time.monotonic() + timeout)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: until one comes).

        Returns ``None`` on timeout, or once the endpoint is closed and nothing is left.
        """
        until = None if timeout is None else time.monotonic() + timeout
        if self._thread is None:
            while not self._pending and not self._closed:
                self._check()
                if until is not None and time.monotonic() >= until:
                    break
                self._step(until)
            return self._take()
        with self._changed:
            while not self._pending and not self._closed:
                self._check()
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._take()

    def events(self) -> Iterator[Event]:
        """Every event, blocking between them, until the endpoint is closed."""
        while (event := self.next_event()) is not None:
            yield event

    def close(self) -> None:
        """Stop the loop (joining its thread), close the socket. Idempotent."""
        with self._changed:
            already = self._closed
            self._closed = True
            self._changed.notify_all()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if not already:
            self._selector.close()
            self._sock.close()
            self._wake_r.close()
            self._wake_w.close()
        self._check()

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

    # ---- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closed:
                self._step(None)
        except BaseException as exc:  # handed to the application's thread by _check
            with self._changed:
                self._error = exc
                self._changed.notify_all()

    def _step(self, until: float | None) -> None:
        """One wait on the selector, bounded by the core's deadline and ``until``."""
        with self._lock:
            deadline = self._deadline
        wake_at = deadline if until is None or (deadline is not None and deadline < until) else until
        timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
        ready = self._selector.select(timeout)
        if self._closed:
            return
        for key, _ in ready:
            if key.fileobj is self._wake_r:
                self._drain_wakeups()
            else:
                self._read()
        with self._lock:
            due = self._deadline
            if due is not None and not self._closed and time.monotonic() >= due:
                # The wait may end up to a clock tick early: clamp now to the deadline.
                now = max(due, time.monotonic())
                self.core.handle_timeout(now)
                self._drain(now)

    def _read(self) -> None:
        with self._lock:
            read_ready(self._sock, self.core, time.monotonic, self._drain, self._has_room)

    def _has_room(self) -> bool:
        return not self._closed and len(self._pending) < self._max_pending

    def _drain(self, now: float) -> None:
        """Pump the core (lock held) and keep the selector's interest and timer in step."""
        if self._closed:
            return
        self._now = now
        self._deadline = pump(self.core, now, self._send, self._deliver)
        self._sync_reading()

    def _send(self, transmit: Transmit) -> None:
        send_datagram(self._sock, self.core, transmit, self._now)

    def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event, self._now)
        else:
            self._pending.append(event)
            self._changed.notify_all()

    def _take(self) -> Event | None:
        with self._lock:
            if not self._pending:
                return None
            event = self._pending.popleft()
            was_full = not self._reading
            self._sync_reading()
        if was_full and self._reading:
            self._wake()
        return event

    def _sync_reading(self) -> None:
        """Read the socket only while the event queue has room (the backpressure policy)."""
        if self._closed:
            return  # the selector is (being) closed
        want = self._has_room()
        if want != self._reading:
            if want:
                self._selector.register(self._sock, selectors.EVENT_READ)
            else:
                self._selector.unregister(self._sock)
            self._reading = want

    def _wake(self) -> None:
        if self._thread is None:
            return
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed
            pass

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _check(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


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
