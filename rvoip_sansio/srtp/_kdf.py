"""RFC 3711 §4.3 key derivation (key derivation rate 0) with the AES-CM PRF of §4.3.3."""

from __future__ import annotations

import attrs
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._profiles import MasterKey, SrtpProfile

__all__ = ["SessionKeys", "derive_session_keys", "kdf", "Label"]


class Label:
    """RFC 3711 §4.3.1 / §4.3.2 key derivation labels."""

    RTP_ENCRYPTION = 0x00
    RTP_AUTH = 0x01
    RTP_SALT = 0x02
    RTCP_ENCRYPTION = 0x03
    RTCP_AUTH = 0x04
    RTCP_SALT = 0x05


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """``length`` bytes of session key material for ``label`` (index DIV kdr = 0).

    RFC 3711 §4.3.1: key_id = label || r (r = 0 when kdr is 0), x = key_id XOR master_salt,
    and the PRF output is AES-CM keyed with the master key and IV = x * 2^16. The 96-bit
    RFC 7714 salts are left-aligned in the 112-bit field (RFC 7714 §11, as libsrtp does).
    """
    salt = master_salt.ljust(14, b"\x00")
    x = int.from_bytes(salt, "big") ^ (label << 48)
    iv = (x << 16).to_bytes(16, "big")
    enc = Cipher(algorithms.AES(master_key), modes.CTR(iv)).encryptor()
    return enc.update(b"\x00" * length) + enc.finalize()


@attrs.frozen(kw_only=True)
class SessionKeys:
    """The six session keys of one master key (RFC 3711 §4.3)."""

    rtp_key: bytes
    rtp_auth: bytes
    rtp_salt: bytes
    rtcp_key: bytes
    rtcp_auth: bytes
    rtcp_salt: bytes


def derive_session_keys(profile: SrtpProfile, master: MasterKey) -> SessionKeys:
    """Derive every session key once: with kdr = 0 they never change (RFC 3711 §4.3.1)."""
    spec = profile.spec
    mk, ms = master.key, master.salt
    return SessionKeys(
        rtp_key=kdf(mk, ms, Label.RTP_ENCRYPTION, spec.key_len),
        rtp_auth=kdf(mk, ms, Label.RTP_AUTH, spec.auth_key_len),
        rtp_salt=kdf(mk, ms, Label.RTP_SALT, spec.salt_len),
        rtcp_key=kdf(mk, ms, Label.RTCP_ENCRYPTION, spec.key_len),
        rtcp_auth=kdf(mk, ms, Label.RTCP_AUTH, spec.auth_key_len),
        rtcp_salt=kdf(mk, ms, Label.RTCP_SALT, spec.salt_len),
    )
