"""SRTP crypto suites (RFC 3711, 4568, 6188, 7714, 5764) and the policy that keys a session."""

from __future__ import annotations

import enum

import attrs

__all__ = ["SrtpProfile", "ProfileSpec", "MasterKey", "SrtpPolicy", "PROFILE_SPECS"]


class SrtpProfile(enum.Enum):
    """A crypto suite; the value is its SDES name (RFC 4568 §6.2, RFC 6188 §7.1, RFC 7714 §14.1)."""

    AES_CM_128_HMAC_SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    AES_CM_128_HMAC_SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    AES_192_CM_HMAC_SHA1_80 = "AES_192_CM_HMAC_SHA1_80"
    AES_192_CM_HMAC_SHA1_32 = "AES_192_CM_HMAC_SHA1_32"
    AES_256_CM_HMAC_SHA1_80 = "AES_256_CM_HMAC_SHA1_80"
    AES_256_CM_HMAC_SHA1_32 = "AES_256_CM_HMAC_SHA1_32"
    AEAD_AES_128_GCM = "AEAD_AES_128_GCM"
    AEAD_AES_256_GCM = "AEAD_AES_256_GCM"

    @property
    def spec(self) -> ProfileSpec:
        return PROFILE_SPECS[self]

    @classmethod
    def from_name(cls, name: str) -> SrtpProfile:
        """By SDES name or by DTLS-SRTP (OpenSSL) name; ``ValueError`` when unknown."""
        try:
            return cls(name)
        except ValueError:
            for profile, spec in PROFILE_SPECS.items():
                if spec.dtls_name == name:
                    return profile
            raise


@attrs.frozen(kw_only=True)
class ProfileSpec:
    """Lengths in bytes of one suite's parameters."""

    key_len: int
    salt_len: int
    rtp_tag_len: int
    rtcp_tag_len: int
    aead: bool
    #: RFC 5764 §4.1.2 / RFC 7714 §14.2 protection profile name as OpenSSL spells it.
    dtls_name: str | None
    #: Relative strength, higher is stronger (used to pick an SDES answer).
    strength: int

    @property
    def auth_key_len(self) -> int:
        # RFC 3711 §5.2 / RFC 6188 §3: HMAC-SHA1 keys are 160 bits; GCM has no separate key.
        return 0 if self.aead else 20

    @property
    def master_len(self) -> int:
        return self.key_len + self.salt_len


def _cm(key_len: int, tag: int, dtls: str | None, strength: int) -> ProfileSpec:
    # RFC 4568 §6.2.1/6.2.2 and RFC 6188 §7.1: the _32 suites keep an 80-bit SRTCP tag.
    return ProfileSpec(
        key_len=key_len, salt_len=14, rtp_tag_len=tag, rtcp_tag_len=10, aead=False,
        dtls_name=dtls, strength=strength,
    )


def _gcm(key_len: int, dtls: str, strength: int) -> ProfileSpec:
    # RFC 7714 §12 and §14.2: 96-bit salt, 128-bit tag for SRTP and SRTCP.
    return ProfileSpec(
        key_len=key_len, salt_len=12, rtp_tag_len=16, rtcp_tag_len=16, aead=True,
        dtls_name=dtls, strength=strength,
    )


PROFILE_SPECS: dict[SrtpProfile, ProfileSpec] = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_80: _cm(16, 10, "SRTP_AES128_CM_SHA1_80", 40),
    SrtpProfile.AES_CM_128_HMAC_SHA1_32: _cm(16, 4, "SRTP_AES128_CM_SHA1_32", 10),
    SrtpProfile.AES_192_CM_HMAC_SHA1_80: _cm(24, 10, None, 50),
    SrtpProfile.AES_192_CM_HMAC_SHA1_32: _cm(24, 4, None, 20),
    SrtpProfile.AES_256_CM_HMAC_SHA1_80: _cm(32, 10, None, 60),
    SrtpProfile.AES_256_CM_HMAC_SHA1_32: _cm(32, 4, None, 30),
    SrtpProfile.AEAD_AES_128_GCM: _gcm(16, "SRTP_AEAD_AES_128_GCM", 70),
    SrtpProfile.AEAD_AES_256_GCM: _gcm(32, "SRTP_AEAD_AES_256_GCM", 80),
}

