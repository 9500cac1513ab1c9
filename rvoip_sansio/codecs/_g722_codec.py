"""The G.722 codec object: RTP facts, 64 kbit/s encoder, 64/56/48 kbit/s decoder, concealment."""

from __future__ import annotations

import numpy as np

from rvoip_sansio.codecs._base import PCM, Codec, CodecError, CodecInfo, as_pcm, shared_info
from rvoip_sansio.codecs._g722 import G722Decoder, G722Encoder
from rvoip_sansio.codecs._plc import WaveformConcealer

__all__ = ["G722Codec"]


class G722Codec(Codec):
    """G.722 (payload type 9): 16 kHz audio, but ``G722/8000`` in SDP (RFC 3551 §4.5.2).

    The RTP clock runs at 8000 Hz because the first RFC 1890 table said so; the timestamp
    therefore advances by 160 per 20 ms frame while the frame holds 320 samples.

    Concealment (``plc=True``) is the G.711 Appendix I waveform substitution applied at
    16 kHz to the decoder's output (delaying it by 60 samples, 3.75 ms); the ADPCM state simply
    continues from the last good packet (it is not the G.722 Appendix III/IV algorithm).
    """

    __slots__ = ("_info", "_enc", "_dec", "_plc")

    def __init__(self, *, frame_ms: int = 20, bitrate: int = 64000, plc: bool = True) -> None:
        if frame_ms <= 0 or frame_ms % 5:
            raise CodecError("G.722 frame_ms must be a positive multiple of 5")
        self._info = shared_info(
            name="G722", payload_type=9, preferred_payload_type=9, clock_rate=8000,
            sample_rate=16000, channels=1, rtp_channels=1, frame_ms=frame_ms, bitrate=bitrate,
        )
        self._enc = G722Encoder()
        self._dec = G722Decoder(bitrate)
        self._plc: WaveformConcealer | None = WaveformConcealer(16000) if plc else None

    @property
    def info(self) -> CodecInfo:
        return self._info

    @property
    def delay_samples(self) -> int:
        return 0 if self._plc is None else self._plc.delay

    def encode(self, pcm: PCM) -> bytes:
        return self._enc.encode(as_pcm(pcm))

    def decode(self, payload: bytes) -> PCM:
        out = self._dec.decode(payload)
        return out if self._plc is None else self._plc.receive(out)

    def conceal(self) -> PCM:
        n = self._info.frame_samples
        return np.zeros(n, np.int16) if self._plc is None else self._plc.conceal(n)

    def reset(self) -> None:
        self._enc.reset()
        self._dec.reset()
        if self._plc is not None:
            self._plc.reset()
