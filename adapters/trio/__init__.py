"""rvoip_sansio.adapters.trio: run the sans-I/O cores on trio.

:func:`open_udp_endpoint` runs any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket, and
:func:`open_sip_transports` a SIP ``Endpoint`` on UDP, TCP, TLS, WS and WSS at once, both as
async context managers with ``trio.current_time()`` as the clock.
"""

from ._stream import SipTransports, open_sip_transports
from ._udp import UdpEndpoint, open_udp_endpoint

__all__ = ["UdpEndpoint", "open_udp_endpoint", "SipTransports", "open_sip_transports"]
