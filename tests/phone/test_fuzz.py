"""Hostile input never escapes a PhoneCore: random datagrams on its SIP socket and on a live
call's RTP socket (plain, RTP-looking, DTLS-looking), with the call still alive afterwards."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rvoip_sansio.phone import CallAnswered, PhoneConfig, PhoneCore, SrtpMode

from .helpers import ALICE, BOB, App, network

_datagram = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=12, max_size=200).map(lambda b: bytes([0x80, b[1] & 0x7F]) + b[2:]),
    st.binary(min_size=13, max_size=200).map(lambda b: bytes([22, 0xFE, 0xFD]) + b[3:]),
    st.binary(max_size=200).map(lambda b: b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n" + b),
    st.binary(max_size=200).map(lambda b: b"INVITE sip:a@b SIP/2.0\r\nVia: " + b),
)


_CACHE: dict[SrtpMode, tuple[App, str, tuple[str, int]]] = {}


def _established(srtp: SrtpMode) -> tuple[App, str, tuple[str, int]]:
    # One live call per mode, shared by the examples (what one example leaves behind is more
    # hostile input for the next).
    if srtp not in _CACHE:
        _CACHE[srtp] = _new(srtp)
    return _CACHE[srtp]


def _new(srtp: SrtpMode) -> tuple[App, str, tuple[str, int]]:
    net = network()
    alice = App(net, "alice", ALICE, seed=1, srtp=srtp)
    App(net, "bob", BOB, seed=2, srtp=srtp, auto_answer=True)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    assert alice.events(CallAnswered)
    (local,) = list(alice.node.sockets)
    return alice, ids[0], local


@settings(max_examples=300, deadline=None)
@given(data=st.lists(_datagram, max_size=8), srtp=st.sampled_from([SrtpMode.NONE, SrtpMode.SDES]))
def test_random_datagrams_never_escape(data: list[bytes], srtp: SrtpMode) -> None:
    alice, cid, local = _established(srtp)
    core = alice.core
    now = alice.net.now
    for i, d in enumerate(data):
        t = now + i * 0.001
        alice.net.now = t
        core.media_receive(local, d, ("10.0.0.2", 40000 + 1000), t)
        core.receive(d, ("10.0.0.9", 5060), t)
        core.media_receive(("10.0.0.1", 1), d, ("10.0.0.9", 1), t)  # no such socket
        core.media_datagrams_to_send(t)
        core.datagrams_to_send(t)
        while core.next_event() is not None:
            pass
        d2 = core.next_deadline()
        if d2 is not None and d2 <= t:
            core.handle_timeout(t)
    assert cid in core.calls and core.media(cid) is not None


def test_verbs_on_unknown_calls_are_local_errors() -> None:
    import pytest

    from rvoip_sansio import LocalProtocolError

    core = PhoneCore(config=PhoneConfig(user="a", local=ALICE), rng=random.Random(1))
    for verb in (lambda: core.answer("nope", 0.0, rtp=("10.0.0.1", 4000)),
                 lambda: core.reject("nope", 0.0), lambda: core.hold("nope", 0.0),
                 lambda: core.send_dtmf("nope", "1", 0.0), lambda: core.mark("nope")):
        with pytest.raises(LocalProtocolError):
            verb()
    core.hangup("nope", 0.0)  # a no-op: hang-ups race with the peer's


_VERBS = ["call", "answer", "ring", "ring_rtp", "reject", "hangup", "hold", "resume", "dtmf",
          "dtmf_info", "transfer", "codecs", "mark", "clear", "drain"]


@settings(max_examples=int(__import__("os").environ.get("PHONE_FUZZ", "60")), deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(_VERBS), st.booleans(), st.integers(0, 3),
                                st.floats(0.0, 0.3)), min_size=1, max_size=14))
def test_random_verbs_in_any_state_fail_only_as_local_errors(steps) -> None:  # type: ignore[no-untyped-def]
    """Whatever the state, a verb either works or raises LocalProtocolError; the phones keep
    running (hypothesis picks verbs, sides, calls and delays)."""
    from rvoip_sansio import LocalProtocolError
    from rvoip_sansio.sdp import PCMU

    net = network()
    apps = [App(net, "alice", ALICE, seed=1), App(net, "bob", BOB, seed=2)]
    ids: list[str] = []

    def act(verb: str, app: App, k: int, now: float) -> None:
        core, other = app.core, apps[1] if app is apps[0] else apps[0]
        cid = ids[k % len(ids)] if ids else "none"
        try:
            if verb == "call":
                ids.append(core.call(f"sip:x@{other.node.node.address[0]}", now, rtp=app.node.bind()))
            elif verb == "answer":
                core.answer(cid, now, rtp=app.node.bind())
            elif verb == "ring":
                core.ring(cid, now)
            elif verb == "ring_rtp":
                core.ring(cid, now, rtp=app.node.bind())
            elif verb == "reject":
                core.reject(cid, now)
            elif verb == "hangup":
                core.hangup(cid, now)
            elif verb == "hold":
                core.hold(cid, now)
            elif verb == "resume":
                core.resume(cid, now)
            elif verb == "dtmf":
                core.send_dtmf(cid, "1", now)
            elif verb == "dtmf_info":
                core.send_dtmf(cid, "2", now, method="info")
            elif verb == "transfer":
                core.transfer(cid, ids[0] if ids else "sip:c@10.0.0.3", now)
            elif verb == "codecs":
                core.set_codecs(cid, (PCMU,), now)
            elif verb == "mark":
                core.mark(cid)
            elif verb == "clear":
                core.clear(cid)
            elif verb == "drain":
                core.drain(now)
        except LocalProtocolError:
            pass

    t = 0.0
    for verb, side, k, delay in steps:
        t += delay
        app = apps[int(side)]
        net.at(t, lambda now, v=verb, a=app, k=k: act(v, a, k, now))
    net.run(until=t + 40.0)
    for app in apps:
        for cid in app.core.calls:  # anything left can still be hung up cleanly
            app.core.hangup(cid, net.now)
            net.poke(app.node.node)
    net.run(until=net.now + 40.0)
    assert apps[0].core.calls == [] and apps[1].core.calls == []
