"""A call's state as the adapters show it, computed from the core's events (pure).

The asyncio, trio and blocking ``PhoneCall`` classes keep the ``CallAnswered`` and
``CallEnded`` events of their call; :class:`CallView` derives the user-facing properties
(codec, SRTP, keying, state) from them and looks the call's media up in the core, so that
no adapter carries this logic itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rvoip_sansio._core import LocalProtocolError

from rvoip_sansio._core import Event

from ._events import AudioDrained, CallAnswered, CallEnded, CallHeld, CallResumed

if TYPE_CHECKING:
    from rvoip_sansio.callmedia import CallMedia

    from ._core import PhoneCore

__all__ = ["CallView"]


class CallView:
    """Mixin for an adapter's call object, which sets ``call_id``, ``answered``, ``end``,
    ``held``, ``held_by_peer`` and ``drained_marks`` in its ``__init__`` (no slots: the
    adapters' call objects are plain classes)."""

    call_id: str
    #: The ``CallAnswered`` event once the call is up (codec, srtp, keying, 2xx headers).
    answered: CallAnswered | None
    #: The ``CallEnded`` event once the call is over.
    end: CallEnded | None
    #: We put the peer on hold (accepted); the peer put us on hold.
    held: bool
    held_by_peer: bool
    #: The marks of ``AudioDrained`` events seen (the waits for ``drained`` consume them).
    drained_marks: set[int]

    @property
    def ended(self) -> bool:
        return self.end is not None

    @property
    def state(self) -> str:
        """``"setup"``, ``"up"`` or ``"ended"``."""
        return "ended" if self.end is not None else "up" if self.answered is not None else "setup"

    @property
    def codec(self) -> str:
        """The codec's name (``G722``, ``PCMU``...), ``-`` before the answer."""
        return self.answered.codec.split("/")[0] if self.answered is not None else "-"

    @property
    def srtp(self) -> bool:
        """The media is SRTP (SDES or DTLS-SRTP keying; :attr:`keying` says which)."""
        return self.answered is not None and self.answered.srtp

    @property
    def keying(self) -> str:
        """``"none"``, ``"sdes"`` or ``"dtls"`` (``"-"`` before the answer)."""
        return self.answered.keying if self.answered is not None else "-"

    def note(self, event: Event) -> bool:
        """Update the state above from one of the call's events; False for an event that is
        not kept for the application (``AudioDrained``: only its mark is recorded)."""
        if isinstance(event, AudioDrained):
            self.drained_marks.add(event.mark)
            return False
        if isinstance(event, CallAnswered):
            self.answered = event
        elif isinstance(event, CallEnded):
            self.end = event
        elif isinstance(event, (CallHeld, CallResumed)):
            held = isinstance(event, CallHeld)
            if event.by_peer:
                self.held_by_peer = held
            else:
                self.held = held
        return True

    def media_in(self, core: PhoneCore) -> CallMedia | None:
        """The call's :class:`~rvoip_sansio.callmedia.CallMedia` in ``core``; None once the
        call ended or the core forgot it (after its media socket was released)."""
        if self.end is not None:
            return None
        try:
            return core.media(self.call_id)
        except LocalProtocolError:
            return None
