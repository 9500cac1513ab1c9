"""RFC 5626 (SIP Outbound) and RFC 7118 §5 clients through the registrar and the B2BUA, in
memory: users that accept no connections (``accepts=False`` on the wire: a WebSocket client
with a ``.invalid`` Contact, a TCP phone registering with ``+sip.instance``/``reg-id``) are
called over the connection they registered on, get the BYE over it, and once it is gone are
refused 480 until they register again (the phone by itself, after the §4.5 back-off).
"""

from __future__ import annotations

import random

from rvoip_sansio import Address
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, EndReason, IncomingCall, RegistrationChanged,
                                 RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.server import B2BUA, Binding, Registrar, RegistrarConfig, route_registered
from rvoip_sansio.sip import Request, Response
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.transaction import EndpointConfig
from tests.dialog.helpers import caps
from tests.dialog.test_register import digest
from tests.dialog.wire import Wire

ALICE: Address = ("10.0.0.1", 5070)
BOB: Address = ("10.0.0.2", 5060)
CAROL: Address = ("10.0.0.3", 5070)
PBX: Address = ("10.0.0.100", 5060)
PBX_LISTENERS: dict[str, Address] = {"TCP": ("10.0.0.100", 5060), "WS": ("10.0.0.100", 8080)}
INVALID = "k8f2xq1w.invalid"
INSTANCE = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"


def _phone(local: Address, user: str, seed: int, transport: str, **kw: object) -> UserAgent:
    config = UAConfig(local=local, user=user, media=caps(local), endpoint=EndpointConfig(transport=transport),
                      credentials=(Credentials(username=user, password="s3cret"),), **kw)  # type: ignore[arg-type]
    return UserAgent(config=config, rng=random.Random(seed))


def _pbx(wire: Wire, **config: object) -> tuple[B2BUA, Registrar]:
    registrar = Registrar(auth=digest(users={"alice": "s3cret", "bob": "s3cret", "carol": "s3cret"}),
                          config=RegistrarConfig(**config))  # type: ignore[arg-type]
    agent = UserAgent(config=UAConfig(local=PBX, user="pbx", media=None), rng=random.Random(9))
    agent.serve("REGISTER", registrar)
    pbx = B2BUA(ua=agent, router=route_registered(registrar))
    wire.add(pbx, PBX, at=PBX_LISTENERS)
    return pbx, registrar


def _tick(wire: Wire, now: float) -> None:
    for core in list(wire.udp.values()):
        core.handle_timeout(now)
    wire.pump(now)


def _call(wire: Wire, caller: UserAgent, callee: UserAgent, user: str, now: float) -> tuple[Call, Call]:
    call = caller.invite(f"sip:{user}@10.0.0.100", now)
    wire.pump(now)
    incoming = wire.of(callee, IncomingCall)[-1].call
    incoming.answer(now)
    wire.pump(now)
    assert call in [e.call for e in wire.of(caller, CallAnswered)]
    return call, incoming


def _pbx_orders(wire: Wire, pbx: B2BUA, transport: str) -> list[tuple[str, Address]]:
    return [(s.action, s.dest) for s in wire.log if s.sender is pbx and s.transport == transport]


