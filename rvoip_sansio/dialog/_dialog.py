"""Dialogs (RFC 3261 §12): identity, route set, remote target, CSeq rules, request building.

A :class:`Dialog` is plain state plus the rules that read or change it. It is created by
the UAC from a response (§12.1.2) or by the UAS from a request (§12.1.1), builds in-dialog
requests with loose or strict routing (§12.2.1.1), and checks the remote CSeq of requests
it receives (§12.2.2).
"""

from __future__ import annotations

import enum
from typing import Iterable

import attrs

from rvoip_sansio._core import Address, ParseError
from rvoip_sansio.sip import HeaderValue, NameAddr, Request, Response, SipUri, parse_name_addr, parse_uri
from rvoip_sansio.transaction import STREAM_TRANSPORTS, invalid_host
from rvoip_sansio.transaction._sip import default_port, strip_brackets

__all__ = ["Dialog", "DialogState", "uri_address"]


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def uri_address(uri_text: str, transport: str = "UDP") -> Address:
    """Where to send to reach a SIP URI, without DNS: maddr or host, port or the default."""
    uri = parse_uri(uri_text)
    if not isinstance(uri, SipUri):
        raise ParseError(f"cannot send to a non-SIP URI {uri_text}", 0)
    port = uri.port or (5061 if uri.secure else default_port(transport))
    host = uri.params.get("maddr") or uri.host
    return (strip_brackets(host), port)


def _tagless(value: str) -> str:
    """A From/To header value without its tag parameter (§12.1: the URIs, not the tags)."""
    addr = parse_name_addr(value)
    if "tag" not in addr.params:
        return value
    params = {k: v for k, v in addr.params.items() if k != "tag"}
    return str(NameAddr(addr.uri_text, addr.display_name, params))


def _valid_target(text: str, fallback: str) -> str:
    try:
        uri_address(text)
    except ParseError:
        return fallback
    return text


def _invalid_host(uri: object) -> bool:
    return isinstance(uri, SipUri) and invalid_host(uri.host)  # (an IPv6 literal never is)


def _unreachable(contact: object, request: Request) -> bool:
    """A Contact only its connection reaches: an ``.invalid`` host (RFC 7118 §5: a
    WebSocket client cannot accept connections) on a request that came over a connection."""
    try:
        transport = request.via[0].transport.upper()
    except (ParseError, IndexError):
        return False
    return transport in STREAM_TRANSPORTS and _invalid_host(contact)


def _check_routes(routes: Iterable[str]) -> None:
    for route in routes:
        uri_address(parse_name_addr(route).uri_text)


