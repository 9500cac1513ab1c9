"""Two UserAgents on real TCP and TLS sockets (127.0.0.1) through open_sip_transports: a
REGISTER challenged with digest, then a call (INVITE, 200, ACK, BYE), hung up by either side.
TLS certificates come from a test CA made at run time; verification stays on both ways."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from pathlib import Path

import pytest

from rvoip_sansio import Address, Event
from rvoip_sansio.adapters.asyncio import SipTransports, open_sip_transports
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, CallState, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip.auth import (Algorithm, Credentials, DigestServer, DigestServerConfig,
                                   InMemoryCredentialStore)
from rvoip_sansio.transaction import ConnectionOpened, EndpointConfig
from tests.adapters.test_asyncio_transports import Pki

LOOP = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("ua-tls")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOP, 0))
        return int(s.getsockname()[1])


class Agent:
    """A UserAgent on SipTransports; answers calls, records events, wakes waiters."""

    def __init__(self, user: str, seed: int, transport: str, **kw: object) -> None:
        self.local: Address = (LOOP, _free_port())
        media = LocalCapabilities(address=LOOP, media=(MediaCapabilities(codecs=(PCMU,), port=40000 + seed),))
        config = UAConfig(local=self.local, user=user, media=media,  # type: ignore[arg-type]
                          endpoint=EndpointConfig(transport=transport), **kw)
        self.ua = UserAgent(config=config, rng=random.Random(seed))
        self.transport = transport
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.t: SipTransports | None = None

    def on_event(self, ev: Event, now: float) -> None:
        self.events.append(ev)
        if isinstance(ev, IncomingCall):
            ev.call.answer(now)
        self.changed.set()

    async def start(self, pki: Pki) -> None:
        spec = (self.local, pki.good) if self.transport == "TLS" else self.local
        self.t = await open_sip_transports(self.ua, {self.transport: spec}, on_event=self.on_event,
                                           client_ssl=pki.client())

    async def until(self, done: object, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not done():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def _digest() -> DigestServer:
    store = InMemoryCredentialStore()
    store.add("alice", "example.com", "s3cret")
    return DigestServer(config=DigestServerConfig(realm="example.com", algorithms=(Algorithm.SHA_256,)),
                        secret=b"0123456789abcdef0123", store=store, rng=random.Random(5))


@pytest.mark.parametrize("hangup", ["caller", "callee"])
@pytest.mark.parametrize("transport", ["TCP", "TLS"])
def test_register_and_call(transport: str, hangup: str, pki: Pki) -> None:
    async def main() -> None:
        alice = Agent("alice", 1, transport, credentials=(Credentials(username="alice", password="s3cret"),))
        bob = Agent("bob", 2, transport)
        registrar = Registrar(auth=_digest())
        bob.ua.serve("REGISTER", registrar)
        await bob.start(pki)
        await alice.start(pki)
        assert alice.t is not None and bob.t is not None
        try:
            param = f";transport={transport.lower()}"
            alice.t.call(lambda now: alice.ua.register(f"sip:{LOOP}:{bob.local[1]}{param}", now, expires=300))
            await alice.until(lambda: alice.of(RegistrationChanged))
            reg = alice.of(RegistrationChanged)
            assert [(e.state, e.expires) for e in reg] == [(RegistrationState.REGISTERED, 300)]
            # The binding names Alice's listener and transport (not the connection's port).
            bindings = registrar.lookup(f"sip:alice@{LOOP}", 0.0)
            assert [b.contact for b in bindings] == [f"sip:alice@{LOOP}:{alice.local[1]}{param}"]

            calls: list[Call] = []
            alice.t.call(lambda now: calls.append(alice.ua.invite(f"sip:bob@{LOOP}:{bob.local[1]}{param}", now)))
            await alice.until(lambda: alice.of(CallAnswered))
            incoming = bob.of(IncomingCall)
            assert len(incoming) == 1 and incoming[0].offer is not None
            assert incoming[0].offer.media[0].port == 40001  # Alice's offer, parsed
            callee = incoming[0].call
            await bob.until(lambda: callee.state is CallState.CONFIRMED)  # the ACK came, over the stream
            if hangup == "caller":
                alice.t.call(lambda now: calls[0].hangup(now))
            else:
                bob.t.call(lambda now: callee.hangup(now))
            await alice.until(lambda: alice.of(CallEnded))
            await bob.until(lambda: bob.of(CallEnded))
            assert alice.of(CallEnded)[0].call_id == bob.of(CallEnded)[0].call_id == calls[0].call_id
            # Everything went over the one connection Alice opened to Bob (REGISTER, INVITE,
            # ACK, BYE): Bob's BYE too reuses it (her Contact's host is its peer and her
            # INVITE came straight from her: docs/transports.md, "Flows"); he opens none.
            opened = [e for e in alice.of(ConnectionOpened) if e.outbound]
            assert [(e.transport, e.peer) for e in opened] == [(transport, bob.local)]
            assert [e for e in bob.of(ConnectionOpened) if e.outbound] == []
        finally:
            await alice.t.close()
            await bob.t.close()

    asyncio.run(asyncio.wait_for(main(), 15.0))


def test_tls_client_context_is_verifying(pki: Pki) -> None:
    # The contexts used above verify the peer (CERT_REQUIRED, hostname checked).
    ctx = pki.client()
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
