"""rvoip_sansio.phone: a whole softphone / trunk endpoint as one pure state machine.

:class:`PhoneCore` joins the SIP user agent, SRTP keying and every call's media behind one
clock and one deadline; the adapters' ``Phone`` classes are thin hosts around it. See
docs/phone.md for the contract (SIP face, media face, verbs, events).
"""

from ._config import PhoneConfig, SrtpMode
from ._core import PhoneCore
from ._events import (
    AudioDrained,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallProgress,
    CallResumed,
    DtmfMethod,
    DtmfReceived,
    IncomingCall,
    MediaEvent,
    MediaSocketReleased,
    PhoneDrained,
    RegistrationChanged,
    TransferProgress,
    TransferRequested,
)
from ._view import CallView

__all__ = [
    "CallView",
    "PhoneConfig",
    "PhoneCore",
    "SrtpMode",
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
