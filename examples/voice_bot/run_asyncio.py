"""The voice bot on asyncio: ``python -m examples.voice_bot.run_asyncio --help``.

Each call runs two tasks over the shared :class:`~.bot.BotCall`: one reads the call's audio
frames, one its events (DTMF, the VAD's speech events, the end); both carry out what the
bot returns on ``call.audio`` and the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy sees the repository's adapters/ under its own name
    from adapters.asyncio import Phone, PhoneCall
else:  # installed, adapters/ is rvoip_sansio.adapters
    from rvoip_sansio.adapters.asyncio import Phone, PhoneCall

from .bot import Action, BotCall, BotConfig, Clear, Journal, Say
from .options import BotOptions, cli

Address = tuple[str, int]


async def handle_call(call: PhoneCall, config: BotConfig, journal: Journal) -> None:
    loop = asyncio.get_running_loop()
    bot = BotCall(call_id=call.call_id, config=config, journal=journal)

    async def apply(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                bot.said(action, call.audio.write_nowait(action.pcm, action.rate), loop.time())
            elif isinstance(action, Clear):
                bot.cleared(action, call.audio.clear(), loop.time())
            else:
                journal.add(loop.time(), call.call_id, "hangup", action.why)
                await call.hangup()

    async def listen() -> None:
        async for frame in call.audio.frames():
            await apply(bot.frame(frame))

    listener = asyncio.create_task(listen())
    try:
        await call.wait_answered(5)
        await apply(bot.answered(loop.time()))
        async for event in call.events():
            for frame in call.audio.read_all():  # the audio up to this event first (the VAD fired on it)
                await apply(bot.frame(frame))
            await apply(bot.event(event, loop.time()))
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def run(options: BotOptions, journal: Journal, *, stop: threading.Event | None = None,
              ready: Callable[[Address], None] | None = None) -> None:
    """Answer calls until ``stop`` is set (or forever); ``ready(sip_address)`` once listening."""
    config = options.bot_config()
    async with Phone.open(options.user, options.listen, rtp_ports=options.rtp_ports,
                          **options.phone_config()) as phone:
        if options.register:
            await phone.register(options.register, options.credentials())
        if ready is not None:
            ready(phone.config.local)
        calls: set[asyncio.Task[None]] = set()

        async def answer_calls() -> None:
            async for call in phone.incoming():
                task = asyncio.create_task(handle_call(call, config, journal))
                calls.add(task)
                task.add_done_callback(calls.discard)

        acceptor = asyncio.create_task(answer_calls())
        # SIGTERM/SIGINT through the loop's own handlers (set_wakeup_fd): a plain signal handler
        # can run late when the signal lands on another thread while the loop sleeps.
        quit_now = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, quit_now.set)
                handled.append(sig)
        try:
            while (stop is None or not stop.is_set()) and not quit_now.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(quit_now.wait(), 0.05)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            acceptor.cancel()
            for task in (acceptor, *calls):
                task.cancel()
            await asyncio.gather(acceptor, *calls, return_exceptions=True)


def serve(options: BotOptions, journal: Journal | None = None, *, stop: threading.Event | None = None,
          ready: Callable[[Address], None] | None = None) -> Journal:
    """Run the bot in this thread (a test runs it in a thread of its own)."""
    journal = journal if journal is not None else Journal()
    asyncio.run(run(options, journal, stop=stop, ready=ready))
    return journal


def main(argv: Sequence[str] | None = None) -> None:
    cli(argv, adapter="asyncio")


if __name__ == "__main__":
    main()
