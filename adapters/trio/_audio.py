"""``call.audio`` for trio: the shared async implementation (``rvoip_sansio.adapters._async_audio``),
whose waits go through the trio ``PhoneCall``'s ``wait``."""

from __future__ import annotations

from .._async_audio import AudioOwner, CallAudio, FrameStream

__all__ = ["CallAudio", "AudioOwner", "FrameStream"]
