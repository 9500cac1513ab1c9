"""The :class:`UserAgent`: one sans-I/O object an application drives to make and take calls.

It owns a transaction :class:`~rvoip_sansio.transaction.Endpoint` and keeps the same
contract (``receive`` / ``datagrams_to_send`` / ``next_event`` / ``next_deadline`` /
``handle_timeout``). Transaction events are consumed here, on input: requests are routed to
their dialog (RFC 3261 §12.2.2) or start one, responses go to whoever sent the request,
401/407 challenges are answered with credentials and the request sent again (§22.2), and
OPTIONS is answered at once, in or out of a call. What the application should know comes
out as the events of :mod:`._events`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable, Iterable, Protocol

import attrs

from rvoip_sansio._core import Address, Event, LocalProtocolError, ParseError, RandomSource, Transmit
from rvoip_sansio.sdp import LocalCapabilities
from rvoip_sansio.sip import HeaderValue, Request, Response, make_response
from rvoip_sansio.sip.auth import ChallengeOutcome, Credentials, DigestClient, DigestServer
from rvoip_sansio.transaction import (
    CancelReceived,
    ConnectionClosed,
    ConnectionOpened,
    Endpoint,
    RequestReceived,
    ResponseReceived,
    STREAM_TRANSPORTS,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)

from . import _contact, _invite, _publish, _refer, _reoffer, _subscribe
from ._call import Call, CallState
from ._config import ALLOWED_METHODS, UAConfig
from ._dialog import Dialog, uri_address
from ._events import MessageReceived, RequestCompleted, TransferRequested
from ._publish import Publication
from ._register import Registration, start_registration
from ._subscribe import Subscription
from ._timers import TimerHeap

__all__ = ["UserAgent", "RequestHandler", "ResponseHandler"]

log = logging.getLogger("rvoip_sansio.dialog")

#: Called with the final (or provisional) response to a request we sent, or None when it
#: timed out or could not be sent.
ResponseHandler = Callable[[Response | None, float], object]

#: Seconds between CRLF keep-alives on an RFC 5626 UA's flows when its EndpointConfig sets
#: none (RFC 5626 §4.4.1 leaves the interval to the UA when the registrar sends no Flow-Timer).
OUTBOUND_KEEPALIVE = 120.0

_ALLOW = ", ".join(ALLOWED_METHODS)
_SUPPORTED = "replaces, timer, norefersub"
_SUPPORTED_100REL = "100rel, " + _SUPPORTED


class RequestHandler(Protocol):
    """A server core plugged into a UA for one method (a registrar for REGISTER)."""

    def handle_request(self, request: Request, source: Address, now: float) -> Response: ...


@attrs.define(slots=True, eq=False)
class _Pending:
    """A client transaction we started and what to do with its responses."""

    request: Request
    dest: Address
    handler: ResponseHandler
    call: Call | None
    tries: int = 0


class UserAgent:
    """A SIP user agent (RFC 3261 §8, §12–15) with calls, messages and registrations.

    ``auth`` makes the UA challenge incoming requests whose method is in ``auth_methods``
    (401, RFC 3261 §22.1). ``serve(method, handler)`` plugs a server core (registrar) in.
    """

    def __init__(
        self,
        *,
        config: UAConfig,
        rng: RandomSource,
        auth: DigestServer | None = None,
        auth_methods: Iterable[str] = ("INVITE",),
    ) -> None:
        self.config = config
        self.rng = rng
        endpoint_config = config.endpoint
        if config.instance_id is not None and endpoint_config.keepalive_interval is None:
            # RFC 5626 §4.4.1: a UA keeps its flows alive (CRLF pings on connections it
            # opened; a missing pong closes the flow, and the registration moves to a new one).
            endpoint_config = attrs.evolve(endpoint_config, keepalive_interval=OUTBOUND_KEEPALIVE)
        self.endpoint = Endpoint(local=config.local, rng=rng, config=endpoint_config,
                                 report_terminated=True)
        self.digest = DigestClient(credentials=config.credentials, rng=rng)
        self.auth = auth
        self.auth_methods = frozenset(m.upper() for m in auth_methods)
        self.timers = TimerHeap()
        self.active_calls = 0
        #: Set by drain(): new calls are refused with 503 while running ones go on.
        self.draining = False
        self._events: deque[Event] = deque()
        self._dialogs: dict[tuple[str, str, str], Call] = {}
        self._uas_invites: dict[TransactionKey, Call] = {}
        self._subscriptions: dict[tuple[str, str, str], Subscription] = {}
        # RFC 3261 §8.2.2.2: out-of-dialog requests in progress, to spot merged ones.
        self._merging: dict[tuple[str, str, int, str], tuple[str | None, TransactionKey]] = {}
        self._merging_by_tx: dict[TransactionKey, tuple[str, str, int, str]] = {}
        self._unconfirmed: dict[tuple[str, str], Subscription] = {}
        self._pending: dict[TransactionKey, _Pending] = {}
        self._handlers: dict[str, RequestHandler] = {}
        #: First offer/answer exchanges negotiated once per kind (see _media).
        self.sdp_cache: dict[object, object] = {}
        self._handle = 0
        self._cseq = 0
        self.public_address: Address | None = config.contact_address
        self._contact = ""
        self._from = ""
        #: Listener address per connection-oriented transport (add_transport).
        self._listeners: dict[str, Address] = {}
        #: RFC 5626 registrations over a flow, told when a connection closes.
        self._outbound: set[Registration] = set()
        self._refresh_identity()

    # ---- identity ----------------------------------------------------------------------

    def _refresh_identity(self) -> None:
        cfg = self.config
        host, port = self.public_address or cfg.local
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        transport = cfg.endpoint.transport.upper()
        params = "" if transport == "UDP" else f";transport={transport.lower()}"
        self._contact = f"<sip:{cfg.user}@{host}:{port}{params}>"
        aor = cfg.aor or f"sip:{cfg.user}@{host}"
        name = f'"{cfg.display_name}" ' if cfg.display_name else ""
        self._from = f"{name}<{aor}>"

    @property
    def contact(self) -> str:
        """Our Contact header value (fixed from Via received/rport behind NAT)."""
        return self._contact

    def contact_for(self, transport: str | None, *, secure: bool = False) -> str:
        """Our Contact for a message over ``transport`` (see :mod:`._contact`); with
        ``instance_id`` (RFC 5626 §4.3) a Contact over a connection carries ``;ob``."""
        value = _contact.contact_for(self, self._listeners, transport, secure)
        if (self.config.instance_id is not None and value.endswith(">")
                and (transport or self.config.endpoint.transport).upper() in STREAM_TRANSPORTS):
            value = value[:-1] + ";ob>"
        return value

    def request_contact(self, target: str, routes: Iterable[str] = ()) -> str:
        """The Contact for a request to ``target`` whose first hop is ``routes[0]``."""
        return _contact.request_contact(self, target, routes)

    def dialog_contact(self, dialog: Dialog) -> str:
        """The Contact for a request we send in ``dialog``."""
        return _contact.dialog_contact(self, dialog)

    def response_contact(self, request: Request) -> str:
        """The Contact for our response to ``request``."""
        return _contact.response_contact(self, request)

    @property
    def from_header(self) -> str:
        return self._from

    def set_public_address(self, address: Address) -> None:
        """Use ``address`` in Contact from now on (learnt from a registrar's Via, RFC 3581)."""
        self.public_address = address
        self._refresh_identity()

    def add_credentials(self, credentials: Credentials) -> None:
        self.digest.add_credentials(credentials)

    def serve(self, method: str, handler: RequestHandler) -> None:
        """Answer out-of-dialog requests of ``method`` with ``handler`` (a registrar...)."""
        self._handlers[method.upper()] = handler

    # ---- the sans-I/O contract ---------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float) -> None:
        self.endpoint.receive(data, source, now)
        self._process(now)

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        return self.endpoint.datagrams_to_send(now)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        a = self.endpoint.next_deadline()
        b = self.timers.next_deadline()
        if a is None:
            return b
        return a if b is None or a < b else b

    def handle_timeout(self, now: float) -> None:
        self.endpoint.handle_timeout(now)
        self._process(now)
        self.timers.fire(now)
        self._process(now)

    def transport_error(self, dest: Address, now: float) -> None:
        self.endpoint.transport_error(dest, now)
        self._process(now)

    # ---- connection-oriented transports (docs/transports.md) -----------------------------

    def add_transport(self, transport: str, local: Address) -> None:
        """The adapter listens for ``transport`` (TCP, TLS, WS, WSS) on ``local``
        (see ``Endpoint.add_transport``)."""
        self.endpoint.add_transport(transport, local)
        self._listeners[transport.upper()] = local

    def connection_made(self, peer: Address, transport: str, now: float) -> None:
        self.endpoint.connection_made(peer, transport, now)
        self._process(now)

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None:
        self.endpoint.data_received(peer, transport, data, now)
        self._process(now)

    def connection_lost(self, peer: Address, transport: str, now: float) -> None:
        self.endpoint.connection_lost(peer, transport, now)
        self._process(now)

    def close_connections(self, now: float) -> None:
        self.endpoint.close_connections(now)
        self._process(now)

    # ---- application verbs -------------------------------------------------------------

    def invite(
        self,
        target: str,
        now: float,
        *,
        sdp: bytes | None = None,
        media: LocalCapabilities | None = None,
        headers: Iterable[tuple[str, HeaderValue]] = (),
        from_header: str | None = None,
        call_id: str | None = None,
        late_offer: bool = False,
        expires: int | None = None,
    ) -> Call:
        """Call ``target`` (a SIP URI). The SDP offer comes from the UA's media
        capabilities (or ``media``), or is ``sdp`` verbatim; with ``late_offer`` the INVITE
        has no SDP and we answer the peer's offer (in a reliable provisional response's
        PRACK, RFC 3262 §5, or in the ACK). ``expires``: the INVITE's Expires; the call is
        CANCELled if no final response came by then (RFC 3261 §13.2.1). Returns the call."""
        if expires is not None and not 0 <= expires < 2**32:
            raise LocalProtocolError(f"dialog layer: Expires {expires} out of range")
        return _invite.start_call(self, target, now, sdp, media, tuple(headers), from_header, call_id,
                                  late_offer, expires)

    def register(self, registrar: str, now: float, *, expires: int = 3600, aor: str | None = None,
                 credentials: Credentials | None = None) -> Registration:
        """Register with ``registrar`` (a SIP URI) and keep the binding refreshed; the
        :class:`Registration` can ``unregister(now)``. Progress comes as RegistrationChanged."""
        if credentials is not None:
            self.digest.add_credentials(credentials)
        return start_registration(self, registrar, now, expires=expires, aor=aor)

    def subscribe(self, target: str, event: str, now: float, *, expires: int = 3600,
                  accept: str | None = None) -> Subscription:
        """Subscribe to ``event`` at ``target`` (RFC 6665): NotificationReceived for each
        NOTIFY, SubscriptionChanged as it starts, refreshes and ends."""
        return _subscribe.subscribe(self, target, event, now, expires=expires, accept=accept)

    def publish(self, target: str, event: str, body: bytes, now: float, *, content_type: str,
                expires: int = 3600) -> Publication:
        """Publish event state (RFC 3903), refreshed until ``publication.remove(now)``."""
        return _publish.publish(self, target, event, body, now, content_type=content_type, expires=expires)

    def refer(self, target: str, refer_to: str, now: float, *, subscribe: bool = True) -> Subscription:
        """A REFER outside any dialog (RFC 3515 §2.4.2): ask ``target`` to call
        ``refer_to``. Its NOTIFYs (message/sipfrag) arrive as :class:`NotificationReceived`
        on the returned subscription; ``subscribe=False`` sends ``Refer-Sub: false``
        (RFC 4488) and the subscription ends when the 2xx confirms there is none."""
        return _refer.refer_out_of_dialog(self, target, refer_to, now, subscribe)

    def follow_transfer(self, event: TransferRequested, now: float, *,
                        media: LocalCapabilities | None = None) -> Call:
        """Call the target of a REFER the UA did not follow itself (``follow_transfers=False``),
        in a call or outside one; its outcome goes to the referrer by NOTIFY. ``media``: the
        new call's capabilities (default: the transferred call's, or the UA's)."""
        return _refer.follow_request(self, event, now, media)

    def drain(self) -> None:
        """Refuse new calls (503) from now on; running calls go on. The adapter waits until
        ``active_calls`` is 0 (or hangs up what is left) before closing."""
        self.draining = True

    def send_message(self, target: str, text: str | bytes, now: float, *,
                     content_type: str = "text/plain;charset=UTF-8",
                     headers: Iterable[tuple[str, HeaderValue]] = ()) -> int:
        """An instant message (RFC 3428) outside any call; returns the handle of its
        :class:`RequestCompleted`."""
        body = text.encode("utf-8") if isinstance(text, str) else text
        return self.send_out_of_dialog("MESSAGE", target, now,
                                       [("Content-Type", content_type), *headers], body)

    def options(self, target: str, now: float) -> int:
        """An OPTIONS ping (RFC 3261 §11); returns the handle of its RequestCompleted."""
        return self.send_out_of_dialog("OPTIONS", target, now, [("Accept", "application/sdp")])

    def send_out_of_dialog(self, method: str, target: str, now: float,
                           headers: Iterable[tuple[str, HeaderValue]] = (), body: bytes = b"") -> int:
        self._handle += 1
        handle = self._handle
        req = self.new_request(method, target, headers=headers, body=body)

        def done(resp: Response | None, t: float) -> None:
            if resp is None or resp.status_code >= 200:
                code = 408 if resp is None else resp.status_code
                self.emit(RequestCompleted(handle=handle, method=method, status_code=code, response=resp))

        self.send(req, now, done)
        return handle

    @property
    def calls(self) -> list[Call]:
        """Calls that are not over, in no particular order."""
        seen: dict[int, Call] = {}
        for call in self._dialogs.values():
            if call.state is not CallState.ENDED:
                seen[id(call)] = call
        for call in self._uas_invites.values():
            if call.state is not CallState.ENDED:
                seen[id(call)] = call
        for p in self._pending.values():
            if p.call is not None and p.call.state is not CallState.ENDED:
                seen[id(p.call)] = p.call
        return list(seen.values())

    # ---- helpers for the session logic -------------------------------------------------

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def new_call_id(self) -> str:
        return f"{self.rng.getrandbits(96):024x}@{self.config.local[0]}"

    def next_cseq(self) -> int:
        self._cseq += 1
        return self._cseq

    def new_request(
        self,
        method: str,
        target: str,
        *,
        headers: Iterable[tuple[str, HeaderValue]] = (),
        body: bytes = b"",
        call_id: str | None = None,
        from_header: str | None = None,
        to_header: str | None = None,
        cseq: int | None = None,
    ) -> Request:
        """An out-of-dialog request (RFC 3261 §8.1.1) from us to ``target``."""
        cfg = self.config
        out: list[tuple[str, HeaderValue]] = []
        if cfg.outbound_proxy is not None:
            out.append(("Route", f"<{cfg.outbound_proxy};lr>"))
        out += [
            ("Max-Forwards", "70"),
            ("From", f"{from_header or self._from};tag={self.endpoint.new_tag()}"),
            ("To", to_header or f"<{target}>"),
            ("Call-ID", call_id or self.new_call_id()),
            ("CSeq", f"{cseq if cseq is not None else self.next_cseq()} {method}"),
        ]
        if method in ("INVITE", "SUBSCRIBE", "REFER", "REGISTER", "OPTIONS"):
            routes = [f"<{cfg.outbound_proxy};lr>"] if cfg.outbound_proxy is not None else []
            out.append(("Contact", self.request_contact(target, routes)))
        if cfg.user_agent:
            out.append(("User-Agent", cfg.user_agent))
        out.extend(headers)
        return Request(method, target, out, body)

    def send(self, request: Request, now: float, handler: ResponseHandler, *,
             dest: Address | None = None, call: Call | None = None) -> TransactionKey:
        """Send a request in a new client transaction; responses go to ``handler``.
        Credentials remembered from earlier challenges are added (RFC 3261 §22.3)."""
        if self.digest.realms:
            request.remove("authorization")
            request.remove("proxy-authorization")
            for name, value in self.digest.authorize(method=request.method, uri=request.uri_text,
                                                     body=request.body):
                request.add(name, value)
        if dest is None:
            dest = self._destination(request)
        key = self.endpoint.send_request(request, now, dest=dest)
        self._pending[key] = _Pending(request=request, dest=dest, handler=handler, call=call)
        return key

    def pending_destination(self, key: TransactionKey) -> Address | None:
        """Where the request of a client transaction we started was sent."""
        pending = self._pending.get(key)
        return None if pending is None else pending.dest

    def _destination(self, request: Request) -> Address:
        routes = request.get_all("route", split=True)
        try:
            if routes:
                from rvoip_sansio.sip import parse_name_addr
                return uri_address(parse_name_addr(routes[0]).uri_text, self.config.endpoint.transport)
            return uri_address(request.uri_text, self.config.endpoint.transport)
        except ParseError as exc:
            raise LocalProtocolError(f"dialog layer: no destination for {request.uri_text}: {exc.reason}") from None

    def respond(self, request: Request, transaction: TransactionKey | None, code: int, now: float, *,
                reason: str | None = None, to_tag: str | None = None,
                headers: Iterable[tuple[str, HeaderValue]] = (), body: bytes = b"") -> Response:
        """Answer a server transaction (a To tag is added when the request had none)."""
        if to_tag is None and code > 100 and request.to.tag is None:
            to_tag = self.endpoint.new_tag()
        resp = make_response(request, code, reason, to_tag=to_tag, headers=headers, body=body)
        self.endpoint.send_response(resp, now, transaction=transaction)
        return resp

    def capability_headers(self) -> list[tuple[str, HeaderValue]]:
        return [("Allow", _ALLOW), ("Supported", _SUPPORTED_100REL if self.config.prack else _SUPPORTED)]

    def track_outbound(self, reg: Registration, on: bool) -> None:
        if on:
            self._outbound.add(reg)
        else:
            self._outbound.discard(reg)

    def register_dialog(self, key: tuple[str, str, str], call: Call) -> None:
        self._dialogs[key] = call

    def forget_dialog(self, key: tuple[str, str, str]) -> None:
        self._dialogs.pop(key, None)

    def register_subscription(self, key: tuple[str, str, str], sub: Subscription) -> None:
        self._subscriptions[key] = sub
        self._unconfirmed.pop((key[0], key[1]), None)

    def forget_subscription(self, key: tuple[str, str, str]) -> None:
        self._subscriptions.pop(key, None)
        self._unconfirmed.pop((key[0], key[1]), None)

    def expect_subscription(self, sub: Subscription) -> None:
        """A SUBSCRIBE of ours is out: its first NOTIFY may come before the 2xx."""
        self._unconfirmed[(sub.call_id, sub.local_tag)] = sub

    def pending_subscription(self, call_id: str, local_tag: str) -> Subscription | None:
        return self._unconfirmed.get((call_id, local_tag))

    def forget_invite(self, key: TransactionKey | None) -> None:
        if key is not None:
            self._uas_invites.pop(key, None)

    def track_invite(self, key: TransactionKey, call: Call) -> None:
        self._uas_invites[key] = call

    def _send_in_dialog(self, call: Call, method: str, now: float,
                        headers: Iterable[tuple[str, HeaderValue]], body: bytes,
                        on_done: ResponseHandler | None = None) -> int:
        dialog = call.dialog
        if dialog is None:
            raise LocalProtocolError(f"dialog layer: call {call.call_id} has no dialog for {method}")
        self._handle += 1
        handle = self._handle
        req, dest = dialog.request(method, self.dialog_contact(dialog), headers=headers, body=body)

        def done(resp: Response | None, t: float) -> None:
            if resp is None or resp.status_code >= 200:
                if on_done is not None:
                    on_done(resp, t)
                code = 408 if resp is None else resp.status_code
                self.emit(RequestCompleted(handle=handle, method=method, status_code=code, response=resp))
                if code in (408, 481):
                    _invite.dialog_failed(self, call, t, code)  # RFC 3261 §12.2.1.2

        self.send(req, now, done, dest=dest, call=call)
        return handle

    # ---- transaction events ------------------------------------------------------------

    def _process(self, now: float) -> None:
        endpoint = self.endpoint
        while (ev := endpoint.next_event()) is not None:
            if isinstance(ev, RequestReceived):
                try:
                    self._on_request(ev.request, ev.source, ev.transaction, now)
                except ParseError as exc:
                    self._bad_request(ev.request, ev.transaction, exc, now)
            elif isinstance(ev, ResponseReceived):
                self._on_response(ev.response, ev.transaction, now)
            elif isinstance(ev, TransactionTerminated):
                self._pending.pop(ev.transaction, None)
                self._uas_invites.pop(ev.transaction, None)
                merged = self._merging_by_tx.pop(ev.transaction, None)
                if merged is not None:
                    self._merging.pop(merged, None)
            elif isinstance(ev, CancelReceived):
                call = self._uas_invites.get(ev.invite_transaction) if ev.invite_transaction else None
                if call is not None and ev.answered:
                    _invite.remote_cancelled(self, call, now)
            elif isinstance(ev, (TransactionTimeout, TransportError)):
                key = ev.transaction
                pending = self._pending.pop(key, None) if key is not None else None
                if pending is not None:
                    pending.handler(None, now)
                elif isinstance(ev, TransactionTimeout) and key is not None:
                    self._uas_invites.pop(key, None)
            elif isinstance(ev, (ConnectionOpened, ConnectionClosed)):
                self.emit(ev)  # the application may watch its connections (docs/transports.md)
                if isinstance(ev, ConnectionClosed):
                    for reg in list(self._outbound):
                        reg.flow_closed(ev.transport, ev.peer, now)

    def _bad_request(self, req: Request, key: TransactionKey | None, exc: ParseError, now: float) -> None:
        log.debug("bad request %s: %s", req.method, exc.reason)
        if key is not None and req.method != "ACK":
            try:
                self.respond(req, key, 400, now, reason=f"Bad Request ({exc.reason})"[:100])
            except (LocalProtocolError, ParseError):
                pass

    def _on_response(self, resp: Response, key: TransactionKey, now: float) -> None:
        pending = self._pending.get(key)
        if pending is None:
            return
        code = resp.status_code
        if code >= 200 and pending.request.method != "INVITE":
            del self._pending[key]
        try:
            if (code == 401 or code == 407) and pending.tries < 2 and self._retry_with_auth(pending, resp, now):
                return
            pending.handler(resp, now)
        except ParseError as exc:
            # A response whose headers turn out malformed when read (RFC 3261 §8.1.3.3:
            # treat as unusable); the transaction layer already absorbed it.
            log.debug("unusable %d response: %s", code, exc.reason)

    def _retry_with_auth(self, pending: _Pending, resp: Response, now: float) -> bool:
        proxy = resp.status_code == 407
        values = resp.get_all("proxy-authenticate" if proxy else "www-authenticate", split=False)
        if self.digest.handle_challenge(values, proxy=proxy) is not ChallengeOutcome.RETRY:
            return False
        old = pending.request
        number = old.cseq.number + 1
        call = pending.call
        if call is not None and call.dialog is not None and old.to.tag is not None:
            # An in-dialog request: the retry's CSeq is the dialog's next one (§12.2.1.1).
            call.dialog.local_seq = max(call.dialog.local_seq, number)
        skip = {"via", "authorization", "proxy-authorization", "cseq"}
        headers: list[tuple[str, HeaderValue]] = [(n, v) for n, v in old.headers if n.lower() not in skip]
        headers.append(("CSeq", f"{number} {old.method}"))
        new = Request(old.method, old.uri_text, headers, old.body)
        key = self.send(new, now, pending.handler, dest=pending.dest, call=call)
        self._pending[key].tries = pending.tries + 1
        if call is not None and old.method == "INVITE" and call.invite is old:
            call.invite = new
            call.invite_key = key
        return True

    # ---- requests ----------------------------------------------------------------------

    def _on_request(self, req: Request, source: Address, key: TransactionKey | None, now: float) -> None:
        method = req.method
        if method == "ACK":
            _invite.on_ack(self, req, now)
            return
        assert key is not None
        to_tag = req.to.tag
        if to_tag is not None:
            dialog_id = (req.call_id, to_tag, req.from_.tag or "")
            call = self._dialogs.get(dialog_id)
            if call is None and (self._subscriptions or self._unconfirmed):
                sub = self._subscriptions.get(dialog_id)
                if sub is not None:
                    _subscribe.in_subscription_dialog(self, sub, req, key, now)
                    return
                if method == "NOTIFY" and _subscribe.on_notify_for_subscription(self, req, key, now):
                    return
            if call is None:
                handler = self._handlers.get(method)
                if handler is not None:
                    self.endpoint.send_response(handler.handle_request(req, source, now), now, transaction=key)
                elif method == "OPTIONS":
                    self._answer_options(req, key, now)
                else:
                    # RFC 3261 §12.2.2: a request for a dialog we do not know.
                    self.respond(req, key, 481, now)
                return
            _reoffer.in_dialog_request(self, call, req, source, key, now)
            return
        if self._merged(req, key, now):
            return
        if self.auth is not None and method in self.auth_methods and not self._authorized(req, key, now):
            return
        if method == "INVITE":
            _invite.incoming_invite(self, req, source, key, now)
        elif method in self._handlers:
            self.endpoint.send_response(self._handlers[method].handle_request(req, source, now), now,
                                        transaction=key)
        elif method == "OPTIONS":
            self._answer_options(req, key, now)
        elif method == "SUBSCRIBE":
            _subscribe.on_subscribe(self, req, source, key, now)
        elif method == "REFER":
            _refer.on_refer_out_of_dialog(self, req, source, key, now)
        elif method == "MESSAGE":
            self.respond(req, key, 200, now)
            self.emit(MessageReceived(sender=req.get("from") or "", content_type=req.content_type,
                                      body=req.body, request=req))
        elif method in ALLOWED_METHODS:
            # In-dialog methods outside a dialog (§12.2.2), BYE/INFO/PRACK/UPDATE/NOTIFY.
            self.respond(req, key, 481, now)
        else:
            # RFC 3261 §8.2.1: a method we do not implement.
            self.respond(req, key, 501 if method not in ("REGISTER", "PUBLISH") else 405, now,
                         headers=[("Allow", _ALLOW)])

    def _merged(self, req: Request, key: TransactionKey, now: float) -> bool:
        """§8.2.2.2: the same request (From tag, Call-ID, CSeq) arriving again through
        another path (a different branch) while the first is in progress gets 482."""
        merge_key = (req.call_id, req.from_.tag or "", req.cseq.number, req.method)
        branch = req.via[0].branch
        seen = self._merging.get(merge_key)
        if seen is not None and seen[1] != key and seen[0] != branch:
            self.respond(req, key, 482, now)
            return True
        if seen is None and len(self._merging) < self.config.endpoint.max_transactions:
            self._merging[merge_key] = (branch, key)
            self._merging_by_tx[key] = merge_key
        return False

    def _answer_options(self, req: Request, key: TransactionKey, now: float) -> None:
        # RFC 3261 §11.2: answer as we would an INVITE, with our capabilities; never
        # touches a call (a PBX's keep-alive must not disturb one).
        headers = self.capability_headers()
        headers += [("Accept", "application/sdp"), ("Contact", self.response_contact(req))]
        self.respond(req, key, 200, now, headers=headers)

    def _authorized(self, req: Request, key: TransactionKey, now: float) -> bool:
        assert self.auth is not None
        header = "proxy-authorization" if self.auth.config.proxy else "authorization"
        result = self.auth.verify(method=req.method, authorization=req.get(header), now=now,
                                  body=req.body)
        if result.ok:
            return True
        self.respond(req, key, result.status_code, now,
                     headers=[(result.header_name, c) for c in result.challenges])
        return False
