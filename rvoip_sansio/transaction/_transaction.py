"""One transaction: its data, and the executor that runs the tables of :mod:`._state`.

The executor is deliberately dumb: it looks up ``(state, input)`` in the machine's table,
refuses a missing pair from the TU with :class:`LocalProtocolError` *before* touching any
state, ignores (and counts) a missing pair from the network or a timer, then runs the listed
actions and enters the new state. Sending, timers and events go through the owning
:class:`Endpoint` (the ``_Host`` protocol below).
"""

from __future__ import annotations

from typing import Protocol

import attrs

from rvoip_sansio._core import Address, Event, LocalProtocolError
from ._sip import Request, Response

from ._events import EndpointConfig, TransactionKey, TransactionTimeout, TransportError
from ._events import RequestReceived, ResponseReceived
from ._state import (
    ENTRY_TIMERS,
    INITIAL_STATE,
    STATE_TIMERS,
    TABLES,
    TIMER_INPUT,
    Action,
    Input,
    Kind,
    State,
    TimerName,
)

__all__ = ["Transaction", "step", "start", "TU_INPUTS", "timer_duration"]

#: Inputs that come from the transaction user: a missing table entry is the caller's fault.
TU_INPUTS = frozenset({Input.TU_PROVISIONAL, Input.TU_SUCCESS, Input.TU_FAILURE})

_RETRANSMIT_TIMERS = frozenset({TimerName.A, TimerName.E, TimerName.G})
_INPUT_TIMER = {inp: name for name, inp in TIMER_INPUT.items()}
_ABSORBING = frozenset({State.COMPLETED, State.CONFIRMED, State.ACCEPTED})


class _Host(Protocol):
    """What a transaction needs from the endpoint that owns it."""

    config: EndpointConfig

    def _send(self, data: bytes, dest: Address, tx: Transaction | None) -> None: ...

    def _arm(self, tx: Transaction, timer: TimerName, deadline: float) -> None: ...

    def _emit(self, event: Event) -> None: ...

    def _forget(self, tx: Transaction) -> None: ...

    def _ignored(self, tx: Transaction, inp: Input) -> None: ...

    def _build_ack(self, tx: Transaction, response: Response) -> bytes: ...

    def _build_trying(self, tx: Transaction) -> bytes: ...


@attrs.define(slots=True, eq=False)
class Transaction:
    """The state of one client or server transaction (internal to the endpoint)."""

    kind: Kind
    key: TransactionKey
    #: the request; released (None) once the transaction only absorbs retransmissions, so
    #: that the many transactions waiting out Timers D, I, J, K, L and M stay small
    request: Request | None
    method: str
    #: client: where the request goes; server: where responses go (RFC 3261 §18.2.2).
    dest: Address
    reliable: bool
    #: a connection-oriented transport (TCP, TLS, WS, WSS) carrying it; None: the datagram path
    transport: str | None = None
    #: server over a connection: where responses go if that connection is gone (§18.2.2)
    alt_dest: Address | None = None
    #: server: matched the RFC 2543 way (no magic cookie); then the To tags below count
    rfc2543: bool = False
    #: server, RFC 2543 matching: the request's To tag, and the To tag of the final response
    to_tag: str | None = None
    final_to_tag: str | None = None
    state: State = State.TERMINATED
    #: running timers: name -> absolute deadline
    timers: dict[TimerName, float] = attrs.field(factory=dict)
    #: current interval of the retransmission timer (A, E or G)
    interval: float = 0.0
    #: the last message sent (client: the request; server: the latest response), verbatim
    last: bytes | None = None
    #: server: the latest response the TU sent through this transaction
    response: Response | None = None
    #: client INVITE: the ACK built for the first non-2xx final response (§17.1.1.3)
    ack: bytes | None = None
    #: client INVITE: a CANCEL was asked for before any provisional response (§9.1)
    cancel_pending: bool = False
    #: client: a provisional response has been received
    provisional_seen: bool = False

    @property
    def is_client(self) -> bool:
        return self.kind is Kind.CLIENT_INVITE or self.kind is Kind.CLIENT_NON_INVITE


def timer_duration(config: EndpointConfig, timer: TimerName, reliable: bool) -> float | None:
    """How long ``timer`` runs (RFC 3261 Table 4, RFC 6026 §8.4); None: not used here."""
    t1 = config.t1
    if timer in _RETRANSMIT_TIMERS:
        return None if reliable else t1
    if timer is TimerName.D:
        return 0.0 if reliable else config.timer_d
    if timer is TimerName.I or timer is TimerName.K:
        return 0.0 if reliable else config.t4
    if timer is TimerName.J:
        return 0.0 if reliable else 64 * t1
    if timer is TimerName.TRYING:
        return config.trying_delay
    return 64 * t1  # B, F, H, L, M


def start(host: _Host, tx: Transaction, now: float) -> None:
    """Bring a new transaction into its initial state; a client sends its request."""
    initial = INITIAL_STATE[tx.kind]
    if tx.is_client:
        assert tx.request is not None
        tx.last = bytes(tx.request)
        host._send(tx.last, tx.dest, tx)
    _enter(host, tx, initial, now)


