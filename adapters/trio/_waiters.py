"""Tasks waiting for a condition on a host's state, woken only when it holds.

The host calls :meth:`Waiters.check` after every pump: each waiting task's condition is
evaluated there, and only the tasks whose condition now holds are woken (one
``trio.Event`` each). So a pump that changed nothing for a call (a datagram of another call,
a SIP retransmission) costs a few predicate calls, never a task switch. Conditions must be
pure (no side effects): they may be evaluated many times, by the host as well as the waiter.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["Waiters"]


class Waiters:
    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[tuple[Callable[[], bool], trio.Event]] = []

    def __bool__(self) -> bool:
        return bool(self._entries)

    async def wait(self, ready: Callable[[], bool]) -> None:
        """Return once ``ready()`` holds (checked now, then after each pump)."""
        if ready():
            await trio.lowlevel.checkpoint()
            return
        entry = (ready, trio.Event())
        self._entries.append(entry)
        try:
            await entry[1].wait()
        finally:
            if entry in self._entries:  # cancelled before it held
                self._entries.remove(entry)

    def check(self) -> None:
        """Wake every waiter whose condition holds now (one that raises is woken too: it
        raises again in its own task)."""
        if not self._entries:
            return
        keep: list[tuple[Callable[[], bool], trio.Event]] = []
        for entry in self._entries:
            try:
                done = entry[0]()
            except Exception:
                done = True
            if done:
                entry[1].set()
            else:
                keep.append(entry)
        self._entries = keep