def test_websocket_client_with_invalid_contact_is_called_over_its_connection() -> None:
    wire = Wire()
    pbx, registrar = _pbx(wire)
    bob = _phone(BOB, "bob", 2, "UDP")
    carol = _phone(CAROL, "carol", 3, "WS", contact_address=(INVALID, 5070))
    wire.add(bob, BOB)
    wire.add(carol, CAROL, "WS", accepts=False)  # RFC 7118 §5: a WebSocket client accepts nothing
    bob.register("sip:10.0.0.100:5060", 0.0, expires=300)
    carol.register("sip:10.0.0.100:8080;transport=ws", 0.0, expires=300)
    wire.pump(0.0)
    (binding,) = registrar.lookup("sip:carol@10.0.0.100", 0.0)
    assert binding.contact == f"sip:carol@{INVALID}:5070;transport=ws" and binding.flow_only
    assert binding.flow is not None and binding.flow[0] == "WS" and not binding.outbound

    # Bob calls Carol: leg B goes over her connection (nothing opened to .invalid), she
    # answers, Bob hangs up, and the BYE reaches her over the same connection.
    call, carol_call = _call(wire, bob, carol, "carol", 1.0)
    (conn,) = {d for _, d in _pbx_orders(wire, pbx, "WS")}
    assert conn == binding.flow[1] and ("open", conn) not in _pbx_orders(wire, pbx, "WS")
    call.hangup(2.0)
    wire.pump(2.0)
    assert [e.reason for e in wire.of(carol, CallEnded)] == [EndReason.REMOTE_HANGUP]
    (_, dest, bye), = wire.messages(pbx, "BYE sip:carol@")
    assert dest == conn and isinstance(bye, Request)
    assert not [s for s in wire.log if s.sender is pbx and s.action == "open"]

    # Her connection goes: a call to her is refused 480 (RFC 5626 §5.3), nothing is opened.
    carol.close_connections(3.0)
    wire.pump(3.0)
    again = bob.invite("sip:carol@10.0.0.100", 4.0)
    wire.pump(4.0)
    assert [(e.call, e.status_code) for e in wire.of(bob, CallEnded)][-1] == (again, 480)
    assert not [s for s in wire.log if s.sender is pbx and s.action == "open"]
    # The registrar, told of the closed flow (rvoip serve does it on ConnectionClosed), marks
    # the binding; the router then refuses 480 without touching the endpoint.
    assert registrar.flow_closed("WS", conn, 4.0) == 1
    (marked,) = registrar.lookup("sip:carol@10.0.0.100", 4.0)
    assert marked.flow_failed
    # She registers again (a new connection): calls reach her again.
    carol.register("sip:10.0.0.100:8080;transport=ws", 5.0, expires=300)
    wire.pump(5.0)
    (fresh,) = registrar.lookup("sip:carol@10.0.0.100", 5.0)
    assert not fresh.flow_failed and fresh.flow is not None and fresh.flow[1] != conn
    _call(wire, bob, carol, "carol", 6.0)


