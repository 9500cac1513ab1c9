"""Call transfer: REFER (RFC 3515) with its implicit subscription and sipfrag NOTIFYs,
``Refer-Sub: false`` (RFC 4488), and Replaces (RFC 3891) for attended transfer.

Transferor: ``call.transfer(target)`` sends REFER; NOTIFYs with ``message/sipfrag`` bodies
become :class:`TransferProgress` events; the implicit subscription is refreshed by
SUBSCRIBE (Event: refer) before the expiry the NOTIFYs announce, and
``call.end_transfer_subscription(now)`` ends it (Expires: 0, RFC 6665 §4.1.2.3). With
``subscribe=False`` the REFER asks for no subscription (``Refer-Sub: false``); a 2xx that
says ``Refer-Sub: false`` means no NOTIFY will come.
Transferee: a REFER is accepted (202), reported as :class:`TransferRequested`, a NOTIFY
"100 Trying" goes back, and the new call (placed by the UA or by the application) reports
its outcome by NOTIFY, the last one terminating the implicit subscription (RFC 3515
§2.4.4–2.4.7). The implicit subscription is a notifier :class:`Subscription` (it shares
the call's dialog): a SUBSCRIBE refreshes it, Expires: 0 ends it, and it terminates with
``reason=timeout`` when not refreshed in time (RFC 6665 §4.2.2). A REFER with
``Refer-Sub: false`` is answered 202 with ``Refer-Sub: false`` and gets no NOTIFY.
Outside a dialog (``ua.refer(...)``), the REFER makes a subscription dialog of its own
(RFC 3515 §2.4.2; its NOTIFYs are :class:`NotificationReceived` on the returned
:class:`Subscription`).
Transfer target: an INVITE with Replaces names a dialog; answering it ends that dialog with
a BYE (RFC 3891 §3).
"""

from __future__ import annotations

import logging
import urllib.parse
from functools import partial
from typing import TYPE_CHECKING

from rvoip_sansio._core import Address, LocalProtocolError, ParseError
from rvoip_sansio.sip import HeaderValue, Request, Response, parse_name_addr

from ._call import Call, CallState, Role
from ._dialog import Dialog, DialogState
from ._events import EndReason, TransferProgress, TransferRequested
from ._subscribe import Subscription, SubscriptionRole, refresh_notifier, start_expiry

if TYPE_CHECKING:
    from rvoip_sansio.sdp import LocalCapabilities
    from rvoip_sansio.transaction import TransactionKey

    from ._ua import UserAgent

__all__ = ["send_refer", "on_refer", "on_notify", "follow", "on_answered", "on_call_ended",
           "replaced_call", "on_subscribe", "refer_out_of_dialog", "on_refer_out_of_dialog",
           "end_subscription", "follow_request"]

log = logging.getLogger("rvoip_sansio.dialog")

_SIPFRAG = "message/sipfrag;version=2.0"
#: RFC 3515 §2.4.4 leaves the implicit subscription's duration to the notifier.
REFER_EXPIRES = 60


def _refer_to(target: str | Call) -> str:
    if isinstance(target, Call):
        other = target.dialog
        if other is None or target.state is not CallState.CONFIRMED:
            raise LocalProtocolError("dialog layer: attended transfer needs an established call")
        # RFC 3891 §3 / RFC 5589 §7: Replaces names the dialog as the target sees it:
        # to-tag is the target's tag (our remote tag), from-tag ours.
        replaces = f"{other.call_id};to-tag={other.remote_tag};from-tag={other.local_tag}"
        uri = other.remote_target.split("?", 1)[0]
        return f"<{uri}?Replaces={urllib.parse.quote(replaces, safe='')}>"
    return target if target.startswith("<") else f"<{target}>"


def _refer_headers(ua: UserAgent, refer_to: str, subscribe: bool) -> list[tuple[str, HeaderValue]]:
    headers: list[tuple[str, HeaderValue]] = [("Refer-To", refer_to), ("Referred-By", f"<{_aor(ua)}>")]
    if not subscribe:
        headers.append(("Refer-Sub", "false"))  # RFC 4488 §4
    return headers


def _no_subscription(resp: Response) -> bool:
    """RFC 4488 §4: a 2xx with ``Refer-Sub: false``: the recipient made no subscription."""
    return (resp.get("refer-sub") or "").strip().lower() == "false"


def send_refer(ua: UserAgent, call: Call, now: float, target: str | Call, subscribe: bool = True) -> None:
    refer_to = _refer_to(target)
    call.refer_target = refer_to
    dialog = call.dialog
    assert dialog is not None
    end_subscription(call)
    sub = Subscription(ua=ua, role=SubscriptionRole.SUBSCRIBER, event="refer", call_id=call.call_id,
                       local_tag=dialog.local_tag, target=dialog.remote_target, requested=REFER_EXPIRES,
                       dialog=dialog, in_call=True)
    call.refer_sub = sub
    ua._send_in_dialog(call, "REFER", now, _refer_headers(ua, refer_to, subscribe), b"",
                       on_done=partial(_refer_done, call, sub))


