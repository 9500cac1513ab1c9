"""rvoip_sansio.adapters.trio: run the sans-I/O cores on trio.

:func:`open_udp_endpoint` runs any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket, and
:func:`open_sip_transports` a SIP ``Endpoint`` on UDP, TCP, TLS, WS and WSS at once, both as
async context managers with ``trio.current_time()`` as the clock. :class:`CallAudio` is a
call's audio as an async stream (issue 10 §1), with sources and sinks to play and record.
:func:`open_phone` runs a whole SIP phone (the pure ``PhoneCore``) on those sockets.
"""

from ._audio import CallAudio, FrameStream
from ._media import MediaSockets, NoFreePort
from ._call import EventStream, PhoneCall, PhoneError
from ._phone import Phone, open_phone
from ._sources import (AudioDeviceError, BufferSink, BufferSource, CallbackSink, CallbackSource, SilenceSource,
                       Sink, SoundCardSink, SoundCardSource, Source, ToneSource, WavSink, WavSource, play, record,
                       stream)
from ._stream import SipTransports, open_sip_transports
from ._udp import UdpEndpoint, open_udp_endpoint

__all__ = ["UdpEndpoint", "open_udp_endpoint", "SipTransports", "open_sip_transports",
           "CallAudio", "FrameStream", "MediaSockets", "NoFreePort",
           "Source", "Sink", "WavSource", "ToneSource", "SilenceSource", "BufferSource", "CallbackSource",
           "SoundCardSource", "WavSink", "BufferSink", "CallbackSink", "SoundCardSink", "AudioDeviceError",
           "play", "record", "stream", "Phone", "PhoneCall", "PhoneError", "open_phone", "EventStream"]