#: RFC 3711 §9.2: a master key protects at most 2^48 SRTP and 2^31 SRTCP packets.
MAX_SRTP_PACKETS = 1 << 48
MAX_SRTCP_PACKETS = 1 << 31


@attrs.frozen(kw_only=True)
class MasterKey:
    """One master key and salt, with its MKI (RFC 3711 §3.1) and optional lifetime (packets)."""

    key: bytes
    salt: bytes
    mki: bytes = b""
    #: RFC 4568 §6.1 lifetime; also capped by the RFC 3711 §9.2 maxima.
    lifetime: int | None = None


def _check_keys(instance: SrtpPolicy, attribute: object, keys: tuple[MasterKey, ...]) -> None:
    spec = instance.profile.spec
    if not keys:
        raise ValueError("an SRTP policy needs at least one master key")
    mki_len = len(keys[0].mki)
    seen: set[bytes] = set()
    for k in keys:
        if len(k.key) != spec.key_len or len(k.salt) != spec.salt_len:
            raise ValueError(
                f"{instance.profile.value} needs a {spec.key_len}-byte key and a "
                f"{spec.salt_len}-byte salt, got {len(k.key)} and {len(k.salt)}"
            )
        if len(k.mki) != mki_len:
            raise ValueError("every master key of a policy must have an MKI of the same length")
        if k.mki in seen:
            raise ValueError("MKI values of a policy must differ")
        if k.lifetime is not None and k.lifetime <= 0:
            raise ValueError("key lifetime must be positive")
        seen.add(k.mki)
    if len(keys) > 1 and mki_len == 0:
        raise ValueError("several master keys need an MKI to tell them apart (RFC 3711 §3.1)")


@attrs.frozen(kw_only=True)
class SrtpPolicy:
    """Everything that keys one direction of SRTP: suite, master key(s), window, options."""

    profile: SrtpProfile
    keys: tuple[MasterKey, ...] = attrs.field(validator=_check_keys)
    #: Replay window in packets (RFC 3711 §3.3.2 minimum 64); used for SRTP and SRTCP.
    window_size: int = attrs.field(default=128)
    #: RFC 4568 §6.3.2 UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP session parameters.
    encrypt_rtp: bool = True
    encrypt_rtcp: bool = True
    #: Accept protecting the same RTP index twice (retransmissions); keystream reuse otherwise
    #: refused like libsrtp's default.
    allow_repeat_tx: bool = False

    def __attrs_post_init__(self) -> None:
        if self.profile.spec.aead and not self.encrypt_rtp:
            # RFC 7714 has tag-only SRTCP (§9.3, the E flag) but no unencrypted AEAD SRTP.
            raise ValueError("AEAD profiles always encrypt SRTP (no UNENCRYPTED_SRTP)")

    @window_size.validator
    def _check_window(self, attribute: object, value: int) -> None:
        # RFC 3711 §3.3.2: at least 64; like libsrtp, below 2^15 (index estimation's reach).
        if not 64 <= value < 1 << 15:
            raise ValueError("replay window must be between 64 and 32767 packets")

    @classmethod
    def from_key(
        cls,
        profile: SrtpProfile | str,
        key: bytes,
        *,
        mki: bytes = b"",
        lifetime: int | None = None,
        window_size: int = 128,
    ) -> SrtpPolicy:
        """A policy from the concatenated master key and salt (as libsrtp and SDES carry it)."""
        prof = profile if isinstance(profile, SrtpProfile) else SrtpProfile.from_name(profile)
        spec = prof.spec
        if len(key) != spec.master_len:
            raise ValueError(
                f"{prof.value} needs {spec.master_len} bytes of master key + salt, got {len(key)}"
            )
        mk = MasterKey(key=bytes(key[: spec.key_len]), salt=bytes(key[spec.key_len :]),
                       mki=mki, lifetime=lifetime)
        return cls(profile=prof, keys=(mk,), window_size=window_size)