def _refer_done(call: Call, sub: Subscription, resp: Response | None, now: float) -> None:
    if call.refer_sub is not sub:
        return
    if resp is None or resp.status_code >= 300 or _no_subscription(resp):
        sub.state = "terminated"  # no subscription: refused, or none asked for / made
        call.refer_sub = None
    elif sub.state == "pending":
        sub.state = "active"


def end_subscription(call: Call) -> None:
    """Stop the implicit subscription's timers (the call ended, or a new REFER replaces it)."""
    sub = call.refer_sub
    if sub is not None:
        sub._cancel_timer()
        sub.state = "terminated"
        call.refer_sub = None


def unsubscribe(ua: UserAgent, call: Call, now: float) -> None:
    """Transferor: end the implicit subscription (SUBSCRIBE Expires: 0, RFC 6665 §4.1.2.3)."""
    sub = call.refer_sub
    if sub is None or sub.role is not SubscriptionRole.SUBSCRIBER or sub.state == "terminated":
        raise LocalProtocolError(f"dialog layer: call {call.call_id} has no transfer subscription")
    sub.unsubscribe(now)


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


def _parse_refer(ua: UserAgent, req: Request, key: TransactionKey, now: float) -> tuple[str, str] | None:
    refer_to = req.get("refer-to")
    if refer_to is None or len(req.get_all("refer-to")) != 1:
        ua.respond(req, key, 400, now, reason="Bad Request (one Refer-To needed)")  # §2.4.1
        return None
    try:
        target, _ = _split_target(refer_to)
    except ValueError:
        ua.respond(req, key, 400, now, reason="Bad Request (Refer-To)")
        return None
    return refer_to, target


