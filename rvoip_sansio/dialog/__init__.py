"""rvoip_sansio.dialog: dialogs (RFC 3261 §12), INVITE sessions (§13–15) and the UserAgent.

The :class:`UserAgent` is one sans-I/O object (``receive`` / ``datagrams_to_send`` /
``next_event`` / ``next_deadline`` / ``handle_timeout``) that places and takes calls,
registers, sends and receives messages, and reports what happens as events::

    ua = UserAgent(config=UAConfig(local=("192.0.2.1", 5060), media=caps), rng=random.Random())
    call = ua.invite("sip:bob@192.0.2.2", now)       # a Call handle
    ...                                              # events: CallProgress, CallAnswered...
    call.hold(now); call.resume(now); call.send_dtmf_info("5", now); call.hangup(now)

Also: ``ua.register(registrar, now)``, ``ua.send_message(target, text, now)``,
``ua.subscribe(target, event, now)`` (RFC 6665), ``ua.publish(target, event, body, now,
content_type=...)`` (RFC 3903), ``ua.options(target, now)``.

On an incoming call (:class:`IncomingCall`): ``call.ring(now)``, ``call.answer(now)`` or
``call.reject(now, code=486)``. ``call.media`` is the negotiated SDP result for the media
layer (remote RTP address, codec, payload types, direction, crypto/fingerprint lines).
"""

from ._call import VERBS, Call, CallState, Role
from ._config import ALLOWED_METHODS, UAConfig
from ._dialog import Dialog, DialogState, uri_address
from ._events import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallProgress,
    CallResumed,
    DtmfReceived,
    EndReason,
    IncomingCall,
    InfoReceived,
    MediaUpdated,
    MessageReceived,
    NotificationReceived,
    OfferReceived,
    OfferRejected,
    PublicationChanged,
    RegistrationChanged,
    RegistrationState,
    RequestCompleted,
    SubscriptionChanged,
    SubscriptionRequested,
    TransferProgress,
    TransferRequested,
)
from ._publish import Publication
from ._register import Registration
from ._subscribe import Subscription, SubscriptionRole
from ._ua import RequestHandler, ResponseHandler, UserAgent

__all__ = [
    "UserAgent",
    "UAConfig",
    "RequestHandler",
    "ResponseHandler",
    "ALLOWED_METHODS",
    "Call",
    "CallState",
    "Role",
    "VERBS",
    "Dialog",
    "DialogState",
    "uri_address",
    "Registration",
    "Subscription",
    "SubscriptionRole",
    "Publication",
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
    "PublicationChanged",
    "NotificationReceived",
    "SubscriptionChanged",
    "SubscriptionRequested",
]
