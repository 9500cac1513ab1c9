"""Walk the four transaction machines state by state against the RFC figures, and drive them
with random input sequences (hypothesis), through the real executor and a recording host."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio import Address, Event, LocalProtocolError
from rvoip_sansio.sip import make_response
from rvoip_sansio.transaction import (
    EndpointConfig,
    Input,
    Kind,
    RequestReceived,
    ResponseReceived,
    State,
    TimerName,
    TransactionTimeout,
    TransportError,
)
from rvoip_sansio.transaction._transaction import Transaction, start, step

from .helpers import request

I = Input  # noqa: E741
S = State
UP, ACK, RESEND, TIMEOUT, ERROR, SEND, TRYING = "up", "ack", "resend", "timeout", "error", "send", "100"

# Transcribed from RFC 3261 Figures 5-8 as corrected by RFC 6026 Figures 3 and 5:
# (kind, state, input) -> (next state, what is visible: sends and events).
RFC: dict[tuple[Kind, State, Input], tuple[State, frozenset[str]]] = {}


def rfc(kind: Kind, state: State, inp: Input, nxt: State, *effects: str) -> None:
    RFC[(kind, state, inp)] = (nxt, frozenset(effects))


CI, CNI, SI, SNI = Kind.CLIENT_INVITE, Kind.CLIENT_NON_INVITE, Kind.SERVER_INVITE, Kind.SERVER_NON_INVITE
for st_ in (S.CALLING, S.PROCEEDING):
    rfc(CI, st_, I.PROVISIONAL, S.PROCEEDING, UP)
    rfc(CI, st_, I.SUCCESS, S.ACCEPTED, UP)
    rfc(CI, st_, I.FAILURE, S.COMPLETED, UP, ACK)
    rfc(CI, st_, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(CI, S.CALLING, I.TIMER_A, S.CALLING, RESEND)
rfc(CI, S.CALLING, I.TIMER_B, S.TERMINATED, TIMEOUT)
rfc(CI, S.COMPLETED, I.FAILURE, S.COMPLETED, ACK)
rfc(CI, S.COMPLETED, I.TIMER_D, S.TERMINATED)
rfc(CI, S.COMPLETED, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(CI, S.ACCEPTED, I.SUCCESS, S.ACCEPTED, UP)
rfc(CI, S.ACCEPTED, I.TIMER_M, S.TERMINATED)
for st_ in (S.TRYING, S.PROCEEDING):
    rfc(CNI, st_, I.PROVISIONAL, S.PROCEEDING, UP)
    rfc(CNI, st_, I.SUCCESS, S.COMPLETED, UP)
    rfc(CNI, st_, I.FAILURE, S.COMPLETED, UP)
    rfc(CNI, st_, I.TIMER_E, st_, RESEND)
    rfc(CNI, st_, I.TIMER_F, S.TERMINATED, TIMEOUT)
    rfc(CNI, st_, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(CNI, S.COMPLETED, I.TIMER_K, S.TERMINATED)
rfc(SI, S.PROCEEDING, I.TU_PROVISIONAL, S.PROCEEDING, SEND)
rfc(SI, S.PROCEEDING, I.TU_SUCCESS, S.ACCEPTED, SEND)
rfc(SI, S.PROCEEDING, I.TU_FAILURE, S.COMPLETED, SEND)
rfc(SI, S.PROCEEDING, I.TIMER_TRYING, S.PROCEEDING, TRYING)
rfc(SI, S.PROCEEDING, I.REQUEST, S.PROCEEDING, TRYING)  # nothing sent yet: the 100 (see _state)
rfc(SI, S.PROCEEDING, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(SI, S.COMPLETED, I.REQUEST, S.COMPLETED, RESEND)
rfc(SI, S.COMPLETED, I.TIMER_G, S.COMPLETED, RESEND)
rfc(SI, S.COMPLETED, I.TIMER_H, S.TERMINATED, TIMEOUT)
rfc(SI, S.COMPLETED, I.ACK, S.CONFIRMED)
rfc(SI, S.COMPLETED, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(SI, S.CONFIRMED, I.ACK, S.CONFIRMED)
rfc(SI, S.CONFIRMED, I.REQUEST, S.CONFIRMED)
rfc(SI, S.CONFIRMED, I.TIMER_I, S.TERMINATED)
rfc(SI, S.ACCEPTED, I.REQUEST, S.ACCEPTED)
rfc(SI, S.ACCEPTED, I.TU_SUCCESS, S.ACCEPTED, SEND)
rfc(SI, S.ACCEPTED, I.ACK, S.ACCEPTED, UP)
rfc(SI, S.ACCEPTED, I.TRANSPORT_ERROR, S.ACCEPTED, ERROR)
rfc(SI, S.ACCEPTED, I.TIMER_L, S.TERMINATED)
rfc(SNI, S.TRYING, I.REQUEST, S.TRYING)
for st_ in (S.TRYING, S.PROCEEDING):
    rfc(SNI, st_, I.TU_PROVISIONAL, S.PROCEEDING, SEND)
    rfc(SNI, st_, I.TU_SUCCESS, S.COMPLETED, SEND)
    rfc(SNI, st_, I.TU_FAILURE, S.COMPLETED, SEND)
rfc(SNI, S.PROCEEDING, I.REQUEST, S.PROCEEDING, RESEND)
rfc(SNI, S.PROCEEDING, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)
rfc(SNI, S.COMPLETED, I.REQUEST, S.COMPLETED, RESEND)
rfc(SNI, S.COMPLETED, I.TIMER_J, S.TERMINATED)
rfc(SNI, S.COMPLETED, I.TRANSPORT_ERROR, S.TERMINATED, ERROR)

# Timers the RFC lets run in each state (unreliable transport).
ALLOWED_TIMERS = {
    (CI, S.CALLING): {TimerName.A, TimerName.B}, (CI, S.COMPLETED): {TimerName.D},
    (CI, S.ACCEPTED): {TimerName.M}, (CNI, S.TRYING): {TimerName.E, TimerName.F},
    (CNI, S.PROCEEDING): {TimerName.E, TimerName.F}, (CNI, S.COMPLETED): {TimerName.K},
    (SI, S.PROCEEDING): {TimerName.TRYING}, (SI, S.COMPLETED): {TimerName.G, TimerName.H},
    (SI, S.CONFIRMED): {TimerName.I}, (SI, S.ACCEPTED): {TimerName.L}, (SNI, S.COMPLETED): {TimerName.J},
}

# How to reach each state from the initial one.
PATHS = {
    (CI, S.CALLING): [], (CI, S.PROCEEDING): [I.PROVISIONAL], (CI, S.COMPLETED): [I.FAILURE],
    (CI, S.ACCEPTED): [I.SUCCESS], (CNI, S.TRYING): [], (CNI, S.PROCEEDING): [I.PROVISIONAL],
    (CNI, S.COMPLETED): [I.SUCCESS], (SI, S.PROCEEDING): [], (SI, S.COMPLETED): [I.TU_FAILURE],
    (SI, S.CONFIRMED): [I.TU_FAILURE, I.ACK], (SI, S.ACCEPTED): [I.TU_SUCCESS],
    (SNI, S.TRYING): [], (SNI, S.PROCEEDING): [I.TU_PROVISIONAL], (SNI, S.COMPLETED): [I.TU_SUCCESS],
}

TU = {I.TU_PROVISIONAL, I.TU_SUCCESS, I.TU_FAILURE}
PEER: Address = ("10.0.0.2", 5060)


@attrs.define
class Host:
    """Records what the executor asks of its endpoint."""

    config: EndpointConfig = attrs.field(factory=EndpointConfig)
    sent: list[bytes] = attrs.field(factory=list)
    events: list[Event] = attrs.field(factory=list)
    forgotten: int = 0

    def _send(self, data: bytes, dest: Address, tx: Transaction | None) -> None:
        self.sent.append(data)

    def _arm(self, tx: Transaction, timer: TimerName, deadline: float) -> None:
        tx.timers[timer] = deadline

    def _emit(self, event: Event) -> None:
        self.events.append(event)

    def _forget(self, tx: Transaction) -> None:
        self.forgotten += 1

    def _ignored(self, tx: Transaction, inp: Input) -> None:
        pass

    def _build_ack(self, tx: Transaction, response: object) -> bytes:
        return b"ACK"

    def _build_trying(self, tx: Transaction) -> bytes:
        return b"100"


def new_tx(kind: Kind, reliable: bool = False) -> tuple[Host, Transaction]:
    method = "INVITE" if kind in (CI, SI) else "OPTIONS"
    req = REQUESTS[method]
    host = Host()
    tx = Transaction(kind=kind, key=("k",), request=req, method=method, dest=PEER, reliable=reliable)
    start(host, tx, 0.0)
    return host, tx


REQUESTS = {m: request(m, branch="z9hG4bKwalk") for m in ("INVITE", "OPTIONS")}


def message_for(tx: Transaction, inp: Input) -> object:
    req = REQUESTS[tx.method]
    code = {I.PROVISIONAL: 180, I.SUCCESS: 200, I.FAILURE: 486, I.TU_PROVISIONAL: 180,
            I.TU_SUCCESS: 200, I.TU_FAILURE: 486}.get(inp)
    if code is not None:
        return make_response(req, code, to_tag="t")
    if inp in (I.REQUEST, I.ACK):
        return req
    return None


def feed(host: Host, tx: Transaction, inp: Input, now: float = 1.0) -> bytes | None:
    msg = message_for(tx, inp)
    step(host, tx, inp, now, msg, PEER)  # type: ignore[arg-type]
    return bytes(msg) if inp in TU else None  # type: ignore[arg-type]


def effects(host: Host, sent_before: int, tx: Transaction, fed: bytes | None) -> frozenset[str]:
    out = set()
    for data in host.sent[sent_before:]:
        if data == b"ACK":
            out.add(ACK)
        elif data == b"100":
            out.add(TRYING)
        elif data == fed:
            out.add(SEND)
        else:
            out.add(RESEND)
    for ev in host.events:
        if isinstance(ev, (ResponseReceived, RequestReceived)):
            out.add(UP)
        elif isinstance(ev, TransactionTimeout):
            out.add(TIMEOUT)
        elif isinstance(ev, TransportError):
            out.add(ERROR)
    return frozenset(out)


@pytest.mark.parametrize(("kind", "state"), list(PATHS))
@pytest.mark.parametrize("inp", list(Input))
def test_walk_every_state_and_input(kind: Kind, state: State, inp: Input) -> None:
    host, tx = new_tx(kind)
    for prior in PATHS[(kind, state)]:
        feed(host, tx, prior)
    assert tx.state is state
    assert set(tx.timers) <= ALLOWED_TIMERS.get((kind, state), set())
    host.events.clear()
    before = len(host.sent)
    expected = RFC.get((kind, state, inp))
    if expected is None:
        if inp in TU:
            with pytest.raises(LocalProtocolError, match=state.value):
                feed(host, tx, inp)
        else:
            feed(host, tx, inp)
        assert tx.state is state  # refused or ignored: nothing changed
        assert host.sent[before:] == [] and host.events == []
        return
    nxt, visible = expected
    fed = feed(host, tx, inp)
    assert tx.state is nxt
    got = effects(host, before, tx, fed)
    assert got == visible, (got, visible)
    assert set(tx.timers) <= ALLOWED_TIMERS.get((kind, nxt), set())
    assert host.forgotten == (1 if nxt is S.TERMINATED else 0)


def test_every_table_entry_is_in_the_rfc_transcription() -> None:
    from rvoip_sansio.transaction import TABLES

    implemented = {(k, s, i) for k, table in TABLES.items() for (s, i) in table}
    # Entries the RFC figures leave implicit (retransmissions absorbed in late states).
    absorbed = implemented - set(RFC)
    for kind, state, inp in absorbed:
        tr = TABLES[kind][(state, inp)]
        assert tr == ((), state), (kind, state, inp)
    assert set(RFC) <= implemented


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(Kind)),
    reliable=st.booleans(),
    inputs=st.lists(st.sampled_from(list(Input)), max_size=30),
)
def test_random_input_sequences_keep_the_invariants(kind: Kind, reliable: bool, inputs: list[Input]) -> None:
    host, tx = new_tx(kind, reliable)
    config = host.config
    for inp in inputs:
        state = tx.state
        sent, events = len(host.sent), len(host.events)
        try:
            feed(host, tx, inp)
        except LocalProtocolError:
            assert inp in TU
            assert tx.state is state and len(host.sent) == sent and len(host.events) == events
            continue
        if state is S.TERMINATED:
            # Terminated absorbs everything silently.
            assert tx.state is S.TERMINATED and len(host.sent) == sent and len(host.events) == events
        assert set(tx.timers) <= ALLOWED_TIMERS.get((kind, tx.state), set())
        if reliable:
            assert not set(tx.timers) & {TimerName.A, TimerName.E, TimerName.G}
        if TimerName.E in tx.timers or TimerName.G in tx.timers:
            assert tx.interval <= config.t2
    assert host.forgotten == (1 if tx.state is S.TERMINATED else 0)
