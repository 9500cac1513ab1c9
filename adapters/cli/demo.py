"""``rvoip demo``: a real call on loopback, nothing to configure.

On 127.0.0.1 it starts a registrar + B2BUA and two phones (alice and bob), registers both
with digest authentication, and alice calls bob through the B2BUA with SRTP (SDES) and G.722
(G.711 as fallback). Alice plays a 440 Hz tone, bob a 1000 Hz tone; once a second a line of
call quality is printed for each side. After ``--duration`` seconds alice hangs up; the ladder
diagram of the signalling is printed and the tone each side received is checked (frequency
and level). Exit status 0 when every check passed, 1 when one failed, 2 on a timeout, 130 after
Ctrl-C (the call is still hung up and the phones unregistered).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from rvoip_sansio import Address
from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.codecs import Resampler
from rvoip_sansio.media import ToneSource, wav_bytes
from rvoip_sansio.sdp import G722, PCMA, PCMU, Codec
from rvoip_sansio.sim import Fate, TraceEntry, ladder
from rvoip_sansio.sip.auth import Credentials

from ..asyncio import Phone, PhoneCall, PhoneError, TracedCore, open_udp_endpoint
from ._common import SETTLE, build_pbx, free_ports, measure, quality_line, read_mono_wav, stop_on_signals
from ._common import free_ports as _free_ports

__all__ = ["add_arguments", "run"]

CODECS: dict[str, Codec] = {"g722": G722, "pcmu": PCMU, "pcma": PCMA}
RATE = 16000
LEVEL_DBM0 = -10.0  # level of the tones sent
FREQ_TOLERANCE = 5.0  # Hz
LEVEL_TOLERANCE = 2.0  # dB
ACCOUNTS = {"alice": "alice-secret", "bob": "bob-secret"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=4.0, metavar="S",
                        help="seconds of audio before hanging up (default 4)")
    parser.add_argument("--codec", choices=sorted(CODECS), default="g722",
                        help="codec offered first (default g722; the others follow as fallback)")
    parser.add_argument("--no-srtp", action="store_true", help="plain RTP instead of SRTP (SDES)")
    parser.add_argument("--dtls", action="store_true",
                        help="key SRTP with DTLS-SRTP (RFC 5763/5764) instead of SDES")
    parser.add_argument("--tones", type=float, nargs=2, default=(440.0, 1000.0), metavar=("A", "B"),
                        help="tone alice plays and tone bob plays, in Hz (default 440 1000)")
    parser.add_argument("--no-ladder", action="store_true", help="do not print the ladder diagram")
    parser.add_argument("--play", metavar="WAV", help="alice plays this 16-bit PCM WAV instead of her tone; "
                        "what bob hears is scored with PESQ against it (when the pesq package is installed)")
    parser.add_argument("--record", metavar="WAV", help="save what bob heard (16 kHz mono WAV)")


def run(args: argparse.Namespace) -> int:
    if args.duration <= 0.5:
        print("rvoip demo: --duration must be more than 0.5 s", file=sys.stderr)
        return 2
    args.wav = read_mono_wav(args.play, "demo") if args.play else None
    if args.play and args.wav is None:
        return 2
    try:
        return asyncio.run(asyncio.wait_for(_demo(args), args.duration + 30))
    except asyncio.TimeoutError:
        print("FAIL: the demo did not finish in time", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"FAIL: could not use a loopback UDP socket: {exc}", file=sys.stderr)
        return 2


async def _demo(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pbx_port, alice_port, bob_port = free_ports(3)
    host = "127.0.0.1"
    pbx_addr, alice_addr, bob_addr = (host, pbx_port), (host, alice_port), (host, bob_port)
    names = {pbx_addr: "pbx", alice_addr: "alice", bob_addr: "bob"}
    trace: list[TraceEntry] = []

    def hook(now: float, src: Address, dst: Address, data: bytes) -> None:
        trace.append(TraceEntry(sent=now - t0, arrival=now - t0, src=src, dst=dst,
                                src_name=names.get(src, f"{src[0]}:{src[1]}"),
                                dst_name=names.get(dst, f"{dst[0]}:{dst[1]}"),
                                data=data, fate=Fate.DELIVERED))

    # The registrar + B2BUA: one UserAgent without media (SDP relayed verbatim).
    b2bua, _ = build_pbx(pbx_addr, ACCOUNTS, "rvoip-demo")
    pbx = await open_udp_endpoint(TracedCore(b2bua, pbx_addr, hook), pbx_addr)

    first = CODECS[args.codec]
    codecs = (first, *(c for c in (G722, PCMU, PCMA) if c is not first))
    srtp = not args.no_srtp
    mode: str | bool = ("dtls" if args.dtls else "sdes") if srtp else False
    alice = await Phone.open("alice", alice_addr, codecs=codecs, srtp=mode, rate=RATE, trace=hook)
    bob = await Phone.open("bob", bob_addr, codecs=codecs, srtp=mode, rate=RATE, trace=hook, auto_answer=True)
    print(f"registrar/B2BUA on {host}:{pbx_port}, alice on {alice_port}, bob on {bob_port}")
    failures: list[str] = []
    stop = stop_on_signals()  # Ctrl-C / SIGTERM: end the call cleanly, skip the checks
    try:
        for phone, user in ((alice, "alice"), (bob, "bob")):
            await phone.register(f"sip:{host}:{pbx_port}", Credentials(username=user, password=ACCOUNTS[user]))
            print(f"{user} registered (digest MD5)", flush=True)
        a_call = await alice.call(f"sip:bob@{host}:{pbx_port}")
        b_call = await bob.accept(5)
        await b_call.wait_answered(5)
        failures += _describe_call(a_call, b_call, srtp)
        heard = await _talk(a_call, b_call, args.tones, args.duration, loop.time, stop, args.wav)
        for name, pc in (("alice", a_call), ("bob", b_call)):
            health = pc.audio.health()
            if health is not None and health.srtp_errors:
                failures.append(f"{name}: {health.srtp_errors} SRTP packets failed to authenticate")
        await a_call.hangup()
        if not await b_call.wait_ended(5):
            raise asyncio.TimeoutError
        print(f"alice hung up; bob saw: {b_call.end.reason.value if b_call.end else '?'}")
        if stop.is_set():
            failures.append("interrupted: the call was hung up and the phones unregistered")
        else:
            failures += _check_tones(heard, args.tones, skip="bob" if args.wav else None)
            if args.wav is not None:
                failures += _check_wav(heard["bob"], args.wav, args.duration, a_call.codec)
        if args.record:
            with open(args.record, "wb") as out:
                out.write(wav_bytes(np.concatenate([fr.samples for fr in heard["bob"]]), RATE))
            print(f"what bob heard is in {args.record}")
    except PhoneError as exc:
        failures.append(str(exc))
    except asyncio.TimeoutError:
        failures.append("a step timed out (registration, call setup or hangup)")
    finally:
        await alice.close()
        await bob.close()
        await pbx.close()
    if not args.no_ladder:
        print("\nSignalling (SIP over UDP on 127.0.0.1):")
        print(ladder(trace, [("alice", alice_addr), ("pbx", pbx_addr), ("bob", bob_addr)], width=26))
    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 130 if stop.is_set() else 1
    print("\nOK: registered, called, heard the right tone both ways, hung up.")
    return 0


def _describe_call(a: PhoneCall, b: PhoneCall, srtp_wanted: bool) -> list[str]:
    failures = []
    if a.srtp and b.srtp:
        how = "DTLS-SRTP (RFC 5764)" if a.keying == "dtls" else "SDES (RFC 4568)"
        suite = f" {a.keys.tx.profile.name}" if a.keys is not None else ""
        print(f"call up: codec {a.codec}, SRTP{suite} keyed by {how}")
    else:
        print(f"call up: codec {a.codec}, plain RTP (SRTP not negotiated)")
        if srtp_wanted:
            failures.append("SRTP was offered but not negotiated")
    return failures


async def _talk(a: PhoneCall, b: PhoneCall, tones: tuple[float, float], duration: float,
                clock: Callable[[], float], stop: asyncio.Event,
                wav: tuple[npt.NDArray[np.int16], int] | None) -> dict[str, list[AudioFrame]]:
    """Play a tone (or alice's WAV) each way for ``duration`` seconds, print quality once a second."""
    sources = {"alice": ToneSource(freqs=(tones[0],), rate=RATE, level_dbm0=LEVEL_DBM0),
               "bob": ToneSource(freqs=(tones[1],), rate=RATE, level_dbm0=LEVEL_DBM0)}
    calls = {"alice": a, "bob": b}
    if wav is not None:  # the whole file at once (its rate; the media resamples and paces it)
        a.audio.write_nowait(wav[0][:int(duration * wav[1])], rate=wav[1])
        calls_writing: tuple[str, ...] = ("bob",)
    else:
        calls_writing = ("alice", "bob")
    heard: dict[str, list[AudioFrame]] = {"alice": [], "bob": []}
    written = {"alice": 0, "bob": 0}
    start = clock()
    next_report = 1.0
    while (t := clock() - start) < duration and not stop.is_set():
        for name, pc in calls.items():
            # keep ~0.3 s queued ahead of the media clock, never more than the call lasts
            want = min(int((t + 0.3) * RATE), int(duration * RATE)) - written[name]
            if want > 0 and name in calls_writing:
                written[name] += pc.audio.write_nowait(sources[name].read(want))
            heard[name] += pc.audio.read_all()
        if t >= next_report:
            for name, pc in calls.items():
                print(quality_line(t, name, pc), flush=True)
            next_report += 1.0
        await asyncio.sleep(0.05)
    for name, pc in calls.items():
        heard[name] += pc.audio.read_all()
        print(quality_line(clock() - start, name, pc))
    return heard


def _check_tones(heard: dict[str, list[AudioFrame]], tones: tuple[float, float],
                 skip: str | None = None) -> list[str]:
    failures = []
    expect = {"alice": tones[1], "bob": tones[0]}  # each hears the other's tone
    for name, frames in heard.items():
        if name == skip:
            continue
        freq, level, n = measure(frames, RATE)
        ok_f = abs(freq - expect[name]) <= FREQ_TOLERANCE
        ok_l = abs(level - LEVEL_DBM0) <= LEVEL_TOLERANCE
        verdict = "ok" if ok_f and ok_l else "WRONG"
        print(f"check: {name} heard {freq:7.1f} Hz at {level:6.1f} dBm0 over {n / RATE:.2f} s "
              f"(expected {expect[name]:.0f} Hz at {LEVEL_DBM0:.0f} dBm0): {verdict}")
        if not ok_f or not ok_l:
            failures.append(f"{name} heard {freq:.1f} Hz at {level:.1f} dBm0, expected "
                            f"{expect[name]:.0f} Hz at {LEVEL_DBM0:.0f} dBm0")
    return failures


def _check_wav(frames: list[AudioFrame], wav: tuple[npt.NDArray[np.int16], int], duration: float,
               codec: str) -> list[str]:
    """PESQ (ITU-T P.862, wideband for G.722, narrowband for G.711) of what bob heard
    against the file alice played; at least 3.0 passes."""
    try:
        from pesq import pesq  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("check: bob's audio not scored (install the pesq package for PESQ)")
        return []
    rate = 16000 if codec.upper() == "G722" else 8000
    ref = wav[0][:int(duration * wav[1])]
    if wav[1] != rate:
        ref = Resampler(wav[1], rate).process(ref)
    # Each frame goes where its index on the receive media clock puts it, so a frame lost to
    # a stalled process leaves silence in place instead of shifting everything after it.
    deg = np.zeros(0, np.int16)
    if frames:
        start = frames[0].index
        deg = np.zeros(frames[-1].index + len(frames[-1].samples) - start, np.int16)
        for f in frames:
            deg[f.index - start:f.index - start + len(f.samples)] = f.samples
    if rate != RATE:
        deg = Resampler(RATE, rate).process(deg)
    # Line the received audio up with the file (it starts after the jitter buffer's delay):
    # the lag of the cross-correlation peak, within the first half second.
    if len(deg) > len(ref) // 2 > 0:
        size = 1 << (len(ref) + len(deg)).bit_length()
        xc = np.fft.irfft(np.fft.rfft(deg.astype(np.float64), size) *
                          np.conj(np.fft.rfft(ref.astype(np.float64), size)), size)
        deg = deg[int(np.argmax(xc[:rate // 2])):]
    n = min(len(ref), len(deg))
    try:
        score = float(pesq(rate, ref[:n].astype(np.float32), deg[:n].astype(np.float32),
                           "wb" if rate == 16000 else "nb"))
    except Exception as exc:  # the pesq package raises its own error types (no utterances...)
        return [f"PESQ could not score bob's audio: {exc}"]
    verdict = "ok" if score >= 3.0 else "WRONG"
    band = "wideband" if rate == 16000 else "narrowband"
    print(f"check: bob heard the file at PESQ-{band} {score:.2f} (at least 3.0): {verdict}")
    return [] if score >= 3.0 else [f"bob's audio scored PESQ {score:.2f} (< 3.0)"]
