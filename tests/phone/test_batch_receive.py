"""``PhoneCore.media_receive_many``: the datagrams one adapter wake-up read from many RTP
sockets, fed at once, give exactly what feeding them one by one gives (simulated time)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rvoip_sansio import Address
from rvoip_sansio.phone import CallAnswered, PhoneCore
from rvoip_sansio.sim import LinkConfig, Network

from .helpers import ALICE, BOB, App, speech, tone


def _run(batched: bool) -> tuple[list[Any], list[str], int]:
    net = Network(seed=7, link=LinkConfig(delay=0.02, loss=0.02), record_trace=False)
    alice = App(net, "alice", ALICE, seed=1, receive_queue_frames=200)
    bob = App(net, "bob", BOB, seed=2, auto_answer=True, receive_queue_frames=200)
    pending: list[tuple[Address, bytes, Address]] = []
    batches: list[int] = []
    if batched:  # what a MediaPump host does: every datagram of one instant in one call
        core: PhoneCore = bob.core
        one_by_one = core.media_receive

        def flush(now: float) -> None:
            batch = pending[:]
            pending.clear()
            batches.append(len(batch))
            core.media_receive_many(batch, now)

        def collect(local: Address, data: bytes, source: Address, now: float) -> None:
            if not pending:
                net.at(now, flush)
            pending.append((local, data, source))

        assert one_by_one is not None
        object.__setattr__(core, "media_receive", collect)
    ids: list[str] = []
    for i in range(6):
        alice.call(i * 0.01, "sip:bob@10.0.0.2", ids)
    net.run(until=1.0)
    assert len(alice.events(CallAnswered)) == 6
    for i, cid in enumerate(ids):
        alice.core.write(cid, tone(400 + 100 * i, 16000, 0.8))
    net.run(until=2.2)
    heard = [speech(bob.core, cid) for cid in ids]
    events = [type(e).__name__ for _, e in bob.node.events]
    return heard, events, max(batches, default=1)


def test_a_batch_gives_what_one_by_one_gives() -> None:
    heard_one, events_one, _ = _run(batched=False)
    heard_batch, events_batch, biggest = _run(batched=True)
    assert biggest >= 4  # several calls' datagrams really arrived in one batch
    assert events_batch == events_one
    for a, b in zip(heard_one, heard_batch):
        assert len(a) > 16000 // 2 and np.array_equal(a, b)


def test_datagrams_for_unknown_sockets_are_counted_and_dropped() -> None:
    net = Network(seed=1, link=LinkConfig(delay=0.02), record_trace=False)
    bob = App(net, "bob", BOB, seed=2)
    bob.core.media_receive_many([(("10.0.0.2", 1), b"\x80" * 20, ALICE), (("10.0.0.2", 2), b"", ALICE)], 0.0)
    assert bob.core.media_dropped == 2 and bob.core.next_event() is None
