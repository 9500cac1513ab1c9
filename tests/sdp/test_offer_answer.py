"""RFC 3264 offer/answer against real peers' SDP (baresip captures, Asterisk/Linphone/Chrome
formats) and the RFC's own examples."""

from __future__ import annotations

import random

import pytest

from rvoip_sansio import LocalProtocolError
from rvoip_sansio.sdp import (
    G722,
    L16_16K,
    OPUS,
    PCMA,
    PCMU,
    Codec,
    Direction,
    LocalCapabilities,
    MediaCapabilities,
    OfferAnswer,
    OfferAnswerError,
    OfferAnswerState,
    Setup,
    parse_sdp,
)
from tests.conftest import DATA

SDP_DIR = DATA / "sdp"


def load(name: str) -> bytes:
    return (SDP_DIR / name).read_bytes()


def caps(*codecs: Codec, **kw: object) -> LocalCapabilities:
    media_kw = {k: v for k, v in kw.items() if k not in ("bundle",)}
    return LocalCapabilities(
        address="192.0.2.50",
        media=(MediaCapabilities(codecs=codecs, port=30000, **media_kw),),  # type: ignore[arg-type]
        bundle=bool(kw.get("bundle", False)),
    )


def test_answer_baresip_offer_exact() -> None:
    oa = OfferAnswer(local=caps(PCMA, PCMU), session_id=77)
    answer, neg = oa.answer_offer(load("baresip_offer_opus_g722.sdp"))
    # Offerer's order (96 9 0 8 101): PCMU before PCMA; telephone-event keeps PT 101.
    assert bytes(answer) == (
        b"v=0\r\no=- 77 77 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
    audio = neg.audio
    assert audio is not None
    assert (audio.remote_address, audio.remote_port) == ("127.0.0.1", 3240)
    assert (audio.remote_rtcp_address, audio.remote_rtcp_port) == ("127.0.0.1", 3241)
    assert audio.codec is not None and audio.codec.name == "PCMU" and audio.payload_type == 0
    assert audio.telephone_event_pt == 101
    assert audio.direction is Direction.SENDRECV and audio.ptime == 20.0 and not audio.rtcp_mux


def test_answer_single_codec_option() -> None:
    oa = OfferAnswer(local=caps(PCMA, PCMU, answer_all_codecs=False), session_id=1)
    answer, neg = oa.answer_offer(load("asterisk_pjsip_offer.sdp"))
    assert answer.media[0].formats == ["0", "101"]
    assert neg.audio is not None and neg.audio.maxptime == 150.0


def test_dynamic_payload_types_follow_the_offerer_linphone() -> None:
    # We prefer opus at 111; Linphone offers it at 96 and telephone-event at 48k/16k/8k.
    mine = attrs_evolve(OPUS, payload_type=111)
    oa = OfferAnswer(local=caps(mine, PCMU), session_id=1)
    answer, neg = oa.answer_offer(load("linphone_offer.sdp"))
    m = answer.media[0]
    assert m.formats == ["96", "0", "101", "100"]
    assert [str(r) for r in m.rtpmaps] == [
        "96 opus/48000/2", "0 PCMU/8000", "101 telephone-event/48000", "100 telephone-event/8000",
    ]
    assert m.fmtp(96).params == "useinbandfec=1"  # type: ignore[union-attr]
    audio = neg.audio
    assert audio is not None and audio.payload_type == 96
    # RFC 4733 §2.5.1.2: the telephone-event clock matches the codec in use (opus: 48 kHz).
    assert audio.telephone_event is not None
    assert (audio.telephone_event.payload_type, audio.telephone_event.clock_rate) == (101, 48000)
    # Static PT 18 without rtpmap is G729 by RFC 3551; not ours, so not answered.
    assert "18" not in m.formats


def test_rfc3264_10_1_reject_video_and_accept() -> None:
    offer = load("rfc3264_10_1_offer.sdp")
    audio_only = OfferAnswer(local=caps(PCMU), session_id=2808844564)
    answer, neg = audio_only.answer_offer(offer)
    assert [(m.media, m.port, m.formats) for m in answer.media] == [
        ("audio", 30000, ["0"]),
        ("video", 0, ["31"]),  # RFC 3264 §6: rejected, port 0, keeps its m-line
    ]
    assert neg.media[1].accepted is False and neg.media[1].direction is Direction.INACTIVE
    # With MPV video too, the media formats are exactly those of the RFC's answer.
    both = OfferAnswer(
        local=LocalCapabilities(
            address="host.biloxi.example.com",
            username="bob",
            media=(
                MediaCapabilities(codecs=(PCMU,), port=49174, ptime=None, telephone_event=False),
                MediaCapabilities(codecs=(Codec(name="MPV", clock_rate=90000),), port=49170,
                                  media="video", ptime=None, telephone_event=False),
            ),
        ),
        session_id=2808844564,
    )
    answer, _ = both.answer_offer(offer)
    rfc = parse_sdp(load("rfc3264_10_1_answer.sdp"))
    assert [(m.media, m.port, m.formats, [str(r) for r in m.rtpmaps]) for m in answer.media] == [
        (m.media, m.port, m.formats, [str(r) for r in m.rtpmaps]) for m in rfc.media
    ]
    assert answer.origin.session_id == rfc.origin.session_id


HOLD_TABLE = [
    # (offered direction, local hold, answered direction)   RFC 3264 §6.1, §8.4
    ("sendrecv", False, "sendrecv"),
    ("sendonly", False, "recvonly"),
    ("recvonly", False, "sendonly"),
    ("inactive", False, "inactive"),
    ("sendrecv", True, "sendonly"),
    ("sendonly", True, "inactive"),
    ("recvonly", True, "sendonly"),
    ("inactive", True, "inactive"),
]


@pytest.mark.parametrize("offered,hold,expected", HOLD_TABLE)
def test_hold_directions_answered(offered: str, hold: bool, expected: str) -> None:
    offer = parse_sdp(load("asterisk_pjsip_offer.sdp"))
    offer.media[0].direction = Direction(offered)
    oa = OfferAnswer(local=caps(PCMU), session_id=5)
    answer, neg = oa.answer_offer(bytes(offer), hold=hold)
    assert answer.media[0].direction is Direction(expected)
    assert neg.media[0].direction is Direction(expected)
    assert neg.media[0].remote_direction is Direction(offered)


def test_asterisk_hold_reinvite_and_version_rules() -> None:
    oa = OfferAnswer(local=caps(PCMU, PCMA), session_id=9)
    first, neg1 = oa.answer_offer(load("asterisk_pjsip_offer.sdp"))
    assert neg1.remote_changed
    second, neg2 = oa.answer_offer(load("asterisk_pjsip_hold.sdp"))
    assert neg2.audio is not None and neg2.audio.direction is Direction.RECVONLY
    assert neg2.remote_changed  # Asterisk bumped its version
    assert second.origin.session_version == first.origin.session_version + 1
    # The same offer again (a session refresh): unchanged answer keeps the version (§8).
    third, neg3 = oa.answer_offer(load("asterisk_pjsip_hold.sdp"))
    assert not neg3.remote_changed
    assert third.origin.session_version == second.origin.session_version
    assert third.origin.session_id == first.origin.session_id == 9
    # While Asterisk holds us, our own re-offer keeps the hold (RFC 6337 §5.3): recvonly.
    reoffer = oa.create_offer()
    assert reoffer.media[0].direction is Direction.RECVONLY
    oa.rollback()
    # ... and our hold on top of theirs is inactive.
    assert oa.create_offer(hold=True).media[0].direction is Direction.INACTIVE


def test_offer_to_baresip_and_its_real_answers() -> None:
    """Offers we sent to baresip 1.0 in a live call, and baresip's 200 OK answers."""
    local = LocalCapabilities(
        address="127.0.0.1",
        media=(MediaCapabilities(codecs=(PCMA, PCMU, G722, OPUS), port=41000),),
    )
    oa = OfferAnswer(local=local, rng=random.Random(5), session_id=1234)
    offer = oa.create_offer()
    assert bytes(offer) == load("baresip_call_offer1.sdp")
    assert offer.media[0].formats == ["8", "0", "9", "96", "97", "98"]
    neg = oa.process_answer(load("baresip_call_answer1.sdp"))
    audio = neg.audio
    assert audio is not None and oa.state is OfferAnswerState.STABLE
    assert (audio.remote_address, audio.remote_port) == ("127.0.0.1", 18920)
    assert audio.codec is not None and (audio.codec.name, audio.payload_type) == ("PCMA", 8)
    assert [c.name for c in audio.codecs] == ["PCMA", "PCMU", "G722", "opus"]
    assert audio.telephone_event_pt == 97 and audio.telephone_event is not None
    assert audio.telephone_event.clock_rate == 8000
    assert audio.direction is Direction.SENDRECV and audio.ptime == 20.0
    # Hold re-INVITE: version +1. baresip 1.0 answered sendrecv to our sendonly; the
    # negotiated direction is still sendonly (what we offered limits what we do).
    hold = oa.create_offer(hold=True)
    assert bytes(hold) == load("baresip_call_offer2_hold.sdp")
    assert hold.origin.session_version == offer.origin.session_version + 1
    neg = oa.process_answer(load("baresip_call_answer2_hold.sdp"))
    assert neg.audio is not None and neg.audio.direction is Direction.SENDONLY
    assert not neg.remote_changed  # baresip kept its o= version: nothing changed on its side
    resume = oa.create_offer()
    assert bytes(resume) == load("baresip_call_offer3_resume.sdp")
    assert resume.origin.session_version == offer.origin.session_version + 2
    neg = oa.process_answer(load("baresip_call_answer3_resume.sdp"))
    assert neg.audio is not None and neg.audio.direction is Direction.SENDRECV


def test_reoffer_unchanged_keeps_version_and_codec_change_bumps() -> None:
    oa = OfferAnswer(local=caps(PCMU, PCMA), session_id=42)
    first = oa.create_offer()
    oa.process_answer(load("rfc3665/3.01_02.sdp"))
    same = oa.create_offer()
    assert same.origin.session_version == first.origin.session_version
    assert bytes(same) == bytes(first)
    oa.rollback()
    oa.local = caps(PCMA)  # codec change (issue 4: re-INVITE with another codec)
    changed = oa.create_offer()
    assert changed.origin.session_version == first.origin.session_version + 1
    assert changed.media[0].formats == ["8", "96"]  # telephone-event: first dynamic PT
    assert changed.origin.session_id == 42


def test_answerer_renumbering_and_reoffer_keeps_agreed_numbers() -> None:
    oa = OfferAnswer(local=caps(OPUS, PCMU), session_id=3)
    offer = oa.create_offer()
    assert offer.media[0].formats[:2] == ["96", "0"]
    answer = parse_sdp(bytes(offer).replace(b"96", b"111").replace(b"o=- 3 3", b"o=peer 8 8"))
    neg = oa.process_answer(answer)
    audio = neg.audio
    assert audio is not None
    assert audio.payload_type == 111  # we send with the peer's number (RFC 3264 §6.1)
    assert audio.receive_codecs[0].payload_type == 96  # and receive with ours
    # Chrome offers opus at 111: after answering, our re-offer keeps 111.
    b = OfferAnswer(local=caps(OPUS, PCMU, proto="UDP/TLS/RTP/SAVPF", rtcp_mux=True), session_id=4)
    b.answer_offer(load("chrome_webrtc_offer.sdp"))
    reoffer = b.create_offer()
    assert reoffer.media[0].formats[:2] == ["111", "0"]
    # The rejected video m-line stays in the re-offer, with port 0 (RFC 3264 §8).
    assert [(m.media, m.port) for m in reoffer.media] == [("audio", 30000), ("video", 0)]


def test_answer_chrome_webrtc_offer_bundle_ice_dtls() -> None:
    local = caps(
        OPUS, PCMU,
        proto="UDP/TLS/RTP/SAVPF",
        rtcp_mux=True,
        bundle=True,
        attributes=(
            "ice-ufrag:abcd",
            "ice-pwd:0123456789abcdefghijkl",
            "fingerprint:sha-256 " + ":".join(["AB"] * 32),
            "setup:active",
        ),
    )
    oa = OfferAnswer(local=local, session_id=11)
    answer, neg = oa.answer_offer(load("chrome_webrtc_offer.sdp"))
    audio, video = answer.media
    assert audio.formats == ["111", "0", "110", "126"]
    assert audio.mid == "0" and audio.rtcp_mux and audio.setup is Setup.ACTIVE
    assert audio.ice_ufrag == "abcd" and len(audio.fingerprints) == 1
    assert (video.port, video.mid) == (0, "1")
    assert answer.bundle is not None and answer.bundle.mids == ("0",)
    n = neg.media[0]
    assert n.accepted and n.mid == "0" and n.rtcp_mux
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("0.0.0.0", 9)
    assert n.remote_ice_ufrag == "EsAw" and n.remote_setup is Setup.ACTPASS
    assert [c.type for c in n.remote_candidates] == ["host", "srflx"]
    assert n.remote_fingerprints[0].digest[:2] == b"\xda\x52"
    assert n.telephone_event_pt == 110 and n.payload_type == 111
    # A plain RTP/AVP phone rejects the whole WebRTC offer (port 0 everywhere).
    plain = OfferAnswer(local=caps(PCMU), session_id=12)
    answer, neg = plain.answer_offer(load("chrome_webrtc_offer.sdp"))
    assert [m.port for m in answer.media] == [0, 0] and neg.audio is None


def test_sdes_crypto_pass_through_and_savp() -> None:
    offer = parse_sdp(load("baresip_offer_sdes_srtp.sdp"))
    (remote_crypto,) = offer.media[0].crypto
    local = caps(PCMU, proto="RTP/SAVP")
    oa = OfferAnswer(local=local, session_id=1)
    line = f"crypto:{remote_crypto.tag} {remote_crypto.suite} inline:" + "A" * 40
    answer, neg = oa.answer_offer(offer, media_attributes={0: [line]})
    assert answer.media[0].proto == "RTP/SAVP"
    assert answer.media[0].crypto[0].tag == 1
    assert neg.media[0].remote_crypto == (remote_crypto,)


def test_legacy_hold_null_address_and_rtcp_attribute() -> None:
    data = load("asterisk_pjsip_offer.sdp").replace(b"c=IN IP4 192.0.2.10", b"c=IN IP4 0.0.0.0")
    data = data.replace(b"a=ptime:20", b"a=rtcp:10010 IN IP4 192.0.2.99\r\na=ptime:20")
    oa = OfferAnswer(local=caps(PCMU), session_id=1)
    answer, neg = oa.answer_offer(data)
    # RFC 3264 §8.4: c=0.0.0.0 means "do not send to me": we only receive.
    assert answer.media[0].direction is Direction.RECVONLY
    n = neg.media[0]
    assert not n.direction.sends and n.direction.receives
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("192.0.2.99", 10010)


def test_rfc3665_reinvite_ip_change() -> None:
    """RFC 3665 §3.7: we are Alice; Bob answers, then moves and re-INVITEs from a new address."""
    oa = OfferAnswer(local=caps(PCMU), session_id=2890844526)
    oa.create_offer()
    neg = oa.process_answer(load("rfc3665/3.07_03.sdp"))
    assert neg.audio is not None
    assert (neg.audio.remote_address, neg.audio.remote_port) == ("192.0.2.201", 3456)
    answer, neg2 = oa.answer_offer(load("rfc3665/3.07_05.sdp"))
    assert neg2.remote_changed and neg2.remote_origin.session_version == 2890844528
    assert neg2.audio is not None
    assert (neg2.audio.remote_address, neg2.audio.remote_port) == ("192.0.2.100", 47172)
    # Bob offers no telephone-event, so our SDP changed (PCMU only): version + 1 (RFC 3264 §8).
    assert answer.media[0].formats == ["0"]
    assert answer.origin.session_version == 2890844527
    again, neg3 = oa.answer_offer(load("rfc3665/3.07_05.sdp"))
    assert again.origin.session_version == 2890844527 and not neg3.remote_changed


def test_state_errors_glare_and_bad_answers() -> None:
    oa = OfferAnswer(local=caps(PCMU), session_id=1)
    with pytest.raises(LocalProtocolError):
        oa.process_answer(load("rfc3264_10_1_answer.sdp"))
    oa.create_offer()
    with pytest.raises(LocalProtocolError):
        oa.create_offer()
    with pytest.raises(LocalProtocolError):  # glare: the dialog layer answers 491
        oa.answer_offer(load("asterisk_pjsip_offer.sdp"))
    with pytest.raises(OfferAnswerError):  # two m-lines to our one
        oa.process_answer(load("rfc3264_10_1_answer.sdp"))
    oa.rollback()
    assert oa.state is OfferAnswerState.STABLE
    oa.create_offer()
    neg = oa.process_answer(load("rfc3665/3.01_02.sdp"))
    assert neg.audio is not None and neg.audio.payload_type == 0


def attrs_evolve(codec: Codec, **kw: object) -> Codec:
    import attrs

    return attrs.evolve(codec, **kw)  # type: ignore[misc]


def test_rfc8866_example_two_audio_one_video_and_m_line_rules() -> None:
    oa = OfferAnswer(local=caps(PCMU), session_id=1)
    answer, neg = oa.answer_offer(load("rfc8866_example.sdp"))
    # One audio capability: the first audio stream is taken, the second and the video refused.
    assert [(m.media, m.port) for m in answer.media] == [("audio", 30000), ("audio", 0), ("video", 0)]
    assert [m.accepted for m in neg.media] == [True, False, False]
    # A re-offer may not drop m-lines (RFC 3264 §8) ...
    with pytest.raises(OfferAnswerError):
        oa.answer_offer(load("asterisk_pjsip_offer.sdp"))
    # ... and may add one: a peer adding video to an audio call gets it refused.
    plain = OfferAnswer(local=caps(PCMU), session_id=2)
    plain.answer_offer(load("rfc3665/3.01_01.sdp"))
    added = parse_sdp(load("rfc3665/3.01_01.sdp"))
    added.media.append(parse_sdp(load("rfc3264_10_1_offer.sdp")).media[1])
    added.origin.session_version += 1
    answer, neg = plain.answer_offer(bytes(added))
    assert [(m.media, m.port) for m in answer.media] == [("audio", 30000), ("video", 0)]
    assert neg.remote_changed


def test_stream_refused_by_the_answer_and_disabled_mlines() -> None:
    local = LocalCapabilities(
        address="192.0.2.50",
        media=(
            MediaCapabilities(codecs=(PCMU,), port=30000),
            MediaCapabilities(codecs=(Codec(name="H261", clock_rate=90000),), port=30002, media="video"),
        ),
    )
    oa = OfferAnswer(local=local, session_id=1)
    offer = oa.create_offer()
    assert [(m.media, m.port) for m in offer.media] == [("audio", 30000), ("video", 30002)]
    answer = parse_sdp(load("rfc3264_10_1_answer.sdp"))
    answer.media[1].port = 0
    neg = oa.process_answer(answer)
    assert [m.accepted for m in neg.media] == [True, False]
    assert neg.media[1].direction is Direction.INACTIVE and neg.media[1].codecs == ()
    # We still can do video: a re-offer may ask again (RFC 3264 §8; the peer may have changed).
    reoffer = oa.create_offer(hold=True)
    assert [(m.media, m.port) for m in reoffer.media] == [("audio", 30000), ("video", 30002)]
    oa.rollback()
    # Dropping video from our capabilities disables the m-line (port 0), never removes it.
    oa.local = LocalCapabilities(address="192.0.2.50", media=(local.media[0],))
    again = oa.create_offer()
    assert [(m.media, m.port) for m in again.media] == [("audio", 30000), ("video", 0)]
    assert again.media[1].formats == ["31"]


def test_agreed_payload_numbers_are_never_reassigned() -> None:
    """RFC 3264 §8.3.2: within a session a payload type keeps its codec, even when a codec
    listed earlier in our capabilities would prefer that number."""
    oa = OfferAnswer(local=caps(OPUS, PCMU), session_id=1)
    oa.answer_offer(load("linphone_offer.sdp"))  # opus agreed at 96, t-e/48000 at 101
    l16 = attrs_evolve(L16_16K, payload_type=96)
    oa.local = caps(l16, OPUS, PCMU)
    offer = oa.create_offer()
    maps = {r.encoding.lower(): r.payload_type for r in offer.media[0].rtpmaps}
    assert maps["opus"] == 96
    assert maps["l16"] not in (96, 0, 101, 100)


def test_negotiated_session_keeps_bytes_and_parses_its_models_on_read() -> None:
    """A call keeps its NegotiatedSession for its whole life: it holds the exchanged SDP as
    bytes (no parsed model for the garbage collector to walk) until a model is read."""
    import gc

    local = LocalCapabilities(
        address="127.0.0.1",
        media=(MediaCapabilities(codecs=(PCMA, PCMU, G722, OPUS), port=41000),),
    )
    oa = OfferAnswer(local=local, rng=random.Random(5), session_id=1234)
    oa.create_offer()
    answer = load("baresip_call_answer1.sdp")
    neg = oa.process_answer(answer)
    held = [type(r).__name__ for r in gc.get_referents(neg)]
    assert "SessionDescription" not in held
    # The models read back are baresip's answer and the offer we sent, byte for byte.
    assert bytes(neg.remote_sdp) == answer
    assert bytes(neg.local_sdp) == load("baresip_call_offer1.sdp")
    assert neg.remote_sdp is neg.remote_sdp  # parsed once
    assert neg.remote_sdp.origin == neg.remote_origin
    assert neg.remote_sdp.media[0].port == 18920
