"""SDES keying carried in SDP (RFC 4568): from media capabilities to a call's SrtpKeys.

The glue between three pure layers: ``rvoip_sansio.sdp`` (capabilities, offers, answers),
``rvoip_sansio.srtp`` (``a=crypto`` lines, fresh keys, policies) and :class:`SrtpKeys`
(what :class:`CallMedia` is keyed with). An adapter calls:

* offerer: :func:`secure_offer` before sending the offer, keeps the returned
  :class:`SdesOffer`, then :func:`keys_from_answer` with the negotiated answer;
* answerer: :func:`secure_answer` with the offer's SDP, answers with the returned
  capabilities and keys the media with the returned :class:`SrtpKeys`.

Keys come from the injected random source (``secrets.SystemRandom()`` in production).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .._core import RandomSource
from ..sdp import MediaCapabilities, NegotiatedMedia, SessionDescription, parse_sdp
from ..srtp import DEFAULT_SDES_PROFILES, CryptoLine, SrtpProfile, sdes_accept, sdes_answer, sdes_offer
from ._config import SrtpKeys

__all__ = ["SAVP", "SdesOffer", "secure_offer", "keys_from_answer", "secure_answer"]

#: RFC 4568 §3.1.4 / RFC 3711 §12: the secure RTP profile that SDES keys are offered on.
SAVP = "RTP/SAVP"


@attrs.frozen(kw_only=True)
class SdesOffer:
    """The crypto lines we offered (each with our fresh key): keep until the answer."""

    lines: tuple[CryptoLine, ...]


def _with_crypto(media: MediaCapabilities, lines: Sequence[CryptoLine]) -> MediaCapabilities:
    # RFC 4568 §9.1: each line goes out as ``a=crypto:<tag> <suite> <key-params> ...``;
    # RTP/SAVP stays accepted in answers for a peer that offers it.
    accept = media.accept_protos if SAVP in media.accept_protos else (*media.accept_protos, SAVP)
    return attrs.evolve(media, proto=SAVP, accept_protos=accept,
                        attributes=(*media.attributes, *(f"crypto:{c}" for c in lines)))


def secure_offer(
    media: MediaCapabilities, *, rng: RandomSource,
    profiles: Sequence[SrtpProfile] = DEFAULT_SDES_PROFILES,
) -> tuple[MediaCapabilities, SdesOffer]:
    """Capabilities for an SRTP offer: ``media`` on RTP/SAVP with one ``a=crypto`` line per
    profile (strongest first, tags 1, 2, ...; RFC 4568 §7.1.1), and the pending offer."""
    lines = tuple(sdes_offer(profiles, rng=rng))
    return _with_crypto(media, lines), SdesOffer(lines=lines)


def keys_from_answer(offer: SdesOffer, answer: NegotiatedMedia) -> SrtpKeys | None:
    """The offerer's keys from the negotiated answer stream (RFC 4568 §7.1.3): its first
    ``a=crypto`` line must carry one of our tags with the same suite (else
    :class:`~rvoip_sansio.srtp.SdesError`). None when the answer has no crypto line (the
    peer answered plain RTP; the caller decides whether that is acceptable)."""
    if not answer.remote_crypto:
        return None
    tx, rx = sdes_accept(offer.lines, str(answer.remote_crypto[0]))
    return SrtpKeys(tx=tx, rx=rx)


def secure_answer(
    media: MediaCapabilities, offer: SessionDescription | bytes, *, rng: RandomSource,
    profiles: Sequence[SrtpProfile] = DEFAULT_SDES_PROFILES,
) -> tuple[MediaCapabilities, SrtpKeys | None]:
    """Answer the SDES offer on the first m-line of ``offer`` whose media type is
    ``media.media``: the capabilities to answer with (RTP/SAVP, our ``a=crypto`` line with
    the chosen tag and a fresh key, RFC 4568 §7.1.2) and the call's keys.

    An offer without crypto lines gives ``(media, None)`` unchanged (plain RTP).
    Raises :class:`~rvoip_sansio.ParseError` for malformed SDP and
    :class:`~rvoip_sansio.srtp.SdesError` when no offered line is usable (both mean
    answering 488, RFC 4568 §7.1.3).
    """
    sdp = parse_sdp(offer) if isinstance(offer, bytes) else offer
    stream = next((m for m in sdp.media if m.media == media.media), None)
    offered = [str(c) for c in stream.crypto] if stream is not None else []
    if not offered:
        return media, None
    line, tx, rx = sdes_answer(offered, profiles, rng=rng)
    return _with_crypto(media, (line,)), SrtpKeys(tx=tx, rx=rx)
