"""rvoip_sansio.transaction: RFC 3261 §17 transactions (with RFC 6026) and the SIP endpoint.

:class:`Endpoint` is the transaction layer: datagrams in, events and datagrams out, timers
as deadlines; connection-oriented transports (TCP, TLS, WS, WSS) through
``add_transport``/``connection_made``/``data_received``/``connection_lost`` and
:class:`StreamTransmit` orders (see docs/transports.md). The four state machines are data in :mod:`._state`.
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
from ._sip import SECURE_TRANSPORTS, default_port, strip_brackets
from ._state import ENTRY_TIMERS, INITIAL_STATE, STATE_TIMERS, TABLES, Action, Input, Kind, State, TimerName
from ._transaction import timer_duration
from ._transport import STREAM_TRANSPORTS, ConnectionClosed, ConnectionOpened, StreamTransmit, invalid_host, uri_transport

__all__ = [
    "SECURE_TRANSPORTS",
    "default_port",
    "strip_brackets",
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
    "STREAM_TRANSPORTS",
    "StreamTransmit",
    "ConnectionOpened",
    "ConnectionClosed",
    "uri_transport",
    "invalid_host",
]
