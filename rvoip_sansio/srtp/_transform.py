"""The per-master-key cipher state: AES-CM + HMAC-SHA1 (RFC 3711) and AES-GCM (RFC 7714).

Built once per master key and reused for every packet: the AES-ECB context that makes
AES-CM keystream from counter blocks, HMAC inner/outer SHA-1 states ready to copy, and the
AESGCM objects. Nothing here is allocated per packet beyond the output bytes.
"""

from __future__ import annotations

import hashlib
from types import ModuleType
from typing import TYPE_CHECKING, Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rvoip_sansio._native import import_native, pure_requested
from ._kdf import SessionKeys, derive_session_keys
from ._profiles import MAX_SRTCP_PACKETS, MAX_SRTP_PACKETS, MasterKey, SrtpProfile

if TYPE_CHECKING:
    from ._srtp_native import CmContext, ReplayWindow

__all__ = [
    "CM_CONTEXT", "KeyState", "KS_CHUNK", "XOR_TAIL", "counter_pattern", "keystream_chunk",
    "keystream_chunk_bytes", "load_native", "xor_keystream",
]

# Must equal SRTP_NATIVE_ABI in _srtp_native.c: a build older than its source is not used.
_NATIVE_ABI = 4
#: ``xor_tail(data, start, end, keystream, ks_offset)``: ``data[:start]`` + ``data[start:end]``
#: XOR ``keystream[ks_offset:]``.
XorTail = Callable[[bytes, int, int, bytes, int], bytes]


def load_native_module() -> ModuleType | None:
    """The C accelerator module, or ``None`` when it is not built (or is stale)."""
    return import_native("rvoip_sansio.srtp._srtp_native", _NATIVE_ABI)


def load_native(mod: ModuleType | None = None) -> XorTail | None:
    """The C accelerator's ``xor_tail``, or ``None`` when it is not built (or is stale).
    ``mod``: an already loaded module (default: load it now)."""
    mod = mod or load_native_module()
    return None if mod is None else mod.xor_tail


def load_cm_context(mod: ModuleType | None = None) -> type[CmContext] | None:
    """The C one-call-per-packet AES-CM + HMAC-SHA1 context, or ``None``: not built, stale,
    or a CPU without AES-NI (no table-driven AES in C: it leaks the key through timing)."""
    mod = mod or load_native_module()
    if mod is None or not mod.cpu_features()[0]:
        return None
    return mod.CmContext  # type: ignore[no-any-return]


def load_gcm_support(mod: ModuleType | None = None) -> bool:
    """Whether the C context may run AES-GCM sessions (``gcm=True``): built, current, and
    a CPU with AES-NI and PCLMULQDQ (GHASH is a carry-less multiplication; without the
    instruction the constant-time alternatives are slow, so `cryptography` keeps it)."""
    mod = mod or load_native_module()
    return mod is not None and all(mod.cpu_features()[::2])


_PURE = pure_requested("RVOIP_SRTP_PURE")
#: The accelerator, imported once here (a stale build is reported once); loaded even with
#: the switches below set, since tests put sessions on it whatever the environment says.
_NATIVE_MOD = load_native_module()
_USE = None if _PURE else _NATIVE_MOD  # (None: nothing loaded again below)
#: The C XOR, or ``None`` (not built, stale, or ``RVOIP_PURE`` / ``RVOIP_SRTP_PURE`` set).
#: Read when a session is made, so tests may switch it for the sessions they create.
#: RVOIP_SRTP_PURE switches off just this one (benchmarks).
XOR_TAIL: XorTail | None = None if _USE is None else load_native(_USE)
#: The C context type SrtpSession uses for single-key AES-CM sessions without MKI, or
#: ``None`` (same switches as :data:`XOR_TAIL`, plus AES-NI). Read when a session is made.
CM_CONTEXT: type[CmContext] | None = None if _USE is None else load_cm_context(_USE)
#: Whether :data:`CM_CONTEXT` also takes AEAD_AES_*_GCM sessions (RFC 7714): AES-NI and
#: PCLMULQDQ. Read when a session is made (tests switch it).
CM_GCM: bool = _USE is not None and load_gcm_support(_USE)


def replay_window(window: int, first: int) -> ReplayWindow:
    """The C replay state of a stream protected by a C context (so it reads it directly)."""
    assert _NATIVE_MOD is not None
    return _NATIVE_MOD.ReplayWindow(window, first)  # type: ignore[no-any-return]


#: Tests only: make C contexts with the portable C SHA-1 even where SHA-NI is present.
CM_PORTABLE_SHA = False

# (R, C) per block count n: R puts a 128-bit IV into each of n slots, C adds 0..n-1.
_PATTERNS: dict[int, tuple[int, int]] = {}


