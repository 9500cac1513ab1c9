"""PhoneConfig: who the phone is, what it offers, and the policies it keeps (frozen)."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from .._core import Address
from ..callmedia import IdleMode, SendPolicy
from ..sdp import G722, PCMA, PCMU, Codec
from ..sip.auth import Credentials
from ..srtp import DEFAULT_SDES_PROFILES, SrtpProfile

__all__ = ["PhoneConfig", "SrtpMode"]


class SrtpMode(enum.Enum):
    """How calls are secured (``PhoneConfig.srtp``; ``srtp_required`` says whether plain RTP
    is acceptable)."""

    #: Plain RTP (RTP/AVP). An offer that requires SRTP (RTP/SAVP) is answered 488.
    NONE = "none"
    #: SDES keys in SDP (RFC 4568). Required: offer RTP/SAVP and refuse plain offers (488).
    #: Optional: offer RTP/AVP with ``a=crypto`` lines (keyed if the peer answers with one)
    #: and accept plain offers.
    SDES = "sdes"
    #: DTLS-SRTP (RFC 5763/5764): ``a=fingerprint``/``a=setup`` in SDP, keys from the handshake
    #: on the RTP socket (RFC 7983 demux).
    DTLS = "dtls"


def _codecs(value: Iterable[Codec]) -> tuple[Codec, ...]:
    codecs = tuple(value)
    if not codecs:
        raise ValueError("PhoneConfig.codecs must name at least one codec")
    return codecs


def _profiles(value: Iterable[SrtpProfile]) -> tuple[SrtpProfile, ...]:
    profiles = tuple(value)
    if not profiles:
        raise ValueError("PhoneConfig.sdes_profiles must name at least one SRTP profile")
    return profiles


@attrs.frozen(kw_only=True)
class PhoneConfig:
    """Everything a :class:`~rvoip_sansio.phone.PhoneCore` needs; safe defaults.

    ``local`` is the SIP transport address (it goes into Via and Contact). The RTP sockets are
    the adapter's: it binds one per call and passes its address to ``call``/``answer``; the SDP
    ``c=`` line carries that address's host unless ``media_address`` says otherwise (NAT).
    """

    user: str
    local: Address
    display_name: str | None = None
    #: Address-of-record for From (``sip:user@host`` of ``local`` by default).
    aor: str | None = None
    #: Contact address when it differs from ``local`` (NAT, a listener on 0.0.0.0).
    contact_address: Address | None = None
    #: The transport of ``local`` (``udp``, ``tcp``, ``tls``, ``ws``, ``wss``).
    transport: str = "udp"
    codecs: tuple[Codec, ...] = attrs.field(default=(G722, PCMU, PCMA), converter=_codecs)
    srtp: SrtpMode = SrtpMode.SDES
    srtp_required: bool = False
    #: SDES suites: offered in this order, and the answerer takes the first of these that an
    #: offer carries (RFC 4568 §7.1). Strongest first by default; e.g.
    #: ``(SrtpProfile.AES_CM_128_HMAC_SHA1_80,)`` for the suite every SDES peer has (and the
    #: one the SRTP C accelerator covers).
    sdes_profiles: tuple[SrtpProfile, ...] = attrs.field(default=DEFAULT_SDES_PROFILES,
                                                         converter=_profiles)
    #: Host put into SDP ``c=`` (None: the host of the RTP address given to call/answer).
    media_address: str | None = None
    # ---- audio for the application (CallMedia) ----
    rate: int = 16000
    frame_ms: float = 20.0
    receive_queue_frames: int = 50
    send_queue_frames: int = 500
    send_policy: SendPolicy = SendPolicy.REJECT
    idle: IdleMode = IdleMode.SILENCE
    vad: bool = False
    #: RTP inactivity timeout (issue 10 §2): a confirmed, not-held call that receives no RTP
    #: for this long is ended with BYE (``CallEnded(detail="rtp timeout")``). None: never.
    rtp_timeout: float | None = 30.0
    #: Run every 20 ms call on one shared media clock (``CallMediaGroup``: one deadline, and
    #: batched resampling). Off: one clock per call.
    media_group: bool = True
    # ---- calls ----
    #: ``IncomingCall.auto_answer`` is True: the adapter binds an RTP socket and answers at
    #: once. Otherwise the core rings (180) and waits for ``answer``/``reject``.
    auto_answer: bool = False
    #: Send 180 Ringing on incoming calls that are not auto-answered.
    ring: bool = True
    #: New calls beyond this many are answered 503 (None: no limit).
    max_calls: int | None = None
    #: Transferee: ``TransferRequested.auto_follow`` is True (the adapter binds an RTP socket
    #: and calls ``follow_transfer`` at once).
    auto_follow_transfers: bool = True
    # ---- trunk / registration ----
    #: IP-authenticated trunk: accept INVITEs only from these hosts (IP literals as they
    #: appear as the datagram/connection source); others are answered 403. Empty: anyone.
    trusted_sources: tuple[str, ...] = ()
    #: Every out-of-dialog request goes through this SIP URI (a loose route, RFC 3261 §8.1.2).
    outbound_proxy: str | None = None
    #: RFC 5626 (SIP Outbound): a stable ``urn:uuid:...`` for this phone; REGISTER over
    #: TCP/TLS/WS/WSS then carries +sip.instance/reg-id and calls come back over our flow.
    instance_id: str | None = None
    #: Digest credentials (the auth user may differ from ``user``, the URI user).
    credentials: tuple[Credentials, ...] = ()
    #: Send 100rel (RFC 3262) support.
    prack: bool = True
    user_agent: str | None = "rvoip-sansio/0.1"
    #: RFC 4028 session timer we ask for (None: none).
    session_expires: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.frame_ms <= 0:
            raise ValueError("PhoneConfig.rate and frame_ms must be positive")
        if self.max_calls is not None and self.max_calls < 0:
            raise ValueError("PhoneConfig.max_calls must not be negative")
        if self.rtp_timeout is not None and self.rtp_timeout <= 0:
            raise ValueError("PhoneConfig.rtp_timeout must be positive (or None)")
        if self.srtp is SrtpMode.NONE and self.srtp_required:
            raise ValueError("PhoneConfig: srtp_required needs an SRTP mode (sdes or dtls)")
