"""rvoip_sansio.adapters.blocking: run the sans-I/O cores on plain sockets, without an event loop.

:class:`UdpEndpoint` runs any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket, on a background thread or
driven by the caller (``poll``/``next_event``), with ``time.monotonic()`` as its clock.
"""

from ._socket import bind_udp_socket
from ._udp import DEFAULT_MAX_PENDING_EVENTS, UdpEndpoint, open_udp_endpoint
from ._stream import SipSockets, SipTransports, StreamCore, open_sip_transports

__all__ = ["UdpEndpoint", "open_udp_endpoint", "bind_udp_socket", "DEFAULT_MAX_PENDING_EVENTS",
           "StreamCore", "SipSockets", "SipTransports", "open_sip_transports"]