def test_outbound_phone_without_listener_registers_is_called_and_recovers_its_flow() -> None:
    wire = Wire()
    pbx, registrar = _pbx(wire)
    bob = _phone(BOB, "bob", 2, "UDP")
    alice = _phone(ALICE, "alice", 1, "TCP", instance_id=INSTANCE, outbound_base_time=30.0)
    wire.add(bob, BOB)
    wire.add(alice, ALICE, "TCP", accepts=False)  # behind NAT: no connection reaches her
    bob.register("sip:10.0.0.100:5060", 0.0, expires=300)
    alice.register("sip:10.0.0.100:5060;transport=tcp", 0.0, expires=300)
    wire.pump(0.0)
    # RFC 5626 §4.2.1: +sip.instance and reg-id in Contact, Supported: outbound; §6: Require.
    register = [m for _, _, m in wire.messages(alice, "REGISTER ")][-1]
    assert isinstance(register, Request)
    (contact,) = register.contact
    assert contact.params["reg-id"] == "1" and contact.params["+sip.instance"] == f'"<{INSTANCE}>"'
    assert "ob" in contact.uri.params and "outbound" in (register.get("supported") or "")
    ok = [m for _, _, m in wire.messages(pbx, "SIP/2.0 200") if isinstance(m, Response)
          and m.cseq.method == "REGISTER" and m.get("require")]
    assert ok and ok[-1].get("require") == "outbound"
    (binding,) = registrar.lookup("sip:alice@10.0.0.100", 0.0)
    assert binding.outbound and binding.instance == f'"<{INSTANCE}>"' and binding.reg_id == 1
    flow = binding.flow
    assert flow is not None and flow[0] == "TCP" and flow[1] != ALICE
    (reg_event,) = [e for e in wire.of(alice, RegistrationChanged) if e.state is RegistrationState.REGISTERED]
    registration = reg_event.registration
    assert registration.flow == ("TCP", PBX_LISTENERS["TCP"])

    # Bob calls her through the PBX: over her flow; Bob hangs up: the BYE takes it too.
    call, alice_call = _call(wire, bob, alice, "alice", 1.0)
    call.hangup(2.0)
    wire.pump(2.0)
    assert [e.reason for e in wire.of(alice, CallEnded)] == [EndReason.REMOTE_HANGUP]
    assert {d for a, d in _pbx_orders(wire, pbx, "TCP")} == {flow[1]}
    assert not [s for s in wire.log if s.sender is pbx and s.action == "open"]

    # The flow fails (the connection drops). Calls to her: 480. She registers again after
    # 50-100 % of base-time (RFC 5626 §4.5), over a new connection; calls reach her again.
    alice.close_connections(3.0)
    wire.pump(3.0)
    assert registration.state is RegistrationState.REGISTERING
    failed = bob.invite("sip:alice@10.0.0.100", 4.0)
    wire.pump(4.0)
    assert [(e.call, e.status_code) for e in wire.of(bob, CallEnded)][-1] == (failed, 480)
    sent = len(wire.messages(alice, "REGISTER "))
    _tick(wire, 3.0 + 14.9)
    assert len(wire.messages(alice, "REGISTER ")) == sent  # not before 50 % of 30 s
    _tick(wire, 3.0 + 30.0)
    assert len(wire.messages(alice, "REGISTER ")) > sent
    assert registration.state is RegistrationState.REGISTERED and registration.flow_failures == 0
    (binding2,) = registrar.lookup("sip:alice@10.0.0.100", 33.0)  # replaced: same instance, reg-id
    assert binding2.flow is not None and binding2.flow != flow
    _call(wire, bob, alice, "alice", 34.0)


def _register(registrar: Registrar, contacts: list[str], *, source: Address = ("10.0.0.1", 40001),
              transport: str = "TCP", vias: int = 1, call_id: str = "r1", cseq: int = 1) -> Response:
    via = [(("Via", f"SIP/2.0/{transport} 10.0.0.50:5060;branch=z9hG4bK-p{cseq}")) for _ in range(vias - 1)]
    headers = [*via, ("Via", f"SIP/2.0/{transport} 10.0.0.1:5070;branch=z9hG4bK-r{cseq}"),
               ("From", "<sip:alice@example.com>;tag=f"), ("To", "<sip:alice@example.com>"),
               ("Call-ID", call_id), ("CSeq", f"{cseq} REGISTER"), *(("Contact", c) for c in contacts),
               ("Supported", "outbound"), ("Expires", "600")]
    return registrar.handle_request(Request("REGISTER", "sip:example.com", headers), source, 0.0)


OB = f';reg-id=1;+sip.instance="<{INSTANCE}>"'


