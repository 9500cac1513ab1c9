"""The message layer against a real peer: SIPp's built-in ``uac`` calls a tiny answering loop
written with parse_message / make_response / bytes() on 127.0.0.1, and every call must
succeed in SIPp's own statistics (it parses and checks our responses)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from rvoip_sansio.sip import Request, make_response, parse_message
from tests.conftest import require_program

SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.interop
def test_sipp_uac_calls_our_answering_loop(tmp_path: Path) -> None:
    sipp = require_program("sipp")
    calls = 10
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port = sock.getsockname()[1]
    stat = tmp_path / "stat.csv"
    proc = subprocess.Popen(
        [sipp, "-sn", "uac", f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", str(_free_port()),
         "-m", str(calls), "-r", "20", "-nostdin", "-timeout", "30s", "-timeout_error",
         "-trace_stat", "-fd", "1", "-stf", str(stat)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    seen: dict[str, list[str]] = {}
    deadline = time.monotonic() + 40
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                data, peer = sock.recvfrom(65536)
            except socket.timeout:
                continue
            msg = parse_message(data)
            assert isinstance(msg, Request)
            msg.validate()
            assert msg.top_via.branch is not None and msg.top_via.branch.startswith("z9hG4bK")
            assert msg.cseq.method == msg.method
            seen.setdefault(msg.call_id, []).append(msg.method)
            if msg.method == "INVITE":
                assert msg.content_type == "application/sdp" and msg.body.startswith(b"v=0")
                sock.sendto(bytes(make_response(msg, 100)), peer)
                ok = make_response(msg, 200, to_tag=f"rv{len(seen)}",
                                   headers=[("Contact", f"<sip:rvoip@127.0.0.1:{port}>"),
                                            ("Content-Type", "application/sdp")], body=SDP)
                sock.sendto(bytes(ok), peer)
            elif msg.method == "BYE":
                assert msg.to.tag is not None and msg.to.tag.startswith("rv")
                sock.sendto(bytes(make_response(msg, 200)), peer)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    assert proc.returncode == 0, f"sipp exited with {proc.returncode}"
    assert len(seen) == calls
    assert all(methods[0] == "INVITE" and "ACK" in methods and methods[-1] == "BYE"
               for methods in seen.values()), seen
    last = stat.read_text().splitlines()[-1].split(";")
    header = stat.read_text().splitlines()[0].split(";")
    assert last[header.index("SuccessfulCall(C)")] == str(calls)
    assert last[header.index("FailedCall(C)")] == "0"
