"""``rvoip call URI``: place one call with a :class:`~rvoip_sansio.adapters.asyncio.Phone`.

Registers first when ``--registrar`` is given (digest with ``--from``/``--password``), calls
``URI``, plays a WAV file (or a 440 Hz tone), records what it hears, sends DTMF digits as
RFC 4733 telephone events, prints progress (ringing, answered, a quality line each second)
and hangs up after ``--duration`` seconds. Exit status: 0 when the call was answered and
ended cleanly, 1 when it failed (registration refused, call rejected or not answered),
2 on bad arguments, 130 after Ctrl-C (the call is still hung up and the phone unregistered).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.phone import CallProgress
from rvoip_sansio.media import ToneSource, wav_bytes
from rvoip_sansio.sdp import G722, PCMA, PCMU
from rvoip_sansio.sip.auth import Credentials

from ..asyncio import Phone, PhoneCall, PhoneError
from ._common import free_ports, quality_line, read_mono_wav, stop_on_signals
from .answer import address
from .demo import CODECS, LEVEL_DBM0, RATE

__all__ = ["add_arguments", "run"]

T = TypeVar("T")
AHEAD = 0.3  # seconds of audio queued ahead of the media clock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("example: rvoip serve & rvoip answer ...; "
                     "rvoip call sip:bob@127.0.0.1:5060 --from alice --password rvoip-secret "
                     "--registrar 127.0.0.1:5060 --record heard.wav --dtmf 123#")
    parser.add_argument("uri", metavar="URI", help="whom to call, e.g. sip:bob@127.0.0.1:5060")
    parser.add_argument("--from", dest="user", default="rvoip", metavar="USER",
                        help="our user name (From, Contact; the digest user name) (default rvoip)")
    parser.add_argument("--password", metavar="PW", help="digest password for --registrar")
    parser.add_argument("--registrar", type=address, metavar="HOST:PORT",
                        help="register there first (and unregister at the end)")
    parser.add_argument("--local", type=address, metavar="HOST:PORT",
                        help="our SIP UDP address (default: 127.0.0.1, a free port)")
    parser.add_argument("--play", metavar="FILE.wav", help="play this 16-bit PCM WAV (default: a 440 Hz tone)")
    parser.add_argument("--record", metavar="FILE.wav", help="save what we hear (16 kHz mono WAV)")
    parser.add_argument("--duration", type=float, default=5.0, metavar="S",
                        help="hang up after S seconds of call (default 5)")
    parser.add_argument("--dtmf", metavar="DIGITS",
                        help="send these digits (0-9 * # A-D) as RFC 4733 events, one every 0.25 s, "
                             "starting 0.5 s into the call")
    parser.add_argument("--codec", choices=sorted(CODECS), default="g722",
                        help="codec offered first (default g722; the others follow as fallback)")
    parser.add_argument("--no-srtp", action="store_true", help="offer plain RTP instead of SRTP (SDES)")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="S",
                        help="give up when not answered within S seconds (default 15)")


def run(args: argparse.Namespace) -> int:
    if args.duration <= 0:
        print("rvoip call: --duration must be positive", file=sys.stderr)
        return 2
    if args.dtmf and any(d not in "0123456789*#ABCDabcd" for d in args.dtmf):
        print(f"rvoip call: --dtmf {args.dtmf!r}: only 0-9 * # A-D", file=sys.stderr)
        return 2
    source = read_mono_wav(args.play, "call") if args.play else None
    if args.play and source is None:
        return 2
    try:
        return asyncio.run(_call(args, source))
    except OSError as exc:
        print(f"rvoip call: socket error: {exc}", file=sys.stderr)
        return 1


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _call(args: argparse.Namespace, source: tuple[npt.NDArray[np.int16], int] | None) -> int:
    stop = stop_on_signals()
    host = args.local[0] if args.local else "127.0.0.1"
    local = args.local or (host, free_ports(1, host)[0])
    first = CODECS[args.codec]
    codecs = (first, *(c for c in (G722, PCMU, PCMA) if c is not first))
    phone = await Phone.open(args.user, local, codecs=codecs, srtp=not args.no_srtp, rate=RATE,
                             )
    heard: list[AudioFrame] = []
    status = 0
    try:
        if args.registrar:
            reg = f"sip:{args.registrar[0]}:{args.registrar[1]}"
            creds = Credentials(username=args.user, password=args.password) if args.password else None
            _say(f"registering {args.user} at {reg}...")
            await _until(phone.register(reg, creds), stop)
            _say(f"registered {args.user}")
        _say(f"calling {args.uri} from {local[0]}:{local[1]}...")
        pc = await _until(_dial(phone, args.uri, args.timeout), stop)
        srtp = f"SRTP {pc.keys.tx.profile.name}" if pc.keys is not None else "plain RTP"
        _say(f"answered: codec {pc.codec}, {srtp}, Call-ID {pc.call_id}")
        await _talk(pc, args, source, heard, stop)
        if not pc.ended:
            await pc.hangup()
            _say("hung up")
        else:
            _say(f"the far end hung up ({pc.end.reason.value if pc.end else '?'})")
    except PhoneError as exc:
        _say(f"FAIL: {exc}")
        status = 1
    except asyncio.TimeoutError:
        _say("FAIL: timed out (registration or hangup)")
        status = 1
    except asyncio.CancelledError:  # stop was set while waiting: Ctrl-C
        status = 130
    finally:
        await phone.close()  # hangs up, unregisters (3 s at most), closes the sockets
    if args.record and heard:
        with open(args.record, "wb") as out:
            out.write(wav_bytes(np.concatenate([f.samples for f in heard]), RATE))
        _say(f"what we heard is in {args.record} ({len(heard) * 0.02:.1f} s)")
    if stop.is_set():
        _say("interrupted")
        return 130
    return status


async def _until(aw: Awaitable[T], stop: asyncio.Event) -> T:
    """``aw``, unless ``stop`` is set first (then CancelledError)."""
    task: asyncio.Future[T] = asyncio.ensure_future(aw)
    stopper: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    waits: list[asyncio.Future[object]] = [task, stopper]  # type: ignore[list-item]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, PhoneError, asyncio.TimeoutError):
            pass
        raise asyncio.CancelledError
    return task.result()


async def _dial(phone: Phone, uri: str, timeout: float) -> PhoneCall:
    """``phone.call`` with progress: says "ringing" once the far end sends a provisional."""
    loop = asyncio.get_running_loop()
    pc = phone.dial(uri)
    until = loop.time() + timeout
    rang = False
    try:
        while pc.answered is None and not pc.ended and (left := until - loop.time()) > 0:
            event = await pc.next_event(left)
            if isinstance(event, CallProgress) and not rang:
                rang = True
                _say("ringing...")
        if pc.answered is None:
            why = pc._why(timeout)
            if not pc.ended:
                await pc.hangup()  # CANCEL
            raise PhoneError(f"call to {uri} failed: {why}")
    except asyncio.CancelledError:
        if not pc.ended:
            pc.act(lambda now: phone.core.hangup(pc.call_id, now))
        raise
    return pc


async def _talk(pc: PhoneCall, args: argparse.Namespace, source: tuple[npt.NDArray[np.int16], int] | None,
                heard: list[AudioFrame], stop: asyncio.Event) -> None:
    """Play, record, send DTMF and print quality once a second until ``--duration``."""
    loop = asyncio.get_running_loop()
    if source is None:
        pcm, rate = ToneSource(freqs=(440.0,), rate=RATE, level_dbm0=LEVEL_DBM0).read(int(args.duration * RATE)), RATE
    else:
        pcm, rate = source[0][:int(args.duration * source[1])], source[1]
    digits = list(args.dtmf.upper()) if args.dtmf else []
    written = 0
    start = loop.time()
    next_report, next_digit = 1.0, 0.5
    while (t := loop.time() - start) < args.duration and not stop.is_set() and not pc.ended:
        want = min(int((t + AHEAD) * rate), len(pcm)) - written
        if want > 0:
            written += pc.audio.write_nowait(pcm[written:written + want], rate=rate)
        if digits and t >= next_digit:
            digit = digits.pop(0)
            try:
                pc.send_dtmf(digit)
                _say(f"{t:5.1f}s sent DTMF {digit}")
            except LocalProtocolError as exc:  # e.g. the peer did not agree to telephone-event
                _say(f"{t:5.1f}s DTMF {digit} not sent: {exc}")
            next_digit += 0.25
        heard += pc.audio.read_all()
        if t >= next_report:
            _say(quality_line(t, args.user, pc))
            next_report += 1.0
        await asyncio.sleep(0.02)
    heard += pc.audio.read_all()