def test_registrar_outbound_rules() -> None:
    registrar = Registrar()
    # One binding per instance and reg-id (RFC 5626 §6): a new Contact URI replaces it.
    assert _register(registrar, [f"<sip:alice@192.168.1.9:5070;transport=tcp;ob>{OB}"]).get("require") == "outbound"
    resp = _register(registrar, [f"<sip:alice@192.168.1.10:5070;transport=tcp;ob>{OB}"],
                     source=("10.0.0.1", 40002), cseq=2)
    assert resp.status_code == 200
    (b,) = registrar.lookup("sip:alice@example.com", 0.0)
    assert (b.contact, b.flow) == ("sip:alice@192.168.1.10:5070;transport=tcp;ob", ("TCP", ("10.0.0.1", 40002)))
    assert [c.params.get("reg-id") for c in resp.contact] == ["1"]
    # Another reg-id of the same instance is a second flow, kept beside it.
    _register(registrar, [f'<sip:alice@192.168.1.10:5071;transport=tcp;ob>;reg-id=2;+sip.instance="<{INSTANCE}>"'],
              source=("10.0.0.1", 40003), cseq=3)
    assert sorted(x.reg_id or 0 for x in registrar.lookup("sip:alice@example.com", 0.0)) == [1, 2]
    # More than one Contact with reg-id: 400.
    assert _register(registrar, [f"<sip:a@h1;transport=tcp>{OB}", f"<sip:a@h2;transport=tcp>{OB}"],
                     cseq=4).status_code == 400
    # Not the first hop (two Vias, no Path support): plain RFC 3261, no Require.
    other = Registrar()
    resp = _register(other, [f"<sip:alice@192.168.1.9:5070;transport=tcp>{OB}"], vias=2)
    assert resp.status_code == 200 and resp.get("require") is None
    (plain,) = other.lookup("sip:alice@example.com", 0.0)
    assert not plain.outbound and plain.reg_id is None
    # Over UDP: no flow recorded (we keep flows on connections only).
    udp = Registrar()
    _register(udp, [f"<sip:alice@192.168.1.9:5070>{OB}"], transport="UDP")
    (u,) = udp.lookup("sip:alice@example.com", 0.0)
    assert u.flow is None and not u.outbound


def test_flow_closed_marks_only_what_the_flow_alone_reaches() -> None:
    registrar = Registrar()
    src: Address = ("10.0.0.1", 40001)
    _register(registrar, ["<sip:alice@10.0.0.1:5070;transport=tcp>"], source=src)  # routable
    (b,) = registrar.lookup("sip:alice@example.com", 0.0)
    assert b.flow == ("TCP", src) and not b.flow_only
    assert registrar.flow_closed("TCP", src, 1.0) == 0
    (b,) = registrar.lookup("sip:alice@example.com", 1.0)
    assert b.flow is None and not b.flow_failed  # still reachable by opening a connection
    router = route_registered(registrar)
    invite = Request("INVITE", "sip:alice@example.com", [])
    route = router(invite, ("10.0.0.2", 5060), 1.0)
    assert route is not None and route.refuse is None and route.flow is None
    # An outbound binding: marked, and the router refuses 480 (RFC 5626 §5.3).
    _register(registrar, [f"<sip:alice@192.168.1.9:5070;transport=tcp>{OB}"], source=("10.0.0.1", 40005),
              call_id="r2")
    assert registrar.flow_closed("TCP", ("10.0.0.1", 40005), 2.0) == 1
    bindings: list[Binding] = registrar.lookup("sip:alice@example.com", 2.0)
    assert sorted(x.flow_failed for x in bindings) == [False, True]
    route = router(invite, ("10.0.0.2", 5060), 2.0)
    assert route is not None and route.refuse is None  # the routable binding is still there
    only = Registrar()
    _register(only, [f"<sip:alice@192.168.1.9:5070;transport=tcp>{OB}"], source=("10.0.0.1", 40005))
    only.flow_closed("TCP", ("10.0.0.1", 40005), 2.0)
    route = route_registered(only)(invite, ("10.0.0.2", 5060), 2.0)
    assert route is not None and route.refuse == 480
    assert route_registered(only)(Request("INVITE", "sip:nobody@example.com", []), ("10.0.0.2", 5060), 2.0) is None


