"""Audio sources and sinks for ``call.audio``: WAV files, tones, silence, numpy buffers,
callbacks, and the sound card through ``sounddevice`` (the optional ``audio`` extra,
imported only when a sound-card object is made).

A *source* has a ``rate`` and ``read(count)`` returning up to ``count`` int16 samples (fewer:
it has ended). A *sink* has ``write(frame)`` (an :class:`~rvoip_sansio.callmedia.AudioFrame`)
and ``close()``. :func:`stream` plays a source into a call and records the call into a sink
from one thread, in either driving mode of the phone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from rvoip_sansio.callmedia import AudioFrame
from rvoip_sansio.media import read_wav_bytes, wav_bytes
from rvoip_sansio.media.sources import ToneSource as _Tone

from ._audio import CallAudio

__all__ = ["Source", "Sink", "WavSource", "ToneSource", "SilenceSource", "BufferSource", "CallbackSource",
           "SoundCardSource", "WavSink", "BufferSink", "CallbackSink", "SoundCardSink", "stream",
           "play", "record", "AudioDeviceError"]

Pcm = npt.NDArray[np.int16]


class AudioDeviceError(RuntimeError):
    """The sound card cannot be used (``sounddevice`` missing, or no such device)."""


class Source(Protocol):
    rate: int

    def read(self, count: int) -> Pcm: ...


class Sink(Protocol):
    def write(self, frame: AudioFrame) -> None: ...

    def close(self) -> None: ...


class BufferSource:
    """Plays a numpy buffer (mono int16, or anything convertible) once."""

    def __init__(self, pcm: npt.ArrayLike, rate: int) -> None:
        self.pcm = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        self.rate = rate
        self._pos = 0

    def read(self, count: int) -> Pcm:
        out = self.pcm[self._pos:self._pos + count]
        self._pos += len(out)
        return out


class WavSource(BufferSource):
    """Plays a PCM WAV file once (channels mixed down to mono)."""

    def __init__(self, path: str | Path) -> None:
        pcm, rate, channels = read_wav_bytes(Path(path).read_bytes())
        if channels > 1:
            pcm = np.mean(pcm.astype(np.int32), axis=1).astype(np.int16)
        super().__init__(pcm, rate)


class ToneSource:
    """A tone of ``freqs`` Hz at ``level_dbm0`` for ``duration`` seconds (None: forever)."""

    def __init__(self, freqs: float | tuple[float, ...] = 440.0, *, rate: int = 16000,
                 level_dbm0: float = -10.0, duration: float | None = None) -> None:
        self.rate = rate
        self._tone = _Tone(freqs=freqs if isinstance(freqs, tuple) else (freqs,), rate=rate,
                           level_dbm0=level_dbm0)
        self._left = None if duration is None else round(duration * rate)

    def read(self, count: int) -> Pcm:
        if self._left is not None:
            count = min(count, self._left)
            self._left -= count
        return self._tone.read(count)


class SilenceSource:
    """Digital silence for ``duration`` seconds (None: forever)."""

    def __init__(self, *, rate: int = 16000, duration: float | None = None) -> None:
        self.rate = rate
        self._left = None if duration is None else round(duration * rate)

    def read(self, count: int) -> Pcm:
        if self._left is not None:
            count = min(count, self._left)
            self._left -= count
        return np.zeros(count, dtype=np.int16)


class CallbackSource:
    """``callback(count)`` returns up to ``count`` samples, or None when it has ended."""

    def __init__(self, callback: Callable[[int], npt.ArrayLike | None], *, rate: int = 16000) -> None:
        self.rate = rate
        self._callback = callback

    def read(self, count: int) -> Pcm:
        out = self._callback(count)
        if out is None:
            return np.zeros(0, dtype=np.int16)
        return np.ascontiguousarray(out, dtype=np.int16).reshape(-1)[:count]


class BufferSink:
    """Keeps the received frames; ``samples(speech_only=...)`` joins them."""

    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []

    def write(self, frame: AudioFrame) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        pass

    def samples(self, *, speech_only: bool = False) -> Pcm:
        parts = [f.samples for f in self.frames if f.flags.is_speech or not speech_only]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class WavSink(BufferSink):
    """Records into a mono 16-bit WAV file, written on ``close()``."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def close(self) -> None:
        rate = self.frames[0].rate if self.frames else 16000
        self.path.write_bytes(wav_bytes(self.samples(), rate))