def counter_pattern(n: int) -> tuple[int, int]:
    """Multiplier and addend turning one IV into the concatenation of n counter blocks."""
    pat = _PATTERNS.get(n)
    if pat is None:
        if n > 0x10000:
            raise ValueError("AES-CM counter would leave its 16 bits (packet over 1 MiB)")
        rep = int.from_bytes(
            (b"\x00" * 15 + b"\x01") * n, "big"
        )
        add = int.from_bytes(b"".join(bytes(14) + j.to_bytes(2, "big") for j in range(n)), "big")
        pat = (rep, add)
        if n <= 4096:
            _PATTERNS[n] = pat
    return pat


#: Packets whose AES-CM keystream is made ahead in one AES call (a power of two).
KS_CHUNK = 32
_CHUNK_PATTERNS: dict[int, tuple[int, int]] = {}


def _chunk_pattern(nblk: int) -> tuple[int, int]:
    """(R, P) for ``KS_CHUNK`` packets of ``nblk`` blocks: R repeats an IV into every slot,
    P holds (p << 16) | j in the slot of packet p's block j."""
    pat = _CHUNK_PATTERNS.get(nblk)
    if pat is None:
        rep = counter_pattern(KS_CHUNK * nblk)[0] if KS_CHUNK * nblk <= 0x10000 else 0
        if not rep:
            raise ValueError("AES-CM keystream chunk too large")
        add = int.from_bytes(b"".join(
            bytes(10) + p.to_bytes(4, "big") + j.to_bytes(2, "big")
            for p in range(KS_CHUNK) for j in range(nblk)), "big")
        pat = (rep, add)
        if nblk <= 128:
            _CHUNK_PATTERNS[nblk] = pat
    return pat


def keystream_chunk(ecb_update: Callable[[bytes], bytes], iv0: int, nblk: int) -> list[int]:
    """AES-CM keystreams of ``KS_CHUNK`` consecutive packets in one AES call, each as a
    little-endian int of ``nblk`` blocks (ready to XOR with ``int.from_bytes(.., "little")``).

    ``iv0`` is the RFC 3711 §4.1.1 IV of the first packet, whose index is a multiple of
    ``KS_CHUNK``: packet p's IV is then ``iv0 XOR (p << 16)`` (the index bits of p and of
    the chunk's first index do not overlap) and its block j is ``IV XOR j``. Each 128-bit
    slot of ``iv0 * R`` is a copy of ``iv0``, so one XOR with P gives every counter block.
    """
    size = nblk << 4
    ks = keystream_chunk_bytes(ecb_update, iv0, nblk)
    fb = int.from_bytes
    return [fb(ks[o : o + size], "little") for o in range(0, size * KS_CHUNK, size)]


def keystream_chunk_bytes(ecb_update: Callable[[bytes], bytes], iv0: int, nblk: int) -> bytes:
    """:func:`keystream_chunk` as one ``bytes``: packet p's keystream at ``p * nblk * 16``
    (for :data:`XOR_TAIL`, which XORs from an offset without any int conversion)."""
    rep, pat = _chunk_pattern(nblk)
    return ecb_update((iv0 * rep ^ pat).to_bytes((nblk << 4) * KS_CHUNK, "big"))


def xor_keystream(ecb_update: Callable[[bytes], bytes], iv: int, data: bytes) -> bytes:
    """AES-CM (RFC 3711 §4.1.1): data XOR E(k, IV) || E(k, IV + 1) || ...

    The IV's low 16 bits are zero for SRTP (salt and index are shifted by 16), so the block
    counter never carries out of them for packets below 1 MiB and IV + j equals IV | j.
    """
    length = len(data)
    if not length:
        return b""
    n = (length + 15) >> 4
    rep, add = counter_pattern(n)
    ks = ecb_update((iv * rep + add).to_bytes(n << 4, "big"))
    if XOR_TAIL is not None:
        return XOR_TAIL(data, 0, length, ks, 0)
    if length & 15:
        ks = ks[:length]
    # XOR as integers; little-endian conversions are markedly cheaper in CPython.
    x = int.from_bytes(data, "little") ^ int.from_bytes(ks, "little")
    return x.to_bytes(length, "little")


def _ecb(key: bytes) -> Callable[[bytes], bytes]:
    """AES-ECB encryption with ``key``: what makes AES-CM keystream from counter blocks."""
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update


