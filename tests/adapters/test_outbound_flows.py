"""Clients that accept no connections, on real loopback sockets through ``rvoip serve``:
a WebSocket (WS, WSS) client with a ``.invalid`` Contact (RFC 7118 §5) and a TLS client
without a certificate of its own registering with RFC 5626 ``+sip.instance``/``reg-id``.
Each has no listener (``connect_only``); Bob is a UDP phone. Bob calls the client through the
B2BUA and hangs up, the client calls Bob and Bob hangs up: the INVITE and both BYEs reach the
client over the connection it opened. When the client drops that connection, serve marks
its registration unreachable and Bob's next call is refused 480 (asyncio). The TLS and WSS
clients also run on the trio and blocking adapters; TLS uses a test CA made at run time,
verification on.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from rvoip_sansio import Address, Event
from rvoip_sansio.adapters.cli._common import free_ports
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, EndReason, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import ConnectionOpened, EndpointConfig
from tests.adapters.test_asyncio_transports import Pki
from tests.server._serve import Server

LO = "127.0.0.1"
ACCOUNTS = {"realm": "pbx.test", "users": {"carol": "carol-pw", "bob": "bob-pw"}}
INSTANCE = "urn:uuid:6f1c0e2a-3b7d-4c55-9a10-2d8e4f6b7c91"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("outbound-tls")))


@pytest.fixture
def server(tmp_path: Path, pki: Pki) -> Any:
    wss = free_ports(1)[0]
    srv = Server(tmp_path, ACCOUNTS, "--tls", "--cert", str(pki.tmp / "good.crt"), "--key",
                 str(pki.tmp / "good.key"), "--wss", f"{LO}:{wss}")
    srv.ports["WSS"] = wss
    try:
        yield srv
    finally:
        srv.stop()


class Agent:
    """A UserAgent that records its events and answers calls; ``client`` ones have no
    listener (``(addr, None)``: connect_only)."""

    def __init__(self, user: str, seed: int, transport: str, *, client: bool = False) -> None:
        self.local: Address = (LO, free_ports(1)[0])
        media = LocalCapabilities(address=LO, media=(MediaCapabilities(codecs=(PCMU,), port=41000 + seed),))
        kw: dict[str, Any] = {}
        if transport in ("WS", "WSS"):
            kw["contact_address"] = (f"{user}7q2k.invalid", self.local[1])  # RFC 7118 §5
        elif transport == "TLS":
            kw["instance_id"] = INSTANCE  # RFC 5626
        self.ua = UserAgent(config=UAConfig(local=self.local, user=user, media=media,
                                            endpoint=EndpointConfig(transport=transport),
                                            credentials=(Credentials(username=user, password=f"{user}-pw"),),
                                            **kw), rng=random.Random(seed))
        self.transport = transport
        self.spec: dict[str, Any] = {transport: (self.local, None) if client else self.local}
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def on_event(self, ev: Event, now: float) -> None:
        with self.lock:
            self.events.append(ev)
        if isinstance(ev, IncomingCall):
            ev.call.answer(now)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]

    def target(self, srv: Server, user: str = "") -> str:
        at = f"{user}@" if user else ""
        param = "" if self.transport == "UDP" else f";transport={self.transport.lower()}"
        return f"sip:{at}{LO}:{srv.ports[self.transport]}{param}"


class Steps:
    """The scenario, written once; ``act(agent, fn)`` runs ``fn(now)`` in the agent's loop and
    ``until(cond)`` waits for ``cond()`` (each adapter supplies both)."""

    def __init__(self, srv: Server, client: Agent, bob: Agent) -> None:
        self.srv, self.client, self.bob = srv, client, bob

    def register(self, act: Callable[..., Any]) -> None:
        for a in (self.client, self.bob):
            act(a, lambda now, a=a: a.ua.register(a.target(self.srv), now, expires=300))

    def registered(self) -> bool:
        return all(any(e.state is RegistrationState.REGISTERED for e in a.of(RegistrationChanged))
                   for a in (self.client, self.bob))

    def call(self, act: Callable[..., Any], caller: Agent, callee: Agent) -> list[Call]:
        calls: list[Call] = []
        act(caller, lambda now: calls.append(caller.ua.invite(caller.target(self.srv, callee.ua.config.user), now)))
        return calls

    def answered(self, caller: Agent, n: int) -> Callable[[], bool]:
        return lambda: len(caller.of(CallAnswered)) >= n

    def ended(self, n: int) -> Callable[[], bool]:
        return lambda: len(self.client.of(CallEnded)) >= n and len(self.bob.of(CallEnded)) >= n

    def check_byes(self) -> None:
        # Both calls ended by Bob: the client got the B2BUA's BYE each time, over its own
        # connection (it listens nowhere), and serve opened no connection to it.
        assert [e.reason for e in self.client.of(CallEnded)] == [EndReason.REMOTE_HANGUP] * 2
        assert len(self.client.of(IncomingCall)) == 1
        assert {e.outbound for e in self.client.of(ConnectionOpened)} == {True}
        assert f"{self.client.transport} connection to" not in self.srv.log()


def _hangup_last(agent: Agent) -> Callable[[float], None]:
    def hang(now: float) -> None:
        call = [c for c in agent.ua.calls if c.is_active][-1]
        call.hangup(now)
    return hang


# ---- asyncio --------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["WS", "WSS", "TLS"])
def test_asyncio_client_without_listener_reached_through_serve(server: Server, pki: Pki, transport: str) -> None:
    from rvoip_sansio.adapters.asyncio import open_sip_transports

    client, bob = Agent("carol", 1, transport, client=True), Agent("bob", 2, "UDP")
    steps = Steps(server, client, bob)
    transports: dict[int, Any] = {}

    def act(agent: Agent, fn: Callable[[float], object]) -> None:
        transports[id(agent)].call(fn)

    async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, (client.events, bob.events, server.log())
            await asyncio.sleep(0.02)

    async def main() -> None:
        for a in (client, bob):
            transports[id(a)] = await open_sip_transports(a.ua, a.spec, on_event=a.on_event, client_ssl=pki.client())
        try:
            steps.register(act)
            await until(steps.registered)
            assert "(outbound: calls go over this connection)" in server.log() or transport != "TLS"
            steps.call(act, bob, client)                      # Bob calls the client...
            await until(steps.answered(bob, 1))
            await asyncio.sleep(0.1)                          # (the client's ACK reaches serve)
            act(bob, _hangup_last(bob))                       # ...and hangs up
            await until(steps.ended(1))
            steps.call(act, client, bob)                      # the client calls Bob...
            await until(steps.answered(client, 1))
            await asyncio.sleep(0.1)
            act(bob, _hangup_last(bob))                       # ...and Bob hangs up
            await until(steps.ended(2))
            steps.check_byes()
            # The client drops its connection: its registration is unreachable, calls get 480.
            act(client, client.ua.close_connections)
            await until(lambda: "registration(s) unreachable" in server.log())
            steps.call(act, bob, client)
            await until(lambda: len(bob.of(CallEnded)) == 3)
            assert bob.of(CallEnded)[-1].status_code == 480
        finally:
            for t in transports.values():
                await t.close()

    asyncio.run(asyncio.wait_for(main(), 25.0))


# ---- trio -------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["TLS", "WSS"])
def test_trio_client_without_certificate_gets_bye(server: Server, pki: Pki, transport: str) -> None:
    from rvoip_sansio.adapters.trio import open_sip_transports

    client, bob = Agent("carol", 3, transport, client=True), Agent("bob", 4, "UDP")
    steps = Steps(server, client, bob)
    transports: dict[int, Any] = {}

    def act(agent: Agent, fn: Callable[[float], object]) -> None:
        transports[id(agent)].call(fn)

    async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
        with trio.fail_after(timeout):
            while not cond():
                await trio.sleep(0.02)

    async def main() -> None:
        async with open_sip_transports(client.ua, client.spec, on_event=client.on_event,
                                       client_ssl=pki.client()) as ct, \
                open_sip_transports(bob.ua, bob.spec, on_event=bob.on_event) as bt:
            transports[id(client)], transports[id(bob)] = ct, bt
            steps.register(act)
            await until(steps.registered)
            steps.call(act, bob, client)
            await until(steps.answered(bob, 1))
            await trio.sleep(0.1)
            act(bob, _hangup_last(bob))
            await until(steps.ended(1))
            steps.call(act, client, bob)
            await until(steps.answered(client, 1))
            await trio.sleep(0.1)
            act(bob, _hangup_last(bob))
            await until(steps.ended(2))
            steps.check_byes()

    trio.run(main)


# ---- blocking ---------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["TLS", "WSS"])
def test_blocking_client_without_certificate_gets_bye(server: Server, pki: Pki, transport: str) -> None:
    from rvoip_sansio.adapters.blocking import open_sip_transports

    client, bob = Agent("carol", 5, transport, client=True), Agent("bob", 6, "UDP")
    steps = Steps(server, client, bob)

    def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, (client.events, bob.events, server.log())
            time.sleep(0.02)

    with open_sip_transports(client.ua, client.spec, on_event=client.on_event, client_ssl=pki.client()) as ct, \
            open_sip_transports(bob.ua, bob.spec, on_event=bob.on_event) as bt:
        transports = {id(client): ct, id(bob): bt}

        def act(agent: Agent, fn: Callable[[float], object]) -> None:
            transports[id(agent)].call(fn)

        steps.register(act)
        until(steps.registered)
        steps.call(act, bob, client)
        until(steps.answered(bob, 1))
        time.sleep(0.1)
        act(bob, _hangup_last(bob))
        until(steps.ended(1))
        steps.call(act, client, bob)
        until(steps.answered(client, 1))
        time.sleep(0.1)
        act(bob, _hangup_last(bob))
        until(steps.ended(2))
        steps.check_byes()
