"""The scenario suite of PHONE.md for the blocking ``Phone`` over real loopback sockets, once per
SIP transport (UDP, TCP, TLS with a run-time test CA and verification on, WS, WSS): Alice, Bob and
Carol register with digest at a registrar (``rvoip_sansio.server`` on a blocking endpoint);
Alice calls Bob; a 440 Hz tone goes each way and its frequency and level are measured on
arrival; hold and resume (no tone while held, tone again after); DTMF both ways (RFC 4733 and
SIP INFO) arrives as events; Bob blind-transfers Alice to Carol; hang up; and leaving the
``with`` blocks removes registrations, ends calls, closes every socket and joins the threads.
Plus Ctrl-C in the middle of a call."""

from __future__ import annotations

import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rvoip_sansio.adapters.blocking import PhoneCall, PhoneError, open_phone, open_sip_transports
from rvoip_sansio.media import level_dbm0, tone
from rvoip_sansio.phone import DtmfMethod, DtmfReceived, MediaEvent, PhoneDrained, SrtpMode, TransferProgress
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip.auth import Credentials
from tests.adapters.test_asyncio_transports import Pki
from tests.adapters.test_blocking_stream import free_port, registrar_ua, registrar_uri

LOOP = "127.0.0.1"
RATE = 16000
LEVEL = -12.0  # dBm0 of the test tones
USERS = {"alice": "a-pass", "bob": "b-pass", "carol": "c-pass"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("blocking-phone-tls")))


def peak_hz(pcm: np.ndarray, rate: int = RATE) -> float:
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((k + shift) * rate / len(x))


def listen(transport: str, pki: Pki) -> dict[str, Any]:
    local = (LOOP, free_port(transport))
    return {transport: (local, pki.good) if transport in ("TLS", "WSS") else local}


def uri_of(user: str, transport: str, port: int) -> str:
    return registrar_uri(transport, port).replace(f"{LOOP}", f"{user}@{LOOP}", 1)


def collect(calls: list[PhoneCall], seconds: float) -> list[np.ndarray]:
    """Read every call's frames for ``seconds`` (one thread, round robin); the real audio."""
    got: list[list[np.ndarray]] = [[] for _ in calls]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i, c in enumerate(calls):
            # waits for a frame (20 ms apart) on the first call, takes what is there on the others
            frame = c.audio.read(timeout=min(0.03, max(0.0, end - time.monotonic())) if i == 0 else 0)
            while frame is not None:
                if frame.flags.is_speech:
                    got[i].append(frame.samples)
                frame = c.audio.read(timeout=0)
    return [np.concatenate(g) if g else np.zeros(0, np.int16) for g in got]


def check_tone(pcm: np.ndarray, freq: float) -> None:
    assert len(pcm) >= RATE // 2, f"only {len(pcm)} samples of real audio"
    settled = pcm[RATE // 5:]
    assert abs(peak_hz(settled) - freq) < 3.0
    assert abs(level_dbm0(settled) - LEVEL) < 1.5


@contextmanager
def pbx(transport: str, pki: Pki) -> Iterator[tuple[Registrar, str]]:
    """A registrar (digest SHA-256) on a blocking endpoint; yields it and its URI."""
    ua, registrar, spec = registrar_ua(transport, pki, USERS)
    with open_sip_transports(ua, spec):
        yield registrar, registrar_uri(transport, ua.config.local[1])


def phone_kw(transport: str, pki: Pki) -> dict[str, Any]:
    kw: dict[str, Any] = {"transport": transport.lower(), "client_ssl": pki.client(), "auto_answer": True}
    if transport in ("TLS", "WSS"):
        kw["tls"] = pki.good
    return kw


def rebinds(transport: str, port: int) -> bool:
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOP, port))
    return True


def phone_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("rvoip-phone")]


def events_of(call: PhoneCall, kind: type, count: int, timeout: float = 3.0) -> list[Any]:
    """The next ``count`` events of ``kind`` on ``call`` (others skipped)."""
    out: list[Any] = []
    end = time.monotonic() + timeout
    while len(out) < count and (left := end - time.monotonic()) > 0:
        ev = call.next_event(left)
        if isinstance(ev, kind):
            out.append(ev)
    return out


