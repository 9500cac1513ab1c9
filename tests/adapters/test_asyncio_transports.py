"""SIP over TCP, TLS, WS and WSS between two of our endpoints on real loopback sockets
(asyncio adapter), TLS with a test CA made at run time (verification on), SIPp over TCP,
and clean shutdown (the ports can be bound again)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rvoip_sansio import Event
from rvoip_sansio.adapters.asyncio import SipTransports, open_sip_transports
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.transaction import (
    ConnectionClosed,
    ConnectionOpened,
    Endpoint,
    EndpointConfig,
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
    TransportError,
)
from tests.conftest import require_program

LOOP = "127.0.0.1"
T = TypeVar("T")


# ---- a test CA and server certificates, made at run time ---------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool, sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """Two CAs; server certificates for 127.0.0.1/localhost and for another name."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ca = self._ca("rvoip test CA")
        self.other_ca = self._ca("some other CA")
        self.good = self._server("good", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOP))])
        self.wrong_name = self._server("wrong", [x509.DNSName("sip.example.org")])

    def _write(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def _ca(self, cn: str) -> tuple[ec.EllipticCurvePrivateKey, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(cn, key, cn, key, ca=True)
        return key, self._write(f"{cn}.pem".replace(" ", "_"), cert.public_bytes(serialization.Encoding.PEM))

    def _server(self, stem: str, sans: list[x509.GeneralName]) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(f"{stem} sip server", key, "rvoip test CA", self.ca[0], ca=False, sans=sans)
        cert_path = self._write(f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM))
        key_path = self._write(f"{stem}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def client(self, *, trust_other: bool = False) -> ssl.SSLContext:
        # Verification stays ON (create_default_context: CERT_REQUIRED, hostname checked).
        return ssl.create_default_context(cafile=str((self.other_ca if trust_other else self.ca)[1]))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("tls"))


# ---- two endpoints ------------------------------------------------------------------------

class Peer:
    """An endpoint on SipTransports with a TU that answers OPTIONS 200 and INVITE 486."""

    def __init__(self, seed: int) -> None:
        self.core = Endpoint(local=(LOOP, 0), rng=random.Random(seed), config=EndpointConfig())
        self.events: list[Event] = []
        self.waiters: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = []
        self.t: SipTransports | None = None

    def on_event(self, ev: Event, now: float) -> None:
        self.events.append(ev)
        if isinstance(ev, RequestReceived) and ev.transaction is not None and ev.request.method != "ACK":
            code = 486 if ev.request.method == "INVITE" else 200
            self.core.send_response(make_response(ev.request, code, to_tag="rv"), now, transaction=ev.transaction)
        for pred, fut in list(self.waiters):
            if not fut.done() and pred(ev):
                fut.set_result(ev)

    async def wait(self, pred: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)

    async def start(self, listen: dict[str, Any], client_ssl: ssl.SSLContext | None = None) -> None:
        self.t = await open_sip_transports(self.core, listen, on_event=self.on_event, client_ssl=client_ssl)

    def request(self, method: str, uri: str, cseq: int = 1) -> Any:
        req = Request(method, uri, [
            ("From", "<sip:alice@127.0.0.1>;tag=a"), ("To", f"<{uri}>"), ("Call-ID", f"{method}-{cseq}@a"),
            ("CSeq", f"{cseq} {method}"), ("Contact", "<sip:alice@127.0.0.1>"),
        ])
        assert self.t is not None
        return self.t.call(lambda now: self.core.send_request(req, now))


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(coro(), 15.0))


def _uri(transport: str, port: int) -> str:
    return {
        "TCP": f"sip:bob@{LOOP}:{port};transport=tcp",
        "TLS": f"sips:bob@{LOOP}:{port}",
        "WS": f"sip:bob@{LOOP}:{port};transport=ws",
        "WSS": f"sips:bob@{LOOP}:{port};transport=ws",
    }[transport]


