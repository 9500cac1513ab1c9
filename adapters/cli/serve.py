"""``rvoip serve``: a registrar + B2BUA (a small PBX) on UDP, and optionally TCP, TLS and
WebSocket listeners beside it (``--tcp``, ``--tls``, ``--ws``, ``--wss``).

Users register with MD5 digest (RFC 3261 §22) against an account table read from a JSON or
TOML file (``{"realm": "...", "users": {"alice": "password", ...}}``), or a default table of
alice, bob and carol. A call to a registered user is bridged to that user's contact (the SDP,
SRTP keys included, is relayed verbatim). One line per event goes to stderr: registrations,
calls starting, answered, ending (with the Call-ID), connections opened and closed. A caller
on one transport reaches a callee on another (the B2BUA's two legs are independent: leg B
takes the transport of the callee's registered Contact). ``--auth-calls`` also challenges
INVITEs (the caller must be one of the accounts). Ctrl-C or SIGTERM hangs up every call still
up and exits 0.

Users that cannot accept connections (TLS/WSS clients without a certificate, WebSocket
clients with a ``.invalid`` Contact, phones behind NAT registering with RFC 5626
``+sip.instance``/``reg-id``) are called over the connection they registered on; when it
closes, calls to them are refused 480 until they register again (docs/server.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
import tomllib
from typing import Any, Callable

from rvoip_sansio import Address, Event, LocalProtocolError, ParseError
from rvoip_sansio.dialog import Call, CallAnswered, CallEnded, CallState, IncomingCall, Role
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import Request, Response
from rvoip_sansio.transaction import ConnectionClosed, ConnectionOpened

from ..asyncio import open_sip_transports
from ._common import build_pbx, stop_on_signals
from .answer import address

__all__ = ["add_arguments", "run", "load_accounts", "DEFAULT_PASSWORD"]

DEFAULT_USERS = ("alice", "bob", "carol")
DEFAULT_PASSWORD = "rvoip-secret"
DEFAULT_REALM = "rvoip"
log = logging.getLogger("rvoip.serve")
# Sentinels for "the flag was given without an address": resolved against --listen.
_SAME: Address = ("", -1)
_NEXT: Address = ("", -2)
_WS: Address = ("", -3)
_WSS: Address = ("", -4)
_DEFAULTS = {_SAME: 0, _NEXT: 1}
_FIXED = {_WS: 8080, _WSS: 8443}


def listeners(args: argparse.Namespace) -> dict[str, Address | tuple[Address, ssl.SSLContext]]:
    """The listener table for ``open_sip_transports`` from the parsed options. Raises
    ValueError (the reason for the user) on a missing certificate, OSError on unreadable ones."""
    host, port = args.listen
    out: dict[str, Address | tuple[Address, ssl.SSLContext]] = {"UDP": (host, port)}
    server_ctx: ssl.SSLContext | None = None
    for name in ("tcp", "tls", "ws", "wss"):
        spec: Address | None = getattr(args, name, None)
        if spec is None:
            continue
        if spec in _DEFAULTS:
            spec = (host, port + _DEFAULTS[spec] if port else 0)
        elif spec in _FIXED:
            spec = (host, _FIXED[spec])
        if name in ("tls", "wss"):
            if server_ctx is None:
                if not args.cert or not args.key:
                    raise ValueError(f"--{name} needs --cert and --key")
                server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                server_ctx.load_cert_chain(args.cert, args.key)
            out[name.upper()] = (spec, server_ctx)
        else:
            out[name.upper()] = spec
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ('accounts file: {"realm": "example.com", "users": {"alice": "pw1", "bob": "pw2"}} '
                     "(JSON) or the same keys in TOML; without one, alice, bob and carol with the "
                     f"password {DEFAULT_PASSWORD!r} in realm {DEFAULT_REALM!r}")
    parser.add_argument("--listen", type=address, default=("127.0.0.1", 5060), metavar="HOST:PORT",
                        help="UDP address to listen on (default 127.0.0.1:5060)")
    parser.add_argument("--tcp", type=address, nargs="?", const=_SAME, metavar="HOST:PORT",
                        help="also listen for SIP over TCP (default: the --listen address)")
    parser.add_argument("--tls", type=address, nargs="?", const=_NEXT, metavar="HOST:PORT",
                        help="also listen for SIP over TLS (default: the --listen port + 1); needs --cert/--key")
    parser.add_argument("--ws", type=address, nargs="?", const=_WS, metavar="HOST:PORT",
                        help="also listen for SIP over WebSocket, RFC 7118 (default: port 8080)")
    parser.add_argument("--wss", type=address, nargs="?", const=_WSS, metavar="HOST:PORT",
                        help="also listen for SIP over secure WebSocket (default: port 8443); needs --cert/--key")
    parser.add_argument("--cert", metavar="FILE", help="server certificate chain (PEM) for --tls/--wss")
    parser.add_argument("--key", metavar="FILE", help="its private key (PEM)")
    parser.add_argument("--ca", metavar="FILE",
                        help="CA file to verify users reached over TLS/WSS (default: the system CAs)")
    parser.add_argument("--auth-calls", action="store_true",
                        help="challenge INVITEs too (digest, the same accounts), not only REGISTERs")
    parser.add_argument("--accounts", metavar="FILE",
                        help="accounts as .json or .toml (default: alice/bob/carol, printed at start)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="also log the stack (-vv: debug)")


def load_accounts(path: str | None) -> tuple[dict[str, str], str]:
    """(user -> password, realm) from a JSON or TOML file, or the default set when ``path`` is
    None. Raises ValueError on a malformed file."""
    if path is None:
        return {u: DEFAULT_PASSWORD for u in DEFAULT_USERS}, DEFAULT_REALM
    with open(path, "rb") as f:
        raw = f.read()
    data: Any
    try:
        data = tomllib.loads(raw.decode()) if path.lower().endswith(".toml") else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ValueError(f"{path}: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not users or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()):
        raise ValueError(f"{path}: expected a non-empty \"users\" table of name = password strings")
    realm = data.get("realm", DEFAULT_REALM)
    if not isinstance(realm, str) or not realm:
        raise ValueError(f"{path}: \"realm\" must be a non-empty string")
    return dict(users), realm


class _LoggedRegistrar:
    """The registrar, with one log line per REGISTER it answers."""

    def __init__(self, registrar: Registrar) -> None:
        self.registrar = registrar

    def handle_request(self, request: Request, source: Address, now: float) -> Response:
        response = self.registrar.handle_request(request, source, now)
        code = response.status_code
        try:
            aor = str(request.to.uri)
        except ParseError:
            aor = "?"
        where = f"{source[0]}:{source[1]}"
        if code == 401:
            log.info("REGISTER %s from %s: challenged (401)", aor, where)
        elif code == 200:
            header = request.get("expires")
            gone = request.contact_star or all(
                (c.params.get("expires") or header) == "0" for c in request.contact)
            outbound = "outbound" in (response.get("require") or "")
            log.info("REGISTER %s from %s: %s%s", aor, where, "unregistered" if gone else "registered",
                     " (outbound: calls go over this connection)" if outbound and not gone else "")
        else:
            log.info("REGISTER %s from %s: refused (%d %s)", aor, where, code, response.reason)
        return response


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose < 2 else logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        logging.getLogger("rvoip_sansio").setLevel(logging.WARNING)
    try:
        accounts, realm = load_accounts(args.accounts)
    except (OSError, ValueError) as exc:
        print(f"rvoip serve: cannot read the accounts: {exc}", file=sys.stderr)
        return 2
    if args.accounts is None:
        print(f"accounts: {', '.join(DEFAULT_USERS)} (password {DEFAULT_PASSWORD!r}, realm {realm!r})",
              file=sys.stderr, flush=True)
    else:
        print(f"accounts: {len(accounts)} users from {args.accounts} (realm {realm!r})", file=sys.stderr, flush=True)
    try:
        listen = listeners(args)
        client_ssl = ssl.create_default_context(cafile=args.ca) if args.ca else None
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        print(f"rvoip serve: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(listen, accounts, realm, client_ssl=client_ssl, auth_calls=args.auth_calls))
    except (OSError, LocalProtocolError) as exc:  # a port in use; WS without the wsproto extra
        print(f"rvoip serve: cannot listen: {exc}", file=sys.stderr)
        return 2


def _end(call: Call) -> Callable[[float], None]:
    def end(now: float) -> None:
        if not call.is_active:
            return
        try:
            if call.state in (CallState.INCOMING, CallState.EARLY) and call.role is Role.UAS:
                call.reject(now, code=480)  # not yet answered: Temporarily Unavailable
            else:
                call.hangup(now)  # BYE, or CANCEL before the answer
        except LocalProtocolError as exc:  # a leg moved on meanwhile
            log.debug("stopping: %s", exc)
    return end


def _where(listen: dict[str, Address | tuple[Address, ssl.SSLContext]], name: str) -> Address:
    spec = listen[name]
    return spec[0] if isinstance(spec[1], ssl.SSLContext) else spec


async def _serve(listen: dict[str, Address | tuple[Address, ssl.SSLContext]], accounts: dict[str, str],
                 realm: str, *, client_ssl: ssl.SSLContext | None = None, auth_calls: bool = False) -> int:
    b2bua, registrar = build_pbx(_where(listen, "UDP"), accounts, realm, wrap=_LoggedRegistrar)
    if auth_calls:
        # RFC 3261 §22.1: the UA answers INVITEs without valid credentials with a 401.
        b2bua.ua.auth = registrar.auth
        b2bua.ua.auth_methods = frozenset({"INVITE"})
    calls: dict[str, Call] = {}  # every leg up or being set up, by Call-ID

    def on_event(event: Event, now: float) -> None:
        if isinstance(event, IncomingCall):
            calls[event.call_id] = event.call
            try:
                who = f"{event.request.from_.uri} -> {event.request.uri} from {event.source[0]}:" \
                      f"{event.source[1]} ({event.request.via[0].transport})"
            except (ParseError, IndexError):
                who = "?"
            bridge = b2bua.bridge(event.call)
            if bridge is None:
                to = "; refused"
            else:
                target = bridge.b.invite.uri_text if bridge.b.invite is not None else "?"
                to = f"; leg B {bridge.b.call_id} to {target}"
            log.info("call %s: %s%s", event.call_id, who, to)
        elif isinstance(event, CallAnswered):
            calls[event.call_id] = event.call
            leg = "caller leg" if event.call.role is Role.UAS else f"leg to {event.call.remote_uri}"
            log.info("call %s: answered (%s)", event.call_id, leg)
        elif isinstance(event, CallEnded):
            calls.pop(event.call_id, None)
            code = f" ({event.status_code})" if event.status_code else ""
            log.info("call %s: ended, %s%s", event.call_id, event.reason.value, code)
        elif isinstance(event, ConnectionOpened):
            log.info("%s connection %s %s:%d", event.transport, "to" if event.outbound else "from", *event.peer)
        elif isinstance(event, ConnectionClosed):
            # RFC 5626 §5.3: bindings only this flow reached cannot be called any more (480).
            lost = registrar.flow_closed(event.transport, event.peer, now)
            log.info("%s connection with %s:%d closed (%s)%s", event.transport, *event.peer, event.reason,
                     f"; {lost} registration(s) unreachable until they register again" if lost else "")

    sip = await open_sip_transports(b2bua, listen, on_event=on_event, client_ssl=client_ssl)
    where = ", ".join(f"{name.lower()} {host}:{port}" for name, (host, port) in sip.locals.items())
    print(f"rvoip serve: registrar + B2BUA on {where}; Ctrl-C to stop", file=sys.stderr, flush=True)
    stop = stop_on_signals()
    loop = asyncio.get_running_loop()
    try:
        await stop.wait()
    finally:
        live = [c for c in calls.values() if c.is_active]
        if live:
            log.info("stopping: hanging up %d call legs", len(live))
            for call in live:
                sip.call(_end(call))
            deadline = loop.time() + 3.0
            while any(c.is_active for c in live) and loop.time() < deadline:
                await asyncio.sleep(0.05)
        await sip.close()
    log.info("stopped (%d calls bridged, %d refused)", b2bua.bridged, b2bua.refused)
    return 0