@pytest.mark.parametrize("transport", ["UDP", "TCP", "TLS", "WS", "WSS"])
def test_scenario(transport: str, pki: Pki) -> None:
    kw = phone_kw(transport, pki)
    with pbx(transport, pki) as (registrar, registrar_at), ExitStack() as stack:
        alice = stack.enter_context(open_phone("alice", (LOOP, 0), **kw))
        bob = stack.enter_context(open_phone("bob", (LOOP, 0), rtp_ports=(42000, 42099), **kw))
        carol = stack.enter_context(open_phone("carol", (LOOP, 0), **kw))
        for phone, user in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            phone.register(registrar_at, Credentials(username=user, password=USERS[user]), expires=300)
        now = time.monotonic()
        contacts = {u: [b.contact for b in registrar.lookup(f"sip:{u}@{LOOP}", now)] for u in USERS}
        assert all(len(c) == 1 for c in contacts.values()), contacts
        assert f":{bob.local[1]}" in contacts["bob"][0]

        # Call, with a custom header.
        a = alice.call(uri_of("bob", transport, bob.local[1]), headers=[("X-Case", transport)], timeout=5)
        b = bob.next_call(timeout=5)
        assert b is not None and b.call_id == a.call_id and b.header("X-Case") == transport
        assert b.rtp is not None and 42000 <= b.rtp[1] <= 42099  # from the configured range
        assert a.srtp and a.codec == "G722"  # SDES offered and accepted by default

        # Audio both ways: 440 Hz Alice -> Bob, 1000 Hz Bob -> Alice, 1 s each, measured.
        assert a.audio.write(tone(440.0, RATE, 1.0, level_dbm0=LEVEL)) == RATE
        assert b.audio.write(tone(1000.0, RATE, 1.0, level_dbm0=LEVEL)) == RATE
        at_bob, at_alice = collect([b, a], 1.3)
        check_tone(at_bob, 440.0)
        check_tone(at_alice, 1000.0)
        quality = a.quality()
        assert quality is not None and quality.quality.packets_lost == 0

        # Hold: Bob's tone does not reach Alice while she holds him; it does after resume.
        assert a.hold() and b.loop.wait(lambda: b.held_by_peer, 3)
        collect([a], 0.1)  # what was on its way before the hold
        b.audio.write(tone(1000.0, RATE, 0.4, level_dbm0=LEVEL))
        held_alice, = collect([a], 0.5)
        assert len(held_alice) == 0 or level_dbm0(held_alice) < LEVEL - 25  # no tone
        assert a.resume() and b.loop.wait(lambda: not b.held_by_peer, 3)
        b.audio.write(tone(1000.0, RATE, 0.8, level_dbm0=LEVEL))
        resumed_alice, = collect([a], 1.0)
        check_tone(resumed_alice, 1000.0)

        # DTMF both ways: RFC 4733 Alice -> Bob, SIP INFO Bob -> Alice.
        a.send_dtmf("12#", method="rfc4733")
        got = events_of(b, DtmfReceived, 3)
        assert [(e.digit, e.method) for e in got] == [(d, DtmfMethod.RFC4733) for d in "12#"]
        b.send_dtmf("*9", method="info")
        got = events_of(a, DtmfReceived, 2)
        assert [(e.digit, e.method) for e in got] == [(d, DtmfMethod.INFO) for d in "*9"]

        # Blind transfer: Bob sends Alice to Carol; Alice's phone follows on a new socket.
        b.transfer(uri_of("carol", transport, carol.local[1]))
        c = carol.next_call(timeout=5)
        assert c is not None and "bob" in (c.header("Referred-By") or "")
        assert alice.loop.wait(lambda: a.transferred_to is not None and a.transferred_to.answered is not None, 5)
        a2 = a.transferred_to
        assert a2 is not None and a2.call_id == c.call_id and a2.rtp != a.rtp
        final = b.wait_for(TransferProgress, 3)
        while final is not None and not final.final:
            final = b.wait_for(TransferProgress, 3)
        assert final is not None and final.status_code == 200
        assert b.hangup(timeout=5) and a.wait_ended(timeout=5)
        assert a2.audio.write(tone(440.0, RATE, 0.8, level_dbm0=LEVEL)) == int(0.8 * RATE)
        at_carol, = collect([c], 1.0)
        check_tone(at_carol, 440.0)

        # Carol hangs up: Alice's transferred call ends, every RTP socket is released.
        assert c.hangup(timeout=5) and a2.wait_ended(timeout=5)
        assert a2.end is not None and a2.end.reason.value == "remote hangup"
        ports = [alice.local[1], bob.local[1], carol.local[1]]
        rtp_ports = [p.rtp[1] for p in (a, b, a2, c) if p.rtp is not None]
        assert alice.loop.wait(lambda: not alice.rtp_sockets, 2) and carol.loop.wait(lambda: not carol.rtp_sockets, 2)
        assert alice.calls == {} and carol.calls == {}  # ended and released: forgotten
    # Leaving the blocks: registrations removed, every socket closed, threads joined.
    assert all(registrar.lookup(f"sip:{u}@{LOOP}", time.monotonic()) == [] for u in USERS)
    assert all(rebinds(transport, p) for p in ports) and all(rebinds("UDP", p) for p in rtp_ports)
    assert phone_threads() == []


