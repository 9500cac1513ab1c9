"""rvoip_sansio.srtp: SRTP/SRTCP (RFC 3711, 6188, 7714) and keying (SDES RFC 4568, DTLS-SRTP).

Pure core: packets in, packets out; keys come from the caller (or from the SDES and DTLS
helpers, which take an injected random source). See docs/srtp.md.
"""

from ._dtls import (
    DEFAULT_DTLS_PROFILES,
    DtlsClosed,
    DtlsConnected,
    DtlsFailed,
    DtlsSrtpEndpoint,
    DtlsState,
)
from ._errors import SrtpError, SrtpErrorKind
from ._fingerprint import (
    DtlsCertificate,
    DtlsError,
    DtlsRole,
    Fingerprint,
    answer_setup,
    dtls_role,
    fingerprint_matches,
)
from ._kdf import SessionKeys, derive_session_keys
from ._profiles import PROFILE_SPECS, MasterKey, ProfileSpec, SrtpPolicy, SrtpProfile
from ._sdes import (
    DEFAULT_SDES_PROFILES,
    CryptoLine,
    InlineKey,
    SdesError,
    sdes_accept,
    sdes_answer,
    sdes_offer,
)
from ._session import SrtpSession
from . import _batch  # noqa: F401  (numpy loaded now, not on the first protect_many)

__all__ = [
    "DEFAULT_DTLS_PROFILES",
    "DtlsCertificate",
    "DtlsClosed",
    "DtlsConnected",
    "DtlsError",
    "DtlsFailed",
    "DtlsRole",
    "DtlsSrtpEndpoint",
    "DtlsState",
    "Fingerprint",
    "answer_setup",
    "dtls_role",
    "fingerprint_matches",
    "CryptoLine",
    "DEFAULT_SDES_PROFILES",
    "InlineKey",
    "SdesError",
    "sdes_accept",
    "sdes_answer",
    "sdes_offer",
    "MasterKey",
    "PROFILE_SPECS",
    "ProfileSpec",
    "SessionKeys",
    "SrtpError",
    "SrtpErrorKind",
    "SrtpPolicy",
    "SrtpProfile",
    "SrtpSession",
    "derive_session_keys",
]
