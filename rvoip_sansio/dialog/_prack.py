"""Reliable provisional responses (RFC 3262): RSeq, RAck, PRACK, both sides.

UAS: a provisional response sent reliably carries ``Require: 100rel`` and an RSeq, and is
retransmitted (T1, doubling) until a PRACK acknowledges it; after 64*T1 without one the
INVITE is rejected with a 5xx (§3). UAC: each new reliable provisional response is
PRACKed in its early dialog (§4); retransmissions are recognised by their RSeq.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import logging

from rvoip_sansio._core import LocalProtocolError, ParseError
from rvoip_sansio.sip import HeaderValue, Request, Response, make_response

from ._call import Call, CallState
from ._dialog import Dialog
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
    from rvoip_sansio.transaction import TransactionKey

    from ._ua import UserAgent

__all__ = ["wants_reliable", "provisional_headers", "start_retransmit", "stop", "on_prack",
           "is_reliable", "new_rseq", "send_prack"]

log = logging.getLogger("rvoip_sansio.dialog")


def _tags(msg: Request | Response, header: str) -> set[str]:
    return {v.strip().lower() for v in msg.get_all(header, split=True)}


def wants_reliable(ua: UserAgent, invite: Request, early_media: bool) -> bool:
    """§3: send reliably when the caller requires 100rel, or supports it and we send SDP."""
    if not ua.config.prack:
        return False
    if "100rel" in _tags(invite, "require"):
        return True
    return early_media and "100rel" in _tags(invite, "supported")


def provisional_headers(call: Call) -> list[tuple[str, HeaderValue]]:
    # §3: the first RSeq is random in 1..2**31-1, then it increments by one.
    call.rseq = call.ua.rng.randint(1, 2**31 - 1) if call.rseq == 0 else call.rseq + 1
    return [("Require", "100rel"), ("RSeq", str(call.rseq))]


def start_retransmit(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    stop(call)
    t1 = ua.config.endpoint.t1
    if ua.config.endpoint.reliable:
        call.prack_wait = ua.timers.arm(now + 64 * t1, partial(_give_up, ua, call))
        return
    call.prack_wait = ua.timers.arm(now + t1, partial(_retransmit, ua, call, resp, t1, now + 64 * t1))


def _retransmit(ua: UserAgent, call: Call, resp: Response, interval: float, give_up: float,
                now: float) -> None:
    if now >= give_up - 1e-9:
        _give_up(ua, call, now)
        return
    if call.state is not CallState.EARLY or call.invite_key is None:
        return
    if ua.endpoint.transaction_state(call.invite_key) is not None:
        ua.endpoint.send_response(resp, now, transaction=call.invite_key)
    interval *= 2
    call.prack_wait = ua.timers.arm(min(now + interval, give_up),
                                    partial(_retransmit, ua, call, resp, interval, give_up))


def _give_up(ua: UserAgent, call: Call, now: float) -> None:
    from ._invite import reject

    call.prack_wait = None
    if call.state is CallState.EARLY and call.invite is not None:
        reject(ua, call, now, 504, "Server Time-out (no PRACK)", ())


def stop(call: Call) -> None:
    if call.prack_wait is not None:
        call.prack_wait.cancel()
        call.prack_wait = None


def on_prack(ua: UserAgent, call: Call, req: Request, key: TransactionKey, now: float) -> None:
    """§3: a PRACK whose RAck names our latest reliable provisional response.

    §5: its body may be the answer to an offer of ours in that provisional response (an
    INVITE without SDP), or a new offer, answered in the 200 to the PRACK."""
    rack = (req.get("rack") or "").split()
    if len(rack) != 3 or not rack[0].isdigit() or int(rack[0]) != call.rseq or call.rseq == 0:
        ua.respond(req, key, 481, now)
        return
    stop(call)
    sdp = req.body if has_sdp(req) else None
    if sdp is None:
        ua.respond(req, key, 200, now)
        return
    body = b""
    try:
        if awaiting_answer(call):
            media = process_answer(ua, call, sdp)
            if media is None:
                ua.respond(req, key, 488, now)
                return
        else:
            if offer_answer(ua, call) is None:
                # No media capabilities (the application relays SDP): no offer in PRACK.
                ua.respond(req, key, 488, now, reason="Not Acceptable Here (offer in PRACK)")
                return
            body = answer_offer(ua, call, sdp)
    except (ParseError, OfferAnswerError, LocalProtocolError) as exc:
        ua.respond(req, key, 488, now, reason=f"Not Acceptable Here ({exc})"[:80])
        return
    call.remote_sdp = sdp
    ua.endpoint.send_response(make_response(req, 200, headers=sdp_headers(body), body=body), now,
                              transaction=key)
    media_changed(ua, call, call.media, sdp)


def is_reliable(resp: Response) -> bool:
    return "100rel" in _tags(resp, "require") and resp.get("rseq") is not None


def new_rseq(call: Call, resp: Response) -> bool:
    """UAC (§4): True for a reliable provisional response with a new RSeq (to PRACK),
    False for a retransmission or a malformed RSeq."""
    rseq_text = (resp.get("rseq") or "").strip()
    if not rseq_text.isdigit() or len(rseq_text) > 10:
        return False
    rseq = int(rseq_text)
    if call.rseq and rseq <= call.rseq:
        return False
    call.rseq = rseq
    return True


def prack_body(ua: UserAgent, call: Call, sdp: bytes | None) -> bytes:
    """UAC (§5): what our PRACK carries. An offer in the reliable provisional response (we
    sent the INVITE without SDP) is answered here; after an answer, the offer the
    application asked for with :meth:`Call.offer_in_prack` goes here."""
    try:
        if sdp is not None and call.local_media is not None and call.local_sdp is None:
            body = answer_offer(ua, call, sdp)
            call.remote_sdp = sdp
            return body
        if call.prack_offer is not None and not awaiting_answer(call) and call.local_sdp is not None:
            caps, call.prack_offer = call.prack_offer, None
            oa = offer_answer(ua, call)
            if oa is None:
                return b""
            oa.local = caps
            call.local_media = caps
            body = bytes(oa.create_offer(hold=call.on_hold))
            call.local_sdp = body
            return body
    except (ParseError, OfferAnswerError, LocalProtocolError) as exc:
        log.info("call %s: no SDP for the PRACK: %s", call.call_id, exc)
    return b""


def send_prack(ua: UserAgent, call: Call, dialog: Dialog, resp: Response, body: bytes, now: float) -> None:
    headers: list[tuple[str, HeaderValue]] = [("RAck", f"{call.rseq} {resp.cseq.number} INVITE")]
    headers += sdp_headers(body)
    req, dest = dialog.request("PRACK", None, headers=headers, body=body)
    offered = bool(body) and awaiting_answer(call)
    ua.send(req, now, partial(_prack_response, ua, call, offered), dest=dest, call=call)


def _prack_response(ua: UserAgent, call: Call, offered: bool, resp: Response | None, now: float) -> None:
    """§5: the answer to an offer we made in the PRACK comes in its 2xx."""
    if not offered or (resp is not None and resp.status_code < 200) or call.state is CallState.ENDED:
        return
    if resp is not None and resp.status_code < 300 and has_sdp(resp) and awaiting_answer(call):
        media = process_answer(ua, call, resp.body)
        call.remote_sdp = resp.body
        media_changed(ua, call, media, resp.body)
    elif call.oa is not None and awaiting_answer(call):
        call.oa.rollback()
