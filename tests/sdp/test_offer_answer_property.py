"""Hypothesis drives two OfferAnswer objects through random exchanges (either side offers,
holds, changes codecs, rolls back) and checks RFC 3264 invariants between the two views."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

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
    NegotiatedSession,
    OfferAnswer,
    parse_sdp,
)

CODECS = [PCMU, PCMA, G722, OPUS, L16_16K, Codec(name="GSM", clock_rate=8000)]


@st.composite
def capabilities(draw: st.DrawFn, address: str) -> LocalCapabilities:
    codecs = draw(st.lists(st.sampled_from(CODECS), min_size=1, max_size=4, unique=True))
    return LocalCapabilities(
        address=address,
        media=(
            MediaCapabilities(
                codecs=tuple(codecs),
                port=draw(st.integers(1024, 65000)),
                direction=draw(st.sampled_from(list(Direction))),
                telephone_event=draw(st.booleans()),
                rtcp_mux=draw(st.booleans()),
                answer_all_codecs=draw(st.booleans()),
            ),
        ),
    )


STEP = st.tuples(
    st.sampled_from(["a_offers", "b_offers", "a_changes", "b_changes", "rollback"]),
    st.booleans(),  # hold
)


def _check(offerer: NegotiatedSession, answerer: NegotiatedSession,
           off_caps: LocalCapabilities, ans_caps: LocalCapabilities) -> None:
    o, a = offerer.media[0], answerer.media[0]
    assert o.accepted == a.accepted
    common = {c.key for c in off_caps.media[0].codecs} & {c.key for c in ans_caps.media[0].codecs}
    assert o.accepted == bool(common)
    if not o.accepted:
        assert o.direction is a.direction is Direction.INACTIVE
        return
    assert o.codec is not None and a.codec is not None and o.codec.key == a.codec.key
    # What one side sends with is what the other announced it receives with.
    assert o.payload_type == a.receive_codecs[0].payload_type
    assert a.payload_type == o.receive_codecs[0].payload_type
    # Directions are mirror images, and each within what its side allows.
    assert o.direction.sends == a.direction.receives
    assert o.direction.receives == a.direction.sends
    assert o.remote_port == ans_caps.media[0].port and a.remote_port == off_caps.media[0].port
    assert o.rtcp_mux == a.rtcp_mux == (off_caps.media[0].rtcp_mux and ans_caps.media[0].rtcp_mux)
    if o.telephone_event is not None:
        assert a.telephone_event is not None
        assert o.telephone_event.payload_type == a.receive_telephone_event.payload_type  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(capabilities("192.0.2.1"), capabilities("192.0.2.2"), st.lists(STEP, max_size=8),
       st.lists(st.tuples(capabilities("192.0.2.1"), capabilities("192.0.2.2")), min_size=4, max_size=4))
def test_two_parties_agree(a_caps: LocalCapabilities, b_caps: LocalCapabilities,
                           steps: list[tuple[str, bool]],
                           changes: list[tuple[LocalCapabilities, LocalCapabilities]]) -> None:
    a = OfferAnswer(local=a_caps, rng=random.Random(1))
    b = OfferAnswer(local=b_caps, rng=random.Random(2))
    versions = {id(a): a.session_version, id(b): b.session_version}
    ids = {id(a): a.session_id, id(b): b.session_id}
    for n, (step, hold) in enumerate([("a_offers", False), *steps]):
        if step == "rollback":
            a.rollback()
            b.rollback()
            continue
        if step in ("a_changes", "b_changes"):
            new_a, new_b = changes[n % 4]
            if step == "a_changes":
                # Keep the port: changing it is allowed but makes the port check below moot.
                a.local = LocalCapabilities(address=a.local.address, media=(
                    MediaCapabilities(codecs=new_a.media[0].codecs, port=a.local.media[0].port,
                                      direction=new_a.media[0].direction,
                                      rtcp_mux=new_a.media[0].rtcp_mux),))
            else:
                b.local = LocalCapabilities(address=b.local.address, media=(
                    MediaCapabilities(codecs=new_b.media[0].codecs, port=b.local.media[0].port,
                                      direction=new_b.media[0].direction,
                                      rtcp_mux=new_b.media[0].rtcp_mux),))
            continue
        offerer, answerer = (a, b) if step == "a_offers" else (b, a)
        offer = offerer.create_offer(hold=hold)
        # Through bytes, as on the wire.
        answer, ans_neg = answerer.answer_offer(parse_sdp(bytes(offer)))
        off_neg = offerer.process_answer(bytes(answer))
        _check(off_neg, ans_neg, offerer.local, answerer.local)
        if hold and off_neg.media[0].accepted:
            assert not off_neg.media[0].direction.receives
        for side in (a, b):
            # RFC 3264 §8: same session id; version grows by at most one per SDP sent.
            assert side.session_id == ids[id(side)]
            assert 0 <= side.session_version - versions[id(side)] <= 1
            versions[id(side)] = side.session_version
        assert len(answer.media) == len(offer.media)
