"""Our Contact per transport (RFC 3261 §8.1.1.8, §12.1.1, §18; RFC 7118 §5).

A UA listening on several transports must put in each message a Contact that reaches it
over the transport that message uses: in a response, the one its request came in on (top
Via); in a request, the one the endpoint takes for its next hop. The default transport
keeps ``ua.contact`` (where ``contact_address`` and the RFC 3581 fix apply); another
listener gets its own address and ``;transport=``. A ``sips:`` Contact only where §8.1.1.8 /
§12.1.1 ask for one (see docs/dialog.md, "One Contact per transport").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from rvoip_sansio._core import Address, ParseError
from rvoip_sansio.sip import Request, SipUri, parse_name_addr, parse_uri
from rvoip_sansio.transaction import uri_transport

from ._dialog import Dialog

if TYPE_CHECKING:
    from ._ua import UserAgent

__all__ = ["contact_for", "request_contact", "request_transport", "dialog_contact", "response_contact"]

_WILDCARDS = ("", "0.0.0.0", "::")


def _secure(*uris: object) -> bool:
    return any(isinstance(u, SipUri) and u.secure for u in uris)


def contact_for(ua: UserAgent, listeners: Mapping[str, Address], transport: str | None,
                secure: bool) -> str:
    """The Contact for a message over ``transport``. With ``secure`` (a ``sips:`` request),
    TLS gives ``sips:host:port`` and WSS ``sips:...;transport=ws`` (RFC 7118 §5.2); else
    ``sip:`` with ``;transport=tcp|tls|ws|wss`` (a ``sips:`` Contact would ask for TLS on
    every hop of every later request, RFC 5630, which a ``sip:`` request did not)."""
    cfg = ua.config
    default = cfg.endpoint.transport.upper()
    name = (transport or default).upper()
    local = listeners.get(name)
    if local is None or (name == default and not secure):
        return ua.contact  # the default transport: contact_address and RFC 3581 apply
    public = ua.public_address
    host, port = public if name == default and public else local
    if host in _WILDCARDS:  # a wildcard listener: our address as on the default transport
        host = (public or cfg.local)[0]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if secure and name in ("TLS", "WSS"):
        scheme, params = "sips", (";transport=ws" if name == "WSS" else "")
    else:
        scheme, params = "sip", ("" if name == "UDP" else f";transport={name.lower()}")
    return f"<{scheme}:{cfg.user}@{host}:{port}{params}>"


def _first_hop(target: str, routes: Iterable[str]) -> object | None:
    """The URI of a request's first hop: its top Route's, else the target's; ``None`` when
    that does not parse."""
    first = next(iter(routes), None)
    try:
        return parse_name_addr(first).uri if first is not None else parse_uri(target)
    except ParseError:
        return None


def request_transport(ua: UserAgent, target: str, routes: Iterable[str]) -> str:
    """The transport the endpoint takes for a request to ``target`` via ``routes``."""
    return uri_transport(_first_hop(target, routes)) or ua.config.endpoint.transport.upper()


def request_contact(ua: UserAgent, target: str, routes: Iterable[str]) -> str:
    """A request to ``target`` whose first hop is ``routes[0]`` (or the target): the transport
    the endpoint takes for that hop (``;transport=``, ``sips:``, else the default), ``sips:``
    when the hop or the Request-URI is (§8.1.1.8)."""
    try:
        uri = parse_uri(target)
    except ParseError:
        return ua.contact
    hop = _first_hop(target, routes)
    if hop is None:
        return ua.contact
    return ua.contact_for(uri_transport(hop), secure=_secure(hop, uri))


def dialog_contact(ua: UserAgent, dialog: Dialog) -> str:
    """A request in ``dialog`` (§12.2.1.1): over the transport of its next hop (top Route,
    else the remote target); ``sips:`` in a secure dialog."""
    routes = dialog.route_set
    try:
        hop = parse_name_addr(routes[0]).uri if routes else parse_uri(dialog.remote_target)
    except ParseError:
        return ua.contact
    return ua.contact_for(uri_transport(hop), secure=dialog.secure or _secure(hop))


def response_contact(ua: UserAgent, request: Request) -> str:
    """A response to ``request``: over the transport it came in on (its top Via, where
    §18.2.2 sends the response), ``sips:`` when §12.1.1 asks for it (a ``sips:`` Request-URI,
    or top Record-Route, or Contact when there is no Record-Route)."""
    try:
        transport = request.via[0].transport
        routes = request.get_all("record-route", split=True)
        other: object
        if routes:
            other = parse_name_addr(routes[0]).uri
        else:
            contacts = request.contact
            other = contacts[0].uri if contacts else None
        secure = _secure(request.uri, other)
    except (ParseError, IndexError):
        return ua.contact
    return ua.contact_for(transport, secure=secure)
