"""SDP offer/answer for calls (RFC 3264 through :mod:`rvoip_sansio.sdp`), kept small.

A call's first offer/answer exchange goes through per-UA caches: the initial offer made from
a set of capabilities is the same for every call but for the o= line, and so is the answer
to a given kind of offer. Each distinct exchange is negotiated once; a call stores its exact
SDP bytes and a shared :class:`NegotiatedSession`, and builds its own
:class:`OfferAnswer` only when a later exchange (re-INVITE, UPDATE) needs one, by replaying
the first exchange with the same session id (which restores exactly the state it stood for).

Calls answered from a cache share the negotiated result of the first equivalent exchange:
its media lines are this call's, but ``remote_origin`` / ``remote_sdp`` / ``local_sdp`` are
that first exchange's models (``call.remote_sdp`` and ``call.local_sdp`` are this call's
exact bytes).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rvoip_sansio._core import LocalProtocolError, ParseError
from rvoip_sansio.sdp import LocalCapabilities, NegotiatedSession, OfferAnswer, OfferAnswerError, OfferAnswerState
from rvoip_sansio.sip import HeaderValue, Request, Response

from ._call import Call, CallState, Role
from ._events import CallHeld, CallResumed, MediaUpdated

if TYPE_CHECKING:
    from ._ua import UserAgent

__all__ = [
    "SDP",
    "sdp_headers",
    "has_sdp",
    "offer_answer",
    "initial_offer",
    "awaiting_answer",
    "process_answer",
    "answer_offer",
    "local_body",
    "media_changed",
    "OfferAnswerError",
]

log = logging.getLogger("rvoip_sansio.dialog")

SDP = "application/sdp"
#: The o= session id of cached SDP, replaced by each call's own.
_TEMPLATE_SID = 987654321987654321
_TEMPLATE_O = f" {_TEMPLATE_SID} {_TEMPLATE_SID} ".encode()
_CACHE_SIZE = 64


def sdp_headers(body: bytes) -> list[tuple[str, HeaderValue]]:
    return [("Content-Type", SDP)] if body else []


def has_sdp(msg: Request | Response) -> bool:
    if not msg.body:
        return False
    ctype = msg.content_type
    return ctype is None or ctype.split(";", 1)[0].strip().lower() == SDP


def _without_origin(sdp: bytes) -> bytes:
    """The SDP with its o= line removed: what identifies an exchange across calls."""
    start = sdp.find(b"\no=")
    if start < 0:
        return sdp
    end = sdp.find(b"\n", start + 1)
    return sdp[:start] + (sdp[end:] if end >= 0 else b"")


def _personal(template: bytes, call: Call, ua: UserAgent) -> bytes:
    sid = ua.rng.getrandbits(62) or 1
    call.sdp_session_id = sid
    return template.replace(_TEMPLATE_O, f" {sid} {sid} ".encode(), 1)


def _cache_put(cache: dict[object, object], key: object, value: object) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


def offer_answer(ua: UserAgent, call: Call) -> OfferAnswer | None:
    """The call's RFC 3264 state, built on first need (None: the application handles SDP)."""
    caps = call.local_media
    if call.oa is None and caps is not None:
        oa = OfferAnswer(local=caps, rng=ua.rng, session_id=call.sdp_session_id or None)
        try:
            if call.cached_offer is not None:
                oa.answer_offer(call.cached_offer)  # replay: we answered this offer
            elif call.role is Role.UAC and call.sdp_session_id:
                oa.create_offer()  # replay: we made this offer...
                if not call.initial_offer and call.remote_sdp is not None:
                    oa.process_answer(call.remote_sdp)  # ...and got this answer
        except (ParseError, OfferAnswerError, LocalProtocolError) as exc:
            log.info("call %s: cannot rebuild SDP state: %s", call.call_id, exc)
            oa = OfferAnswer(local=caps, rng=ua.rng)
        call.cached_offer = None
        call.oa = oa
    return call.oa


def initial_offer(ua: UserAgent, call: Call, caps: LocalCapabilities) -> bytes:
    """The INVITE's offer from ``caps`` (one template per capability set)."""
    key = ("offer", id(caps))
    hit = ua.sdp_cache.get(key)
    if not isinstance(hit, tuple) or hit[1] is not caps:
        template = OfferAnswer(local=caps, rng=ua.rng, session_id=_TEMPLATE_SID)
        hit = (bytes(template.create_offer()), caps)
        _cache_put(ua.sdp_cache, key, hit)
    call.local_media = caps
    call.initial_offer = True
    body = _personal(hit[0], call, ua)
    call.local_sdp = body
    return body


