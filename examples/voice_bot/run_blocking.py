"""The voice bot in plain blocking code: ``python -m examples.voice_bot.run_blocking --help``.

The phone runs its own I/O thread; the bot runs one thread per call that waits for the next
audio frame (at most one frame time), then takes every event that arrived meanwhile, and
carries out what the shared :class:`~.bot.BotCall` returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy sees the repository's adapters/ under its own name
    from adapters.blocking import PhoneCall, open_phone
else:  # installed, adapters/ is rvoip_sansio.adapters
    from rvoip_sansio.adapters.blocking import PhoneCall, open_phone

from .bot import Action, BotCall, BotConfig, Clear, Journal, Say
from .options import BotOptions, cli

Address = tuple[str, int]


def handle_call(call: PhoneCall, config: BotConfig, journal: Journal) -> None:
    bot = BotCall(call_id=call.call_id, config=config, journal=journal)

    def apply(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                bot.said(action, call.audio.write_nowait(action.pcm, action.rate), time.monotonic())
            elif isinstance(action, Clear):
                bot.cleared(action, call.audio.clear(), time.monotonic())
            else:
                journal.add(time.monotonic(), call.call_id, "hangup", action.why)
                call.hangup()

    call.wait_answered(5)
    apply(bot.answered(time.monotonic()))
    ptime = config.frame_ms / 1000
    while True:
        frame = call.audio.read(timeout=ptime)  # the VAD's events come with the frame they fired on
        if frame is not None:
            apply(bot.frame(frame))
        while (event := call.next_event(timeout=0)) is not None:
            while (more := call.audio.read(timeout=0)) is not None:  # the audio the VAD fired on
                apply(bot.frame(more))
            apply(bot.event(event, time.monotonic()))
        if call.ended and frame is None:
            break


def serve(options: BotOptions, journal: Journal | None = None, *, stop: threading.Event | None = None,
          ready: Callable[[Address], None] | None = None) -> Journal:
    """Answer calls until ``stop`` is set (or forever); ``ready(sip_address)`` once listening."""
    journal = journal if journal is not None else Journal()
    config = options.bot_config()
    workers: list[threading.Thread] = []
    with open_phone(options.user, options.listen, rtp_ports=options.rtp_ports,
                    **options.phone_config()) as phone:
        if options.register:
            phone.register(options.register, options.credentials())
        if ready is not None:
            ready(phone.local)
        while stop is None or not stop.is_set():
            call = phone.next_call(timeout=0.05)
            if call is not None:
                worker = threading.Thread(target=handle_call, args=(call, config, journal),
                                          name=f"bot-{call.call_id}", daemon=True)
                worker.start()
                workers.append(worker)
            workers = [w for w in workers if w.is_alive()]
    for worker in workers:  # the phone has ended their calls: they finish at once
        worker.join(timeout=2)
    return journal


def main(argv: Sequence[str] | None = None) -> None:
    cli(argv, adapter="blocking")


if __name__ == "__main__":
    main()
