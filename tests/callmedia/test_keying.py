"""SDES in SDP (callmedia._keying): offer -> answer -> keys through the real SDP offer/answer,
checked by libsrtp (pylibsrtp) keyed from the a=crypto text on the wire, not by our parser."""

from __future__ import annotations

import base64
import random
import re
from typing import Any

import attrs
import pytest

from rvoip_sansio import ParseError
from rvoip_sansio.callmedia import SAVP, SrtpKeys, keys_from_answer, secure_answer, secure_offer
from rvoip_sansio.sdp import PCMU, LocalCapabilities, MediaCapabilities, OfferAnswer
from rvoip_sansio.srtp import SdesError, SrtpProfile, SrtpSession
from tests.conftest import require_module
from tests.srtp._util import rtp

PLAIN = MediaCapabilities(codecs=(PCMU,), port=40000, rtcp_mux=True, accept_protos=(SAVP,))

# RFC 4568 §4 example key (key||salt of AES_CM_128_HMAC_SHA1_80, base64).
RFC4568_KEY = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
PEER_OFFER = (
    "v=0\r\no=peer 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
    "m=audio 49170 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=crypto:1 NOT_A_SUITE inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    f"a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}\r\n"
).encode()

_LIB_PROFILE = {
    SrtpProfile.AES_CM_128_HMAC_SHA1_80: "SRTP_PROFILE_AES128_CM_SHA1_80",
    SrtpProfile.AES_CM_128_HMAC_SHA1_32: "SRTP_PROFILE_AES128_CM_SHA1_32",
    SrtpProfile.AEAD_AES_128_GCM: "SRTP_PROFILE_AEAD_AES_128_GCM",
    SrtpProfile.AEAD_AES_256_GCM: "SRTP_PROFILE_AEAD_AES_256_GCM",
}


def _wire_key(sdp: bytes, tag: int) -> tuple[str, bytes]:
    """(suite, key||salt) of ``a=crypto:<tag>`` read straight from the SDP text."""
    m = re.search(rb"a=crypto:%d ([A-Z0-9_]+) inline:([A-Za-z0-9+/=]+)" % tag, sdp)
    assert m is not None, sdp
    return m.group(1).decode(), base64.b64decode(m.group(2))


def _libsrtp(suite: str, key: bytes, inbound: bool) -> Any:
    lib = require_module("pylibsrtp")
    P = lib.Policy
    return lib.Session(P(key=key, ssrc_type=P.SSRC_ANY_INBOUND if inbound else P.SSRC_ANY_OUTBOUND,
                         srtp_profile=getattr(P, _LIB_PROFILE[SrtpProfile(suite)])))


def _check_both_ways(keys: SrtpKeys, suite: str, peer_tx_key: bytes, our_tx_key: bytes) -> None:
    """libsrtp keyed with the peer's wire key protects, our rx opens; our tx protects,
    libsrtp keyed with our wire key opens."""
    peer_out = _libsrtp(suite, peer_tx_key, inbound=False)
    peer_in = _libsrtp(suite, our_tx_key, inbound=True)
    rx, tx = SrtpSession(keys.rx), SrtpSession(keys.tx)
    for seq in range(20):
        pkt = rtp(seq, ssrc=0xCAFE, payload=bytes([seq]) * 160)
        assert rx.unprotect(peer_out.protect(pkt)) == pkt
        assert peer_in.unprotect(tx.protect(pkt)) == pkt


