"""What an established SRTP session keeps for the garbage collector (issue 8: hundreds of
calls in one process; CPython's full collections walk every call's objects).

A session in a call lives as long as the call, so rarely used containers are made when first
needed and, where the C context does SRTP, the Python path's cipher objects are dropped. The
tests check the state stays small and that the lazily made parts behave as before: error
counts complete at the first read, MKI look-ups, a packet the C context leaves to Python, and
SRTCP (whose bytes test_libsrtp_interop checks against libsrtp on both paths).
"""

from __future__ import annotations

import gc

import pytest

from rvoip_sansio.srtp import SrtpError, SrtpErrorKind, SrtpPolicy, SrtpProfile, SrtpSession

from ._util import rtcp_sr, rtp

PROFILES = [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM]


def _own_tracked(s: SrtpSession) -> list[object]:
    """GC-tracked objects reachable from the session but not from its policy (which the
    caller holds anyway), the type objects or the shared enum members."""
    shared = {id(s.policy)} | {id(o) for o in gc.get_referents(s.policy)}
    shared |= {id(k) for k in s.policy.keys}
    seen: set[int] = set()
    out: list[object] = []
    todo: list[object] = [s]
    while todo:
        o = todo.pop()
        if id(o) in seen or id(o) in shared or isinstance(o, type) or not gc.is_tracked(o):
            continue
        if isinstance(o, SrtpErrorKind) or callable(o) and o is s._xor:
            continue
        seen.add(id(o))
        out.append(o)
        todo.extend(gc.get_referents(o))
    return out


def _call(profile: SrtpProfile) -> tuple[SrtpSession, SrtpSession]:
    """A sender and a receiver after RTP and SRTCP went through (one direction of a call)."""
    policy = SrtpPolicy.from_key(profile, bytes(range(profile.spec.master_len)))
    tx, rx = SrtpSession(policy), SrtpSession(policy)
    for seq in range(100, 140):
        assert rx.unprotect(tx.protect(rtp(seq, 0x1234, bytes(160)))) == rtp(seq, 0x1234, bytes(160))
    for n in range(3):
        assert rx.unprotect_rtcp(tx.protect_rtcp(rtcp_sr(0x1234, n))) == rtcp_sr(0x1234, n)
    return tx, rx


@pytest.mark.parametrize("profile", PROFILES)
def test_established_session_state(profile: SrtpProfile, srtp_path: str) -> None:
    tx, rx = _call(profile)
    for s in (tx, rx):
        assert s._errors is None  # nothing refused: no counts kept yet
        assert s._by_mki is None  # one master key, no MKI
        (stream,) = (s._tx or s._rx).values()
        assert stream.ks == () or srtp_path == "pure"
        if s._cx is not None:
            key = s._tx_key
            assert key.rtp_ecb is None and key.rtcp_ecb is None  # (AES-CM: the C context's)
            assert stream.rtcp is None or not gc.is_tracked(stream.rtcp)
        # The session, its key state and its stream (and stream table); on the pure path
        # also the stream's replay windows, the keystream list and the ciphers.
        own = _own_tracked(s)
        assert len(own) <= (4 if s._cx is not None else 9), [type(o).__name__ for o in own]


def test_errors_complete_at_first_read_and_counted() -> None:
    tx, rx = _call(SrtpProfile.AES_CM_128_HMAC_SHA1_80)
    assert tx.errors == {kind: 0 for kind in SrtpErrorKind}
    wire = tx.protect(rtp(500, 0x1234, bytes(20)))
    rx.unprotect(wire)
    with pytest.raises(SrtpError):
        rx.unprotect(wire)  # a replay
    with pytest.raises(SrtpError):
        rx.unprotect(b"\x80")
    counts = rx.errors
    assert counts[SrtpErrorKind.REPLAY] == 1 and counts[SrtpErrorKind.MALFORMED] == 1
    assert sum(counts.values()) == 2 and rx.errors is counts


def test_mki_lookups_without_an_mki_table() -> None:
    tx, _ = _call(SrtpProfile.AES_CM_128_HMAC_SHA1_80)
    tx.use_mki(b"")  # the one key, named by the empty MKI
    assert tx.packet_counts(b"") == tx.packet_counts() == (40, 3)
    with pytest.raises(ValueError, match="no master key"):
        tx.use_mki(b"\x01")
    with pytest.raises(KeyError):
        tx.packet_counts(b"\x01")


@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80,
                                     SrtpProfile.AES_256_CM_HMAC_SHA1_32])
def test_packet_left_to_python_after_the_ciphers_were_dropped(profile: SrtpProfile) -> None:
    # What the C context's RC_FALLBACK does: the Python path with the same stream state,
    # which makes the AES-ECB context again; same bytes as a session that always ran Python.
    tx, rx = _call(profile)
    ref_tx, ref_rx = _call(profile)
    plain = rtp(140, 0x1234, bytes(range(200)))
    wire = tx._protect_py(plain)
    assert wire == ref_tx.protect(plain)  # (RFC 3711 is deterministic: the same packet)
    assert rx._unprotect_py(wire) == plain == ref_rx.unprotect(wire)
    after = rtp(141, 0x1234, b"x")
    assert rx.unprotect(tx.protect(after)) == after  # the C context goes on from there
    assert (tx.packet_counts(), ref_tx.packet_counts()) == ((42, 3), (41, 3))