@attrs.define(slots=True, eq=False)
class Dialog:
    """The state of one dialog (RFC 3261 §12). ``local`` / ``remote`` are the From/To header
    values without tags; ``route_set`` holds Route values in the order they are sent."""

    call_id: str
    local_tag: str
    remote_tag: str
    local: str
    remote: str
    remote_target: str
    route_set: tuple[str, ...]
    local_seq: int
    remote_seq: int | None
    secure: bool = False
    state: DialogState = DialogState.EARLY
    #: The connection (peer address) a dialog-creating request came in on when its Contact
    #: cannot be reached (an RFC 7118 §5 WebSocket client's ``.invalid`` host), for
    #: information: the endpoint sends requests to that target over it (its flows).
    flow: Address | None = None

    @property
    def id(self) -> tuple[str, str, str]:
        """Call-ID, local tag, remote tag (§12)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    # ---- creation ----------------------------------------------------------------------

    @classmethod
    def from_response(cls, request: Request, response: Response) -> Dialog:
        """UAC side (§12.1.2): from our request and a 101-299 response with a To tag."""
        remote_tag = response.to.tag
        local_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise ParseError("a dialog needs From and To tags", 0)
        contacts = response.contact
        # §12.1.2: the remote target is the response's Contact; a 1xx may lack one (keep the
        # Request-URI until a later response says otherwise).
        target = contacts[0].uri_text if contacts else request.uri_text
        uri_address(target)  # a target we could never send to is a malformed response
        # §12.1.2: the route set is the Record-Route list in reverse order.
        routes = tuple(reversed(response.get_all("record-route", split=True)))
        _check_routes(routes)
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local=_tagless(request.get("from") or ""),
            remote=_tagless(response.get("to") or ""),
            remote_target=target,
            route_set=routes,
            local_seq=request.cseq.number,
            remote_seq=None,
            secure=request.uri_text.startswith("sips:"),
            state=DialogState.CONFIRMED if response.status_code >= 200 else DialogState.EARLY,
        )

    @classmethod
    def from_request(cls, request: Request, local_tag: str, local_seq: int, *,
                     confirmed: bool = False, source: Address | None = None) -> Dialog:
        """UAS side (§12.1.1): from a dialog-creating request and the To tag we chose.
        ``source``: where it came from; kept as the dialog's ``flow`` when it came over a
        connection and its Contact host is ``.invalid`` (RFC 7118 §5, RFC 6761 §6.4)."""
        remote_tag = request.from_.tag
        if not remote_tag:
            raise ParseError("a dialog needs a From tag", 0)
        contacts = request.contact
        if not contacts:
            raise ParseError("a dialog-creating request needs a Contact", 0)
        uri_address(contacts[0].uri_text)
        _check_routes(request.get_all("record-route", split=True))
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local=_tagless(request.get("to") or ""),
            remote=_tagless(request.get("from") or ""),
            remote_target=contacts[0].uri_text,
            route_set=tuple(request.get_all("record-route", split=True)),  # §12.1.1: in order
            local_seq=local_seq,
            remote_seq=request.cseq.number,
            secure=request.uri_text.startswith("sips:"),
            state=DialogState.CONFIRMED if confirmed else DialogState.EARLY,
            flow=source if source is not None and _unreachable(contacts[0].uri, request) else None,
        )

    # ---- updates -----------------------------------------------------------------------

    def update_from_response(self, response: Response) -> None:
        """§12.1.2 / §12.2.1.2: a later response (or the 2xx of a re-INVITE) refreshes the
        remote target; the 2xx confirming an early dialog also fixes the route set."""
        try:
            contacts = response.contact
            if contacts:
                self.remote_target = _valid_target(contacts[0].uri_text, self.remote_target)
            if self.state is DialogState.EARLY and 200 <= response.status_code < 300:
                routes = tuple(reversed(response.get_all("record-route", split=True)))
                _check_routes(routes)
                self.route_set = routes
        except ParseError:
            pass  # keep what we had rather than adopt what we could never send to
        if self.state is DialogState.EARLY and 200 <= response.status_code < 300:
            self.state = DialogState.CONFIRMED

    def update_target(self, request: Request) -> None:
        """§12.2.2: a target refresh request (re-INVITE, UPDATE) may carry a new Contact."""
        try:
            contacts = request.contact
        except ParseError:
            return
        if contacts:
            self.remote_target = _valid_target(contacts[0].uri_text, self.remote_target)

    def check_remote_cseq(self, request: Request) -> bool:
        """§12.2.2: a request whose CSeq is lower than the last one is out of order (500).
        ACK and CANCEL reuse their INVITE's number and are not checked here."""
        number = request.cseq.number
        if self.remote_seq is not None and number < self.remote_seq:
            return False
        if self.remote_seq is None or number > self.remote_seq:
            self.remote_seq = number
        return True

    # ---- building requests -------------------------------------------------------------

    def next_cseq(self) -> int:
        self.local_seq += 1
        return self.local_seq

    def request(
        self,
        method: str,
        contact: str | None,
        *,
        cseq: int | None = None,
        headers: Iterable[tuple[str, HeaderValue]] = (),
        body: bytes = b"",
    ) -> tuple[Request, Address]:
        """An in-dialog request (§12.2.1.1) and the address of its next hop.

        ``cseq`` defaults to the next local sequence number (ACK passes its INVITE's).
        """
        number = self.next_cseq() if cseq is None else cseq
        routes = list(self.route_set)
        first_loose = bool(routes) and ";lr" in routes[0].lower()
        if not routes or first_loose:
            uri = self.remote_target
        else:
            # §12.2.1.1 strict routing: the first route becomes the Request-URI (stripped
            # of parameters not allowed there) and the remote target goes last.
            uri = parse_name_addr(routes[0]).uri_text
            routes = routes[1:] + [f"<{self.remote_target}>"]
        out: list[tuple[str, HeaderValue]] = [("Route", r) for r in routes]
        out += [
            ("Max-Forwards", "70"),
            ("From", f"{self.local};tag={self.local_tag}"),
            ("To", f"{self.remote};tag={self.remote_tag}"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{number} {method}"),
        ]
        if contact is not None and method not in ("ACK", "CANCEL", "BYE"):
            out.append(("Contact", contact))
        out.extend(headers)
        # The next hop is the first route either way (loose: top Route; strict: Request-URI).
        hop = parse_name_addr(self.route_set[0]).uri_text if self.route_set else uri
        # A .invalid remote target (RFC 7118 §5) is reached over its flow: the endpoint bound
        # that host to the connection the dialog-forming request came on (docs/transports.md).
        return Request(method, uri, out, body), uri_address(hop)
