"""Phones that are clients only: a TLS or WSS ``Phone`` without a certificate of its own (no
``server_ssl``/``tls``: no listener, ``connect_only``), on the asyncio, trio and blocking
adapters, through ``rvoip serve`` on real loopback sockets (test CA made at run time,
verification on). Carol, the client-only phone, registers with digest (RFC 5626
``+sip.instance``/``reg-id`` from ``instance_id``; one case without it: plain connection
reuse); Bob, a UDP phone, calls her through serve; she answers; a 440 Hz tone goes to Bob and
1000 Hz back, each measured on arrival (FFT peak, level); Bob hangs up and Carol gets the BYE
over the connection she opened (nothing listens on her port and serve opens no connection to
her); then Carol calls Bob and hangs up herself.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import pytest
import trio

from rvoip_sansio.adapters.cli._common import free_ports
from rvoip_sansio.dialog import EndReason
from rvoip_sansio.media import tone
from rvoip_sansio.sip.auth import Credentials
from tests.adapters import test_asyncio_phone as aio_suite
from tests.adapters import test_blocking_phone as blocking_suite
from tests.adapters import test_trio_phone as trio_suite
from tests.adapters.test_asyncio_transports import Pki
from tests.server._serve import Server

LO = "127.0.0.1"
RATE = 16000
LEVEL = -12.0
ACCOUNTS = {"realm": "pbx.test", "users": {"carol": "carol-pw", "bob": "bob-pw"}}
INSTANCE = "urn:uuid:0b6d3c1e-7a52-4f0e-9d3b-5c8a1e2f4d60"

# (adapter, transport, instance_id set): TLS and WSS on every adapter with RFC 5626, and one
# case of plain connection reuse (no +sip.instance).
CASES = [(a, t, True) for a in ("asyncio", "trio", "blocking") for t in ("TLS", "WSS")] + [("blocking", "TLS", False)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("client-only-tls")))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Server]:
    """One ``rvoip serve`` for the module (every phone unregisters when it closes)."""
    wss = free_ports(1)[0]
    srv = Server(Path(tmp_path_factory.mktemp("client-only-serve")), ACCOUNTS, "--tls", "--cert",
                 str(pki.tmp / "good.crt"), "--key", str(pki.tmp / "good.key"), "--wss", f"{LO}:{wss}")
    srv.ports["WSS"] = wss
    try:
        yield srv
    finally:
        srv.stop()


class Case:
    """What every adapter's scenario shares: URIs, Carol's options, the checks."""

    def __init__(self, srv: Server, pki: Pki, transport: str, outbound: bool) -> None:
        self.srv, self.transport, self.outbound = srv, transport, outbound
        self.log_start = len(srv.log())
        self.carol_kw: dict[str, Any] = {"client_ssl": pki.client(), "auto_answer": True}
        if outbound:
            self.carol_kw["instance_id"] = INSTANCE
        self.carol_local: tuple[str, int] = (LO, free_ports(1)[0])  # Via/Contact only

    def registrar(self, transport: str) -> str:
        param = "" if transport == "UDP" else f";transport={transport.lower()}"
        return f"sip:{LO}:{self.srv.ports[transport]}{param}"

    def target(self, user: str, transport: str) -> str:
        return self.registrar(transport).replace(LO, f"{user}@{LO}", 1)

    @staticmethod
    def creds(user: str) -> Credentials:
        return Credentials(username=user, password=f"{user}-pw")

    def log(self) -> str:
        return self.srv.log()[self.log_start:]

    def wait_log(self, ok: Callable[[str], bool]) -> str:
        """This case's part of serve's log once ``ok`` holds for it (serve logs on its own time)."""
        deadline = time.monotonic() + 5
        while not ok(log := self.log()):
            assert time.monotonic() < deadline, log
            time.sleep(0.02)
        return log

    def check_registered(self) -> None:
        log = self.wait_log(lambda log: all(
            any(f"REGISTER sip:{u}@{LO} from" in line and ": registered" in line for line in log.splitlines())
            for u in ("carol", "bob")))
        assert ("(outbound: calls go over this connection)" in log) is self.outbound, log

    def check_client_only(self, port: int) -> None:
        # Carol listens nowhere (her Via/Contact port refuses connections), and serve saw one
        # connection from her and opened none: her REGISTER, both INVITEs and both BYEs went
        # over the connection she opened.
        with socket.socket() as s:
            s.settimeout(1.0)
            assert s.connect_ex((LO, port)) != 0
        log = self.wait_log(lambda log: log.count("ended, local hangup") == 2)
        assert log.count(f"{self.transport} connection from") == 1, log
        assert "connection to" not in log, log
        assert log.count("answered (caller leg)") == 2, log


# ---- asyncio --------------------------------------------------------------------------------

async def _asyncio(case: Case) -> None:
    from rvoip_sansio.adapters.asyncio import Phone

    t = case.transport
    async with AsyncExitStack() as stack:
        carol = await stack.enter_async_context(
            Phone.open("carol", case.carol_local, transport=t.lower(), rate=RATE, **case.carol_kw))
        bob = await stack.enter_async_context(Phone.open("bob", (LO, 0), rate=RATE, auto_answer=True))
        await carol.register(case.registrar(t), case.creds("carol"))
        await bob.register(case.registrar("UDP"), case.creds("bob"))
        case.check_registered()
        # Bob calls Carol through serve; she answers; audio both ways; Bob hangs up.
        b = await bob.call(case.target("carol", "UDP"))
        c = await carol.accept(5)
        heard_b, heard_c = await aio_suite.exchange(b, c, 1000.0, 440.0, 0.8)
        aio_suite.check_tone(heard_b, 440.0, least=0.4)
        aio_suite.check_tone(heard_c, 1000.0, least=0.4)
        assert await b.hangup()
        assert await c.wait_ended(5) and c.end is not None and c.end.reason is EndReason.REMOTE_HANGUP
        # Carol calls Bob and hangs up herself.
        c2 = await carol.call(case.target("bob", t))
        b2 = await bob.accept(5)
        await b2.wait_answered(5)
        assert await c2.hangup()
        assert await b2.wait_ended(5) and b2.end is not None and b2.end.reason is EndReason.REMOTE_HANGUP
        case.check_client_only(case.carol_local[1])


# ---- trio -----------------------------------------------------------------------------------

async def _trio(case: Case) -> None:
    from rvoip_sansio.adapters.trio import open_phone

    t = case.transport
    with trio.fail_after(20):
        async with open_phone("carol", case.carol_local, transport=t, rate=RATE, **case.carol_kw) as carol, \
                open_phone("bob", (LO, 0), rate=RATE, auto_answer=True) as bob:
            await carol.register(case.registrar(t), case.creds("carol"))
            await bob.register(case.registrar("UDP"), case.creds("bob"))
            case.check_registered()
            b = await bob.call(case.target("carol", "UDP"))
            c = await carol.accept()
            await c.wait_answered()
            heard_c, heard_b = await trio_suite.exchange(b, c, 0.8)  # 440 Hz to Carol, 1000 Hz back
            trio_suite.check_tone(heard_c, 440.0, 0.8)
            trio_suite.check_tone(heard_b, 1000.0, 0.8)
            assert await b.hangup()
            assert await c.wait_ended() and c.end is not None and c.end.reason is EndReason.REMOTE_HANGUP
            c2 = await carol.call(case.target("bob", t))
            b2 = await bob.accept()
            await b2.wait_answered()
            assert await c2.hangup()
            assert await b2.wait_ended() and b2.end is not None and b2.end.reason is EndReason.REMOTE_HANGUP
            case.check_client_only(case.carol_local[1])


# ---- blocking -------------------------------------------------------------------------------

def _blocking(case: Case) -> None:
    from rvoip_sansio.adapters.blocking import open_phone

    t = case.transport
    with ExitStack() as stack:
        carol = stack.enter_context(open_phone("carol", case.carol_local, transport=t.lower(), **case.carol_kw))
        bob = stack.enter_context(open_phone("bob", (LO, 0), auto_answer=True))
        carol.register(case.registrar(t), case.creds("carol"))
        bob.register(case.registrar("UDP"), case.creds("bob"))
        case.check_registered()
        b = bob.call(case.target("carol", "UDP"), timeout=5)
        c = carol.next_call(timeout=5)
        assert c is not None and c.call_id
        assert b.audio.write(tone(440.0, RATE, 0.8, level_dbm0=LEVEL)) == int(0.8 * RATE)
        assert c.audio.write(tone(1000.0, RATE, 0.8, level_dbm0=LEVEL)) == int(0.8 * RATE)
        at_carol, at_bob = blocking_suite.collect([c, b], 1.1)
        trio_suite.check_tone(at_carol, 440.0, 0.8)  # (the loud part: 0.8 s of tone, then silence)
        trio_suite.check_tone(at_bob, 1000.0, 0.8)
        assert b.hangup(timeout=5)
        assert c.wait_ended(timeout=5) and c.end is not None and c.end.reason is EndReason.REMOTE_HANGUP
        c2 = carol.call(case.target("bob", t), timeout=5)
        b2 = bob.next_call(timeout=5)
        assert b2 is not None
        assert c2.hangup(timeout=5)
        assert b2.wait_ended(timeout=5) and b2.end is not None and b2.end.reason is EndReason.REMOTE_HANGUP
        assert carol.local == case.carol_local
        case.check_client_only(case.carol_local[1])


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("adapter", "transport", "outbound"), CASES,
                         ids=[f"{a}-{t}-{'outbound' if o else 'reuse'}" for a, t, o in CASES])
def test_client_only_phone_called_through_serve(server: Server, pki: Pki, adapter: str, transport: str,
                                                outbound: bool) -> None:
    case = Case(server, pki, transport, outbound)
    started = time.monotonic()
    if adapter == "asyncio":
        asyncio.run(asyncio.wait_for(_asyncio(case), 20))
    elif adapter == "trio":
        trio.run(_trio, case)
    else:
        _blocking(case)
    assert time.monotonic() - started < 20
