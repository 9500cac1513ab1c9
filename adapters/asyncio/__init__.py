"""rvoip_sansio.adapters.asyncio: run the sans-I/O cores on asyncio sockets.

:class:`UdpEndpoint`: any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket. :class:`SipTransports`: a SIP
``Endpoint`` on UDP, TCP, TLS, WS and WSS at once (docs/transports.md). :class:`Phone`: a
softphone / trunk endpoint, a thin host over :class:`rvoip_sansio.phone.PhoneCore` (SIP on any
transport, one RTP socket per call, ``call.audio`` as async frames in and PCM out, DTMF and
call events as async iterators), with audio sources and sinks (docs/adapters.md).
"""

from ._stream import SipTransports, StreamCore, open_sip_transports
from ._udp import DatagramCore, UdpEndpoint, open_udp_endpoint
from ._media import TracedCore, TraceHook
from ._host import MediaCore, PhoneHost
from ._audio import CallAudio, FrameStream
from ._phone import Phone, PhoneCall, PhoneError, open_phone
from ._sources import (AudioDeviceError, BufferSink, BufferSource, CallbackSink, CallbackSource, SilenceSource,
                       Sink, SoundCardSink, SoundCardSource, Source, ToneSource, WavSink, WavSource, play, record,
                       stream)

__all__ = [
    "DatagramCore",
    "UdpEndpoint",
    "open_udp_endpoint",
    "StreamCore",
    "SipTransports",
    "open_sip_transports",
    "TracedCore",
    "TraceHook",
    "MediaCore",
    "PhoneHost",
    "CallAudio",
    "FrameStream",
    "Phone",
    "PhoneCall",
    "PhoneError",
    "open_phone",
    "Source",
    "Sink",
    "WavSource",
    "ToneSource",
    "SilenceSource",
    "BufferSource",
    "CallbackSource",
    "SoundCardSource",
    "WavSink",
    "BufferSink",
    "CallbackSink",
    "SoundCardSink",
    "AudioDeviceError",
    "play",
    "record",
    "stream",
]
