"""DTLS-SRTP (RFC 5763/5764) between two of our endpoints over an in-memory link in
simulated time: a lost flight is retransmitted, SRTP flows both ways, wrong fingerprints fail."""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from rvoip_sansio import Event
from rvoip_sansio.srtp import (
    DtlsCertificate,
    DtlsConnected,
    DtlsError,
    DtlsFailed,
    DtlsRole,
    DtlsSrtpEndpoint,
    DtlsState,
    Fingerprint,
    SrtpProfile,
    answer_setup,
    dtls_role,
    fingerprint_matches,
)
from tests.conftest import require_module

from ._util import rtcp_sr, rtp

DELAY = 0.025  # one-way link delay, seconds


@pytest.fixture(scope="module")
def certs() -> tuple[DtlsCertificate, DtlsCertificate, DtlsCertificate]:
    require_module("OpenSSL")
    rng = random.Random(99)
    return tuple(DtlsCertificate.generate(rng=rng) for _ in range(3))  # type: ignore[return-value]


class Link:
    """Two endpoints, a delay, and a drop rule deciding per (sender, datagram number)."""

    def __init__(self, a: DtlsSrtpEndpoint, b: DtlsSrtpEndpoint,
                 drop: Callable[[str, int, bytes], bool]) -> None:
        self.ends = {"a": a, "b": b}
        self.peer = {"a": "b", "b": "a"}
        self.drop = drop
        self.sent = {"a": 0, "b": 0}
        self.log: list[tuple[float, str, int, bool]] = []
        self.queue: list[tuple[float, int, str, bytes]] = []
        self.events: dict[str, list[Event]] = {"a": [], "b": []}
        self._n = 0

    def _drain(self, name: str, now: float) -> None:
        ep = self.ends[name]
        for tx in ep.datagrams_to_send(now):
            k = self.sent[name]
            self.sent[name] += 1
            dropped = self.drop(name, k, tx.data)
            self.log.append((now, name, k, dropped))
            if not dropped:
                self._n += 1
                self.queue.append((now + DELAY, self._n, self.peer[name], tx.data))
        while (ev := ep.next_event()) is not None:
            self.events[name].append(ev)

    def run(self, until: float = 120.0) -> float:
        now = 0.0
        for name in self.ends:
            self._drain(name, now)
        while True:
            deadlines = [(d, n) for n, ep in self.ends.items() if (d := ep.next_deadline()) is not None]
            times = [q[0] for q in self.queue] + [d for d, _ in deadlines]
            if not times:
                return now
            now = min(times)
            if now > until:
                return now
            self.queue.sort()
            while self.queue and self.queue[0][0] <= now:
                _, _, dest, data = self.queue.pop(0)
                self.ends[dest].receive(data, now)
                self._drain(dest, now)
            for name, ep in self.ends.items():
                d = ep.next_deadline()
                if d is not None and d <= now:
                    ep.handle_timeout(now)
                    self._drain(name, now)


def _pair(certs: tuple[DtlsCertificate, ...], *, wrong: bool = False,
          profiles: tuple[SrtpProfile, ...] | None = None) -> tuple[DtlsSrtpEndpoint, DtlsSrtpEndpoint]:
    a_cert, b_cert, other = certs
    # SDP: a offers actpass, b answers active (RFC 5763 §5) → b is the DTLS client.
    b_setup = answer_setup("actpass")
    kw: dict[str, Any] = {} if profiles is None else {"profiles": profiles}
    a = DtlsSrtpEndpoint(role=dtls_role("actpass", b_setup), certificate=a_cert,
                         remote_fingerprints=[(other if wrong else b_cert).fingerprint()], **kw)
    b = DtlsSrtpEndpoint(role=dtls_role(b_setup, "actpass"), certificate=b_cert,
                         remote_fingerprints=[a_cert.fingerprint()], **kw)
    assert (a.role, b.role) == (DtlsRole.SERVER, DtlsRole.CLIENT)
    a.start(0.0)
    b.start(0.0)
    return a, b


def _media_flows(a: DtlsSrtpEndpoint, b: DtlsSrtpEndpoint) -> None:
    a_tx, a_rx = a.srtp_sessions()
    b_tx, b_rx = b.srtp_sessions()
    for seq in range(50):
        assert b_rx.unprotect(a_tx.protect(rtp(seq, ssrc=1))) == rtp(seq, ssrc=1)
        assert a_rx.unprotect(b_tx.protect(rtp(seq, ssrc=2))) == rtp(seq, ssrc=2)
    assert b_rx.unprotect_rtcp(a_tx.protect_rtcp(rtcp_sr(1))) == rtcp_sr(1)
    # Directions have different keys (RFC 5764 §4.2): a's tx key is not a's rx key.
    assert a.result is not None and a.result.tx_policy != a.result.rx_policy


