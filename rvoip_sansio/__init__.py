"""rvoip-sansio: a VoIP stack whose every protocol layer is a pure, deterministic state machine."""

from ._core import (
    Address,
    DatagramCore,
    DatagramNode,
    Event,
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
    RvoipError,
    TimedCore,
    Transmit,
    pump,
    seq_delta16,
    seq_lt16,
    ts_delta32,
)

__version__ = "0.1.0"

__all__ = [
    "Address",
    "DatagramCore",
    "DatagramNode",
    "TimedCore",
    "Event",
    "LocalProtocolError",
    "ParseError",
    "RemoteProtocolError",
    "RvoipError",
    "Transmit",
    "pump",
    "seq_delta16",
    "seq_lt16",
    "ts_delta32",
    "__version__",
]