@pytest.mark.parametrize("profile", list(_LIB_PROFILE), ids=lambda p: p.value)
def test_offer_answer_round_trip_keys_agree_with_libsrtp(profile: SrtpProfile) -> None:
    rng = random.Random(profile.value)
    # Offerer: SAVP with crypto lines, through the real SDP offer machinery.
    audio, pending = secure_offer(PLAIN, rng=rng, profiles=(profile, SrtpProfile.AES_CM_128_HMAC_SHA1_32))
    assert audio.proto == SAVP
    alice = OfferAnswer(local=LocalCapabilities(address="192.0.2.1", media=(audio,)), rng=rng)
    offer = bytes(alice.create_offer())
    assert offer.count(b"a=crypto:") == 2 and b"RTP/SAVP" in offer
    # Answerer: picks the first supported line (its preference order), fresh key.
    bob_audio, bob_keys = secure_answer(attrs.evolve(PLAIN, port=50000), offer, rng=rng,
                                        profiles=(profile,))
    assert bob_keys is not None
    bob = OfferAnswer(local=LocalCapabilities(address="192.0.2.2", media=(bob_audio,)), rng=rng)
    answer_sdp, _ = bob.answer_offer(offer)
    answer = bytes(answer_sdp)
    assert answer.count(b"a=crypto:") == 1 and b"m=audio 50000 RTP/SAVP" in answer
    negotiated = alice.process_answer(answer).audio
    assert negotiated is not None
    alice_keys = keys_from_answer(pending, negotiated)
    assert alice_keys is not None
    suite, alice_wire = _wire_key(offer, 1)
    assert suite == profile.value
    _, bob_wire = _wire_key(answer, 1)
    assert bob_wire != alice_wire
    # Each side's keys work against libsrtp keyed from the other side's wire text.
    _check_both_ways(bob_keys, suite, peer_tx_key=alice_wire, our_tx_key=bob_wire)
    _check_both_ways(alice_keys, suite, peer_tx_key=bob_wire, our_tx_key=alice_wire)


def test_answer_to_a_peer_offer_uses_its_tag_and_rfc4568_key() -> None:
    audio, keys = secure_answer(PLAIN, PEER_OFFER, rng=random.Random(1))
    assert keys is not None and audio.proto == SAVP
    crypto = [a for a in audio.attributes if a.startswith("crypto:")]
    assert len(crypto) == 1 and crypto[0].startswith("crypto:7 AES_CM_128_HMAC_SHA1_80 inline:")
    ours = base64.b64decode(crypto[0].split("inline:")[1].split("|")[0])
    _check_both_ways(keys, "AES_CM_128_HMAC_SHA1_80",
                     peer_tx_key=base64.b64decode(RFC4568_KEY), our_tx_key=ours)


def test_plain_offer_answered_plain_and_bad_offers_raise() -> None:
    plain = PEER_OFFER.replace(b"RTP/SAVP", b"RTP/AVP").split(b"a=crypto")[0]
    assert secure_answer(PLAIN, plain, rng=random.Random(1)) == (PLAIN, None)
    only_bad = PEER_OFFER.replace(b"AES_CM_128_HMAC_SHA1_80", b"F8_128_HMAC_SHA1_80")
    with pytest.raises(SdesError):
        secure_answer(PLAIN, only_bad, rng=random.Random(1))
    with pytest.raises(ParseError):
        secure_answer(PLAIN, b"v=0\r\nm=audio x\r\n", rng=random.Random(1))


def test_answer_with_foreign_tag_or_suite_refused_and_no_crypto_gives_none() -> None:
    rng = random.Random(5)
    audio, pending = secure_offer(PLAIN, rng=rng, profiles=(SrtpProfile.AES_CM_128_HMAC_SHA1_80,))
    alice = OfferAnswer(local=LocalCapabilities(address="192.0.2.1", media=(audio,)), rng=rng)
    offer = bytes(alice.create_offer())
    head = offer.split(b"a=crypto")[0].replace(b"192.0.2.1", b"192.0.2.9")
    for line, ok in ((b"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + RFC4568_KEY.encode(), False),
                     (b"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + RFC4568_KEY.encode(), False),
                     (b"", True)):
        alice = OfferAnswer(local=LocalCapabilities(address="192.0.2.1", media=(audio,)), rng=rng)
        alice.create_offer()
        neg = alice.process_answer(head + (line + b"\r\n" if line else b"")).audio
        assert neg is not None
        if ok:
            assert keys_from_answer(pending, neg) is None
        else:
            with pytest.raises(SdesError):
                keys_from_answer(pending, neg)
