"""rvoip_sansio.sim: a deterministic simulated network for testing sans-I/O endpoints.

Build a :class:`Network`, add nodes (any object keeping the sans-I/O datagram contract),
give links delay, jitter, loss, duplication and reordering, react to events in callbacks,
``run()`` in simulated time, and print ``net.ladder()`` to see the call flow.
"""

from ._ladder import describe, ladder
from ._network import (
    Endpointish,
    EventCallback,
    Fate,
    LinkConfig,
    Network,
    Node,
    SimulationError,
    TraceEntry,
)

__all__ = [
    "Endpointish",
    "EventCallback",
    "Fate",
    "LinkConfig",
    "Network",
    "Node",
    "SimulationError",
    "TraceEntry",
    "describe",
    "ladder",
]
from ._multi import MultiSocketCore, MultiSocketNode  # noqa: F401  (multi-socket nodes: a PhoneCore with RTP sockets)
