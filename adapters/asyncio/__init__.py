"""rvoip_sansio.adapters.asyncio: run the sans-I/O cores on asyncio sockets.

First piece: :class:`UdpEndpoint`, any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket.
"""

from ._udp import DatagramCore, UdpEndpoint, open_udp_endpoint

__all__ = ["DatagramCore", "UdpEndpoint", "open_udp_endpoint"]
