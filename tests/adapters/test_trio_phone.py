"""The scenario suite of PHONE.md for the trio ``Phone`` over real loopback sockets, once per SIP
transport (UDP, TCP, TLS with a run-time test CA and verification on, WS): Alice, Bob and
Carol register with digest (SHA-256) at a registrar (``rvoip_sansio.server.Registrar`` in a
``UserAgent`` on the trio ``open_sip_transports``); Alice calls Bob (G.722 + SDES-SRTP);
a 440 Hz tone goes one way and a 1000 Hz tone the other, and each is measured where it
arrives (FFT peak frequency and RMS level in dBm0, ``rvoip_sansio.media``); hold and resume;
DTMF both ways (RFC 4733 and SIP INFO) arriving as events; Bob blind-transfers Alice to
Carol; hang up; and leaving the ``async with`` blocks removes the registrations (the
registrar's bindings are gone), ends the calls and closes every socket (the ports bind
again). Plus cancellation in the middle of a call.

Everything runs under ``trio.testing.MockClock(autojump_threshold=0)``: the clock jumps
whenever every task waits, so seconds of media take no real time, while every byte still
crosses a real socket."""

from __future__ import annotations

import signal
import socket
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trio
import trio.testing

from rvoip_sansio import phone as pe
from rvoip_sansio.adapters.trio import open_sip_transports
from rvoip_sansio.adapters.trio import Phone, PhoneCall, PhoneError, open_phone
from rvoip_sansio.dialog import EndReason
from rvoip_sansio.media import level_dbm0, tone
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.sip.auth import Credentials
from tests.adapters.test_asyncio_transports import Pki
from tests.adapters.test_blocking_stream import registrar_ua, registrar_uri

LOOP = "127.0.0.1"
RATE = 16000
LEVEL = -12.0  # dBm0 of the test tones
USERS = {"alice": "a-pass", "bob": "b-pass", "carol": "c-pass"}
#: (transport, clock): every transport under MockClock, and UDP once on the real clock too
#: (real 20 ms pacing, real timers: ~6 s).
CASES = [("UDP", "mock"), ("TCP", "mock"), ("TLS", "mock"), ("WS", "mock"), ("WSS", "mock"), ("UDP", "real")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("trio-phone-tls")))


def peak_hz(pcm: np.ndarray, rate: int = RATE) -> float:
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((k + shift) * rate / len(x))


def uri_of(user: str, transport: str, port: int) -> str:
    return registrar_uri(transport, port).replace(LOOP, f"{user}@{LOOP}", 1)


def phone_kw(transport: str, pki: Pki) -> dict[str, Any]:
    kw: dict[str, Any] = {"transport": transport, "client_ssl": pki.client(), "auto_answer": True}
    if transport in ("TLS", "WSS"):
        kw["server_ssl"] = pki.good
    return kw


async def hear(call: PhoneCall, seconds: float) -> np.ndarray:
    """The real (decoded, not concealed or silent) audio of ``seconds`` of the call."""
    got: list[np.ndarray] = []
    with trio.move_on_after(seconds):
        async for frame in call.audio.frames(rate=RATE, frame_ms=20):
            if frame.flags.is_speech:
                got.append(frame.samples)
    return np.concatenate(got) if got else np.zeros(0, np.int16)


def tone_part(pcm: np.ndarray) -> np.ndarray:
    """From the first loud sample to the last (the idle sender's silence is real audio too,
    and G.722 decodes it as a faint noise, peaks < 1000; the tones peak at ~8000)."""
    nonzero = np.flatnonzero(np.abs(pcm) > 2000)
    return pcm[nonzero[0]:nonzero[-1] + 1] if len(nonzero) else pcm[:0]


