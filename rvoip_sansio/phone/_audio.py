"""The audio verbs of a phone call: thin delegates to the call's ``CallMedia``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._core import LocalProtocolError
from ..callmedia import AudioFrame, CallMedia, HealthReport, MediaReport

__all__ = ["AudioVerbs"]

PCM = npt.NDArray[np.int16]


class AudioVerbs:
    """Mixed into :class:`~rvoip_sansio.phone.PhoneCore`: every verb takes the call id."""

    __slots__ = ()

    def media(self, call_id: str) -> CallMedia | None:  # pragma: no cover - PhoneCore's
        raise NotImplementedError

    def _media(self, call_id: str) -> CallMedia:
        m = self.media(call_id)
        if m is None:
            raise LocalProtocolError(f"phone: call {call_id} has no media")
        return m

    def read_frame(self, call_id: str) -> AudioFrame | None:
        m = self.media(call_id)
        return m.read_frame() if m is not None else None

    def write(self, call_id: str, pcm: PCM, rate: int | None = None) -> int:
        """Queue audio for the call; returns the samples accepted (0 without media)."""
        m = self.media(call_id)
        return m.write(pcm, rate) if m is not None else 0

    def room(self, call_id: str) -> int:
        m = self.media(call_id)
        return m.room() if m is not None else 0

    def mark(self, call_id: str) -> int:
        """A checkpoint: ``AudioDrained(mark=...)`` when all written before it is sent."""
        return self._media(call_id).mark()

    def clear(self, call_id: str) -> int:
        """Barge-in: drop everything queued; returns the frames dropped."""
        m = self.media(call_id)
        return m.clear() if m is not None else 0

    def mute(self, call_id: str, muted: bool = True) -> None:
        self._media(call_id).mute(muted)

    def pause(self, call_id: str) -> None:
        self._media(call_id).pause()

    def resume_audio(self, call_id: str) -> None:
        self._media(call_id).resume()

    def health(self, call_id: str) -> HealthReport | None:
        m = self.media(call_id)
        return m.health() if m is not None else None

    def report(self, call_id: str, now: float) -> MediaReport | None:
        m = self.media(call_id)
        return m.report(now) if m is not None else None
