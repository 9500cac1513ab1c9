"""Configuration of one call's media: what was negotiated, plus what the application wants.

The dialog layer hands over the negotiated media description (remote address, payload types,
codec rtpmap/fmtp, direction, ptime, rtcp-mux, SRTP keys); the application chooses the rate
and frame size of the audio it reads and writes, and the queue policies.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

from .._core import Address
from ..rtp import JitterBufferConfig
from ..srtp import SrtpPolicy

if TYPE_CHECKING:
    from ..sdp import NegotiatedMedia

__all__ = ["CallMediaConfig", "IdleMode", "SendPolicy", "SrtpKeys"]


class SendPolicy(enum.Enum):
    """What :meth:`CallMedia.write` does when the outgoing queue is full."""

    #: Accept only what fits; ``write`` returns the number of samples accepted.
    REJECT = "reject"
    #: Accept everything; ``BackpressureChanged(active=True)`` once the queue passes its
    #: limit, ``active=False`` when it has drained below half of it. Memory grows with
    #: what the application writes: it must wait for the event.
    ACCEPT_ALL = "accept-all"


class IdleMode(enum.Enum):
    """What goes out on a media tick when nothing is queued (and while muted)."""

    #: Encoded digital silence every ptime: a continuous stream (keeps NAT bindings and
    #: trunks that expect constant RTP happy).
    SILENCE = "silence"
    #: Nothing; the RTP timestamp still advances and the next packet carries the marker bit
    #: (RFC 3551 §4.1 DTX).
    NOTHING = "nothing"
    #: One RFC 3389 comfort-noise packet at the start of the pause and then every
    #: ``cn_interval``, nothing in between (needs a CN payload type).
    COMFORT_NOISE = "comfort-noise"


@attrs.frozen(kw_only=True)
class SrtpKeys:
    """SRTP policies of one call: ``tx`` protects what we send, ``rx`` checks what arrives.

    From SDES: ``SrtpKeys(*sdes_accept(...))`` or the last two items of ``sdes_answer``; from
    DTLS-SRTP: ``SrtpKeys(tx=ev.tx_policy, rx=ev.rx_policy)`` of ``DtlsConnected``.
    """

    tx: SrtpPolicy
    rx: SrtpPolicy


@attrs.frozen(kw_only=True)
class CallMediaConfig:
    """Everything one :class:`CallMedia` needs; safe defaults for a G.711 call."""

    # ---- negotiated (SDP) ----
    #: ``a=rtpmap`` value of the codec to send and receive (``PCMU/8000``, ``G722/8000``...).
    rtpmap: str = "PCMU/8000"
    fmtp: str | None = None
    payload_type: int = 0
    #: Extra payload types that carry the same codec (the peer's numbering, RFC 3264 §6.1).
    receive_payload_types: tuple[int, ...] = ()
    telephone_event_pt: int | None = 101
    cn_payload_type: int | None = 13
    remote_rtp: Address | None = None
    remote_rtcp: Address | None = None
    rtcp_mux: bool = True
    ptime: float = 0.02
    #: Direction from our side (RFC 3264): do we send, do we expect media.
    send: bool = True
    receive: bool = True
    #: None: plain RTP. With ``srtp_required`` and no keys yet (DTLS still running) nothing is
    #: sent and plain RTP that arrives is dropped.
    srtp: SrtpKeys | None = None
    srtp_required: bool = False
    # ---- application side ----
    #: Rate of the audio the application reads and writes (any rate the resampler takes).
    rate: int = 16000
    #: Size of the frames the application reads, in milliseconds.
    frame_ms: float = 20.0
    #: Receive queue bound in frames; a slow reader loses the oldest.
    receive_queue_frames: int = 50
    #: Send queue bound in codec frames (one per ptime): 500 = 10 s at 20 ms.
    send_queue_frames: int = 500
    send_policy: SendPolicy = SendPolicy.REJECT
    idle: IdleMode = IdleMode.SILENCE
    cn_interval: float = 0.2
    #: Comfort-noise level we announce (-dBov) in IdleMode.COMFORT_NOISE.
    cn_level: int = 70
    #: Run the VAD on received audio and report SpeechStarted/SpeechEnded (barge-in).
    vad: bool = False
    #: RTP inactivity timeout (issue 10 §2): MediaTimeout after this long without RTP.
    inactivity_timeout: float | None = 30.0
    jitter_buffer: JitterBufferConfig | None = None
    #: An adapter that fell behind by more than this runs only the newest ticks; the ones
    #: skipped still advance the media clock (counted as ``ticks_skipped``).
    max_catchup: float = 0.2
    #: Wall-clock minus the caller's monotonic clock, for RTCP SR NTP timestamps (set by the adapter).
    wallclock_offset: float = 0.0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise ValueError("payload type is 0..127")
        if self.ptime <= 0 or self.frame_ms <= 0 or self.rate <= 0:
            raise ValueError("ptime, frame_ms and rate must be positive")
        if self.receive_queue_frames < 1 or self.send_queue_frames < 1:
            raise ValueError("queue bounds must be at least one frame")
        if self.idle is IdleMode.COMFORT_NOISE and self.cn_payload_type is None:
            raise ValueError("IdleMode.COMFORT_NOISE needs a CN payload type")

    @classmethod
    def from_negotiated(cls, media: NegotiatedMedia, *, srtp: SrtpKeys | None = None,
                        **options: object) -> CallMediaConfig:
        """Build from an SDP offer/answer result (``rvoip_sansio.sdp.NegotiatedMedia``).

        ``options`` are the application-side fields (``rate``, ``frame_ms``, queue bounds...).
        Comfort noise is used only if the peer agreed to ``CN/8000``.
        """
        codec = media.codec
        if codec is None or codec.payload_type is None:
            raise ValueError("no agreed codec in the negotiated media")
        rtpmap = f"{codec.name}/{codec.clock_rate}"
        if codec.channels != 1:
            rtpmap += f"/{codec.channels}"
        recv_pts = tuple(c.payload_type for c in media.receive_codecs
                         if c.payload_type is not None and c.key == codec.key
                         and c.payload_type != codec.payload_type)
        cn = next((c.payload_type for c in (*media.codecs, *media.receive_codecs)
                   if c.name.upper() == "CN" and c.clock_rate == codec.clock_rate), None)
        remote = (media.remote_address, media.remote_port) \
            if media.remote_address and media.remote_port else None
        rtcp = (media.remote_rtcp_address, media.remote_rtcp_port) \
            if media.remote_rtcp_address and media.remote_rtcp_port else None
        kw: dict[str, object] = dict(
            rtpmap=rtpmap, fmtp=codec.fmtp, payload_type=codec.payload_type,
            receive_payload_types=recv_pts,
            telephone_event_pt=media.telephone_event_pt,
            cn_payload_type=cn, remote_rtp=remote, remote_rtcp=rtcp,
            rtcp_mux=media.rtcp_mux, ptime=(media.ptime or 20) / 1000.0,
            send=media.direction.sends, receive=media.direction.receives,
            srtp=srtp, srtp_required=bool(media.remote_crypto or media.remote_fingerprints),
        )
        if cn is None and options.get("idle") is IdleMode.COMFORT_NOISE:
            options["idle"] = IdleMode.NOTHING
        kw.update(options)
        return cls(**kw)  # type: ignore[arg-type]