def awaiting_answer(call: Call) -> bool:
    """Our offer (initial or re-offer) waits for the peer's answer."""
    if call.initial_offer:
        return True
    oa = call.oa
    return oa is not None and oa.state is OfferAnswerState.WAITING_FOR_ANSWER


def process_answer(ua: UserAgent, call: Call, sdp: bytes) -> NegotiatedSession | None:
    """The peer's answer to our outstanding offer; None when it is unusable."""
    caps = call.local_media
    try:
        if call.initial_offer and call.oa is None and caps is not None:
            key = ("answer", id(caps), _without_origin(sdp))
            hit = ua.sdp_cache.get(key)
            if not isinstance(hit, tuple) or hit[1] is not caps:
                template = OfferAnswer(local=caps, rng=ua.rng, session_id=_TEMPLATE_SID)
                template.create_offer()
                hit = (template.process_answer(sdp), caps)
                _cache_put(ua.sdp_cache, key, hit)
            call.initial_offer = False
            call.media = hit[0]
            return call.media
        oa = offer_answer(ua, call)
        assert oa is not None
        call.initial_offer = False
        call.media = oa.process_answer(sdp)
        return call.media
    except (ParseError, OfferAnswerError, LocalProtocolError) as exc:
        log.info("call %s: unusable SDP answer: %s", call.call_id, exc)
        call.initial_offer = False
        if call.oa is not None:
            call.oa.rollback()
        return None


def answer_offer(ua: UserAgent, call: Call, offer: bytes) -> bytes:
    """Our SDP answer to ``offer`` (raises ParseError/OfferAnswerError on a bad offer)."""
    caps = call.local_media
    if call.oa is None and caps is not None and not call.on_hold and call.local_sdp is None and call.state in (
            CallState.CALLING, CallState.INCOMING, CallState.EARLY):
        key = ("answer-to", id(caps), _without_origin(offer))
        hit = ua.sdp_cache.get(key)
        if not isinstance(hit, tuple) or hit[2] is not caps:
            template = OfferAnswer(local=caps, rng=ua.rng, session_id=_TEMPLATE_SID)
            answer_sdp, media = template.answer_offer(offer)
            hit = (bytes(answer_sdp), media, caps)
            _cache_put(ua.sdp_cache, key, hit)
        call.cached_offer = offer
        call.media = hit[1]
        body = _personal(hit[0], call, ua)
        call.local_sdp = body
        return body
    oa = offer_answer(ua, call)
    assert oa is not None
    answer_sdp, media = oa.answer_offer(offer, hold=call.on_hold)
    call.media = media
    body = bytes(answer_sdp)
    call.local_sdp = body
    return body


def local_body(ua: UserAgent, call: Call, sdp: bytes | None, media: LocalCapabilities | None) -> bytes:
    """The SDP for our answer to the INVITE (or, after an INVITE without SDP, our offer)."""
    if sdp is not None:
        call.local_sdp = sdp
        return sdp
    if call.local_sdp is not None:
        return call.local_sdp  # already sent in a reliable/early-media provisional response
    if media is not None:
        call.local_media = media
        call.oa = None
    if call.local_media is None:
        return b""
    invite = call.invite
    assert invite is not None
    if has_sdp(invite):
        body = answer_offer(ua, call, invite.body)
        if call.media is not None and not any(m.accepted for m in call.media.media):
            raise OfferAnswerError("no common codec")
        return body
    oa = offer_answer(ua, call)
    assert oa is not None
    body = bytes(oa.create_offer(hold=call.on_hold))
    call.local_sdp = body
    return body


def media_changed(ua: UserAgent, call: Call, media: NegotiatedSession | None, sdp: bytes | None) -> None:
    """Report new media, and hold/resume by the peer (its side stopped receiving: sendonly
    or inactive, RFC 3264 §8.4 / RFC 6337)."""
    ua.emit(MediaUpdated(call=call, call_id=call.call_id, media=media, sdp=sdp))
    if media is None:
        return
    audio = next((m for m in media.media if m.accepted), None)
    held = audio is not None and not audio.remote_direction.receives
    if held != call.held_by_peer:
        call.held_by_peer = held
        ua.emit((CallHeld if held else CallResumed)(call=call, call_id=call.call_id))
