"""What a :class:`~rvoip_sansio.phone.PhoneCore` reports (frozen events, each with its call id).

Every call event carries ``call_id`` (the SIP Call-ID), so an adapter routes it to the call
object it gave the application. Media events that have no phone meaning of their own
(``QualityUpdated``, ``SpeechStarted``, ``BackpressureChanged``, ``MediaTimeout``...) come
wrapped in :class:`MediaEvent`.
"""

from __future__ import annotations

import enum

import attrs

from .._core import Address, Event
from ..dialog import EndReason, RegistrationState

__all__ = [
    "AudioDrained",
    "CallAnswered",
    "CallEnded",
    "CallHeld",
    "CallProgress",
    "CallResumed",
    "DtmfMethod",
    "DtmfReceived",
    "IncomingCall",
    "MediaEvent",
    "MediaSocketReleased",
    "PhoneDrained",
    "RegistrationChanged",
    "TransferProgress",
    "TransferRequested",
]


class DtmfMethod(enum.Enum):
    RFC4733 = "rfc4733"  # telephone events in the RTP stream
    INFO = "info"  # SIP INFO application/dtmf-relay


@attrs.frozen(kw_only=True)
class RegistrationChanged(Event):
    """A registration (the handle ``register`` returned) changed state."""

    registration: int
    registrar: str
    state: RegistrationState
    status_code: int | None = None
    expires: int = 0


@attrs.frozen(kw_only=True)
class IncomingCall(Event):
    """A new call for us. Answer with ``answer(call_id, now, rtp=...)`` (at once when
    ``auto_answer``) or ``reject``. ``headers`` are all the INVITE's headers, in order
    (custom ones like ``X-*`` and ``P-Asserted-Identity`` included)."""

    call_id: str
    from_header: str
    to_header: str
    headers: tuple[tuple[str, str], ...]
    offered_codecs: tuple[str, ...]
    source: Address
    auto_answer: bool
    #: The offer carries SDES crypto lines / a DTLS fingerprint.
    srtp_offered: bool = False
    #: RFC 3891: the call id this call replaces (attended transfer), if any.
    replaces: str | None = None

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        low = name.lower()
        return next((v for n, v in self.headers if n.lower() == low), None)


@attrs.frozen(kw_only=True)
class CallProgress(Event):
    """A provisional response to our call (180 ringing, 183 session progress).
    ``early_media``: it carried an SDP answer and the call's media runs from now on (an
    announcement or ringback from the network can be read before the answer)."""

    call_id: str
    status_code: int
    reason: str
    early_media: bool = False


@attrs.frozen(kw_only=True)
class CallAnswered(Event):
    """The call is up (caller: 2xx received; callee: ACK received); media runs."""

    call_id: str
    codec: str
    #: SRTP negotiated (SDES keyed, or DTLS-SRTP: keyed at ``MediaEvent(DtlsKeyed)``).
    srtp: bool
    local_rtp: Address
    remote_rtp: Address | None
    #: Headers of the 2xx (caller side); empty on the callee side.
    headers: tuple[tuple[str, str], ...] = ()
    #: ``"none"``, ``"sdes"`` or ``"dtls"``.
    keying: str = "none"


@attrs.frozen(kw_only=True)
class CallEnded(Event):
    """The call is over. ``detail`` names a phone-level cause (``"rtp timeout"``,
    ``"srtp refused"``, ``"no common codec"``, ``"closing"``...) or is empty."""

    call_id: str
    reason: EndReason
    status_code: int | None = None
    detail: str = ""


@attrs.frozen(kw_only=True)
class CallHeld(Event):
    """Media stopped one way: ``by_peer`` False when our hold was accepted, True when the
    peer put us on hold."""

    call_id: str
    by_peer: bool


@attrs.frozen(kw_only=True)
class CallResumed(Event):
    call_id: str
    by_peer: bool


@attrs.frozen(kw_only=True)
class DtmfReceived(Event):
    """One digit from the peer, however it was sent (RFC 4733 or SIP INFO)."""

    call_id: str
    digit: str
    duration: float
    method: DtmfMethod


@attrs.frozen(kw_only=True)
class TransferRequested(Event):
    """The peer asked us to call ``target`` (REFER). When ``auto_follow``, the adapter binds an
    RTP socket and calls ``follow_transfer(call_id, now, rtp=...)`` at once."""

    call_id: str
    target: str
    replaces: str | None
    auto_follow: bool


@attrs.frozen(kw_only=True)
class TransferProgress(Event):
    """Our transfer's progress as the transferee reports it (NOTIFY sipfrag status)."""

    call_id: str
    status_code: int
    final: bool


@attrs.frozen(kw_only=True)
class AudioDrained(Event):
    """Everything written before ``mark`` has been sent (or dropped by ``clear``)."""

    call_id: str
    mark: int
    cleared: bool
    time: float


@attrs.frozen(kw_only=True)
class MediaEvent(Event):
    """Any other event of the call's media (``rvoip_sansio.callmedia`` / ``rtp``)."""

    call_id: str
    event: Event


@attrs.frozen(kw_only=True)
class MediaSocketReleased(Event):
    """The call's RTP socket at ``local`` is no longer used (its last datagram, the RTCP BYE,
    has been handed out): the adapter closes it."""

    call_id: str
    local: Address


@attrs.frozen(kw_only=True)
class PhoneDrained(Event):
    """After ``drain``: the last call ended."""
