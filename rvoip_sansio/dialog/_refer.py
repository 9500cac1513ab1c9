"""Call transfer: REFER (RFC 3515) with its implicit subscription and sipfrag NOTIFYs,
and Replaces (RFC 3891) for attended transfer.

Transferor: ``call.transfer(target)`` sends REFER; NOTIFYs with ``message/sipfrag`` bodies
become :class:`TransferProgress` events. Transferee: a REFER is accepted (202), reported
as :class:`TransferRequested`, a NOTIFY "100 Trying" goes back, and the new call (placed by
the UA or by the application) reports its outcome by NOTIFY, the last one terminating the
implicit subscription (RFC 3515 §2.4.4–2.4.7). Transfer target: an INVITE with Replaces
names a dialog; answering it ends that dialog with a BYE (RFC 3891 §3).
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import TYPE_CHECKING

from rvoip_sansio._core import LocalProtocolError
from rvoip_sansio.sip import HeaderValue, Request, parse_name_addr

from ._call import Call, CallState, Role
from ._events import EndReason, TransferProgress, TransferRequested

if TYPE_CHECKING:
    from rvoip_sansio.transaction import TransactionKey

    from ._ua import UserAgent

__all__ = ["send_refer", "on_refer", "on_notify", "follow", "on_answered", "on_call_ended",
           "replaced_call"]

log = logging.getLogger("rvoip_sansio.dialog")

_SIPFRAG = "message/sipfrag;version=2.0"


def send_refer(ua: UserAgent, call: Call, now: float, target: str | Call) -> None:
    if isinstance(target, Call):
        other = target.dialog
        if other is None or target.state is not CallState.CONFIRMED:
            raise LocalProtocolError("dialog layer: attended transfer needs an established call")
        # RFC 3891 §3 / RFC 5589 §7: Replaces names the dialog as the target sees it:
        # to-tag is the target's tag (our remote tag), from-tag ours.
        replaces = f"{other.call_id};to-tag={other.remote_tag};from-tag={other.local_tag}"
        uri = other.remote_target.split("?", 1)[0]
        refer_to = f"<{uri}?Replaces={urllib.parse.quote(replaces, safe='')}>"
    else:
        refer_to = target if target.startswith("<") else f"<{target}>"
    call.refer_target = refer_to
    headers: list[tuple[str, HeaderValue]] = [("Refer-To", refer_to),
                                              ("Referred-By", f"<{_aor(ua)}>")]
    ua._send_in_dialog(call, "REFER", now, headers, b"")


def _aor(ua: UserAgent) -> str:
    return parse_name_addr(ua.from_header).uri_text


def _split_target(refer_to: str) -> tuple[str, dict[str, str]]:
    """The Refer-To URI without its headers, and the headers (Replaces...) it carries."""
    uri = parse_name_addr(refer_to).uri_text
    base, _, query = uri.partition("?")
    headers: dict[str, str] = {}
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        headers[urllib.parse.unquote(name).lower()] = urllib.parse.unquote(value)
    return base, headers


def on_refer(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    refer_to = req.get("refer-to")
    if refer_to is None or len(req.get_all("refer-to")) != 1:
        ua.respond(req, key, 400, now, reason="Bad Request (one Refer-To needed)")  # §2.4.1
        return
    try:
        target, embedded = _split_target(refer_to)
    except ValueError:
        ua.respond(req, key, 400, now, reason="Bad Request (Refer-To)")
        return
    ua.respond(req, key, 202, now, headers=[("Contact", ua.contact)])
    call.refer_target = refer_to
    _notify(ua, call, now, 100, "Trying", final=False)
    ua.emit(TransferRequested(call=call, call_id=call.call_id, target=target,
                              replaces=embedded.get("replaces"), referred_by=req.get("referred-by")))
    if ua.config.follow_transfers:
        follow(ua, call, now)


def follow(ua: UserAgent, call: Call, now: float) -> Call:
    from ._invite import start_call

    if call.refer_target is None:
        raise LocalProtocolError(f"dialog layer: call {call.call_id} has no transfer to follow")
    target, embedded = _split_target(call.refer_target)
    headers: list[tuple[str, HeaderValue]] = []
    if "replaces" in embedded:
        headers.append(("Replaces", embedded["replaces"]))
    headers.append(("Referred-By", f"<{call.remote_uri and parse_name_addr(call.remote_uri).uri_text}>"))
    call.refer_target = None
    new = start_call(ua, target, now, None, call.local_media, tuple(headers), None, None)
    new.refer_from = call
    return new


def _notify(ua: UserAgent, call: Call, now: float, code: int, reason: str, *, final: bool) -> None:
    if call.dialog is None or call.state is CallState.ENDED:
        return
    state = "terminated;reason=noresource" if final else "active;expires=60"
    headers: list[tuple[str, HeaderValue]] = [("Event", "refer"), ("Subscription-State", state),
                                              ("Content-Type", _SIPFRAG)]
    body = f"SIP/2.0 {code} {reason}\r\n".encode()
    ua._send_in_dialog(call, "NOTIFY", now, headers, body)


def on_answered(ua: UserAgent, call: Call, now: float) -> None:
    """A call placed for a transfer was answered: tell the transferor (§2.4.5)."""
    origin = call.refer_from
    if origin is not None:
        call.refer_from = None
        _notify(ua, origin, now, 200, "OK", final=True)
    replaced = call.replaces
    if replaced is not None and call.role is Role.UAS:
        from ._invite import end, send_bye

        call.replaces = None
        if replaced.state is CallState.CONFIRMED:
            send_bye(ua, replaced, now)
        elif replaced.state is not CallState.ENDED:
            replaced.hangup(now)
        end(ua, replaced, now, EndReason.REPLACED)


def on_call_ended(ua: UserAgent, call: Call, now: float, reason: EndReason, code: int | None) -> None:
    origin = call.refer_from
    if origin is not None:
        call.refer_from = None
        failed = code if code is not None and code >= 300 else 503
        _notify(ua, origin, now, failed, "Transfer failed", final=True)


def on_notify(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    event = (req.get("event") or "").split(";", 1)[0].strip().lower()
    if event != "refer":
        ua.respond(req, key, 489, now)  # RFC 6665 §8.2.1: Bad Event
        return
    ua.respond(req, key, 200, now)
    line = req.body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    code = int(line[1]) if len(line) >= 2 and line[1].isdigit() and len(line[1]) == 3 else 0
    terminated = (req.get("subscription-state") or "").strip().lower().startswith("terminated")
    ua.emit(TransferProgress(call=call, call_id=call.call_id, status_code=code,
                             final=terminated or code >= 200))


def replaced_call(ua: UserAgent, req: Request, key: TransactionKey, now: float) -> Call | None | bool:
    """RFC 3891 §3: the dialog an INVITE's Replaces names; False when answered with an error."""
    value = req.get("replaces")
    if value is None:
        return None
    call_id, *params = [p.strip() for p in value.split(";")]
    tags: dict[str, str] = {}
    for param in params:
        name, _, val = param.partition("=")
        tags[name.strip().lower()] = val.strip()
    target = ua._dialogs.get((call_id, tags.get("to-tag", ""), tags.get("from-tag", "")))
    if target is None or target.state is CallState.ENDED:
        ua.respond(req, key, 481, now)
        return False
    if "early-only" in tags and target.state is CallState.CONFIRMED:
        ua.respond(req, key, 486, now)
        return False
    return target
