"""A voice bot on rvoip-sansio (issue 10 §3): answers, greets, echoes the caller after a short
delay, stops talking when the caller talks over it (VAD barge-in), beeps for DTMF digits and
hangs up on '#'. One bot logic (:mod:`.bot`), three thin runners: :mod:`.run_asyncio`,
:mod:`.run_trio`, :mod:`.run_blocking`; each has ``serve(options, journal, stop=, ready=)``
for use as a library. See docs/voice_bot.md.
"""

from __future__ import annotations

from collections.abc import Callable

from .bot import BargeIn, BotCall, BotConfig, Entry, Journal, beep, default_greeting
from .options import ADAPTERS, BotOptions

__all__ = ["BargeIn", "BotCall", "BotConfig", "BotOptions", "Entry", "Journal", "ADAPTERS",
           "beep", "default_greeting", "runner"]


def runner(adapter: str) -> Callable[..., Journal]:
    """The ``serve`` function of one adapter's runner (``"asyncio"``, ``"trio"``, ``"blocking"``)."""
    if adapter == "trio":
        from .run_trio import serve
    elif adapter == "blocking":
        from .run_blocking import serve
    elif adapter == "asyncio":
        from .run_asyncio import serve
    else:
        raise ValueError(f"unknown adapter {adapter!r}; one of {ADAPTERS}")
    return serve
