"""Audio sources and sinks for the asyncio ``call.audio``: WAV files, tones, silence, numpy
buffers, callbacks, and the sound card through ``sounddevice`` (the optional ``audio`` extra,
``pip install 'rvoip-sansio[audio]'``, imported only when a sound-card object is made;
:class:`AudioDeviceError` says what is missing).

The sources and sinks are the plain objects shared with the blocking adapter (a *source* has a
``rate`` and ``read(count)`` returning up to ``count`` int16 samples, fewer once it has ended;
a *sink* has ``write(frame)`` and ``close()``); none of them blocks the event loop (the
sound-card sink drops what the device has no room for). :func:`play`, :func:`record` and
:func:`stream` move audio between them and a call as coroutines.
"""

from __future__ import annotations

import asyncio

from ..blocking._sources import AudioDeviceError, BufferSink, BufferSource, CallbackSink, CallbackSource
from ..blocking._sources import DroppingSoundCardSink as SoundCardSink
from ..blocking._sources import SilenceSource, Sink, SoundCardSource, Source, ToneSource, WavSink, WavSource
from ._audio import CallAudio

__all__ = ["Source", "Sink", "WavSource", "ToneSource", "SilenceSource", "BufferSource", "CallbackSource",
           "SoundCardSource", "WavSink", "BufferSink", "CallbackSink", "SoundCardSink", "AudioDeviceError",
           "play", "record", "stream"]



async def play(audio: CallAudio, source: Source, *, lead: float = 0.2, wait_drained: bool = True) -> int:
    """Play ``source`` into the call until it ends (or the call does); returns the samples
    queued. The source is read only ``lead`` seconds ahead of the media clock, so a live
    source (the microphone) stays live and a ``clear()`` drops little. With ``wait_drained``
    it returns once the last sample has been sent."""
    ahead = max(1, round(lead * source.rate))
    step = audio.frame_ms / 1000
    sent = 0
    while not audio.ended:
        health = audio.health()
        queued = 0 if health is None else round(health.send_queue_seconds * source.rate)
        want = ahead - queued
        if want <= 0:
            await asyncio.sleep(step)
            continue
        pcm = source.read(want)
        if len(pcm):
            sent += await audio.write(pcm, source.rate)
        if len(pcm) < want:
            break
    if wait_drained and not audio.ended:
        await audio.drained()
    return sent


async def record(audio: CallAudio, sink: Sink, *, speech_only: bool = False) -> int:
    """Write every received frame into ``sink`` until the call ends (or the task is
    cancelled); the sink is closed either way. Returns the frames written."""
    count = 0
    try:
        async for frame in audio.frames():
            if speech_only and not frame.flags.is_speech:
                continue
            sink.write(frame)
            count += 1
    finally:
        sink.close()
    return count


async def stream(audio: CallAudio, *, source: Source | None = None, sink: Sink | None = None,
                 duration: float | None = None, lead: float = 0.2) -> None:
    """Play ``source`` into the call and record the call into ``sink`` at once, for
    ``duration`` seconds (None: until the source has been sent, or with only a sink until the
    call ends)."""
    tasks: list[asyncio.Task[int]] = []
    if sink is not None:
        tasks.append(asyncio.ensure_future(record(audio, sink)))
    if source is not None:
        tasks.append(asyncio.ensure_future(play(audio, source, lead=lead)))
    if not tasks:
        return
    try:
        if duration is not None:
            await asyncio.wait(tasks, timeout=duration)
        elif source is not None:
            await tasks[-1]
        else:
            await tasks[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
