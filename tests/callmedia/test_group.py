"""CallMediaGroup: one clock and batched resampling for many calls gives exactly the audio
and packets of calls run one by one."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, CallMediaGroup, Drained
from rvoip_sansio.codecs import BatchResampler, CodecError
from rvoip_sansio.codecs import Resampler

from .helpers import A, B, peak_frequency, tone


@pytest.mark.parametrize("rates", [(16000, 8000, 320), (8000, 16000, 160),
                                   (44100, 8000, 882), (8000, 48000, 160)])
def test_batch_resampler_bit_identical_to_codecs_resampler(rates: tuple[int, int, int]) -> None:
    rin, rout, fi = rates
    rng = np.random.default_rng(2)
    b = BatchResampler(rin, rout, fi)
    slots = [b.allocate() for _ in range(12)]   # more than the initial capacity
    refs = [Resampler(rin, rout) for _ in slots]
    for _ in range(20):
        act = [i for i in range(12) if rng.random() < 0.7]
        fr = [(rng.standard_normal(fi) * 12000).clip(-32768, 32767).astype(np.int16)
              for _ in act]
        out = b.process([slots[i] for i in act], fr)
        for j, i in enumerate(act):
            assert np.array_equal(out[:, j], refs[i].process(fr[j]))
    # A released slot comes back clean: no audio of the previous call leaks into the next.
    b.release(slots[3])
    s = b.allocate()
    z = b.process([s], [np.zeros(fi, np.int16)])
    assert not z.any()


def _run(grouped: bool, packets: list[tuple[float, bytes]], pcm: np.ndarray
         ) -> tuple[list[np.ndarray], list[bytes], list[int]]:
    m = CallMedia(config=CallMediaConfig(remote_rtp=A, rate=16000, receive_queue_frames=10**5),
                  rng=random.Random(5), now=0.0)
    others = [CallMedia(config=CallMediaConfig(remote_rtp=A), rng=random.Random(i), now=0.0)
              for i in range(3)]
    g = CallMediaGroup(now=0.0)
    if grouped:
        for o in (others[0], m, *others[1:]):
            g.add(o)
        for o in others:
            o.write(tone(300, 16000, 1.0))
    m.write(pcm)
    mark = m.mark()
    sent: list[bytes] = []
    t = 0.0
    pi = 0
    while t <= 2.0 + 1e-9:
        while pi < len(packets) and packets[pi][0] <= t:
            m.receive(packets[pi][1], A, packets[pi][0])
            pi += 1
        (g if grouped else m).handle_timeout(t)
        m.handle_timeout(t)
        sent += [d.data for d in m.datagrams_to_send(t) if len(d.data) == 172]
        t = round(t + 0.01, 6)
    frames = []
    while (f := m.read_frame()) is not None:
        frames.append(f.samples)
    drained = [e.mark for e in iter(m.next_event, None) if isinstance(e, Drained)]
    return frames, sent, drained + [mark]


def test_group_gives_the_same_audio_and_packets_as_single_calls() -> None:
    src = CallMedia(config=CallMediaConfig(remote_rtp=B, rate=8000), rng=random.Random(9),
                    now=0.0)
    src.write(tone(1000, 8000, 1.5))
    packets = []
    for k in range(100):
        src.handle_timeout(k * 0.02)
        packets += [(k * 0.02 + 0.025, d.data) for d in src.datagrams_to_send(k * 0.02)]
    pcm = tone(440, 16000, 1.0)
    f1, s1, d1 = _run(False, packets, pcm)
    f2, s2, d2 = _run(True, packets, pcm)
    assert len(f1) == len(f2) > 90
    assert all(np.array_equal(a, b) for a, b in zip(f1, f2))
    assert [p[12:] for p in s1] == [p[12:] for p in s2]  # same payloads (SSRC/seq random)
    assert d1 == d2 and len(d1) == 2
    x = np.concatenate(f2[20:80])
    assert peak_frequency(x, 16000) == pytest.approx(1000, abs=1.0)


def test_group_add_rules() -> None:
    g = CallMediaGroup(now=0.0)
    m = CallMedia(config=CallMediaConfig(remote_rtp=A), rng=random.Random(1), now=0.0)
    m.handle_timeout(0.0)
    with pytest.raises(LocalProtocolError):
        g.add(m)
    m2 = CallMedia(config=CallMediaConfig(remote_rtp=A), rng=random.Random(1), now=0.0)
    g.add(m2)
    assert g.next_deadline() == 0.0 and len(g) == 1
    g.remove(m2)
    assert g.next_deadline() is None


def test_group_g722_with_srtp_gcm_over_the_network() -> None:
    from rvoip_sansio.callmedia import SrtpKeys
    from rvoip_sansio.sim import LinkConfig
    from rvoip_sansio.srtp import SrtpPolicy

    from .helpers import drain_frames, pair, rms

    ka, kb = bytes(range(28)), bytes(range(1, 29))
    p = "AEAD_AES_128_GCM"
    net, a, b = pair(seed=12, rtpmap="G722/8000", payload_type=9,
                     link=LinkConfig(delay=0.02, jitter=0.005, loss=0.01),
                     a_kw={"srtp": SrtpKeys(tx=SrtpPolicy.from_key(p, ka),
                                            rx=SrtpPolicy.from_key(p, kb))},
                     b_kw={"srtp": SrtpKeys(tx=SrtpPolicy.from_key(p, kb),
                                            rx=SrtpPolicy.from_key(p, ka)), "rate": 48000})
    g = CallMediaGroup(now=0.0)
    g.add(b)    # B's ticks come from the group: 16 kHz G.722 <-> 48 kHz app, batched

    def clock(now: float) -> None:  # the adapter's one timer for the whole group
        g.handle_timeout(now)
        net.poke(net.node("b"))     # send what the tick produced
        d = g.next_deadline()
        assert d is not None
        net.at(d, clock)

    net.at(0.0, clock)
    a.write(tone(1000, 16000, 2.0))
    b.write(tone(440, 48000, 2.0))
    net.run(until=2.5)
    xb = np.concatenate([f.samples for f in drain_frames(b)
                         if f.flags.is_speech and rms(f.samples) > 500])
    xa = np.concatenate([f.samples for f in drain_frames(a)
                         if f.flags.is_speech and rms(f.samples) > 500])
    assert peak_frequency(xb, 48000) == pytest.approx(1000, abs=1.0)
    assert peak_frequency(xa, 16000) == pytest.approx(440, abs=1.0)
    assert a.health().srtp_errors == b.health().srtp_errors == 0


def test_group_clock_does_not_drift() -> None:
    """Five simulated minutes, a late and irregular timer: exact packet and sample counts."""
    from rvoip_sansio.rtp import parse_rtp_header

    rng = random.Random(3)
    g = CallMediaGroup(now=50.0)
    calls = [CallMedia(config=CallMediaConfig(remote_rtp=A, rate=16000, send_queue_frames=60),
                       rng=random.Random(i), now=50.0) for i in range(3)]
    for m in calls:
        g.add(m)
    chunk = tone(440, 16000, 0.4)
    sent = [0] * 3
    spans: list[list[int]] = [[], [], []]
    samples = [0] * 3
    now = 50.0
    while now < 50.0 + 300.0:
        for i, m in enumerate(calls):
            if m.room() >= len(chunk):
                m.write(chunk)
        g.handle_timeout(now)
        for i, m in enumerate(calls):
            for d in m.datagrams_to_send(now):
                if len(d.data) == 172:
                    sent[i] += 1
                    spans[i].append(parse_rtp_header(d.data)[3])
            while (f := m.read_frame()) is not None:
                samples[i] += len(f.samples)
        d = g.next_deadline()
        assert d is not None
        now = d + rng.random() * 0.008
    ticks = 300 * 50
    assert sent == [ticks] * 3
    assert all((s[-1] - s[0]) % 2**32 == (ticks - 1) * 160 for s in spans)
    assert samples == [ticks * 320] * 3
    assert all(m.health().idle_ticks == 0 for m in calls)


def test_batch_resampler_refuses_frames_of_a_fractional_output_length() -> None:
    with pytest.raises(CodecError):
        BatchResampler(44100, 48000, 100)   # 100 · 160/147 is not whole
    with pytest.raises(CodecError):
        BatchResampler(8000, 16000, 0)
