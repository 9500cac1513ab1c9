"""One call of the phone: the dialog-layer call, its RTP socket, keys and media; and the SDP
capabilities the phone offers and answers with (plain, SDES)."""

from __future__ import annotations

import logging

import attrs

from .._core import Address, RandomSource
from ..callmedia import (DTLS_PROTOS, SAVP, CallMedia, DtlsMediaLeg, DtlsOffer, DtlsParams,
                         SdesOffer, SrtpKeys, dtls_answer, dtls_offer, secure_answer,
                         secure_offer)
from ..dialog import Call
from ..sdp import LocalCapabilities, MediaCapabilities, SessionDescription
from ..srtp import DtlsCertificate
from ._config import PhoneConfig, SrtpMode

__all__ = ["PhoneCall", "call_log", "offer_caps", "answer_caps", "offered_codecs", "Refused",
           "Offer", "Answer", "next_info", "info_done"]

log = logging.getLogger("rvoip_sansio.phone")

#: RFC 3551 static payload types that may come without an rtpmap.
_STATIC = {0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 8: "PCMA/8000", 9: "G722/8000",
           13: "CN/8000", 18: "G729/8000"}


class Refused(Exception):
    """An offer we cannot accept: answer 488 (RFC 3261 §21.4.26); ``args[0]`` says why."""


@attrs.define(slots=True, eq=False)
class PhoneCall:
    """The phone's state for one call (internal; the application sees events and verbs)."""

    call_id: str
    call: Call
    incoming: bool
    local_rtp: Address | None = None
    remote: Address | None = None  # the signalled remote RTP address
    media: CallMedia | None = None
    sdes: SdesOffer | None = None  # our SDES offer, until the final answer
    dtls: DtlsOffer | None = None  # our DTLS-SRTP offer, until the final answer
    #: DTLS-SRTP: the leg that owns the RTP socket (handshake + the media inside it).
    leg: DtlsMediaLeg | None = None
    #: "none", "sdes" or "dtls": how the call's media is keyed.
    keying: str = "none"
    keys: SrtpKeys | None = None
    grouped: bool = False
    #: The deadline of its socket (leg or media) as armed in the core's timer heap.
    deadline: float | None = None
    answered: bool = False
    ended: bool = False
    #: The media was closed; MediaSocketReleased goes out once its datagrams are flushed.
    releasing: bool = False
    detail: str = ""
    holding: bool = False  # we hold the peer (our hold was accepted)
    held_by_peer: bool = False
    #: The caller's offer (callee side), parsed once; dropped once the call is answered.
    offer: SessionDescription | None = None
    #: SIP INFO digits waiting for the previous INFO's final response (RFC 6086: one at a
    #: time keeps them in order), and the handle of the INFO in flight. (A tuple replaced on
    #: change: empty for most calls, and then nothing for the garbage collector to walk.)
    info_queue: tuple[tuple[str, int], ...] = ()
    info_handle: int | None = None

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """This call's logger (made when used: a call logs on its events only, and kept it
        would be two objects more per call for the garbage collector to walk)."""
        return call_log(self.call_id)

    @property
    def socket(self) -> DtlsMediaLeg | CallMedia | None:
        """What owns the RTP socket: the DTLS leg, else the media."""
        return self.leg if self.leg is not None else self.media


