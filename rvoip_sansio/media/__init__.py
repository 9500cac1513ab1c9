"""rvoip_sansio.media: media processing over numpy int16 frames (pure, deterministic).

DTMF (ITU-T Q.23/Q.24), comfort noise (RFC 3389), voice activity detection, a conference mixer, automatic gain control, noise suppression, echo cancellation, signal sources and WAV in memory. Every object takes frames of any
size; see docs/media.md for usage and measured figures.
"""

from ._levels import (
    DBM0_PER_DBOV,
    FULL_SCALE,
    dbm0_to_rms,
    dbov_to_rms,
    level_dbm0,
    level_dbov,
    rms,
)
from .aec import EchoCanceller, EchoCancellerConfig
from .agc import AgcConfig, AutomaticGainControl
from .cng import (
    ComfortNoiseEstimator,
    ComfortNoiseGenerator,
    ComfortNoisePayload,
    estimate_comfort_noise,
    levinson_durbin,
    reflection_to_lpc,
)
from .dtmf import (
    DTMF_HIGH,
    DTMF_KEYS,
    DTMF_LOW,
    DtmfConfig,
    DtmfDetector,
    DtmfDigit,
    DtmfDigitEnded,
    detect_dtmf,
    dtmf_frequencies,
    dtmf_sequence,
    dtmf_tone,
    goertzel,
)
from .mixer import ConferenceMixer, Converter, MixerConfig, Resampler, soft_limit
from .ns import NoiseSuppressor, NoiseSuppressorConfig, StftGainEngine
from .sources import NoiseSource, ToneSource, pink_noise, silence, speech_like, tone, white_noise
from .vad import SpeechEnded, SpeechStarted, VadConfig, VoiceActivityDetector
from .wav import read_wav_bytes, wav_bytes

__all__ = [
    "DBM0_PER_DBOV",
    "FULL_SCALE",
    "dbm0_to_rms",
    "dbov_to_rms",
    "level_dbm0",
    "level_dbov",
    "rms",
    "AgcConfig",
    "AutomaticGainControl",
    "EchoCanceller",
    "EchoCancellerConfig",
    "ComfortNoiseEstimator",
    "ComfortNoiseGenerator",
    "ComfortNoisePayload",
    "estimate_comfort_noise",
    "levinson_durbin",
    "reflection_to_lpc",
    "DTMF_HIGH",
    "DTMF_KEYS",
    "DTMF_LOW",
    "DtmfConfig",
    "DtmfDetector",
    "DtmfDigit",
    "DtmfDigitEnded",
    "detect_dtmf",
    "dtmf_frequencies",
    "dtmf_sequence",
    "dtmf_tone",
    "goertzel",
    "ConferenceMixer",
    "Converter",
    "MixerConfig",
    "Resampler",
    "soft_limit",
    "NoiseSuppressor",
    "NoiseSuppressorConfig",
    "StftGainEngine",
    "NoiseSource",
    "ToneSource",
    "pink_noise",
    "silence",
    "speech_like",
    "tone",
    "white_noise",
    "SpeechEnded",
    "SpeechStarted",
    "VadConfig",
    "VoiceActivityDetector",
    "read_wav_bytes",
    "wav_bytes",
]
