"""Events the :class:`~rvoip_sansio.dialog.UserAgent` reports to its application.

Every event is frozen. Call events carry the call handle (``call``), whose methods the
application uses to act (answer, hold, hang up...) and whose attributes describe the call
(state, negotiated media, remote SDP); ``call_id`` is repeated for logging.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

from rvoip_sansio._core import Address, Event, ParseError
from rvoip_sansio.sdp import NegotiatedSession, SessionDescription, parse_sdp
from rvoip_sansio.sip import Request, Response

if TYPE_CHECKING:
    from ._call import Call
    from ._publish import Publication
    from ._register import Registration
    from ._subscribe import Subscription

__all__ = [
    "EndReason",
    "RegistrationState",
    "IncomingCall",
    "CallProgress",
    "CallAnswered",
    "CallEnded",
    "CallHeld",
    "CallResumed",
    "MediaUpdated",
    "OfferReceived",
    "OfferRejected",
    "TransferRequested",
    "TransferProgress",
    "DtmfReceived",
    "InfoReceived",
    "MessageReceived",
    "RequestCompleted",
    "RegistrationChanged",
    "NotificationReceived",
    "SubscriptionChanged",
    "SubscriptionRequested",
    "PublicationChanged",
]


class EndReason(enum.Enum):
    """Why a call ended."""

    LOCAL_HANGUP = "local hangup"  # we sent BYE (or CANCEL)
    REMOTE_HANGUP = "remote hangup"  # the peer sent BYE
    CANCELLED = "cancelled"  # we cancelled before the answer (487)
    REMOTE_CANCELLED = "remote cancelled"  # the caller cancelled before we answered
    REJECTED = "rejected"  # a final response >= 300 (UAC), or we rejected (UAS)
    TIMEOUT = "timeout"  # no final response (Timer B), or no ACK for our 2xx (§13.3.1.4)
    SESSION_EXPIRED = "session expired"  # RFC 4028 §10: no refresh in time
    TRANSPORT_ERROR = "transport error"
    REPLACED = "replaced"  # RFC 3891: an INVITE with Replaces took this call's place
    TRANSFERRED = "transferred"  # RFC 3515: the transfer target answered (NOTIFY 200)
    FORKED_LOSER = "forked loser"  # another fork answered first
    EXPIRED = "expired"  # the INVITE's Expires lapsed before a final response (RFC 3261 §13)


class RegistrationState(enum.Enum):
    REGISTERING = "registering"
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class IncomingCall(Event):
    """A new INVITE. ``request`` is the INVITE (read custom headers from it); ``offer`` the
    caller's SDP offer, parsed (None for an INVITE without SDP, RFC 3261 §13.2.1 late offer,
    or with SDP that does not parse: answering it then fails with 488)."""

    call: Call
    call_id: str
    request: Request
    source: Address
    replaces: Call | None = None  # RFC 3891: the call this one replaces (attended transfer)

    @property
    def offer(self) -> SessionDescription | None:
        # Parsed on demand: the dialog layer answers initial offers from a cache keyed by the
        # body, so parsing every INVITE's SDP up front would cost the call path for nothing.
        body = self.request.body
        if not body or "sdp" not in (self.request.content_type or "").lower():
            return None
        try:
            return parse_sdp(body)
        except ParseError:
            return None


@attrs.frozen(kw_only=True)
class CallProgress(Event):
    """A provisional response (180, 183...). ``media`` is set when it carried SDP (early media)."""

    call: Call
    call_id: str
    status_code: int
    reason: str
    response: Response
    media: NegotiatedSession | None = None
    sdp: bytes | None = None


@attrs.frozen(kw_only=True)
class CallAnswered(Event):
    """The call is established (UAC: 2xx received and ACKed; UAS: ACK received)."""

    call: Call
    call_id: str
    media: NegotiatedSession | None = None
    sdp: bytes | None = None
    response: Response | None = None


@attrs.frozen(kw_only=True)
class CallEnded(Event):
    """The call is over; ``status_code`` is the final response or the BYE's, when there was one."""

    call: Call
    call_id: str
    reason: EndReason
    status_code: int | None = None
    reason_phrase: str = ""


@attrs.frozen(kw_only=True)
class CallHeld(Event):
    """The peer put us on hold (its SDP says sendonly or inactive; RFC 3264 §8.4)."""

    call: Call
    call_id: str