@pytest.mark.parametrize("background", [True, False], ids=["thread", "caller"])
def test_ctrl_c_mid_call_hangs_up_unregisters_and_closes(background: bool, pki: Pki) -> None:
    """SIGINT while Alice's program waits (in a call, registered): KeyboardInterrupt leaves
    the ``with`` as itself, after the phone sent BYE and un-REGISTER and closed its sockets."""
    main = threading.get_ident()
    up = threading.Event()

    def press_ctrl_c() -> None:
        if up.wait(10):
            signal.pthread_kill(main, signal.SIGINT)  # what the terminal does on Ctrl-C

    presser = threading.Thread(target=press_ctrl_c)
    with pbx("UDP", pki) as (registrar, registrar_at), open_phone("bob", (LOOP, 0), auto_answer=True) as bob:
        with pytest.raises(KeyboardInterrupt):
            with open_phone("alice", (LOOP, 0), background=background) as alice:
                port = alice.local[1]
                alice.register(registrar_at, Credentials(username="alice", password=USERS["alice"]))
                a = alice.call(f"sip:bob@{LOOP}:{bob.local[1]}", timeout=5)
                assert a.rtp is not None
                presser.start()
                up.set()
                alice.next_call(timeout=10)  # interrupted while waiting
        presser.join()
        b = bob.next_call(timeout=1)
        assert b is not None and b.wait_ended(timeout=2)
        assert b.end is not None and b.end.reason.value == "remote hangup"
        assert registrar.lookup(f"sip:alice@{LOOP}", time.monotonic()) == []
    assert rebinds("UDP", port) and rebinds("UDP", a.rtp[1])
    assert phone_threads() == []


def test_caller_driven_phone_calls_with_audio(pki: Pki) -> None:
    """``background=False``: no thread; waiting calls (``call``, ``read``, ``next_event``) run
    the loop in the caller's thread."""
    with open_phone("bob", (LOOP, 0), auto_answer=True) as bob, \
            open_phone("alice", (LOOP, 0), background=False) as alice:
        assert [t for t in phone_threads() if "alice" in t] == []
        a = alice.call(f"sip:bob@{LOOP}:{bob.local[1]}", timeout=5)
        b = bob.next_call(timeout=2)
        assert b is not None
        b.audio.write(tone(440.0, RATE, 1.0, level_dbm0=LEVEL))
        at_alice, = collect([a], 1.3)
        check_tone(at_alice, 440.0)
        b.send_dtmf("5")
        assert [e.digit for e in events_of(a, DtmfReceived, 1)] == ["5"]
        assert a.hangup(timeout=3) and b.wait_ended(timeout=3)


