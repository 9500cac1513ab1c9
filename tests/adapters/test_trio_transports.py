"""SIP over TCP, TLS, WS and WSS between two of our endpoints on the trio adapter, over real
loopback sockets; TLS verified against a test CA made at run time (the PKI of
test_asyncio_transports.py); a trio endpoint talking to an asyncio one; clean shutdown."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from typing import Any

import pytest
import trio

from rvoip_sansio import Event
from rvoip_sansio.adapters.trio import SipTransports, open_sip_transports
from rvoip_sansio.sip import Request, make_response
from rvoip_sansio.transaction import (
    ConnectionClosed,
    ConnectionOpened,
    Endpoint,
    EndpointConfig,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)

from .test_asyncio_transports import Pki, pki  # noqa: F401  (the module-scoped fixture)
from .test_asyncio_transports import _uri as uri

LOOP = "127.0.0.1"


class Peer:
    """An endpoint with a TU that answers OPTIONS 200 and INVITE 486; trio events to wait on."""

    def __init__(self, seed: int) -> None:
        self.core = Endpoint(local=(LOOP, 0), rng=random.Random(seed), config=EndpointConfig(),
                             report_terminated=True)
        self.events: list[Event] = []
        self.changed = trio.Event()
        self.t: SipTransports | None = None

    def on_event(self, ev: Event, now: float) -> None:
        self.events.append(ev)
        if isinstance(ev, RequestReceived) and ev.transaction is not None and ev.request.method != "ACK":
            code = 486 if ev.request.method == "INVITE" else 200
            self.core.send_response(make_response(ev.request, code, to_tag="rv"), now, transaction=ev.transaction)
        self.changed.set()
        self.changed = trio.Event()

    async def wait(self, pred: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        with trio.fail_after(timeout):
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                await self.changed.wait()

    def request(self, method: str, target: str, cseq: int = 1) -> Any:
        req = Request(method, target, [
            ("From", "<sip:alice@127.0.0.1>;tag=a"), ("To", f"<{target}>"), ("Call-ID", f"{method}-{cseq}@a"),
            ("CSeq", f"{cseq} {method}"), ("Contact", "<sip:alice@127.0.0.1>"),
        ])
        assert self.t is not None
        return self.t.call(lambda now: self.core.send_request(req, now))


def answer_to(key: object) -> Callable[[Event], bool]:
    return lambda ev: isinstance(ev, (ResponseReceived, TransportError, TransactionTimeout)) and ev.transaction == key


def listen_spec(transport: str, pki: Pki) -> dict[str, Any]:
    return {transport: ((LOOP, 0), pki.good) if transport in ("TLS", "WSS") else (LOOP, 0)}


@pytest.mark.parametrize("transport", ["TCP", "TLS", "WS", "WSS"])
def test_options_and_invite_486(transport: str, pki: Pki) -> None:  # noqa: F811
    a, b = Peer(1), Peer(2)

    async def main() -> None:
        async with open_sip_transports(b.core, listen_spec(transport, pki), on_event=b.on_event) as bt, \
                open_sip_transports(a.core, listen_spec(transport, pki), on_event=a.on_event,
                                    client_ssl=pki.client()) as at:
            a.t, b.t = at, bt
            port = bt.locals[transport][1]
            ev = await a.wait(answer_to(a.request("OPTIONS", uri(transport, port))))
            assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200
            key = a.request("INVITE", uri(transport, port), 2)
            ev = await a.wait(answer_to(key))
            assert isinstance(ev, ResponseReceived) and ev.response.status_code == 486
            # The ACK goes on the same connection and ends b's INVITE transaction (Timer I is
            # zero on a reliable transport).
            await b.wait(lambda e: isinstance(e, TransactionTerminated) and e.transaction[0] == "S"
                         and e.transaction[-1] == "INVITE")
            assert b.core.live_transactions == 0
            assert len([e for e in a.events if isinstance(e, ConnectionOpened)]) == 1  # one connection
            assert b.core.stats.requests == 3 and b.core.stats.sent == 2  # no retransmissions
        assert a.core.connection_count == 0 and b.core.connection_count == 0
        assert [e.request.method for e in b.events if isinstance(e, RequestReceived)] == ["OPTIONS", "INVITE"]

    trio.run(main)


@pytest.mark.parametrize("case", ["wrong hostname", "untrusted CA"])
def test_tls_verification_rejects(case: str, pki: Pki) -> None:  # noqa: F811
    a, b = Peer(1), Peer(2)

    async def main() -> None:
        server = pki.wrong_name if case == "wrong hostname" else pki.good
        async with open_sip_transports(b.core, {"TLS": ((LOOP, 0), server)}, on_event=b.on_event) as bt, \
                open_sip_transports(a.core, {"TLS": ((LOOP, 0), pki.good)}, on_event=a.on_event,
                                    client_ssl=pki.client(trust_other=case == "untrusted CA")) as at:
            a.t = at
            ev = await a.wait(answer_to(a.request("OPTIONS", uri("TLS", bt.locals["TLS"][1]))))
            assert isinstance(ev, TransportError)  # the handshake failed: nothing sent in clear
            assert not [e for e in b.events if isinstance(e, RequestReceived)]

    trio.run(main)


def test_trio_and_asyncio_endpoints_talk_over_tcp() -> None:
    # b on the asyncio adapter (in a thread), a on trio: the same core, two loops.
    import asyncio
    import threading

    from rvoip_sansio.adapters.asyncio import open_sip_transports as open_asyncio

    b = Endpoint(local=(LOOP, 0), rng=random.Random(2), config=EndpointConfig())
    ready, stop = threading.Event(), threading.Event()
    bound: list[tuple[str, int]] = []

    def answer(ev: Event, now: float) -> None:
        if isinstance(ev, RequestReceived) and ev.transaction is not None:
            b.send_response(make_response(ev.request, 200, to_tag="rv"), now, transaction=ev.transaction)

    async def asyncio_side() -> None:
        t = await open_asyncio(b, {"TCP": (LOOP, 0)}, on_event=answer)
        bound.append(t.locals["TCP"])
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.01)
        await t.close()

    thread = threading.Thread(target=asyncio.run, args=(asyncio_side(),))
    thread.start()
    a = Peer(1)
    try:
        assert ready.wait(5)

        async def main() -> None:
            async with open_sip_transports(a.core, {"TCP": (LOOP, 0)}, on_event=a.on_event) as at:
                a.t = at
                ev = await a.wait(answer_to(a.request("OPTIONS", uri("TCP", bound[0][1]))))
                assert isinstance(ev, ResponseReceived) and ev.response.status_code == 200

        trio.run(main)
    finally:
        stop.set()
        thread.join()


def test_close_frees_every_port(pki: Pki) -> None:  # noqa: F811
    a, b = Peer(1), Peer(2)
    bound: dict[str, tuple[str, int]] = {}

    async def main() -> None:
        async with open_sip_transports(a.core, {"UDP": (LOOP, 0), "TCP": (LOOP, 0)}, on_event=a.on_event) as at:
            a.t = at
            a.core.local = at.locals["UDP"]
            async with open_sip_transports(b.core, {"UDP": (LOOP, 0), "TCP": (LOOP, 0), "TLS": ((LOOP, 0), pki.good),
                                                    "WS": (LOOP, 0)}, on_event=b.on_event) as bt:
                bound.update(bt.locals)
                ev = await a.wait(answer_to(a.request("OPTIONS", uri("TCP", bt.locals["TCP"][1]))))
                assert isinstance(ev, ResponseReceived)
                # The same endpoints over UDP at the same time: the datagram path is untouched.
                ev = await a.wait(answer_to(a.request("OPTIONS", f"sip:bob@{LOOP}:{bt.locals['UDP'][1]}", 2)))
                assert isinstance(ev, ResponseReceived)
            # b left its block with a's connection still open: a sees it closed.
            await a.wait(lambda e: isinstance(e, ConnectionClosed))

    trio.run(main)
    for name, addr in bound.items():
        kind = socket.SOCK_DGRAM if name == "UDP" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as any server would
            s.bind(addr)  # raises if anything still holds the port


def test_cancellation_closes_connections_and_listeners(pki: Pki) -> None:  # noqa: F811
    a, b = Peer(1), Peer(2)
    bound: dict[str, tuple[str, int]] = {}

    async def main() -> None:
        with trio.CancelScope() as scope:
            async with open_sip_transports(b.core, {"TCP": (LOOP, 0)}, on_event=b.on_event) as bt, \
                    open_sip_transports(a.core, {"TCP": (LOOP, 0)}, on_event=a.on_event) as at:
                a.t = at
                bound.update(bt.locals)
                ev = await a.wait(answer_to(a.request("OPTIONS", uri("TCP", bt.locals["TCP"][1]))))
                assert isinstance(ev, ResponseReceived)
                scope.cancel()
                await trio.sleep_forever()
        assert scope.cancelled_caught

    trio.run(main)
    assert a.core.connection_count == 0 and b.core.connection_count == 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(bound["TCP"])


@pytest.mark.interop
def test_sipp_options_over_tcp() -> None:
    import asyncio

    from tests.conftest import require_program
    from tests.interop._sipp import run_sipp

    sipp = require_program("sipp")
    b = Peer(2)

    async def main() -> Any:
        async with open_sip_transports(b.core, {"TCP": (LOOP, 0)}, on_event=b.on_event) as bt:
            job = run_sipp(sipp, bt.locals["TCP"], scenario="options_uac.xml", calls=150, rate=150,
                           timeout=10, extra=("-t", "t1"))
            return await trio.to_thread.run_sync(asyncio.run, job)

    result = trio.run(main)
    assert (result.returncode, result.successful, result.failed) == (0, 150, 0), result.stdout
    assert [e.request.method for e in b.events if isinstance(e, RequestReceived)] == ["OPTIONS"] * 150
    assert b.core.stats.retransmissions_absorbed == 0 and b.core.stats.sent == 150
    assert len([e for e in b.events if isinstance(e, ConnectionOpened)]) == 1  # SIPp -t t1: one connection


def test_keepalive_timeout_runs_on_trios_clock() -> None:
    """RFC 5626 §4.4.1 with realistic timers under trio's MockClock: a peer that accepts but
    never answers our CRLF ping loses the connection exactly keepalive_interval +
    keepalive_timeout (20 s + 10 s of mock time, before Timer F's 32 s) after the last
    traffic, at no real cost."""
    import trio.testing

    received: list[bytes] = []
    a = Peer(1)
    a.core = Endpoint(local=(LOOP, 0), rng=random.Random(1),
                      config=EndpointConfig(keepalive_interval=20.0, keepalive_timeout=10.0))

    async def silent(stream: trio.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                received.append(bytes(data))

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(trio.serve_tcp, silent, 0)
            port = listeners[0].socket.getsockname()[1]
            async with open_sip_transports(a.core, {"TCP": (LOOP, 0)}, on_event=a.on_event) as at:
                a.t = at
                started = trio.current_time()
                ev = await a.wait(answer_to(a.request("OPTIONS", uri("TCP", port))), timeout=60)
                assert isinstance(ev, TransportError)
                elapsed = trio.current_time() - started
            nursery.cancel_scope.cancel()
        return elapsed

    # autojump only after 50 ms of real idleness, so loopback I/O in flight is never skipped
    elapsed = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0.05))
    assert elapsed == pytest.approx(30.0)
    assert [e.reason for e in a.events if isinstance(e, ConnectionClosed)] == ["no keep-alive pong (RFC 5626 §4.4.1)"]
    assert b"".join(received).endswith(b"\r\n\r\n")  # the OPTIONS, then the ping