@attrs.frozen(kw_only=True)
class CallResumed(Event):
    call: Call
    call_id: str


@attrs.frozen(kw_only=True)
class MediaUpdated(Event):
    """A re-INVITE or UPDATE changed the negotiated media (codec, address, direction)."""

    call: Call
    call_id: str
    media: NegotiatedSession | None
    sdp: bytes | None = None


@attrs.frozen(kw_only=True)
class OfferReceived(Event):
    """A re-INVITE/UPDATE offer on a call without media capabilities (a B2BUA relays SDP):
    answer with ``call.accept_offer(sdp, now)`` or ``call.reject_offer(now)``."""

    call: Call
    call_id: str
    sdp: bytes | None
    method: str


@attrs.frozen(kw_only=True)
class OfferRejected(Event):
    """Our re-INVITE/UPDATE offer was refused (other than 491, which is retried)."""

    call: Call
    call_id: str
    status_code: int


@attrs.frozen(kw_only=True)
class TransferRequested(Event):
    """The peer sent REFER (RFC 3515). Already accepted (202); we call ``target`` when
    ``auto`` (the UA follows transfers itself) else the application calls it with
    ``call.follow_transfer(now)``. ``replaces`` carries the Replaces value (attended)."""

    #: The call the REFER came in (None: a REFER outside any dialog, RFC 3515 §2.4.2).
    call: Call | None
    call_id: str
    target: str
    replaces: str | None = None
    referred_by: str | None = None
    #: The implicit subscription we notify (None: ``Refer-Sub: false``, RFC 4488).
    subscription: Subscription | None = None
    #: The Refer-To value as received (with embedded headers such as Replaces).
    refer_to: str = ""


@attrs.frozen(kw_only=True)
class TransferProgress(Event):
    """A NOTIFY about our REFER: the sipfrag status line of the transfer target's answer."""

    call: Call
    call_id: str
    status_code: int
    final: bool


@attrs.frozen(kw_only=True)
class DtmfReceived(Event):
    """A digit by SIP INFO (RFC 6086, application/dtmf-relay) on a call."""

    call: Call
    call_id: str
    digit: str
    duration_ms: int


@attrs.frozen(kw_only=True)
class InfoReceived(Event):
    call: Call
    call_id: str
    content_type: str | None
    body: bytes
    request: Request


@attrs.frozen(kw_only=True)
class MessageReceived(Event):
    """An instant message (RFC 3428), in or out of a call (``call`` None outside)."""

    sender: str
    content_type: str | None
    body: bytes
    request: Request
    call: Call | None = None


@attrs.frozen(kw_only=True)
class RequestCompleted(Event):
    """An out-of-dialog request we sent (MESSAGE, OPTIONS, INFO...) got its final answer
    (``status_code`` 408 when it timed out). ``handle`` is what the sending call returned."""

    handle: int
    method: str
    status_code: int
    response: Response | None


@attrs.frozen(kw_only=True)
class RegistrationChanged(Event):
    registration: Registration
    state: RegistrationState
    expires: int = 0
    status_code: int | None = None
    contact: str | None = None


@attrs.frozen(kw_only=True)
class NotificationReceived(Event):
    """A NOTIFY on one of our subscriptions (RFC 6665 §4.1.3); already answered 200."""

    subscription: Subscription
    event: str
    state: str
    content_type: str | None
    body: bytes


@attrs.frozen(kw_only=True)
class SubscriptionChanged(Event):
    """A subscription became pending/active, was refreshed, or ended (``state``
    'terminated', with ``reason`` and the failing ``status_code`` when there was one)."""

    subscription: Subscription
    state: str
    expires: int = 0
    status_code: int | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionRequested(Event):
    """Someone subscribed to us (accepted with 200 and a first NOTIFY); send state with
    ``subscription.notify(now, body=..., content_type=...)``."""

    subscription: Subscription
    event: str
    request: Request
    source: Address


@attrs.frozen(kw_only=True)
class PublicationChanged(Event):
    """A PUBLISH (RFC 3903) was accepted (``etag`` set), removed (``expires`` 0) or failed."""

    publication: Publication
    status_code: int
    etag: str | None
    expires: int
