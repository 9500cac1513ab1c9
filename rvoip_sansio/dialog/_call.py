"""The call handle: one INVITE session as the application sees it.

A :class:`Call` is returned by :meth:`UserAgent.invite` and carried by every call event.
Its methods are the application's verbs (``answer``, ``hold``, ``hangup``...), each taking
``now``; they check the call state first (a verb the state does not allow raises
:class:`LocalProtocolError` naming the call, its state and the verb, before anything
changes) and then hand over to the INVITE session logic in :mod:`._invite`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final, Iterable

import attrs

from rvoip_sansio._core import Address, LocalProtocolError
from rvoip_sansio.sdp import LocalCapabilities, NegotiatedSession, OfferAnswer
from rvoip_sansio.sip import HeaderValue, Request, Response
from rvoip_sansio.transaction import TransactionKey

from ._dialog import Dialog
from ._events import EndReason

if TYPE_CHECKING:
    from ._subscribe import Subscription
    from ._timers import Timer
    from ._ua import UserAgent

__all__ = ["Call", "CallState", "Role", "VERBS"]

Headers = Iterable[tuple[str, HeaderValue]]


class Role(enum.Enum):
    UAC = "uac"  # we sent the INVITE
    UAS = "uas"  # we received it


class CallState(enum.Enum):
    CALLING = "calling"  # UAC: INVITE sent, no dialog yet
    INCOMING = "incoming"  # UAS: INVITE received, not answered
    EARLY = "early"  # a provisional response with a To tag went out / came in
    ANSWERED = "answered"  # UAS: 2xx sent, waiting for the ACK
    CONFIRMED = "confirmed"  # the session is up
    ENDED = "ended"


_S = CallState
_LIVE = frozenset({_S.CALLING, _S.INCOMING, _S.EARLY, _S.ANSWERED, _S.CONFIRMED})

#: Which verbs each state allows, per role: (verb) -> {(role, state)}. Everything the
#: application may do to a call is listed here; anything else is a LocalProtocolError.
VERBS: Final[dict[str, frozenset[tuple[Role, CallState]]]] = {
    "ring": frozenset({(Role.UAS, _S.INCOMING), (Role.UAS, _S.EARLY)}),
    "answer": frozenset({(Role.UAS, _S.INCOMING), (Role.UAS, _S.EARLY)}),
    "reject": frozenset({(Role.UAS, _S.INCOMING), (Role.UAS, _S.EARLY)}),
    "hangup": frozenset({(r, s) for r in Role for s in _LIVE}),
    "hold": frozenset({(r, s) for r in Role for s in (_S.EARLY, _S.CONFIRMED)}),
    "resume": frozenset({(r, s) for r in Role for s in (_S.EARLY, _S.CONFIRMED)}),
    "offer_in_prack": frozenset({(Role.UAC, _S.CALLING), (Role.UAC, _S.EARLY)}),
    "reinvite": frozenset({(r, _S.CONFIRMED) for r in Role}),
    "update": frozenset({(r, s) for r in Role for s in (_S.EARLY, _S.CONFIRMED, _S.ANSWERED)}),
    "accept_offer": frozenset({(r, s) for r in Role for s in (_S.CONFIRMED, _S.ANSWERED)}),
    "send_info": frozenset({(r, s) for r in Role for s in (_S.EARLY, _S.CONFIRMED)}),
    "send_message": frozenset({(r, _S.CONFIRMED) for r in Role}),
    "transfer": frozenset({(r, _S.CONFIRMED) for r in Role}),
    "end_transfer_subscription": frozenset({(r, _S.CONFIRMED) for r in Role}),
    "follow_transfer": frozenset({(r, s) for r in Role for s in _LIVE | {_S.ENDED}}),
}


@attrs.define(slots=True, eq=False, repr=False)
class Call:
    """One call (INVITE session). Read-only for the application except through its verbs."""

    ua: UserAgent
    role: Role
    call_id: str
    state: CallState
    #: The INVITE that started the call (ours or the peer's); dropped once the call is up
    #: to keep established calls small (read custom headers from the IncomingCall event).
    invite: Request | None = None
    #: UAC: our INVITE's client transaction; UAS: the INVITE's server transaction.
    invite_key: TransactionKey | None = None
    source: Address | None = None
    dialog: Dialog | None = None
    #: UAC early dialogs by remote tag (forking, RFC 3261 §13.2.2.4).
    early: dict[str, Dialog] | None = None
    #: RFC 3264 state; built on first need (see _media.offer_answer)
    oa: OfferAnswer | None = None
    sdp_session_id: int = 0
    cached_offer: bytes | None = None
    #: The negotiated media for the media layer: remote RTP address, codec, PT, DTMF PT,
    #: direction, crypto and fingerprints (see rvoip_sansio.sdp.NegotiatedMedia).
    media: NegotiatedSession | None = None
    local_sdp: bytes | None = None
    remote_sdp: bytes | None = None
    on_hold: bool = False  # we hold the peer
    held_by_peer: bool = False
    end_reason: EndReason | None = None
    #: UAS: our 2xx (retransmitted until ACK, RFC 3261 §13.3.1.4) and its transaction.
    final: Response | None = None
    final_key: TransactionKey | None = None
    retx: Timer | None = None
    #: UAC: the CSeq of the ACK we sent for the 2xx (0: none), and its body when it had one
    #: (an answer to an offer in the 2xx); the ACK is rebuilt, identically, when the 2xx is
    #: retransmitted (not kept as bytes: it is most of an established call's memory).
    ack_cseq: int = 0
    ack_body: bytes | None = None
    #: A re-INVITE/UPDATE of ours is outstanding; a glare retry is scheduled.
    reoffer_key: TransactionKey | None = None
    glare: Timer | None = None
    #: UAS side of a re-INVITE/UPDATE waiting for the application (no media capabilities).
    pending_offer: tuple[Request, TransactionKey] | None = None
    cancel_requested: bool = False
    #: RFC 3261 §13.2.1 / §13.3.1: the INVITE's Expires timer; it lapsed (CANCEL / 487).
    invite_expiry: Timer | None = None
    expired: bool = False
    redirects: int = 0  # 3xx followed so far (§8.1.3.4)
    #: UAC: our first offer (from the UA's cache) waits for its answer
    initial_offer: bool = False
    #: UAC: the latest provisional response reported (code, To tag, body size)
    last_progress: tuple[int, str | None, int] | None = None
    #: RFC 3262 (reliable provisional responses)
    rseq: int = 0
    prack_wait: Timer | None = None
    #: UAC: capabilities for a new offer in our next PRACK (RFC 3262 §5), see offer_in_prack
    prack_offer: LocalCapabilities | None = None
    #: RFC 4028 session timer: interval, who refreshes, the timer.
    session_expires: int | None = None
    refresher_is_us: bool = False
    session_timer: Timer | None = None
    #: RFC 3515: the REFER we received (target, Replaces, the call it spawned), or sent.
    refer_from: Subscription | None = None
    #: RFC 3515 §2.4.4: the implicit subscription of a REFER on this call (ours or the peer's).
    refer_sub: Subscription | None = None
    #: RFC 3891: the call an incoming INVITE with Replaces takes over (ended on answer).
    replaces: Call | None = None
    refer_target: str | None = None
    local_media: LocalCapabilities | None = None
    extra_headers: tuple[tuple[str, HeaderValue], ...] = ()

    def __repr__(self) -> str:
        return f"<Call {self.role.value} {self.call_id} {self.state.value}>"

    @property
    def is_active(self) -> bool:
        return self.state is not CallState.ENDED

    @property
    def remote_uri(self) -> str | None:
        return self.dialog.remote if self.dialog is not None else None

    def _check(self, verb: str) -> None:
        if (self.role, self.state) not in VERBS[verb]:
            raise LocalProtocolError(
                f"dialog layer: call {self.call_id} ({self.role.value}) in state "
                f"{self.state.value} cannot {verb}"
            )

    # ---- verbs -------------------------------------------------------------------------

    def ring(self, now: float, *, code: int = 180, early_media: bool = False,
             sdp: bytes | None = None, media: LocalCapabilities | None = None,
             headers: Headers = ()) -> None:
        """Send a provisional response: 180 Ringing, or 183 with early media when
        ``early_media`` (SDP answer from our capabilities, or from ``media``: they then stay
        the call's) or ``sdp`` (verbatim) is given."""
        self._check("ring")
        if not 101 <= code <= 199:
            raise LocalProtocolError(f"dialog layer: ring needs a code 101-199, not {code}")
        from . import _invite
        _invite.send_provisional(self.ua, self, now, code, early_media or sdp is not None, sdp,
                                 tuple(headers), media)

    def answer(self, now: float, *, sdp: bytes | None = None, media: LocalCapabilities | None = None,
               headers: Headers = ()) -> None:
        """Accept the call with 200 OK. The SDP answer is made from the UA's media
        capabilities (or ``media``), unless ``sdp`` gives the body verbatim."""
        self._check("answer")
        from . import _invite
        _invite.answer(self.ua, self, now, sdp, media, tuple(headers))

    def reject(self, now: float, *, code: int = 486, reason: str | None = None,
               headers: Headers = ()) -> None:
        """Refuse the call with a final response >= 300 (486 Busy Here by default)."""
        self._check("reject")
        if not 300 <= code <= 699:
            raise LocalProtocolError(f"dialog layer: reject needs a code 300-699, not {code}")
        from . import _invite
        _invite.reject(self.ua, self, now, code, reason, tuple(headers))

    def hangup(self, now: float, *, headers: Headers = ()) -> None:
        """End the call whatever its state: CANCEL before an answer, 603 an incoming call
        not yet answered, BYE an established one."""
        self._check("hangup")
        from . import _invite
        _invite.hangup(self.ua, self, now, tuple(headers))

    def hold(self, now: float, *, method: str | None = None) -> None:
        """Put the peer on hold: a re-INVITE (or ``method="UPDATE"``, RFC 3311) with our
        streams sendonly (RFC 3264 §8.4). Before the answer (early dialog) it is always an
        UPDATE (RFC 3311 §5.1), once the first offer/answer exchange is complete."""
        self._check("hold")
        self._reoffer_holding(True, now, method)

    def resume(self, now: float, *, method: str | None = None) -> None:
        self._check("resume")
        self._reoffer_holding(False, now, method)

    def _reoffer_holding(self, hold: bool, now: float, method: str | None) -> None:
        early = self.state is CallState.EARLY
        method = method or ("UPDATE" if early else "INVITE")
        if early and method != "UPDATE":
            raise LocalProtocolError(f"dialog layer: call {self.call_id} is early: hold/resume by UPDATE only")
        if method not in ("INVITE", "UPDATE"):
            raise LocalProtocolError(f"dialog layer: hold/resume by INVITE or UPDATE, not {method}")
        from . import _reoffer
        previous, self.on_hold = self.on_hold, hold
        try:
            _reoffer.reoffer(self.ua, self, now, None, method)
        except LocalProtocolError:
            self.on_hold = previous  # an offer is outstanding: nothing changed
            raise

    def reinvite(self, now: float, *, sdp: bytes | None = None,
                 media: LocalCapabilities | None = None) -> None:
        """A new offer: new capabilities (codec change), or a verbatim body (relayed)."""
        self._check("reinvite")
        if media is not None:
            self._set_media(media)
        from . import _reoffer
        _reoffer.reoffer(self.ua, self, now, sdp)

    def use_media(self, media: LocalCapabilities) -> None:
        """Capabilities for this call's later offers and answers (hold/resume re-offers, the
        answer to a peer's re-offer) without sending anything; e.g. the DTLS-SRTP role fixed
        after the first exchange (RFC 8842 §5)."""
        self._set_media(media)

    def _set_media(self, media: LocalCapabilities) -> None:
        from ._media import offer_answer
        oa = offer_answer(self.ua, self)  # built from the old capabilities (replay)
        self.local_media = media
        if oa is not None:
            oa.local = media

    def update(self, now: float, *, sdp: bytes | None = None, media: LocalCapabilities | None = None) -> None:
        """An UPDATE (RFC 3311) with a new offer: from new capabilities ``media`` (an
        early-media codec change before the answer), verbatim ``sdp``, or a session refresh
        without SDP when the call has no media capabilities. In an early dialog it needs the
        first offer/answer exchange complete (RFC 3311 §5.1)."""
        self._check("update")
        if media is not None:
            self._set_media(media)
        from . import _reoffer
        _reoffer.reoffer(self.ua, self, now, sdp, method="UPDATE")

    def offer_in_prack(self, media: LocalCapabilities) -> None:
        """Put a new offer made from ``media`` into the PRACK of the next reliable
        provisional response that completes the first offer/answer exchange (RFC 3262 §5);
        its answer comes in the 200 to the PRACK (``MediaUpdated``)."""
        self._check("offer_in_prack")
        self.prack_offer = media

    def accept_offer(self, sdp: bytes, now: float) -> None:
        """Answer the re-INVITE/UPDATE offer reported by :class:`OfferReceived`."""
        self._check("accept_offer")
        from . import _reoffer
        _reoffer.answer_pending_offer(self.ua, self, now, sdp, 200)

    def reject_offer(self, now: float, *, code: int = 488) -> None:
        from . import _reoffer
        _reoffer.answer_pending_offer(self.ua, self, now, None, code)

    def send_dtmf_info(self, digit: str, now: float, *, duration_ms: int = 160) -> None:
        """One DTMF digit by SIP INFO, ``application/dtmf-relay`` (RFC 6086 usage)."""
        if len(digit) != 1 or digit.upper() not in "0123456789*#ABCD":
            raise LocalProtocolError(f"dialog layer: {digit!r} is not a DTMF digit")
        body = f"Signal={digit.upper()}\r\nDuration={duration_ms}\r\n".encode()
        self.send_info(now, content_type="application/dtmf-relay", body=body)

    def send_info(self, now: float, *, content_type: str | None = None, body: bytes = b"",
                  info_package: str | None = None) -> int:
        """An INFO in the call (RFC 6086); returns the handle of its RequestCompleted."""
        self._check("send_info")
        headers: list[tuple[str, HeaderValue]] = []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        if info_package is not None:
            headers.append(("Info-Package", info_package))
        return self.ua._send_in_dialog(self, "INFO", now, headers, body)

    def send_message(self, text: str | bytes, now: float, *,
                     content_type: str = "text/plain;charset=UTF-8") -> int:
        """A MESSAGE (RFC 3428) in the call's dialog."""
        self._check("send_message")
        body = text.encode("utf-8") if isinstance(text, str) else text
        return self.ua._send_in_dialog(self, "MESSAGE", now, [("Content-Type", content_type)], body)

    def transfer(self, target: str | Call, now: float, *, subscribe: bool = True) -> None:
        """Blind transfer to a URI, or attended transfer to another established ``Call``
        (REFER with Replaces, RFC 3515 and RFC 3891). ``subscribe=False`` asks for no
        implicit subscription (``Refer-Sub: false``, RFC 4488): no NOTIFYs."""
        self._check("transfer")
        from . import _refer
        _refer.send_refer(self.ua, self, now, target, subscribe)

    def end_transfer_subscription(self, now: float) -> None:
        """Transferor: end the REFER's implicit subscription early (SUBSCRIBE with
        Expires: 0, RFC 6665 §4.1.2.3); the peer's final NOTIFY follows."""
        self._check("end_transfer_subscription")
        from . import _refer
        _refer.unsubscribe(self.ua, self, now)

    def follow_transfer(self, now: float, *, media: LocalCapabilities | None = None) -> Call:
        """Call the target of a transfer the peer asked for (when the UA does not follow
        transfers itself); progress is reported to the transferor by NOTIFY. The new call
        offers ``media`` (its own RTP port, fresh keys) or else this call's capabilities."""
        self._check("follow_transfer")
        from . import _refer
        return _refer.follow(self.ua, self, now, media)
