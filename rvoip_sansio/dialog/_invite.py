"""INVITE sessions (RFC 3261 §13–15): the UAC and UAS cores of a call.

Module functions over a :class:`~._ua.UserAgent` (``ua``) and a :class:`~._call.Call`:
placing and answering calls, the ACK for 2xx (§13.2.2.4) and the 2xx retransmission until
it arrives (§13.3.1.4), CANCEL (§9), BYE (§15), re-INVITE/UPDATE offers with glare handling
(§14, RFC 3311), forking (§13.2.2.4), session timers (RFC 4028, in :mod:`._timer`) and
reliable provisional responses (RFC 3262, in :mod:`._prack`).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from rvoip_sansio._core import Address, ParseError
from rvoip_sansio.sdp import LocalCapabilities
from rvoip_sansio.sip import HeaderValue, Request, Response, Via, make_response
from rvoip_sansio.transaction import TransactionKey

from . import _prack, _refer, _timer
from ._media import (
    OfferAnswerError,
    answer_offer,
    awaiting_answer,
    has_sdp,
    initial_offer,
    local_body,
    media_changed,
    process_answer,
    sdp_headers,
)
from ._call import Call, CallState, Role
from ._dialog import Dialog, DialogState, uri_address
from ._events import (
    CallAnswered,
    CallEnded,
    CallProgress,
    EndReason,
    IncomingCall,
)

if TYPE_CHECKING:
    from ._ua import UserAgent

__all__ = [
    "start_call",
    "incoming_invite",
    "send_provisional",
    "answer",
    "reject",
    "hangup",
    "on_ack",
    "remote_cancelled",
    "dialog_failed",
    "end",
    "send_bye",
]

log = logging.getLogger("rvoip_sansio.dialog")

Headers = tuple[tuple[str, HeaderValue], ...]
_SDP = "application/sdp"
#: Extensions we implement, for Require checks (RFC 3261 §8.2.2.3).
_KNOWN_EXTENSIONS = frozenset({"100rel", "timer", "replaces", "norefersub"})


# ---- UAC: placing a call ---------------------------------------------------------------

def start_call(ua: UserAgent, target: str, now: float, sdp: bytes | None,
               media: LocalCapabilities | None, headers: Headers, from_header: str | None,
               call_id: str | None, late_offer: bool = False, expires: int | None = None) -> Call:
    call_id = call_id or ua.new_call_id()
    call = Call(ua=ua, role=Role.UAC, call_id=call_id, state=CallState.CALLING, extra_headers=headers)
    caps = media if media is not None else ua.config.media
    body = b""
    if sdp is not None:
        body = sdp
    elif late_offer:
        call.local_media = caps  # the peer offers (in a reliable 1xx or the 2xx); we answer
    elif caps is not None:
        body = initial_offer(ua, call, caps)
    call.local_sdp = body or None
    out: list[tuple[str, HeaderValue]] = ua.capability_headers()
    out += _timer.request_headers(ua)
    if expires is not None:
        out.append(("Expires", str(expires)))
    out += sdp_headers(body)
    out.extend(headers)
    req = ua.new_request("INVITE", target, headers=out, body=body, call_id=call_id,
                         from_header=from_header, cseq=1)
    call.invite = req
    call.invite_key = ua.send(req, now, partial(_invite_response, ua, call), call=call)
    ua.active_calls += 1
    if expires is not None:
        call.invite_expiry = ua.timers.arm(now + expires, partial(_invite_expired, ua, call))
    return call


def _invite_expired(ua: UserAgent, call: Call, now: float) -> None:
    """RFC 3261 §13.2.1 (UAC): the INVITE expired before a final response: CANCEL it.
    §13.3.1 (UAS): it expired before we answered: 487."""
    call.invite_expiry = None
    if call.role is Role.UAC and call.state in (CallState.CALLING, CallState.EARLY):
        call.expired = True
        hangup(ua, call, now, ())
    elif call.role is Role.UAS and call.state in (CallState.INCOMING, CallState.EARLY) and call.invite:
        call.expired = True
        _prack.stop(call)
        assert call.dialog is not None
        ua.respond(call.invite, call.invite_key, 487, now, to_tag=call.dialog.local_tag)
        end(ua, call, now, EndReason.EXPIRED, 487, "Request Terminated")


def _early_dialog(ua: UserAgent, call: Call, resp: Response) -> Dialog | None:
    tag = resp.to.tag
    if not tag or call.invite is None:
        return None
    if call.early is None:
        call.early = {}
    dialog = call.early.get(tag)
    if dialog is None:
        try:
            dialog = Dialog.from_response(call.invite, resp)
        except ParseError:
            return None
        call.early[tag] = dialog
        ua.register_dialog(dialog.id, call)
    elif resp.contact:
        dialog.update_from_response(resp)
    return dialog


def _invite_response(ua: UserAgent, call: Call, resp: Response | None, now: float) -> None:
    if resp is None:
        if call.state is not CallState.ENDED and call.dialog is None:
            end(ua, call, now, EndReason.TIMEOUT, 408, "Request Timeout")
        return
    code = resp.status_code
    if code < 200:
        if code == 100 or call.state not in (CallState.CALLING, CallState.EARLY):
            return
        seen = (code, resp.to.tag, len(resp.body))
        if seen == call.last_progress:
            return  # the UAS repeats its latest provisional when our INVITE is retransmitted
        call.last_progress = seen
        dialog = _early_dialog(ua, call, resp)
        reliable = dialog is not None and _prack.is_reliable(resp)
        if dialog is not None:
            call.state = CallState.EARLY
            if reliable and not _prack.new_rseq(call, resp):
                return  # a retransmitted reliable provisional response
        media = None
        sdp = resp.body if has_sdp(resp) else None
        if sdp is not None and awaiting_answer(call):
            media = process_answer(ua, call, sdp)
        offer = sdp if media is None and not awaiting_answer(call) else None
        if sdp is not None:
            call.remote_sdp = sdp
        if reliable:
            assert dialog is not None
            # RFC 3262 §4/§5: PRACK it, with our answer to an offer it carries (or an offer)
            body = _prack.prack_body(ua, call, offer)
            if body and offer is not None and media is None:
                media = call.media
            _prack.send_prack(ua, call, dialog, resp, body, now)
        ua.emit(CallProgress(call=call, call_id=call.call_id, status_code=code, reason=resp.reason,
                             response=resp, media=media, sdp=sdp))
        return
    if code < 300:
        _invite_success(ua, call, resp, now)
        return
    if call.state is CallState.ENDED:
        return
    if code == 422 and _timer.retry_after_422(ua, call, resp, now):
        return
    if 300 <= code < 400 and _redirect(ua, call, resp, now):
        return
    reason = EndReason.CANCELLED if code == 487 and call.cancel_requested else EndReason.REJECTED
    if call.expired and reason is EndReason.CANCELLED:
        reason = EndReason.EXPIRED
    end(ua, call, now, reason, code, resp.reason)


_MAX_REDIRECTS = 3


def _redirect(ua: UserAgent, call: Call, resp: Response, now: float) -> bool:
    """RFC 3261 §8.1.3.4: try the first SIP Contact of a 3xx (at most a few times), as a
    new INVITE in the same call (same Call-ID and From tag, CSeq one up)."""
    invite = call.invite
    if invite is None or call.cancel_requested or call.redirects >= _MAX_REDIRECTS:
        return False
    try:
        targets = [c.uri_text for c in resp.contact]
        target = next((t for t in targets if t.startswith(("sip:", "sips:"))), None)
        if target is None:
            return False
        uri_address(target)
    except ParseError:
        return False
    call.redirects += 1
    headers = [(n, v) for n, v in invite.headers if n.lower() not in ("via", "cseq", "contact")]
    headers.append(("CSeq", f"{invite.cseq.number + 1} INVITE"))
    # The new target may take another transport: a Contact for it (§8.1.1.8).
    headers.append(("Contact", ua.request_contact(target, invite.get_all("route", split=True))))
    new = Request("INVITE", target, headers, invite.body)
    call.invite = new
    call.last_progress = None
    call.invite_key = ua.send(new, now, partial(_invite_response, ua, call), call=call)
    return True


def _ack(ua: UserAgent, call: Call, dialog: Dialog, resp: Response, now: float, body: bytes = b"") -> None:
    """RFC 3261 §13.2.2.4: the ACK for a 2xx is built by the UA core, sent outside any
    transaction, with the INVITE's CSeq number and credentials, and re-sent for every
    retransmission of that 2xx. Its branch is derived from the dialog and CSeq, so the
    re-sent ACK is the same message without keeping its bytes. Its Via has the transport
    and sent-by of the INVITE's, echoed in the 2xx (§8.2.6.2), so the ACK takes the INVITE's
    transport (and connection) whatever the UA's default transport is."""
    cseq = resp.cseq.number
    branch = f"z9hG4bK-ack-{dialog.local_tag}-{dialog.remote_tag}-{cseq}"
    params: dict[str, str | None] = {"branch": branch, "rport": None}
    try:
        top = resp.via[0]
        via = Via(transport=top.transport, host=top.host, port=top.port, params=params)
    except (ParseError, IndexError):  # the endpoint matched it by this Via: not expected
        via = Via(transport=ua.config.endpoint.transport, host=ua.endpoint._via_host,
                  port=ua.config.local[1], params=params)
    headers: list[tuple[str, HeaderValue]] = [("Via", via)]
    headers += sdp_headers(body)
    req, dest = dialog.request("ACK", None, cseq=cseq, headers=headers, body=body)
    call.ack_cseq = cseq
    call.ack_body = body or None
    ua.endpoint.send_stateless(req, dest, now)


