"""Send queue and receive queue behaviour in simulated time: barge-in, drained markers,
backpressure and drop counters (exact), pause/mute, inactivity timeout, clock drift."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio.callmedia import (
    AudioFlags, BackpressureChanged, CallMedia, CallMediaConfig, Drained, IdleMode, SendPolicy,
)
from rvoip_sansio.codecs import ulaw_decode
from rvoip_sansio.media import SpeechStarted
from rvoip_sansio.rtp import MediaTimeout, parse_rtp_header
from rvoip_sansio.sim import LinkConfig

from .helpers import A, drain_frames, pair, rms, tone


def _audio_packets(net, src=A):  # type: ignore[no-untyped-def]
    """(sent time, seq, ts, marker, rms of the decoded μ-law payload) of src's RTP audio."""
    out = []
    for t in net.trace:
        if t.src != src or len(t.data) != 172:
            continue
        pt, marker, seq, ts, _ssrc, s, e = parse_rtp_header(t.data)
        if pt == 0:
            out.append((t.sent, seq, ts, marker, rms(ulaw_decode(t.data[s:e]))))
    return out


@pytest.mark.parametrize("clear_at", [0.5, 0.51, 0.537, 1.2999])
def test_barge_in_leaks_at_most_one_frame(clear_at: float) -> None:
    net, a, b = pair(seed=1, link=LinkConfig(delay=0.03))
    a.write(tone(440, 16000, 3.0))
    m = a.mark()
    dropped = []
    net.at(clear_at, lambda now: dropped.append(a.clear()))
    net.run(until=2.0)
    pkts = _audio_packets(net)
    tone_pkts = [p for p in pkts if p[4] > 500]
    # Nothing with the tone leaves after clear(); the last tone packet left at the last tick
    # before it, so at most that one frame (20 ms) is still heard.
    assert tone_pkts[-1][0] <= clear_at
    assert clear_at - tone_pkts[-1][0] <= 0.02 + 1e-9
    assert all(p[4] == 0 for p in pkts if p[0] > clear_at)
    # Every tone packet sent was played at B, and nothing more: the leak is exactly the
    # frames already sent.
    heard = [f for f in drain_frames(b) if f.flags.is_speech and rms(f.samples) > 500]
    assert len(heard) == len(tone_pkts)
    assert dropped[0] == 150 - len(tone_pkts)
    assert a.health().frames_cleared == dropped[0]
    drained = [e for e in net.events("a") if isinstance(e, Drained)]
    assert drained == [Drained(mark=m, cleared=True, time=tone_pkts[-1][0])]


def test_drained_fires_exactly_when_last_frame_is_sent() -> None:
    net, a, b = pair(seed=2)
    a.write(tone(440, 16000, 0.5))      # 25 frames
    m1 = a.mark()
    a.write(tone(1000, 16000, 0.31))    # 15.5 frames: the last one is partial
    m2 = a.mark()
    net.run(until=1.5)
    pkts = [p for p in _audio_packets(net) if p[4] > 0]
    assert len(pkts) == 41
    node_events = net.node("a").events
    drained = {e.mark: (t, e) for t, e in node_events if isinstance(e, Drained)}
    assert set(drained) == {m1, m2}
    # Reported at the very tick that sent the last frame before the mark.
    assert drained[m1][0] == pkts[24][0] == drained[m1][1].time
    assert drained[m2][0] == pkts[40][0] == drained[m2][1].time
    assert not drained[m1][1].cleared
    # A mark with nothing queued is drained at once.
    m3 = a.mark()
    assert a.next_event() == Drained(mark=m3, cleared=False, time=a._last_tick)


