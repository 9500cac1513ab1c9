"""Certificates and fingerprints for DTLS-SRTP: RFC 8122 ``a=fingerprint`` and RFC 4145 /
RFC 5763 ``a=setup`` roles. Needs only ``cryptography``."""

from __future__ import annotations

import datetime
import enum
import hashlib
import re
from typing import Iterable, Sequence

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rvoip_sansio._core import ParseError, RandomSource, RemoteProtocolError

__all__ = [
    "DtlsError",
    "DtlsRole",
    "Fingerprint",
    "DtlsCertificate",
    "answer_setup",
    "dtls_role",
    "fingerprint_matches",
]

# RFC 8122 §5 hash function names we can compute, most preferred first.
_HASHES: dict[str, str] = {
    "sha-512": "sha512", "sha-384": "sha384", "sha-256": "sha256", "sha-224": "sha224",
    "sha-1": "sha1",
}
_HEX_PAIRS = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*")


class DtlsError(RemoteProtocolError):
    """A DTLS-SRTP negotiation problem: setup roles, fingerprints, handshake failure."""


class DtlsRole(enum.Enum):
    """``a=setup:active`` is the DTLS client, ``passive`` the server (RFC 5763 §5)."""

    CLIENT = "client"
    SERVER = "server"


def answer_setup(offered: str) -> str:
    """The answerer's ``a=setup`` for an offered one (RFC 5763 §5, RFC 4145 §4.1)."""
    value = offered.strip().lower()
    if value == "actpass":
        return "active"  # RFC 5763 §5: the answerer SHOULD be active (fewer round trips)
    if value == "active":
        return "passive"
    if value == "passive":
        return "active"
    raise DtlsError(f"a=setup:{offered} cannot be answered for DTLS-SRTP")


def dtls_role(local_setup: str, remote_setup: str) -> DtlsRole:
    """Our DTLS role from both sides' ``a=setup`` values after offer/answer."""
    local, remote = local_setup.strip().lower(), remote_setup.strip().lower()
    pair = (local, remote)
    if pair in (("active", "passive"), ("active", "actpass"), ("actpass", "passive")):
        return DtlsRole.CLIENT
    if pair in (("passive", "active"), ("passive", "actpass"), ("actpass", "active")):
        return DtlsRole.SERVER
    raise DtlsError(f"a=setup:{local_setup} (ours) and a=setup:{remote_setup} do not agree")


@attrs.frozen(kw_only=True)
class Fingerprint:
    """An ``a=fingerprint`` value: hash function name (lower case) and digest bytes."""

    algorithm: str
    value: bytes

    def __str__(self) -> str:
        return f"{self.algorithm} {self.value.hex(':').upper()}"

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """Parse ``sha-256 AB:CD:...`` (RFC 8122 §5); :class:`ParseError` when malformed."""
        body = text[14:] if text.startswith("a=fingerprint:") else text
        base = len(text) - len(body)
        algorithm, sep, digest = body.strip().partition(" ")
        if not sep or not algorithm:
            raise ParseError("a=fingerprint needs a hash function and a digest", base)
        digest = digest.strip()
        if not _HEX_PAIRS.fullmatch(digest):
            raise ParseError("fingerprint digest must be colon-separated hex pairs",
                             base + len(algorithm) + 1)
        return cls(algorithm=algorithm.lower(), value=bytes.fromhex(digest.replace(":", "")))

    @classmethod
    def of_der(cls, der: bytes, algorithm: str = "sha-256") -> Fingerprint:
        return cls(algorithm=algorithm, value=hashlib.new(_HASHES[algorithm], der).digest())


def fingerprint_matches(der: bytes, fingerprints: Iterable[Fingerprint]) -> bool:
    """RFC 8122 §5: use the set of the peer's fingerprints with our most preferred hash
    function, and require the certificate to match one of them."""
    prints = list(fingerprints)
    for algorithm in _HASHES:
        chosen = [f for f in prints if f.algorithm == algorithm]
        if chosen:
            digest = hashlib.new(_HASHES[algorithm], der).digest()
            return any(f.value == digest for f in chosen)
    return False


@attrs.frozen(kw_only=True)
class DtlsCertificate:
    """A self-signed ECDSA P-256 certificate and key for DTLS-SRTP."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(
        cls,
        *,
        rng: RandomSource,
        common_name: str = "rvoip-sansio",
        not_before: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        valid_days: int = 3650,
    ) -> DtlsCertificate:
        """A fresh key pair (from the system's CSPRNG inside OpenSSL) and certificate.

        The serial number comes from ``rng``; validity dates are explicit arguments because
        the core does not read clocks (peers check the fingerprint, not the dates).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(rng.getrandbits(63) | 1)
            .not_valid_before(not_before)
            .not_valid_after(not_before + datetime.timedelta(days=valid_days))
            .sign(key, hashes.SHA256())
        )
        return cls(certificate=cert, private_key=key)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def fingerprint(self, algorithm: str = "sha-256") -> Fingerprint:
        """For ``a=fingerprint`` (RFC 8122; sha-256 as RFC 8827 asks)."""
        return Fingerprint.of_der(self.der, algorithm)

    def fingerprints(self, algorithms: Sequence[str] = ("sha-256",)) -> list[Fingerprint]:
        return [self.fingerprint(a) for a in algorithms]
