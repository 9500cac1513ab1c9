"""Wireshark's dissectors read what we build: a pcap of our RTP and RTCP goes through
``tshark -V`` with no malformed packet, and the decoded fields match what we meant."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rvoip_sansio.rtp import (
    App,
    Bye,
    ExtendedReport,
    ExtensionElement,
    GenericNack,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    RtpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    TelephoneEvent,
    VoipMetricsBlock,
    build_compound,
    build_extension_elements,
)
from tests.conftest import require_program

from .pcap import write_udp_pcap

pytestmark = pytest.mark.interop
RTP_PORT, RTCP_PORT = 5004, 5005
SSRC, PEER = 0x11223344, 0x55667788


def _packets() -> list[tuple[int, bytes]]:
    rb = ReportBlock(ssrc=PEER, fraction_lost=25, cumulative_lost=-3, highest_seq=70000,
                     jitter=123, lsr=0xC3D58000, dlsr=0x8000)
    sdes = SourceDescription(chunks=(SdesChunk(ssrc=SSRC, items=(
        SdesItem(type=1, value=b"alice@example.com"), SdesItem(type=6, value=b"rvoip"))),))
    rtcp = [
        build_compound([SenderReport(ssrc=SSRC, ntp_timestamp=0xE2B4C3D580000000,
                                     rtp_timestamp=8000, packet_count=10, octet_count=1600,
                                     reports=(rb,)), sdes]),
        build_compound([ReceiverReport(ssrc=SSRC, reports=(rb,)), sdes,
                        Bye(sources=(SSRC,), reason=b"done")]),
        build_compound([ReceiverReport(ssrc=SSRC), sdes,
                        App(subtype=3, ssrc=SSRC, name=b"TEST", data=b"\x01\x02\x03\x04")]),
        build_compound([ReceiverReport(ssrc=SSRC), sdes,
                        GenericNack.from_lost(SSRC, PEER, [100, 101, 103])]),
        build_compound([ReceiverReport(ssrc=SSRC), sdes,
                        PictureLossIndication(sender_ssrc=SSRC, media_ssrc=PEER)]),
        build_compound([ReceiverReport(ssrc=SSRC), sdes, ExtendedReport(ssrc=SSRC, blocks=(
            VoipMetricsBlock(ssrc=PEER, loss_rate=10, discard_rate=5, round_trip_delay=50,
                             end_system_delay=40, signal_level=-20, noise_level=-75,
                             r_factor=93, mos_lq=44, mos_cq=43, rx_config=0x30,
                             jb_nominal=60, jb_maximum=120, jb_abs_max=500),))]),
    ]
    one = build_extension_elements([ExtensionElement(id=1, value=b"\x30"),
                                    ExtensionElement(id=3, value=b"\x01\x02\x03")])
    two = build_extension_elements([ExtensionElement(id=20, value=b"abcdef")])
    rtp = [
        RtpPacket(payload_type=0, sequence_number=65535, timestamp=4294967136, ssrc=SSRC,
                  marker=True, payload=b"\xff" * 160),
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=SSRC,
                  csrc=(1, 2), extension=one, payload=b"\xff" * 160, padding=4),
        RtpPacket(payload_type=8, sequence_number=1, timestamp=160, ssrc=SSRC,
                  extension=two, payload=b"\xd5" * 160),
        RtpPacket(payload_type=101, sequence_number=2, timestamp=320, ssrc=SSRC, marker=True,
                  payload=bytes(TelephoneEvent(event=11, volume=10, duration=400))),
        RtpPacket(payload_type=101, sequence_number=3, timestamp=320, ssrc=SSRC,
                  payload=bytes(TelephoneEvent(event=11, end=True, volume=10, duration=800))),
    ]
    return [(RTP_PORT, bytes(p)) for p in rtp] + [(RTCP_PORT, d) for d in rtcp]


def _tshark(path: Path, *extra: str) -> str:
    exe = require_program("tshark")
    cmd = [exe, "-r", str(path), "-d", f"udp.port=={RTP_PORT},rtp",
           "-d", f"udp.port=={RTCP_PORT},rtcp", "-o", "rtpevent.event_payload_type_value:101",
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.fixture(scope="module")
def pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rtp") / "ours.pcap"
    pk = _packets()
    write_udp_pcap(path, [(1.0 + 0.02 * i, 40000 if port == RTP_PORT else 40001, port, d)
                          for i, (port, d) in enumerate(pk)])
    return path


def test_no_malformed_packets(pcap: Path) -> None:
    text = _tshark(pcap, "-V")
    assert "Malformed" not in text and "malformed" not in text.lower()
    assert "Expert Info (Warning" not in text and "Expert Info (Error" not in text
    assert text.count("Real-Time Transport Protocol") == 5
    assert "Real-time Transport Control Protocol (Sender Report)" in text


def _fields(pcap: Path, *names: str) -> list[list[str]]:
    args = ["-T", "fields", "-E", "separator=|"]
    for n in names:
        args += ["-e", n]
    return [line.split("|") for line in _tshark(pcap, *args).splitlines()]


def test_rtp_fields(pcap: Path) -> None:
    rows = _fields(pcap, "rtp.seq", "rtp.timestamp", "rtp.marker", "rtp.p_type", "rtp.ssrc",
                   "rtp.cc", "rtp.padding", "rtp.ext.profile", "rtp.csrc.item")[:5]
    assert [r[0] for r in rows] == ["65535", "0", "1", "2", "3"]
    assert [r[1] for r in rows] == ["4294967136", "0", "160", "320", "320"]
    assert [r[2] for r in rows] == ["1", "0", "0", "1", "0"]
    assert [r[3] for r in rows] == ["0", "0", "8", "101", "101"]
    assert all(r[4] == "0x11223344" for r in rows)
    assert rows[1][5] == "2" and rows[1][6] == "1" and rows[1][8] == "0x00000001,0x00000002"
    assert rows[1][7] == "0xbede" and rows[2][7] == "0x1000"
    ev = _fields(pcap, "rtpevent.event_id", "rtpevent.end_of_event", "rtpevent.duration")[3:5]
    assert ev == [["11", "0", "400"], ["11", "1", "800"]]


def test_header_extension_elements(pcap: Path) -> None:
    rows = _fields(pcap, "rtp.ext.rfc5285.id", "rtp.ext.rfc5285.len")
    assert rows[1] == ["1,3", "1,3"]  # ids 1 and 3; lengths as octets
    assert rows[2][0] == "20" and rows[2][1] == "6"


def test_rtcp_fields(pcap: Path) -> None:
    rows = _fields(pcap, "rtcp.pt", "rtcp.senderssrc", "rtcp.ssrc.fraction",
                   "rtcp.ssrc.cum_nr", "rtcp.ssrc.jitter", "rtcp.sdes.text", "rtcp.app.name",
                   "rtcp.rtpfb.nack_pid", "rtcp.rtpfb.nack_blp", "rtcp.xr.bt",
                   "rtcp.xr.voipmetrics.rtdelay", "rtcp.xr.voipmetrics.jbnominal")[5:]
    sr, bye, app, nack, pli, xr = rows
    assert sr[0] == "200,202" and sr[1] == "0x11223344"
    assert sr[2] == "25" and sr[3] == "-3" and sr[4] == "123"
    assert sr[5] == "alice@example.com,rvoip"
    assert bye[0] == "201,202,203"
    assert app[0] == "201,202,204" and app[6] == "TEST"
    # tshark expands PID + BLP into the lost sequence numbers
    assert nack[0] == "201,202,205" and nack[7] == "100,101,103" and nack[8] == "0x0005"
    assert pli[0] == "201,202,206"
    assert xr[0] == "201,202,207" and xr[9] == "7" and xr[10] == "50" and xr[11] == "60"