def test_backpressure_reject_policy_counts_exactly() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=A, send_queue_frames=10, rate=16000),
                  rng=random.Random(1), now=0.0)
    # 10 frames of 160 samples at 8 kHz = 3200 samples at 16 kHz, exactly.
    assert m.room() == 3200
    assert m.write(tone(440, 16000, 1.0)) == 3200
    assert m.health().samples_rejected == 16000 - 3200
    assert m.write(tone(440, 16000, 0.1)) == 0
    m.handle_timeout(0.0)               # one tick sends one frame
    assert m.room() == 320
    assert m.write(np.ones(1000, np.int16)) == 320
    assert m.health().samples_rejected == 16000 - 3200 + 1600 + 680
    # A rate that does not divide evenly: 44.1 kHz -> 8 kHz.
    m2 = CallMedia(config=CallMediaConfig(remote_rtp=A, send_queue_frames=3, rate=44100),
                   rng=random.Random(1), now=0.0)
    n = m2.write(np.ones(10_000, np.int16))
    assert m2.tx.queued_frames == 3
    assert m2.room() == 0 and n == m2.tx._rs.samples_in  # type: ignore[union-attr]
    assert -(-n * 8000 // 44100) == 480


def test_backpressure_accept_all_policy_events() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=A, send_queue_frames=10,
                                         send_policy=SendPolicy.ACCEPT_ALL),
                  rng=random.Random(1), now=0.0)
    assert m.write(tone(440, 16000, 1.0)) == 16000   # 50 frames, all accepted
    assert m.next_event() == BackpressureChanged(active=True, queued_frames=50)
    t = 0.0
    released = None
    while released is None:
        m.handle_timeout(t)
        ev = m.next_event()
        if isinstance(ev, BackpressureChanged):
            released = (t, ev)
        t += 0.02
    # Released when 5 (half the bound) frames are left: after 45 ticks.
    assert released[1] == BackpressureChanged(active=False, queued_frames=5)
    assert released[0] == pytest.approx(44 * 0.02)


def test_slow_reader_loses_oldest_frames_counted_exactly() -> None:
    net, a, b = pair(seed=3, b_kw={"receive_queue_frames": 7, "rate": 8000, "frame_ms": 10})
    a.write(tone(440, 16000, 1.0))
    net.run(until=1.0)
    h = b.health()
    frames = drain_frames(b)
    assert len(frames) == 7
    assert h.frames_delivered == 2 * 51       # 51 ticks of 20 ms, two 10 ms frames each
    assert h.frames_dropped == h.frames_delivered - 7
    # What is left is the newest, contiguous on the media clock.
    assert [f.index for f in frames] == [80 * i for i in range(102 - 7, 102)]


def test_no_drift_over_a_simulated_hour() -> None:
    """An hour of ticks driven by a late, irregular caller: exact packet and sample counts."""
    rng = random.Random(9)
    m = CallMedia(config=CallMediaConfig(remote_rtp=A, rate=8000, idle=IdleMode.SILENCE,
                                         send_queue_frames=100),
                  rng=random.Random(1), now=1000.0)
    chunk = tone(440, 8000, 0.5)
    packets = 0
    first = last = None
    now = 1000.0
    delivered = 0
    written = 0
    while now < 1000.0 + 3600.0:
        if m.room() >= len(chunk):
            written += m.write(chunk)
        m.handle_timeout(now)
        for t in m.datagrams_to_send(now):
            if len(t.data) == 172:
                packets += 1
                ts = parse_rtp_header(t.data)[3]
                first = ts if first is None else first
                last = ts
        while (f := m.read_frame()) is not None:
            delivered += len(f.samples)
        # The adapter wakes at the deadline plus 0..8 ms of scheduling lateness.
        d = m.next_deadline()
        assert d is not None
        now = d + rng.random() * 0.008
    ticks = 3600 * 50    # ticks at 1000 + n·0.02 s for n = 0 .. 179999 (< 1000 + 3600)
    assert m.media_time == pytest.approx(ticks * 0.02)
    assert packets == ticks                                # one packet per 20 ms, no more
    assert (last - first) % 2**32 == (ticks - 1) * 160     # RTP clock = sample count
    assert delivered == ticks * 160                        # receive clock too
    h = m.health()
    assert h.frames_sent + h.send_queue_frames == written // 160
    assert h.idle_ticks == 0 and h.ticks_skipped == 0