def step(
    host: _Host,
    tx: Transaction,
    inp: Input,
    now: float,
    message: Request | Response | None = None,
    source: Address | None = None,
    fired_at: float | None = None,
) -> None:
    """Feed one input to ``tx``: run the table's actions and enter the next state.

    A timer input counts only while that timer runs (it is consumed here); a stale one is
    ignored like any other input the table does not list.
    """
    timer = _INPUT_TIMER.get(inp)
    if timer is not None and tx.timers.pop(timer, None) is None:
        host._ignored(tx, inp)
        return
    transition = TABLES[tx.kind].get((tx.state, inp))
    if transition is None:
        if inp in TU_INPUTS:
            raise LocalProtocolError(
                f"transaction layer: a {tx.kind.value} transaction in state "
                f"{tx.state.value} cannot take input {inp.value!r} ({tx.method})"
            )
        host._ignored(tx, inp)
        return
    actions, target = transition
    for action in actions:
        if action is Action.SEND:
            assert isinstance(message, Response)
            tx.response = message
            tx.last = bytes(message)
            if tx.rfc2543 and message.status_code >= 200:
                tx.final_to_tag = message.to.tag
            host._send(tx.last, tx.dest, tx)
        elif action is Action.RETRANSMIT:
            if tx.last is not None:
                host._send(tx.last, tx.dest, tx)
            elif tx.kind is Kind.SERVER_INVITE:
                _send_trying(host, tx)
        elif action is Action.BACKOFF:
            _backoff(host, tx, inp, now, fired_at)
        elif action is Action.SEND_ACK:
            assert isinstance(message, Response)
            if tx.ack is None:
                tx.ack = host._build_ack(tx, message)
            host._send(tx.ack, tx.dest, tx)
        elif action is Action.SEND_TRYING:
            _send_trying(host, tx)
        elif action is Action.STOP_TRYING:
            tx.timers.pop(TimerName.TRYING, None)
        elif action is Action.PASS_UP:
            assert source is not None
            if isinstance(message, Response):
                host._emit(ResponseReceived(response=message, source=source, transaction=tx.key))
            else:
                assert message is not None
                host._emit(RequestReceived(request=message, source=source, transaction=tx.key))
        elif action is Action.REPORT_TIMEOUT:
            assert timer is not None
            host._emit(TransactionTimeout(transaction=tx.key, method=tx.method, timer=timer))
        elif action is Action.REPORT_TRANSPORT_ERROR:
            host._emit(TransportError(dest=tx.dest, transaction=tx.key))
    if target is not tx.state:
        _enter(host, tx, target, now)


def _send_trying(host: _Host, tx: Transaction) -> None:
    # RFC 3261 §17.2.1: the 100 becomes the most recent provisional response, so a
    # retransmitted INVITE gets it again.
    tx.timers.pop(TimerName.TRYING, None)
    tx.last = host._build_trying(tx)
    host._send(tx.last, tx.dest, tx)


def _backoff(host: _Host, tx: Transaction, inp: Input, now: float, fired_at: float | None) -> None:
    timer = _INPUT_TIMER[inp]
    t2 = host.config.t2
    if timer is TimerName.A:
        tx.interval *= 2  # §17.1.1.2: Timer A doubles, no cap
    elif timer is TimerName.E and tx.state is State.PROCEEDING:
        tx.interval = t2  # §17.1.2.2: in Proceeding, Timer E is reset to T2
    else:
        tx.interval = min(2 * tx.interval, t2)  # §17.1.2.2 (E), §17.2.1 (G): double, cap T2
    # Schedule from when the timer was due, not when it was noticed, so that a late
    # handle_timeout does not shift the whole retransmission schedule.
    base = fired_at if fired_at is not None else now
    deadline = base + tx.interval
    if deadline <= now:
        deadline = now + tx.interval
    host._arm(tx, timer, deadline)


def _enter(host: _Host, tx: Transaction, target: State, now: float) -> None:
    kind = tx.kind
    keep = STATE_TIMERS.get((kind, target))
    if tx.timers:
        if keep is None:
            tx.timers.clear()
        else:
            for name in [n for n in tx.timers if n not in keep]:
                del tx.timers[name]
    tx.state = target
    if target is State.TERMINATED:
        tx.request = tx.response = None
        host._forget(tx)
        return
    if target in _ABSORBING:
        # Only retransmissions are left to absorb (the ACK is already built, the final
        # response is in ``last``): let the messages go.
        tx.request = tx.response = None
    immediate: list[TimerName] = []
    config = host.config
    for name in ENTRY_TIMERS.get((kind, target), ()):
        duration = timer_duration(config, name, tx.reliable)
        if duration is None:
            continue
        if name in _RETRANSMIT_TIMERS:
            tx.interval = duration
        if duration <= 0.0:
            immediate.append(name)
        else:
            host._arm(tx, name, now + duration)
    for name in immediate:
        # A zero timer (D, I, J, K on reliable transports) fires at once.
        if tx.state is target:
            tx.timers[name] = now
            step(host, tx, TIMER_INPUT[name], now)