class CallbackSink:
    """``callback(frame)`` for every received frame."""

    def __init__(self, callback: Callable[[AudioFrame], object]) -> None:
        self._callback = callback

    def write(self, frame: AudioFrame) -> None:
        self._callback(frame)

    def close(self) -> None:
        pass


def _sounddevice() -> Any:
    try:
        import sounddevice  # the optional "audio" extra
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise AudioDeviceError(
            "the sound card needs the 'sounddevice' package (pip install 'rvoip-sansio[audio]') "
            f"and the PortAudio library: {exc}") from exc
    return sounddevice


class SoundCardSource:
    """The microphone (``device``: a sounddevice name or index; None: the default)."""

    def __init__(self, *, rate: int = 16000, device: int | str | None = None) -> None:
        self.rate = rate
        self._stream = _sounddevice().InputStream(samplerate=rate, channels=1, dtype="int16", device=device)
        self._stream.start()

    def read(self, count: int) -> Pcm:
        count = min(count, int(self._stream.read_available))
        data, _overflowed = self._stream.read(count)
        return np.ascontiguousarray(data, dtype=np.int16).reshape(-1)

    def close(self) -> None:
        self._stream.close()


class SoundCardSink:
    """The loudspeaker; frames are played at their own rate."""

    def __init__(self, *, rate: int = 16000, device: int | str | None = None) -> None:
        self._stream = _sounddevice().OutputStream(samplerate=rate, channels=1, dtype="int16", device=device)
        self._stream.start()

    def write(self, frame: AudioFrame) -> None:
        self._stream.write(frame.samples.reshape(-1, 1))

    def close(self) -> None:
        self._stream.close()


class DroppingSoundCardSink:
    """The loudspeaker for the event-loop adapters (asyncio and trio export it as their
    ``SoundCardSink``; ``device``: a sounddevice name or index; None: the default). It never
    blocks: what the device buffer has no room for is dropped (counted in ``dropped``), which
    is what a late loudspeaker means anyway."""

    def __init__(self, *, rate: int = 16000, device: int | str | None = None) -> None:
        self.dropped = 0
        self._stream = _sounddevice().OutputStream(samplerate=rate, channels=1, dtype="int16", device=device)
        self._stream.start()

    def write(self, frame: AudioFrame) -> None:
        room = int(self._stream.write_available)
        samples = frame.samples[:room]
        self.dropped += len(frame.samples) - len(samples)
        if len(samples):
            self._stream.write(samples.reshape(-1, 1))

    def close(self) -> None:
        self._stream.close()


def stream(audio: CallAudio, *, source: Source | None = None, sink: Sink | None = None,
           duration: float | None = None, lead: float = 0.2) -> None:
    """Play ``source`` into the call and record the call into ``sink`` for ``duration``
    seconds (None: until the source ends, or with no source the call ends), from the calling
    thread. The source is read only ``lead`` seconds ahead of the media clock, so a live
    source (the microphone) stays live and a ``clear()`` drops little."""
    end = None if duration is None else time.monotonic() + duration
    ahead = 0 if source is None else round(lead * source.rate)
    source_done = source is None
    try:
        while not audio.ended and (end is None or time.monotonic() < end):
            if source is not None and not source_done:
                health = audio.health()
                queued = 0 if health is None else round(health.send_queue_seconds * source.rate)
                want = ahead - queued
                if want > 0:
                    pcm = source.read(want)
                    source_done = len(pcm) < want
                    if len(pcm):
                        audio.write(pcm, source.rate, timeout=lead)
            if source_done and end is None and sink is None:
                audio.drained(timeout=lead * 10)
                return
            left = 0.02 if end is None else min(0.02, max(0.0, end - time.monotonic()))
            frame = audio.read(timeout=left)
            if frame is not None and sink is not None:
                sink.write(frame)
    finally:
        if sink is not None:
            sink.close()


def play(audio: CallAudio, source: Source, *, lead: float = 0.2) -> None:
    """Play ``source`` into the call until it ends and has been sent (or the call ends)."""
    stream(audio, source=source, lead=lead)


def record(audio: CallAudio, sink: Sink, *, duration: float | None = None) -> None:
    """Record the call into ``sink`` for ``duration`` seconds (None: until the call ends)."""
    stream(audio, sink=sink, duration=duration)
