"""RFC 4733 telephone events: SIPp's captures decode to the right digits; our sender's packet
pattern; long events in segments; timestamp wrap; retransmission dedupe."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rvoip_sansio.rtp import (
    DtmfReceived,
    DtmfReceiver,
    DtmfSender,
    DtmfStarted,
    RtpPacket,
    RtpSession,
    RtpSessionConfig,
    TelephoneEvent,
)
from tests.conftest import DATA

from .pcap import read_udp_payloads

RTP_DATA = DATA / "rtp"
NAMES = {"star": "*", "pound": "#"}


def _digit_of(path: Path) -> str:
    tail = path.stem.rsplit("_", 1)[1]
    return NAMES.get(tail, tail)


PCAPS = sorted(RTP_DATA.glob("dtmf_2833_*.pcap"))


def test_there_are_twelve_captures() -> None:
    assert len(PCAPS) == 12


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: p.stem)
def test_capture_decodes_to_its_digit(path: Path) -> None:
    decoded = json.loads((RTP_DATA / "dtmf_2833_decoded.json").read_text())["files"][path.name]
    frames = read_udp_payloads(path)
    # Our packet parser agrees with tshark on every field.
    for (_, data), ref in zip(frames, decoded, strict=True):
        p = RtpPacket.parse(data)
        te = TelephoneEvent.parse(p.payload)
        assert (p.sequence_number, p.timestamp, p.marker, p.payload_type, p.ssrc) == (
            ref["seq"], ref["ts"], bool(ref["marker"]), ref["pt"], int(ref["ssrc"], 16))
        assert (te.event, te.end, te.volume, te.duration) == (
            ref["event"], bool(ref["end"]), ref["volume"], ref["duration"])
    # Through a whole session, as a peer would deliver them.
    s = RtpSession(config=RtpSessionConfig(telephone_event_pt=101), rng=random.Random(1),
                   now=0.0)
    t0 = frames[0][0]
    for t, data in frames:
        s.receive(data, ("127.0.0.1", 10000), t - t0)
    events = []
    while (e := s.next_event()) is not None:
        events.append(e)
    got = [e for e in events if isinstance(e, DtmfReceived)]
    assert len(got) == 1, events
    assert got[0].digit == _digit_of(path)
    assert got[0].event == decoded[-1]["event"]
    assert got[0].duration == decoded[-1]["duration"] == 2240
    assert got[0].duration_s == pytest.approx(0.28)
    assert got[0].volume == 10 and got[0].ended
    assert sum(isinstance(e, DtmfStarted) for e in events) == 1


def test_sender_packet_pattern() -> None:
    tx = DtmfSender(clock_rate=8000, interval=0.05)
    tx.queue("5", duration=0.2, volume=7)
    out = []
    t = 0.0
    while tx.busy:
        out += tx.due(t, 1234)
        t += 0.01
    evs = [(TelephoneEvent.parse(p), m, ts) for p, m, ts in out]
    assert all(ts == 1234 for _, _, ts in evs)  # one timestamp for the whole event
    assert [m for _, m, _ in evs] == [True] + [False] * (len(evs) - 1)
    assert [e.duration for e, _, _ in evs] == [400, 800, 1200, 1600, 1600, 1600]
    assert [e.end for e, _, _ in evs] == [False, False, False, True, True, True]
    assert all(e.event == 5 and e.volume == 7 for e, _, _ in evs)


def _run_sender(digits: str, duration: float, ts: int) -> list[tuple[bytes, bool, int]]:
    tx = DtmfSender(clock_rate=8000, interval=0.05)
    tx.queue(digits, duration=duration)
    out = []
    t = 0.0
    while tx.busy:
        out += tx.due(t, ts)
        t += 0.05
    return out


def test_long_event_segments_across_timestamp_wrap() -> None:
    start = 2**32 - 1000
    out = _run_sender("#", 20.0, start)  # 160000 samples: 3 segments of <= 0xFFFF
    assert len({ts for _, _, ts in out}) == 3
    assert (start + 2 * 0xFFFF) & 0xFFFFFFFF in {ts for _, _, ts in out}
    ends = [TelephoneEvent.parse(p) for p, _, _ in out if TelephoneEvent.parse(p).end]
    assert len(ends) == 3 and ends[0].duration == 160000 - 2 * 0xFFFF
    rx = DtmfReceiver(clock_rate=8000)
    got = []
    for i, (p, _, ts) in enumerate(out):
        got += rx.receive(ts, p, i * 0.05)
    done = [e for e in got if isinstance(e, DtmfReceived)]
    assert len(done) == 1 and done[0].digit == "#" and done[0].duration == 160000
    assert done[0].timestamp == start


def test_receiver_dedupes_and_closes_events_with_lost_ends() -> None:
    rx = DtmfReceiver(clock_rate=8000, timeout=0.5)
    a = _run_sender("1", 0.1, 100)
    b = _run_sender("2", 0.3, 5000)
    got = []
    for p, _, ts in a + a:  # everything twice
        got += rx.receive(ts, p, 0.0)
    for p, _, ts in b[:2]:  # "2" loses its end packets
        got += rx.receive(ts, p, 1.0)
    assert rx.next_deadline() == 1.5
    got += rx.handle_timeout(1.5)
    done = [e for e in got if isinstance(e, DtmfReceived)]
    assert [(e.digit, e.ended) for e in done] == [("1", True), ("2", False)]
    assert done[0].duration == 800


def test_session_sends_dtmf_over_rtp() -> None:
    s = RtpSession(config=RtpSessionConfig(remote_rtp=("127.0.0.1", 9)), rng=random.Random(3),
                   now=0.0)
    s.send_audio(b"\xff" * 160, 0.0)
    s.send_dtmf("9", 0.02, duration=0.1)
    t = 0.02
    while (d := s.next_deadline()) is not None and d < 1.0:
        t = d
        s.handle_timeout(t)
    pkts = [RtpPacket.parse(x.data) for x in s.datagrams_to_send(t)]
    events = [p for p in pkts if p.payload_type == 101]
    assert len(events) == 4 and events[0].marker  # start (400) + 3 ends (800)
    assert len({p.sequence_number for p in pkts}) == len(pkts)  # new seq per packet
    assert all(TelephoneEvent.parse(p.payload).event == 9 for p in events)
