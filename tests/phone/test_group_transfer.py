"""A transferred call's first frames with the shared media clock (``media_group=True``) and
with one clock per call: the call set up by a transfer starts with a -12 dBm0 tone written at
its first instant at both ends, while the transferee's group still runs the old call (PCMU
after a re-offer, so 8 kHz resampled slots and a 16 kHz G.722 call share the group) and
the old call leaves the group (its slots freed) while the new one runs. Timers fire up to
15 ms late, as on a loaded event loop (ticks caught up, members joining between ticks).

Every received frame of the transferred call is measured at both ends: no frame louder than
the tone + 6 dB (a full-scale burst is ~+13 dB), the settled tone at -12 dBm0 within 1 dB,
and the same with either driving."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from rvoip_sansio.media import dbm0_to_rms, tone
from rvoip_sansio.phone import CallAnswered, IncomingCall, TransferProgress, TransferRequested
from rvoip_sansio.sdp import PCMU
from rvoip_sansio.sim import LinkConfig, Network

from .helpers import ALICE, BOB, CAROL, App, rms

LEVEL = -12.0
TONE_RMS = dbm0_to_rms(LEVEL)


class _LateTimer:
    """The adapter's one timer, waking 0-15 ms after the core's deadline."""

    def __init__(self, core: Any, rng: random.Random) -> None:
        self.core, self.rng = core, rng

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    def next_deadline(self) -> float | None:
        d = self.core.next_deadline()
        return None if d is None else d + self.rng.uniform(0.0, 0.015)


def _transferred_call(group: bool, attended: bool, seed: int) -> dict[str, list[Any]]:
    net = Network(seed=seed, link=LinkConfig(delay=0.0137, jitter=0.003))
    kw = {"media_group": group, "receive_queue_frames": 500}
    alice = App(net, "alice", ALICE, seed=1, **kw)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, **kw)
    carol = App(net, "carol", CAROL, seed=3, auto_answer=True, **kw)
    late = random.Random(seed)
    for app in (alice, bob, carol):
        app.node.core = _LateTimer(app.core, late)  # type: ignore[assignment]
    first: list[str] = []
    consult: list[str] = []
    new: list[str] = []
    alice.call(0.0013, "sip:bob@10.0.0.2", first)
    alice.act(0.5031, lambda core, now: core.set_codecs(first[0], (PCMU,), now))
    if attended:
        bob.call(1.0071, "sip:carol@10.0.0.3", consult)

    def at_alice(e: object, now: float) -> None:
        if isinstance(e, TransferRequested):
            new.append(alice.core.follow_transfer(e.call_id, now, rtp=alice.node.bind()))
        elif isinstance(e, CallAnswered) and e.call_id in new:
            alice.core.write(e.call_id, tone(440.0, 16000, 1.0, level_dbm0=LEVEL))

    def at_carol(e: object, now: float) -> None:  # answered already (auto): media is up
        if isinstance(e, IncomingCall) and e.call_id in new:
            carol.core.write(e.call_id, tone(1000.0, 16000, 1.0, level_dbm0=LEVEL))

    def at_bob(e: object, now: float) -> None:
        if isinstance(e, TransferProgress) and e.final and e.status_code == 200:
            bob.core.hangup(e.call_id, now)

    alice.hooks.append(at_alice)
    carol.hooks.append(at_carol)
    bob.hooks.append(at_bob)
    bob.act(2.0049, lambda core, now: core.transfer(
        first[0], consult[0] if attended else "sip:carol@10.0.0.3", now))
    net.run(until=3.8)
    assert len(new) == 1 and new[0] in alice.core.calls and new[0] in carol.core.calls
    assert first[0] not in alice.core.calls  # the old call left the group meanwhile
    assert alice.core.media(new[0]).config.rtpmap == "G722/8000"  # type: ignore[union-attr]
    return {who: [f for f in iter(lambda: app.core.read_frame(new[0]), None)]
            for who, app in (("carol", carol), ("alice", alice))}


@pytest.mark.parametrize("attended", [False, True])
def test_transferred_call_starts_at_the_tone_level_grouped_or_not(attended: bool) -> None:
    settled = {}
    for group in (True, False):
        heard = _transferred_call(group, attended, seed=4 + attended)
        for who, frames in heard.items():
            levels = [rms(f.samples) for f in frames]
            loud = [i for i, x in enumerate(levels) if x > TONE_RMS / 4]  # the onset
            assert loud and len(frames) > 40, (group, who)
            assert max(levels) < 2.0 * TONE_RMS, (group, who, [round(x) for x in levels[:12]])
            tone_frames = np.concatenate([f.samples for f in frames[loud[0] + 5:loud[0] + 40]])
            settled[group, who] = 20 * np.log10(rms(tone_frames) / TONE_RMS)
            assert abs(settled[group, who]) < 1.0, (group, who, settled[group, who])
    for who in ("carol", "alice"):
        assert abs(settled[True, who] - settled[False, who]) < 0.5
