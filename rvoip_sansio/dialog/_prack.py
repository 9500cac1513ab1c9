"""Reliable provisional responses (RFC 3262): RSeq, RAck, PRACK, both sides.

UAS: a provisional response sent reliably carries ``Require: 100rel`` and an RSeq, and is
retransmitted (T1, doubling) until a PRACK acknowledges it; after 64*T1 without one the
INVITE is rejected with a 5xx (§3). UAC: each new reliable provisional response is
PRACKed in its early dialog (§4); retransmissions are recognised by their RSeq.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rvoip_sansio.sip import HeaderValue, Request, Response

from ._call import Call, CallState
from ._dialog import Dialog

if TYPE_CHECKING:
    from rvoip_sansio.transaction import TransactionKey

    from ._ua import UserAgent

__all__ = ["wants_reliable", "provisional_headers", "start_retransmit", "stop", "on_prack",
           "on_reliable_provisional"]


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
    """§3: a PRACK whose RAck names our latest reliable provisional response."""
    rack = (req.get("rack") or "").split()
    if len(rack) != 3 or not rack[0].isdigit() or int(rack[0]) != call.rseq or call.rseq == 0:
        ua.respond(req, key, 481, now)
        return
    stop(call)
    ua.respond(req, key, 200, now)


def on_reliable_provisional(ua: UserAgent, call: Call, dialog: Dialog, resp: Response, now: float) -> bool:
    """UAC (§4): PRACK a new reliable provisional response. False for a retransmission."""
    rseq_text = (resp.get("rseq") or "").strip()
    if "100rel" not in _tags(resp, "require") or not rseq_text.isdigit() or len(rseq_text) > 10:
        return True
    rseq = int(rseq_text)
    if call.rseq and rseq <= call.rseq:
        return False
    call.rseq = rseq
    req, dest = dialog.request("PRACK", None, headers=[("RAck", f"{rseq} {resp.cseq.number} INVITE")])
    ua.send(req, now, _ignore, dest=dest, call=call)
    return True


def _ignore(resp: Response | None, now: float) -> None:
    return None
