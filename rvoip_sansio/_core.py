"""Shared vocabulary of every sans-I/O layer: addresses, datagrams out, events, errors, the pump.

Every protocol object in ``rvoip_sansio`` keeps one contract (see ARCHITECTURE.md):

* input with the caller's ``now`` (seconds on any monotonic scale);
* output pulled: ``datagrams_to_send(now)`` and ``next_event()``;
* time as deadlines: ``next_deadline()`` and ``handle_timeout(now)``.

:func:`pump` drains one such object after an input, so no adapter or test forgets to.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Protocol, TypeAlias

import attrs

__all__ = [
    "Address",
    "Transmit",
    "Event",
    "RvoipError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "ParseError",
    "SansIOProtocol",
    "TimedCore",
    "DatagramNode",
    "DatagramCore",
    "pump",
    "RandomSource",
    "seq_delta16",
    "ts_delta32",
    "seq_lt16",
    "slot_setters",
]

#: A transport address: ``(host, port)``; host is an IPv4/IPv6 literal or a name.
Address: TypeAlias = tuple[str, int]

#: Randomness seam: anything with the ``random.Random`` methods we use.
RandomSource: TypeAlias = random.Random


@attrs.frozen(kw_only=True)
class Transmit:
    """One datagram to send, verbatim."""

    data: bytes
    dest: Address


@attrs.frozen(kw_only=True)
class Event:
    """Base class of every event a layer reports. Events are frozen and keyword-only."""


class RvoipError(Exception):
    """Base of every error raised by rvoip-sansio."""


class LocalProtocolError(RvoipError):
    """The caller asked for something the protocol state does not allow.

    Raised before any state changes, naming the layer, the state and the input.
    """


class RemoteProtocolError(RvoipError):
    """The peer sent something that breaks the protocol."""


class ParseError(RemoteProtocolError, ValueError):
    """Malformed wire data: ``offset`` is where (bytes from the start), ``reason`` says why."""

    def __init__(self, reason: str, offset: int = 0) -> None:
        super().__init__(f"{reason} (at offset {offset})")
        self.reason = reason
        self.offset = offset

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, int]]:
        return (type(self), (self.reason, self.offset))


class SansIOProtocol(Protocol):
    """What :func:`pump` needs of a protocol object."""

    def datagrams_to_send(self, now: float) -> list[Transmit]: ...

    def next_event(self) -> Event | None: ...

    def next_deadline(self) -> float | None: ...


class TimedCore(SansIOProtocol, Protocol):
    """A core with timers: the pump's contract plus ``handle_timeout``."""

    def handle_timeout(self, now: float) -> None: ...


class DatagramNode(TimedCore, Protocol):
    """The datagram side of the contract: what a node of ``rvoip_sansio.sim`` provides."""

    def receive(self, data: bytes, source: Address, now: float) -> None: ...


class DatagramCore(DatagramNode, Protocol):
    """What a socket adapter carries: a datagram node that also hears of failed sends."""

    def transport_error(self, dest: Address, now: float) -> None: ...


def pump(
    obj: SansIOProtocol,
    now: float,
    send: Callable[[Transmit], object],
    deliver: Callable[[Event], object],
) -> float | None:
    """Drain ``obj`` after an input: send every datagram, deliver every event.

    Returns the next deadline, for the caller to re-arm its one timer. Sending happens
    before delivery so that the application's reaction to an event (which may produce more
    datagrams) never overtakes what the input already produced.
    """
    for transmit in obj.datagrams_to_send(now):
        send(transmit)
    while (event := obj.next_event()) is not None:
        deliver(event)
    # Events may have been handled synchronously by the caller and produced more output.
    for transmit in obj.datagrams_to_send(now):
        send(transmit)
    return obj.next_deadline()


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The ``__set__`` of each named slot of the attrs class ``cls``, for hot paths that build
    an instance with ``object.__new__`` and these instead of the generated ``__init__`` (which
    sets each field through ``object.__setattr__`` by name): about half the cost, and the same
    object only for a class without validators, converters or a post-init."""
    return tuple(cls.__dict__[name].__set__ for name in names)


def seq_delta16(a: int, b: int) -> int:
    """Signed distance ``a - b`` between 16-bit sequence numbers, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_lt16(a: int, b: int) -> bool:
    """True when 16-bit sequence number ``a`` comes before ``b`` (modulo wrap)."""
    return seq_delta16(a, b) < 0


def ts_delta32(a: int, b: int) -> int:
    """Signed distance ``a - b`` between 32-bit RTP timestamps, in [-2**31, 2**31 - 1]."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000