def test_clean_handshake_then_srtp_both_ways(certs: tuple[DtlsCertificate, ...]) -> None:
    a, b = _pair(certs)
    link = Link(a, b, lambda name, k, data: False)
    end = link.run()
    assert a.state is b.state is DtlsState.CONNECTED
    (ev_a,), (ev_b,) = link.events["a"], link.events["b"]
    assert isinstance(ev_a, DtlsConnected) and isinstance(ev_b, DtlsConnected)
    assert ev_a.profile is ev_b.profile is SrtpProfile.AEAD_AES_256_GCM
    assert ev_a.tx_policy == ev_b.rx_policy and ev_a.rx_policy == ev_b.tx_policy
    assert ev_a.peer_fingerprint == certs[1].fingerprint()
    assert end == pytest.approx(4 * DELAY)  # two round trips, nothing retransmitted
    assert not any(d for *_, d in link.log)
    _media_flows(a, b)


@pytest.mark.parametrize(
    ("lost", "what"),
    [(("b", 0), "ClientHello"), (("a", 0), "server's first flight"),
     (("b", 1), "client's second flight"), (("a", 1), "server's final flight")],
)
def test_lost_flight_is_retransmitted_in_simulated_time(
    certs: tuple[DtlsCertificate, ...], lost: tuple[str, int], what: str
) -> None:
    flights = {"a": 0, "b": 0}
    seen: set[tuple[str, int]] = set()

    def drop(name: str, k: int, data: bytes) -> bool:
        # Count flights by the first datagram of each burst; drop every datagram of the
        # chosen flight the first time only.
        return (name, flight_of[name]) == lost and (name, flight_of[name]) not in done

    flight_of = {"a": 0, "b": 0}
    done: set[tuple[str, int]] = set()
    a, b = _pair(certs)

    class CountingLink(Link):
        def _drain(self, name: str, now: float) -> None:
            pending = self.ends[name]._out  # noqa: SLF001 - the test watches flights
            if pending:
                flight_of[name] = flights[name]
                flights[name] += 1
                super()._drain(name, now)
                if (name, flight_of[name]) == lost:
                    done.add(lost)
            else:
                super()._drain(name, now)

    link = CountingLink(a, b, drop)
    end = link.run()
    assert a.state is b.state is DtlsState.CONNECTED, what
    assert any(d for *_, d in link.log), "nothing was dropped"
    # The retransmission came from a timer of 1 s (OpenSSL's initial timeout), so the
    # handshake took about one second longer than the 4 one-way delays of a clean one.
    assert 1.0 < end < 1.0 + 8 * DELAY, what
    _media_flows(a, b)


def test_wrong_fingerprint_is_rejected(certs: tuple[DtlsCertificate, ...]) -> None:
    a, b = _pair(certs, wrong=True)
    link = Link(a, b, lambda name, k, data: False)
    link.run()
    assert a.state is DtlsState.FAILED
    (ev,) = link.events["a"]
    assert isinstance(ev, DtlsFailed) and "fingerprint" in ev.reason
    assert b.state is not DtlsState.CONNECTED  # the alert (or silence) stops the client
    with pytest.raises(DtlsError):
        a.srtp_sessions()


def test_fingerprint_given_late(certs: tuple[DtlsCertificate, ...]) -> None:
    """The answer's a=fingerprint may arrive after the handshake: connect only then."""
    a_cert, b_cert, _ = certs
    a = DtlsSrtpEndpoint(role=DtlsRole.SERVER, certificate=a_cert, remote_fingerprints=None,
                         profiles=(SrtpProfile.AES_CM_128_HMAC_SHA1_80,))
    b = DtlsSrtpEndpoint(role=DtlsRole.CLIENT, certificate=b_cert,
                         remote_fingerprints=[a_cert.fingerprint("sha-1"), a_cert.fingerprint("sha-512")])
    a.start(0.0)
    b.start(0.0)
    link = Link(a, b, lambda name, k, data: False)
    t = link.run()
    assert b.state is DtlsState.CONNECTED and a.state is DtlsState.HANDSHAKING
    a.set_remote_fingerprints([b_cert.fingerprint()], t)
    assert a.state.value == DtlsState.CONNECTED.value  # (mypy narrowed it to HANDSHAKING)
    assert isinstance(a.next_event(), DtlsConnected)
    assert a.result is not None and a.result.profile is SrtpProfile.AES_CM_128_HMAC_SHA1_80
    _media_flows(a, b)


def test_handshake_gives_up_after_retransmissions(certs: tuple[DtlsCertificate, ...]) -> None:
    a, b = _pair(certs)
    link = Link(a, b, lambda name, k, data: name == "b")  # the client is never heard
    link.run(until=1000)
    (ev,) = link.events["b"]
    assert isinstance(ev, DtlsFailed) and "timed out" in ev.reason
    # RFC 6347 §4.2.4.1: 1 s, doubling: sends at 0, 1, 3, 7, 15, 31, 63 s.
    times = [round(t) for t, name, _, _ in link.log if name == "b"]
    assert times == [0, 1, 3, 7, 15, 31, 63]


