"""rvoip_sansio.adapters.asyncio: run the sans-I/O cores on asyncio sockets.

:class:`UdpEndpoint`: any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket. :class:`SipTransports`: a SIP
``Endpoint`` on UDP, TCP, TLS, WS and WSS at once (docs/transports.md).
"""

from ._stream import SipTransports, StreamCore, open_sip_transports
from ._udp import DatagramCore, UdpEndpoint, open_udp_endpoint
from ._media import MediaSlot, TracedCore, TraceHook
from ._phone import Phone, PhoneCall, PhoneError

__all__ = [
    "DatagramCore",
    "UdpEndpoint",
    "open_udp_endpoint",
    "StreamCore",
    "SipTransports",
    "open_sip_transports",
    "MediaSlot",
    "TracedCore",
    "TraceHook",
    "Phone",
    "PhoneCall",
    "PhoneError",
]
