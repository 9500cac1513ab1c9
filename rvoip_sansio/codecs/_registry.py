"""Finding codecs by name: :func:`get_codec` and the list of what can be offered in SDP."""

from __future__ import annotations

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs._base import Codec, CodecError, CodecInfo
from rvoip_sansio.codecs._g711 import G711Codec
from rvoip_sansio.codecs._g722_codec import G722Codec
from rvoip_sansio.codecs._l16 import L16Codec

__all__ = ["get_codec", "list_codecs", "codec_names", "codec_for_rtpmap"]

_NAMES = ("PCMU", "PCMA", "G722", "opus", "L16")


def codec_names() -> tuple[str, ...]:
    """Encoding names :func:`get_codec` knows, in the default order of preference."""
    return ("opus", "G722", "PCMU", "PCMA", "L16")


def get_codec(
    name: str,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    bitrate: int | None = None,
    frame_ms: int = 20,
    plc: bool = True,
    **options: object,
) -> Codec:
    """A new codec instance by encoding name (case-insensitive).

    * ``PCMU``/``PCMA``: 8 kHz mono; ``plc`` selects G.711 Appendix I concealment.
    * ``G722``: 16 kHz mono; ``bitrate`` 64000 (56000/48000 select the decoder mode).
    * ``opus``: ``sample_rate`` 8000..48000 (default 48000), ``channels`` 1/2, ``bitrate``,
      and the :class:`~rvoip_sansio.codecs.OpusCodec` options (``fec``, ``dtx``,
      ``complexity``, ``packet_loss_perc``, ``cbr``, ``application``, ``max_bandwidth``).
    * ``L16``: any ``sample_rate`` (default 8000) and ``channels``.
    """
    key = name.strip().upper()
    if key in ("PCMU", "PCMA"):
        _fixed(name, sample_rate, 8000, channels, options)
        return G711Codec(key, frame_ms=frame_ms, plc=plc)
    if key == "G722":
        _fixed(name, sample_rate, 16000, channels, options)
        return G722Codec(frame_ms=frame_ms, bitrate=bitrate or 64000, plc=plc)
    if key == "L16":
        pt = options.pop("payload_type", None)
        _no_options(name, options)
        return L16Codec(sample_rate=sample_rate or 8000, channels=channels or 1,
                        frame_ms=frame_ms, payload_type=pt if isinstance(pt, int) else None)
    if key == "OPUS":
        from rvoip_sansio.codecs._opus import OpusCodec  # loads libopus lazily

        return OpusCodec(sample_rate=sample_rate or 48000, channels=channels or 1,
                         bitrate=bitrate, frame_ms=frame_ms, **options)  # type: ignore[arg-type]
    raise CodecError(f"unknown codec {name!r}; known: {', '.join(_NAMES)}")


def _fixed(name: str, rate: int | None, want: int, channels: int | None,
           options: dict[str, object]) -> None:
    if rate not in (None, want):
        raise CodecError(f"{name} samples at {want} Hz, not {rate}")
    if channels not in (None, 1):
        raise CodecError(f"{name} is mono")
    _no_options(name, options)


def _no_options(name: str, options: dict[str, object]) -> None:
    if options:
        raise CodecError(f"{name} takes no option(s) {', '.join(sorted(options))}")


def list_codecs(*, include_opus: bool = True) -> list[CodecInfo]:
    """The :class:`CodecInfo` of each codec in its default configuration, for an SDP offer.

    Opus is listed without loading libopus (its facts are fixed by RFC 7587).
    """
    infos = []
    if include_opus:
        infos.append(CodecInfo(
            name="opus", payload_type=None, preferred_payload_type=111, clock_rate=48000,
            sample_rate=48000, channels=1, rtp_channels=2, fmtp="minptime=10;useinbandfec=1",
        ))
    infos.append(G722Codec(plc=False).info)
    infos.append(G711Codec("PCMU", plc=False).info)
    infos.append(G711Codec("PCMA", plc=False).info)
    infos.append(L16Codec(sample_rate=16000, payload_type=97).info)
    return infos


def codec_for_rtpmap(rtpmap: str, fmtp: str | None = None, **options: object) -> Codec:
    """A codec for a negotiated ``a=rtpmap`` value (the part after the payload type), e.g.
    ``PCMU/8000``, ``G722/8000``, ``L16/16000/2`` or ``opus/48000/2``; for Opus the peer's
    ``fmtp`` is applied to the encoder (RFC 7587 §7.1).

    A malformed value is a :class:`ParseError`; a well-formed one we cannot serve (unknown
    name, wrong clock rate) is a :class:`CodecError`.
    """
    parts = rtpmap.strip().split("/")
    if not 2 <= len(parts) <= 3 or not parts[0]:
        raise ParseError("rtpmap must be encoding/clock[/channels]", 0)
    numbers = []
    pos = len(parts[0]) + 1
    for field in parts[1:]:
        if not (field.isascii() and field.isdigit()) or len(field) > 6 or int(field) == 0:
            raise ParseError(f"bad rtpmap number {field!r}", pos)
        numbers.append(int(field))
        pos += len(field) + 1
    name, clock = parts[0], numbers[0]
    channels = numbers[1] if len(numbers) > 1 else 1
    key = name.upper()
    if key in ("PCMU", "PCMA", "G722"):
        # RFC 3551 §4.5.2: G.722 is 8000 on the wire; "G722/16000" is a common misspelling.
        if clock not in ((8000, 16000) if key == "G722" else (8000,)) or channels != 1:
            raise CodecError(f"{rtpmap!r}: {name} is {name}/8000 mono")
        return get_codec(key, **options)  # type: ignore[arg-type]
    if key == "L16":
        return get_codec("L16", sample_rate=clock, channels=channels, **options)  # type: ignore[arg-type]
    if key == "OPUS":
        if clock != 48000 or channels != 2:
            raise CodecError(f"{rtpmap!r}: Opus is always opus/48000/2 in SDP (RFC 7587 §7)")
        from rvoip_sansio.codecs._opus import OpusCodec, OpusParams

        params = OpusParams.parse(fmtp) if fmtp else OpusParams()
        # The peer's stereo=1 is only a preference for what it receives (RFC 7587 §6.1); a
        # mono stream is always decodable, and a call's audio path is mono. Pass channels=2
        # to send stereo. (The decoder downmixes a stereo stream to our channel count.)
        codec = get_codec("opus", **options)  # type: ignore[arg-type]
        assert isinstance(codec, OpusCodec)
        codec.apply_remote_params(params)
        return codec
    raise CodecError(f"unknown codec {name!r}; known: {', '.join(_NAMES)}")
