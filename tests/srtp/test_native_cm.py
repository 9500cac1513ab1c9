"""The one-call-per-packet C context (``_srtp_native.CmContext``) against two references.

- Differential against the pure path on the same random sequences: outputs, error kinds,
  error counters, ROCs, stream tables and packet counts must be equal (both SHA-1 paths of
  the C code: SHA-NI and portable), over every profile (AES-CM, and AES-GCM where the CPU
  has PCLMULQDQ: its pure path is `cryptography`'s AESGCM), window sizes, lifetimes,
  ``max_streams``, ``accept_ssrcs``, ``allow_repeat_tx``, UNENCRYPTED_SRTP and batches.
- Differential against libsrtp (pylibsrtp): the same RTP packets give the same SRTP bytes,
  and the same (reordered, lost, replayed, corrupted, truncated) SRTP stream is accepted or
  refused alike, with the same plaintexts.
Plus hostile input: any bytes into ``unprotect`` give a typed error, never a crash.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio.srtp import SrtpError, SrtpPolicy, SrtpProfile, SrtpSession, _transform
from tests.conftest import require_module

from .conftest import NATIVE_CM, NATIVE_GCM, use_path

needs_cm = pytest.mark.skipif(NATIVE_CM is None, reason="_srtp_native or AES-NI missing")

CM_PROFILES = [p for p in SrtpProfile if not p.spec.aead]
GCM_PROFILES = [p for p in SrtpProfile if p.spec.aead]
#: The profiles the C context takes on this machine.
C_PROFILES = CM_PROFILES + (GCM_PROFILES if NATIVE_GCM else [])
SSRCS = (0x11111111, 0x22222222, 0xDEADBEEF)
VARIANTS = ("c", "c-portable-sha", "pure")


@pytest.fixture(autouse=True)
def srtp_path(monkeypatch: pytest.MonkeyPatch) -> str:
    # Overrides conftest's two-path fixture: these tests pick their paths themselves;
    # run once, with the accelerator loaded.
    use_path("native", monkeypatch)
    return "native"


def _session(variant: str, policy: SrtpPolicy, **kw: Any) -> SrtpSession:
    with pytest.MonkeyPatch.context() as mp:
        use_path("pure" if variant == "pure" else "native", mp)
        mp.setattr(_transform, "CM_PORTABLE_SHA", variant == "c-portable-sha")
        s = SrtpSession(policy, **kw)
    assert (s._cx is None) == (variant == "pure")
    return s


def _rtp(seq: int, ssrc: int, payload: bytes, csrcs: int, ext: int) -> bytes:
    """RFC 3550 §5.1 header with ``csrcs`` CSRCs and, when ``ext``, an extension of
    ``ext - 1`` words (§5.3.1)."""
    b0 = 0x80 | csrcs | (0x10 if ext else 0)
    hdr = struct.pack("!BBHII", b0, 8, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc)
    hdr += bytes(range(4 * csrcs))
    if ext:
        hdr += struct.pack("!HH", 0xBEDE, ext - 1) + bytes([0x5A]) * (4 * (ext - 1))
    return hdr + payload


def _outcome(fn: Any, data: Any) -> Any:
    try:
        return fn(data)
    except SrtpError as e:
        return e.kind


packet_st = st.tuples(
    st.sampled_from(range(len(SSRCS))),
    st.one_of(st.just(1), st.just(1), st.just(1), st.integers(-300, 300),
              st.integers(0x7000, 0x9000)),        # next seq: in order, jitter, far jumps
    st.integers(0, 300),                            # payload length
    st.sampled_from([0, 0, 0, 1, 15]),              # CSRC count
    st.sampled_from([0, 0, 0, 1, 3]),               # extension words + 1
    st.sampled_from(["ok"] * 6 + ["tag", "body", "cut", "replay", "batch", "view"]),
)


@needs_cm
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(C_PROFILES),
    window=st.sampled_from([64, 128, 200, 1000]),
    repeat_ok=st.booleans(),
    encrypt=st.sampled_from([True, True, False]),
    lifetime=st.sampled_from([None, None, 30]),
    limits=st.sampled_from([{}, {"max_streams": 2}, {"accept_ssrcs": SSRCS[:2]}]),
    first=st.integers(0, 0xFFFF),
    ops=st.lists(packet_st, max_size=60),
    seed=st.integers(0, 2**32 - 1),
)
def test_c_equals_pure(profile: SrtpProfile, window: int, repeat_ok: bool, encrypt: bool,
                       lifetime: int | None, limits: dict[str, Any], first: int,
                       ops: list[tuple[int, int, int, int, int, str]], seed: int) -> None:
    rng = random.Random(seed)
    key = rng.randbytes(profile.spec.master_len)
    base = SrtpPolicy.from_key(profile, key, lifetime=lifetime, window_size=window)
    policy = SrtpPolicy(profile=profile, keys=base.keys, window_size=window,
                        encrypt_rtp=encrypt or profile.spec.aead, allow_repeat_tx=repeat_ok)
    txs = [_session(v, policy, **limits) for v in VARIANTS]
    rxs = [_session(v, policy, **limits) for v in VARIANTS]
    seqs = [first, (first + 0x4000) & 0xFFFF, (first + 0xC000) & 0xFFFF]
    sent: list[bytes] = []
    for which, step, size, csrcs, ext, mode in ops:
        seqs[which] = (seqs[which] + step) & 0xFFFF
        packet = _rtp(seqs[which], SSRCS[which], rng.randbytes(size), csrcs, ext)
        if mode == "batch":
            batch = [packet, _rtp(seqs[which] + 1, SSRCS[which], rng.randbytes(size), 0, 0)]
            seqs[which] = (seqs[which] + 1) & 0xFFFF
            outs = [_outcome(t.protect_many, batch) for t in txs]
            wires = outs[0] if isinstance(outs[0], list) else []
        else:
            outs = [_outcome(t.protect, packet) for t in txs]
            wires = [outs[0]] if isinstance(outs[0], bytes) else []
        assert outs[1] == outs[0] and outs[2] == outs[0]
        for wire in wires:
            sent.append(wire)
            if mode == "tag":
                wire = wire[:-1] + bytes([wire[-1] ^ 0x80])
            elif mode == "body" and len(wire) > 12:
                i = rng.randrange(12, len(wire))
                wire = wire[:i] + bytes([wire[i] ^ 1]) + wire[i + 1 :]
            elif mode == "cut":
                wire = wire[: rng.randrange(len(wire))]
            elif mode == "replay":
                wire = rng.choice(sent)
            data: Any = memoryview(bytearray(wire)) if mode == "view" else wire
            got = [_outcome(r.unprotect, data) for r in rxs]
            assert got[1] == got[0] and got[2] == got[0], (mode, got)
    for group in (txs, rxs):
        ref = group[2]
        for s in group[:2]:
            assert s.errors == ref.errors
            assert s.packet_counts() == ref.packet_counts()
            for out in (True, False):
                assert s.ssrcs(outbound=out) == ref.ssrcs(outbound=out)
                for ssrc in SSRCS:
                    assert s.roc(ssrc, outbound=out) == ref.roc(ssrc, outbound=out)


@needs_cm
def test_remove_ssrc_and_state_shared_with_python() -> None:
    policy = SrtpPolicy.from_key(SrtpProfile.AES_CM_128_HMAC_SHA1_80, bytes(range(30)))
    tx, rx = _session("c", policy), _session("c", policy)
    for seq in (0xFFFE, 0xFFFF, 0, 1):
        assert rx.unprotect(tx.protect(_rtp(seq, SSRCS[0], b"x" * 20, 0, 0)))
    assert tx.roc(SSRCS[0]) == 1 and rx.roc(SSRCS[0], outbound=False) == 1
    rp = rx._rx[SSRCS[0]].rtp
    assert rp is not None and rp.hi == 0x10001 and rp.bits == 0b1111
    packet = _rtp(2, SSRCS[0], b"y", 0, 0)
    wire = tx.protect(packet)
    rx.remove_ssrc(SSRCS[0])
    assert rx.ssrcs(outbound=False) == [] and rx.roc(SSRCS[0], outbound=False) == 0
    # A fresh stream starts at ROC 0 (RFC 3711 §3.3.1): the sender's ROC 1 packet fails...
    with pytest.raises(SrtpError):
        rx.unprotect(wire)
    assert rx.ssrcs(outbound=False) == []  # ...and a refused packet creates no stream
    tx.remove_ssrc(SSRCS[0])
    assert rx.unprotect(tx.protect(packet)) == packet


@needs_cm
def test_mki_sessions_and_gcm_without_pclmul_keep_the_python_path() -> None:
    from rvoip_sansio.srtp import MasterKey

    mk = MasterKey(key=bytes(16), salt=bytes(14), mki=b"\x01")
    gk = MasterKey(key=bytes(16), salt=bytes(12), mki=b"\x01")
    with pytest.MonkeyPatch.context() as mp:  # (the module's fixture loaded the accelerator)
        assert SrtpSession(SrtpPolicy(profile=SrtpProfile.AES_CM_128_HMAC_SHA1_80,
                                      keys=(mk,)))._cx is None
        assert SrtpSession(SrtpPolicy(profile=SrtpProfile.AEAD_AES_128_GCM,
                                      keys=(gk,)))._cx is None
        assert SrtpSession(SrtpProfile.AES_192_CM_HMAC_SHA1_32, bytes(38))._cx is not None
        gcm = SrtpSession(SrtpProfile.AEAD_AES_256_GCM, bytes(44))
        assert (gcm._cx is not None) == NATIVE_GCM
        mp.setattr(_transform, "CM_GCM", False)  # a CPU without PCLMULQDQ
        assert SrtpSession(SrtpProfile.AEAD_AES_128_GCM, bytes(28))._cx is None


@needs_cm
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(C_PROFILES))
def test_hostile_bytes_give_typed_errors(data: bytes, profile: SrtpProfile) -> None:
    rx = _session("c", SrtpPolicy.from_key(profile, bytes(profile.spec.master_len)))
    with pytest.raises(SrtpError):
        rx.unprotect(data)
    # Header-shaped garbage with CSRC/extension lengths pointing anywhere.
    with pytest.raises(SrtpError):
        rx.unprotect(bytes([0x90 | (len(data) & 15), 0]) + data)
    try:
        tx = _session("c", SrtpPolicy.from_key(profile, bytes(profile.spec.master_len)))
        tx.protect(bytes([0x80 | (len(data) & 31)]) + data)
    except SrtpError:
        pass


# ------------------------------------------------------------------------------ libsrtp
LIB_PROFILES = [
    SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AES_CM_128_HMAC_SHA1_32,
    SrtpProfile.AES_256_CM_HMAC_SHA1_80, SrtpProfile.AES_256_CM_HMAC_SHA1_32,
] + (GCM_PROFILES if NATIVE_GCM else [])


@needs_cm
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(LIB_PROFILES),
    first=st.integers(0, 0x7FFF),
    packets=st.lists(st.tuples(st.integers(0, 1400), st.sampled_from([0, 0, 2, 15]),
                               st.sampled_from([0, 0, 1, 4]), st.integers(1, 3)),
                     min_size=1, max_size=40),
    mutations=st.lists(st.sampled_from(["tag", "cut", "replay", "drop", "swap"]), max_size=10),
    seed=st.integers(0, 2**32 - 1),
)
def test_against_libsrtp(profile: SrtpProfile, first: int,
                         packets: list[tuple[int, int, int, int]], mutations: list[str],
                         seed: int) -> None:
    lib = require_module("pylibsrtp")
    from .test_libsrtp_interop import _sessions

    rng = random.Random(seed)
    key = rng.randbytes(profile.spec.master_len)
    lib_tx, lib_rx = _sessions(profile, key)
    policy = SrtpPolicy.from_key(profile, key)
    ours_tx, ours_rx = _session("c", policy), _session("c", policy)
    seq = first
    plain: list[bytes] = []
    for size, csrcs, ext, step in packets:  # forward steps: loss, and the 16-bit wrap
        seq += step + (0x7000 if rng.random() < 0.05 else 0)
        hdr_len = 12 + 4 * csrcs + (4 * ext if ext else 0)
        # pylibsrtp's buffer holds 1500 bytes with room for a 144-byte trailer.
        size = min(size, 1500 - 144 - hdr_len)
        plain.append(_rtp(seq, 0x0BADCAFE, rng.randbytes(size), csrcs, ext))
    # Our packets are libsrtp's packets (RFC 3711 is deterministic).
    wire = [ours_tx.protect(p) for p in plain]
    assert wire == [lib_tx.protect(p) for p in plain]
    stream = list(zip(wire, plain))
    for m in mutations:
        i = rng.randrange(len(stream))
        w, p = stream[i]
        if m == "tag" and len(w) >= 2:
            stream.insert(i, (w[:-2] + bytes([w[-2] ^ 4]) + w[-1:], b""))
        elif m == "cut" and w:
            stream.insert(i, (w[: rng.randrange(len(w))], b""))
        elif m == "replay":
            stream.append((w, b""))
        elif m == "drop":
            del stream[i]
        elif m == "swap" and i + 1 < len(stream):
            stream[i], stream[i + 1] = stream[i + 1], stream[i]
        if not stream:
            return
    seen: set[bytes] = set()
    for w, p in stream:
        try:
            theirs: bytes | None = lib_rx.unprotect(w)
        except lib.Error:
            theirs = None
        mine = _outcome(ours_rx.unprotect, w)
        assert (mine if isinstance(mine, bytes) else None) == theirs, (len(w), mine)
        if theirs is not None:
            assert w not in seen and (not p or theirs == p)
            seen.add(w)
