"""``call.audio`` for asyncio: the shared async implementation (``rvoip_sansio.adapters._async_audio``),
whose waits go through the asyncio ``PhoneCall``'s ``wait``."""

from __future__ import annotations

from .._async_audio import AudioOwner, CallAudio, FrameStream

__all__ = ["CallAudio", "AudioOwner", "FrameStream"]
