"""Events reported by :class:`~rvoip_sansio.rtp.RtpSession`."""

from __future__ import annotations

import attrs

from .._core import Address, Event
from ._quality import QualityReport
from ._rtcp import RtcpPacket

__all__ = [
    "SourceValidated",
    "RemoteAddressLatched",
    "SsrcCollision",
    "LoopDetected",
    "PacketDiscarded",
    "RtcpReceived",
    "ByeReceived",
    "MediaTimeout",
    "MediaResumed",
    "QualityUpdated",
    "ActiveSourceChanged",
]


@attrs.frozen(kw_only=True)
class SourceValidated(Event):
    """A remote SSRC passed RFC 3550 A.1 probation."""

    ssrc: int
    source: Address


@attrs.frozen(kw_only=True)
class ActiveSourceChanged(Event):
    """The SSRC whose audio feeds the jitter buffer changed (the buffer was reset)."""

    ssrc: int
    previous: int | None


@attrs.frozen(kw_only=True)
class RemoteAddressLatched(Event):
    """Symmetric RTP: media now goes to ``address`` (where the peer's packets come from)."""

    address: Address
    previous: Address | None
    rtcp: bool = False


@attrs.frozen(kw_only=True)
class SsrcCollision(Event):
    """A packet arrived carrying our own SSRC from elsewhere (RFC 3550 §8.2): we sent a BYE
    for the old SSRC and now use ``new_ssrc``."""

    old_ssrc: int
    new_ssrc: int
    source: Address


@attrs.frozen(kw_only=True)
class LoopDetected(Event):
    """Our own packets came back from an address already known to collide (RFC 3550 §8.2)."""

    source: Address


@attrs.frozen(kw_only=True)
class PacketDiscarded(Event):
    """A datagram that could not be used: malformed (``offset`` set) or not for us."""

    reason: str
    source: Address
    offset: int = -1


@attrs.frozen(kw_only=True)
class RtcpReceived(Event):
    """A valid RTCP datagram (all its packets, SR/RR/SDES/BYE/APP/feedback/XR)."""

    packets: tuple[RtcpPacket, ...]
    source: Address


@attrs.frozen(kw_only=True)
class ByeReceived(Event):
    ssrc: int
    reason: bytes | None


@attrs.frozen(kw_only=True)
class MediaTimeout(Event):
    """No RTP arrived for ``timeout`` seconds (the call is probably dead)."""

    timeout: float
    last_received: float | None


@attrs.frozen(kw_only=True)
class MediaResumed(Event):
    """RTP arrived again after a :class:`MediaTimeout`."""


@attrs.frozen(kw_only=True)
class QualityUpdated(Event):
    """A fresh quality report (emitted with every RTCP report sent or received)."""

    report: QualityReport