def _is_response(key: object) -> Callable[[Event], bool]:
    return lambda ev: isinstance(ev, (ResponseReceived, TransportError, TransactionTimeout)) and ev.transaction == key


@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS", "WSS"])
def test_options_and_invite_486(transport: str, pki: Pki) -> None:
    async def main() -> None:
        secure = transport in ("TLS", "WSS")
        a, b = Peer(1), Peer(2)
        await b.start({transport: ((LOOP, 0), pki.good) if secure else (LOOP, 0)})
        await a.start({transport: ((LOOP, 0), pki.good) if secure else (LOOP, 0)}, client_ssl=pki.client())
        assert a.t is not None and b.t is not None
        port = b.t.locals[transport][1]
        key = a.request("OPTIONS", _uri(transport, port))
        ev = await a.wait(_is_response(key))
        assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200
        key = a.request("INVITE", _uri(transport, port), 2)
        ev = await a.wait(_is_response(key))
        assert isinstance(ev, ResponseReceived) and ev.response.status_code == 486
        # The ACK (built by the client transaction, sent on the same connection) is
        # absorbed by b's server transaction: wait until b's INVITE transaction is gone.
        for _ in range(100):
            if b.core.live_transactions == 0:
                break
            await asyncio.sleep(0.01)
        assert b.core.live_transactions == 0 and a.core.live_transactions == 0  # Timers K/I zero
        assert [e.request.method for e in b.events if isinstance(e, RequestReceived)] == ["OPTIONS", "INVITE"]
        assert len([e for e in a.events if isinstance(e, ConnectionOpened)]) == 1  # one connection
        assert b.core.stats.requests == 3 and b.core.stats.sent == 2  # no retransmissions
        await a.t.close()
        await b.t.close()
        assert a.core.connection_count == 0 and b.core.connection_count == 0

    run(main)


@pytest.mark.parametrize("case", ["wrong hostname", "untrusted CA"])
def test_tls_verification_rejects(case: str, pki: Pki) -> None:
    async def main() -> None:
        a, b = Peer(1), Peer(2)
        await b.start({"TLS": ((LOOP, 0), pki.wrong_name if case == "wrong hostname" else pki.good)})
        await a.start({"TLS": ((LOOP, 0), pki.good)}, client_ssl=pki.client(trust_other=case == "untrusted CA"))
        assert a.t is not None and b.t is not None
        key = a.request("OPTIONS", _uri("TLS", b.t.locals["TLS"][1]))
        ev = await a.wait(_is_response(key))
        assert isinstance(ev, TransportError)  # the handshake failed: nothing was sent in clear
        assert [e.reason for e in a.events if isinstance(e, ConnectionClosed)] == ["closed by the peer"]
        assert not [e for e in b.events if isinstance(e, RequestReceived)]
        await a.t.close()
        await b.t.close()

    run(main)


def test_default_client_context_verifies(pki: Pki) -> None:
    """Without client_ssl the system CAs are used: our test CA is not among them."""
    async def main() -> None:
        a, b = Peer(1), Peer(2)
        await b.start({"TLS": ((LOOP, 0), pki.good)})
        await a.start({"TCP": (LOOP, 0), "TLS": ((LOOP, 0), pki.good)})
        assert a.t is not None and b.t is not None
        key = a.request("OPTIONS", f"sips:bob@localhost:{b.t.locals['TLS'][1]}")
        assert isinstance(await a.wait(_is_response(key)), TransportError)
        await a.t.close()
        await b.t.close()

    run(main)


