"""rvoip_sansio.sdp: SDP (RFC 8866) model, parser and serializer, RFC 3264 offer/answer.

>>> from rvoip_sansio.sdp import parse_sdp
>>> sdp = parse_sdp(b"v=0\\r\\no=- 1 1 IN IP4 192.0.2.1\\r\\ns=-\\r\\nc=IN IP4 192.0.2.1\\r\\n"
...                 b"t=0 0\\r\\nm=audio 4000 RTP/AVP 0\\r\\na=rtpmap:0 PCMU/8000\\r\\n")
>>> sdp.media[0].rtpmaps[0].encoding
'PCMU'
"""

from ._attributes import (
    Crypto,
    CryptoKey,
    Direction,
    Extmap,
    Fingerprint,
    Fmtp,
    Group,
    IceCandidate,
    Rtcp,
    RtpMap,
    Setup,
    Ssrc,
)
from ._model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)
from ._parser import MAX_SDP_SIZE, parse_sdp

__all__ = [
    "Attribute",
    "Bandwidth",
    "Connection",
    "Crypto",
    "CryptoKey",
    "Direction",
    "Extmap",
    "Fingerprint",
    "Fmtp",
    "Group",
    "IceCandidate",
    "MAX_SDP_SIZE",
    "MediaDescription",
    "Origin",
    "Rtcp",
    "RtpMap",
    "SessionDescription",
    "Setup",
    "Ssrc",
    "Timing",
    "parse_sdp",
]

from ._capabilities import (  # noqa: E402
    G722,
    L16_16K,
    OPUS,
    PCMA,
    PCMU,
    STATIC_PAYLOAD_TYPES,
    Codec,
    LocalCapabilities,
    MediaCapabilities,
    NegotiatedMedia,
    NegotiatedSession,
)
from ._offer_answer import (  # noqa: E402
    OfferAnswer,
    OfferAnswerError,
    OfferAnswerState,
    offered_codecs,
)

__all__ += [
    "G722",
    "L16_16K",
    "OPUS",
    "PCMA",
    "PCMU",
    "STATIC_PAYLOAD_TYPES",
    "Codec",
    "LocalCapabilities",
    "MediaCapabilities",
    "NegotiatedMedia",
    "NegotiatedSession",
    "OfferAnswer",
    "OfferAnswerError",
    "OfferAnswerState",
    "offered_codecs",
]
