"""The selector loop shared by the blocking hosts (SIP transports, the phone).

One ``selectors`` selector, one re-entrant lock around every touch of the core, one timer
(the core's ``next_deadline()``, plus the few adapter timers such as connect timeouts), a
wake-up socket pair, and two ways to run: a background thread, or the caller's thread through
:meth:`Loop.wait`. What the sockets carry and what the core is are the owner's business: the
owner gives a ``drain(now) -> next deadline`` (the shared pump plus its sends) and a
``timeout(now)`` (``core.handle_timeout``).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Loop", "Handler", "Timer"]

_BUSY = -1.0  # Loop._sleeping_until while the loop thread is not waiting in select

log = logging.getLogger("rvoip_sansio.adapters.blocking")

T = TypeVar("T")

#: ``handler(mask)`` for a socket that is ready (``selectors.EVENT_READ | EVENT_WRITE`` bits).
Handler = Callable[[int], object]


class Timer:
    """An adapter timer made by :meth:`Loop.call_at`; ``cancel()`` it when no longer wanted."""

    __slots__ = ("when", "action", "cancelled")

    def __init__(self, when: float, action: Callable[[float], object]) -> None:
        self.when, self.action, self.cancelled = when, action, False

    def cancel(self) -> None:
        self.cancelled = True


class Loop:
    """Runs the owner's core: every input through :meth:`call`, one timer, sockets by handler.

    Handlers, timers and ``drain`` run with :attr:`lock` held. A :meth:`call` made while a
    drain is running (from an event callback) runs at once and makes that drain go round
    again, so nothing the callback produced waits for the next input. :meth:`later` queues an
    input for right after the current drain (reports found while sending: a core is never
    re-entered from inside its own pump). An exception escaping a handler or the drain stops
    the loop; :meth:`check` (called by ``call``/``wait``/``close``) raises it in the caller.
    """

    def __init__(self, drain: Callable[[float], float | None], timeout: Callable[[float], object], *,
                 name: str) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified after every drain and on close
        self.now = 0.0
        self.closed = False
        self.name = name
        self._drain_fn = drain
        self._timeout_fn = timeout
        self._selector = selectors.DefaultSelector()
        self._handlers: dict[socket.socket | int, Handler] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._deadline: float | None = None
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._later: collections.deque[Callable[[float], object]] = collections.deque()
        self._draining = False
        self._again = False
        self._touched = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: When the background thread's current select ends on its own (None: only on input);
        #: _BUSY while it is not waiting. An input from another thread wakes it only when its
        #: timer moved earlier than that (an audio write every 20 ms per call costs no wake-up).
        self._sleeping_until: float | None = _BUSY
        self._wake_sent = False

    # ---- the owner's side ---------------------------------------------------------------

    @property
    def background(self) -> bool:
        return self._thread is not None

    @property
    def draining(self) -> bool:
        """True inside the owner's drain (an input now must go through :meth:`later`)."""
        return self._draining

    def start(self) -> None:
        """Run on a daemon thread (``rvoip-NAME``) until :meth:`close`."""
        if self._thread is not None or self.closed:
            raise RuntimeError("loop already started or closed")
        self._thread = threading.Thread(target=self._run, name=f"rvoip-{self.name}", daemon=True)
        self._thread.start()

    def watch(self, sock: socket.socket | int, mask: int, handler: Handler) -> None:
        """Call ``handler(ready_mask)`` when ``sock`` (a socket or a descriptor, such as an
        epoll's) is ready for ``mask`` (0: stop watching)."""
        with self.lock:
            if self.closed:
                return
            known = sock in self._handlers
            if mask == 0:
                if known:
                    self._selector.unregister(sock)
                    del self._handlers[sock]
            elif known:
                if self._selector.get_key(sock).events != mask:
                    self._selector.modify(sock, mask)
                self._handlers[sock] = handler
            else:
                self._selector.register(sock, mask)
                self._handlers[sock] = handler
        self.wake()

    def call(self, action: Callable[[float], T]) -> T:
        """Give the core one input (``action(now)``), then drain it; from any thread."""
        with self.lock:
            self.check()
            if self.closed:
                raise RuntimeError(f"{self.name} is closed")
            now = time.monotonic()
            if self._draining:  # an event callback acting on the core
                self._again = True
                return action(max(now, self.now))
            result = action(now)
            self.drain(now)
            deadline, until = self._deadline, self._sleeping_until
            wake = until is not _BUSY and deadline is not None and (until is None or deadline < until)
        if wake:
            self.wake()
        return result

    def call_soon(self, action: Callable[[float], T]) -> T:
        """``action(now)`` on the core at once (lock held); a background loop drains after
        its next wake-up (at the latest its next timer: audio written to many calls costs one
        drain, and no wake-up unless the loop sleeps without a timer). Caller-driven: as
        :meth:`call`."""
        if self._thread is None or self._thread is threading.current_thread():
            return self.call(action)
        with self.lock:
            self.check()
            if self.closed:
                raise RuntimeError(f"{self.name} is closed")
            if self._draining:
                self._again = True
                return action(max(time.monotonic(), self.now))
            result = action(time.monotonic())
            self._touched = True
            wake = self._sleeping_until is None
        if wake:
            self.wake()
        return result

    def later(self, action: Callable[[float], object]) -> None:
        """An input for the core as soon as the current drain has finished."""
        self._later.append(action)
        self._again = True

    def touched(self) -> None:
        """A handler gave the core input without draining (a batch of media datagrams): the
        loop drains once after this round of handlers."""
        self._touched = True

    def call_at(self, when: float, action: Callable[[float], object]) -> Timer:
        """An adapter timer: ``action(now)`` (lock held, drained after) at ``when``."""
        timer = Timer(when, action)
        with self.lock:
            heapq.heappush(self._timers, (when, next(self._seq), timer))
        self.wake()
        return timer

    def drain(self, now: float) -> None:
        """Pump the owner's core (lock held) until nothing more comes out; re-arm the timer."""
        with self.lock:
            if self.closed or self._draining:
                self._again = self._again or self._draining
                return
            self._draining = True
            try:
                self.now = now
                self._again = True
                while self._again:
                    self._again = False
                    self._deadline = self._drain_fn(now)
                    while self._later and not self.closed:
                        self._later.popleft()(now)
                        self._again = True
            finally:
                self._draining = False
                self.changed.notify_all()

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Until ``ready()`` (called with the lock held, once per wake-up: it may take what it
        waits for) is true, ``timeout`` seconds pass (``None``: no limit) or the loop closes;
        returns its last answer. In caller-driven mode this runs the loop meanwhile."""
        until = None if timeout is None else time.monotonic() + timeout
        if self._thread is None:
            while True:
                with self.lock:
                    self.check()
                    if (ok := ready()) or self.closed:
                        return ok
                if until is not None and time.monotonic() >= until:
                    return False
                self.step(until)
        with self.changed:
            while True:
                self.check()
                if (ok := ready()) or self.closed:
                    return ok
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self.changed.wait(left)

    def step(self, until: float | None) -> None:
        """One wait on the selector (bounded by the timers and ``until``), then what is ready."""
        with self.lock:
            wake_at = self._deadline
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            for t in ((self._timers[0][0] if self._timers else None), until):
                if t is not None and (wake_at is None or t < wake_at):
                    wake_at = t
            self._sleeping_until = wake_at
        timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
        ready = self._selector.select(timeout)
        with self.lock:
            self._sleeping_until = _BUSY
            if self.closed:
                return
            for key, mask in ready:
                if key.fileobj is self._wake_r:
                    self._drain_wakeups()
                    continue
                handler = self._handlers.get(key.fileobj)  # type: ignore[arg-type]
                if handler is not None:
                    handler(mask)
                if self.closed:
                    return
            now = time.monotonic()
            fired = False
            while self._timers and self._timers[0][0] <= now:
                _, _, timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    timer.action(max(timer.when, now))
                    fired = True
            due = self._deadline
            if due is not None and now >= due:
                now = max(due, time.monotonic())  # the wait may end a clock tick early
                self._timeout_fn(now)
                fired = True
            if fired or self._later or self._touched:
                self._touched = False
                self.drain(now)
            self.changed.notify_all()  # a flush or close may be what a waiter waits for

    def wake(self) -> None:
        """Make a background loop re-read its timer and interests."""
        if self._thread is None or self._thread is threading.current_thread() or self._wake_sent:
            return
        self._wake_sent = True
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed
            pass

    def check(self) -> None:
        """Raise, in the caller, what stopped the loop."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        """Stop the loop, join its thread, close the selector. The owner closes its sockets."""
        with self.changed:
            already = self.closed
            self.closed = True
            self.changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            try:
                self._wake_w.send(b"\0")
            except OSError:
                pass
            thread.join()
        if not already:
            self._selector.close()
            self._handlers.clear()
            self._wake_r.close()
            self._wake_w.close()

    # ---- internals ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self.closed:
                self.step(None)
        except BaseException as exc:  # handed to the application's thread by check()
            log.debug("%s loop stopped by %r", self.name, exc)
            with self.changed:
                self._error = exc
                self.changed.notify_all()

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        # Cleared after reading: a wake() skipped meanwhile changed state (under the lock)
        # before this step's next look at the timer, so nothing is lost.
        self._wake_sent = False
