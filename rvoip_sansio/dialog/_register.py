"""Registration client (RFC 3261 §10.2): register, refresh before expiry, unregister.

Challenges are answered by the UA's digest client (§22). Behind NAT the registrar's view of
us (Via ``received``/``rport``, RFC 3581) replaces the private address in Contact: the UA
adopts it and re-registers at once, removing the binding with the private address.
"""

from __future__ import annotations

import enum
import logging
from functools import partial
from typing import TYPE_CHECKING

import attrs

from rvoip_sansio._core import Address, LocalProtocolError, ParseError
from rvoip_sansio.sip import HeaderValue, Response, SipUri, parse_uri
from rvoip_sansio.transaction import STREAM_TRANSPORTS
from rvoip_sansio.transaction._sip import strip_brackets

from . import _contact
from ._events import RegistrationChanged, RegistrationState

if TYPE_CHECKING:
    from ._timers import Timer
    from ._ua import UserAgent

__all__ = ["Registration", "start_registration"]

log = logging.getLogger("rvoip_sansio.dialog")


class _Want(enum.Enum):
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"


@attrs.define(slots=True, eq=False, repr=False)
class Registration:
    """One binding we keep at a registrar. ``state`` and ``expires`` say where it stands."""

    ua: UserAgent
    registrar: str
    aor: str
    requested: int
    call_id: str
    state: RegistrationState = RegistrationState.REGISTERING
    expires: int = 0
    cseq: int = 0
    contact: str | None = None
    #: Minimum re-registration delay after a failure, seconds.
    retry_after: float = 30.0
    #: RFC 5626: the connection ``(transport, peer)`` this registration's flow is, when it
    #: registers with ``+sip.instance``/``reg-id`` over a connection (None otherwise).
    flow: tuple[str, Address] | None = None
    #: RFC 5626 §4.5: flow failures in a row (the back-off doubles with each).
    flow_failures: int = 0
    _want: _Want = _Want.REGISTERED
    _timer: Timer | None = None
    _stale_contact: str | None = None

    def __repr__(self) -> str:
        return f"<Registration {self.aor} {self.state.value}>"

    def refresh(self, now: float) -> None:
        """Register again now (the UA does this by itself before expiry)."""
        self._want = _Want.REGISTERED
        self._send(now, self.requested)

    def unregister(self, now: float) -> None:
        """Remove our binding (REGISTER with expires 0)."""
        self._want = _Want.UNREGISTERED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send(now, 0)

    def flow_closed(self, transport: str, peer: Address, now: float) -> None:
        """RFC 5626 §4.4.1 / §4.5: our flow's connection closed. The registrar can no longer
        reach us; register again over a new connection after 50-100 % of the back-off
        ``min(max-time, base-time * 2^failures)``."""
        if self.flow != (transport, peer):
            return
        self.flow = None
        self.ua.track_outbound(self, False)
        if self._want is not _Want.REGISTERED:
            return
        cfg = self.ua.config
        wait = min(cfg.outbound_max_time, cfg.outbound_base_time * 2 ** min(self.flow_failures, 30))
        self.flow_failures += 1
        self.state = RegistrationState.REGISTERING
        self.ua.emit(RegistrationChanged(registration=self, state=self.state, status_code=None))
        self._arm(now + wait * (0.5 + self.ua.rng.random() / 2))

    # ---- internals ---------------------------------------------------------------------

    def _send(self, now: float, expires: int) -> None:
        ua = self.ua
        self.cseq += 1
        proxy = ua.config.outbound_proxy
        routes = [f"<{proxy};lr>"] if proxy is not None else []
        contact = ua.request_contact(self.registrar, routes)
        contacts: list[tuple[str, HeaderValue]] = []
        if self._stale_contact is not None and self._stale_contact != contact:
            contacts.append(("Contact", f"{self._stale_contact};expires=0"))
        self._stale_contact = None
        transport = _contact.request_transport(ua, self.registrar, routes)
        outbound = ua.config.instance_id is not None and transport in STREAM_TRANSPORTS
        if outbound:
            # RFC 5626 §4.2.1: the instance and the flow's reg-id; Supported: outbound.
            contacts.append(("Contact", f'{contact};reg-id={ua.config.reg_id};'
                                        f'+sip.instance="<{ua.config.instance_id}>"'))
        else:
            contacts.append(("Contact", contact))
        headers: list[tuple[str, HeaderValue]] = [*contacts, ("Expires", str(expires)),
                                                  ("Allow", ", ".join(("INVITE", "ACK", "CANCEL", "BYE",
                                                                       "OPTIONS", "INFO", "MESSAGE",
                                                                       "UPDATE", "REFER", "NOTIFY")))]
        req = ua.new_request("REGISTER", self.registrar, headers=headers, call_id=self.call_id,
                             from_header=f"<{self.aor}>", to_header=f"<{self.aor}>", cseq=self.cseq)
        req.remove("contact")
        for name, value in contacts:
            req.add(name, value)
        if outbound:
            req.add("Supported", "outbound")
        self.contact = contact
        key = ua.send(req, now, partial(self._on_response, expires))
        if outbound and expires > 0:
            pending = ua.pending_destination(key)
            self.flow = ua.endpoint.flow_for(transport, pending) if pending is not None else None
            ua.track_outbound(self, self.flow is not None)
        elif expires == 0:
            self.flow = None
            ua.track_outbound(self, False)

    def _on_response(self, asked: int, resp: Response | None, now: float) -> None:
        ua = self.ua
        if resp is None:
            self._failed(now, 408)
            return
        code = resp.status_code
        if code < 200:
            return
        # An authentication retry (§22.2) went out with a higher CSeq than ours.
        self.cseq = max(self.cseq, resp.cseq.number)
        if code == 423:
            # §10.2.8: Interval Too Brief; retry with the registrar's Min-Expires.
            min_expires = (resp.get("min-expires") or "").strip()
            if min_expires.isdigit() and len(min_expires) < 10 and int(min_expires) > self.requested:
                self.requested = int(min_expires)
                self._send(now, self.requested)
                return
        if code >= 300:
            self._failed(now, code)
            return
        if self._learn_public_address(resp):
            self._send(now, self.requested if self._want is _Want.REGISTERED else 0)
            return
        if asked == 0 or self._want is _Want.UNREGISTERED:
            self.state = RegistrationState.UNREGISTERED
            self.expires = 0
            ua.emit(RegistrationChanged(registration=self, state=self.state, status_code=code))
            return
        granted = self._granted(resp, asked)
        if granted <= 0:
            self._failed(now, code)
            return
        self.state = RegistrationState.REGISTERED
        self.expires = granted
        if self.flow is not None:
            self.flow_failures = 0  # RFC 5626 §4.5: a flow that registered resets the back-off
            flow_timer = (resp.get("flow-timer") or "").strip()
            if flow_timer.isdigit() and 0 < len(flow_timer) < 7 and int(flow_timer) > 0:
                # RFC 5626 §4.4.1: keep-alives at 80-100 % of the registrar's Flow-Timer.
                interval = int(flow_timer) * (0.8 + 0.2 * ua.rng.random())
                ua.endpoint.set_keepalive(self.flow, interval, now)
        # Refresh ahead of expiry: half-way for short bindings, 30 s early for long ones.
        margin = min(granted / 2.0, 30.0)
        self._arm(now + granted - margin)
        ua.emit(RegistrationChanged(registration=self, state=self.state, expires=granted,
                                    status_code=code, contact=self.contact))

    def _granted(self, resp: Response, asked: int) -> int:
        """§10.2.4: the expiry of our binding, from its Contact's ``expires`` or Expires."""
        ours = self._contact_uri()
        try:
            contacts = resp.contact
        except ParseError:
            contacts = []
        for contact in contacts:
            try:
                uri = contact.uri
            except ParseError:
                continue
            if ours is not None and uri == ours:
                value = (contact.params.get("expires") or "").strip()
                if value.isdigit() and len(value) < 10:
                    return int(value)
        header = (resp.get("expires") or "").strip()
        if header.isdigit() and len(header) < 10:
            return int(header)
        return asked

    def _contact_uri(self) -> SipUri | None:
        text = (self.contact or "").strip("<>")
        try:
            uri = parse_uri(text)
        except ParseError:
            return None
        return uri if isinstance(uri, SipUri) else None

    def _learn_public_address(self, resp: Response) -> bool:
        """RFC 3581 §4: the registrar saw us at Via received/rport; use that in Contact."""
        ua = self.ua
        if not ua.config.fix_contact_from_via:
            return False
        try:
            top = resp.via[0]
        except (ParseError, IndexError):
            return False
        if top.transport.upper() != "UDP":
            # RFC 3581 is for datagrams: over TCP/TLS/WS the rport is the connection's
            # ephemeral source port, not a NAT binding to reach us at (requests to us reuse
            # or reopen connections, RFC 3261 §18.2.2); the Contact keeps our listener.
            return False
        received, rport = top.received, top.rport
        if received is None and rport is None:
            return False
        current = ua.public_address or ua.config.local
        public: Address = (strip_brackets(received) if received else current[0], rport or current[1])
        if public == current:
            return False
        log.info("registrar sees us at %s:%d, fixing Contact", *public)
        self._stale_contact = self.contact
        ua.set_public_address(public)
        return True

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.ua.timers.arm(when, self._on_timer)

    def _on_timer(self, now: float) -> None:
        self._timer = None
        if self._want is _Want.REGISTERED:
            self._send(now, self.requested)

    def _failed(self, now: float, code: int) -> None:
        self.state = RegistrationState.FAILED
        self.expires = 0
        self.ua.emit(RegistrationChanged(registration=self, state=self.state, status_code=code))
        if self._want is _Want.REGISTERED:
            self._arm(now + self.retry_after)


def start_registration(ua: UserAgent, registrar: str, now: float, *, expires: int = 3600,
                       aor: str | None = None) -> Registration:
    if expires < 0:
        raise LocalProtocolError("dialog layer: registration expires must not be negative")
    if aor is None:
        try:
            uri = parse_uri(registrar)
        except ParseError as exc:
            raise LocalProtocolError(f"dialog layer: bad registrar URI {registrar!r}: {exc.reason}") from None
        host = uri.host if isinstance(uri, SipUri) else ua.config.local[0]
        aor = f"sip:{ua.config.user}@{host}"
    reg = Registration(ua=ua, registrar=registrar, aor=aor, requested=expires, call_id=ua.new_call_id())
    reg._send(now, expires)
    return reg