def call_log(call_id: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records all carry ``extra={"call_id": ...}``."""
    return logging.LoggerAdapter(log, {"call_id": call_id})


def _host(config: PhoneConfig, rtp: Address) -> str:
    return config.media_address or rtp[0]


def _audio(config: PhoneConfig, rtp: Address) -> MediaCapabilities:
    # RFC 5761: RTP and RTCP share the call's one socket (a=rtcp-mux offered and answered).
    accept: tuple[str, ...] = ()
    if config.srtp is not SrtpMode.NONE:
        accept = (SAVP,)
    return MediaCapabilities(codecs=config.codecs, port=rtp[1], rtcp_mux=True, accept_protos=accept)


@attrs.frozen
class Offer:
    caps: LocalCapabilities
    sdes: SdesOffer | None = None
    dtls: DtlsOffer | None = None


@attrs.frozen
class Answer:
    caps: LocalCapabilities
    keys: SrtpKeys | None = None
    dtls: DtlsParams | None = None


def offer_caps(config: PhoneConfig, rtp: Address, *, rng: RandomSource,
               certificate: DtlsCertificate | None = None) -> Offer:
    """Capabilities for our offer from the RTP socket ``rtp``, and the pending keying."""
    audio = _audio(config, rtp)
    sdes: SdesOffer | None = None
    dtls: DtlsOffer | None = None
    if config.srtp is SrtpMode.SDES:
        audio, sdes = secure_offer(audio, rng=rng, profiles=config.sdes_profiles)
        if not config.srtp_required:
            # Best-effort SRTP: crypto lines on RTP/AVP, so a peer without SRTP can still
            # answer plain (the common practice for optional SDES).
            audio = attrs.evolve(audio, proto="RTP/AVP", accept_protos=(SAVP,))
    elif config.srtp is SrtpMode.DTLS:
        assert certificate is not None
        # RFC 5763 §5: UDP/TLS/RTP/SAVP, a=fingerprint, a=setup:actpass (RFC 8842 a=tls-id).
        audio, dtls = dtls_offer(audio, certificate, rng=rng)
    return Offer(LocalCapabilities(address=_host(config, rtp), media=(audio,)), sdes, dtls)


def _offer_has_crypto(offer: SessionDescription) -> bool:
    stream = next((m for m in offer.media if m.media == "audio"), None)
    return stream is not None and bool(stream.crypto)


def _offer_is_dtls(offer: SessionDescription) -> bool:
    stream = next((m for m in offer.media if m.media == "audio"), None)
    return stream is not None and stream.proto.upper() in DTLS_PROTOS


def answer_caps(config: PhoneConfig, rtp: Address, offer: SessionDescription | None, *,
                rng: RandomSource, certificate: DtlsCertificate | None = None) -> Answer:
    """Capabilities to answer ``offer`` with and the call's keying (SDES keys, or DTLS
    parameters). Raises :class:`Refused` when our SRTP policy and the offer do not meet:
    SDES and DTLS offers are accepted in either SRTP mode, plain ones unless required."""
    audio = _audio(config, rtp)
    host = _host(config, rtp)
    if offer is not None and config.srtp is not SrtpMode.NONE and _offer_is_dtls(offer):
        if certificate is None:
            raise Refused("srtp refused: DTLS-SRTP offered, no certificate")
        try:
            audio, params = dtls_answer(audio, offer, certificate, rng=rng)
        except ValueError as exc:  # ParseError, DtlsSdpError
            raise Refused(f"srtp refused: {exc}") from exc
        return Answer(LocalCapabilities(address=host, media=(audio,)), dtls=params)
    if offer is not None and config.srtp is not SrtpMode.NONE and _offer_has_crypto(offer):
        try:
            audio, keys = secure_answer(audio, offer, rng=rng, profiles=config.sdes_profiles)
        except ValueError as exc:  # ParseError and SdesError are ValueErrors
            raise Refused(f"srtp refused: {exc}") from exc
        stream = next(m for m in offer.media if m.media == "audio")
        if stream.proto.upper() != SAVP:
            audio = attrs.evolve(audio, proto=stream.proto, accept_protos=(SAVP,))
        return Answer(LocalCapabilities(address=host, media=(audio,)), keys=keys)
    if config.srtp_required:
        raise Refused("srtp refused: the offer has no keys")
    return Answer(LocalCapabilities(address=host, media=(audio,)))


def offered_codecs(offer: SessionDescription | None) -> tuple[str, ...]:
    """``NAME/rate`` of each format of the offer's first audio stream, in its order."""
    if offer is None:
        return ()
    stream = next((m for m in offer.media if m.media == "audio"), None)
    if stream is None:
        return ()
    maps = {r.payload_type: f"{r.encoding}/{r.clock_rate}" for r in stream.rtpmaps}
    out = []
    for pt in stream.payload_types:
        name = maps.get(pt) or _STATIC.get(pt)
        if name is not None:
            out.append(name)
    return tuple(out)


def next_info(pc: PhoneCall, now: float, in_flight: dict[int, PhoneCall]) -> None:
    """Send the call's next queued DTMF digit by SIP INFO (``application/dtmf-relay``).
    RFC 6086 §4.2 leaves ordering to CSeq; one INFO in flight at a time keeps the digits in
    order even when a datagram is lost and retransmitted."""
    if pc.info_handle is not None or not pc.info_queue or not pc.call.is_active:
        return
    (digit, ms), pc.info_queue = pc.info_queue[0], pc.info_queue[1:]
    body = f"Signal={digit}\r\nDuration={ms}\r\n".encode()
    pc.info_handle = pc.call.send_info(now, content_type="application/dtmf-relay", body=body)
    in_flight[pc.info_handle] = pc


def info_done(handle: int, status: int, now: float, in_flight: dict[int, PhoneCall]) -> None:
    """An INFO of ours got its final response: send the next digit."""
    pc = in_flight.pop(handle, None)
    if pc is None:
        return
    pc.info_handle = None
    if status >= 300:
        pc.log.warning("call %s: DTMF INFO answered %d", pc.call_id, status)
    next_info(pc, now, in_flight)
