"""rvoip_sansio.rtp: RTP/RTCP packets, the RTP session (statistics, RTCP timing, symmetric
latching), the adaptive jitter buffer, RFC 4733 DTMF and the G.107 call-quality estimate.

Pure: bytes and ``now`` in, events and datagrams out. See docs/rtp.md.
"""

from ._cn import ComfortNoise
from ._demux import PacketKind, classify, is_rtcp
from ._dtmf import (
    DTMF_DIGITS,
    DtmfReceived,
    DtmfReceiver,
    DtmfSender,
    DtmfStarted,
    TelephoneEvent,
    digit_to_event,
)
from ._events import (
    ActiveSourceChanged,
    ByeReceived,
    LoopDetected,
    MediaResumed,
    MediaTimeout,
    PacketDiscarded,
    QualityUpdated,
    RemoteAddressLatched,
    RtcpReceived,
    SourceValidated,
    SsrcCollision,
)
from ._jitter import FrameFlags, JitterBuffer, JitterBufferConfig, PlayoutFrame, PutResult
from ._packet import (
    ExtensionElement,
    HeaderExtension,
    RtpPacket,
    build_extension_elements,
    build_rtp,
    parse_extension_elements,
    parse_rtp_header,
)
from ._quality import CODEC_IMPAIRMENTS, CodecImpairment, QualityReport, mos_from_r, r_factor
from ._rtcp import (
    App,
    Bye,
    ExtendedReport,
    FeedbackPacket,
    GenericNack,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SdesItem,
    SdesType,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    VoipMetricsBlock,
    XrBlock,
    build_compound,
    parse_rtcp,
    parse_rtcp_packet,
)
from ._rtcp_timer import COMPENSATION, RtcpScheduler, rtcp_interval
from ._session import RtpSession, RtpSessionConfig
from ._stats import SourceStats, ntp_from_unix, ntp_middle

__all__ = [
    "ComfortNoise",
    "PacketKind", "classify", "is_rtcp",
    "DTMF_DIGITS", "DtmfReceived", "DtmfReceiver", "DtmfSender", "DtmfStarted",
    "TelephoneEvent", "digit_to_event",
    "ActiveSourceChanged", "ByeReceived", "LoopDetected", "MediaResumed", "MediaTimeout",
    "PacketDiscarded", "QualityUpdated", "RemoteAddressLatched", "RtcpReceived",
    "SourceValidated", "SsrcCollision",
    "FrameFlags", "JitterBuffer", "JitterBufferConfig", "PlayoutFrame", "PutResult",
    "ExtensionElement", "HeaderExtension", "RtpPacket", "build_extension_elements",
    "build_rtp", "parse_extension_elements", "parse_rtp_header",
    "CODEC_IMPAIRMENTS", "CodecImpairment", "QualityReport", "mos_from_r", "r_factor",
    "App", "Bye", "ExtendedReport", "FeedbackPacket", "GenericNack", "PictureLossIndication",
    "ReceiverReport", "ReportBlock", "RtcpPacket", "SdesChunk", "SdesItem", "SdesType",
    "SenderReport", "SourceDescription", "UnknownRtcp", "VoipMetricsBlock", "XrBlock",
    "build_compound", "parse_rtcp", "parse_rtcp_packet",
    "COMPENSATION", "RtcpScheduler", "rtcp_interval",
    "RtpSession", "RtpSessionConfig",
    "SourceStats", "ntp_from_unix", "ntp_middle",
]