def test_outbound_phone_keeps_its_flow_alive_with_crlf_pings() -> None:
    # RFC 5626 §4.4.1 / §3.5.1: with instance_id and no keepalive_interval of its own, the UA
    # pings its flow (double CRLF) every 120 s; the registrar's side answers each (single CRLF).
    wire = Wire()
    pbx, _ = _pbx(wire)
    alice = _phone(ALICE, "alice", 1, "TCP", instance_id=INSTANCE)
    wire.add(alice, ALICE, "TCP", accepts=False)
    alice.register("sip:10.0.0.100:5060;transport=tcp", 0.0, expires=3600)
    wire.pump(0.0)
    for now in (119.0, 120.0, 240.0):
        _tick(wire, now)
    pings = [s for s in wire.log if s.sender is alice and s.data == b"\r\n\r\n"]
    pongs = [s for s in wire.log if s.sender is pbx and s.data == b"\r\n"]
    assert len(pings) == 2 and len(pongs) == 2
    assert alice.endpoint.connection_count == 1  # answered: the flow stays up


def test_registrar_flow_timer_sets_the_keepalive_interval() -> None:
    # RFC 5626 §5.4 / §4.4.1: the registrar's Flow-Timer: 30 in its 200; the UA pings at
    # 80-100 % of it (not at its own 120 s).
    wire = Wire()
    pbx, _ = _pbx(wire, flow_timer=30)
    alice = _phone(ALICE, "alice", 1, "TCP", instance_id=INSTANCE)
    wire.add(alice, ALICE, "TCP", accepts=False)
    alice.register("sip:10.0.0.100:5060;transport=tcp", 0.0, expires=3600)
    wire.pump(0.0)
    ok = [m for _, _, m in wire.messages(pbx, "SIP/2.0 200") if isinstance(m, Response) and m.get("flow-timer")]
    assert [m.get("flow-timer") for m in ok] == ["30"]
    pings_at = []
    for tenth in range(1, 701):
        now = tenth / 10
        _tick(wire, now)
        count = len([s for s in wire.log if s.sender is alice and s.data == b"\r\n\r\n"])
        if count > len(pings_at):
            pings_at.append(now)
    assert len(pings_at) >= 2
    assert 24.0 <= pings_at[0] <= 30.1 and 24.0 <= pings_at[1] - pings_at[0] <= 30.1


def test_closing_an_old_flow_leaves_a_binding_that_moved_to_a_new_one() -> None:
    registrar = Registrar()
    old: Address = ("10.0.0.1", 40001)
    new: Address = ("10.0.0.1", 40002)
    _register(registrar, [f"<sip:alice@192.168.1.9:5070;transport=tcp>{OB}"], source=old)
    _register(registrar, [f"<sip:alice@192.168.1.9:5070;transport=tcp>{OB}"], source=new, cseq=2)
    assert registrar.flow_closed("TCP", old, 1.0) == 0
    (b,) = registrar.lookup("sip:alice@example.com", 1.0)
    assert b.flow == ("TCP", new) and not b.flow_failed
    assert registrar.flow_closed("TCP", new, 2.0) == 1


def test_outbound_websocket_client_keeps_its_flow_alive_with_ping_frames() -> None:
    # A WebSocket flow is kept alive with RFC 6455 Ping frames (every server must answer
    # Pong), not CRLF: the flow survives two intervals.
    wire = Wire()
    pbx, _ = _pbx(wire)
    carol = _phone(CAROL, "carol", 3, "WS", contact_address=(INVALID, 5070), instance_id=INSTANCE)
    wire.add(carol, CAROL, "WS", accepts=False)
    carol.register("sip:10.0.0.100:8080;transport=ws", 0.0, expires=3600)
    wire.pump(0.0)
    for now in (119.0, 120.0, 240.0, 250.0):
        _tick(wire, now)
    pings = [s for s in wire.log if s.sender is carol and s.data[:1] == b"\x89"]  # FIN + Ping
    pongs = [s for s in wire.log if s.sender is pbx and s.data[:1] == b"\x8a"]   # FIN + Pong
    assert len(pings) == 2 and len(pongs) == 2
    assert carol.endpoint.connection_count == 1
    (reg,) = {e.registration for e in wire.of(carol, RegistrationChanged)}
    assert reg.state is RegistrationState.REGISTERED and reg.flow is not None
