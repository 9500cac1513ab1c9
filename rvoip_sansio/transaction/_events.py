"""Configuration and the events the transaction layer reports to its user (the TU)."""

from __future__ import annotations

from typing import TypeAlias

import attrs

from rvoip_sansio._core import Address, Event
from ._sip import Request, Response

from ._state import TimerName

__all__ = [
    "TransactionKey",
    "EndpointConfig",
    "RequestReceived",
    "ResponseReceived",
    "CancelReceived",
    "TransactionTimeout",
    "TransportError",
    "MessageDiscarded",
    "TransactionTerminated",
]

#: Opaque, hashable identity of a transaction (RFC 3261 §17.1.3 / §17.2.3 matching key).
TransactionKey: TypeAlias = tuple[str | int | None, ...]


@attrs.frozen(kw_only=True)
class EndpointConfig:
    """Transaction layer settings (RFC 3261 Table 4 defaults) and resource limits.

    ``reliable`` says the transport below is reliable (TCP, TLS, WebSocket): no request or
    response retransmissions, and Timers D, I, J and K are zero (§17.1.1.2, §17.2.2).
    """

    t1: float = 0.5  # RTT estimate
    t2: float = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # maximum duration a message remains in the network
    timer_d: float = 32.0  # §17.1.1.2: at least 32 s on unreliable transports
    trying_delay: float = 0.2  # §17.2.1: send 100 Trying if the TU has not answered by then
    reliable: bool = False
    transport: str = "UDP"
    max_transactions: int = 100_000  # beyond this, new requests are answered 503 (stateless)
    auto_cancel: bool = True  # answer CANCEL (200/481) and the INVITE (487) like a UAS core
    retry_after: int | None = 5  # Retry-After of the overload 503, in seconds
    # Connection-oriented transports (TCP, TLS, WS, WSS; see docs/transports.md):
    max_message_size: int = 65536  # per SIP message on a stream or WebSocket
    max_connections: int = 1024  # beyond this, new inbound connections are closed at once
    keepalive_interval: float | None = None  # RFC 5626 §3.5.1 CRLF ping on connections we open
    keepalive_timeout: float = 10.0  # RFC 5626 §4.4.1: no pong within this closes the connection
    idle_timeout: float | None = None  # close an accepted connection silent this long (DoS limit)
    #: Connection reuse (docs/transports.md, "Flows"): a Contact that came over a connection
    #: in a request straight from its sender (one Via), whose host is the connection's peer
    #: address, is bound to that connection: requests to it go over it while it lives.
    #: (Contacts with a ``.invalid`` host, RFC 7118 §5, or ``;ob``, RFC 5626 §5.3, are bound
    #: whatever this says: nothing else reaches them.)
    reuse_connections: bool = True
    #: RFC 5923: put ``alias`` in the Via of requests we send over a connection, asking the
    #: peer to send its requests for our sent-by back over it. Off by default: RFC 5923 §9
    #: wants the peer to check our TLS certificate first, and peers need not honour it.
    via_alias: bool = False

    def __attrs_post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.t4 <= 0:
            raise ValueError("EndpointConfig needs 0 < t1 <= t2 and t4 > 0")
        if self.max_transactions < 1:
            raise ValueError("EndpointConfig.max_transactions must be at least 1")
        if self.max_message_size < 256 or self.max_connections < 1 or self.keepalive_timeout <= 0:
            raise ValueError("EndpointConfig needs max_message_size >= 256, max_connections >= 1 "
                             "and keepalive_timeout > 0")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError("EndpointConfig.idle_timeout must be positive (or None)")
        if self.keepalive_interval is not None and self.keepalive_interval <= 0:
            raise ValueError("EndpointConfig.keepalive_interval must be positive (or None)")


@attrs.frozen(kw_only=True)
class RequestReceived(Event):
    """A new request for the TU. ``transaction`` is the server transaction to answer through
    (:meth:`Endpoint.send_response`); it is None for an ACK that matched no transaction (the
    ACK for a 2xx, which belongs to the dialog layer, RFC 3261 §13.3.1.4 / RFC 6026), and an
    ACK that matched an Accepted INVITE transaction carries that transaction's key."""

    request: Request
    source: Address
    transaction: TransactionKey | None


@attrs.frozen(kw_only=True)
class ResponseReceived(Event):
    """A response passed up by a client transaction (retransmissions are absorbed below)."""

    response: Response
    source: Address
    transaction: TransactionKey


@attrs.frozen(kw_only=True)
class CancelReceived(Event):
    """A CANCEL arrived (RFC 3261 §9.2). ``invite_transaction`` is the INVITE it cancels, or
    None when none matched. With ``EndpointConfig.auto_cancel`` the endpoint has already
    answered: 200 to the CANCEL and 487 to the INVITE when it was unanswered (``answered``
    true), or 481 to the CANCEL when nothing matched."""

    request: Request
    source: Address
    transaction: TransactionKey
    invite_transaction: TransactionKey | None
    answered: bool


@attrs.frozen(kw_only=True)
class TransactionTimeout(Event):
    """Timer B or F (no final response) or Timer H (no ACK) fired."""

    transaction: TransactionKey
    method: str
    timer: TimerName


@attrs.frozen(kw_only=True)
class TransportError(Event):
    """A send to ``dest`` failed (reported by the adapter through ``transport_error``, or a
    connection the message needed failed to open or was lost)."""

    dest: Address
    transaction: TransactionKey | None


@attrs.frozen(kw_only=True)
class MessageDiscarded(Event):
    """A datagram was dropped without reaching the TU, and why (``data`` is its first bytes)."""

    reason: str
    source: Address
    data: bytes


@attrs.frozen(kw_only=True)
class TransactionTerminated(Event):
    """A transaction reached Terminated and was forgotten (reported only when
    ``Endpoint(report_terminated=True)``; the dialog layer may use it to free state)."""

    transaction: TransactionKey
