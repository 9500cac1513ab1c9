"""RtpSession: sender fields, symmetric latching and re-latching, SSRC collision and loop,
malformed input, inactivity timeout, SR/RR/RTT, BYE, determinism."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import Event, Transmit
from rvoip_sansio.rtp import (
    ActiveSourceChanged,
    Bye,
    ByeReceived,
    GenericNack,
    LoopDetected,
    MediaResumed,
    MediaTimeout,
    PacketDiscarded,
    QualityUpdated,
    ReceiverReport,
    RemoteAddressLatched,
    RtcpReceived,
    RtpPacket,
    RtpSession,
    RtpSessionConfig,
    SenderReport,
    SourceDescription,
    SourceValidated,
    SsrcCollision,
    build_rtp,
    parse_rtcp,
)

A = ("192.0.2.1", 4000)
B = ("192.0.2.2", 5000)


def _events(s: RtpSession) -> list[Event]:
    out = []
    while (e := s.next_event()) is not None:
        out.append(e)
    return out


def _session(seed: int = 1, **kw: object) -> RtpSession:
    return RtpSession(config=RtpSessionConfig(**kw), rng=random.Random(seed), now=0.0)  # type: ignore[arg-type]


def test_sender_fields_and_marker_on_talkspurt() -> None:
    s = _session(remote_rtp=B)
    assert s.next_sequence < 2**15  # initial sequence number below 2^15
    ts0, seq0 = s.next_timestamp, s.next_sequence
    s.send_audio(b"a" * 160, 0.0)
    s.send_audio(b"b" * 160, 0.02)
    s.skip(160 * 10)  # DTX
    s.send_audio(b"c" * 160, 0.24)
    pkts = [RtpPacket.parse(t.data) for t in s.datagrams_to_send(0.3)]
    assert [p.marker for p in pkts] == [True, False, True]
    assert [p.sequence_number for p in pkts] == [seq0, seq0 + 1, seq0 + 2]
    assert [p.timestamp for p in pkts] == [ts0, ts0 + 160, ts0 + 160 * 12]
    assert {p.ssrc for p in pkts} == {s.ssrc}
    # deterministic: same seed, same bytes
    s2 = _session(remote_rtp=B)
    assert (s2.ssrc, s2.next_sequence, s2.next_timestamp) == (s.ssrc, seq0, ts0)


def _rtp(seq: int, ssrc: int = 0x1234, ts: int | None = None) -> bytes:
    return build_rtp(0, False, seq & 0xFFFF, (160 * seq if ts is None else ts) & 0xFFFFFFFF,
                     ssrc, b"\xff" * 160)


def test_latches_to_first_valid_source_then_relatches_by_rule() -> None:
    s = _session(remote_rtp=("198.51.100.9", 7000), relatch_packets=5, relatch_silence=0.5)
    nat = ("203.0.113.5", 31000)
    for i in range(3):
        s.receive(_rtp(i), nat, i * 0.02)
    ev = _events(s)
    assert RemoteAddressLatched(address=nat, previous=("198.51.100.9", 7000)) in ev
    assert s.remote_address == nat
    s.send_audio(b"x", 0.1)
    assert s.datagrams_to_send(0.1)[0].dest == nat  # symmetric: we answer where it came from
    # a stray packet stream from elsewhere while the latched address keeps talking: no move
    other = ("203.0.113.5", 31002)
    t = 0.1
    for i in range(3, 41):
        t += 0.02
        s.receive(_rtp(i), other if i % 2 else nat, t)
    assert s.remote_address == nat
    # the peer moves port (NAT rebinding): after 5 packets and 0.5 s of silence we follow
    t += 0.6
    for i in range(41, 45):
        s.receive(_rtp(i), other, t)
        t += 0.02
    assert s.remote_address == nat  # only 4 consecutive so far
    s.receive(_rtp(45), other, t)
    assert s.remote_address == other
    assert [e for e in _events(s) if isinstance(e, RemoteAddressLatched)][-1].address == other


def test_no_latching_when_disabled() -> None:
    s = _session(remote_rtp=B, latch=False)
    for i in range(5):
        s.receive(_rtp(i), A, i * 0.02)
    assert s.remote_address == B


def test_ssrc_collision_then_loop() -> None:
    s = _session(remote_rtp=B)
    s.send_audio(b"x", 0.0)
    mine = s.datagrams_to_send(0.0)[0].data
    old = s.ssrc
    s.receive(mine, A, 0.01)  # our SSRC from elsewhere: collision (RFC 3550 §8.2)
    ev = _events(s)
    coll = [e for e in ev if isinstance(e, SsrcCollision)]
    assert coll and coll[0].old_ssrc == old and s.ssrc != old
    bye_dg = s.datagrams_to_send(0.01)
    assert any(isinstance(p, Bye) and p.sources == (old,) for p in parse_rtcp(bye_dg[0].data))
    # our (old-SSRC) packets keep coming from the same address: a loop, not a new collision
    s.receive(mine, A, 0.02)
    assert [type(e) for e in _events(s)] == []  # old SSRC is now just a remote source
    s.send_audio(b"y", 0.03)
    s.receive(s.datagrams_to_send(0.03)[0].data, A, 0.04)
    assert any(isinstance(e, LoopDetected) for e in _events(s))


def test_malformed_input_is_counted_never_raised() -> None:
    s = _session(remote_rtp=B)
    for bad in (b"", b"\x00", b"\x40" * 20, b"\x80\xc8\x00\x09" + b"\x00" * 8,
                bytes.fromhex("83000001000000a0deadbeef"), bytes.fromhex("81c90001")):
        s.receive(bad, A, 0.0)
    ev = _events(s)
    assert all(isinstance(e, PacketDiscarded) for e in ev) and len(ev) == 6
    assert s.malformed == 6 and s.quality_report(0.0).malformed == 6


def test_inactivity_timeout_and_resume() -> None:
    s = _session(remote_rtp=B, inactivity_timeout=5.0, rtcp_min_interval=100.0)
    s.receive(_rtp(0), A, 0.0)
    s.receive(_rtp(1), A, 0.02)
    _events(s)
    assert s.next_deadline() == pytest.approx(5.02)
    s.handle_timeout(5.02)
    ev = _events(s)
    assert ev == [MediaTimeout(timeout=5.0, last_received=0.02)]
    s.receive(_rtp(2), A, 7.0)
    assert MediaResumed() in _events(s)


def _exchange(a: RtpSession, b: RtpSession, until: float, delay: float = 0.025) -> list[Event]:
    """Two sessions, 20 ms audio both ways, RTCP on the timers, one-way ``delay``."""
    in_flight: list[tuple[float, RtpSession, Transmit, tuple[str, int]]] = []
    events: list[Event] = []
    t = 0.0
    while t < until:
        for s, src in ((a, A), (b, B)):
            s.send_audio(b"\xd5" * 160, t)
            d = s.next_deadline()
            if d is not None and d <= t:
                s.handle_timeout(t)
            for tr in s.datagrams_to_send(t):
                in_flight.append((t + delay, b if s is a else a, tr, src))
        for item in [x for x in in_flight if x[0] <= t]:
            in_flight.remove(item)
            item[1].receive(item[2].data, item[3], item[0])
        events += _events(b)
        t = round(t + 0.02, 6)
    return events


def test_sr_rr_and_rtt_from_lsr_dlsr() -> None:
    a = RtpSession(config=RtpSessionConfig(remote_rtp=B), rng=random.Random(1), now=0.0,
                   wallclock_offset=1.7e9)
    b = RtpSession(config=RtpSessionConfig(remote_rtp=A), rng=random.Random(2), now=0.0,
                   wallclock_offset=1.7e9 + 0.3)  # a different wall clock must not matter
    ev = _exchange(a, b, 30.0, delay=0.025)
    rtcp = [e for e in ev if isinstance(e, RtcpReceived)]
    assert rtcp
    first = rtcp[-1].packets
    assert isinstance(first[0], SenderReport) and isinstance(first[1], SourceDescription)
    assert first[1].cname(a.ssrc) == a.cname.encode()
    assert a.rtt == pytest.approx(0.050, abs=0.002)
    assert b.rtt == pytest.approx(0.050, abs=0.002)
    q = b.quality_report(30.0)
    assert q.rtt_ms == pytest.approx(50, abs=2) and q.loss_percent == 0.0
    assert q.remote_loss_percent == 0.0
    assert 4.2 < q.mos < 4.42
    assert any(isinstance(e, QualityUpdated) for e in ev)
    assert [e for e in ev if isinstance(e, SourceValidated)][0].ssrc == a.ssrc


def test_receive_only_side_sends_rr_and_xr() -> None:
    s = _session(remote_rtp=B, send_xr=True)
    for i in range(200):
        s.receive(_rtp(i), B, i * 0.02)
        s.pop_frame(i * 0.02)
    t = s.next_deadline()
    assert t is not None and t < 10
    s.handle_timeout(max(t, 4.0) if t < 4.0 else t)
    out = s.datagrams_to_send(t)
    pkts = parse_rtcp(out[-1].data)
    assert isinstance(pkts[0], ReceiverReport) and pkts[0].reports[0].ssrc == 0x1234
    assert pkts[2].blocks[0].ssrc == 0x1234  # type: ignore[union-attr]


def test_feedback_and_bye() -> None:
    s = _session(remote_rtp=B)
    s.send_rtcp([GenericNack.from_lost(s.ssrc, 0x1234, [5, 6])], 1.0)
    s.send_rtcp([GenericNack.from_lost(s.ssrc, 0x1234, [7])], 1.0, reduced_size=True)
    full, reduced = s.datagrams_to_send(1.0)
    assert isinstance(parse_rtcp(full.data)[-1], GenericNack)
    assert len(parse_rtcp(reduced.data, reduced_size=True)) == 1
    s.close(2.0, reason=b"bye")
    (dg,) = s.datagrams_to_send(2.0)
    assert parse_rtcp(dg.data)[-1] == Bye(sources=(s.ssrc,), reason=b"bye")
    assert s.next_deadline() is None
    # a peer's BYE is reported
    r = _session(seed=3, remote_rtp=A)
    for i in range(3):
        r.receive(_rtp(i), B, 0.02 * i)
    r.receive(dg.data, B, 3.0)
    assert ByeReceived(ssrc=s.ssrc, reason=b"bye") in _events(r)


def test_report_still_counts_a_played_source_after_its_bye() -> None:
    # RFC 3550 §6.3.7 removes a BYE's source from the member table, but what was received
    # from it stays received: a call's last report (read after the peer hung up, or by a
    # host whose loop ran late) must not drop to zero. Seq 10..59 with seq 30 missing; A.1
    # probation counts from the second packet (its init_seq): 48 received of 49 expected.
    peer = _session(seed=5, remote_rtp=A)
    peer.send_audio(b"x" * 160, 0.0)
    peer.datagrams_to_send(0.0)
    peer.close(1.0, reason=b"done")
    (bye,) = peer.datagrams_to_send(1.0)
    r = _session(seed=6, remote_rtp=B)
    for i in range(50):
        if i != 20:
            r.receive(_rtp(10 + i, ssrc=peer.ssrc), B, 0.02 * i)
    before = r.quality_report(1.0)
    assert (before.packets_received, before.packets_expected, before.packets_lost) == (48, 49, 1)
    r.receive(bye.data, B, 1.5)
    assert ByeReceived(ssrc=peer.ssrc, reason=b"done") in _events(r)
    after = r.quality_report(2.0)
    assert (after.packets_received, after.packets_expected, after.packets_lost) == (48, 49, 1)
    assert r.source_stats(peer.ssrc) is None  # gone from the member table all the same
    # the same SSRC talking again starts a new source (RFC 3550 A.1 probation)
    for i in range(3):
        r.receive(_rtp(500 + i, ssrc=peer.ssrc), B, 3.0 + 0.02 * i)
    st = r.source_stats()
    assert st is not None and st is r.source_stats(peer.ssrc) and st.received == 2


def test_separate_rtcp_port_without_mux() -> None:
    s = _session(remote_rtp=("198.51.100.1", 6000), rtcp_mux=False)
    s.send_rtcp([GenericNack.from_lost(s.ssrc, 1, [1])], 0.0)
    assert s.datagrams_to_send(0.0) == []
    (t,) = s.rtcp_datagrams_to_send(0.0)
    assert t.dest == ("198.51.100.1", 6001)


def test_new_ssrc_takes_over_after_silence() -> None:
    s = _session(remote_rtp=B)
    for i in range(10):
        s.receive(_rtp(i, ssrc=1), B, 0.02 * i)
    for i in range(10):  # a second source while the first talks: ignored for playout
        s.receive(_rtp(100 + i, ssrc=2), B, 0.2 + 0.001 * i)
    for i in range(10):
        s.receive(_rtp(200 + i, ssrc=2), B, 1.0 + 0.02 * i)
    changes = [e for e in _events(s) if isinstance(e, ActiveSourceChanged)]
    assert [(c.ssrc, c.previous) for c in changes] == [(1, None), (2, 1)]


def test_bye_rules_of_6_3_7() -> None:
    # never sent anything: no BYE at all
    s = _session(remote_rtp=B)
    s.close(1.0)
    assert s.datagrams_to_send(1.0) == [] and s.next_deadline() is None
    # a large session: BYE reconsideration delays the BYE, counting BYEs heard meanwhile
    big = _session(seed=4, remote_rtp=B, max_sources=100)
    for k in range(60):
        for i in range(3):
            big.receive(_rtp(i, ssrc=1000 + k), B, 0.01 * i)
    big.send_audio(b"x", 0.5)
    big.datagrams_to_send(0.5)
    big.close(1.0)
    assert big.datagrams_to_send(1.0) == []
    d = big.next_deadline()
    assert d is not None and d > 1.0
    while big.next_deadline() is not None:
        t = big.next_deadline()
        assert t is not None
        big.handle_timeout(t)
    (dg,) = big.datagrams_to_send(10.0)
    assert isinstance(parse_rtcp(dg.data)[-1], Bye)


def test_set_remote_and_payload_type() -> None:
    s = _session(remote_rtp=B)
    for i in range(3):
        s.receive(_rtp(i), A, 0.02 * i)
    assert s.remote_address == A
    s.set_remote(("198.51.100.4", 7000))  # re-INVITE moved the peer
    s.set_payload_type(8)
    s.send_audio(b"\xd5" * 160, 1.0)
    (t,) = s.datagrams_to_send(1.0)
    assert t.dest == ("198.51.100.4", 7000) and RtpPacket.parse(t.data).payload_type == 8
    for i in range(3, 6):
        s.receive(_rtp(i), ("198.51.100.4", 7002), 1.0 + 0.02 * i)
    assert s.remote_address == ("198.51.100.4", 7002)  # latched afresh
    q = s.quality_report(2.0)
    assert q.frames_played == 0 and q.jitter_buffer_delay_ms == 0.0


def test_hot_path_transmit_is_the_attrs_constructed_one() -> None:
    # send_audio builds its Transmit with _session._transmit (slots set directly, for
    # speed): the object must be exactly what Transmit(...) makes.
    import attrs

    from rvoip_sansio.rtp._session import _transmit

    assert [f.name for f in attrs.fields(Transmit)] == ["data", "dest"]  # a new field: update
    made = _transmit(b"\x80\x00", ("127.0.0.1", 4000))
    assert type(made) is Transmit
    assert made == Transmit(data=b"\x80\x00", dest=("127.0.0.1", 4000))
    assert hash(made) == hash(Transmit(data=b"\x80\x00", dest=("127.0.0.1", 4000)))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.data = b""  # type: ignore[misc]
