"""Registration and authentication in simulated time: digest retry, refresh before expiry,
unregister, NAT Contact fixing, challenged INVITEs, credentials reused later."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio.dialog import (
    CallAnswered,
    CallEnded,
    EndReason,
    IncomingCall,
    RegistrationChanged,
    RegistrationState,
    RequestCompleted,
    UAConfig,
    UserAgent,
)
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import parse_message
from rvoip_sansio.sip.auth import Algorithm, Credentials, DigestServer, DigestServerConfig, InMemoryCredentialStore

from .helpers import ALICE, BOB, LOSSY, add, answering, caps, network, of

SERVER = ("10.0.0.100", 5060)


def digest(realm: str = "example.com", users: dict[str, str] | None = None,
           algorithms: tuple[Algorithm, ...] = (Algorithm.SHA_256, Algorithm.MD5)) -> DigestServer:
    store = InMemoryCredentialStore()
    for user, password in (users or {"alice": "s3cret"}).items():
        store.add(user, realm, password)
    return DigestServer(config=DigestServerConfig(realm=realm, algorithms=algorithms),
                        secret=b"0123456789abcdef0123", store=store, rng=random.Random(5))


def server(auth: DigestServer | None = None) -> tuple[UserAgent, Registrar]:
    agent = UserAgent(config=UAConfig(local=SERVER, user="pbx"), rng=random.Random(50))
    registrar = Registrar(auth=auth)
    agent.serve("REGISTER", registrar)
    return agent, registrar


def alice(**kw: object) -> UserAgent:
    config = UAConfig(local=ALICE, user="alice", media=caps(ALICE),  # type: ignore[arg-type]
                      credentials=(Credentials(username="alice", password="s3cret"),), **kw)
    return UserAgent(config=config, rng=random.Random(1))


def requests_from(net, src, method):  # type: ignore[no-untyped-def]
    return [(e.sent, parse_message(e.data)) for e in net.trace
            if e.src == src and e.data.startswith(method.encode() + b" ")]


def test_register_with_digest_refresh_and_unregister() -> None:
    net = network()
    pbx, registrar = server(digest())
    a = alice()
    add(net, "pbx", SERVER, pbx)
    add(net, "alice", ALICE, a)
    regs = []
    net.at(0.0, lambda t: regs.append(a.register("sip:10.0.0.100", t, expires=120)))
    net.run(until=200.0)
    states = [(e.state, e.expires) for e in of(net, "alice", RegistrationChanged)]
    # Registered at once, then refreshed 30 s before each expiry (120 s bindings).
    assert states[:3] == [(RegistrationState.REGISTERED, 120)] * 3
    sent = requests_from(net, ALICE, "REGISTER")
    times = [round(t, 2) for t, _ in sent]
    assert times == [0.0, 0.02, 90.04, 180.06]
    # Only the first REGISTER was challenged: the next ones carry credentials (nc counts up).
    assert "authorization" not in sent[0][1]
    assert all("authorization" in r for _, r in sent[1:])
    assert [r.cseq.number for _, r in sent] == [1, 2, 3, 4]
    assert len({r.call_id for _, r in sent}) == 1  # §10.2.4: one Call-ID per registration
    bindings = registrar.lookup("sip:alice@10.0.0.100", net.now)
    assert [b.contact for b in bindings] == ["sip:alice@10.0.0.1:5060"]
    assert 60 <= bindings[0].remaining(net.now) <= 120
    net.at(net.now, lambda t: regs[0].unregister(t))
    net.run(until=net.now + 5)
    assert of(net, "alice", RegistrationChanged)[-1].state is RegistrationState.UNREGISTERED
    assert registrar.lookup("sip:alice@10.0.0.100", net.now) == []
    net.run(until=1000)
    assert len(requests_from(net, ALICE, "REGISTER")) == 5  # no refresh after unregistering


def test_wrong_password_fails_without_looping() -> None:
    net = network()
    pbx, registrar = server(digest(users={"alice": "other"}))
    a = alice()
    add(net, "pbx", SERVER, pbx)
    add(net, "alice", ALICE, a)
    net.at(0.0, lambda t: a.register("sip:10.0.0.100", t, expires=600))
    net.run(until=10.0)
    changes = of(net, "alice", RegistrationChanged)
    assert [(c.state, c.status_code) for c in changes] == [(RegistrationState.FAILED, 401)]
    assert len(requests_from(net, ALICE, "REGISTER")) == 2


@pytest.mark.parametrize("seed", range(8))
def test_register_under_loss(seed: int) -> None:
    net = network(LOSSY, seed)
    pbx, registrar = server(digest())
    a = alice()
    add(net, "pbx", SERVER, pbx)
    add(net, "alice", ALICE, a)
    net.at(0.0, lambda t: a.register("sip:10.0.0.100", t, expires=300))
    net.run(until=60.0)
    assert of(net, "alice", RegistrationChanged)[0].state is RegistrationState.REGISTERED
    assert len(registrar.lookup("sip:alice@10.0.0.100", net.now)) == 1


def test_nat_contact_fixed_from_via_received_rport() -> None:
    """Alice believes she is 192.168.1.10:5060; the registrar sees 10.0.0.1:5060 (NAT).
    The private address must not stay in the registrar (users complain about leaks)."""
    net = network()
    pbx, registrar = server(digest())
    config = UAConfig(local=("192.168.1.10", 5060), user="alice", media=caps(ALICE),
                      credentials=(Credentials(username="alice", password="s3cret"),))
    a = UserAgent(config=config, rng=random.Random(1))
    add(net, "pbx", SERVER, pbx)
    add(net, "alice", ALICE, a)
    net.at(0.0, lambda t: a.register("sip:10.0.0.100", t, expires=300))
    net.run(until=10.0)
    assert a.contact == "<sip:alice@10.0.0.1:5060>"
    assert [b.contact for b in registrar.lookup("sip:alice@10.0.0.100", net.now)] == ["sip:alice@10.0.0.1:5060"]
    changes = of(net, "alice", RegistrationChanged)
    assert changes[-1].state is RegistrationState.REGISTERED and changes[-1].contact == a.contact
    last = requests_from(net, ALICE, "REGISTER")[-1][1]
    assert last.get_all("contact") == ["<sip:alice@192.168.1.10:5060>;expires=0", "<sip:alice@10.0.0.1:5060>"]


def test_challenged_invite_retried_and_credentials_reused() -> None:
    net = network()
    a = alice()
    b = UserAgent(config=UAConfig(local=BOB, user="bob", media=caps(BOB)), rng=random.Random(2),
                  auth=digest(), auth_methods=("INVITE", "MESSAGE"))
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    calls = []
    net.at(0.0, lambda t: calls.append(a.invite("sip:bob@10.0.0.2", t)))
    net.at(5.0, lambda t: a.send_message("sip:bob@10.0.0.2", "hi", t))
    net.run(until=10.0)
    invites = requests_from(net, ALICE, "INVITE")
    assert [r.cseq.number for _, r in invites] == [1, 2]  # §22.2: CSeq up by one on the retry
    assert invites[0][1].call_id == invites[1][1].call_id
    assert "authorization" in invites[1][1] and "algorithm=SHA-256" in invites[1][1].get("authorization")
    assert len(of(net, "alice", CallAnswered)) == 1
    ack = requests_from(net, ALICE, "ACK")[-1][1]
    assert ack.cseq.number == 2 and ack.get("authorization") is None or ack.cseq.number == 2
    # The MESSAGE went out with credentials already: no second challenge.
    messages = requests_from(net, ALICE, "MESSAGE")
    assert len(messages) == 1 and "authorization" in messages[0][1]
    assert [e.status_code for e in of(net, "alice", RequestCompleted)] == [200]
    net.at(6.0, lambda t: calls[0].hangup(t))
    net.run(until=20)
    assert of(net, "bob", CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_incoming_invite_without_credentials_is_rejected() -> None:
    net = network()
    a = UserAgent(config=UAConfig(local=ALICE, user="alice", media=caps(ALICE)), rng=random.Random(1))
    b = UserAgent(config=UAConfig(local=BOB, user="bob", media=caps(BOB)), rng=random.Random(2), auth=digest())
    add(net, "alice", ALICE, a)
    add(net, "bob", BOB, b, answering())
    net.at(0.0, lambda t: a.invite("sip:bob@10.0.0.2", t))
    net.run(until=10)
    ended = of(net, "alice", CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.REJECTED, 401)
    assert not of(net, "bob", IncomingCall)
