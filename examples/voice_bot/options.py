"""Command line and settings shared by the three runners (asyncio, trio, blocking)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from rvoip_sansio.media import read_wav_bytes
from rvoip_sansio.sdp import G722, OPUS, PCMA, PCMU, Codec
from rvoip_sansio.sip.auth import Credentials

from .bot import BotConfig

__all__ = ["BotOptions", "parse_args", "cli", "ADAPTERS"]

ADAPTERS = ("asyncio", "trio", "blocking")
CODECS: dict[str, Codec] = {"PCMU": PCMU, "PCMA": PCMA, "G722": G722, "OPUS": OPUS}


@attrs.frozen(kw_only=True)
class BotOptions:
    """Everything a runner needs; ``parse_args`` makes one from the command line, tests
    build one directly (``BotOptions(listen=("127.0.0.1", port), codecs=("PCMU",))``)."""
    user: str = "bot"
    listen: tuple[str, int] = ("127.0.0.1", 5080)
    codecs: tuple[str, ...] = ("G722", "PCMU", "PCMA")
    greeting: Path | None = None
    echo_delay: float = 0.5
    register: str | None = None      # registrar URI (None: just listen, e.g. an IP trunk)
    auth_user: str | None = None
    password: str | None = None
    rtp_ports: tuple[int, int] | None = None
    max_calls: int | None = None

    def phone_config(self) -> dict[str, Any]:
        """Keywords for every adapter's phone (``PhoneConfig`` fields)."""
        return dict(codecs=tuple(CODECS[c.upper()] for c in self.codecs), rate=16000, frame_ms=20.0,
                    auto_answer=True, vad=True, send_queue_frames=1500, max_calls=self.max_calls)

    def credentials(self) -> Credentials | None:
        if self.password is None:
            return None
        return Credentials(username=self.auth_user or self.user, password=self.password)

    def bot_config(self) -> BotConfig:
        if self.greeting is None:
            return BotConfig(echo_delay=self.echo_delay)
        pcm, rate, channels = read_wav_bytes(self.greeting.read_bytes())
        if channels > 1:
            pcm = pcm.mean(axis=1).astype(np.int16)
        return BotConfig(echo_delay=self.echo_delay, greeting=pcm, greeting_rate=rate)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def _ports(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return (int(low), int(high or low))


def parse_args(argv: Sequence[str] | None, *, adapter: str | None = None) -> tuple[str, BotOptions]:
    """``(adapter, options)`` from the command line; ``adapter`` fixed by a runner's own
    ``main`` (then ``--adapter`` is not offered). Also sets up logging."""
    p = argparse.ArgumentParser(
        prog="python -m examples.voice_bot" if adapter is None else f"python -m examples.voice_bot.run_{adapter}",
        description="A voice bot: answers SIP calls, plays a greeting, echoes the caller after a "
                    "short delay, stops talking when the caller talks over it (barge-in), beeps "
                    "for each DTMF digit and hangs up on '#'.")
    if adapter is None:
        p.add_argument("--adapter", choices=ADAPTERS, default="asyncio", help="I/O adapter (default asyncio)")
    p.add_argument("--listen", type=_address, default=("127.0.0.1", 5080), metavar="HOST:PORT",
                   help="SIP UDP address to listen on (default 127.0.0.1:5080)")
    p.add_argument("--user", default="bot", help="SIP user name (default bot)")
    p.add_argument("--codecs", default="G722,PCMU,PCMA", help="codecs in preference order (default G722,PCMU,PCMA)")
    p.add_argument("--greeting", type=Path, help="WAV file to greet callers with (default: a 1 kHz tone)")
    p.add_argument("--echo-delay", type=float, default=0.5, help="seconds before the echo (default 0.5)")
    p.add_argument("--register", metavar="URI", help="registrar to register at, e.g. sip:pbx.example.org")
    p.add_argument("--auth-user", help="digest user name (default: --user)")
    p.add_argument("--password", help="digest password (for --register and challenged calls)")
    p.add_argument("--rtp-ports", type=_ports, metavar="LOW-HIGH", help="RTP port range")
    p.add_argument("--max-calls", type=int, help="answer 503 beyond this many calls")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: bot log, -vv: stack debug log")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose > 1 else logging.INFO if a.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("examples.voice_bot").setLevel(logging.INFO)
    opts = BotOptions(user=a.user, listen=a.listen, codecs=tuple(a.codecs.split(",")), greeting=a.greeting,
                      echo_delay=a.echo_delay, register=a.register, auth_user=a.auth_user,
                      password=a.password, rtp_ports=a.rtp_ports, max_calls=a.max_calls)
    return (adapter or a.adapter), opts


def cli(argv: Sequence[str] | None = None, *, adapter: str | None = None) -> None:
    """The command line: parse it, print where the bot listens, answer calls until Ctrl-C."""
    from . import runner

    name, options = parse_args(argv, adapter=adapter)
    # A service's stop (SIGTERM) takes the Ctrl-C path each event loop already handles cleanly.
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    with contextlib.suppress(KeyboardInterrupt):
        runner(name)(options, ready=lambda a: print(f"voice bot ({name}) on sip:{options.user}@{a[0]}:{a[1]}",
                                                    flush=True))
