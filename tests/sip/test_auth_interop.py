"""Digest auth against SIPp on 127.0.0.1: SIPp's client against our server, and our client
against SIPp's ``verifyauth``. SIP framing here is a few regexes on purpose: the point is the
digest, and these tests must not depend on the message layer under construction."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import time

import pytest

from rvoip_sansio.sip.auth import (
    Algorithm,
    ChallengeOutcome,
    Credentials,
    DigestClient,
    DigestServer,
    DigestServerConfig,
    InMemoryCredentialStore,
)
from tests.conftest import DATA, require_program

pytestmark = pytest.mark.interop


def _header(msg: str, name: str) -> str | None:
    m = re.search(rf"^{name}:[ \t]*(.*?)\r$", msg, re.IGNORECASE | re.MULTILINE)
    return m.group(1) if m else None


def _response(request: str, code: int, reason: str, extra: str = "") -> bytes:
    lines = [f"SIP/2.0 {code} {reason}"]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        value = _header(request, name)
        assert value is not None, name
        if name == "To" and ";tag=" not in value:
            value += ";tag=srv1"
        lines.append(f"{name}: {value}")
    if extra:
        lines.append(extra)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _free_udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    return sock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sipp_client_against_our_digest_server() -> None:
    sipp = require_program("sipp")
    sock = _free_udp_socket()
    port = sock.getsockname()[1]
    store = InMemoryCredentialStore()
    store.add("alice", "sipp.test", "s3cret")
    server = DigestServer(
        config=DigestServerConfig(realm="sipp.test", algorithms=(Algorithm.MD5,)),
        secret=b"interop-secret-0123456789",
        store=store,
        rng=random.Random(1),
    )
    calls = 10
    proc = subprocess.Popen(
        [sipp, f"127.0.0.1:{port}", "-sf", str(DATA / "auth" / "sipp_uac_register_auth.xml"),
         "-au", "alice", "-ap", "s3cret", "-i", "127.0.0.1", "-p", str(_free_port()),
         "-m", str(calls), "-r", "20", "-nostdin", "-timeout", "20s", "-timeout_error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    verified = 0
    start = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - start < 25:
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            msg = data.decode()
            if not msg.startswith("REGISTER "):
                continue
            now = time.monotonic() - start
            auth = _header(msg, "Authorization")
            result = server.verify(method="REGISTER", authorization=auth, now=now)
            if result.ok:
                verified += 1
                sock.sendto(_response(msg, 200, "OK"), peer)
            else:
                assert auth is None, f"SIPp's credentials rejected: {result.status}"
                extra = "\r\n".join(f"{result.header_name}: {c}" for c in result.challenges)
                sock.sendto(_response(msg, 401, "Unauthorized", extra), peer)
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert verified == calls
    assert rc == 0


def test_our_client_against_sipp_verifyauth() -> None:
    sipp = require_program("sipp")
    sipp_port = _free_port()
    proc = subprocess.Popen(
        [sipp, "-sf", str(DATA / "auth" / "sipp_uas_verifyauth.xml"), "-i", "127.0.0.1",
         "-p", str(sipp_port), "-m", "2", "-nostdin", "-timeout", "20s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    sock = _free_udp_socket()
    port = sock.getsockname()[1]
    codes = []
    try:
        time.sleep(0.5)  # let SIPp bind (interop only; the core never sleeps)
        for call, password in enumerate(["s3cret", "wrong"]):
            client = DigestClient(
                credentials=[Credentials(username="alice", password=password)],
                rng=random.Random(call),
            )
            uri = f"sip:127.0.0.1:{sipp_port}"
            headers: list[tuple[str, str]] = []
            for cseq in (1, 2):
                extra = "".join(f"{n}: {v}\r\n" for n, v in headers)
                request = (
                    f"REGISTER {uri} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call}x{cseq};rport\r\n"
                    f"From: <sip:alice@127.0.0.1>;tag=c{call}\r\nTo: <sip:alice@127.0.0.1>\r\n"
                    f"Call-ID: auth-interop-{call}@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n"
                    f"Contact: <sip:alice@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n"
                    f"{extra}Content-Length: 0\r\n\r\n"
                )
                deadline = time.monotonic() + 5
                reply = ""
                while not reply and time.monotonic() < deadline:
                    sock.sendto(request.encode(), ("127.0.0.1", sipp_port))
                    try:
                        reply = sock.recvfrom(65535)[0].decode()
                    except socket.timeout:
                        continue
                code = int(reply.split(" ", 2)[1])
                if cseq == 1:
                    assert code == 401
                    challenge = _header(reply, "WWW-Authenticate")
                    assert challenge is not None
                    assert client.handle_challenge([challenge], proxy=False) is ChallengeOutcome.RETRY
                    headers = client.authorize(method="REGISTER", uri=uri)
                else:
                    codes.append(code)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    # SIPp's verifyauth accepted the right password and refused the wrong one.
    assert codes == [200, 403]
