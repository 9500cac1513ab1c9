"""One call of the trio :class:`~._phone.Phone`: its events as an async iterator, its verbs
(answer, ring, reject, hang up, hold, resume, re-offer, transfer, DTMF) and its ``audio``.
Every verb is a core call through the phone's host (``act``: pump both faces after it);
every wait a pure condition the host checks after its pumps."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from rvoip_sansio import Address, Event
from rvoip_sansio import phone as pe
from rvoip_sansio.phone import CallView
from rvoip_sansio.callmedia import CallMedia, MediaReport, SrtpKeys
from rvoip_sansio.sdp import Codec

from ._audio import CallAudio
from ._waiters import Waiters

if TYPE_CHECKING:
    from ._phone import Phone

__all__ = ["PhoneCall", "PhoneError", "EVENTS_KEPT", "EventStream"]

T = TypeVar("T")
E = TypeVar("E", bound=Event)
#: Events kept per call (and for the phone) until read; beyond it the oldest go.
EVENTS_KEPT = 1000


class PhoneError(Exception):
    """A registration or call did not succeed (the message says what happened)."""


class EventStream:
    """``async for event in call.events()`` (or ``phone.events()``): the events in order, until
    none is left after the call ended (the phone closed)."""

    __slots__ = ("_owner",)

    def __init__(self, owner: PhoneCall | Phone) -> None:
        self._owner = owner

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        event = await self._owner.next_event()
        if event is None:
            raise StopAsyncIteration
        return event


class PhoneCall(CallView):
    """One call of a :class:`Phone` (from :meth:`Phone.call`, :meth:`Phone.accept` or
    ``async for call in phone.incoming()``).

    ``audio`` is its :class:`~._audio.CallAudio`; ``async for event in call.events()`` gives
    its events (``DtmfReceived``, ``CallHeld``/``CallResumed``, transfer progress, media
    events) in order, ``CallEnded`` last. ``incoming`` is the ``IncomingCall`` event (From,
    To, every header incl. ``X-*`` / ``P-Asserted-Identity``) of a call we received.
    """

    def __init__(self, phone: Phone, call_id: str, *, rtp: Address | None = None,
                 incoming: pe.IncomingCall | None = None) -> None:
        self.phone = phone
        self.call_id = call_id
        self.rtp = rtp  # our RTP socket's address (None until answered, callee side)
        self.incoming = incoming
        self.audio = CallAudio(self, rate=phone.core.config.rate, frame_ms=phone.core.config.frame_ms)
        self.answered: pe.CallAnswered | None = None
        self.end: pe.CallEnded | None = None
        self.keys: SrtpKeys | None = None  # the SDES keys in use (None: plain RTP or DTLS-SRTP)
        self.held = False  # we hold the peer
        self.held_by_peer = False
        self.drained_marks: set[int] = set()
        #: Transferee: the call placed to the REFER's target (followed automatically).
        self.transferred_to: PhoneCall | None = None
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)
        self._waiters = Waiters()

    def __repr__(self) -> str:
        return f"<PhoneCall {self.call_id} {self.state}>"

    # ---- what CallAudio needs -----------------------------------------------------------

    def media(self) -> CallMedia | None:
        return self.media_in(self.phone.core)

    def act(self, action: Callable[[float], T]) -> T:
        return self.phone.act(action)

    def act_soon(self, action: Callable[[float], T]) -> T:
        return self.phone.act_soon(action)

    async def wait(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()`` holds (a pure condition, checked after every pump)."""
        self.phone._waiting.add(self)
        await self._waiters.wait(ready)

    # ---- events -------------------------------------------------------------------------

    def events(self) -> EventStream:
        """``async for event in call.events()``: every event of the call until it ended."""
        return EventStream(self)

    async def next_event(self) -> Event | None:
        """The call's next event, waiting for it; None when none is left after the end."""
        await self.wait(lambda: bool(self._events) or self.ended)
        return self._events.popleft() if self._events else None

    async def wait_for(self, kind: type[E] | tuple[type[E], ...]) -> E | None:
        """Skip events until one of ``kind`` (the others are dropped); None if the call ends
        first. Bound it with ``trio.fail_after``."""
        while (event := await self.next_event()) is not None:
            if isinstance(event, kind):
                return event
        return None

    async def wait_answered(self) -> pe.CallAnswered:
        """Wait until the call is up (auto-answered incoming calls, followed transfers);
        raises :class:`PhoneError` if it ends first."""
        await self.wait(lambda: self.answered is not None or self.ended)
        if self.answered is None:
            raise PhoneError(f"call {self.call_id} failed: {self._why()}")
        return self.answered

    async def wait_ended(self) -> bool:
        """Wait until the call has ended (``call.end`` says how); True."""
        await self.wait(lambda: self.ended)
        return True

    # ---- verbs --------------------------------------------------------------------------

    async def answer(self, *, headers: Sequence[tuple[str, str]] = ()) -> None:
        """Answer an incoming call (not needed with ``auto_answer``): binds its RTP socket,
        sends 200 OK with ``headers``, and waits until the call is up. Raises
        :class:`PhoneError` if it ends instead (e.g. 488 for an offer we cannot accept)."""
        if self.rtp is None:
            self.rtp = self.phone.media_sockets.bind()
        rtp = self.rtp
        self.act(lambda now: self.phone.core.answer(self.call_id, now, rtp=rtp, headers=list(headers)))
        await self.wait(lambda: self.answered is not None or self.ended)
        if self.answered is None:
            raise PhoneError(f"call {self.call_id}: answer failed ({self._why()})")

    def ring(self, *, early_media: bool = False, headers: Sequence[tuple[str, str]] = ()) -> None:
        """An incoming call not answered yet: 180 Ringing, or with ``early_media`` 183
        Session Progress with our SDP, the media running from now (a prompt played with
        ``call.audio`` before :meth:`answer`, which then keeps the same media)."""
        core = self.phone.core
        if not early_media:
            self.act(lambda now: core.ring(self.call_id, now, headers=list(headers)))
            return
        if self.rtp is None:
            self.rtp = self.phone.media_sockets.bind()
        rtp = self.rtp
        self.act(lambda now: core.ring(self.call_id, now, rtp=rtp, headers=list(headers)))

    def reject(self, code: int = 486, *, reason: str | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> None:
        """Refuse an incoming call with a final response (``headers`` go into it)."""
        self.act(lambda now: self.phone.core.reject(self.call_id, now, code, reason=reason, headers=list(headers)))

    async def hangup(self) -> bool:
        """End the call (BYE; CANCEL before the answer) and wait until it has ended (``True``;
        ``call.end`` says how)."""
        if not self.ended:
            self.act(lambda now: self.phone.core.hangup(self.call_id, now))
        return await self.wait_ended()

    async def hold(self) -> bool:
        """Put the peer on hold (re-INVITE ``a=sendonly``); True once the hold is accepted,
        False if the call ended first."""
        self.act(lambda now: self.phone.core.hold(self.call_id, now))
        await self.wait(lambda: self.held or self.ended)
        return self.held and not self.ended

    async def resume(self) -> bool:
        """Take the peer off hold; True once the re-INVITE is accepted."""
        self.act(lambda now: self.phone.core.resume(self.call_id, now))
        await self.wait(lambda: not self.held or self.ended)
        return not self.held and not self.ended

    def set_codecs(self, codecs: Sequence[Codec]) -> None:
        """Re-offer the call with ``codecs`` (re-INVITE, e.g. G.711 only); when the answer
        agrees on another codec the media is rebuilt for it (same socket and keys)."""
        self.act(lambda now: self.phone.core.set_codecs(self.call_id, tuple(codecs), now))

    async def follow_transfer(self, *, headers: Sequence[tuple[str, str]] = ()) -> PhoneCall:
        """Transferee, when the phone does not follow transfers by itself
        (``auto_follow_transfers=False``): call the target of the peer's REFER on a new RTP
        socket and wait for the answer; returns the new call (also :attr:`transferred_to`)."""
        phone = self.phone
        rtp = phone.media_sockets.bind()
        try:
            new_id = self.act(lambda now: phone.core.follow_transfer(self.call_id, now, rtp=rtp,
                                                                     headers=list(headers)))
        except BaseException:
            phone.media_sockets.release(rtp)
            raise
        new = self.transferred_to = phone.calls.setdefault(new_id, PhoneCall(phone, new_id, rtp=rtp))
        await new.wait_answered()
        return new

    def transfer(self, target: str | PhoneCall) -> None:
        """Transfer the peer to ``target`` (REFER): a SIP URI (blind), or another call
        (attended, with Replaces). ``TransferProgress`` events follow on this call."""
        to = target.call_id if isinstance(target, PhoneCall) else target
        self.act(lambda now: self.phone.core.transfer(self.call_id, to, now))

    def send_dtmf(self, digits: str, *, method: str = "auto", duration: float = 0.1) -> None:
        """Send ``digits`` (0-9 * # A-D) as RFC 4733 telephone events (``"rfc4733"``) or SIP
        INFO (``"info"``); ``"auto"``: RFC 4733 when the peer agreed to telephone-event."""
        self.act(lambda now: self.phone.core.send_dtmf(self.call_id, digits, now, method=method,
                                                       duration=duration))

    def quality(self) -> MediaReport | None:
        """Health (queues, drops, concealment) and quality (loss, jitter, RTT, MOS); None
        without media."""
        def report(now: float) -> MediaReport | None:
            media = self.media()
            return media.report(now) if media is not None else None
        return self.act(report)

    # ---- plumbing -----------------------------------------------------------------------

    def _why(self) -> str:
        end = self.end
        if end is None:
            return "not ended"
        status = f" {end.status_code}" if end.status_code else ""
        detail = f", {end.detail}" if end.detail else ""
        return f"{end.reason.value}{status}{detail}"

    def _deliver(self, event: Event) -> None:
        if not self.note(event):
            return
        if isinstance(event, pe.CallAnswered):
            media = self.media()
            self.keys = media.config.srtp if media is not None else None
            self.rtp = event.local_rtp
        self._events.append(event)