def check_tone(pcm: np.ndarray, freq: float, seconds: float) -> None:
    part = tone_part(pcm)
    assert len(part) >= (seconds - 0.1) * RATE, f"only {len(part)} samples of the tone"
    settled = part[RATE // 10:-RATE // 20]
    assert abs(peak_hz(settled) - freq) < 2.0
    assert abs(level_dbm0(settled) - LEVEL) < 1.0


def flush(call: PhoneCall) -> None:
    while call.audio.read_nowait() is not None:
        pass


async def exchange(a: PhoneCall, b: PhoneCall, seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A 440 Hz tone from ``a`` to ``b`` and 1000 Hz back at the same time; what each heard."""
    flush(a)
    flush(b)
    heard: dict[str, np.ndarray] = {}

    async def listen(name: str, call: PhoneCall) -> None:
        heard[name] = await hear(call, seconds + 0.4)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(listen, "b", b)
        nursery.start_soon(listen, "a", a)
        assert await a.audio.write(tone(440.0, RATE, seconds, level_dbm0=LEVEL)) == seconds * RATE
        assert await b.audio.write(tone(1000.0, RATE, seconds, level_dbm0=LEVEL)) == seconds * RATE
    return heard["b"], heard["a"]


def run(scenario: Callable[[], Awaitable[None]], clock: str = "mock") -> None:
    if clock == "mock":
        trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    else:
        trio.run(scenario)


def port_binds(transport: str, port: int) -> bool:
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOP, port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(("transport", "clock"), CASES)
def test_phone_scenario(transport: str, clock: str, pki: Pki) -> None:
    server, registrar, spec = registrar_ua(transport, pki, USERS)
    reg_port = spec[transport][0][1] if transport in ("TLS", "WSS") else spec[transport][1]
    reg_uri = registrar_uri(transport, reg_port)
    used: dict[str, tuple[int, list[int]]] = {}

    async def scenario() -> None:
        async with open_sip_transports(server, spec):
            async with AsyncExitStack() as stack:
                phones: dict[str, Phone] = {}
                for user in USERS:
                    phones[user] = await stack.enter_async_context(
                        open_phone(user, (LOOP, 0), rtp_ports=(30000, 30999), **phone_kw(transport, pki)))
                alice, bob, carol = phones["alice"], phones["bob"], phones["carol"]
                with trio.fail_after(30):
                    # ---- register with digest
                    for user, phone in phones.items():
                        await phone.register(reg_uri, Credentials(username=user, password=USERS[user]))
                        port = phone.locals[transport][1]
                        bindings = registrar.lookup(f"sip:{user}@{LOOP}", trio.current_time())
                        assert len(bindings) == 1 and f":{port}" in bindings[0].contact
                    # ---- call; audio both ways
                    a_call = await alice.call(uri_of("bob", transport, bob.locals[transport][1]),
                                              headers=[("X-Test", "scenario")])
                    b_call = await bob.accept()
                    assert b_call.incoming is not None and b_call.incoming.header("X-Test") == "scenario"
                    assert a_call.answered is not None and a_call.answered.srtp and a_call.srtp
                    assert a_call.codec == "G722"
                    await b_call.wait(lambda: b_call.answered is not None or b_call.ended)  # the ACK
                    assert b_call.answered is not None and b_call.call_id == a_call.call_id
                    at_bob, at_alice = await exchange(a_call, b_call)
                    check_tone(at_bob, 440.0, 1.0)
                    check_tone(at_alice, 1000.0, 1.0)
                    quality = a_call.quality()
                    assert quality is not None and quality.health.frames_sent == 50  # the second written
                    assert quality.quality.mos > 4.0 and quality.health.frames_concealed == 0
                    used[transport] = (alice.locals[transport][1],
                                       [p.locals[transport][1] for p in phones.values()])
                    # ---- hold: Bob's tone no longer reaches Alice; resume: it does again
                    assert await a_call.hold() and a_call.held
                    held = await b_call.wait_for(pe.CallHeld)
                    assert held is not None and held.by_peer
                    at_bob, at_alice = await exchange(a_call, b_call, 0.6)
                    assert len(at_alice) <= RATE // 50  # nothing real (a frame in flight at most)
                    check_tone(at_bob, 440.0, 0.6)  # Alice (sendonly) still sends
                    assert await a_call.resume() and not a_call.held
                    resumed = await b_call.wait_for(pe.CallResumed)
                    assert resumed is not None and resumed.by_peer
                    at_bob, at_alice = await exchange(a_call, b_call, 0.6)
                    check_tone(at_alice, 1000.0, 0.6)
                    check_tone(at_bob, 440.0, 0.6)
                    # ---- DTMF both ways, RFC 4733 and SIP INFO
                    a_call.send_dtmf("12#", method="rfc4733")
                    b_call.send_dtmf("*9", method="info")
                    at_b = [await b_call.wait_for(pe.DtmfReceived) for _ in range(3)]
                    at_a = [await a_call.wait_for(pe.DtmfReceived) for _ in range(2)]
                    assert [(d.digit, d.method) for d in at_b if d] == [
                        (c, pe.DtmfMethod.RFC4733) for c in "12#"]
                    assert [(d.digit, d.method) for d in at_a if d] == [(c, pe.DtmfMethod.INFO) for c in "*9"]
                    # ---- blind transfer: Bob sends Alice to Carol
                    b_call.transfer(uri_of("carol", transport, carol.locals[transport][1]))
                    asked = await a_call.wait_for(pe.TransferRequested)
                    assert asked is not None and asked.target.startswith("sip") and "carol" in asked.target
                    a2 = a_call.transferred_to
                    assert a2 is not None
                    await a2.wait_answered()
                    c_call = await carol.accept()
                    await c_call.wait_answered()
                    assert c_call.call_id == a2.call_id
                    done = await b_call.wait_for(pe.TransferProgress)
                    while done is not None and not done.final:
                        done = await b_call.wait_for(pe.TransferProgress)
                    assert done is not None and done.status_code == 200
                    at_carol, at_alice = await exchange(a2, c_call, 0.6)
                    check_tone(at_carol, 440.0, 0.6)
                    check_tone(at_alice, 1000.0, 0.6)
                    # ---- hang up: Bob ends the transferred call, Alice the new one
                    await b_call.hangup()
                    await a_call.wait_ended()
                    assert a_call.end is not None
                    assert a_call.end.reason in (EndReason.REMOTE_HANGUP, EndReason.TRANSFERRED)
                    await a2.hangup()
                    await c_call.wait_ended()
                    assert a2.end is not None and a2.end.reason is EndReason.LOCAL_HANGUP
                    assert c_call.end is not None and c_call.end.reason is EndReason.REMOTE_HANGUP
                    assert a2.audio.ended and await a2.audio.read() is None
                    assert len(alice.media_sockets) == len(bob.media_sockets) == len(carol.media_sockets) == 0
                    assert not alice.calls and not bob.calls and not carol.calls  # ended calls not kept
                # leaving: unregisters everybody, closes every socket
            for user in USERS:
                assert registrar.lookup(f"sip:{user}@{LOOP}", trio.current_time()) == []

    run(scenario, clock)
    _, ports = used[transport]
    assert all(port_binds(transport, p) for p in ports)


def test_cancelled_mid_call_hangs_up_and_unregisters(pki: Pki) -> None:
    """A cancelled ``async with`` (here a deadline) still sends BYE and un-REGISTER and
    closes the sockets: the shutdown runs shielded, bounded by ``close_timeout``."""
    transport = "UDP"
    server, registrar, spec = registrar_ua(transport, pki, USERS)
    reg_uri = registrar_uri(transport, spec[transport][1])
    seen: list[pe.CallEnded] = []

    async def scenario() -> None:
        async with open_sip_transports(server, spec):
            async with open_phone("bob", (LOOP, 0), **phone_kw(transport, pki)) as bob:
                await bob.register(reg_uri, Credentials(username="bob", password=USERS["bob"]))
                with trio.move_on_after(5) as scope:
                    async with open_phone("alice", (LOOP, 0), **phone_kw(transport, pki)) as alice:
                        await alice.register(reg_uri, Credentials(username="alice", password=USERS["alice"]))
                        await alice.call(uri_of("bob", transport, bob.locals[transport][1]))
                        await trio.sleep_forever()
                assert scope.cancelled_caught
                b_call = await bob.accept()
                await b_call.wait_ended()
                assert b_call.end is not None
                seen.append(b_call.end)
                assert registrar.lookup(f"sip:alice@{LOOP}", trio.current_time()) == []
                assert len(registrar.lookup(f"sip:bob@{LOOP}", trio.current_time())) == 1
                assert len(bob.media_sockets) == 0

    run(scenario)
    assert seen and seen[0].reason is EndReason.REMOTE_HANGUP


def test_ctrl_c_mid_call_hangs_up_and_unregisters(pki: Pki) -> None:
    """SIGINT in the middle of a call: ``KeyboardInterrupt`` leaves ``trio.run`` as itself,
    and on its way out Alice's block sends BYE and un-REGISTER (Bob and the registrar, in
    the blocks around hers, still run) and closes her sockets."""
    transport = "UDP"
    server, registrar, spec = registrar_ua(transport, pki, USERS)
    reg_uri = registrar_uri(transport, spec[transport][1])
    calls: list[PhoneCall] = []
    ports: list[int] = []
    times: list[float] = []

    async def scenario() -> None:
        async with open_sip_transports(server, spec):
            async with open_phone("bob", (LOOP, 0), **phone_kw(transport, pki)) as bob:
                await bob.register(reg_uri, Credentials(username="bob", password=USERS["bob"]))
                async with open_phone("alice", (LOOP, 0), rtp_ports=(31000, 31999),
                                      **phone_kw(transport, pki)) as alice:
                    await alice.register(reg_uri, Credentials(username="alice", password=USERS["alice"]))
                    calls.append(await alice.call(uri_of("bob", transport, bob.locals[transport][1])))
                    calls.append(await bob.accept())
                    await calls[1].wait_answered()
                    assert calls[0].rtp is not None
                    ports.extend([alice.locals[transport][1], calls[0].rtp[1]])
                    await trio.sleep(0.5)
                    assert len(registrar.lookup(f"sip:alice@{LOOP}", trio.current_time())) == 1
                    times.append(trio.current_time())
                    signal.raise_signal(signal.SIGINT)
                    await trio.sleep_forever()

    with pytest.raises(KeyboardInterrupt):
        run(scenario)
    alice_call, bob_call = calls
    assert alice_call.end is not None and alice_call.end.reason is EndReason.LOCAL_HANGUP
    assert bob_call.end is not None and bob_call.end.reason is EndReason.REMOTE_HANGUP
    # both un-REGISTERed on the way out (the bindings would last 600 s otherwise)
    assert registrar.lookup(f"sip:alice@{LOOP}", times[0] + 10) == []
    assert registrar.lookup(f"sip:bob@{LOOP}", times[0] + 10) == []
    assert port_binds("UDP", ports[0]) and port_binds("UDP", ports[1])


def test_manual_answer_reject_headers_and_drain(pki: Pki) -> None:
    """Without ``auto_answer``: ``async for call in phone.incoming()`` sees each call with its
    headers; ``reject(486, headers=...)`` makes the caller's ``call`` raise; ``answer(headers=
    ...)`` puts the headers in the 200; ``drain()`` answers new calls 503 and returns once the
    running call has ended. The RTP socket comes from the configured range."""
    transport = "UDP"
    outcome: list[str] = []

    async def scenario() -> None:
        kw = phone_kw(transport, pki) | {"auto_answer": False}
        async with open_phone("bob", (LOOP, 0), **kw) as bob, \
                open_phone("alice", (LOOP, 0), rtp_ports=(32000, 32009), **kw) as alice:
            target = uri_of("bob", transport, bob.locals[transport][1])

            async def bob_side() -> None:
                async for call in bob.incoming():
                    assert call.incoming is not None
                    if call.incoming.header("X-Try") == "1":
                        call.reject(486, headers=[("X-Why", "busy now")])
                    else:
                        await call.answer(headers=[("X-Answered-By", "bob")])
                        outcome.append("answered")
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(bob_side)
                with pytest.raises(PhoneError, match="486"):
                    await alice.call(target, headers=[("X-Try", "1")])
                call = await alice.call(target, headers=[("X-Try", "2")])
            assert call.answered is not None and ("X-Answered-By", "bob") in call.answered.headers
            assert call.rtp is not None and 32000 <= call.rtp[1] <= 32009
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bob.drain)
                await trio.sleep(0.1)
                with pytest.raises(PhoneError, match="503"):
                    await alice.call(target, headers=[("X-Try", "3")])
                await trio.sleep(0.5)
                await call.hangup()
            outcome.append("drained")
            assert isinstance(await bob.next_event(), pe.PhoneDrained)

    run(scenario)
    assert outcome == ["answered", "drained"]


def test_dtls_srtp_call(pki: Pki) -> None:
    """DTLS-SRTP (RFC 5763/5764, ``SrtpMode.DTLS`` required on both phones): the handshake runs
    on each call's RTP socket inside the core (the host only carries datagrams), the call is
    keyed from it, and the tones go both ways."""
    transport = "UDP"
    outcome: list[bool] = []

    async def scenario() -> None:
        kw = phone_kw(transport, pki) | {"srtp": pe.SrtpMode.DTLS, "srtp_required": True}
        async with open_phone("bob", (LOOP, 0), **kw) as bob, open_phone("alice", (LOOP, 0), **kw) as alice:
            with trio.fail_after(20):
                a_call = await alice.call(uri_of("bob", transport, bob.locals[transport][1]))
                b_call = await bob.accept()
                await b_call.wait_answered()
                at_bob, at_alice = await exchange(a_call, b_call)
                check_tone(at_bob, 440.0, 1.0)
                check_tone(at_alice, 1000.0, 1.0)
                assert a_call.answered is not None and a_call.answered.keying == "dtls"
                outcome.append(a_call.srtp and b_call.srtp)
                quality = a_call.quality()
                assert quality is not None and quality.health.srtp_errors == 0
                await a_call.hangup()

    run(scenario)
    assert outcome == [True]


def test_close_is_bounded_when_the_registrar_is_gone(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    """The registrar disappears before the phone closes: the un-REGISTER goes unanswered
    (retransmitted), and closing gives up after ``close_timeout`` with a warning, sockets
    closed all the same."""
    transport = "UDP"
    server, registrar, spec = registrar_ua(transport, pki, USERS)
    reg_uri = registrar_uri(transport, spec[transport][1])
    spent: list[float] = []
    ports: list[int] = []

    async def scenario() -> None:
        async with open_phone("alice", (LOOP, 0), close_timeout=2.0, **phone_kw(transport, pki)) as alice:
            async with open_sip_transports(server, spec):
                await alice.register(reg_uri, Credentials(username="alice", password=USERS["alice"]))
            ports.append(alice.locals[transport][1])
            spent.append(trio.current_time())
        spent.append(trio.current_time())

    run(scenario)
    assert 2.0 <= spent[1] - spent[0] < 2.1  # mock seconds: the close_timeout, then gave up
    assert any("closed after 2 s" in r.getMessage() for r in caplog.records)
    assert port_binds(transport, ports[0])


def test_early_media_recodec_and_manual_transfer(pki: Pki) -> None:
    """``ring(early_media=True)``: 183 with our SDP, and a prompt written to ``call.audio``
    reaches the caller before the answer (its ``CallProgress`` says early media); ``answer()``
    keeps that media. ``set_codecs([PCMU])`` re-offers: the media is rebuilt for PCMU and a
    tone still arrives. With ``auto_follow_transfers=False`` the transferee follows a REFER
    itself with ``await call.follow_transfer()``."""
    transport = "UDP"
    done: list[str] = []

    async def scenario() -> None:
        kw = phone_kw(transport, pki)
        async with open_phone("bob", (LOOP, 0), **(kw | {"auto_answer": False})) as bob, \
                open_phone("carol", (LOOP, 0), **kw) as carol, \
                open_phone("alice", (LOOP, 0), **(kw | {"auto_follow_transfers": False})) as alice:
            with trio.fail_after(30):
                a_call = alice.dial(uri_of("bob", transport, bob.locals[transport][1]))
                b_call = await bob.accept()
                b_call.ring(early_media=True)
                progress = await a_call.wait_for(pe.CallProgress)
                while progress is not None and not progress.early_media:
                    progress = await a_call.wait_for(pe.CallProgress)
                assert progress is not None and progress.status_code == 183 and a_call.answered is None
                prompt = tone(440.0, RATE, 1.0, level_dbm0=LEVEL)
                async with trio.open_nursery() as nursery:
                    heard: list[np.ndarray] = []

                    async def listen() -> None:
                        heard.append(await hear(a_call, 1.4))

                    nursery.start_soon(listen)
                    assert await b_call.audio.write(prompt) == len(prompt)
                check_tone(heard[0], 440.0, 1.0)  # before the answer
                assert a_call.answered is None
                await b_call.answer()
                await a_call.wait_answered()
                assert a_call.codec == "G722"
                # ---- re-offer with PCMU only: the media follows
                a_call.set_codecs([PCMU])
                await trio.sleep(0.5)
                quality = a_call.quality()
                assert quality is not None and quality.quality.codec == "PCMU"
                at_bob, at_alice = await exchange(a_call, b_call, 0.6)
                check_tone(at_bob, 440.0, 0.6)
                check_tone(at_alice, 1000.0, 0.6)
                # ---- transfer followed by the application
                b_call.transfer(uri_of("carol", transport, carol.locals[transport][1]))
                asked = await a_call.wait_for(pe.TransferRequested)
                assert asked is not None and not asked.auto_follow and a_call.transferred_to is None
                a2 = await a_call.follow_transfer()
                assert a_call.transferred_to is a2 and a2.answered is not None
                c_call = await carol.accept()
                assert c_call.call_id == a2.call_id
                await b_call.hangup()
                await a2.hangup()
                done.append("ok")

    run(scenario)
    assert done == ["ok"]
