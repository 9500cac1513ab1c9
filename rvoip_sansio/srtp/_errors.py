"""Typed SRTP errors: every failure of protect/unprotect is one :class:`SrtpError` with a kind."""

from __future__ import annotations

import enum

from rvoip_sansio._core import RemoteProtocolError

__all__ = ["SrtpErrorKind", "SrtpError"]


class SrtpErrorKind(enum.Enum):
    """Why a packet was refused. A session counts each kind (``SrtpSession.errors``)."""

    #: The authentication tag (HMAC-SHA1 or GCM tag) did not verify (RFC 3711 §3.3 step 5).
    AUTH = "auth"
    #: The packet index was seen already or is older than the replay window (RFC 3711 §3.3.2).
    REPLAY = "replay"
    #: Too short, wrong RTP version, lengths that do not add up.
    MALFORMED = "malformed"
    #: The SSRC is not one this session accepts (or the stream table is full).
    UNKNOWN_SSRC = "unknown_ssrc"
    #: The MKI in the packet names no master key of this session (RFC 3711 §3.1).
    UNKNOWN_MKI = "unknown_mki"
    #: The master key reached its packet limit (RFC 3711 §9.2: 2^48 SRTP, 2^31 SRTCP).
    KEY_EXHAUSTED = "key_exhausted"


class SrtpError(RemoteProtocolError):
    """An SRTP/SRTCP packet could not be protected or unprotected; ``kind`` says why.

    Raised before any stream state (ROC, replay window, counters) is changed.
    """

    def __init__(self, kind: SrtpErrorKind, reason: str) -> None:
        super().__init__(f"{kind.value}: {reason}")
        self.kind = kind
        self.reason = reason

    def __reduce__(self) -> tuple[type[SrtpError], tuple[SrtpErrorKind, str]]:
        return (type(self), (self.kind, self.reason))
