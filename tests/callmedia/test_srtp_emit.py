"""SRTP is applied as the RTP session makes each datagram (RtpSession.protect_with): what a
call sends is opened by libsrtp (pylibsrtp), including packets made before the keys came
(DTLS-SRTP finishing between a tick and datagrams_to_send) and muxed SRTCP; an exhausted key
drops packets without raising."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from rvoip_sansio.callmedia import CallMedia, CallMediaConfig, SrtpKeys
from rvoip_sansio.rtp import parse_rtp_header
from rvoip_sansio.srtp import MasterKey, SrtpPolicy
from tests.conftest import require_module

PEER = ("192.0.2.7", 40000)
KEY = bytes(range(30))
PROFILE = "AES_CM_128_HMAC_SHA1_80"


def libsrtp_rx() -> object:
    lib = require_module("pylibsrtp")
    P = lib.Policy  # type: ignore[attr-defined]
    return lib.Session(P(key=KEY, ssrc_type=P.SSRC_ANY_INBOUND,  # type: ignore[attr-defined]
                         srtp_profile=P.SRTP_PROFILE_AES128_CM_SHA1_80))


def keys() -> SrtpKeys:
    return SrtpKeys(tx=SrtpPolicy.from_key(PROFILE, KEY), rx=SrtpPolicy.from_key(PROFILE, KEY))


def tone() -> np.ndarray:
    return np.round(8000 * np.sin(2 * np.pi * 440 * np.arange(1600) / 8000)).astype(np.int16)


def test_packets_made_before_the_keys_leave_protected() -> None:
    rx = libsrtp_rx()
    m = CallMedia(config=CallMediaConfig(remote_rtp=PEER, rate=8000, srtp_required=True),
                  rng=random.Random(1), now=0.0)
    m.write(tone())
    m.handle_timeout(0.0)  # one packet made, unkeyed
    m.set_srtp(keys())  # keyed before the adapter collected it
    sent = [t.data for t in m.datagrams_to_send(0.0)]
    for k in range(1, 5):
        m.handle_timeout(k * 0.02)
        sent += [t.data for t in m.datagrams_to_send(k * 0.02)]
    assert len(sent) == 5
    seqs = []
    for data in sent:
        assert data[12:172] != m.codec.encode(tone()[:160])  # not in the clear
        plain = rx.unprotect(data)  # type: ignore[attr-defined]
        assert len(plain) == 172
        seqs.append(parse_rtp_header(plain)[2])
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(5)]


def test_unkeyed_required_call_sends_nothing() -> None:
    m = CallMedia(config=CallMediaConfig(remote_rtp=PEER, rate=8000, srtp_required=True),
                  rng=random.Random(1), now=0.0)
    m.write(tone())
    for k in range(5):
        m.handle_timeout(k * 0.02)
        assert m.datagrams_to_send(k * 0.02) == []


def test_muxed_srtcp_and_bye_open_at_libsrtp() -> None:
    rx = libsrtp_rx()
    m = CallMedia(config=CallMediaConfig(remote_rtp=PEER, rate=8000, srtp=keys()),
                  rng=random.Random(2), now=0.0)
    m.write(tone())
    rtcp = []
    for k in range(400):  # 8 s: RTCP reports are due within the first 5 s
        m.handle_timeout(k * 0.02)
        for t in m.datagrams_to_send(k * 0.02):
            if 192 <= t.data[1] <= 223:
                rtcp.append(t.data)
            else:
                rx.unprotect(t.data)  # type: ignore[attr-defined]
    m.close(8.0)
    rtcp += [t.data for t in m.datagrams_to_send(8.0)]
    assert len(rtcp) >= 2
    for data in rtcp:
        plain = rx.unprotect_rtcp(data)  # type: ignore[attr-defined]
        assert plain[1] in (200, 201)  # a compound starts with SR or RR (RFC 3550 §6.1)


def test_exhausted_key_drops_packets_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    policy = SrtpPolicy(profile=SrtpPolicy.from_key(PROFILE, KEY).profile,
                        keys=(MasterKey(key=KEY[:16], salt=KEY[16:], lifetime=3),))
    m = CallMedia(config=CallMediaConfig(remote_rtp=PEER, rate=8000,
                                         srtp=SrtpKeys(tx=policy, rx=policy)),
                  rng=random.Random(3), now=0.0)
    m.write(tone())
    sent = []
    with caplog.at_level(logging.WARNING):
        for k in range(6):
            m.handle_timeout(k * 0.02)
            sent += m.datagrams_to_send(k * 0.02)
    assert len(sent) == 3  # the key's lifetime: 3 packets, then nothing (no key reuse)
    assert m.rtp.packets_sent == 6  # made and counted as before; the rest were dropped
    assert "dropped" in caplog.text