def on_refer(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    parsed = _parse_refer(ua, req, key, now)
    if parsed is None:
        return
    refer_to, target = parsed
    nosub = (req.get("refer-sub") or "").strip().lower() == "false"
    ua.respond(req, key, 202, now, headers=[("Contact", ua.response_contact(req)), *([("Refer-Sub", "false")] if nosub else [])])
    call.refer_target = refer_to
    end_subscription(call)
    dialog = call.dialog
    if not nosub and dialog is not None:
        sub = Subscription(ua=ua, role=SubscriptionRole.NOTIFIER, event="refer", call_id=call.call_id,
                           local_tag=dialog.local_tag, target=dialog.remote_target, state="active",
                           expires=REFER_EXPIRES, requested=REFER_EXPIRES, dialog=dialog, in_call=True)
        call.refer_sub = sub
        start_expiry(sub, now)
        _notify(sub, now, 100, "Trying", final=False)
    _, embedded = _split_target(refer_to)
    ua.emit(TransferRequested(call=call, call_id=call.call_id, target=target,
                              replaces=embedded.get("replaces"), referred_by=req.get("referred-by"),
                              subscription=call.refer_sub, refer_to=refer_to))
    if ua.config.follow_transfers:
        follow(ua, call, now)


def on_subscribe(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    """A SUBSCRIBE in a call's dialog: refreshes or ends the REFER's implicit subscription
    (RFC 3515 §2.4.4, RFC 6665 §4.2.1.2)."""
    event = (req.get("event") or "").split(";", 1)[0].strip().lower()
    if event != "refer":
        ua.respond(req, key, 489, now)  # RFC 6665 §8.2.1: Bad Event
        return
    sub = call.refer_sub
    if sub is None or sub.role is not SubscriptionRole.NOTIFIER or sub.state == "terminated":
        ua.respond(req, key, 481, now)
        return
    refresh_notifier(ua, sub, req, key, now)


def follow(ua: UserAgent, call: Call, now: float, media: LocalCapabilities | None = None) -> Call:
    if call.refer_target is None:
        raise LocalProtocolError(f"dialog layer: call {call.call_id} has no transfer to follow")
    referrer = call.remote_uri and parse_name_addr(call.remote_uri).uri_text
    refer_to, call.refer_target = call.refer_target, None
    return _place(ua, refer_to, referrer, call.refer_sub, media or call.local_media, now)


def follow_request(ua: UserAgent, event: TransferRequested, now: float,
                   media: LocalCapabilities | None = None) -> Call:
    """Call the target of a REFER (in a call or not) the UA did not follow itself."""
    if event.call is not None:
        return follow(ua, event.call, now, media)
    referrer = parse_name_addr(event.referred_by).uri_text if event.referred_by else None
    return _place(ua, event.refer_to, referrer, event.subscription, media, now)


def _place(ua: UserAgent, refer_to: str, referrer: str | None, sub: Subscription | None,
           media: LocalCapabilities | None, now: float) -> Call:
    from ._invite import start_call

    target, embedded = _split_target(refer_to)
    headers: list[tuple[str, HeaderValue]] = []
    if "replaces" in embedded:
        headers.append(("Replaces", embedded["replaces"]))
    headers.append(("Referred-By", f"<{referrer}>"))
    new = start_call(ua, target, now, None, media, tuple(headers), None, None)
    new.refer_from = sub
    return new


def _notify(sub: Subscription | None, now: float, code: int, reason: str, *, final: bool) -> None:
    if sub is None or sub.state == "terminated" or sub.dialog is None:
        return
    if sub.dialog.state is DialogState.TERMINATED:
        return  # the call it lived in ended
    body = f"SIP/2.0 {code} {reason}\r\n".encode()
    sub.notify(now, body=body, content_type=_SIPFRAG, state="terminated" if final else None,
               reason="noresource" if final else None)


def on_answered(ua: UserAgent, call: Call, now: float) -> None:
    """A call placed for a transfer was answered: tell the transferor (§2.4.5)."""
    origin = call.refer_from
    if origin is not None:
        call.refer_from = None
        _notify(origin, now, 200, "OK", final=True)
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
        _notify(origin, now, failed, "Transfer failed", final=True)
    end_subscription(call)


def on_notify(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    event = (req.get("event") or "").split(";", 1)[0].strip().lower()
    if event != "refer":
        ua.respond(req, key, 489, now)  # RFC 6665 §8.2.1: Bad Event
        return
    ua.respond(req, key, 200, now)
    line = req.body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    code = int(line[1]) if len(line) >= 2 and line[1].isdigit() and len(line[1]) == 3 else 0
    state, *params = [p.strip().lower() for p in (req.get("subscription-state") or "").split(";")]
    terminated = state == "terminated"
    sub = call.refer_sub
    if sub is not None and sub.role is SubscriptionRole.SUBSCRIBER:
        if terminated:
            end_subscription(call)
        else:
            # RFC 6665 §4.1.2.2: refresh before the expiry the notifier announces.
            sub.state = state or sub.state
            expires = next((p[8:] for p in params if p.startswith("expires=")), "")
            if expires.isdigit() and len(expires) < 10 and (sub._timer is None or int(expires) < sub.expires):
                sub.expires = int(expires)
                sub._arm_refresh(now)
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


# ---- REFER outside a dialog (RFC 3515 §2.4.2) --------------------------------------------

def refer_out_of_dialog(ua: UserAgent, target: str, refer_to: str, now: float, subscribe: bool) -> Subscription:
    sub = Subscription(ua=ua, role=SubscriptionRole.SUBSCRIBER, event="refer", call_id=ua.new_call_id(),
                       local_tag=ua.endpoint.new_tag(), target=target, requested=REFER_EXPIRES)
    req = ua.new_request("REFER", target, headers=_refer_headers(ua, _refer_to(refer_to), subscribe),
                         call_id=sub.call_id)
    req.set("From", f"{ua.from_header};tag={sub.local_tag}")
    sub.request = req
    if subscribe:
        ua.expect_subscription(sub)  # its first NOTIFY may overtake the 202
    ua.send(req, now, partial(_out_of_dialog_done, ua, sub))
    return sub


def _out_of_dialog_done(ua: UserAgent, sub: Subscription, resp: Response | None, now: float) -> None:
    if resp is not None and 200 <= resp.status_code < 300 and _no_subscription(resp):
        ua.forget_subscription((sub.call_id, sub.local_tag, ""))
        sub._terminate(now, "norefersub", None)
        return
    sub._on_response(REFER_EXPIRES, resp, now)


def on_refer_out_of_dialog(ua: UserAgent, req: Request, source: Address, key: TransactionKey,
                           now: float) -> None:
    parsed = _parse_refer(ua, req, key, now)
    if parsed is None:
        return
    refer_to, target = parsed
    tag = ua.endpoint.new_tag()
    sub: Subscription | None = None
    if (req.get("refer-sub") or "").strip().lower() == "false":
        # RFC 4488 §4: accepted without a subscription (and so without a dialog).
        ua.respond(req, key, 202, now, to_tag=tag, headers=[("Refer-Sub", "false")])
    else:
        try:
            dialog = Dialog.from_request(req, tag, ua.rng.randrange(1, 2**16), confirmed=True,
                                         source=source)
        except ParseError as exc:
            ua.respond(req, key, 400, now, reason=f"Bad Request ({exc.reason})")
            return
        ua.respond(req, key, 202, now, to_tag=tag, headers=[("Contact", ua.response_contact(req))])
        sub = Subscription(ua=ua, role=SubscriptionRole.NOTIFIER, event="refer", call_id=req.call_id,
                           local_tag=tag, target=dialog.remote_target, state="active",
                           expires=REFER_EXPIRES, requested=REFER_EXPIRES, dialog=dialog)
        ua.register_subscription(dialog.id, sub)
        start_expiry(sub, now)
        _notify(sub, now, 100, "Trying", final=False)
    _, embedded = _split_target(refer_to)
    event = TransferRequested(call=None, call_id=req.call_id, target=target, replaces=embedded.get("replaces"),
                              referred_by=req.get("referred-by"), subscription=sub, refer_to=refer_to)
    ua.emit(event)
    if ua.config.follow_transfers:
        follow_request(ua, event, now)
