"""rvoip_sansio.callmedia: the media of one call (RTP + SRTP + codec + jitter buffer + audio
frames), sans I/O. The object the adapters' ``call.audio`` wraps; see docs/callmedia.md.
"""

from ._config import CallMediaConfig, IdleMode, SendPolicy, SrtpKeys
from ._records import (
    AudioFlags,
    AudioFrame,
    BackpressureChanged,
    Drained,
    HealthReport,
    MediaReport,
    SendFailed,
    SrtpDropped,
)
from ._stream import CallMedia
from ._group import CallMediaGroup

__all__ = [
    "AudioFlags", "AudioFrame", "BackpressureChanged", "CallMedia", "CallMediaConfig",
    "CallMediaGroup",
    "Drained", "HealthReport", "IdleMode", "MediaReport", "SendPolicy", "SrtpDropped",
    "SrtpKeys",
]
