"""Session behaviour: state committed only after authentication, replay windows, ROC,
limits, typed errors, and hypothesis garbage that never corrupts state."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvoip_sansio import RemoteProtocolError
from rvoip_sansio.srtp import MasterKey, SrtpError, SrtpErrorKind, SrtpPolicy, SrtpProfile, SrtpSession

from ._util import rtcp_sr, rtp

ALL = list(SrtpProfile)
KEY = {p: bytes(range(p.spec.master_len)) for p in ALL}


def _snapshot(s: SrtpSession) -> object:
    streams = {}
    for name, table in (("tx", s._tx), ("rx", s._rx)):
        for ssrc, stream in table.items():
            streams[(name, ssrc)] = (
                None if stream.rtp is None else (stream.rtp.hi, stream.rtp.bits),
                None if stream.rtcp is None else (stream.rtcp.hi, stream.rtcp.bits),
                stream.rtcp_next,
            )
    return streams, [(k.rtp_count, k.rtcp_count) for k in s._key_states()]


@pytest.mark.parametrize("profile", ALL, ids=lambda p: p.value)
def test_round_trip_every_profile(profile: SrtpProfile) -> None:
    tx, rx = SrtpSession(profile, KEY[profile]), SrtpSession(profile, KEY[profile])
    for seq in (0, 1, 2, 100):
        pkt = rtp(seq)
        wire = tx.protect(pkt)
        assert len(wire) == len(pkt) + profile.spec.rtp_tag_len
        assert wire[12:] != pkt[12:]
        assert rx.unprotect(wire) == pkt
    report = rtcp_sr(0x12345678)
    wire = tx.protect_rtcp(report)
    assert len(wire) == len(report) + 4 + profile.spec.rtcp_tag_len
    assert rx.unprotect_rtcp(wire) == report


def test_errors_are_remote_protocol_errors_with_kind() -> None:
    rx = SrtpSession("AES_CM_128_HMAC_SHA1_80", KEY[SrtpProfile.AES_CM_128_HMAC_SHA1_80])
    with pytest.raises(RemoteProtocolError):
        rx.unprotect(b"\x80")
    assert rx.errors[SrtpErrorKind.MALFORMED] == 1


@pytest.mark.parametrize("profile", ALL, ids=lambda p: p.value)
def test_failed_auth_commits_nothing(profile: SrtpProfile) -> None:
    """A forged packet far ahead (which would move the ROC) must leave the stream as it was."""
    key = KEY[profile]
    tx, rx = SrtpSession(profile, key), SrtpSession(profile, key)
    for seq in range(65500, 65510):
        rx.unprotect(tx.protect(rtp(seq)))
    before = _snapshot(rx)
    # A real packet after the wrap (ROC 1), tampered: tag fails.
    good = tx.protect(rtp(30))
    forged = bytearray(good)
    forged[-1] ^= 0x80
    with pytest.raises(SrtpError) as err:
        rx.unprotect(bytes(forged))
    assert err.value.kind is SrtpErrorKind.AUTH
    assert _snapshot(rx) == before
    assert rx.roc(0x12345678, outbound=False) == 0
    # A forged packet from an unseen SSRC does not create a stream either.
    other = bytearray(SrtpSession(profile, key).protect(rtp(1, ssrc=0xDEAD)))
    other[-2] ^= 1
    with pytest.raises(SrtpError):
        rx.unprotect(bytes(other))
    assert _snapshot(rx) == before and 0xDEAD not in rx.ssrcs(outbound=False)
    # The genuine packet still goes through afterwards and moves the ROC.
    assert rx.unprotect(good) == rtp(30)
    assert rx.roc(0x12345678, outbound=False) == 1
    assert rx.errors[SrtpErrorKind.AUTH] == 2


def test_replay_window_rules() -> None:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    tx = SrtpSession(p, KEY[p])
    wire = {seq: tx.protect(rtp(seq)) for seq in range(1000, 1300)}
    rx = SrtpSession(SrtpPolicy.from_key(p, KEY[p], window_size=64))
    rx.unprotect(wire[1200])
    rx.unprotect(wire[1137])  # 63 behind: inside a 64 window
    for seq, kind in ((1200, SrtpErrorKind.REPLAY), (1137, SrtpErrorKind.REPLAY),
                      (1136, SrtpErrorKind.REPLAY)):  # duplicate, duplicate, too old
        with pytest.raises(SrtpError) as err:
            rx.unprotect(wire[seq])
        assert err.value.kind is kind
    rx.unprotect(wire[1150])
    rx.unprotect(wire[1299])
    with pytest.raises(SrtpError):
        rx.unprotect(wire[1200])  # now 99 behind: too old
    assert rx.errors[SrtpErrorKind.REPLAY] == 4
    big = SrtpSession(SrtpPolicy.from_key(p, KEY[p], window_size=1024))
    big.unprotect(wire[1299])
    big.unprotect(wire[1000])  # 299 behind is fine with a 1024 window
    with pytest.raises(ValueError):
        SrtpPolicy.from_key(p, KEY[p], window_size=32)


def test_roc_estimation_across_wrap_with_reordering() -> None:
    """RFC 3711 Appendix A: late packets from before the wrap keep ROC 0, later ones ROC 1."""
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    tx = SrtpSession(p, KEY[p])
    wire = {seq: tx.protect(rtp(seq)) for seq in list(range(65530, 65536)) + list(range(0, 6))}
    rx = SrtpSession(p, KEY[p])
    for seq in (65530, 65531, 0, 65533, 1, 65532, 65535, 2, 65534, 5, 3, 4):
        assert rx.unprotect(wire[seq]) == rtp(seq)
    assert rx.roc(0x12345678, outbound=False) == 1
    assert tx.roc(0x12345678) == 1


def test_srtcp_replay_and_e_flag() -> None:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    tx = SrtpSession(p, KEY[p])
    w1, w2 = tx.protect_rtcp(rtcp_sr(5, 1)), tx.protect_rtcp(rtcp_sr(5, 2))
    assert w1[-14:-10] == b"\x80\x00\x00\x01" and w2[-14:-10] == b"\x80\x00\x00\x02"
    rx = SrtpSession(p, KEY[p])
    assert rx.unprotect_rtcp(w2) == rtcp_sr(5, 2)
    assert rx.unprotect_rtcp(w1) == rtcp_sr(5, 1)
    with pytest.raises(SrtpError) as err:
        rx.unprotect_rtcp(w1)
    assert err.value.kind is SrtpErrorKind.REPLAY
    # UNENCRYPTED_SRTCP (RFC 3711 §3.4 E = 0): payload in clear, still authenticated.
    pol = SrtpPolicy(profile=p, keys=SrtpPolicy.from_key(p, KEY[p]).keys, encrypt_rtcp=False)
    clear = SrtpSession(pol).protect_rtcp(rtcp_sr(5, 3))
    assert clear.startswith(rtcp_sr(5, 3)) and clear[-14:-10] == b"\x00\x00\x00\x01"
    assert SrtpSession(pol).unprotect_rtcp(clear) == rtcp_sr(5, 3)
    # Flipping E breaks the tag (E is authenticated).
    flipped = bytearray(clear)
    flipped[-14] |= 0x80
    with pytest.raises(SrtpError) as err:
        SrtpSession(pol).unprotect_rtcp(bytes(flipped))
    assert err.value.kind is SrtpErrorKind.AUTH


def test_key_lifetime_limit() -> None:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    pol = SrtpPolicy.from_key(p, KEY[p], lifetime=3)
    tx = SrtpSession(pol)
    for seq in range(3):
        tx.protect(rtp(seq))
    with pytest.raises(SrtpError, match="limit") as err:
        tx.protect(rtp(3))
    assert err.value.kind is SrtpErrorKind.KEY_EXHAUSTED
    assert tx.errors[SrtpErrorKind.KEY_EXHAUSTED] == 1
    with pytest.raises(SrtpError):
        tx.protect_many([rtp(4)])
    # The RFC 3711 §9.2 maxima apply without a lifetime.
    k = SrtpSession(p, KEY[p])._tx_key
    assert (k.rtp_limit, k.rtcp_limit) == (2**48, 2**31)
    k.rtp_count = 2**48 - 1
    s = SrtpSession(p, KEY[p])
    s._tx_key.rtp_count = 2**48
    with pytest.raises(SrtpError) as err:
        s.protect(rtp(0))
    assert err.value.kind is SrtpErrorKind.KEY_EXHAUSTED
    s._tx_key.rtcp_count = 2**31
    with pytest.raises(SrtpError) as err:
        s.protect_rtcp(rtcp_sr(1))
    assert err.value.kind is SrtpErrorKind.KEY_EXHAUSTED
    # The 31-bit SRTCP index itself must not wrap (RFC 3711 §3.4).
    t = SrtpSession(p, KEY[p])
    t.protect_rtcp(rtcp_sr(9))
    t._tx[9].rtcp_next = 2**31 - 1
    assert t.protect_rtcp(rtcp_sr(9))[-14:-10] == b"\xff\xff\xff\xff"
    with pytest.raises(SrtpError) as err:
        t.protect_rtcp(rtcp_sr(9))
    assert err.value.kind is SrtpErrorKind.KEY_EXHAUSTED


def test_repeat_tx_refused_unless_allowed() -> None:
    p = SrtpProfile.AEAD_AES_128_GCM
    tx = SrtpSession(p, KEY[p])
    tx.protect(rtp(10))
    with pytest.raises(SrtpError) as err:
        tx.protect(rtp(10, payload=b"other"))  # would reuse the GCM nonce
    assert err.value.kind is SrtpErrorKind.REPLAY
    pol = SrtpPolicy(profile=p, keys=SrtpPolicy.from_key(p, KEY[p]).keys, allow_repeat_tx=True)
    again = SrtpSession(pol)
    assert again.protect(rtp(10)) == again.protect(rtp(10))


def test_stream_limits_and_accepted_ssrcs() -> None:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    tx = SrtpSession(p, KEY[p])
    rx = SrtpSession(p, KEY[p], max_streams=2)
    for ssrc in (1, 2):
        rx.unprotect(tx.protect(rtp(0, ssrc=ssrc)))
    with pytest.raises(SrtpError) as err:
        rx.unprotect(tx.protect(rtp(0, ssrc=3)))
    assert err.value.kind is SrtpErrorKind.UNKNOWN_SSRC
    only = SrtpSession(p, KEY[p], accept_ssrcs=[1])
    only.unprotect(tx.protect(rtp(1, ssrc=1)))
    with pytest.raises(SrtpError):
        only.unprotect(tx.protect(rtp(1, ssrc=2)))
    rx.remove_ssrc(1)
    assert rx.ssrcs(outbound=False) == [2]


def test_header_extension_and_csrc_are_authenticated_not_encrypted() -> None:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    # CC = 2, X = 1 with a one-word extension (RFC 3550 §5.3.1).
    hdr = bytes([0x92, 0x00, 0x00, 0x05]) + bytes(4) + (7).to_bytes(4, "big")
    hdr += b"CSR1CSR2" + b"\xbe\xde\x00\x01" + b"EXT!"
    pkt = hdr + b"payload" * 10
    wire = SrtpSession(p, KEY[p]).protect(pkt)
    assert wire.startswith(hdr) and wire[len(hdr) : len(pkt)] != pkt[len(hdr) :]
    assert SrtpSession(p, KEY[p]).unprotect(wire) == pkt
    truncated = hdr[:22]  # extension length points past the end
    with pytest.raises(SrtpError) as err:
        SrtpSession(p, KEY[p]).protect(truncated)
    assert err.value.kind is SrtpErrorKind.MALFORMED


@pytest.mark.parametrize("profile", ALL, ids=lambda p: p.value)
def test_batch_equals_single(profile: SrtpProfile) -> None:
    rng = random.Random(3)
    packets = [rtp(s, ssrc=ssrc, payload=rng.randbytes(rng.choice((0, 1, 16, 160, 333))))
               for s in range(65500, 65600) for ssrc in (1, 2)]
    one, many = SrtpSession(profile, KEY[profile]), SrtpSession(profile, KEY[profile])
    expected = [one.protect(p) for p in packets]
    got = many.protect_many(packets[:77]) + many.protect_many(packets[77:])
    assert got == expected
    assert _snapshot(one) == _snapshot(many)
    # A bad packet anywhere in a batch: nothing changes.
    before = _snapshot(many)
    with pytest.raises(SrtpError):
        many.protect_many([rtp(70), b"\x00" * 20])
    assert _snapshot(many) == before


# ------------------------------------------------------------------------- hypothesis
def _mutations() -> st.SearchStrategy[bytes]:
    p = SrtpProfile.AES_CM_128_HMAC_SHA1_80
    tx = SrtpSession(p, KEY[p])
    genuine = [tx.protect(rtp(s)) for s in range(20, 25)]  # all replays for the receiver + [tx.protect_rtcp(rtcp_sr(0x12345678, 1))]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        base = bytearray(draw(st.sampled_from(genuine)))
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(base) - 1))
            base[pos] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(base)))
        return bytes(base[:cut]) if draw(st.booleans()) else bytes(base)

    return st.one_of(st.binary(max_size=400), mutate())


@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM],
                         ids=lambda p: p.value)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_mutations())
def test_garbage_gives_typed_errors_and_no_state_change(profile: SrtpProfile, data: bytes) -> None:
    tx, rx = SrtpSession(profile, KEY[profile]), SrtpSession(profile, KEY[profile])
    for s in range(20, 25):
        rx.unprotect(tx.protect(rtp(s)))
    rx.unprotect_rtcp(tx.protect_rtcp(rtcp_sr(0x12345678, 1)))
    before = _snapshot(rx)
    for fn in (rx.unprotect, rx.unprotect_rtcp):
        try:
            fn(data)
        except SrtpError as exc:
            assert isinstance(exc.kind, SrtpErrorKind)
        else:  # only a genuine packet (a replay here, so never) may pass
            pytest.fail("garbage was accepted")
    assert _snapshot(rx) == before
    assert rx.unprotect(tx.protect(rtp(25))) == rtp(25)


@pytest.mark.parametrize("profile", ALL, ids=lambda p: p.value)
def test_batch_fast_path_equals_single(profile: SrtpProfile) -> None:
    """One streaming SSRC (the vectorised path): wrap, gaps, odd sizes, then a reorder."""
    rng = random.Random(11)
    seqs = list(range(65000, 65536)) + list(range(0, 300, 3)) + [400, 399, 401]
    packets = [rtp(s, payload=rng.randbytes(rng.choice((0, 7, 160, 160, 161)))) for s in seqs]
    one, many = SrtpSession(profile, KEY[profile]), SrtpSession(profile, KEY[profile])
    expected = [one.protect(p) for p in packets]
    got: list[bytes] = []
    for i in range(0, len(packets), 50):
        got += many.protect_many(packets[i : i + 50])
    assert got == expected
    assert _snapshot(one) == _snapshot(many)
    assert many.roc(0x12345678) == 1
    rx = SrtpSession(profile, KEY[profile])
    assert [rx.unprotect(w) for w in got] == packets


@pytest.mark.parametrize("size", [0, 16, 160, 161])
@pytest.mark.parametrize("profile", [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_256_GCM],
                         ids=lambda p: p.value)
def test_batch_uniform_consecutive_equals_single(profile: SrtpProfile, size: int) -> None:
    """The sender's common case: equal payload sizes, consecutive sequence numbers."""
    packets = [rtp(s & 0xFFFF, payload=bytes([s & 0xFF]) * size) for s in range(65400, 65800)]
    one, many = SrtpSession(profile, KEY[profile]), SrtpSession(profile, KEY[profile])
    expected = [one.protect(p) for p in packets]
    got = many.protect_many(packets[:1])
    for i in range(1, len(packets), 64):
        got += many.protect_many(packets[i : i + 64])
    assert got == expected
    assert _snapshot(one) == _snapshot(many)
