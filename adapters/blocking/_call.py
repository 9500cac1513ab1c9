"""One call of the blocking :class:`~._phone.Phone`: its verbs (each goes through the phone's
loop), its events, and its :class:`~._audio.CallAudio`. No protocol logic: the verbs are the
``PhoneCore``'s, the state is what its events said."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from rvoip_sansio import Address, Event
from rvoip_sansio import phone as pe
from rvoip_sansio.phone import CallView
from rvoip_sansio.callmedia import CallMedia, MediaReport
from rvoip_sansio.sdp import Codec

from ._audio import CallAudio
from ._loop import Loop

if TYPE_CHECKING:
    from ._phone import Phone

__all__ = ["PhoneCall", "PhoneError", "EVENTS_KEPT"]

T = TypeVar("T")
#: Events kept per call (and for the phone) for ``next_event``; beyond it the oldest go.
EVENTS_KEPT = 1000


class PhoneError(Exception):
    """A registration or call did not succeed (the message says what happened)."""


class PhoneCall(CallView):
    """One call of a :class:`Phone` (from :meth:`Phone.call` or :meth:`Phone.next_call`).

    ``audio`` is its :class:`~._audio.CallAudio`; :meth:`next_event` gives its events (DTMF,
    hold, transfer, media health, the end) in order; the verbs wait for their outcome.
    """

    def __init__(self, phone: Phone, call_id: str, rtp: Address | None,
                 incoming: pe.IncomingCall | None = None) -> None:
        self.phone = phone
        self.call_id = call_id
        self.rtp = rtp  # our RTP socket's address (None: an incoming call not answered yet)
        #: For calls to us: the ``IncomingCall`` (``from_header``, ``headers``, ``header(name)``,
        #: ``offered_codecs``, ``srtp_offered``...).
        self.incoming = incoming
        self.audio = CallAudio(self)
        #: The ``CallAnswered`` event once the call is up (codec, srtp, addresses, 2xx headers).
        self.answered: pe.CallAnswered | None = None
        self.end: pe.CallEnded | None = None
        self.drained_marks: set[int] = set()
        #: We put the peer on hold (accepted); the peer put us on hold.
        self.held = False
        self.held_by_peer = False
        #: The call placed when the peer transferred us (transferee side), once followed.
        self.transferred_to: PhoneCall | None = None
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)

    def __repr__(self) -> str:
        return f"<PhoneCall {self.call_id} {self.state}>"

    # ---- what CallAudio needs -------------------------------------------------------------

    @property
    def loop(self) -> Loop:
        return self.phone.loop

    def media(self) -> CallMedia | None:
        return self.media_in(self.phone.core)

    # ---- events ---------------------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The call's next event (``DtmfReceived``, hold/resume, transfer, media events,
        ``CallEnded`` last), waiting up to ``timeout``; None on timeout or when none is left
        after the end."""
        got: list[Event] = []

        def ready() -> bool:
            if self._events:
                got.append(self._events.popleft())
                return True
            return self.ended

        self.loop.wait(ready, timeout)
        return got[0] if got else None

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        while (event := self.next_event(timeout)) is not None:
            yield event

    def wait_for(self, kind: type[T] | tuple[type, ...], timeout: float | None = None) -> T | None:
        """Skip events until one of ``kind`` (others are dropped); None on timeout/end."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                return None
            event = self.next_event(left)
            if event is None:
                return None
            if isinstance(event, kind):
                return event  # type: ignore[return-value]

    def wait_answered(self, timeout: float | None = None) -> pe.CallAnswered:
        """Wait until the call is up; :class:`PhoneError` if it ended or timed out first."""
        self.loop.wait(lambda: self.answered is not None or self.ended, timeout)
        if self.answered is None:
            raise PhoneError(f"call {self.call_id} not answered: {self._why()}")
        return self.answered

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait until the call has ended; True then (False on timeout)."""
        return self.loop.wait(lambda: self.ended, timeout)

    # ---- verbs ----------------------------------------------------------------------------

    def answer(self, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 5.0) -> None:
        """Answer an incoming call (not needed with ``auto_answer``; ``headers`` go into the
        200) and wait until it is up (the caller's ACK). Raises :class:`PhoneError`."""
        core = self.phone.core
        self.phone.loop.call(lambda now: self.phone._bind_for(
            self, lambda rtp: core.answer(self.call_id, now, rtp=rtp, headers=tuple(headers))))
        self.wait_answered(timeout)

    def ring(self, *, early_media: bool = False, headers: Sequence[tuple[str, str]] = ()) -> None:
        """An incoming call not answered yet: 180 Ringing, or with ``early_media`` 183
        Session Progress with our SDP, the media running from now (a prompt played with
        ``call.audio`` before :meth:`answer`, which then keeps the same media)."""
        core = self.phone.core
        if not early_media:
            self.phone.loop.call(lambda now: core.ring(self.call_id, now, headers=tuple(headers)))
            return
        self.phone.loop.call(lambda now: self.phone._bind_for(
            self, lambda rtp: core.ring(self.call_id, now, rtp=rtp, headers=tuple(headers))))

    def reject(self, code: int = 486, *, reason: str | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> None:
        """Refuse an incoming call with final response ``code`` (``headers`` go into it)."""
        self.phone.loop.call(lambda now: self.phone.core.reject(self.call_id, now, code, reason=reason,
                                                                headers=tuple(headers)))

    def hangup(self, timeout: float = 5.0) -> bool:
        """End the call (BYE, or CANCEL before the answer); True once it has ended."""
        if not self.ended:
            self.phone.loop.call(lambda now: self.phone.core.hangup(self.call_id, now))
        return self.wait_ended(timeout)

    def hold(self, timeout: float | None = 5.0) -> bool:
        """Put the peer on hold (re-INVITE ``sendonly``, RFC 3264 §8.4); True once accepted
        (``CallHeld(by_peer=False)``: from then on nothing is received)."""
        self.phone.loop.call(lambda now: self.phone.core.hold(self.call_id, now))
        return self.loop.wait(lambda: self.held or self.ended, timeout) and self.held

    def resume(self, timeout: float | None = 5.0) -> bool:
        """Take the peer off hold (re-INVITE ``sendrecv``); True once accepted."""
        self.phone.loop.call(lambda now: self.phone.core.resume(self.call_id, now))
        return self.loop.wait(lambda: not self.held or self.ended, timeout) and not self.held

    def set_codecs(self, codecs: Sequence[Codec]) -> None:
        """Re-offer the call with ``codecs`` (re-INVITE); the media follows the answer."""
        self.phone.loop.call(lambda now: self.phone.core.set_codecs(self.call_id, tuple(codecs), now))

    def transfer(self, target: str | PhoneCall) -> None:
        """Transfer the peer (REFER): to a URI (blind) or to the peer of another call of ours
        (attended, Replaces). ``TransferProgress`` events follow; hang this call up when the
        final one says 200 (or let the peer do it)."""
        to = target.call_id if isinstance(target, PhoneCall) else target
        self.phone.loop.call(lambda now: self.phone.core.transfer(self.call_id, to, now))

    def follow_transfer(self, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 10.0) -> PhoneCall:
        """Transferee, when the phone does not follow transfers by itself
        (``auto_follow_transfers=False``): call the target of the peer's REFER on a new RTP
        socket and wait for the answer; returns the new call (also in :attr:`transferred_to`)."""
        def start(now: float) -> PhoneCall:
            return self.phone._follow(self, now, tuple(headers))
        pc = self.phone.loop.call(start)
        pc.wait_answered(timeout)
        return pc

    def send_dtmf(self, digits: str, *, method: str = "rfc4733", duration: float = 0.1) -> None:
        """Send ``digits`` (0-9 * # A-D): ``"rfc4733"`` telephone events in the RTP stream,
        ``"info"`` SIP INFO (one at a time, in order), ``"auto"`` RFC 4733 when the peer
        agreed to telephone-event, else INFO."""
        self.phone.loop.call(lambda now: self.phone.core.send_dtmf(self.call_id, digits, now, method=method,
                                                                   duration=duration))

    def quality(self) -> MediaReport | None:
        """Health (queues, drops, concealment) and quality (loss, jitter, RTT, MOS)."""
        def report(now: float) -> MediaReport | None:
            media = self.media()
            return media.report(now) if media is not None else None
        return self.phone.loop.call(report)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The INVITE's headers (calls to us) or the 2xx's (our calls), in order."""
        if self.incoming is not None:
            return self.incoming.headers
        return self.answered.headers if self.answered is not None else ()

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for n, v in self.headers if n.lower() == low), None)

    def _why(self) -> str:
        end = self.end
        if end is None:
            return "timed out"
        status = f" ({end.status_code})" if end.status_code else ""
        detail = f": {end.detail}" if end.detail else ""
        return f"{end.reason.value}{status}{detail}"

    def _deliver(self, event: Event) -> None:
        if self.note(event):
            self._events.append(event)