def test_setup_roles_and_fingerprint_text(certs: tuple[DtlsCertificate, ...]) -> None:
    assert answer_setup("actpass") == "active"
    assert answer_setup("active") == "passive" and answer_setup("passive") == "active"
    assert dtls_role("passive", "active") is DtlsRole.SERVER
    assert dtls_role("actpass", "passive") is DtlsRole.CLIENT
    with pytest.raises(DtlsError):
        answer_setup("holdconn")
    with pytest.raises(DtlsError):
        dtls_role("active", "active")
    fp = certs[0].fingerprint()
    text = str(fp)
    assert text.startswith("sha-256 ") and len(text) == 8 + 32 * 3 - 1
    assert Fingerprint.parse("a=fingerprint:" + text) == fp
    assert fingerprint_matches(certs[0].der, [fp])
    assert not fingerprint_matches(certs[1].der, [fp])
    # RFC 8122 §5: the most preferred hash present decides (sha-512 over sha-256 here).
    assert not fingerprint_matches(certs[0].der, [fp, certs[1].fingerprint("sha-512")])
    assert not fingerprint_matches(certs[0].der, [Fingerprint(algorithm="md5", value=b"x")])


def test_garbage_datagrams_do_not_raise_or_derail_the_handshake(
    certs: tuple[DtlsCertificate, ...],
) -> None:
    """RFC 6347 §4.1.2.7: invalid records are discarded; the handshake still completes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(junk=st.lists(st.binary(max_size=200) | st.binary(max_size=60).map(lambda b: b"\x16\xfe\xfd" + b),
                         max_size=3))
    def check(junk: list[bytes]) -> None:
        a, b = _pair(certs)
        for data in junk:
            a.receive(data, 0.0)
            b.receive(data, 0.0)
        link = Link(a, b, lambda name, k, data: False)
        link.run()
        assert a.state is b.state is DtlsState.CONNECTED

    check()


def test_small_mtu_fragments_flights_into_several_datagrams(certs: tuple[DtlsCertificate, ...]) -> None:
    a_cert, b_cert, _ = certs
    a = DtlsSrtpEndpoint(role=DtlsRole.SERVER, certificate=a_cert, mtu=300,
                         remote_fingerprints=[b_cert.fingerprint()])
    b = DtlsSrtpEndpoint(role=DtlsRole.CLIENT, certificate=b_cert, mtu=300,
                         remote_fingerprints=[a_cert.fingerprint()])
    a.start(0.0)
    b.start(0.0)
    sizes: list[int] = []

    def drop(name: str, k: int, data: bytes) -> bool:
        sizes.append(len(data))
        return name == "a" and k == 1  # lose one fragment of the server's first flight

    link = Link(a, b, drop)
    link.run()
    assert a.state is b.state is DtlsState.CONNECTED
    assert max(sizes) <= 300 and len(sizes) > 6
    _media_flows(a, b)


def _record(ctype: int, epoch: int, body: bytes) -> bytes:
    # RFC 6347 §4.1 record header: type, version (DTLS 1.2), epoch, 48-bit sequence, length.
    return bytes([ctype, 0xFE, 0xFD]) + epoch.to_bytes(2, "big") + bytes(6) + \
        len(body).to_bytes(2, "big") + body


def _hs(msg_type: int, seq: int, fragment: bytes) -> bytes:
    # RFC 6347 §4.2.2 handshake header: type, length, message_seq, fragment offset, length.
    return _record(22, 0, bytes([msg_type]) + len(fragment).to_bytes(3, "big") +
                   seq.to_bytes(2, "big") + bytes(3) + len(fragment).to_bytes(3, "big") + fragment)


def test_openssl_wall_clock_resend_is_stripped() -> None:
    """OpenSSL re-sends the last flight on its own when its wall-clock timer expired before
    the peer's next flight is read (measured: a server whose peer answered after 1.2 s put
    flight 2 again, re-fragmented, before flight 4: 1,296 bytes instead of 620). Only the
    `now`-driven timer may retransmit, so that re-send is dropped, however fragmented."""
    from rvoip_sansio.srtp._dtls import strip_resent_flight

    flight2 = [_hs(2, 0, bytes(80)) + _hs(11, 1, bytes(150)) + _hs(11, 1, bytes(170)),
               _hs(14, 2, b"")]
    resend = _hs(2, 0, bytes(80)) + _hs(11, 1, bytes(240)) + _hs(11, 1, bytes(80)) + _hs(14, 2, b"")
    flight4 = _hs(4, 3, bytes(40)) + _record(20, 0, b"\x01") + _record(22, 1, bytes(48))
    assert strip_resent_flight(resend + flight4, flight2) == (flight4, 4)
    assert strip_resent_flight(flight4, flight2) == (flight4, 0)
    # A client whose final flight (…, ChangeCipherSpec, Finished) is re-sent: all of it goes.
    flight3 = [_hs(16, 1, bytes(60)) + _record(20, 0, b"\x01") + _record(22, 1, bytes(48))]
    stale = _hs(16, 1, bytes(30)) + _hs(16, 1, bytes(30)) + _record(20, 0, b"\x01") + \
        _record(22, 1, bytes(48))
    assert strip_resent_flight(stale, flight3) == (b"", 4)
    # Nothing sent yet (first flight), or an alert after the handshake: untouched.
    assert strip_resent_flight(resend, []) == (resend, 0)
    alert = _record(21, 1, bytes(26))
    assert strip_resent_flight(alert, flight3) == (alert, 0)
