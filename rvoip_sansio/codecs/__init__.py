"""Audio codecs over numpy int16 arrays: G.711, G.722, Opus (system libopus), L16, resampling.

>>> import numpy as np
>>> from rvoip_sansio.codecs import get_codec
>>> pcmu = get_codec("PCMU", plc=False)
>>> pcmu.info.rtpmap, pcmu.info.payload_type
('PCMU/8000', 0)
>>> payload = pcmu.encode(np.zeros(160, np.int16))
>>> len(payload), pcmu.decode(payload).shape
(160, (160,))
"""

from rvoip_sansio.codecs._base import PCM, Codec, CodecError, CodecInfo, as_pcm
from rvoip_sansio.codecs._g711 import (
    G711Codec,
    alaw_decode,
    alaw_decode_frames,
    alaw_encode,
    alaw_encode_frames,
    ulaw_decode,
    ulaw_decode_frames,
    ulaw_encode,
    ulaw_encode_frames,
)
from rvoip_sansio.codecs._g711_bytes import alaw2lin, lin2alaw, lin2ulaw, ulaw2lin
from rvoip_sansio.codecs._g722 import G722Decoder, G722Encoder
from rvoip_sansio.codecs._g722_batch import G722BatchDecoder, G722BatchEncoder
from rvoip_sansio.codecs._g722_codec import G722Codec
from rvoip_sansio.codecs._l16 import L16Codec, l16_decode, l16_encode
from rvoip_sansio.codecs._plc import WaveformConcealer
from rvoip_sansio.codecs._registry import codec_for_rtpmap, codec_names, get_codec, list_codecs
from rvoip_sansio.codecs._resample import BatchResampler, Resampler, resample

__all__ = [
    "PCM",
    "Codec",
    "CodecError",
    "CodecInfo",
    "as_pcm",
    "get_codec",
    "list_codecs",
    "codec_names",
    "codec_for_rtpmap",
    "G711Codec",
    "G722Codec",
    "L16Codec",
    "G722Encoder",
    "G722Decoder",
    "G722BatchEncoder",
    "G722BatchDecoder",
    "WaveformConcealer",
    "Resampler",
    "BatchResampler",
    "resample",
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "ulaw_encode_frames",
    "ulaw_decode_frames",
    "alaw_encode_frames",
    "alaw_decode_frames",
    "ulaw2lin",
    "lin2ulaw",
    "alaw2lin",
    "lin2alaw",
    "l16_encode",
    "l16_decode",
]


def __getattr__(name: str) -> object:
    # Opus classes import ctypes machinery; libopus itself loads on first use.
    if name in ("OpusCodec", "OpusParams", "OpusError"):
        from rvoip_sansio.codecs import _opus

        return getattr(_opus, name)
    raise AttributeError(name)
