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
from ._capabilities import (
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
from ._model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)
from ._offer_answer import OfferAnswer, OfferAnswerError, OfferAnswerState, offered_codecs
from ._parser import MAX_SDP_SIZE, parse_sdp

__all__ = [
    # model and parser
    "Attribute",
    "Bandwidth",
    "Connection",
    "MediaDescription",
    "Origin",
    "SessionDescription",
    "Timing",
    "MAX_SDP_SIZE",
    "parse_sdp",
    # typed attributes
    "Crypto",
    "CryptoKey",
    "Direction",
    "Extmap",
    "Fingerprint",
    "Fmtp",
    "Group",
    "IceCandidate",
    "Rtcp",
    "RtpMap",
    "Setup",
    "Ssrc",
    # offer/answer
    "Codec",
    "G722",
    "L16_16K",
    "OPUS",
    "PCMA",
    "PCMU",
    "STATIC_PAYLOAD_TYPES",
    "LocalCapabilities",
    "MediaCapabilities",
    "NegotiatedMedia",
    "NegotiatedSession",
    "OfferAnswer",
    "OfferAnswerError",
    "OfferAnswerState",
    "offered_codecs",
]
