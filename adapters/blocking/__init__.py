"""rvoip_sansio.adapters.blocking: run the sans-I/O cores on plain sockets, without an event loop.

:class:`UdpEndpoint` runs any datagram core (e.g. the SIP transaction
:class:`~rvoip_sansio.transaction.Endpoint`) on one UDP socket, on a background thread or
driven by the caller (``poll``/``next_event``), with ``time.monotonic()`` as its clock.
:func:`open_sip_transports`: a SIP core on UDP, TCP, TLS, WS and WSS. :func:`open_phone`: a
softphone (``rvoip_sansio.phone.PhoneCore``) with ``call.audio``, sources and sinks.
"""

from ._socket import bind_udp_socket
from ._udp import DEFAULT_MAX_PENDING_EVENTS, UdpEndpoint, open_udp_endpoint
from ._stream import SipSockets, SipTransports, StreamCore, open_sip_transports
from ._audio import CallAudio
from ._call import PhoneCall, PhoneError
from ._phone import Phone, open_phone
from ._sources import (AudioDeviceError, BufferSink, BufferSource, CallbackSink, CallbackSource, SilenceSource,
                       Sink, SoundCardSink, SoundCardSource, Source, ToneSource, WavSink, WavSource, play, record,
                       stream)

__all__ = ["UdpEndpoint", "open_udp_endpoint", "bind_udp_socket", "DEFAULT_MAX_PENDING_EVENTS",
           "StreamCore", "SipSockets", "SipTransports", "open_sip_transports",
           "Phone", "PhoneCall", "PhoneError", "open_phone", "CallAudio",
           "Source", "Sink", "WavSource", "ToneSource", "SilenceSource", "BufferSource", "CallbackSource",
           "SoundCardSource", "WavSink", "BufferSink", "CallbackSink", "SoundCardSink", "stream",
           "play", "record", "AudioDeviceError"]
