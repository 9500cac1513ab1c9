"""Trunk and operations features in simulated time: digest registration with an auth user
different from the URI user, through an outbound proxy, calls through a PBX (B2BUA) to a
registered phone; IP-authenticated trunks (no REGISTER; a challenged INVITE answered);
max concurrent calls (503); drain; close; RTP inactivity timeout (BYE); Call-ID on every log
record; health and quality reports."""

from __future__ import annotations

import logging
import random

import pytest

from rvoip_sansio.dialog import EndReason, IncomingCall as UaIncoming, RegistrationState, UAConfig, UserAgent
from rvoip_sansio.phone import (CallAnswered, CallEnded, IncomingCall, MediaEvent,
                                PhoneDrained, RegistrationChanged)
from rvoip_sansio.rtp import MediaTimeout, QualityUpdated
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities
from rvoip_sansio.server import B2BUA, Registrar, route_registered
from rvoip_sansio.sip import parse_message
from rvoip_sansio.sip.auth import Credentials, DigestServer, DigestServerConfig, InMemoryCredentialStore

from .helpers import ALICE, BOB, PBX, App, network, speech, tone, tone_segment, peak_frequency

REALM = "pbx.example.com"


def digest(users: dict[str, str]) -> DigestServer:
    store = InMemoryCredentialStore()
    for user, password in users.items():
        store.add(user, REALM, password)
    return DigestServer(config=DigestServerConfig(realm=REALM), secret=b"0123456789abcdef0123",
                        store=store, rng=random.Random(7))


def sent(net, src, start: bytes):  # type: ignore[no-untyped-def]
    return [(e.sent, e.dst, parse_message(e.data)) for e in net.trace
            if e.src == src and e.data.startswith(start)]


def test_register_through_outbound_proxy_with_auth_user_and_call_via_pbx() -> None:
    net = network()
    accounts = {"acct-1001": "sip:alice@pbx.example.com", "acct-1002": "sip:bob@pbx.example.com"}
    registrar = Registrar(auth=digest({"acct-1001": "pw-a", "acct-1002": "pw-b"}),
                          may_register=lambda user, aor: accounts.get(user) == str(aor))
    pbx = B2BUA(ua=UserAgent(config=UAConfig(local=PBX, user="pbx"), rng=random.Random(9)),
                router=route_registered(registrar))
    pbx.ua.serve("REGISTER", registrar)
    net.add_node("pbx", PBX, pbx)
    proxy = "sip:10.0.0.100"
    alice = App(net, "alice", ALICE, seed=1, outbound_proxy=proxy, aor="sip:alice@pbx.example.com",
                credentials=(Credentials(username="acct-1001", password="pw-a"),))
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, outbound_proxy=proxy,
              aor="sip:bob@pbx.example.com", receive_queue_frames=200,
              credentials=(Credentials(username="acct-1002", password="pw-b"),))
    regs: list[int] = []
    alice.act(0.0, lambda core, now: regs.append(core.register("sip:pbx.example.com", now)))
    bob.act(0.0, lambda core, now: core.register("sip:pbx.example.com", now))
    net.run(until=2.0)
    for app in (alice, bob):
        states = [e.state for e in app.events(RegistrationChanged)]
        assert states[-1] is RegistrationState.REGISTERED, net.ladder()
    assert alice.events(RegistrationChanged)[-1].registration == regs[0]
    registers = sent(net, ALICE, b"REGISTER")
    # The Request-URI names the registrar's domain; the datagram goes to the outbound proxy
    # with a loose Route (RFC 3261 §8.1.2); the digest username is the auth user.
    assert all(dst == PBX and m.uri_text == "sip:pbx.example.com" for _, dst, m in registers)
    assert registers[0][2].get("route") == "<sip:10.0.0.100;lr>"
    assert 'username="acct-1001"' in (registers[-1][2].get("authorization") or "")
    assert registers[-1][2].get("from").startswith("<sip:alice@pbx.example.com>")
    ids: list[str] = []
    alice.call(3.0, "sip:bob@pbx.example.com", ids, headers=[("X-Account", "42")])
    net.run(until=5.0)
    (ans,) = alice.events(CallAnswered)
    (inc,) = bob.events(IncomingCall)
    assert inc.header("x-account") == "42"  # the B2BUA relays X- headers
    # Media end to end (the PBX relays SDP only).
    alice.core.write(ids[0], tone(440, 16000, 0.6))
    net.run(until=6.0)
    heard = tone_segment(speech(bob.core, inc.call_id), seconds=0.4)
    assert abs(peak_frequency(heard, 16000) - 440) < 5


def carrier(challenge: bool) -> UserAgent:
    caps = LocalCapabilities(address=BOB[0], media=(MediaCapabilities(codecs=(PCMU,), port=50000),))
    auth = digest({"trunk-991": "t0ps3cret"}) if challenge else None
    return UserAgent(config=UAConfig(local=BOB, user="carrier", media=caps), rng=random.Random(3),
                     auth=auth)


@pytest.mark.parametrize("challenge", [False, True])
def test_ip_authenticated_trunk_without_registration(challenge: bool) -> None:
    """Calls straight to a carrier: no REGISTER ever; a carrier that challenges the INVITE
    gets the auth user's credentials (username ≠ the From user)."""
    net = network()
    trunk = carrier(challenge)
    net.add_node("carrier", BOB, trunk, on_event=lambda n, e, now: e.call.answer(now)
                 if isinstance(e, UaIncoming) else None)
    alice = App(net, "alice", ALICE, seed=1, srtp_required=False, user="+15550100",
                credentials=(Credentials(username="trunk-991", password="t0ps3cret"),))
    ids: list[str] = []
    alice.call(0.0, "sip:+15550199@10.0.0.2", ids)
    net.run(until=3.0)
    assert len(alice.events(CallAnswered)) == 1, net.ladder()
    assert not sent(net, ALICE, b"REGISTER")
    invites = sent(net, ALICE, b"INVITE")
    assert invites[0][2].get("from").startswith("<sip:+15550100@10.0.0.1>")
    if challenge:
        assert 'username="trunk-991"' in (invites[-1][2].get("authorization") or "")