def test_close_frees_every_port(pki: Pki) -> None:
    async def main() -> dict[str, tuple[str, int]]:
        a, b = Peer(1), Peer(2)
        await b.start({"UDP": (LOOP, 0), "TCP": (LOOP, 0), "TLS": ((LOOP, 0), pki.good), "WS": (LOOP, 0)})
        await a.start({"UDP": (LOOP, 0), "TCP": (LOOP, 0)})
        assert a.t is not None and b.t is not None
        a.core.local = a.t.locals["UDP"]
        key = a.request("OPTIONS", _uri("TCP", b.t.locals["TCP"][1]))
        assert isinstance(await a.wait(_is_response(key)), ResponseReceived)
        # The same endpoints over UDP at the same time: the datagram path is untouched.
        key = a.request("OPTIONS", f"sip:bob@{LOOP}:{b.t.locals['UDP'][1]}", 2)
        assert isinstance(await a.wait(_is_response(key)), ResponseReceived)
        assert [e.source[1] for e in b.events if isinstance(e, RequestReceived)][1] == a.t.locals["UDP"][1]
        bound = dict(b.t.locals)
        closed = asyncio.ensure_future(a.wait(lambda ev: isinstance(ev, ConnectionClosed)))
        await b.t.close()  # with a's connection still open
        await closed  # a saw b close the connection
        await a.t.close()
        return bound

    bound = run(main)
    for name, addr in bound.items():
        kind = socket.SOCK_DGRAM if name == "UDP" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as any server would
            s.bind(addr)  # raises if anything still holds the port


def test_sipp_options_over_tcp() -> None:
    sipp = require_program("sipp")
    from tests.interop._sipp import run_sipp

    async def main() -> tuple[Any, Peer]:
        b = Peer(2)
        await b.start({"TCP": (LOOP, 0)})
        assert b.t is not None
        result = await run_sipp(sipp, b.t.locals["TCP"], scenario="options_uac.xml", calls=150,
                                rate=150, timeout=10, extra=("-t", "t1"))
        await b.t.close()
        return result, b

    result, b = asyncio.run(main())
    assert (result.returncode, result.successful, result.failed) == (0, 150, 0), result.stdout
    assert [e.request.method for e in b.events if isinstance(e, RequestReceived)] == ["OPTIONS"] * 150
    assert b.core.stats.retransmissions_absorbed == 0 and b.core.stats.sent == 150
    # SIPp -t t1 keeps one connection for every call.
    assert len([e for e in b.events if isinstance(e, ConnectionOpened)]) == 1


def test_keepalive_timeout_closes_a_silent_connection() -> None:
    """RFC 5626 §4.4.1 on real sockets: a peer that accepts but never answers our CRLF ping
    loses the connection after keepalive_timeout; the pending transaction gets TransportError."""
    async def main() -> None:
        received: list[bytes] = []
        peer_closed = asyncio.get_running_loop().create_future()

        class Silent(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                received.append(data)

            def connection_lost(self, exc: Exception | None) -> None:
                if not peer_closed.done():
                    peer_closed.set_result(None)

        server = await asyncio.get_running_loop().create_server(Silent, LOOP, 0)
        port = server.sockets[0].getsockname()[1]
        a = Peer(1)
        a.core = Endpoint(local=(LOOP, 0), rng=random.Random(1),
                          config=EndpointConfig(keepalive_interval=0.2, keepalive_timeout=0.3))
        await a.start({"TCP": (LOOP, 0)})
        assert a.t is not None
        started = asyncio.get_running_loop().time()
        key = a.request("OPTIONS", _uri("TCP", port))
        ev = await a.wait(_is_response(key), timeout=5.0)
        elapsed = asyncio.get_running_loop().time() - started
        assert isinstance(ev, TransportError)
        assert [e.reason for e in a.events if isinstance(e, ConnectionClosed)] == [
            "no keep-alive pong (RFC 5626 §4.4.1)"]
        assert 0.5 <= elapsed < 2.0  # ping at 0.2 s, no pong by 0.5 s
        await asyncio.wait_for(peer_closed, 2.0)  # our side really closed the socket
        assert b"".join(received).endswith(b"\r\n\r\n")  # the OPTIONS, then the ping
        await a.t.close()
        server.close()
        await server.wait_closed()

    run(main)
