"""User agent settings: who we are, what we can do, and the limits we keep."""

from __future__ import annotations

import attrs

from rvoip_sansio._core import Address
from rvoip_sansio.sdp import LocalCapabilities
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig

__all__ = ["UAConfig", "ALLOWED_METHODS"]

#: What we answer in Allow (RFC 3261 §20.5) and to OPTIONS.
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "MESSAGE", "UPDATE",
                   "PRACK", "REFER", "NOTIFY", "SUBSCRIBE")


@attrs.frozen(kw_only=True)
class UAConfig:
    """A user agent's identity and policy.

    ``local`` is the transport address (it goes into Via and, unless ``contact_address``
    says otherwise, into Contact). ``aor`` is our address-of-record for From
    (``sip:user@host`` of ``local`` by default). ``media`` are the capabilities from which
    SDP offers and answers are made for the application; None means the application handles
    SDP itself (a B2BUA relaying bodies). ``outbound_proxy`` is a SIP URI every out-of-dialog
    request is routed through (a loose route, RFC 3261 §8.1.2).
    """

    local: Address
    user: str = "rvoip"
    display_name: str | None = None
    aor: str | None = None
    contact_address: Address | None = None
    media: LocalCapabilities | None = None
    credentials: tuple[Credentials, ...] = ()
    outbound_proxy: str | None = None
    user_agent: str | None = "rvoip-sansio/0.1"
    endpoint: EndpointConfig = attrs.field(factory=EndpointConfig)
    #: New calls beyond this many are answered 503 (None: no limit).
    max_calls: int | None = None
    #: RFC 3262: answer reliably (100rel) when the caller supports it, and offer support.
    prack: bool = True
    #: RFC 4028: Session-Expires we ask for (None: no session timer from our side).
    session_expires: int | None = None
    min_se: int = 90
    #: RFC 3515: call the Refer-To target ourselves when the peer transfers us.
    follow_transfers: bool = True
    #: Learn our public address from Via received/rport (RFC 3581) and fix Contact.
    fix_contact_from_via: bool = True

    def __attrs_post_init__(self) -> None:
        if self.min_se < 90:
            raise ValueError("UAConfig.min_se must be at least 90 s (RFC 4028 §4)")
        if self.session_expires is not None and self.session_expires < self.min_se:
            raise ValueError("UAConfig.session_expires must be at least min_se")
