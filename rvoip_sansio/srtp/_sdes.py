"""SDES keying (RFC 4568): ``a=crypto`` values parsed and built, offer/answer of SRTP keys.

Works on attribute *values* (``1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:4 ...``), so the
SDP layer (or an application) hands over strings and gets strings and policies back.
Fresh keys come from the injected random source: pass ``secrets.SystemRandom()`` in
production and a seeded ``random.Random`` in tests.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterable, Sequence

import attrs

from rvoip_sansio._core import ParseError, RandomSource, RemoteProtocolError

from ._profiles import MasterKey, SrtpPolicy, SrtpProfile

__all__ = [
    "InlineKey",
    "CryptoLine",
    "SdesError",
    "DEFAULT_SDES_PROFILES",
    "sdes_offer",
    "sdes_answer",
    "sdes_accept",
]

#: Strongest first: the order an answerer prefers and an offerer lists.
DEFAULT_SDES_PROFILES: tuple[SrtpProfile, ...] = tuple(
    sorted(SrtpProfile, key=lambda p: -p.spec.strength)
)

_TAG = re.compile(r"[0-9]{1,9}")
_SUITE = re.compile(r"[A-Za-z0-9_]+")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_LIFETIME = re.compile(r"(2\^)?([0-9]{1,20})")
_MKI = re.compile(r"([0-9]{1,20}):([0-9]{1,3})")
_WSH = re.compile(r"WSH=([0-9]{1,9})")


class SdesError(RemoteProtocolError):
    """No offered crypto line is usable, or an answer does not match the offer."""


@attrs.frozen(kw_only=True)
class InlineKey:
    """One ``inline:`` key parameter (RFC 4568 §6.1)."""

    key_salt: bytes
    lifetime: int | None = None
    mki: int | None = None
    mki_len: int | None = None

    def __str__(self) -> str:
        text = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            lt = self.lifetime
            text += f"|2^{lt.bit_length() - 1}" if lt & (lt - 1) == 0 else f"|{lt}"
        if self.mki is not None:
            text += f"|{self.mki}:{self.mki_len}"
        return text

    def master_key(self, profile: SrtpProfile) -> MasterKey:
        spec = profile.spec
        if len(self.key_salt) != spec.master_len:
            raise ValueError(f"{profile.value} key+salt must be {spec.master_len} bytes")
        mki = b"" if self.mki is None else self.mki.to_bytes(self.mki_len or 0, "big")
        return MasterKey(key=self.key_salt[: spec.key_len], salt=self.key_salt[spec.key_len :],
                         mki=mki, lifetime=self.lifetime)


@attrs.frozen(kw_only=True)
class CryptoLine:
    """The value of one ``a=crypto`` attribute (RFC 4568 §9.1)."""

    tag: int
    suite: str
    keys: tuple[InlineKey, ...]
    session_params: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [str(self.tag), self.suite, ";".join(str(k) for k in self.keys)]
        return " ".join(parts + list(self.session_params))

    @property
    def profile(self) -> SrtpProfile | None:
        try:
            return SrtpProfile(self.suite)
        except ValueError:
            return None

    @classmethod
    def parse(cls, value: str) -> CryptoLine:
        """Parse ``tag suite key-params [session-params]``; :class:`ParseError` when malformed."""
        text = value[9:] if value.startswith("a=crypto:") else value
        base = len(value) - len(text)
        text = text.rstrip("\r\n")
        fields: list[tuple[int, str]] = [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]
        if len(fields) < 3:
            raise ParseError("a=crypto needs a tag, a crypto suite and key parameters", base + len(text))
        (t_at, tag), (s_at, suite), (k_at, key_params) = fields[:3]
        if not _TAG.fullmatch(tag):
            raise ParseError("crypto tag must be 1 to 9 digits", base + t_at)
        if not _SUITE.fullmatch(suite):
            raise ParseError("bad crypto suite name", base + s_at)
        keys = []
        at = base + k_at
        for param in key_params.split(";"):
            keys.append(_parse_key(param, at))
            at += len(param) + 1
        return cls(tag=int(tag), suite=suite, keys=tuple(keys),
                   session_params=tuple(f for _, f in fields[3:]))

    def policy(self) -> SrtpPolicy:
        """The SRTP policy this line describes; ``ValueError`` if we cannot honour it."""
        profile = self.profile
        if profile is None:
            raise ValueError(f"unsupported crypto suite {self.suite}")
        encrypt_rtp = encrypt_rtcp = True
        window = 128
        for param in self.session_params:
            if param == "UNENCRYPTED_SRTP":
                encrypt_rtp = False
            elif param == "UNENCRYPTED_SRTCP":
                encrypt_rtcp = False
            elif (m := _WSH.fullmatch(param)) is not None:
                # RFC 4568 §6.3.7: a window size hint; we keep at least our default.
                window = min(max(int(m.group(1)), window), (1 << 15) - 1)
            elif param.startswith("FEC_ORDER="):
                continue  # no FEC here: the order of FEC and SRTP does not matter
            elif param.startswith("-"):
                continue  # RFC 4568 §9.2: a "-" prefix marks a parameter that may be ignored
            else:
                # KDR (only kdr 0 is implemented), UNAUTHENTICATED_SRTP, FEC_KEY, unknown.
                raise ValueError(f"unsupported SDES session parameter {param}")
        keys = tuple(k.master_key(profile) for k in self.keys)
        return SrtpPolicy(profile=profile, keys=keys, window_size=window,
                          encrypt_rtp=encrypt_rtp, encrypt_rtcp=encrypt_rtcp)


def _parse_key(param: str, at: int) -> InlineKey:
    method, sep, info = param.partition(":")
    if method != "inline" or not sep:
        raise ParseError("key parameter must be inline:<key||salt>", at)
    parts = info.split("|")
    at += 7
    b64 = parts[0]
    if not _B64.fullmatch(b64):
        raise ParseError("key||salt is not base64", at)
    try:
        key_salt = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("key||salt is not base64", at) from None
    lifetime = mki = mki_len = None
    at += len(b64) + 1
    rest = parts[1:]
    if len(rest) > 2:
        raise ParseError("too many '|' fields in a key parameter", at)
    for item in rest:
        if (m := _MKI.fullmatch(item)) is not None:
            if mki is not None:
                raise ParseError("two MKI fields", at)
            mki, mki_len = int(m.group(1)), int(m.group(2))
            if not 1 <= mki_len <= 128 or mki >= 1 << (8 * mki_len):
                raise ParseError("MKI length must be 1..128 bytes and hold the MKI value", at)
        elif (m := _LIFETIME.fullmatch(item)) is not None and mki is None and lifetime is None:
            exp = int(m.group(2))
            if m.group(1):
                if exp > 64:
                    raise ParseError("lifetime exponent too large", at)
                lifetime = 1 << exp
            else:
                lifetime = exp
            if lifetime == 0:
                raise ParseError("lifetime must be positive", at)
        else:
            raise ParseError("bad lifetime or MKI", at)
        at += len(item) + 1
    return InlineKey(key_salt=key_salt, lifetime=lifetime, mki=mki, mki_len=mki_len)


def _fresh_key(profile: SrtpProfile, rng: RandomSource) -> bytes:
    n = profile.spec.master_len
    return rng.getrandbits(8 * n).to_bytes(n, "big")


def sdes_offer(
    profiles: Iterable[SrtpProfile] = DEFAULT_SDES_PROFILES,
    *,
    rng: RandomSource,
    lifetime: int | None = None,
    session_params: Sequence[str] = (),
) -> list[CryptoLine]:
    """One crypto line per profile (tags 1, 2, ...), each with a fresh master key and salt."""
    return [
        CryptoLine(tag=tag, suite=p.value,
                   keys=(InlineKey(key_salt=_fresh_key(p, rng), lifetime=lifetime),),
                   session_params=tuple(session_params))
        for tag, p in enumerate(profiles, start=1)
    ]


def _lines(lines: Iterable[CryptoLine | str]) -> list[CryptoLine]:
    return [x if isinstance(x, CryptoLine) else CryptoLine.parse(x) for x in lines]


def sdes_answer(
    offered: Iterable[CryptoLine | str],
    supported: Sequence[SrtpProfile] = DEFAULT_SDES_PROFILES,
    *,
    rng: RandomSource,
) -> tuple[CryptoLine, SrtpPolicy, SrtpPolicy]:
    """Pick the first of ``supported`` (our preference, strongest first) that is offered
    usably; answer with the offerer's tag and a fresh key (RFC 4568 §7.1.2).

    Returns ``(answer_line, tx_policy, rx_policy)``: we send with our new key and receive
    with the offerer's key(s). :class:`SdesError` when nothing offered is usable.
    """
    candidates = []
    for line in _lines(offered):
        try:
            rx = line.policy()
        except ValueError:
            continue  # RFC 4568 §7.1.2: skip lines we cannot support
        candidates.append((line, rx))
    for profile in supported:
        for line, rx in candidates:
            if rx.profile is profile:
                # Declarative parameters are mirrored; WSH is the sender's hint to us.
                params = tuple(p for p in line.session_params
                               if p in ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP"))
                answer = CryptoLine(tag=line.tag, suite=line.suite,
                                    keys=(InlineKey(key_salt=_fresh_key(profile, rng)),),
                                    session_params=params)
                return answer, answer.policy(), rx
    raise SdesError("no offered a=crypto line uses a crypto suite and parameters we support")


def sdes_accept(
    offered: Iterable[CryptoLine | str], answer: CryptoLine | str
) -> tuple[SrtpPolicy, SrtpPolicy]:
    """The offerer's side: match the answer's tag to our offer; ``(tx_policy, rx_policy)``."""
    ans = answer if isinstance(answer, CryptoLine) else CryptoLine.parse(answer)
    for line in _lines(offered):
        if line.tag == ans.tag:
            if line.suite != ans.suite:
                raise SdesError(f"answer tag {ans.tag} changes the crypto suite")
            try:
                return line.policy(), ans.policy()
            except ValueError as exc:
                raise SdesError(f"answer not usable: {exc}") from None
    raise SdesError(f"answer tag {ans.tag} matches no offered crypto line")
