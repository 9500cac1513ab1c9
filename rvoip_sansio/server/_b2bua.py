"""A back-to-back user agent core: each incoming call (leg A) is bridged to an outgoing call
(leg B) to a target chosen by a routing function.

The B2BUA drives one :class:`~rvoip_sansio.dialog.UserAgent` without media capabilities, so
SDP bodies are relayed verbatim: the caller's offer goes out on leg B, leg B's provisional
responses (180, 183 with early media) and answer come back on leg A, re-INVITE/UPDATE offers
cross in both directions, INFO (DTMF) is relayed, and a hangup or failure on one side ends
the other (a final failure on B is answered on A with the same code). It keeps the datagram
contract itself; the UA's events are passed on to the application after the B2BUA acted.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable, Iterable

import attrs

from rvoip_sansio._core import Address, Event, LocalProtocolError, ParseError
from rvoip_sansio.dialog import (
    Call,
    CallAnswered,
    CallEnded,
    CallProgress,
    CallState,
    DtmfReceived,
    EndReason,
    IncomingCall,
    InfoReceived,
    MediaUpdated,
    OfferReceived,
    OfferRejected,
    UserAgent,
    uri_address,
)
from rvoip_sansio.dialog._forward import UAForwarding
from rvoip_sansio.sip import HeaderValue, Request, SipUri, parse_uri
from rvoip_sansio.transaction import uri_transport

from ._registrar import Flow, Registrar

__all__ = ["B2BUA", "Bridge", "Route", "Router", "route_to", "route_registered"]

log = logging.getLogger("rvoip_sansio.server")


@attrs.frozen(kw_only=True)
class Route:
    """Where leg B goes: a Request-URI, and headers to add to its INVITE.

    ``flow``: a connection ``(transport, peer)`` that reaches the target (RFC 5626: the one
    its REGISTER came on); leg B goes over it while it lives. ``flow_only``: nothing else
    reaches the target (an outbound binding, a ``.invalid`` Contact), so without the flow the
    call is refused 480. ``refuse``: refuse the call with this status instead of routing it.
    """

    target: str
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    flow: Flow | None = None
    flow_only: bool = False
    refuse: int | None = None


#: ``router(invite, source, now)`` -> a Route, or None to refuse the call (404).
Router = Callable[[Request, Address, float], "Route | None"]


def route_to(address: Address) -> Router:
    """Every call goes to ``address``, keeping the user part of the Request-URI."""
    host, port = address
    host_text = f"[{host}]" if ":" in host else host

    def router(invite: Request, source: Address, now: float) -> Route:
        uri = invite.uri
        user = f"{uri.user}@" if isinstance(uri, SipUri) and uri.user else ""
        return Route(target=f"sip:{user}{host_text}:{port}")

    return router


def route_registered(registrar: Registrar) -> Router:
    """Calls go to the best registered contact of the Request-URI's address-of-record, over
    the flow it registered on (RFC 5626 §5.3) when that still lives. An AOR with no binding
    is 404; one whose bindings can only be reached over flows that failed is 480 (RFC 5626
    §5.3 has an edge proxy answer 430; to a caller the user is temporarily unavailable)."""

    def router(invite: Request, source: Address, now: float) -> Route | None:
        bindings = registrar.lookup(invite.uri, now)
        if not bindings:
            return None
        for b in bindings:
            if not b.flow_failed:
                return Route(target=b.contact, flow=b.flow, flow_only=b.flow_only)
        return Route(target=bindings[0].contact, refuse=480)

    return router


@attrs.define(slots=True, eq=False)
class Bridge:
    """Two legs of one bridged call, and which leg has an offer waiting for the other."""

    a: Call
    b: Call
    offer_from: Call | None = None

    def other(self, call: Call) -> Call:
        return self.b if call is self.a else self.a


class B2BUA(UAForwarding):
    """Bridges calls through ``ua`` (built with ``media=None``). ``relay_headers`` are
    header-name prefixes copied from leg A's INVITE to leg B's (``X-`` by default)."""

    def __init__(self, *, ua: UserAgent, router: Router,
                 relay_headers: Iterable[str] = ("x-",)) -> None:
        if ua.config.media is not None:
            raise ValueError("B2BUA relays SDP: give it a UserAgent with media=None")
        self.ua = ua
        self.router = router
        self.relay_headers = tuple(p.lower() for p in relay_headers)
        self._bridges: dict[Call, Bridge] = {}
        self._events: deque[Event] = deque()
        self.bridged = 0  # calls bridged so far
        self.refused = 0

    @property
    def config(self) -> object:
        return self.ua.config

    @property
    def active_bridges(self) -> int:
        return len(self._bridges) // 2

    def bridge(self, call: Call) -> Bridge | None:
        """The bridge ``call`` is a leg of (leg A or B), while both legs are up."""
        return self._bridges.get(call)

    # ---- the sans-I/O contract ---------------------------------------------------------

    # receive, datagrams_to_send, transport_error and the connection-oriented calls come
    # from UAForwarding, so a B2BUA is a StreamCore too and bridges a caller on TCP/TLS/WS
    # to a callee on UDP.

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        return self.ua.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.ua.handle_timeout(now)
        self._process(now)

    # ---- bridging ----------------------------------------------------------------------

    def _process(self, now: float) -> None:
        ua = self.ua
        while (ev := ua.next_event()) is not None:
            try:
                self._on_event(ev, now)
            except LocalProtocolError as exc:  # a leg moved on meanwhile; nothing to relay
                log.debug("b2bua: %s", exc)
            self._events.append(ev)

    def _on_event(self, ev: Event, now: float) -> None:
        if isinstance(ev, IncomingCall):
            self._incoming(ev, now)
            return
        call = getattr(ev, "call", None)
        if not isinstance(call, Call):
            return
        bridge = self._bridges.get(call)
        if bridge is None:
            return
        other = bridge.other(call)
        if isinstance(ev, CallProgress):
            if call is bridge.b and other.state in (CallState.INCOMING, CallState.EARLY):
                other.ring(now, code=ev.status_code, sdp=ev.sdp)
        elif isinstance(ev, CallAnswered):
            if call is bridge.b and other.state in (CallState.INCOMING, CallState.EARLY):
                other.answer(now, sdp=call.remote_sdp)
        elif isinstance(ev, CallEnded):
            self._ended(bridge, call, other, ev, now)
        elif isinstance(ev, OfferReceived):
            self._relay_offer(bridge, call, other, ev, now)
        elif isinstance(ev, MediaUpdated):
            if bridge.offer_from is other and ev.sdp is not None:
                bridge.offer_from = None
                other.accept_offer(ev.sdp, now)
        elif isinstance(ev, OfferRejected):
            if bridge.offer_from is other:
                bridge.offer_from = None
                other.reject_offer(now, code=ev.status_code)
        elif isinstance(ev, DtmfReceived):
            if other.state is CallState.CONFIRMED:
                other.send_dtmf_info(ev.digit, now, duration_ms=ev.duration_ms)
        elif isinstance(ev, InfoReceived):
            if other.state is CallState.CONFIRMED:
                other.send_info(now, content_type=ev.content_type, body=ev.body)

    def _incoming(self, ev: IncomingCall, now: float) -> None:
        a = ev.call
        route = self.router(ev.request, ev.source, now)
        code = 404 if route is None else route.refuse
        if route is not None and code is None and route.flow is not None \
                and not self._use_flow(route.target, route.flow) and route.flow_only:
            code = 480  # RFC 5626 §5.3: the only flow to the target has gone
        if route is None or code is not None:
            self.refused += 1
            a.reject(now, code=code or 404)
            return
        headers: list[tuple[str, HeaderValue]] = [(n, v) for n, v in ev.request.headers if n.lower().startswith(self.relay_headers)]
        headers.extend(route.headers)
        b = self.ua.invite(route.target, now, sdp=a.remote_sdp, headers=headers)
        bridge = Bridge(a=a, b=b)
        self._bridges[a] = bridge
        self._bridges[b] = bridge
        self.bridged += 1

    def _use_flow(self, target: str, flow: Flow) -> bool:
        """Send what goes to ``target`` over the connection ``flow`` (False: it is gone)."""
        try:
            name = uri_transport(parse_uri(target)) or self.ua.config.endpoint.transport.upper()
            dest = uri_address(target, name)  # (a non-SIP URI: ParseError)
        except ParseError:
            return False
        return self.ua.endpoint.bind_flow(name, dest, flow)

    def _ended(self, bridge: Bridge, call: Call, other: Call, ev: CallEnded, now: float) -> None:
        self._bridges.pop(call, None)
        self._bridges.pop(other, None)
        if not other.is_active:
            return
        if call is bridge.b and other.state in (CallState.INCOMING, CallState.EARLY):
            code = ev.status_code if ev.status_code is not None and ev.status_code >= 300 else 480
            if ev.reason is EndReason.TIMEOUT:
                code = 408
            other.reject(now, code=code, reason=ev.reason_phrase or None)
            return
        other.hangup(now)

    def _relay_offer(self, bridge: Bridge, call: Call, other: Call, ev: OfferReceived, now: float) -> None:
        if ev.sdp is None:
            # An offerless re-INVITE: answer with the session as it stands (RFC 3264 §8).
            call.accept_offer(call.local_sdp or b"", now)
            return
        if other.state is not CallState.CONFIRMED or bridge.offer_from is not None:
            call.reject_offer(now, code=491)
            return
        try:
            if ev.method == "UPDATE":
                other.update(now, sdp=ev.sdp)
            else:
                other.reinvite(now, sdp=ev.sdp)
        except LocalProtocolError:
            call.reject_offer(now, code=491)  # glare with the other leg's own offer
            return
        bridge.offer_from = call
