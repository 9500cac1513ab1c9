"""Opus (RFC 6716) through the system libopus, with RTP payload facts of RFC 7587.

libopus is loaded with ctypes the first time an Opus codec is created (Debian package
``libopus0``); nothing else in rvoip_sansio needs it. The ``a=fmtp`` parameters of RFC 7587
§6.1 are modelled by :class:`OpusParams`; :meth:`OpusCodec.apply_remote_params` turns the
peer's receive preferences into encoder settings (RFC 7587 §7).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import weakref

import attrs
import numpy as np

from rvoip_sansio._core import ParseError
from rvoip_sansio.codecs._base import PCM, Codec, CodecError, CodecInfo, as_pcm

__all__ = ["OpusCodec", "OpusParams", "OpusError", "load_libopus", "libopus_version"]

log = logging.getLogger("rvoip_sansio.codecs")

# opus_defines.h
APPLICATION = {"voip": 2048, "audio": 2049, "restricted_lowdelay": 2051}
SET_BITRATE, SET_MAX_BANDWIDTH, SET_VBR, SET_COMPLEXITY = 4002, 4004, 4006, 4010
SET_INBAND_FEC, SET_PACKET_LOSS_PERC, SET_DTX, SET_SIGNAL = 4012, 4014, 4016, 4024
GET_LOOKAHEAD, RESET_STATE, GET_IN_DTX = 4027, 4028, 4049
BANDWIDTH_FOR_RATE = {8000: 1101, 12000: 1102, 16000: 1103, 24000: 1104, 48000: 1105}
_VALID_RATES = (8000, 12000, 16000, 24000, 48000)
_MAX_PACKET = 1500
_MAX_FRAME_48K = 5760  # 120 ms

_lib: ctypes.CDLL | None = None


class OpusError(CodecError):
    """libopus reported an error (its message and code are kept)."""

    def __init__(self, what: str, code: int) -> None:
        msg = load_libopus().opus_strerror(code).decode() if _lib is not None else str(code)
        super().__init__(f"{what}: {msg} ({code})")
        self.code = code


def load_libopus() -> ctypes.CDLL:
    """The libopus shared library, loaded once; a clear error when it is not installed."""
    global _lib
    if _lib is not None:
        return _lib
    names = ["libopus.so.0", ctypes.util.find_library("opus") or "", "libopus.dylib", "opus.dll"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise CodecError(
            "Opus needs the system library libopus (libopus.so.0), which was not found: "
            "install the Debian/Ubuntu package 'libopus0' (apt-get install libopus0)"
        )
    vp, i32, cp = ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p
    ip = ctypes.POINTER(ctypes.c_int)
    lib.opus_encoder_create.argtypes = [i32, ctypes.c_int, ctypes.c_int, ip]
    lib.opus_encoder_create.restype = vp
    lib.opus_decoder_create.argtypes = [i32, ctypes.c_int, ip]
    lib.opus_decoder_create.restype = vp
    lib.opus_encoder_destroy.argtypes = [vp]
    lib.opus_encoder_destroy.restype = None
    lib.opus_decoder_destroy.argtypes = [vp]
    lib.opus_decoder_destroy.restype = None
    lib.opus_encode.argtypes = [vp, vp, ctypes.c_int, vp, i32]
    lib.opus_encode.restype = i32
    lib.opus_decode.argtypes = [vp, vp, i32, vp, ctypes.c_int, ctypes.c_int]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_strerror.argtypes = [ctypes.c_int]
    lib.opus_strerror.restype = cp
    lib.opus_get_version_string.argtypes = []
    lib.opus_get_version_string.restype = cp
    lib.opus_packet_get_nb_samples.argtypes = [vp, i32, i32]
    lib.opus_packet_get_nb_samples.restype = ctypes.c_int
    _lib = lib
    log.debug("loaded %s", lib.opus_get_version_string().decode())
    return lib


def libopus_version() -> str:
    return str(load_libopus().opus_get_version_string().decode())


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError("flag must be 0 or 1")
    return value == "1"


@attrs.frozen(kw_only=True)
class OpusParams:
    """The Opus ``a=fmtp`` parameters (RFC 7587 §6.1). None means "not given" (the default).

    ``maxplaybackrate``, ``stereo``, ``useinbandfec``, ``usedtx``, ``cbr``,
    ``maxaveragebitrate`` describe what the *sender of the SDP* wants to receive;
    ``sprop-*`` describe what it will send.
    """

    maxplaybackrate: int | None = None
    sprop_maxcapturerate: int | None = None
    maxptime: int | None = None
    ptime: int | None = None
    minptime: int | None = None
    maxaveragebitrate: int | None = None
    stereo: bool | None = None
    sprop_stereo: bool | None = None
    cbr: bool | None = None
    useinbandfec: bool | None = None
    usedtx: bool | None = None

    _INTS = ("maxplaybackrate", "sprop_maxcapturerate", "maxptime", "ptime", "minptime",
             "maxaveragebitrate")
    _FLAGS = ("stereo", "sprop_stereo", "cbr", "useinbandfec", "usedtx")

    @classmethod
    def parse(cls, fmtp: str) -> OpusParams:
        """Parse ``key=value;key=value`` (unknown keys are ignored, RFC 7587 §6.1)."""
        values: dict[str, int | bool] = {}
        pos = 0
        for part in fmtp.split(";"):
            item = part.strip()
            if item:
                key, eq, val = item.partition("=")
                name = key.strip().lower().replace("-", "_")
                val = val.strip()
                try:
                    if not eq:
                        raise ValueError("missing '='")
                    if name in cls._INTS:
                        if not (val.isascii() and val.isdigit()) or len(val) > 9:
                            raise ValueError("not a number")
                        values[name] = int(val)
                    elif name in cls._FLAGS:
                        values[name] = _flag(val)
                except ValueError as exc:
                    raise ParseError(f"bad Opus fmtp parameter {item!r}: {exc}", pos) from None
            pos += len(part) + 1
        return cls(**values)  # type: ignore[arg-type]

    def __str__(self) -> str:
        out = []
        for name in self._INTS + self._FLAGS:
            value = getattr(self, name)
            if value is not None:
                out.append(f"{name.replace('_', '-')}={int(value)}")
        return ";".join(out)


def _as_params(params: OpusParams | str | None) -> OpusParams:
    if params is None:
        return OpusParams()
    return params if isinstance(params, OpusParams) else OpusParams.parse(params)


class OpusCodec(Codec):
    """Opus at ``sample_rate`` (8/12/16/24/48 kHz) with ``channels``, RTP ``opus/48000/2``.

    ``encode`` takes one frame (``frame_ms`` of samples per channel); with ``dtx`` on, a
    payload of 1 or 2 bytes means "silence, need not be sent" (RFC 7587 §3.3).
    ``decode(None)``/``conceal()`` run the libopus loss concealment; ``decode_fec(next)``
    rebuilds a lost frame from the in-band FEC in the packet that followed it.
    """

    __slots__ = ("_info", "_lib", "_enc", "_dec", "_buf", "_pcm", "_frame", "_channels",
                 "_settings", "__weakref__", "_encode_fn", "_decode_fn", "_max_frame")

    def __init__(
        self,
        *,
        sample_rate: int = 48000,
        channels: int = 1,
        frame_ms: float = 20,
        bitrate: int | None = None,
        complexity: int | None = None,
        fec: bool = False,
        dtx: bool = False,
        packet_loss_perc: int = 0,
        cbr: bool = False,
        application: str = "voip",
        max_bandwidth: int | None = None,
        payload_type: int = 111,
    ) -> None:
        if sample_rate not in _VALID_RATES:
            raise CodecError(f"Opus sample rate must be one of {_VALID_RATES}")
        if channels not in (1, 2):
            raise CodecError("Opus channels must be 1 or 2")
        if frame_ms not in (2.5, 5, 10, 20, 40, 60, 80, 100, 120):
            raise CodecError("Opus frame_ms must be 2.5, 5, 10, 20, 40, 60, 80, 100 or 120")
        if application not in APPLICATION:
            raise CodecError(f"Opus application must be one of {sorted(APPLICATION)}")
        lib = self._lib = load_libopus()
        err = ctypes.c_int(0)
        enc = lib.opus_encoder_create(sample_rate, channels, APPLICATION[application], err)
        if not enc or err.value:
            raise OpusError("opus_encoder_create", err.value)
        self._enc: int = enc
        weakref.finalize(self, lib.opus_encoder_destroy, enc)
        dec = lib.opus_decoder_create(sample_rate, channels, err)
        if not dec or err.value:
            raise OpusError("opus_decoder_create", err.value)
        self._dec: int = dec
        weakref.finalize(self, lib.opus_decoder_destroy, dec)
        self._channels = channels
        self._frame = int(sample_rate * frame_ms / 1000)
        self._max_frame = _MAX_FRAME_48K * sample_rate // 48000
        self._buf = ctypes.create_string_buffer(_MAX_PACKET)
        self._pcm = np.zeros(self._max_frame * channels, np.int16)
        self._encode_fn = lib.opus_encode
        self._decode_fn = lib.opus_decode
        self._settings: dict[str, int | bool | None] = {}
        self.configure(bitrate=bitrate, complexity=complexity, fec=fec, dtx=dtx,
                       packet_loss_perc=packet_loss_perc, cbr=cbr, max_bandwidth=max_bandwidth)
        fmtp = OpusParams(
            maxplaybackrate=sample_rate if sample_rate < 48000 else None,
            sprop_maxcapturerate=sample_rate if sample_rate < 48000 else None,
            stereo=True if channels == 2 else None,
            sprop_stereo=True if channels == 2 else None,
            useinbandfec=True if fec else None,
            usedtx=True if dtx else None,
            maxaveragebitrate=bitrate,
            minptime=10,
        )
        self._info = CodecInfo(
            name="opus", payload_type=None, preferred_payload_type=payload_type,
            clock_rate=48000, sample_rate=sample_rate, channels=channels, rtp_channels=2,
            frame_ms=frame_ms, fmtp=str(fmtp),
            bitrate=bitrate,
        )

    # -- settings ---------------------------------------------------------------------------

    def _ctl(self, request: int, value: int) -> None:
        rc = self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(request),
                                        ctypes.c_int32(value))
        if rc != 0:
            raise OpusError(f"opus_encoder_ctl({request}, {value})", rc)

    def configure(
        self,
        *,
        bitrate: int | None = None,
        complexity: int | None = None,
        fec: bool | None = None,
        dtx: bool | None = None,
        packet_loss_perc: int | None = None,
        cbr: bool | None = None,
        max_bandwidth: int | None = None,
    ) -> None:
        """Change encoder settings; None leaves a setting as it is."""
        if bitrate is not None:
            if not 500 <= bitrate <= 512000:
                raise CodecError("Opus bitrate must be within 500..512000 bit/s")
            self._ctl(SET_BITRATE, bitrate)
        if complexity is not None:
            if not 0 <= complexity <= 10:
                raise CodecError("Opus complexity must be within 0..10")
            self._ctl(SET_COMPLEXITY, complexity)
        if fec is not None:
            self._ctl(SET_INBAND_FEC, int(fec))
        if dtx is not None:
            self._ctl(SET_DTX, int(dtx))
        if packet_loss_perc is not None:
            if not 0 <= packet_loss_perc <= 100:
                raise CodecError("Opus packet loss percentage must be within 0..100")
            self._ctl(SET_PACKET_LOSS_PERC, packet_loss_perc)
        if cbr is not None:
            self._ctl(SET_VBR, int(not cbr))
        if max_bandwidth is not None:
            if max_bandwidth not in BANDWIDTH_FOR_RATE:
                raise CodecError("Opus max_bandwidth is an audio bandwidth in Hz (8000..48000)")
            self._ctl(SET_MAX_BANDWIDTH, BANDWIDTH_FOR_RATE[max_bandwidth])
        for key, value in (("bitrate", bitrate), ("complexity", complexity), ("fec", fec),
                           ("dtx", dtx), ("packet_loss_perc", packet_loss_perc), ("cbr", cbr),
                           ("max_bandwidth", max_bandwidth)):
            if value is not None:
                self._settings[key] = value

    @property
    def settings(self) -> dict[str, int | bool | None]:
        """The encoder settings applied so far (a copy)."""
        return dict(self._settings)

    def apply_remote_params(self, params: OpusParams | str | None) -> None:
        """Adapt the encoder to what the peer said it wants to receive (RFC 7587 §7.1)."""
        p = _as_params(params)
        if p.maxplaybackrate is not None:
            # Encode no wider than the peer will play back (rounded down to an Opus band).
            band = max((r for r in BANDWIDTH_FOR_RATE if r <= p.maxplaybackrate), default=8000)
            self.configure(max_bandwidth=band)
        if p.maxaveragebitrate is not None:
            cur = self._settings.get("bitrate")
            limit = max(6000, min(p.maxaveragebitrate, 510000))
            if cur is None or int(cur) > limit:
                self.configure(bitrate=limit)
        if p.useinbandfec is not None:
            self.configure(fec=p.useinbandfec)
        if p.usedtx is not None:
            self.configure(dtx=p.usedtx)
        if p.cbr is not None:
            self.configure(cbr=p.cbr)

    # -- codec ------------------------------------------------------------------------------

    @property
    def info(self) -> CodecInfo:
        return self._info

    def encode(self, pcm: PCM) -> bytes:
        arr = pcm
        if arr.dtype != np.int16 or not arr.flags.c_contiguous or arr.size != self._frame * self._channels:
            arr = as_pcm(pcm, self._channels)
            if arr.shape[0] != self._frame:
                raise CodecError(f"Opus frame must hold {self._frame} samples per channel")
        n = self._encode_fn(self._enc, arr.ctypes.data, self._frame, self._buf, _MAX_PACKET)
        if n < 0:
            raise OpusError("opus_encode", n)
        return ctypes.string_at(self._buf, n)

    def _decode(self, payload: bytes | None, frame: int, fec: int) -> PCM:
        size = 0 if payload is None else len(payload)
        n = self._decode_fn(self._dec, payload, size, self._pcm.ctypes.data, frame, fec)
        if n < 0:
            if payload is None:
                raise OpusError("opus_decode (concealment)", n)
            raise ParseError(f"Opus packet rejected by libopus (error {n})", 0)
        out = self._pcm[: n * self._channels].copy()
        return out if self._channels == 1 else out.reshape(-1, self._channels)

    def decode(self, payload: bytes) -> PCM:
        if not payload:
            return self.conceal()
        return self._decode(payload, self._max_frame, 0)

    def conceal(self) -> PCM:
        """One frame of libopus packet loss concealment."""
        return self._decode(None, self._frame, 0)

    def decode_fec(self, next_payload: bytes) -> PCM:
        """Rebuild the frame lost just before ``next_payload`` from its in-band FEC data
        (falls back to concealment when the packet carries none)."""
        return self._decode(next_payload, self._frame, 1)

    def reset(self) -> None:
        self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(RESET_STATE))
        self._lib.opus_decoder_ctl(ctypes.c_void_p(self._dec), ctypes.c_int(RESET_STATE))

    @property
    def lookahead(self) -> int:
        """Encoder lookahead in samples (the codec's algorithmic delay)."""
        val = ctypes.c_int32(0)
        self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(GET_LOOKAHEAD),
                                   ctypes.byref(val))
        return int(val.value)

    @property
    def delay_samples(self) -> int:
        return self.lookahead
