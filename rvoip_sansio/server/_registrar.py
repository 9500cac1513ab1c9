"""A registrar core (RFC 3261 §10.3): bindings with expiry from ``now``, q-values,
``Contact: *`` removal, and digest authentication against a credentials store; RFC 5626
(SIP Outbound) flows: a binding remembers the connection its REGISTER came on, one binding
per ``+sip.instance`` and ``reg-id``, and a binding whose flow failed is not routed to.

Pure: :meth:`Registrar.handle_request` takes a REGISTER and ``now`` and returns the
response; :meth:`Registrar.lookup` gives the live bindings of an address-of-record, best q
first (what a proxy or B2BUA routes to). Plug it into a UA with ``ua.serve("REGISTER", reg)``.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import attrs

from rvoip_sansio._core import Address, ParseError
from rvoip_sansio.sip import HeaderValue, NameAddr, Request, Response, SipUri, TelUri, Uri, make_response, parse_uri
from rvoip_sansio.sip.auth import DigestServer
from rvoip_sansio.transaction import STREAM_TRANSPORTS, invalid_host

__all__ = ["Registrar", "RegistrarConfig", "Binding", "Flow", "aor_key"]

#: A connection: its transport and the peer's address (the endpoint's connection key).
Flow = tuple[str, Address]

log = logging.getLogger("rvoip_sansio.server")


@attrs.frozen(kw_only=True)
class RegistrarConfig:
    default_expires: int = 3600
    min_expires: int = 60  # §10.3 step 7: shorter requests get 423 with Min-Expires
    max_expires: int = 7200
    max_aors: int = 100_000  # beyond this, new AORs are refused (503): memory stays bounded
    max_bindings_per_aor: int = 16
    #: Accept only AORs in these domains (empty: any). §10.3 step 1.
    domains: tuple[str, ...] = ()
    #: RFC 5626 §5.4: ``Flow-Timer`` (seconds) in the 200 to an outbound REGISTER, the most
    #: the UA may wait between keep-alives on its flow (None: no header, the UA chooses).
    flow_timer: int | None = None


@attrs.frozen(kw_only=True)
class Binding:
    """One contact bound to an address-of-record (§10.3)."""

    aor: str
    contact: str  # the Contact URI as sent
    expires_at: float
    q: float
    call_id: str
    cseq: int
    source: Address | None = None
    #: The connection the REGISTER came on (``(transport, peer)``), when connection-oriented.
    flow: Flow | None = None
    #: RFC 5626 §4.1 ``+sip.instance`` (a URN, quotes and brackets kept as sent) and ``reg-id``.
    instance: str | None = None
    reg_id: int | None = None
    #: The flow closed (RFC 5626 §5.3): requests for this binding cannot be delivered.
    flow_failed: bool = False

    @property
    def outbound(self) -> bool:
        """An RFC 5626 binding: instance and reg-id, registered over a flow to us as first hop."""
        return self.flow is not None and self.instance is not None and self.reg_id is not None

    @property
    def flow_only(self) -> bool:
        """Only its flow reaches it: an outbound binding, or a Contact with a ``.invalid`` host
        (RFC 7118 §5: a WebSocket client cannot accept connections)."""
        return self.outbound or _invalid_contact(self.contact)

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


def aor_key(uri: Uri) -> str:
    """The canonical address-of-record of a To URI: ``sip:user@host`` (§10.3 step 5)."""
    if isinstance(uri, SipUri):
        user = f"{uri.user}@" if uri.user else ""
        scheme = "sips" if uri.secure else "sip"
        return f"{scheme}:{user}{uri.host.lower()}"
    if isinstance(uri, TelUri):
        return f"tel:{uri.number}"
    return str(uri)


def _invalid_contact(contact: str) -> bool:
    try:
        uri = parse_uri(contact)
    except ParseError:
        return False
    return isinstance(uri, SipUri) and invalid_host(uri.host)  # (an IPv6 literal never is)


def _digits(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


class Registrar:
    """Bindings per address-of-record. ``auth`` (a :class:`DigestServer` over a credential
    store) makes every REGISTER authenticate; ``may_register(username, aor)`` decides who
    may change which AOR (by default: the user part must be the authenticated name)."""

    def __init__(
        self,
        *,
        config: RegistrarConfig | None = None,
        auth: DigestServer | None = None,
        may_register: Callable[[str, str], bool] | None = None,
        tag: Callable[[], str] | None = None,
    ) -> None:
        self.config = config if config is not None else RegistrarConfig()
        self.auth = auth
        self.may_register = may_register if may_register is not None else _same_user
        self._bindings: dict[str, dict[Uri, Binding]] = {}
        #: flow -> (AOR, Contact URI) of bindings registered over it (checked when used: an
        #: entry may name a binding since replaced); bounded per flow, dropped when it closes
        self._by_flow: dict[Flow, set[tuple[str, Uri]]] = {}
        self._tag = tag
        self._tags = 0
        self.registrations = 0  # accepted REGISTERs, for statistics

    # ---- queries -----------------------------------------------------------------------

    def lookup(self, aor: str | Uri, now: float) -> list[Binding]:
        """Live bindings of ``aor``, highest q first (expired ones are dropped here)."""
        key = aor_key(parse_uri(aor) if isinstance(aor, str) else aor)
        table = self._bindings.get(key)
        if not table:
            return []
        self._expire(key, table, now)
        return sorted(table.values(), key=lambda b: -b.q)

    def purge(self, now: float) -> int:
        """Drop every expired binding; returns how many went."""
        before = self.binding_count
        for key in list(self._bindings):
            self._expire(key, self._bindings[key], now)
        return before - self.binding_count

    def flow_closed(self, transport: str, peer: Address, now: float) -> int:
        """The connection ``(transport, peer)`` closed (the adapter's ``ConnectionClosed``).
        Bindings only that flow reaches are marked ``flow_failed`` (RFC 5626 §5.3: not
        routed to; a re-REGISTER over a new flow replaces them); the others just forget it
        (their Contact can still be reached by opening a connection). Returns how many were
        marked failed."""
        flow = (transport.upper(), peer)
        failed = 0
        for aor, uri in self._by_flow.pop(flow, ()):
            table = self._bindings.get(aor)
            b = table.get(uri) if table is not None else None
            if table is None or b is None or b.flow != flow or b.flow_failed:
                continue
            if b.expires_at <= now:
                continue  # lookups drop it
            if b.flow_only:
                table[uri] = attrs.evolve(b, flow_failed=True)
                failed += 1
            else:
                table[uri] = attrs.evolve(b, flow=None)
        return failed

    def _index_flow(self, flow: Flow, aor: str, uri: Uri) -> None:
        entries = self._by_flow.setdefault(flow, set())
        entries.add((aor, uri))
        if len(entries) > 2 * self.config.max_bindings_per_aor:
            # Prune entries whose binding has gone or moved to another flow.
            for aor_, uri_ in list(entries):
                b = self._bindings.get(aor_, {}).get(uri_)
                if b is None or b.flow != flow:
                    entries.discard((aor_, uri_))

    @property
    def binding_count(self) -> int:
        return sum(len(t) for t in self._bindings.values())

    def _expire(self, key: str, table: dict[Uri, Binding], now: float) -> None:
        for uri in [u for u, b in table.items() if b.expires_at <= now]:
            del table[uri]
        if not table:
            self._bindings.pop(key, None)

    # ---- REGISTER ----------------------------------------------------------------------

    def handle_request(self, request: Request, source: Address, now: float) -> Response:
        """Process one REGISTER (§10.3) and return the response to send."""
        if request.method != "REGISTER":
            return self._reply(request, 405, headers=[("Allow", "REGISTER")])
        try:
            return self._register(request, source, now)
        except ParseError as exc:
            return self._reply(request, 400, f"Bad Request ({exc.reason})"[:100])

    def _register(self, request: Request, source: Address, now: float) -> Response:
        cfg = self.config
        to_uri = request.to.uri
        aor = aor_key(to_uri)
        if cfg.domains and (not isinstance(to_uri, SipUri) or to_uri.host.lower() not in cfg.domains):
            return self._reply(request, 404, "Not Found (domain)")
        unsupported = [t.strip() for t in request.get_all("require", split=True)
                       if t.strip() and t.strip().lower() != "outbound"]
        if unsupported:
            return self._reply(request, 420, headers=[("Unsupported", ", ".join(unsupported))])
        if self.auth is not None:
            header = "proxy-authorization" if self.auth.config.proxy else "authorization"
            result = self.auth.verify(method="REGISTER", authorization=request.get(header), now=now)
            if not result.ok:
                return self._reply(request, result.status_code,
                                   headers=[(result.header_name, c) for c in result.challenges])
            assert result.username is not None
            if not self.may_register(result.username, aor):
                return self._reply(request, 403, "Forbidden (not your address-of-record)")
        call_id = request.call_id
        cseq = request.cseq.number
        header_expires = _digits(request.get("expires"))
        table = self._bindings.get(aor)
        if request.contact_star:
            # §10.3 step 6: "*" only alone and with Expires: 0.
            if len(request.get_all("contact", split=True)) != 1 or header_expires != 0:
                return self._reply(request, 400, "Bad Request (Contact: * needs Expires: 0)")
            if table:
                for uri, binding in list(table.items()):
                    if binding.call_id != call_id or cseq > binding.cseq:
                        del table[uri]
                if not table:
                    self._bindings.pop(aor, None)
            self.registrations += 1
            return self._reply(request, 200)
        changes: list[tuple[Uri, NameAddr, int, float]] = []
        flow = _flow_of(request, source)
        if sum(1 for c in request.contact if "reg-id" in c.params) > 1:
            # RFC 5626 §6: one flow per REGISTER.
            return self._reply(request, 400, "Bad Request (more than one Contact with reg-id)")
        outbound = False
        for contact in request.contact:
            expires = _digits(contact.params.get("expires"))
            if expires is None:
                expires = header_expires if header_expires is not None else cfg.default_expires
            if 0 < expires < cfg.min_expires:
                return self._reply(request, 423, headers=[("Min-Expires", str(cfg.min_expires))])
            q = _q_value(contact.params.get("q"))
            if q is None:
                return self._reply(request, 400, "Bad Request (q-value)")
            changes.append((contact.uri, contact, min(expires, cfg.max_expires), q))
        if table is None and changes:
            if len(self._bindings) >= cfg.max_aors:
                return self._reply(request, 503, "Service Unavailable (registrar full)",
                                   headers=[("Retry-After", "60")])
            table = {}
        if table is not None:
            self._expire_into(table, now)
            for uri, contact, expires, q in changes:
                old = table.get(uri)
                if old is not None and old.call_id == call_id and cseq <= old.cseq:
                    # §10.3 step 7: an out-of-order request for the same binding.
                    return self._reply(request, 500, "Server Internal Error (CSeq out of order)")
            for uri, contact, expires, q in changes:
                instance = contact.params.get("+sip.instance")
                reg_id = _digits(contact.params.get("reg-id"))
                if not (flow is not None and instance and reg_id is not None):
                    instance = reg_id = None  # RFC 5626 §6: not as first hop, plain RFC 3261
                else:
                    outbound = True
                    # RFC 5626 §6: the same instance and reg-id replace the old binding
                    # (a new flow, maybe a new Contact URI).
                    for old_uri in [u for u, b in table.items() if u != uri and b.instance == instance
                                    and b.reg_id == reg_id]:
                        del table[old_uri]
                if expires == 0:
                    table.pop(uri, None)
                    continue
                if uri not in table and len(table) >= cfg.max_bindings_per_aor:
                    return self._reply(request, 403, "Forbidden (too many bindings)")
                table[uri] = Binding(aor=aor, contact=contact.uri_text, expires_at=now + expires, q=q,
                                     call_id=call_id, cseq=cseq, source=source, flow=flow,
                                     instance=instance, reg_id=reg_id)
                if flow is not None:
                    self._index_flow(flow, aor, uri)
            if table:
                self._bindings[aor] = table
            else:
                self._bindings.pop(aor, None)
        self.registrations += 1
        # §10.3 step 8: the 200 lists every current binding with its remaining time.
        current = self.lookup(aor, now)
        contacts: list[tuple[str, HeaderValue]] = []
        for b in current:
            q_param = "" if b.q == 1.0 else f";q={b.q:g}"
            ob_params = "" if b.reg_id is None else f";reg-id={b.reg_id};+sip.instance={b.instance}"
            contacts.append(("Contact", f"<{b.contact}>;expires={b.remaining(now)}{q_param}{ob_params}"))
        if outbound:
            # RFC 5626 §6: tell the UA its flow is used for requests to it.
            contacts.append(("Require", "outbound"))
            if cfg.flow_timer is not None:
                contacts.append(("Flow-Timer", str(cfg.flow_timer)))
        return self._reply(request, 200, headers=contacts)

    def _expire_into(self, table: dict[Uri, Binding], now: float) -> None:
        for uri in [u for u, b in table.items() if b.expires_at <= now]:
            del table[uri]

    def _reply(self, request: Request, code: int, reason: str | None = None, *,
               headers: Iterable[tuple[str, HeaderValue]] = ()) -> Response:
        if self._tag is not None:
            tag = self._tag()
        else:
            self._tags += 1
            tag = f"r{self._tags:x}"
        return make_response(request, code, reason, to_tag=tag, headers=headers)


def _flow_of(request: Request, source: Address) -> Flow | None:
    """The connection a REGISTER came on (its Via's transport, when connection-oriented, and
    the source address) when we are its first hop: one Via (RFC 5626 §6 applies outbound
    only then, as we do no Path; through a proxy the connection is the proxy's)."""
    vias = request.via
    if len(vias) != 1 or vias[0].transport.upper() not in STREAM_TRANSPORTS:
        return None
    return (vias[0].transport.upper(), source)


def _q_value(text: str | None) -> float | None:
    """RFC 3261 §20.10: qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")])."""
    if text is None:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        return None
    if not 0.0 <= value <= 1.0 or len(text) > 5:
        return None
    return value


def _same_user(username: str, aor: str) -> bool:
    user = aor.split(":", 1)[-1].split("@", 1)[0]
    return user == username