def test_stalled_caller_skips_ticks_and_keeps_the_clock() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=A, max_catchup=0.1),
                  rng=random.Random(1), now=0.0)
    m.handle_timeout(0.0)
    m.handle_timeout(1.0)           # a 1 s stall: only the newest 0.1 s of ticks run
    pk = [parse_rtp_header(t.data) for t in m.datagrams_to_send(1.0) if len(t.data) == 172]
    assert len(pk) == 1 + 5
    assert m.health().ticks_skipped == 45
    assert (pk[1][3] - pk[0][3]) % 2**32 == 46 * 160   # the timestamp jumped by the gap
    assert m.media_time == pytest.approx(1.02)


def test_pause_holds_the_queue_and_mute_sends_silence() -> None:
    net, a, b = pair(seed=4)
    a.write(tone(440, 16000, 1.0))
    net.at(0.2, lambda now: a.pause())
    net.at(0.5, lambda now: a.resume())
    net.at(0.7, lambda now: a.mute())
    net.at(0.9, lambda now: a.mute(False))
    net.run(until=2.0)
    pkts = _audio_packets(net)
    paused = [p for p in pkts if 0.2 < p[0] < 0.5]
    assert paused == []
    resumed = next(p for p in pkts if p[0] >= 0.5)
    assert resumed[3]                                  # marker: a new talk spurt
    muted = [p for p in pkts if 0.7 < p[0] < 0.9]
    assert len(muted) == 10 and all(p[4] == 0 for p in muted)
    # Pause kept the queue (15 frames held), mute consumed it (10 frames silent).
    tone_pkts = [p for p in pkts if p[4] > 500]
    assert len(tone_pkts) == 50 - 10


def test_idle_nothing_and_comfort_noise() -> None:
    net, a, b = pair(seed=5, a_kw={"idle": IdleMode.COMFORT_NOISE})
    a.write(tone(440, 16000, 0.2))
    net.run(until=1.2)
    cn = [t for t in net.trace if t.src == A and len(t.data) == 13]
    # RFC 3389: one SID when the pause starts, then every 200 ms.
    assert [round(t.sent, 6) for t in cn] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    assert not [t for t in net.trace if t.src == A and len(t.data) == 172 and t.sent > 0.19]
    assert parse_rtp_header(cn[0].data)[0] == 13
    frames = drain_frames(b)
    assert any(f.flags & AudioFlags.COMFORT_NOISE for f in frames)


def test_inactivity_timeout() -> None:
    net, a, b = pair(seed=6, a_kw={"idle": IdleMode.NOTHING},
                     b_kw={"inactivity_timeout": 5.0})
    a.write(tone(440, 16000, 1.0))
    net.run(until=8.0)
    ev = [(t, e) for t, e in net.node("b").events if isinstance(e, MediaTimeout)]
    assert len(ev) == 1
    assert ev[0][0] == pytest.approx(1.0 + 0.02 + 5.0, abs=0.03)


def test_vad_speech_started_for_barge_in() -> None:
    net, a, b = pair(seed=7, b_kw={"vad": True})
    a.write(np.zeros(16000, np.int16))
    a.write(tone(300, 16000, 0.6, 6000))
    net.run(until=2.5)
    started = [t for t, e in net.node("b").events if isinstance(e, SpeechStarted)]
    assert started and 1.0 < started[0] < 1.2


