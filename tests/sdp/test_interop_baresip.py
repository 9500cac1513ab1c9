"""Offer/answer with a live baresip on 127.0.0.1: our offer, baresip's answer, a hold
re-INVITE and a codec-change re-INVITE. SIP framing is a few regexes on purpose (this tests
SDP negotiation, not the message layer)."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from rvoip_sansio.sdp import (
    G722,
    OPUS,
    PCMA,
    PCMU,
    Direction,
    LocalCapabilities,
    MediaCapabilities,
    OfferAnswer,
    parse_sdp,
)
from tests.conftest import require_program

pytestmark = pytest.mark.interop

MODULES = "/usr/lib/baresip/modules"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, port: int) -> Path:
    cfg = tmp / "baresip"
    cfg.mkdir()
    (cfg / "config").write_text(
        f"poll_method poll\nsip_listen 127.0.0.1:{port}\n"
        f"audio_player aufile,{tmp / 'heard.wav'}\naudio_source ausine,440\n"
        "ausrc_srate 48000\nausrc_channels 2\n"
        f"module_path {MODULES}\n"
        "module g711.so\nmodule g722.so\nmodule opus.so\nmodule aufile.so\nmodule ausine.so\n"
        "module account.so\nmodule menu.so\n"
    )
    (cfg / "accounts").write_text(
        f"<sip:bob@127.0.0.1:{port};transport=udp>;regint=0;answermode=auto;"
        "audio_codecs=PCMU/8000/1,PCMA/8000/1,G722/16000/1,opus/48000/2\n"
    )
    return cfg


class _Leg:
    def __init__(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        self.sock, self.peer, self.cseq, self.to_tag = sock, peer, 0, ""
        self.port = sock.getsockname()[1]

    def request(self, method: str, body: bytes = b"", cseq: int | None = None) -> bytes:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to_tag = f";tag={self.to_tag}" if self.to_tag else ""
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        cmethod = "INVITE" if method == "ACK" else method
        head = (
            f"{method} sip:bob@127.0.0.1:{self.peer[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKoa{method}{cseq}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=oa1\r\n"
            f"To: <sip:bob@127.0.0.1>{to_tag}\r\nCall-ID: sdp-interop@127.0.0.1\r\n"
            f"CSeq: {cseq} {cmethod}\r\nContact: <sip:alice@127.0.0.1:{self.port}>\r\n"
            f"{ctype}Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def transact(self, method: str, body: bytes = b"", timeout: float = 8.0) -> bytes:
        """Send (retransmitting every 0.5 s) until a final response; ACK 2xx to INVITE."""
        data = self.request(method, body)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.sendto(data, self.peer)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                try:
                    reply = self.sock.recvfrom(65535)[0]
                except socket.timeout:
                    continue
                code = int(reply.split(b" ", 2)[1])
                if code < 200 or f" {self.cseq} ".encode() not in reply:
                    continue
                tag = re.search(rb"^To:[^\r]*;tag=([^;\r]+)", reply, re.MULTILINE)
                if tag:
                    self.to_tag = tag.group(1).decode()
                if method == "INVITE" and code < 300:
                    self.sock.sendto(self.request("ACK", cseq=self.cseq), self.peer)
                return reply
        raise AssertionError(f"no final response to {method} from baresip")


def test_offer_answer_with_live_baresip(tmp_path: Path) -> None:
    baresip = require_program("baresip")
    if not Path(MODULES, "g711.so").exists():
        pytest.skip("baresip modules not found")
    port = _free_port()
    proc = subprocess.Popen(
        [baresip, "-4", "-n", "127.0.0.1", "-f", str(_config(tmp_path, port)), "-t", "20"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    leg = _Leg(sock, ("127.0.0.1", port))
    local = LocalCapabilities(
        address="127.0.0.1",
        media=(MediaCapabilities(codecs=(OPUS, G722, PCMA, PCMU), port=_free_port()),),
    )
    oa = OfferAnswer(local=local, rng=random.Random(1))
    try:
        offer = oa.create_offer()
        reply = leg.transact("INVITE", bytes(offer), timeout=12.0)
        assert reply.startswith(b"SIP/2.0 200")
        answer = parse_sdp(reply.split(b"\r\n\r\n", 1)[1])
        neg = oa.process_answer(answer)
        audio = neg.audio
        assert audio is not None and audio.accepted
        assert audio.remote_address == "127.0.0.1" and audio.remote_port > 0
        # baresip keeps our order: opus (our first) with our PT 96. It answers only the 8 kHz
        # telephone-event, which is then the one to use.
        assert audio.codec is not None and audio.codec.name.lower() == "opus"
        assert audio.payload_type == 96
        assert audio.telephone_event is not None and audio.telephone_event.clock_rate == 8000
        assert audio.telephone_event_pt == 98
        assert audio.direction is Direction.SENDRECV
        # Hold: version + 1, we only send.
        hold = oa.create_offer(hold=True)
        assert hold.origin.session_version == offer.origin.session_version + 1
        reply = leg.transact("INVITE", bytes(hold))
        assert reply.startswith(b"SIP/2.0 200")
        neg = oa.process_answer(reply.split(b"\r\n\r\n", 1)[1])
        assert neg.audio is not None and not neg.audio.direction.receives
        # Codec change to G.711 only, and resume.
        oa.local = LocalCapabilities(
            address="127.0.0.1",
            media=(MediaCapabilities(codecs=(PCMU,), port=local.media[0].port),),
        )
        change = oa.create_offer()
        reply = leg.transact("INVITE", bytes(change))
        assert reply.startswith(b"SIP/2.0 200")
        neg = oa.process_answer(reply.split(b"\r\n\r\n", 1)[1])
        assert neg.audio is not None and neg.audio.codec is not None
        assert (neg.audio.codec.name, neg.audio.payload_type) == ("PCMU", 0)
        assert neg.audio.telephone_event is not None and neg.audio.telephone_event.clock_rate == 8000
        assert neg.audio.direction is Direction.SENDRECV
        assert leg.transact("BYE").startswith(b"SIP/2.0 200")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        sock.close()