def _hmac_pads(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    # RFC 2104 HMAC with the inner and outer pad hashed once, copied per packet.
    block = key.ljust(64, b"\x00")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha1(bytes(b ^ 0x5C for b in block))
    return inner, outer


class KeyState:
    """Ciphers and packet counters of one master key (shared by every SSRC of a session)."""

    __slots__ = (
        "mki", "aead", "rtp_ecb", "rtcp_ecb", "rtp_salt", "rtcp_salt",
        "rtp_inner", "rtp_outer", "rtcp_inner", "rtcp_outer", "rtp_gcm", "rtcp_gcm",
        "_rtp_count", "rtcp_count", "rtp_limit", "rtcp_limit", "cx", "_rtp_key", "_rtcp_key",
    )

    def __init__(
        self, profile: SrtpProfile, master: MasterKey, session_keys: SessionKeys | None = None
    ) -> None:
        spec = profile.spec
        # session_keys lets the RFC 7714 vectors (which give session keys) bypass the KDF.
        # The session keys themselves are not kept (the ciphers below and the C context hold
        # what they need): a SessionKeys per key state would be one more object per call
        # for the garbage collector.
        keys = derive_session_keys(profile, master) if session_keys is None else session_keys
        self.mki = master.mki
        self.aead = spec.aead
        #: The session's C context when it protects with this key (it counts the packets).
        self.cx: CmContext | None = None
        self._rtp_count = 0
        self.rtcp_count = 0
        lifetime = master.lifetime
        self.rtp_limit = MAX_SRTP_PACKETS if lifetime is None else min(lifetime, MAX_SRTP_PACKETS)
        self.rtcp_limit = (
            MAX_SRTCP_PACKETS if lifetime is None else min(lifetime, MAX_SRTCP_PACKETS)
        )
        rtp_salt = int.from_bytes(keys.rtp_salt, "big")
        rtcp_salt = int.from_bytes(keys.rtcp_salt, "big")
        self.rtp_inner: hashlib._Hash | None = None
        self.rtp_outer: hashlib._Hash | None = None
        self.rtcp_inner: hashlib._Hash | None = None
        self.rtcp_outer: hashlib._Hash | None = None
        if spec.aead:
            # RFC 7714 §8.1 / §9.1: the 96-bit IV is (SSRC, ROC, SEQ or index) XOR salt.
            self.rtp_gcm: AESGCM | None = AESGCM(keys.rtp_key)
            self.rtcp_gcm: AESGCM | None = AESGCM(keys.rtcp_key)
            self.rtp_salt = rtp_salt
            self.rtcp_salt = rtcp_salt
            self.rtp_ecb: Callable[[bytes], bytes] | None = None
            self.rtcp_ecb: Callable[[bytes], bytes] | None = None
        else:
            # RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
            self.rtp_salt = rtp_salt << 16
            self.rtcp_salt = rtcp_salt << 16
            self._rtp_key = keys.rtp_key
            self._rtcp_key = keys.rtcp_key
            self.rtp_ecb = _ecb(keys.rtp_key)
            self.rtcp_ecb = _ecb(keys.rtcp_key)
            self.rtp_inner, self.rtp_outer = _hmac_pads(keys.rtp_auth)
            self.rtcp_inner, self.rtcp_outer = _hmac_pads(keys.rtcp_auth)
            self.rtp_gcm = self.rtcp_gcm = None

    def release_ciphers(self) -> None:
        """Drop the AES-ECB contexts once a C context does this key's SRTP: each is three
        objects the garbage collector walks on every full pass, for a whole call. They are
        made again when needed (:meth:`rtp_cipher`, :meth:`rtcp_cipher`)."""
        if not self.aead:
            self.rtp_ecb = self.rtcp_ecb = None

    def rtp_cipher(self) -> Callable[[bytes], bytes]:
        """The SRTP AES-ECB ``update`` (made again and kept after :meth:`release_ciphers`:
        the C context left a packet to the Python path)."""
        ecb = self.rtp_ecb
        if ecb is None:
            ecb = self.rtp_ecb = _ecb(self._rtp_key)
        return ecb

    def rtcp_cipher(self) -> Callable[[bytes], bytes]:
        """The SRTCP AES-ECB ``update``: kept on the Python path; after
        :meth:`release_ciphers` made for each SRTCP packet (one every few seconds; ~3 µs)."""
        ecb = self.rtcp_ecb
        return _ecb(self._rtcp_key) if ecb is None else ecb

    @property
    def rtp_count(self) -> int:
        """SRTP packets processed under this key (RFC 3711 §9.2 limit)."""
        cx = self.cx
        return self._rtp_count if cx is None else cx.count

    @rtp_count.setter
    def rtp_count(self, value: int) -> None:
        cx = self.cx
        if cx is None:
            self._rtp_count = value
        else:
            cx.count = value

    def rtp_hmac(self, data: bytes, roc: int) -> bytes:
        """RFC 3711 §4.2: HMAC-SHA1(k_a, authenticated portion || ROC), full 20 bytes."""
        inner = self.rtp_inner.copy()  # type: ignore[union-attr]
        inner.update(data)
        inner.update(roc.to_bytes(4, "big"))
        outer = self.rtp_outer.copy()  # type: ignore[union-attr]
        outer.update(inner.digest())
        return outer.digest()

    def rtcp_hmac(self, data: bytes) -> bytes:
        """RFC 3711 §3.4: the SRTCP tag covers the packet, the E flag and the SRTCP index."""
        inner = self.rtcp_inner.copy()  # type: ignore[union-attr]
        inner.update(data)
        outer = self.rtcp_outer.copy()  # type: ignore[union-attr]
        outer.update(inner.digest())
        return outer.digest()
