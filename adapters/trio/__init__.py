"""rvoip_sansio.adapters.trio: run the sans-I/O cores on trio.

:func:`open_udp_endpoint` runs any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket, as an async context manager,
with ``trio.current_time()`` as its clock.
"""

from ._udp import UdpEndpoint, open_udp_endpoint

__all__ = ["UdpEndpoint", "open_udp_endpoint"]
