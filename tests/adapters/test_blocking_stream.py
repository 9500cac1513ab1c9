"""The blocking SIP transports (TCP, TLS, WS, WSS on a selector) on real loopback sockets:
OPTIONS 200 and INVITE 486 (ACK absorbed) between two of our endpoints, one connection, no
retransmissions; TLS verification rejects a wrong name and an untrusted CA; a blocking
endpoint talks to an asyncio one; closing frees every port; both driving modes."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rvoip_sansio import Event
from rvoip_sansio.adapters.asyncio import open_sip_transports as open_asyncio_transports
from rvoip_sansio.adapters.blocking import SipTransports, open_sip_transports
from rvoip_sansio.dialog import RegistrationChanged, RegistrationState, UAConfig, UserAgent
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.sip.auth import (Algorithm, Credentials, DigestServer, DigestServerConfig,
                                   InMemoryCredentialStore)
from rvoip_sansio.transaction import (ConnectionClosed, ConnectionOpened, Endpoint, EndpointConfig,
                                      RequestReceived, ResponseReceived, TransactionKey, TransactionTimeout,
                                      TransportError)
from tests.adapters.test_asyncio_transports import Pki

LOOP = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("blocking-tls")))


def answerer(core: Endpoint, seen: list[Event]) -> Callable[[Event, float], None]:
    def on_event(ev: Event, now: float) -> None:
        seen.append(ev)
        if isinstance(ev, RequestReceived) and ev.transaction is not None and ev.request.method != "ACK":
            code = 486 if ev.request.method == "INVITE" else 200
            core.send_response(make_response(ev.request, code, to_tag="rv"), now, transaction=ev.transaction)
    return on_event


def request(method: str, uri: str, cseq: int = 1) -> Request:
    return Request(method, uri, [
        ("From", "<sip:alice@127.0.0.1>;tag=a"), ("To", f"<{uri}>"), ("Call-ID", f"{method}-{cseq}@a"),
        ("CSeq", f"{cseq} {method}"), ("Contact", "<sip:alice@127.0.0.1>"),
    ])


def uri(transport: str, port: int) -> str:
    return {
        "TCP": f"sip:bob@{LOOP}:{port};transport=tcp",
        "TLS": f"sips:bob@{LOOP}:{port}",
        "WS": f"sip:bob@{LOOP}:{port};transport=ws",
        "WSS": f"sips:bob@{LOOP}:{port};transport=ws",
    }[transport]


def answer_to(t: SipTransports, key: TransactionKey, timeout: float = 5.0) -> Event:
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        ev = t.next_event(left)
        if isinstance(ev, (ResponseReceived, TransportError, TransactionTimeout)) and ev.transaction == key:
            return ev
    raise AssertionError("no answer")


def rebinds(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOP, port))
    return True


def no_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name == "rvoip-sip"]


@pytest.mark.parametrize("background", [True, False], ids=["thread", "caller"])
@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS", "WSS"])
def test_options_and_invite_486(transport: str, background: bool, pki: Pki) -> None:
    secure = transport in ("TLS", "WSS")
    spec = {transport: ((LOOP, 0), pki.good) if secure else (LOOP, 0)}
    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
    b_seen: list[Event] = []
    with open_sip_transports(b, spec, on_event=answerer(b, b_seen)) as bt, \
            open_sip_transports(a, spec, background=background, client_ssl=pki.client()) as at:
        port = bt.locals[transport][1]
        key = at.call(lambda now: a.send_request(request("OPTIONS", uri(transport, port)), now))
        ev = answer_to(at, key)
        assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200
        key = at.call(lambda now: a.send_request(request("INVITE", uri(transport, port), 2), now))
        ev = answer_to(at, key)
        assert isinstance(ev, ResponseReceived) and ev.response.status_code == 486
        end = time.monotonic() + 5
        while b.live_transactions and time.monotonic() < end:  # the ACK ends b's transaction
            (at.poll if not background else time.sleep)(0.01)
        assert b.live_transactions == 0 and a.live_transactions == 0  # Timers K/I zero on a stream
        assert [e.request.method for e in b_seen if isinstance(e, RequestReceived)] == ["OPTIONS", "INVITE"]
        assert len([e for e in b_seen if isinstance(e, ConnectionOpened)]) == 1  # one connection
        assert b.stats.requests == 3 and b.stats.sent == 2  # no retransmissions
        ports = [bt.locals[transport][1], at.locals[transport][1]]
    assert a.connection_count == 0 and b.connection_count == 0
    assert all(rebinds(socket.SOCK_STREAM, p) for p in ports)
    assert no_threads()


@pytest.mark.parametrize("case", ["wrong hostname", "untrusted CA"])
def test_tls_verification_rejects(case: str, pki: Pki) -> None:
    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
    b_seen: list[Event] = []
    server_ctx = pki.wrong_name if case == "wrong hostname" else pki.good
    with open_sip_transports(b, {"TLS": ((LOOP, 0), server_ctx)}, on_event=answerer(b, b_seen)) as bt, \
            open_sip_transports(a, {"TLS": ((LOOP, 0), pki.good)},
                                client_ssl=pki.client(trust_other=case == "untrusted CA")) as at:
        key = at.call(lambda now: a.send_request(request("OPTIONS", uri("TLS", bt.locals["TLS"][1])), now))
        ev = answer_to(at, key)
        assert isinstance(ev, TransportError)
    assert not [e for e in b_seen if isinstance(e, RequestReceived)]


def test_default_context_rejects_the_test_ca(pki: Pki) -> None:
    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
    with open_sip_transports(b, {"TLS": ((LOOP, 0), pki.good)}, on_event=answerer(b, [])) as bt, \
            open_sip_transports(a, {"TLS": ((LOOP, 0), pki.good)}) as at:  # system CAs only
        key = at.call(lambda now: a.send_request(request("OPTIONS", uri("TLS", bt.locals["TLS"][1])), now))
        assert isinstance(answer_to(at, key), TransportError)


def test_blocking_client_asyncio_server_over_ws() -> None:
    """The blocking adapter against the asyncio one (WebSocket handshake and framing by the
    same core, sockets by two different adapters)."""
    ready = threading.Event()
    stop = threading.Event()
    port: list[int] = []

    def server() -> None:
        async def main() -> None:
            b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
            t = await open_asyncio_transports(b, {"WS": (LOOP, 0)}, on_event=answerer(b, []))
            port.append(t.locals["WS"][1])
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)
            await t.close()
        asyncio.run(main())

    thread = threading.Thread(target=server)
    thread.start()
    try:
        assert ready.wait(5)
        a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
        with open_sip_transports(a, {"WS": (LOOP, 0)}, background=False) as at:
            key = at.call(lambda now: a.send_request(request("OPTIONS", uri("WS", port[0])), now))
            ev = answer_to(at, key)
            assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200
    finally:
        stop.set()
        thread.join(5)


def test_peer_close_is_reported_and_udp_alongside(pki: Pki) -> None:
    """UDP and TCP on one blocking transports object; the server closing its side (leaving
    its block) reaches the client core as ConnectionClosed."""
    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
    with open_sip_transports(a, {"UDP": (LOOP, 0), "TCP": (LOOP, 0)}) as at:
        with open_sip_transports(b, {"UDP": (LOOP, 0), "TCP": (LOOP, 0)}, on_event=answerer(b, [])) as bt:
            for transport, target in (("UDP", f"sip:bob@{LOOP}:{bt.locals['UDP'][1]}"),
                                      ("TCP", uri("TCP", bt.locals["TCP"][1]))):
                key = at.call(lambda now: a.send_request(request("OPTIONS", target, 3), now))
                ev = answer_to(at, key)
                assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200, transport
            udp_port = bt.locals["UDP"][1]
        end = time.monotonic() + 5
        closed: list[ConnectionClosed] = []
        while not closed and time.monotonic() < end:
            ev = at.next_event(end - time.monotonic())
            if isinstance(ev, ConnectionClosed):
                closed.append(ev)
        assert closed and closed[0].transport == "TCP"
    assert rebinds(socket.SOCK_DGRAM, udp_port)


def test_connect_refused_is_transport_error() -> None:
    with socket.socket() as s:
        s.bind((LOOP, 0))
        dead = s.getsockname()[1]  # bound, not listening: connections are refused
        a = Endpoint(local=(LOOP, 0), rng=random.Random(1), config=EndpointConfig())
        with open_sip_transports(a, {"TCP": (LOOP, 0)}, background=False) as at:
            key = at.call(lambda now: a.send_request(request("OPTIONS", uri("TCP", dead)), now))
            assert isinstance(answer_to(at, key), TransportError)



# ---- a UserAgent and a registrar (rvoip_sansio.server) on the blocking transports ----------

def registrar_ua(transport: str, pki: Pki, store_users: dict[str, str]) -> tuple[UserAgent, Registrar, dict]:  # type: ignore[type-arg]
    """A registrar UA (digest SHA-256 against ``store_users``) and its listen spec."""
    store = InMemoryCredentialStore()
    for user, password in store_users.items():
        store.add(user, "example.com", password)
    auth = DigestServer(config=DigestServerConfig(realm="example.com", algorithms=(Algorithm.SHA_256,)),
                        secret=b"0123456789abcdef0123", store=store, rng=random.Random(5))
    registrar = Registrar(auth=auth)
    local = (LOOP, free_port(transport))
    ua = UserAgent(config=UAConfig(local=local, user="registrar", media=None,
                                   endpoint=EndpointConfig(transport=transport)), rng=random.Random(7))
    ua.serve("REGISTER", registrar)
    spec = {transport: (local, pki.good) if transport in ("TLS", "WSS") else local}
    return ua, registrar, spec


def free_port(transport: str) -> int:
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOP, 0))
        return int(s.getsockname()[1])


def registrar_uri(transport: str, port: int) -> str:
    return {"UDP": f"sip:{LOOP}:{port}", "TCP": f"sip:{LOOP}:{port};transport=tcp",
            "TLS": f"sips:{LOOP}:{port}", "WS": f"sip:{LOOP}:{port};transport=ws",
            "WSS": f"sips:{LOOP}:{port};transport=ws"}[transport]


@pytest.mark.parametrize("transport", ["UDP", "TCP", "TLS", "WS", "WSS"])
def test_user_agent_registers_with_digest(transport: str, pki: Pki) -> None:
    """Digest REGISTER (401, then 200) and un-REGISTER between two UserAgents on blocking
    transports; the registrar's binding names Alice's listener and transport."""
    server, registrar, spec = registrar_ua(transport, pki, {"alice": "s3cret"})
    local = (LOOP, free_port(transport))
    alice = UserAgent(config=UAConfig(local=local, user="alice", endpoint=EndpointConfig(transport=transport),
                                      credentials=(Credentials(username="alice", password="s3cret"),)),
                      rng=random.Random(8))
    mine = {transport: (local, pki.good) if transport in ("TLS", "WSS") else local}
    with open_sip_transports(server, spec), \
            open_sip_transports(alice, mine, background=False, client_ssl=pki.client()) as at:
        target = registrar_uri(transport, spec[transport][0][1] if transport in ("TLS", "WSS") else spec[transport][1])
        reg = at.call(lambda now: alice.register(target, now, expires=300))
        ev = at.next_event(5)
        while ev is not None and not isinstance(ev, RegistrationChanged):
            ev = at.next_event(5)
        assert isinstance(ev, RegistrationChanged) and ev.state is RegistrationState.REGISTERED
        bindings = registrar.lookup(f"sip:alice@{LOOP}", time.monotonic())
        assert len(bindings) == 1 and f":{local[1]}" in bindings[0].contact
        at.call(lambda now: reg.unregister(now))
        ev = at.next_event(5)
        while ev is not None and not isinstance(ev, RegistrationChanged):
            ev = at.next_event(5)
        assert isinstance(ev, RegistrationChanged) and ev.state is RegistrationState.UNREGISTERED
        assert registrar.lookup(f"sip:alice@{LOOP}", time.monotonic()) == []


@pytest.mark.interop
@pytest.mark.parametrize("background", [True, False], ids=["thread", "caller"])
def test_sipp_options_over_tcp(background: bool) -> None:
    """SIPp 3.6's UAC sends 150 OPTIONS over one TCP connection to a blocking endpoint."""
    import asyncio

    from tests.conftest import require_program
    from tests.interop._sipp import run_sipp

    sipp = require_program("sipp")
    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    seen: list[Event] = []
    with open_sip_transports(b, {"TCP": (LOOP, 0)}, on_event=answerer(b, seen), background=background) as bt:
        job = run_sipp(sipp, bt.locals["TCP"], scenario="options_uac.xml", calls=150, rate=150,
                       timeout=10, extra=("-t", "t1"))
        if background:
            result = asyncio.run(job)
        else:  # the caller drives the endpoint while SIPp runs in another thread
            out: list[object] = []
            runner = threading.Thread(target=lambda: out.append(asyncio.run(job)))
            runner.start()
            while runner.is_alive():
                bt.poll(0.05)
            result = out[0]  # type: ignore[assignment]
    assert (result.returncode, result.successful, result.failed) == (0, 150, 0), result.stdout
    assert [e.request.method for e in seen if isinstance(e, RequestReceived)] == ["OPTIONS"] * 150
    assert b.stats.retransmissions_absorbed == 0 and b.stats.sent == 150
    assert len([e for e in seen if isinstance(e, ConnectionOpened)]) == 1  # SIPp -t t1: one connection
