"""Requests inside a call's dialog (RFC 3261 §12.2.2): BYE, re-INVITE and UPDATE offers
(§14, RFC 3311) with glare (491 and the §14.1 back-off), OPTIONS, INFO (RFC 6086, DTMF
relay), MESSAGE (RFC 3428), PRACK, REFER and NOTIFY; and our own re-offers."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rvoip_sansio._core import Address, LocalProtocolError, ParseError
from rvoip_sansio.sip import HeaderValue, Request, Response, make_response
from rvoip_sansio.transaction import TransactionKey

from . import _prack, _refer, _timer
from ._call import Call, CallState, Role
from ._dialog import Dialog
from ._events import (
    DtmfReceived,
    EndReason,
    InfoReceived,
    MessageReceived,
    OfferReceived,
    OfferRejected,
)
from ._invite import _ack, _resend_ack, dialog_failed, end, send_2xx
from ._media import (
    OfferAnswerError,
    answer_offer,
    awaiting_answer,
    has_sdp,
    media_changed,
    offer_answer,
    process_answer,
    sdp_headers,
)

if TYPE_CHECKING:
    from ._ua import UserAgent

__all__ = ["in_dialog_request", "reoffer", "answer_pending_offer"]


def in_dialog_request(ua: UserAgent, call: Call, req: Request, source: Address,
                      key: TransactionKey, now: float) -> None:
    method = req.method
    dialog = call.dialog
    if dialog is None or dialog.remote_tag != (req.from_.tag or ""):
        dialog = (call.early or {}).get(req.from_.tag or "")
    if dialog is None:
        ua.respond(req, key, 481, now)
        return
    if not dialog.check_remote_cseq(req):
        ua.respond(req, key, 500, now, reason="Server Internal Error (CSeq out of order)")
        return
    if method == "BYE":
        ua.respond(req, key, 200, now)
        if call.role is Role.UAS and call.state in (CallState.INCOMING, CallState.EARLY):
            ua.respond(call.invite, call.invite_key, 487, now, to_tag=dialog.local_tag)  # type: ignore[arg-type]
        end(ua, call, now, EndReason.REMOTE_HANGUP, None, "BYE")
    elif method == "INVITE" or method == "UPDATE":
        _incoming_offer(ua, call, dialog, req, key, now)
    elif method == "OPTIONS":
        ua._answer_options(req, key, now)
    elif method == "INFO":
        ua.respond(req, key, 200, now)
        _on_info(ua, call, req)
    elif method == "MESSAGE":
        ua.respond(req, key, 200, now)
        ua.emit(MessageReceived(sender=req.get("from") or "", content_type=req.content_type,
                                body=req.body, request=req, call=call))
    elif method == "PRACK":
        _prack.on_prack(ua, call, req, key, now)
    elif method == "REFER":
        _refer.on_refer(ua, call, req, key, now)
    elif method == "NOTIFY":
        _refer.on_notify(ua, call, req, key, now)
    elif method == "SUBSCRIBE":
        _refer.on_subscribe(ua, call, req, key, now)
    else:
        ua.respond(req, key, 405, now, headers=ua.capability_headers()[:1])


def _on_info(ua: UserAgent, call: Call, req: Request) -> None:
    ctype = (req.content_type or "").split(";", 1)[0].strip().lower()
    if ctype == "application/dtmf-relay" or ctype == "application/dtmf":
        digit, duration = _parse_dtmf(req.body, ctype)
        if digit is not None:
            ua.emit(DtmfReceived(call=call, call_id=call.call_id, digit=digit, duration_ms=duration))
            return
    ua.emit(InfoReceived(call=call, call_id=call.call_id, content_type=req.content_type,
                         body=req.body, request=req))


def _parse_dtmf(body: bytes, ctype: str) -> tuple[str | None, int]:
    text = body.decode("utf-8", "replace")
    if ctype == "application/dtmf":
        first = text.strip()[:1].upper()
        return (first, 250) if first and first in "0123456789*#ABCD" else (None, 0)
    digit: str | None = None
    duration = 250
    for line in text.splitlines():
        name, _, value = line.partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "signal" and value:
            sig = value.upper()
            digit = {"10": "*", "11": "#"}.get(sig, sig[:1])
        elif name == "duration" and value.isdigit() and len(value) < 7:
            duration = int(value)
    if digit is None or digit not in "0123456789*#ABCD":
        return None, 0
    return digit, duration


def _incoming_offer(ua: UserAgent, call: Call, dialog: Dialog, req: Request, key: TransactionKey,
                    now: float) -> None:
    """A re-INVITE or UPDATE (RFC 3261 §14.2, RFC 3311 §5.2)."""
    method = req.method
    sdp = req.body if has_sdp(req) else None
    oa = offer_answer(ua, call)
    ours_pending = call.reoffer_key is not None or (awaiting_answer(call) and call.state is not CallState.ANSWERED)
    if ours_pending and (sdp is not None or method == "INVITE"):
        ua.respond(req, key, 491, now)  # §14.2 / RFC 3311 §5.2: glare
        return
    if call.pending_offer is not None or (method == "INVITE" and call.final is not None):
        # §14.2: an INVITE arrived while we still process (or retransmit 2xx to) another.
        ua.respond(req, key, 500, now, headers=[("Retry-After", str(ua.rng.randint(0, 10)))])
        return
    early = call.state in (CallState.INCOMING, CallState.EARLY, CallState.CALLING)
    if early and sdp is not None and (call.local_sdp is None or call.remote_sdp is None):
        # RFC 3311 §5.2: an offer before the first exchange is complete.
        ua.respond(req, key, 500, now, headers=[("Retry-After", str(ua.rng.randint(0, 10)))])
        return
    if method == "UPDATE" and call.state is not CallState.CONFIRMED and sdp is None:
        ua.respond(req, key, 200, now, headers=[("Contact", ua.response_contact(req))])
        return
    dialog.update_target(req)
    refresh = _timer.on_refresh_request(ua, call, req, now)
    if oa is None:
        if sdp is None and method == "UPDATE":
            ua.respond(req, key, 200, now, headers=[("Contact", ua.response_contact(req)), *refresh])
            return
        call.pending_offer = (req, key)
        ua.emit(OfferReceived(call=call, call_id=call.call_id, sdp=sdp, method=method))
        return
    try:
        if sdp is not None:
            before = call.remote_sdp
            body = answer_offer(ua, call, sdp)
            call.remote_sdp = sdp
            if before != sdp:
                media_changed(ua, call, call.media, sdp)
        else:
            body = bytes(oa.create_offer(hold=call.on_hold))  # the answer comes in the ACK
            call.local_sdp = body
    except (ParseError, OfferAnswerError, LocalProtocolError) as exc:
        ua.respond(req, key, 488, now, reason=f"Not Acceptable Here ({exc})"[:80])
        return
    headers: list[tuple[str, HeaderValue]] = [("Contact", ua.response_contact(req)), *refresh, *sdp_headers(body)]
    resp = make_response(req, 200, headers=headers, body=body)
    if method == "INVITE":
        send_2xx(ua, call, resp, key, now)
    else:
        ua.endpoint.send_response(resp, now, transaction=key)


def answer_pending_offer(ua: UserAgent, call: Call, now: float, sdp: bytes | None, code: int) -> None:
    pending = call.pending_offer
    if pending is None:
        raise LocalProtocolError(f"dialog layer: call {call.call_id} has no offer to answer")
    call.pending_offer = None
    req, key = pending
    if code >= 300:
        ua.respond(req, key, code, now)
        return
    body = sdp or b""
    call.local_sdp = body or call.local_sdp
    if req.body:
        call.remote_sdp = req.body
    headers: list[tuple[str, HeaderValue]] = [("Contact", ua.response_contact(req)), *_timer.refresh_headers(call, False),
                                              *sdp_headers(body)]
    resp = make_response(req, 200, headers=headers, body=body)
    if req.method == "INVITE":
        send_2xx(ua, call, resp, key, now)
    else:
        ua.endpoint.send_response(resp, now, transaction=key)


def reoffer(ua: UserAgent, call: Call, now: float, sdp: bytes | None, method: str = "INVITE",
            refresh: bool = False) -> None:
    """Send a re-INVITE or UPDATE with a new offer (hold, resume, codec change, refresh).

    In an early dialog (RFC 3311 §5.1) only an UPDATE, and only once the first offer/answer
    exchange is complete (the answer came in a reliable provisional response or its PRACK);
    a UAC with several early dialogs (forking) updates the latest."""
    dialog = call.dialog
    if dialog is None and call.early:
        dialog = list(call.early.values())[-1]
    if dialog is None or call.state is CallState.ENDED:
        return
    if call.state in (CallState.CALLING, CallState.INCOMING, CallState.EARLY):
        if method != "UPDATE" or call.local_sdp is None or call.remote_sdp is None:
            raise LocalProtocolError(f"dialog layer: call {call.call_id} is early: an UPDATE needs a "
                                     "completed offer/answer exchange first (RFC 3311 §5.1)")
    oa = offer_answer(ua, call)
    if call.reoffer_key is not None or call.pending_offer is not None or awaiting_answer(call):
        if refresh:
            return  # an exchange in progress refreshes the session anyway
        raise LocalProtocolError(f"dialog layer: call {call.call_id} already has an offer outstanding")
    if call.glare is not None:
        call.glare.cancel()
        call.glare = None
    body = b""
    if oa is not None:
        body = bytes(oa.create_offer(hold=call.on_hold))
        call.local_sdp = body
    elif sdp is not None:
        body = sdp
    headers: list[tuple[str, HeaderValue]] = [*ua.capability_headers(), *_timer.refresh_headers(call, True),
                                              *sdp_headers(body)]
    req, dest = dialog.request(method, ua.dialog_contact(dialog), headers=headers, body=body)
    call.reoffer_key = ua.send(req, now, partial(_reoffer_response, ua, call, sdp, method, dialog), dest=dest,
                               call=call)


def _reoffer_response(ua: UserAgent, call: Call, sdp: bytes | None, method: str, sent_in: Dialog,
                      resp: Response | None, now: float) -> None:
    early = call.state in (CallState.CALLING, CallState.EARLY)
    if resp is None:
        call.reoffer_key = None
        if call.oa is not None:
            call.oa.rollback()
        if early:
            ua.emit(OfferRejected(call=call, call_id=call.call_id, status_code=408))
        else:
            dialog_failed(ua, call, now, 408)
        return
    code = resp.status_code
    if code < 200:
        return
    dialog = call.dialog
    if 200 <= code < 300 and call.reoffer_key is None:
        # A retransmitted 2xx to our re-INVITE: the ACK again (§13.2.2.4).
        if call.ack_cseq == resp.cseq.number:
            _resend_ack(ua, call, resp, now)
        return
    call.reoffer_key = None
    if dialog is None and call.early is not None:
        dialog = sent_in if sent_in in call.early.values() else None
    if call.state is CallState.ENDED or dialog is None:
        return
    if code < 300:
        dialog.update_from_response(resp)
        body = resp.body if has_sdp(resp) else None
        media = None
        if call.local_media is not None and body is not None and awaiting_answer(call):
            media = process_answer(ua, call, body)
        if body is not None:
            call.remote_sdp = body
        if method == "INVITE":
            _ack(ua, call, dialog, resp, now)
        _timer.on_refresh_response(ua, call, resp, now)
        media_changed(ua, call, media or call.media, body)
        return
    if call.oa is not None:
        call.oa.rollback()
    if code == 491:
        # §14.1: retry after a random time; 2.1–4 s in units of 10 ms when we own the
        # Call-ID (we placed the call), 0–2 s otherwise.
        if call.role is Role.UAC:
            delay = ua.rng.randint(210, 400) / 100.0
        else:
            delay = ua.rng.randint(0, 200) / 100.0
        call.glare = ua.timers.arm(now + delay, partial(_glare_retry, ua, call, sdp, method))
        return
    if code in (408, 481) and not early:
        dialog_failed(ua, call, now, code)
        return
    ua.emit(OfferRejected(call=call, call_id=call.call_id, status_code=code))


def _glare_retry(ua: UserAgent, call: Call, sdp: bytes | None, method: str, now: float) -> None:
    call.glare = None
    try:
        reoffer(ua, call, now, sdp, method, refresh=True)
    except LocalProtocolError:
        pass