def _resend_ack(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    dialog = call.dialog
    if dialog is not None and call.ack_cseq:
        _ack(ua, call, dialog, resp, now, call.ack_body or b"")


def _invite_success(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    tag = resp.to.tag or ""
    confirmed = call.dialog
    if confirmed is not None:
        if confirmed.remote_tag == tag:
            if call.ack_cseq == resp.cseq.number:
                _resend_ack(ua, call, resp, now)  # the 2xx was retransmitted
            return
        _fork_loser(ua, call, resp, now)
        return
    if call.state is CallState.ENDED:
        # A 2xx after we gave up (CANCEL race, timeout): confirm it and end it at once.
        _fork_loser(ua, call, resp, now)
        return
    invite = call.invite
    assert invite is not None
    dialog = call.early.pop(tag, None) if call.early else None
    if dialog is None:
        try:
            dialog = Dialog.from_response(invite, resp)
        except ParseError:
            log.debug("2xx without a usable To tag on %s", call.call_id)
            return
        ua.register_dialog(dialog.id, call)
    dialog.update_from_response(resp)
    dialog.state = DialogState.CONFIRMED
    if call.early:
        # §13.2.2.4: the other early dialogs end; a late 2xx on one is ACKed and BYEd.
        for other in call.early.values():
            ua.forget_dialog(other.id)
        call.early = None
    call.dialog = dialog
    media = None
    sdp = resp.body if has_sdp(resp) else None
    ack_body = b""
    if call.local_media is not None and sdp is not None:
        if awaiting_answer(call):
            media = process_answer(ua, call, sdp)
        elif call.local_sdp is None:
            ack_body = answer_offer(ua, call, sdp)  # late offer: our answer goes in the ACK
    media = media or call.media
    if sdp is not None:
        call.remote_sdp = sdp
    _ack(ua, call, dialog, resp, now, ack_body)
    if call.cancel_requested:
        send_bye(ua, call, now)
        end(ua, call, now, EndReason.LOCAL_HANGUP)
        return
    call.state = CallState.CONFIRMED
    call.invite = None
    _stop_expiry(call)
    _timer.on_answered_uac(ua, call, resp, now)
    ua.emit(CallAnswered(call=call, call_id=call.call_id, media=media, sdp=sdp, response=resp))
    _refer.on_answered(ua, call, now)


def _fork_loser(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    """A 2xx from a fork other than the one that won (or after we gave up): confirm its
    dialog with an ACK and end it with a BYE at once (§13.2.2.4)."""
    invite = call.invite
    try:
        if invite is not None:
            dialog = Dialog.from_response(invite, resp)
        elif call.dialog is not None and resp.to.tag:
            won = call.dialog  # the INVITE is gone: the winning dialog has what we need
            contacts = resp.contact
            dialog = Dialog(call_id=won.call_id, local_tag=won.local_tag, remote_tag=resp.to.tag,
                            local=won.local, remote=won.remote,
                            remote_target=contacts[0].uri_text if contacts else won.remote_target,
                            route_set=tuple(reversed(resp.get_all("record-route", split=True))),
                            local_seq=resp.cseq.number, remote_seq=None)
        else:
            return
    except ParseError:
        return
    dialog.update_from_response(resp)
    loser = Call(ua=ua, role=Role.UAC, call_id=call.call_id, state=CallState.CONFIRMED, dialog=dialog)
    _ack(ua, loser, dialog, resp, now)
    send_bye(ua, loser, now)


# ---- UAS: taking a call ----------------------------------------------------------------

def incoming_invite(ua: UserAgent, req: Request, source: Address, key: TransactionKey, now: float) -> None:
    cfg = ua.config
    unsupported = [opt for opt in _option_tags(req, "require") if opt not in _KNOWN_EXTENSIONS]
    if unsupported:
        # RFC 3261 §8.2.2.3
        ua.respond(req, key, 420, now, headers=[("Unsupported", ", ".join(unsupported))])
        return
    if ua.draining or (cfg.max_calls is not None and ua.active_calls >= cfg.max_calls):
        ua.respond(req, key, 503, now, headers=[("Retry-After", "5")])
        return
    if not _timer.check_incoming(ua, req, key, now):
        return
    replaced = _refer.replaced_call(ua, req, key, now)
    if replaced is False:
        return  # answered 481 / 486 already (RFC 3891 §3)
    local_tag = ua.endpoint.new_tag()
    try:
        dialog = Dialog.from_request(req, local_tag, ua.rng.randrange(1, 2**16), source=source)
    except ParseError as exc:
        ua.respond(req, key, 400, now, reason=f"Bad Request ({exc.reason})")
        return
    call = Call(ua=ua, role=Role.UAS, call_id=req.call_id, state=CallState.INCOMING, invite=req,
                invite_key=key, source=source, dialog=dialog)
    if isinstance(replaced, Call):
        call.replaces = replaced
    call.local_media = cfg.media
    if has_sdp(req):
        call.remote_sdp = req.body
    ua.register_dialog(dialog.id, call)
    ua.track_invite(key, call)
    ua.active_calls += 1
    expires = (req.get("expires") or "").strip()
    if expires.isdigit() and len(expires) <= 10:
        call.invite_expiry = ua.timers.arm(now + int(expires), partial(_invite_expired, ua, call))
    ua.emit(IncomingCall(call=call, call_id=call.call_id, request=req, source=source,
                         replaces=replaced if isinstance(replaced, Call) else None))


def _option_tags(msg: Request | Response, header: str) -> list[str]:
    return [v.strip().lower() for v in msg.get_all(header, split=True) if v.strip()]


def send_provisional(ua: UserAgent, call: Call, now: float, code: int, early_media: bool,
                     sdp: bytes | None, headers: Headers,
                     media: LocalCapabilities | None = None) -> None:
    dialog = call.dialog
    invite = call.invite
    assert dialog is not None and invite is not None
    out: list[tuple[str, HeaderValue]] = [("Contact", ua.response_contact(invite))]
    body = b""
    if early_media:
        try:
            body = local_body(ua, call, sdp, media)
        except (ParseError, OfferAnswerError) as exc:
            reject(ua, call, now, 488, f"Not Acceptable Here ({exc})"[:80], ())
            return
        out += sdp_headers(body)
    out.extend(headers)
    reliable = _prack.wants_reliable(ua, invite, early_media)
    if reliable:
        out += _prack.provisional_headers(call)
    resp = make_response(invite, code, to_tag=dialog.local_tag, headers=out, body=body)
    ua.endpoint.send_response(resp, now, transaction=call.invite_key)
    call.state = CallState.EARLY
    if reliable:
        _prack.start_retransmit(ua, call, resp, now)


def answer(ua: UserAgent, call: Call, now: float, sdp: bytes | None,
           media: LocalCapabilities | None, headers: Headers) -> None:
    dialog = call.dialog
    invite = call.invite
    assert dialog is not None and invite is not None
    try:
        body = local_body(ua, call, sdp, media)
    except (ParseError, OfferAnswerError) as exc:
        reject(ua, call, now, 488, f"Not Acceptable Here ({exc})"[:80], ())
        return
    out: list[tuple[str, HeaderValue]] = [("Contact", ua.response_contact(invite))]
    out += ua.capability_headers()
    out += _timer.answer_headers(ua, call, invite)
    out += sdp_headers(body)
    out.extend(headers)
    resp = make_response(invite, 200, to_tag=dialog.local_tag, headers=out, body=body)
    _prack.stop(call)
    _stop_expiry(call)
    send_2xx(ua, call, resp, call.invite_key, now)
    call.state = CallState.ANSWERED
    dialog.state = DialogState.CONFIRMED
    _refer.on_answered(ua, call, now)


def _stop_expiry(call: Call) -> None:
    if call.invite_expiry is not None:
        call.invite_expiry.cancel()
        call.invite_expiry = None


def send_2xx(ua: UserAgent, call: Call, resp: Response, key: TransactionKey | None, now: float) -> None:
    """Send a 2xx to an INVITE and retransmit it until the ACK (RFC 3261 §13.3.1.4): T1,
    doubling to T2; after 64*T1 without an ACK the session ends with a BYE."""
    ua.endpoint.send_response(resp, now, transaction=key)
    call.final = resp
    call.final_key = key
    t1 = ua.config.endpoint.t1
    give_up = now + 64 * t1
    interval = None if ua.config.endpoint.reliable else t1
    call.retx = ua.timers.arm(now + (interval or 64 * t1), partial(_retransmit_2xx, ua, call, interval, give_up))


def _retransmit_2xx(ua: UserAgent, call: Call, interval: float | None, give_up: float, now: float) -> None:
    resp = call.final
    if resp is None:
        return
    if now >= give_up - 1e-9 or interval is None:
        _no_ack(ua, call, now)
        return
    key = call.final_key
    if key is not None and ua.endpoint.transaction_state(key) is not None:
        ua.endpoint.send_response(resp, now, transaction=key)
    interval = min(2 * interval, ua.config.endpoint.t2)
    call.retx = ua.timers.arm(min(now + interval, give_up), partial(_retransmit_2xx, ua, call, interval, give_up))


def _no_ack(ua: UserAgent, call: Call, now: float) -> None:
    call.final = None
    call.retx = None
    if call.state is CallState.ENDED:
        return
    # §13.3.1.4: the dialog is confirmed, but the session SHOULD be terminated with a BYE.
    send_bye(ua, call, now)
    end(ua, call, now, EndReason.TIMEOUT, None, "no ACK")


def on_ack(ua: UserAgent, req: Request, now: float) -> None:
    call = ua._dialogs.get((req.call_id, req.to.tag or "", req.from_.tag or ""))
    if call is None:
        return
    final = call.final
    if final is None or final.cseq.number != req.cseq.number:
        return  # a retransmitted ACK
    call.final = None
    if call.retx is not None:
        call.retx.cancel()
        call.retx = None
    sdp = req.body if has_sdp(req) else None
    media = None
    if sdp is not None and call.local_media is not None and awaiting_answer(call):
        media = process_answer(ua, call, sdp)
        call.remote_sdp = sdp
    if call.state is CallState.ANSWERED:
        call.state = CallState.CONFIRMED
        call.invite = None
        if call.cancel_requested:  # the application hung up while we waited for this ACK
            send_bye(ua, call, now)
            end(ua, call, now, EndReason.LOCAL_HANGUP)
            return
        _timer.on_answered_uas(ua, call, now)
        ua.emit(CallAnswered(call=call, call_id=call.call_id, media=call.media,
                             sdp=call.remote_sdp))
    elif media is not None or (sdp is not None and call.local_media is None):
        media_changed(ua, call, media, sdp)


def reject(ua: UserAgent, call: Call, now: float, code: int, reason: str | None, headers: Headers) -> None:
    invite = call.invite
    dialog = call.dialog
    assert invite is not None and dialog is not None
    _prack.stop(call)
    ua.respond(invite, call.invite_key, code, now, reason=reason, to_tag=dialog.local_tag, headers=headers)
    end(ua, call, now, EndReason.REJECTED, code, reason or "")


def remote_cancelled(ua: UserAgent, call: Call, now: float) -> None:
    if call.state in (CallState.INCOMING, CallState.EARLY):
        end(ua, call, now, EndReason.REMOTE_CANCELLED, 487, "Request Terminated")


def hangup(ua: UserAgent, call: Call, now: float, headers: Headers) -> None:
    state = call.state
    if call.role is Role.UAC and state in (CallState.CALLING, CallState.EARLY):
        call.cancel_requested = True
        if call.invite_key is not None and ua.endpoint.cancel(call.invite_key, now) is None:
            end(ua, call, now, EndReason.CANCELLED)
        return
    if state in (CallState.INCOMING, CallState.EARLY):
        reject(ua, call, now, 603, None, headers)
        return
    if state is CallState.ANSWERED:
        # §15: the callee waits for the ACK (or its timeout) before sending BYE.
        call.cancel_requested = True
        return
    send_bye(ua, call, now, headers)
    end(ua, call, now, EndReason.LOCAL_HANGUP)


def send_bye(ua: UserAgent, call: Call, now: float, headers: Headers = ()) -> None:
    dialog = call.dialog
    if dialog is None:
        return
    req, dest = dialog.request("BYE", None, headers=headers)
    ua.send(req, now, _ignore, dest=dest)


def _ignore(resp: Response | None, now: float) -> None:
    return None


def end(ua: UserAgent, call: Call, now: float, reason: EndReason, code: int | None = None,
        phrase: str = "") -> None:
    if call.state is CallState.ENDED:
        return
    call.state = CallState.ENDED
    call.end_reason = reason
    for timer in (call.retx, call.glare, call.session_timer, call.prack_wait, call.invite_expiry):
        if timer is not None:
            timer.cancel()
    call.retx = call.glare = call.session_timer = call.prack_wait = call.invite_expiry = None
    if call.role is Role.UAS or call.final is None:
        call.final = None
    if call.dialog is not None:
        ua.forget_dialog(call.dialog.id)
        call.dialog.state = DialogState.TERMINATED
    if call.early:
        for dialog in call.early.values():
            ua.forget_dialog(dialog.id)
    if call.role is Role.UAS:
        ua.forget_invite(call.invite_key)
    call.invite = call.invite if call.role is Role.UAC and call.dialog is None else None
    ua.active_calls -= 1
    ua.emit(CallEnded(call=call, call_id=call.call_id, reason=reason, status_code=code,
                      reason_phrase=phrase))
    _refer.on_call_ended(ua, call, now, reason, code)


def dialog_failed(ua: UserAgent, call: Call, now: float, code: int) -> None:
    """RFC 3261 §12.2.1.2: 481 or 408 to an in-dialog request ends the dialog."""
    if call.state is CallState.ENDED:
        return
    if code == 408:
        send_bye(ua, call, now)
    end(ua, call, now, EndReason.TIMEOUT if code == 408 else EndReason.REMOTE_HANGUP, code)


