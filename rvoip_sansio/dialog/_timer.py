"""Session timers (RFC 4028): Session-Expires, Min-SE, 422, refreshes and expiry.

The refresher sends a re-INVITE (or an UPDATE when the call relays SDP without media
capabilities) at half the interval (§10); the other side ends the call with a BYE when no
refresh came ``min(32, interval/3)`` seconds before the interval ran out (§10).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rvoip_sansio.sip import HeaderValue, Request, Response

from ._call import Call, CallState, Role
from ._events import EndReason

if TYPE_CHECKING:
    from rvoip_sansio.transaction import TransactionKey

    from ._ua import UserAgent

__all__ = [
    "parse_session_expires",
    "request_headers",
    "check_incoming",
    "answer_headers",
    "on_answered_uac",
    "on_answered_uas",
    "on_refresh_request",
    "on_refresh_response",
    "refresh_headers",
    "retry_after_422",
]

Headers = list[tuple[str, HeaderValue]]


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def parse_session_expires(msg: Request | Response) -> tuple[int, str | None] | None:
    """(interval, refresher) from Session-Expires (compact form ``x``), or None."""
    value = msg.get("session-expires")
    if value is None:
        return None
    head, *params = value.split(";")
    interval = _number(head)
    if interval is None:
        return None
    refresher = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return interval, refresher


def _supports_timer(msg: Request | Response) -> bool:
    values = msg.get_all("supported", split=True) + msg.get_all("require", split=True)
    return any(v.strip().lower() == "timer" for v in values)


def request_headers(ua: UserAgent) -> Headers:
    se = ua.config.session_expires
    if se is None:
        return []
    return [("Session-Expires", str(se)), ("Min-SE", str(ua.config.min_se))]


def check_incoming(ua: UserAgent, req: Request, key: TransactionKey, now: float) -> bool:
    """§5: an interval below our Min-SE is answered 422 with our Min-SE."""
    parsed = parse_session_expires(req)
    if parsed is not None and parsed[0] < ua.config.min_se:
        ua.respond(req, key, 422, now, headers=[("Min-SE", str(ua.config.min_se))])
        return False
    return True


def answer_headers(ua: UserAgent, call: Call, invite: Request) -> Headers:
    """§9: the 2xx names the interval and the refresher (the UAC when it supports timers)."""
    parsed = parse_session_expires(invite)
    supports = _supports_timer(invite)
    if parsed is not None:
        interval, refresher = parsed
    elif ua.config.session_expires is not None:
        interval, refresher = ua.config.session_expires, None
    else:
        return []
    if refresher is None:
        refresher = "uac" if supports else "uas"
    call.session_expires = interval
    call.refresher_is_us = refresher == "uas"
    headers: Headers = [("Session-Expires", f"{interval};refresher={refresher}")]
    if supports:
        headers.append(("Require", "timer"))
    return headers


def _arm(ua: UserAgent, call: Call, now: float) -> None:
    if call.session_timer is not None:
        call.session_timer.cancel()
        call.session_timer = None
    interval = call.session_expires
    if interval is None or call.state is CallState.ENDED:
        return
    if call.refresher_is_us:
        call.session_timer = ua.timers.arm(now + interval / 2, partial(_refresh, ua, call))
    else:
        call.session_timer = ua.timers.arm(now + interval - min(32.0, interval / 3),
                                           partial(_expire, ua, call))


def _refresh(ua: UserAgent, call: Call, now: float) -> None:
    from ._reoffer import reoffer

    call.session_timer = None
    if call.state is not CallState.CONFIRMED:
        return
    reoffer(ua, call, now, None, "INVITE" if call.local_media is not None else "UPDATE", refresh=True)
    _arm(ua, call, now)  # until the refresh's 2xx re-arms it


def _expire(ua: UserAgent, call: Call, now: float) -> None:
    from ._invite import end, send_bye

    call.session_timer = None
    if call.state is CallState.ENDED:
        return
    send_bye(ua, call, now, (("Reason", 'SIP;cause=408;text="Session expired"'),))
    end(ua, call, now, EndReason.SESSION_EXPIRED, 408, "Session expired")


def on_answered_uac(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    parsed = parse_session_expires(resp)
    if parsed is None:
        return
    interval, refresher = parsed
    call.session_expires = interval
    call.refresher_is_us = refresher != "uas"
    _arm(ua, call, now)


def on_answered_uas(ua: UserAgent, call: Call, now: float) -> None:
    _arm(ua, call, now)


def refresh_headers(call: Call, as_request: bool) -> Headers:
    """Session-Expires for a refresh request we send, or our 2xx to the peer's."""
    interval = call.session_expires
    if interval is None:
        return []
    if as_request:
        refresher = "uac" if call.refresher_is_us else "uas"
    else:
        refresher = "uas" if call.refresher_is_us else "uac"
    return [("Session-Expires", f"{interval};refresher={refresher}")]


def on_refresh_request(ua: UserAgent, call: Call, req: Request, now: float) -> Headers:
    """A re-INVITE/UPDATE from the peer refreshes the session (§10); returns the 2xx's header."""
    parsed = parse_session_expires(req)
    if parsed is not None:
        interval, refresher = parsed
        call.session_expires = max(interval, ua.config.min_se)
        call.refresher_is_us = refresher == "uas"
    if call.session_expires is None:
        return []
    if call.state is CallState.CONFIRMED:
        _arm(ua, call, now)
    return refresh_headers(call, False)


def on_refresh_response(ua: UserAgent, call: Call, resp: Response, now: float) -> None:
    parsed = parse_session_expires(resp)
    if parsed is not None:
        interval, refresher = parsed
        call.session_expires = interval
        call.refresher_is_us = refresher != "uas"
    if call.session_expires is not None:
        _arm(ua, call, now)


def retry_after_422(ua: UserAgent, call: Call, resp: Response, now: float) -> bool:
    """§7.3: a 422 names the smallest interval the peer takes; try again with it."""
    from ._invite import _invite_response

    min_se = _number((resp.get("min-se") or "").split(";")[0])
    invite = call.invite
    if min_se is None or invite is None or call.role is not Role.UAC or call.cancel_requested:
        return False
    headers = [(n, v) for n, v in invite.headers
               if n.lower() not in ("via", "cseq", "session-expires", "min-se", "authorization",
                                    "proxy-authorization")]
    number = invite.cseq.number + 1
    headers += [("CSeq", f"{number} INVITE"), ("Session-Expires", str(min_se)), ("Min-SE", str(min_se))]
    new = Request("INVITE", invite.uri_text, headers, invite.body)
    call.invite = new
    call.invite_key = ua.send(new, now, partial(_invite_response, ua, call), call=call)
    return True
