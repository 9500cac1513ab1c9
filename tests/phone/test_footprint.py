"""What an established call keeps for its whole life is walked by the garbage collector on
every full collection (at hundreds of calls a full pass is tens of milliseconds, long enough
to make media late): after set-up no parsed SDP, no pending SDES offer and no waiting
AudioFrame object may stay reachable from a call's state. The call must still work after
that: a re-INVITE (hold/resume) and DTMF both ways go through on the compact state."""

from __future__ import annotations

import gc
import types

from rvoip_sansio.callmedia import AudioFrame, SdesOffer
from rvoip_sansio.phone import CallAnswered, CallHeld, CallResumed, DtmfReceived, SrtpMode
from rvoip_sansio.sdp import Attribute, MediaDescription, SessionDescription

from .helpers import ALICE, BOB, App, network, tone

_SKIP = (type, types.ModuleType, types.FunctionType, types.CodeType)


def _kept(root: object, stop: tuple[type, ...]) -> list[object]:
    """Objects reachable from ``root`` (not through ``stop`` instances: the shared UA/core)."""
    seen, todo, out = {id(root)}, [root], []
    while todo:
        for r in gc.get_referents(todo.pop()):
            if id(r) in seen or isinstance(r, _SKIP) or isinstance(r, stop):
                continue
            seen.add(id(r))
            out.append(r)
            todo.append(r)
    return out


def test_an_established_call_keeps_no_parsed_sdp_and_still_works() -> None:
    net = network()
    alice = App(net, "alice", ALICE, seed=1, srtp=SrtpMode.SDES, rate=8000)
    bob = App(net, "bob", BOB, seed=2, srtp=SrtpMode.SDES, auto_answer=True, rate=8000)
    ids: list[str] = []
    alice.call(0.0, "sip:bob@10.0.0.2", ids)
    net.run_until(lambda: bool(alice.events(CallAnswered)), 5)
    cid = ids[0]
    alice.core.write(cid, tone(440, 8000, 0.5))
    net.run(until=net.now + 0.3)  # frames wait in bob's receive queue, unread
    gc.collect()
    for app in (alice, bob):
        core = app.core
        pc = core._pc(cid)
        stop = (type(core), type(pc.call.ua))
        kept = _kept(pc, stop)
        bad = [type(o).__name__ for o in kept
               if isinstance(o, (SessionDescription, MediaDescription, Attribute, SdesOffer))]
        assert bad == [], f"{app.node.name} keeps {bad}"
        assert not any(isinstance(o, AudioFrame) for o in kept)
        # What stays is walked on every full collection: the parsed-SDP models alone were
        # ~73 objects per call-end (tests/sdp covers NegotiatedSession's lazy models).
        assert pc.call.media is not None and pc.call.media.audio is not None
    # The compact state still carries a hold/resume re-INVITE and DTMF (RFC 4733).
    alice.act(net.now, lambda core, now: core.hold(cid, now))
    net.run(until=net.now + 1.0)
    alice.act(net.now, lambda core, now: core.resume(cid, now))
    net.run(until=net.now + 1.0)
    assert bob.events(CallHeld) and bob.events(CallResumed)
    alice.act(net.now, lambda core, now: core.send_dtmf(cid, "15", now))
    net.run(until=net.now + 1.5)
    assert "".join(e.digit for e in bob.events(DtmfReceived)) == "15"
