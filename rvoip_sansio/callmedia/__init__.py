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
from ._reframe import AudioReader, CallAudioBase, FrameSource, Reframer, frame_samples
from ._keying import SAVP, SdesOffer, keys_from_answer, secure_answer, secure_offer
from ._group import CallMediaGroup
from ._dtls import (
    DTLS_PROTOS, UDP_TLS_SAVP, UDP_TLS_SAVPF, DtlsFailure, DtlsKeyed, DtlsKeyingFailed,
    DtlsMediaLeg, DtlsOffer, DtlsParams, DtlsSdpError, dtls_answer, dtls_from_answer,
    dtls_keep_association, dtls_offer,
)

__all__ = [
    "AudioFlags", "AudioFrame", "BackpressureChanged", "CallMedia", "CallMediaConfig",
    "CallMediaGroup",
    "Drained", "HealthReport", "IdleMode", "MediaReport", "SendPolicy", "SrtpDropped",
    "SrtpKeys", "SAVP", "SdesOffer", "secure_offer", "secure_answer", "keys_from_answer",
    "DTLS_PROTOS", "UDP_TLS_SAVP", "UDP_TLS_SAVPF", "DtlsFailure", "DtlsKeyed",
    "DtlsKeyingFailed", "DtlsMediaLeg", "DtlsOffer", "DtlsParams", "DtlsSdpError",
    "dtls_answer", "dtls_from_answer", "dtls_keep_association", "dtls_offer",
    "AudioReader", "CallAudioBase", "FrameSource", "Reframer", "frame_samples",
]
