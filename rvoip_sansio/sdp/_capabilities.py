"""Local media capabilities and negotiated results for RFC 3264 offer/answer."""

from __future__ import annotations

import attrs

from ._attributes import Crypto, Direction, Fingerprint, IceCandidate, Setup
from ._model import Origin, SessionDescription
from ._parser import parse_sdp

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "Codec",
    "MediaCapabilities",
    "LocalCapabilities",
    "NegotiatedMedia",
    "NegotiatedSession",
    "PCMU",
    "PCMA",
    "G722",
    "OPUS",
    "L16_16K",
]

#: RFC 3551 §6 tables 4 and 5: static payload types -> (encoding, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    # RFC 3551 §4.5.2: G.722 samples at 16 kHz but its RTP clock rate is 8000.
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1),
    28: ("nv", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    33: ("MP2T", 90000, 1),
    34: ("H263", 90000, 1),
}
_STATIC_BY_CODEC = {(n.lower(), r, c): pt for pt, (n, r, c) in STATIC_PAYLOAD_TYPES.items()}

TELEPHONE_EVENT = "telephone-event"


@attrs.frozen(kw_only=True)
class Codec:
    """A media format: encoding name, RTP clock rate, channels, fmtp, and payload type.

    In capabilities ``payload_type`` is a preference (static ones are implied); in a
    negotiated result it is the number to use on the wire.
    """

    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None
    payload_type: int | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """What identifies the codec across payload type numbers (RFC 3264 §6.1)."""
        return (self.name.lower(), self.clock_rate, self.channels)

    @property
    def static_payload_type(self) -> int | None:
        return _STATIC_BY_CODEC.get(self.key)

    @property
    def is_telephone_event(self) -> bool:
        return self.name.lower() == TELEPHONE_EVENT

    def with_payload_type(self, payload_type: int, fmtp: str | None = None) -> Codec:
        return Codec(name=self.name, clock_rate=self.clock_rate, channels=self.channels,
                     fmtp=fmtp, payload_type=payload_type)


PCMU = Codec(name="PCMU", clock_rate=8000)
PCMA = Codec(name="PCMA", clock_rate=8000)
G722 = Codec(name="G722", clock_rate=8000)
OPUS = Codec(name="opus", clock_rate=48000, channels=2, fmtp="useinbandfec=1")
L16_16K = Codec(name="L16", clock_rate=16000)


@attrs.frozen(kw_only=True)
class MediaCapabilities:
    """What we can do for one media stream.

    ``attributes`` are extra ``name[:value]`` lines copied into every offer and answer for
    this stream (crypto, fingerprint, setup, ice-ufrag, candidates... from the SRTP/ICE
    layers). ``accept_protos`` are further transport protocols accepted when answering.
    """

    codecs: tuple[Codec, ...]
    port: int
    media: str = "audio"
    proto: str = "RTP/AVP"
    accept_protos: tuple[str, ...] = ()
    address: str | None = None
    direction: Direction = Direction.SENDRECV
    telephone_event: bool = True
    telephone_event_events: str = "0-16"
    ptime: float | None = 20
    maxptime: float | None = None
    rtcp_mux: bool = False
    rtcp_port: int | None = None
    answer_all_codecs: bool = True
    attributes: tuple[str, ...] = ()

    def accepts_proto(self, proto: str) -> bool:
        wanted = proto.upper()
        return wanted == self.proto.upper() or wanted in (p.upper() for p in self.accept_protos)


@attrs.frozen(kw_only=True)
class LocalCapabilities:
    """The whole local side: connection address and one entry per stream we can handle."""

    address: str
    media: tuple[MediaCapabilities, ...]
    username: str = "-"
    session_name: str = "-"
    #: Answer BUNDLE groups (RFC 9143) with the accepted mids.
    bundle: bool = False
    attributes: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class NegotiatedMedia:
    """The result for one m-line, from the local point of view.

    ``codecs`` carry the payload types to *send* with (the peer's numbers, RFC 3264 §6.1);
    ``receive_codecs`` the numbers we announced. ``direction`` is what we may do
    (``sends``: we transmit, ``receives``: we expect media); ``remote_direction`` is what the
    peer's SDP said from its side.
    """

    index: int
    media: str
    proto: str
    accepted: bool
    remote_address: str | None = None
    remote_port: int = 0
    remote_rtcp_address: str | None = None
    remote_rtcp_port: int | None = None
    codecs: tuple[Codec, ...] = ()
    receive_codecs: tuple[Codec, ...] = ()
    telephone_event: Codec | None = None
    receive_telephone_event: Codec | None = None
    direction: Direction = Direction.INACTIVE
    remote_direction: Direction = Direction.INACTIVE
    ptime: float | None = None
    maxptime: float | None = None
    rtcp_mux: bool = False
    mid: str | None = None
    remote_crypto: tuple[Crypto, ...] = ()
    remote_fingerprints: tuple[Fingerprint, ...] = ()
    remote_setup: Setup | None = None
    remote_ice_ufrag: str | None = None
    remote_ice_pwd: str | None = None
    remote_candidates: tuple[IceCandidate, ...] = ()

    @property
    def codec(self) -> Codec | None:
        """The codec to send with: the first agreed one."""
        return self.codecs[0] if self.codecs else None

    @property
    def payload_type(self) -> int | None:
        return self.codecs[0].payload_type if self.codecs else None

    @property
    def telephone_event_pt(self) -> int | None:
        return self.telephone_event.payload_type if self.telephone_event else None


@attrs.frozen(kw_only=True)
class NegotiatedSession:
    """The outcome of one offer/answer exchange.

    ``local_sdp`` and ``remote_sdp`` may be given as models or as the SDP bytes: an
    established call keeps its negotiated session for its whole life, and a parsed SDP
    document is some forty objects the garbage collector would walk on every full pass, so
    :class:`OfferAnswer` stores the bytes and the model is parsed on first read (then kept).
    """

    media: tuple[NegotiatedMedia, ...]
    _local_sdp: SessionDescription | bytes = attrs.field(alias="local_sdp", eq=False, repr=False)
    _remote_sdp: SessionDescription | bytes = attrs.field(alias="remote_sdp", eq=False, repr=False)
    remote_origin: Origin
    #: False when the peer's SDP kept the o= version of its previous one (RFC 3264 §8:
    #: nothing changed, e.g. a session refresh).
    remote_changed: bool = True

    @property
    def local_sdp(self) -> SessionDescription:
        """Our SDP of this exchange (the offer or the answer we sent)."""
        return self._model("_local_sdp")

    @property
    def remote_sdp(self) -> SessionDescription:
        """The peer's SDP of this exchange."""
        return self._model("_remote_sdp")

    def _model(self, slot: str) -> SessionDescription:
        sdp: SessionDescription | bytes = getattr(self, slot)
        if isinstance(sdp, bytes):
            sdp = parse_sdp(sdp)
            object.__setattr__(self, slot, sdp)  # parsed once, then kept (frozen otherwise)
        return sdp

    @property
    def audio(self) -> NegotiatedMedia | None:
        """The first accepted audio stream."""
        return next((m for m in self.media if m.media == "audio" and m.accepted), None)
