"""rvoip_sansio.transaction: RFC 3261 §17 transactions (with RFC 6026) and the SIP endpoint.

:class:`Endpoint` is the transaction layer over one transport: datagrams in, events and
datagrams out, timers as deadlines. The four state machines are data in :mod:`._state`.
"""

from ._endpoint import Endpoint, EndpointStats
from ._events import (
    CancelReceived,
    EndpointConfig,
    MessageDiscarded,
    RequestReceived,
    ResponseReceived,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from ._state import ENTRY_TIMERS, INITIAL_STATE, STATE_TIMERS, TABLES, Action, Input, Kind, State, TimerName
from ._transaction import timer_duration

__all__ = [
    "Endpoint",
    "EndpointConfig",
    "EndpointStats",
    "TransactionKey",
    "RequestReceived",
    "ResponseReceived",
    "CancelReceived",
    "TransactionTimeout",
    "TransportError",
    "MessageDiscarded",
    "TransactionTerminated",
    "Kind",
    "State",
    "Input",
    "Action",
    "TimerName",
    "TABLES",
    "ENTRY_TIMERS",
    "STATE_TIMERS",
    "INITIAL_STATE",
    "timer_duration",
]
