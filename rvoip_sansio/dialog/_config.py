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
    #: RFC 5626 (SIP Outbound): our ``+sip.instance``, a URN (``urn:uuid:...``) that must stay
    #: the same across restarts, so it comes from configuration (None: no outbound). With it,
    #: a REGISTER over TCP/TLS/WS/WSS carries ``+sip.instance`` and ``reg-id`` and
    #: ``Supported: outbound``, every Contact over those transports carries ``;ob`` (requests
    #: to us come back over our own connection), and a registration whose connection closes
    #: registers again over a new one after the §4.5 back-off.
    instance_id: str | None = None
    reg_id: int = 1
    #: RFC 5626 §4.5 base-time (seconds): the first re-registration after the flow failed
    #: waits 50-100 % of it, doubling per further failure up to ``outbound_max_time``.
    outbound_base_time: float = 30.0
    outbound_max_time: float = 1800.0

    def __attrs_post_init__(self) -> None:
        if self.instance_id is not None and not self.instance_id.lower().startswith("urn:"):
            raise ValueError("UAConfig.instance_id must be a URN, e.g. urn:uuid:... (RFC 5626 §4.1)")
        if self.reg_id < 1 or self.outbound_base_time <= 0 or self.outbound_max_time < self.outbound_base_time:
            raise ValueError("UAConfig needs reg_id >= 1 and 0 < outbound_base_time <= outbound_max_time")
        if self.min_se < 90:
            raise ValueError("UAConfig.min_se must be at least 90 s (RFC 4028 §4)")
        if self.session_expires is not None and self.session_expires < self.min_se:
            raise ValueError("UAConfig.session_expires must be at least min_se")
