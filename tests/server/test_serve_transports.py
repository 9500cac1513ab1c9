"""``rvoip serve`` (a process) with UDP, TCP, TLS and WS listeners on 127.0.0.1; the phones are
our UserAgents on real sockets (``open_sip_transports``). Alice registers over a stream
transport, Bob over UDP, both with digest; a call crosses the B2BUA from one transport to the
other, in both directions, and the server's log has one line per event. TLS uses a test CA
made at run time; verification stays on both ways (serve checks Alice with ``--ca``)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from rvoip_sansio import Address, Event
from rvoip_sansio.adapters.asyncio import SipTransports, open_sip_transports
from rvoip_sansio.adapters.cli import serve
from rvoip_sansio.adapters.cli._common import free_ports
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, CallState, EndReason, IncomingCall,
                                 RegistrationChanged, RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig
from tests.adapters.test_asyncio_transports import Pki

from ._serve import RVOIP, Server

LO = "127.0.0.1"
ACCOUNTS = {"realm": "pbx.test", "users": {"alice": "alice-pw", "bob": "bob-pw"}}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("serve-tls")))


def _tls_args(pki: Pki) -> list[str]:
    return ["--tls", "--cert", str(pki.tmp / "good.crt"), "--key", str(pki.tmp / "good.key"), "--ca", str(pki.ca[1])]


@pytest.fixture
def server(tmp_path: Path, pki: Pki) -> Iterator[Server]:
    srv = Server(tmp_path, ACCOUNTS, *_tls_args(pki))
    try:
        yield srv
    finally:
        srv.stop()


class Phone:
    """A UserAgent on one transport; answers calls when told to; wakes waiters on events."""

    def __init__(self, user: str, seed: int, transport: str) -> None:
        self.local: Address = (LO, free_ports(1)[0])
        media = LocalCapabilities(address=LO, media=(MediaCapabilities(codecs=(PCMU,), port=40000 + seed),))
        config = UAConfig(local=self.local, user=user, media=media, endpoint=EndpointConfig(transport=transport),
                          credentials=(Credentials(username=user, password=f"{user}-pw"),))
        self.ua = UserAgent(config=config, rng=random.Random(seed))
        self.transport = transport
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.answers = True
        self.t: SipTransports | None = None

    def on_event(self, ev: Event, now: float) -> None:
        self.events.append(ev)
        if isinstance(ev, IncomingCall) and self.answers:
            ev.call.answer(now)
        self.changed.set()

    async def start(self, pki: Pki) -> SipTransports:
        spec = (self.local, pki.good) if self.transport == "TLS" else self.local
        self.t = await open_sip_transports(self.ua, {self.transport: spec}, on_event=self.on_event,
                                           client_ssl=pki.client())
        return self.t

    async def until(self, done: Callable[[], object], timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]

    def server_uri(self, srv: Server, user: str = "") -> str:
        at = f"{user}@" if user else ""
        param = "" if self.transport == "UDP" else f";transport={self.transport.lower()}"
        return f"sip:{at}{LO}:{srv.ports[self.transport]}{param}"


async def _register(phone: Phone, srv: Server) -> None:
    assert phone.t is not None
    phone.t.call(lambda now: phone.ua.register(phone.server_uri(srv), now, expires=300))
    await phone.until(lambda: phone.of(RegistrationChanged))
    assert [e.state for e in phone.of(RegistrationChanged)] == [RegistrationState.REGISTERED]


async def _call(caller: Phone, callee: Phone, srv: Server, hangup: Phone) -> str:
    """caller calls callee through the server; ``hangup`` ends it; returns the caller's Call-ID."""
    assert caller.t is not None and callee.t is not None
    calls: list[Call] = []
    user = callee.ua.config.user
    caller.t.call(lambda now: calls.append(caller.ua.invite(caller.server_uri(srv, user), now)))
    await caller.until(lambda: caller.of(CallAnswered))
    incoming = callee.of(IncomingCall)
    assert len(incoming) == 1
    leg_b = incoming[0].call
    await callee.until(lambda: leg_b.state is CallState.CONFIRMED)  # the B2BUA's ACK came
    # and the caller's ACK reached the B2BUA (else a BYE from the callee may overtake it)
    answered = f"call {calls[0].call_id}: answered (caller leg)"
    for _ in range(100):
        if answered in srv.log():
            break
        await asyncio.sleep(0.05)
    # The SDP went through verbatim both ways (no media anchoring).
    assert leg_b.remote_sdp == calls[0].local_sdp and calls[0].remote_sdp == leg_b.local_sdp
    if hangup is caller:
        caller.t.call(lambda now: calls[0].hangup(now))
    else:
        callee.t.call(lambda now: leg_b.hangup(now))
    await caller.until(lambda: caller.of(CallEnded))
    await callee.until(lambda: callee.of(CallEnded))
    other = callee if hangup is caller else caller
    assert [e.reason for e in other.of(CallEnded)] == [EndReason.REMOTE_HANGUP]
    return calls[0].call_id


@contextlib.asynccontextmanager
async def _registered(srv: Server, pki: Pki, *phones: Phone) -> AsyncIterator[None]:
    """The phones on their sockets and registered at ``srv``; sockets closed afterwards."""
    try:
        for p in phones:
            await p.start(pki)
        for p in phones:
            await _register(p, srv)
        yield
    finally:
        for p in phones:
            if p.t is not None:
                await p.t.close()


