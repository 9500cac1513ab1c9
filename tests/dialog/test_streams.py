"""UserAgent on connection-oriented transports, in memory (no sockets): a call and a REGISTER
with digest over TCP, and a call whose INVITE takes TCP on a UA whose default is UDP (the ACK
for the 2xx must follow the INVITE's transport, RFC 3261 §13.2.2.4 / §18.1.1)."""

from __future__ import annotations

import random

from rvoip_sansio import Address, Event, Transmit
from rvoip_sansio.dialog import (CallAnswered, CallEnded, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.server import Registrar
from rvoip_sansio.sip import Request, parse_message
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig, StreamTransmit

from .helpers import caps
from .test_register import digest

ALICE: Address = ("10.0.0.1", 5060)
BOB: Address = ("10.0.0.2", 5060)


class Wire:
    """Carries out the UAs' StreamTransmit orders in memory and records what went where."""

    def __init__(self) -> None:
        self.listeners: dict[tuple[str, Address], UserAgent] = {}
        self.links: dict[tuple[int, str, Address], tuple[UserAgent, Address]] = {}
        self.events: dict[int, list[Event]] = {}
        self.sent: list[tuple[UserAgent, StreamTransmit]] = []
        self.datagrams: list[Transmit] = []
        self._port = 40000

    def listen(self, ua: UserAgent, transport: str, addr: Address) -> None:
        ua.add_transport(transport, addr)
        self.listeners[(transport, addr)] = ua
        self.events.setdefault(id(ua), [])

    def pump(self, now: float) -> None:
        moved = True
        while moved:
            moved = False
            for ua in {id(u): u for u in self.listeners.values()}.values():
                for t in ua.datagrams_to_send(now):
                    moved = True
                    self._execute(ua, t, now)
                while (ev := ua.next_event()) is not None:
                    moved = True
                    self.events[id(ua)].append(ev)
                    if isinstance(ev, IncomingCall):
                        ev.call.answer(now)

    def _execute(self, ua: UserAgent, t: Transmit, now: float) -> None:
        if not isinstance(t, StreamTransmit):
            self.datagrams.append(t)
            return
        self.sent.append((ua, t))
        if t.action == "open":
            other = self.listeners[(t.transport, t.dest)]
            self._port += 1
            there: Address = (ua.config.local[0], self._port)
            self.links[(id(ua), t.transport, t.dest)] = (other, there)
            self.links[(id(other), t.transport, there)] = (ua, t.dest)
            other.connection_made(there, t.transport, now)
            ua.connection_made(t.dest, t.transport, now)
        elif t.action == "send":
            other, peer = self.links[(id(ua), t.transport, t.dest)]
            other.data_received(peer, t.transport, t.data, now)
        else:
            other, there = self.links.pop((id(ua), t.transport, t.dest))
            self.links.pop((id(other), t.transport, there), None)
            other.connection_lost(there, t.transport, now)
            ua.connection_lost(t.dest, t.transport, now)

    def requests(self, ua: UserAgent, method: str) -> list[tuple[StreamTransmit, Request]]:
        out = []
        for sender, t in self.sent:
            if sender is ua and t.action == "send" and t.data.startswith(method.encode() + b" "):
                msg = parse_message(t.data)
                assert isinstance(msg, Request)
                out.append((t, msg))
        return out

    def of(self, ua: UserAgent, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events[id(ua)] if isinstance(e, kind)]


def agent(local: Address, user: str, seed: int, transport: str, **kw: object) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


def _call(wire: Wire, alice: UserAgent, bob: UserAgent, target: str) -> None:
    call = alice.invite(target, 0.0)
    wire.pump(0.0)
    assert [type(e) for e in wire.of(alice, CallAnswered)] == [CallAnswered]
    (invite_t, invite), = wire.requests(alice, "INVITE")
    (ack_t, ack), = wire.requests(alice, "ACK")
    # §13.2.2.4 / §18.1.1: the ACK goes on the INVITE's connection with its transport in Via.
    assert (ack_t.transport, ack_t.dest) == (invite_t.transport, invite_t.dest) == ("TCP", BOB)
    assert ack.via[0].transport == invite.via[0].transport == "TCP"
    assert (ack.via[0].host, ack.via[0].port) == (invite.via[0].host, invite.via[0].port)
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    call.hangup(1.0)
    wire.pump(1.0)
    (bye_t, bye), = wire.requests(alice, "BYE")
    assert bye_t.transport == "TCP" and bye.via[0].transport == "TCP"
    assert [e.call_id for e in wire.of(alice, CallEnded)] == [call.call_id]
    assert [e.call_id for e in wire.of(bob, CallEnded)] == [call.call_id]
    assert wire.datagrams == []  # nothing fell back to UDP


def _two(alice_default: str) -> tuple[Wire, UserAgent, UserAgent]:
    wire = Wire()
    alice, bob = agent(ALICE, "alice", 1, alice_default), agent(BOB, "bob", 2, "TCP")
    wire.listen(alice, "TCP", ALICE)
    wire.listen(bob, "TCP", BOB)
    _call(wire, alice, bob, "sip:bob@10.0.0.2:5060;transport=tcp")
    return wire, alice, bob


def test_call_over_tcp() -> None:
    wire, _, bob = _two("TCP")
    offer = wire.of(bob, IncomingCall)[0].offer
    # IncomingCall.offer is the caller's SDP, parsed: Alice's audio port and address.
    assert offer is not None and offer.media[0].port == 40000
    assert offer.connection is not None and offer.connection.address == ALICE[0]


def test_call_over_tcp_from_a_udp_default_ua() -> None:
    # Alice's default transport is UDP; the Request-URI asks for TCP. Before the fix the ACK
    # said SIP/2.0/UDP in its Via and left as a datagram.
    _two("UDP")


def test_register_with_digest_over_tcp() -> None:
    wire = Wire()
    alice = agent(ALICE, "alice", 5, "TCP", credentials=(Credentials(username="alice", password="s3cret"),))
    pbx = UserAgent(config=UAConfig(local=BOB, user="pbx", endpoint=EndpointConfig(transport="TCP")),
                    rng=random.Random(6))
    registrar = Registrar(auth=digest())
    pbx.serve("REGISTER", registrar)
    wire.listen(alice, "TCP", ALICE)
    wire.listen(pbx, "TCP", BOB)
    alice.register("sip:10.0.0.2:5060;transport=tcp", 0.0, expires=300)
    wire.pump(0.0)
    sent = wire.requests(alice, "REGISTER")
    assert [t.transport for t, _ in sent] == ["TCP", "TCP"]
    assert "authorization" not in sent[0][1] and "authorization" in sent[1][1]  # 401, then credentials
    assert [(e.state, e.expires) for e in wire.of(alice, RegistrationChanged)] == [
        (RegistrationState.REGISTERED, 300)]
    bindings = registrar.lookup("sip:alice@10.0.0.2", 0.0)
    assert [b.contact for b in bindings] == ["sip:alice@10.0.0.1:5060;transport=tcp"]
    assert wire.datagrams == []