def test_manual_answer_reject_drain_and_exception_close(pki: Pki) -> None:
    """Without auto-answer: a call rejected with a custom header raises PhoneError naming the
    status; one answered by hand carries the 200's header back; a drained phone refuses new
    calls with 503; an exception leaving the block still closes everything."""
    with open_phone("bob", (LOOP, 0)) as bob, open_phone("alice", (LOOP, 0)) as alice:
        def callee() -> None:
            first = bob.next_call(5)
            assert first is not None and first.answered is None and first.rtp is None  # ringing
            first.reject(486, headers=[("X-Why", "busy")])
            second = bob.next_call(5)
            assert second is not None
            second.answer(headers=[("X-Answered-By", "bob")])
        answering = threading.Thread(target=callee)
        answering.start()
        target = f"sip:bob@{LOOP}:{bob.local[1]}"
        with pytest.raises(PhoneError, match="486"):
            alice.call(target, timeout=5)
        a = alice.call(target, timeout=5)
        answering.join()
        assert a.header("X-Answered-By") == "bob"
        draining = threading.Thread(target=lambda: bob.drain(timeout=5))
        draining.start()
        with pytest.raises(PhoneError, match="503"):
            alice.call(target, timeout=5)  # refused while the running call goes on
        assert a.hangup(timeout=3)
        draining.join()
        assert any(isinstance(e, PhoneDrained) for e in iter(lambda: bob.next_event(0), None))
    with pytest.raises(RuntimeError, match="boom"):
        with open_phone("carol", (LOOP, 0)) as carol:
            port = carol.local[1]
            raise RuntimeError("boom")
    assert rebinds("UDP", port) and phone_threads() == []


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The blocking Phone example of docs/adapters.md runs as written."""
    text = (Path(__file__).parents[2] / "docs" / "adapters.md").read_text()
    section = text[text.index("## blocking: the Phone"):]
    code = section[section.index("```python\n") + 10:]
    code = code[:code.index("```")]
    exec(compile(code, "docs/adapters.md blocking Phone", "exec"), {"__name__": "docs"})
    assert capsys.readouterr().out.split() == ["7", "G722", "True"]
    assert phone_threads() == []


def test_dtls_srtp_call() -> None:
    """DTLS-SRTP (RFC 5763/5764): the core runs the handshake on the call's RTP socket; the
    blocking host only carries its datagrams. 440 Hz arrives, keyed by DTLS."""
    with open_phone("alice", (LOOP, 0), srtp=SrtpMode.DTLS) as alice, \
            open_phone("bob", (LOOP, 0), srtp=SrtpMode.DTLS, auto_answer=True) as bob:
        a = alice.call(f"sip:bob@{LOOP}:{bob.local[1]}", timeout=5)
        b = bob.next_call(timeout=5)
        assert b is not None and a.answered is not None and a.answered.keying == "dtls" and a.srtp
        a.audio.write(tone(440.0, RATE, 1.0, level_dbm0=LEVEL))
        at_bob, = collect([b], 1.3)
        check_tone(at_bob, 440.0)
        keyed = b.wait_for(MediaEvent, 1)
        while keyed is not None and type(keyed.event).__name__ != "DtlsKeyed":
            keyed = b.wait_for(MediaEvent, 1)
        assert keyed is not None
        assert a.hangup(timeout=3) and b.wait_ended(timeout=3)


def test_early_media_and_codec_change() -> None:
    """Bob rings with early media (183 + SDP) and plays a prompt Alice hears before the
    answer; after the answer Alice re-offers G.711 only and the media follows (PCMU)."""
    with open_phone("bob", (LOOP, 0)) as bob, open_phone("alice", (LOOP, 0)) as alice:
        a = alice.dial(f"sip:bob@{LOOP}:{bob.local[1]}")
        b = bob.next_call(timeout=5)
        assert b is not None
        b.ring(early_media=True)
        b.audio.write(tone(880.0, RATE, 1.0, level_dbm0=LEVEL))
        early, = collect([a], 1.3)
        assert a.answered is None  # still ringing: what came is early media
        check_tone(early, 880.0)
        b.answer(timeout=5)
        assert a.wait_answered(timeout=5).codec.startswith("G722")
        a.set_codecs([PCMU])
        assert a.loop.wait(lambda: a.media() is not None and a.media().config.rtpmap.startswith("PCMU"), 5)  # type: ignore[union-attr]
        b.audio.write(tone(440.0, RATE, 1.0, level_dbm0=LEVEL))
        after, = collect([a], 1.3)
        check_tone(after, 440.0)
        assert a.hangup(timeout=3)
