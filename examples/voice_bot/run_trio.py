"""The voice bot on trio: ``python -m examples.voice_bot.run_trio --help``.

The same :class:`~.bot.BotCall` as under asyncio: per call, a nursery with one task reading
the call's audio frames and one its events, both carrying out what the bot returns.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:  # mypy sees the repository's adapters/ under its own name
    from adapters.trio import PhoneCall, open_phone
else:  # installed, adapters/ is rvoip_sansio.adapters
    from rvoip_sansio.adapters.trio import PhoneCall, open_phone

from .bot import Action, BotCall, BotConfig, Clear, Journal, Say
from .options import BotOptions, cli

Address = tuple[str, int]


async def handle_call(call: PhoneCall, config: BotConfig, journal: Journal) -> None:
    bot = BotCall(call_id=call.call_id, config=config, journal=journal)

    async def apply(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                bot.said(action, call.audio.write_nowait(action.pcm, action.rate), trio.current_time())
            elif isinstance(action, Clear):
                bot.cleared(action, call.audio.clear(), trio.current_time())
            else:
                journal.add(trio.current_time(), call.call_id, "hangup", action.why)
                await call.hangup()

    async def listen() -> None:
        async for frame in call.audio.frames():
            await apply(bot.frame(frame))

    with trio.fail_after(5):
        await call.wait_answered()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(listen)
        await apply(bot.answered(trio.current_time()))
        async for event in call.events():
            for frame in call.audio.read_all():  # the audio up to this event first (the VAD fired on it)
                await apply(bot.frame(frame))
            await apply(bot.event(event, trio.current_time()))
        nursery.cancel_scope.cancel()


async def run(options: BotOptions, journal: Journal, *, stop: threading.Event | None = None,
              ready: Callable[[Address], None] | None = None) -> None:
    """Answer calls until ``stop`` is set (or forever); ``ready(sip_address)`` once listening."""
    config = options.bot_config()
    async with open_phone(options.user, options.listen, rtp_ports=options.rtp_ports,
                          **options.phone_config()) as phone:
        if options.register:
            await phone.register(options.register, options.credentials())
        if ready is not None:
            ready(phone.locals["UDP"])
        async with trio.open_nursery() as nursery:

            async def answer_calls() -> None:
                async for call in phone.incoming():
                    nursery.start_soon(handle_call, call, config, journal)

            nursery.start_soon(answer_calls)
            # SIGTERM/SIGINT through trio's signal receiver (wakes the run loop at once), then
            # the phone's shielded close hangs up and unregisters.
            quit_now = trio.Event()
            if threading.current_thread() is threading.main_thread():

                async def on_signal() -> None:
                    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                        async for _ in signals:
                            quit_now.set()
                            return

                nursery.start_soon(on_signal)
            while (stop is None or not stop.is_set()) and not quit_now.is_set():
                with trio.move_on_after(0.05):
                    await quit_now.wait()
            nursery.cancel_scope.cancel()


def serve(options: BotOptions, journal: Journal | None = None, *, stop: threading.Event | None = None,
          ready: Callable[[Address], None] | None = None) -> Journal:
    """Run the bot in this thread (a test runs it in a thread of its own)."""
    journal = journal if journal is not None else Journal()
    trio.run(lambda: run(options, journal, stop=stop, ready=ready))
    return journal


def main(argv: Sequence[str] | None = None) -> None:
    cli(argv, adapter="trio")


if __name__ == "__main__":
    main()