def test_hold_direction_change() -> None:
    net, a, b = pair(seed=9)
    a.write(tone(440, 16000, 2.0))
    net.at(0.5, lambda now: a.set_direction(send=False, receive=True))   # a holds b
    net.at(1.0, lambda now: a.set_direction(send=True, receive=True))
    net.run(until=2.0)
    pkts = _audio_packets(net)
    assert not [p for p in pkts if 0.5 < p[0] < 1.0]
    after = [p for p in pkts if p[0] >= 1.0]
    assert after[0][3]                                   # marker after the hold
    # The held half second was consumed, not delayed: 75 tone frames remain, not 100.
    assert len([p for p in pkts if p[4] > 500]) == 100 - 25


def test_written_audio_is_copied_so_the_caller_may_reuse_its_buffer() -> None:
    """write() at the codec's own rate (no resampler in between) used to queue views of the
    caller's array: an application refilling one buffer would have sent what it held at tick
    time. What goes out must be what was written."""
    import random as _random

    import numpy as _np

    from rvoip_sansio.callmedia import CallMedia, CallMediaConfig
    from rvoip_sansio.codecs import get_codec

    media = CallMedia(config=CallMediaConfig(rtpmap="PCMU/8000", payload_type=0, rate=8000,
                                             remote_rtp=("127.0.0.1", 40000)),
                      rng=_random.Random(1), now=0.0)
    buf = _np.full(160 * 3, 1000, _np.int16)
    assert media.write(buf) == buf.size
    buf[:] = -1000                                   # the app reuses its buffer at once
    payloads = []
    t = 0.0
    while len(payloads) < 5 and t < 1.0:
        media.handle_timeout(t)
        payloads += [d.data[12:] for d in media.datagrams_to_send(t) if d.data[1] & 0x7F == 0]
        t = media.next_deadline() or t + 0.02
    pcmu = get_codec("PCMU")
    frames = [pcmu.decode(p) for p in payloads]
    assert min(f.min() for f in frames) >= 0, "the queued audio changed after write() returned"
    # every written sample went out as written (the send path delays them by a few samples)
    assert sum(int((f > 900).sum()) for f in frames) == buf.size


def test_hot_path_audio_frame_is_the_attrs_constructed_one() -> None:
    # The receive path builds frames with _records._new_audio_frame (slots set directly,
    # for speed): the object must be exactly what AudioFrame(...) makes.
    import attrs

    from rvoip_sansio.callmedia import AudioFlags, AudioFrame
    from rvoip_sansio.callmedia._records import _new_audio_frame

    fields = {"samples": np.arange(3, dtype=np.int16), "rate": 8000, "index": 160,
              "time": 1.5, "rtp_timestamp": 0xFFFFFFFF, "flags": AudioFlags.CONCEALED}
    assert [f.name for f in attrs.fields(AudioFrame)] == list(fields)  # a new field: update it
    made = _new_audio_frame(*fields.values())
    reference = AudioFrame(**fields)  # type: ignore[arg-type]
    assert type(made) is AudioFrame
    assert all(getattr(made, n) is getattr(reference, n) is v for n, v in fields.items())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.rate = 16000  # type: ignore[misc]


def test_frames_waiting_to_be_read_are_nothing_for_the_garbage_collector() -> None:
    # A frame waits up to the application's read period; at hundreds of calls, waiting
    # AudioFrame objects were promoted to the collector's old generation and triggered its
    # full passes. What waits must be untracked once a young collection has seen it.
    import gc

    from rvoip_sansio.callmedia import AudioFrame

    net, a, b = pair(seed=3)
    a.write(tone(440, 16000, 0.5))
    net.run(until=0.4)
    gc.collect(0)
    waiting = list(b.rx.queue)
    assert len(waiting) >= 10 and not any(gc.is_tracked(w) for w in waiting)
    frames = drain_frames(b)
    assert len(frames) == len(waiting) and all(type(f) is AudioFrame for f in frames)
    assert [f.index for f in frames] == [i * 320 for i in range(len(frames))]  # contiguous
    assert all(f.rate == 16000 and len(f.samples) == 320 for f in frames)
    assert any(f.flags.is_speech and rms(f.samples) > 1000 for f in frames)