def test_max_calls_answers_503_beyond_the_cap() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, max_calls=2)
    ids: list[str] = []
    for t in (0.0, 0.5, 1.0):
        alice.call(t, "sip:bob@10.0.0.2", ids)
    net.run(until=4.0)
    assert len(alice.events(CallAnswered)) == 2
    (end,) = alice.events(CallEnded)
    assert (end.call_id, end.status_code) == (ids[2], 503)
    assert len(bob.events(IncomingCall)) == 2 and len(bob.core.calls) == 2


def test_drain_refuses_new_calls_and_reports_when_the_last_ends() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    bob.act(1.0, lambda core, now: core.drain(now))
    alice.call(2.0, "sip:bob@10.0.0.2", ids)
    net.run(until=4.0)
    assert [e.status_code for e in alice.events(CallEnded)] == [503]
    assert not bob.events(PhoneDrained) and bob.core.calls == [ids[0]]
    with pytest.raises(Exception, match="draining"):
        bob.core.call("sip:alice@10.0.0.1", net.now, rtp=("10.0.0.2", 49000))
    alice.act(5.0, lambda core, now: core.hangup(ids[0], now))
    net.run(until=7.0)
    ((t, _),) = bob.timed(PhoneDrained)
    assert t == bob.timed(CallEnded)[0][0]


def test_close_hangs_up_and_unregisters() -> None:
    net = network()
    registrar = Registrar()
    pbx = UserAgent(config=UAConfig(local=PBX, user="pbx"), rng=random.Random(9))
    pbx.serve("REGISTER", registrar)
    net.add_node("pbx", PBX, pbx)
    alice = App(net, "alice", ALICE, seed=1)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.act(0.0, lambda core, now: core.register("sip:10.0.0.100", now))
    alice.call(0.5, "sip:bob@10.0.0.2", ids)
    alice.act(2.0, lambda core, now: core.close(now))
    net.run(until=5.0)
    (end,) = alice.events(CallEnded)
    assert (end.reason, end.detail) == (EndReason.LOCAL_HANGUP, "closing")
    assert bob.events(CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert alice.events(RegistrationChanged)[-1].state is RegistrationState.UNREGISTERED
    assert registrar.lookup("sip:alice@10.0.0.1", net.now) == []
    assert alice.events(PhoneDrained)


def test_rtp_inactivity_ends_the_call_with_bye() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1, rtp_timeout=3.0)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    bob.act(2.0, lambda core, now: core.pause(ids[0]))  # Bob's RTP stops (a dead peer)
    net.run(until=10.0)
    (end,) = alice.events(CallEnded)
    assert (end.reason, end.detail) == (EndReason.LOCAL_HANGUP, "rtp timeout")
    (timeout,) = [e for e in alice.events(MediaEvent) if isinstance(e.event, MediaTimeout)]
    assert timeout.call_id == ids[0]
    (bye_time, _, _), = sent(net, ALICE, b"BYE")
    assert 2.0 + 3.0 <= bye_time <= 2.0 + 3.0 + 0.1
    assert bob.events(CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_every_log_record_about_a_call_carries_its_call_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rvoip_sansio.phone")
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    alice.act(1.0, lambda core, now: core.hangup(ids[0], now))
    net.run(until=3.0)
    records = [r for r in caplog.records if r.name == "rvoip_sansio.phone"]
    assert len(records) >= 6  # calling, incoming, answered, media x2, ended x2
    for r in records:
        assert getattr(r, "call_id") == ids[0] and ids[0] in r.getMessage()


def test_health_and_quality_reports() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1)
    App(net, "bob", BOB, seed=2, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=12.0)
    report = alice.core.report(ids[0], net.now)
    assert report is not None
    h = report.health
    assert h.idle_ticks > 550  # nothing written: encoded silence every 20 ms
    # Nobody reads: the receive queue keeps the newest 50 frames, the rest is counted.
    assert h.frames_dropped == h.frames_delivered - h.receive_queue_limit > 500
    q = report.quality
    assert q.mos > 4.0
    # RTT from RTCP SR/RR (RFC 3550 §6.4.1): 2 × 20 ms link delay.
    assert q.rtt_ms is not None and abs(q.rtt_ms - 40) < 5
    assert q.packets_lost == 0 and q.loss_percent == 0
    updates = [e for e in alice.events(MediaEvent) if isinstance(e.event, QualityUpdated)]
    assert updates and all(e.call_id == ids[0] for e in updates)


def test_trunk_takes_calls_only_from_trusted_sources() -> None:

    net = network()
    carol_addr = ("10.0.0.3", 5060)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, trusted_sources=("10.0.0.1",))
    alice = App(net, "alice", ALICE, seed=1)
    carol = App(net, "carol", carol_addr, seed=3)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    carol.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=3.0)
    assert len(alice.events(CallAnswered)) == 1
    (end,) = carol.events(CallEnded)
    assert end.status_code == 403
    assert [i.source[0] for i in bob.events(IncomingCall)] == ["10.0.0.1"]
    assert not bob.events(CallEnded)