def _run(scenario: Callable[[], object]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20.0))  # type: ignore[arg-type]


@pytest.mark.parametrize("hangup", ["alice", "bob"])
@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS"])
def test_stream_caller_reaches_udp_callee(server: Server, pki: Pki, transport: str, hangup: str) -> None:
    # Alice calls over TCP, TLS or WS. The B2BUA's answer names its listener for that
    # transport (RFC 3261 §12.1.1 / §18), so her ACK and BYE reach it: TLS and WS listen on
    # ports of their own (before the fix the Contact was the UDP port and those failed).
    async def main() -> None:
        alice, bob = Phone("alice", 1, transport), Phone("bob", 2, "UDP")
        async with _registered(server, pki, alice, bob):
            call_id = await _call(alice, bob, server, alice if hangup == "alice" else bob)
        port = server.ports[transport]
        (answered,) = alice.of(CallAnswered)
        assert answered.response is not None
        assert answered.response.get("contact") == f"<sip:pbx@{LO}:{port};transport={transport.lower()}>"
        leg_b = bob.of(IncomingCall)[0].call_id
        log = server.wait_log(f"call {call_id}: ended", f"call {leg_b}: ended")
        assert f"REGISTER sip:alice@{LO} from {LO}:" in log and f"REGISTER sip:bob@{LO} from {LO}:{bob.local[1]}: registered" in log
        alice_port = int(log.split(f"{transport} connection from {LO}:")[1].split()[0])
        assert (f"call {call_id}: sip:alice@{LO} -> sip:bob@{LO}:{port};transport={transport.lower()} from {LO}:"
                f"{alice_port} ({transport}); leg B {leg_b} to sip:bob@{LO}:{bob.local[1]}") in log, log
        assert f"call {call_id}: answered (caller leg)" in log and f"call {call_id}: ended" in log
        assert f"call {leg_b}: answered (leg to <sip:bob@{LO}:{bob.local[1]}>)" in log

    _run(main)


@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS"])
@pytest.mark.parametrize("flow", ["kept", "closed"])
def test_udp_caller_reaches_stream_registered_callee(server: Server, pki: Pki, transport: str, flow: str) -> None:
    # Bob (UDP) calls Alice, registered over a stream transport. While the connection she
    # registered over lives, the call goes over it (connection reuse: her Contact's host is
    # that connection's peer; docs/transports.md, "Flows"); nothing is opened. When she has
    # closed it, the B2BUA opens a connection to her listener (TLS: checking her certificate
    # against --ca). Bob hangs up.
    async def main() -> None:
        alice, bob = Phone("alice", 3, transport), Phone("bob", 4, "UDP")
        async with _registered(server, pki, alice, bob):
            if flow == "closed":
                assert alice.t is not None
                alice.t.call(alice.ua.close_connections)
                await asyncio.sleep(0.3)  # the loop closes the socket (wait_log blocks it)
                server.wait_log(f"{transport} connection with {LO}:")
            await _call(bob, alice, server, bob)
        opened = f"{transport} connection to {LO}:{alice.local[1]}"
        if flow == "closed":
            server.wait_log(opened)
        else:
            assert opened not in server.log()

    _run(main)


def test_auth_calls_challenges_invites(tmp_path: Path, pki: Pki) -> None:
    srv = Server(tmp_path, ACCOUNTS, *_tls_args(pki), "--auth-calls")

    async def main() -> None:
        alice, bob = Phone("alice", 5, "TCP"), Phone("bob", 6, "UDP")
        async with _registered(srv, pki, alice, bob):
            await _call(alice, bob, srv, alice)   # alice's UA answers the 401 with her credentials
            # A stranger without an account gets no further than the challenge.
            eve = Phone("eve", 7, "UDP")
            await eve.start(pki)
            assert eve.t is not None
            eve.t.call(lambda now: eve.ua.invite(eve.server_uri(srv, "bob"), now))
            await eve.until(lambda: eve.of(CallEnded))
            assert [e.status_code for e in eve.of(CallEnded)] == [401]
            await eve.t.close()
        assert len(bob.of(IncomingCall)) == 1

    try:
        _run(main)
    finally:
        srv.stop()


def test_listener_table_and_bad_tls_options() -> None:
    import argparse
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    table = serve.listeners(parser.parse_args(["--listen", "127.0.0.1:5070", "--tcp", "--ws"]))
    assert table == {"UDP": (LO, 5070), "TCP": (LO, 5070), "WS": (LO, 8080)}
    table = serve.listeners(parser.parse_args(["--listen", "127.0.0.1:5070", "--tcp", "127.0.0.1:5090"]))
    assert table == {"UDP": (LO, 5070), "TCP": (LO, 5090)}
    with pytest.raises(ValueError, match="--tls needs --cert and --key"):
        serve.listeners(parser.parse_args(["--tls"]))
    # From the command line: exit 2 with the reason, before listening anywhere.
    out = subprocess.run([*RVOIP, "serve", "--listen", f"{LO}:0", "--wss"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "--wss needs --cert and --key" in out.stderr
    # A TCP port already taken: exit 2 with the reason, no traceback.
    with socket.socket() as taken:
        taken.bind((LO, 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*RVOIP, "serve", "--listen", f"{LO}:{free_ports(1)[0]}", "--tcp", f"{LO}:{port}"],
                             capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "cannot listen" in out.stderr and "Traceback" not in out.stderr, out.stderr
