"""DTLS-SRTP against OpenSSL's own command-line peer (``openssl s_server``/``s_client``) over
UDP on 127.0.0.1: the handshake completes both ways with the use_srtp extension, the SDP
fingerprint check accepts OpenSSL's certificate, and our SRTP keys are the RFC 5764 §4.2 split
of the keying material OpenSSL itself prints for EXTRACTOR-dtls_srtp."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from rvoip_sansio.srtp import (
    DtlsCertificate,
    DtlsRole,
    DtlsSrtpEndpoint,
    DtlsState,
    SrtpProfile,
)
from tests.conftest import require_module, require_program

pytestmark = pytest.mark.interop

MATERIAL = re.compile(r"Keying material: ([0-9A-F]+)")


def _write_cert(cert: DtlsCertificate, folder: Path, name: str) -> tuple[str, str]:
    pem, key = folder / f"{name}.pem", folder / f"{name}.key"
    pem.write_bytes(cert.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(cert.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(pem), str(key)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drive(ep: DtlsSrtpEndpoint, sock: socket.socket, limit: float = 15.0) -> None:
    """A minimal adapter loop: the loop's clock is time.monotonic()."""
    start = time.monotonic()
    while ep.state is DtlsState.HANDSHAKING or ep.state is DtlsState.NEW:
        now = time.monotonic()
        assert now - start < limit, "DTLS handshake with OpenSSL did not finish"
        for tx in ep.datagrams_to_send(now):
            if tx.dest[1]:
                sock.sendto(tx.data, tx.dest)
        deadline = ep.next_deadline()
        sock.settimeout(max(0.01, min(0.2, (deadline - now) if deadline else 0.2)))
        try:
            data, addr = sock.recvfrom(65536)
        except (socket.timeout, ConnectionRefusedError):
            ep.handle_timeout(time.monotonic())
            continue
        if not ep.remote[1]:
            ep.remote = (addr[0], addr[1])
        ep.receive(data, time.monotonic())
    now = time.monotonic()
    for tx in ep.datagrams_to_send(now):
        sock.sendto(tx.data, tx.dest)


def _split(material: bytes, profile: SrtpProfile) -> tuple[bytes, bytes, bytes, bytes]:
    k, s = profile.spec.key_len, profile.spec.salt_len
    return material[:k], material[k : 2 * k], material[2 * k : 2 * k + s], material[2 * k + s :]


@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM],
                         ids=lambda p: p.value)
def test_our_client_against_openssl_s_server(tmp_path: Path, profile: SrtpProfile) -> None:
    require_module("OpenSSL")
    openssl = require_program("openssl")
    rng = random.Random(21)
    ours, theirs = DtlsCertificate.generate(rng=rng), DtlsCertificate.generate(rng=rng)
    pem, key = _write_cert(theirs, tmp_path, "server")
    port = _free_udp_port()
    length = 2 * profile.spec.master_len
    server = subprocess.Popen(
        [openssl, "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}", "-cert", pem, "-key", key,
         "-use_srtp", str(profile.spec.dtls_name), "-keymatexport", "EXTRACTOR-dtls_srtp",
         "-keymatexportlen", str(length), "-verify", "1", "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ep = DtlsSrtpEndpoint(role=DtlsRole.CLIENT, certificate=ours,
                              remote_fingerprints=[theirs.fingerprint()], remote=("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            ep.start(time.monotonic())  # s_server may not listen yet: retransmission covers it
            _drive(ep, sock)
            assert ep.state is DtlsState.CONNECTED, ep.next_event()
            time.sleep(0.3)  # let s_server print its session report
        out, _ = server.communicate(b"", timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    text = out.decode(errors="replace")
    assert f"SRTP Extension negotiated, profile={profile.spec.dtls_name}" in text
    match = MATERIAL.search(text)
    assert match, text[-2000:]
    ck, sk, cs, ss = _split(bytes.fromhex(match.group(1)), profile)
    result = ep.result
    assert result is not None and result.profile is profile
    assert (result.tx_policy.keys[0].key, result.tx_policy.keys[0].salt) == (ck, cs)
    assert (result.rx_policy.keys[0].key, result.rx_policy.keys[0].salt) == (sk, ss)
    assert result.peer_fingerprint == theirs.fingerprint()


def test_our_server_against_openssl_s_client(tmp_path: Path) -> None:
    require_module("OpenSSL")
    openssl = require_program("openssl")
    profile = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    rng = random.Random(22)
    ours, theirs = DtlsCertificate.generate(rng=rng), DtlsCertificate.generate(rng=rng)
    pem, key = _write_cert(theirs, tmp_path, "client")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = subprocess.Popen(
            [openssl, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-cert", pem,
             "-key", key, "-use_srtp", "SRTP_AES128_CM_SHA1_80", "-keymatexport",
             "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            ep = DtlsSrtpEndpoint(role=DtlsRole.SERVER, certificate=ours,
                                  remote_fingerprints=[theirs.fingerprint()])
            ep.start(time.monotonic())
            _drive(ep, sock)
            assert ep.state is DtlsState.CONNECTED, ep.next_event()
            time.sleep(0.3)
            out, _ = client.communicate(b"", timeout=10)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    text = out.decode(errors="replace")
    match = MATERIAL.search(text)
    assert match, text[-2000:]
    ck, sk, cs, ss = _split(bytes.fromhex(match.group(1)), profile)
    result = ep.result
    assert result is not None
    assert (result.tx_policy.keys[0].key, result.tx_policy.keys[0].salt) == (sk, ss)
    assert (result.rx_policy.keys[0].key, result.rx_policy.keys[0].salt) == (ck, cs)
