"""The RTP session of one media stream: sender, receivers, RTCP, latching, jitter buffer, DTMF.

Contract (ARCHITECTURE.md): ``receive(data, source, now)``, ``next_event()``,
``datagrams_to_send(now)``, ``next_deadline()``, ``handle_timeout(now)``. The playout side
pulls one frame per tick with :meth:`RtpSession.pop_frame`. Nothing raises on network input:
malformed datagrams are counted and reported as :class:`PacketDiscarded`.

Wall-clock time (for SR NTP timestamps) is ``now + wallclock_offset``; the adapter sets the
offset once (its wall clock minus its loop clock); the core never reads a clock.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable

import attrs

from .._core import Address, Event, ParseError, RandomSource, RvoipError, Transmit, slot_setters
from ._dtmf import DtmfReceiver, DtmfSender
from ._events import (
    ActiveSourceChanged, ByeReceived, LoopDetected, MediaResumed, MediaTimeout,
    PacketDiscarded, QualityUpdated, RemoteAddressLatched, RtcpReceived, SourceValidated,
    SsrcCollision,
)
from ._jitter import JitterBuffer, JitterBufferConfig, PlayoutFrame
from ._packet import _HDR_PACK, _HDR_UNPACK, build_rtp, parse_rtp_header
from ._quality import QualityReport, build_quality_report
from ._rtcp import (
    Bye, ExtendedReport, ReceiverReport, ReportBlock, RtcpPacket, SdesChunk, SdesItem,
    SdesType, SenderReport, SourceDescription, VoipMetricsBlock, build_compound, parse_rtcp,
)
from ._rtcp_timer import RtcpScheduler
from ._stats import MAX_DROPOUT, SourceStats, ntp_from_unix, ntp_middle

__all__ = ["RtpSessionConfig", "RtpSession"]

log = logging.getLogger("rvoip_sansio.rtp")

#: Hot-path construction of a Transmit (once per RTP packet sent): object.__new__ and the
#: slots' descriptors instead of attrs' __init__ (object.__setattr__ by name per field). The
#: same object (Transmit has no validators or converters); about half the cost.
#: tests/rtp/test_session.py checks it against the attrs constructor.
_new = object.__new__
_SET_DATA, _SET_DEST = slot_setters(Transmit, "data", "dest")


def _transmit(data: bytes, dest: Address) -> Transmit:
    t: Transmit = _new(Transmit)
    _SET_DATA(t, data)
    _SET_DEST(t, dest)
    return t


_NO_ADDRESSES: frozenset[Address] = frozenset()

#: IPv4 + UDP header octets counted in RTCP sizes (RFC 3550 §6.2).
_UDP_IP_OVERHEAD = 28


@attrs.frozen(kw_only=True)
class RtpSessionConfig:
    clock_rate: int = 8000
    payload_type: int = 0
    #: SDP encoding name (selects the E-model impairment factors).
    codec: str = "PCMU"
    ptime: float = 0.02
    cname: str = ""
    remote_rtp: Address | None = None
    #: None: the RTP port + 1, or the RTP address itself with ``rtcp_mux``.
    remote_rtcp: Address | None = None
    rtcp_mux: bool = True
    #: Session bandwidth in octets/s (RTP + headers); RTCP gets ``rtcp_fraction`` of it.
    session_bandwidth: float = 10_000.0
    rtcp_fraction: float = 0.05
    rtcp_min_interval: float = 5.0
    #: Accept RFC 5506 reduced-size RTCP (any first packet).
    reduced_size_rtcp: bool = True
    #: Add an RFC 3611 VoIP metrics block to our reports.
    send_xr: bool = False
    telephone_event_pt: int | None = 101
    cn_payload_type: int = 13
    jitter_buffer: JitterBufferConfig | None = None
    #: Symmetric RTP: send to where the peer's packets come from.
    latch: bool = True
    #: Re-latch after this many consecutive valid packets from a new address ...
    relatch_packets: int = 5
    #: ... while the latched address has been silent this long (seconds).
    relatch_silence: float = 0.5
    #: Report MediaTimeout when no RTP arrives for this long (None: never).
    inactivity_timeout: float | None = 30.0
    max_sources: int = 32


class RtpSession:
    """One RTP stream (send and receive) with its RTCP."""

    __slots__ = (
        "_active",
        "_active_last",
        "_cand",
        "_cand_count",
        "_closed",
        "_cnames",
        "_departed",
        "_conflicts",
        "_dtmf",
        "_dtmf_rx",
        "_dtmf_tx",
        "_events",
        "_inact",
        "_inactive_since",
        "_last_from_remote",
        "_last_rtp",
        "_last_send_time",
        "_last_send_ts",
        "_latched",
        "_need_marker",
        "_out",
        "_pending_bye",
        "_pt",
        "_relatch_silence",
        "_remote",
        "_remote_fraction",
        "_remote_jitter",
        "_rtcp_latched",
        "_rtcp_out",
        "_rtcp_remote",
        "_samples",
        "_sched",
        "_sent_since_report",
        "_seq",
        "_source_addr",
        "_sources",
        "_te_pt",
        "_timed_out",
        "_ts",
        "_tx_rtcp",
        "_tx_rtp",
        "_validated",
        "audio_suppressed",
        "cname",
        "config",
        "jitter_buffer",
        "malformed",
        "octets_sent",
        "packets_sent",
        "pop_frame",
        "rng",
        "rtt",
        "ssrc",
        "wallclock_offset",
    )

    def __init__(self, *, config: RtpSessionConfig, rng: RandomSource, now: float,
                 wallclock_offset: float = 0.0) -> None:
        c = self.config = config
        self.rng = rng
        self.wallclock_offset = wallclock_offset
        self.ssrc = rng.getrandbits(32)
        # RFC 3550 §5.1: random initial values; STYLE: initial sequence below 2^15.
        self._seq = rng.randrange(0, 1 << 15)
        self._ts = rng.getrandbits(32)
        self.cname = c.cname or f"rvoip-{self.ssrc:08x}"
        self._pt = c.payload_type
        self._te_pt = c.telephone_event_pt
        self._relatch_silence = c.relatch_silence
        self._samples = int(round(c.ptime * c.clock_rate))
        self._need_marker = True
        self._remote = c.remote_rtp
        self._rtcp_remote = c.remote_rtp if c.rtcp_mux else c.remote_rtcp or (
            (c.remote_rtp[0], c.remote_rtp[1] + 1) if c.remote_rtp else None)
        self._latched = False
        self._rtcp_latched = False
        self._cand: Address | None = None
        self._cand_count = 0
        self._last_from_remote = -1e18
        self._sources: dict[int, SourceStats] = {}
        self._source_addr: dict[int, Address] = {}
        # Validated SSRCs (RFC 3550 A.1), as a tuple of ints: one or two members in a call,
        # and a tuple of ints is untracked by the garbage collector (a set never is).
        self._validated: tuple[int, ...] = ()
        self._active: int | None = None
        self._active_last = -1e18
        # The played source's statistics once its BYE removed it from the member table
        # (RFC 3550 §6.3.7): what was received still holds for the call's report.
        self._departed: SourceStats | None = None
        self._cnames: dict[int, bytes] = {}
        # (Replaced on change, empty shared: nothing for the collector in the common case.)
        self._conflicts: frozenset[Address] = _NO_ADDRESSES
        self._events: deque[Event] = deque()
        # Datagrams waiting for datagrams_to_send; None while there are none (no empty
        # list per session between flushes for the garbage collector to walk).
        self._out: list[Transmit] | None = None
        self._rtcp_out: list[Transmit] | None = None
        # Outgoing transforms (SRTP protect / SRTCP protect), see protect_with().
        self._tx_rtp: Callable[[bytes], bytes] | None = None
        self._tx_rtcp: Callable[[bytes], bytes] | None = None
        jb_cfg = c.jitter_buffer or JitterBufferConfig(
            clock_rate=c.clock_rate, frame_samples=self._samples,
            cn_payload_type=c.cn_payload_type)
        self.jitter_buffer = JitterBuffer(jb_cfg)
        #: The frame to play at this playout tick (:meth:`JitterBuffer.pop`): call it once
        #: per frame from the media clock.
        self.pop_frame: Callable[[float], PlayoutFrame] = self.jitter_buffer.pop
        # RFC 4733 sender and receiver, made on first use: most calls never send or get a
        # digit, and an established call keeps this session for its whole life (each is
        # a few objects more for the garbage collector to walk on every full pass).
        self._dtmf_tx: DtmfSender | None = None
        self._dtmf_rx: DtmfReceiver | None = None
        # False: neither DTMF side has anything in progress, so the per-packet and
        # per-deadline paths need not look into them (the hot path touches fewer objects).
        # Set when a digit is queued or a telephone-event packet arrives; recomputed in
        # handle_timeout. True only means "look".
        self._dtmf = False
        self._inact = c.inactivity_timeout
        self._sched = RtcpScheduler(rtcp_bw=c.session_bandwidth * c.rtcp_fraction, rng=rng,
                                    now=now, min_time=c.rtcp_min_interval)
        self.packets_sent = 0
        self.octets_sent = 0
        self._sent_since_report = False
        self._last_send_time: float | None = None
        self._last_send_ts = self._ts
        self._last_rtp: float | None = None
        self._timed_out = False
        self._inactive_since = now
        self._closed = False
        self._pending_bye: bytes | None = None
        self.malformed = 0
        self.audio_suppressed = 0
        self.rtt: float | None = None
        self._remote_fraction: float | None = None
        self._remote_jitter: float | None = None
        # SR NTP middle bits we sent -> not needed: RTT uses LSR/DLSR echoed back (§6.4.1).

    # ------------------------------------------------------------------ sending
    def send_audio(self, payload: bytes, now: float, *, samples: int | None = None,
                   marker: bool = False) -> None:
        """Send one encoded frame covering ``samples`` (default: one ptime) of media time."""
        if self._closed:
            return
        ts = self._ts
        self._ts = (ts + (self._samples if samples is None else samples)) & 0xFFFFFFFF
        if self._dtmf and (dt := self._dtmf_tx) is not None and (dt._current or dt._queue):
            # (DtmfSender.busy, inlined)
            # RFC 4733 §2.5.1.1-ish: the event replaces the audio for its duration.
            self.audio_suppressed += 1
            self._need_marker = True
            return
        if self._need_marker:
            marker = True
            self._need_marker = False
        # _emit_rtp inlined (the hot path: one packet per tick).
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        remote = self._remote
        if remote is None:
            return
        data = _HDR_PACK(0x80, 0x80 | self._pt if marker else self._pt, seq, ts,
                         self.ssrc) + payload
        tx = self._tx_rtp
        if tx is not None:
            data = self._transform(tx, data)  # SRTP protect (protect_with)
        if data:
            out = self._out
            if out is None:
                self._out = [_transmit(data, remote)]
            else:
                out.append(_transmit(data, remote))
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self._sent_since_report = True
        self._last_send_time = now
        self._last_send_ts = ts

    def set_remote(self, rtp: Address, rtcp: Address | None = None) -> None:
        """New signalled media address (an SDP answer or re-INVITE): send there and latch
        afresh to the first valid packets that arrive."""
        self._remote = rtp
        self._rtcp_remote = rtp if self.config.rtcp_mux else rtcp or (rtp[0], rtp[1] + 1)
        self._latched = self._rtcp_latched = False
        self._cand = None
        self._cand_count = 0

    def set_payload_type(self, payload_type: int, samples_per_frame: int | None = None) -> None:
        """Switch the payload type we send (a codec change within the same clock rate)."""
        if not 0 <= payload_type <= 127:
            raise ValueError("payload type is 0..127")
        self._pt = payload_type
        if samples_per_frame is not None:
            self._samples = samples_per_frame

    def skip(self, samples: int) -> None:
        """Silence (DTX): advance the media clock without sending; the next packet starts a
        talk spurt and carries the marker bit (RFC 3551 §4.1)."""
        self._ts = (self._ts + samples) & 0xFFFFFFFF
        self._need_marker = True

    def _emit_rtp(self, pt: int, marker: bool, ts: int, payload: bytes, now: float) -> None:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        if self._remote is None:
            return
        data = build_rtp(pt, marker, seq, ts, self.ssrc, payload)
        if self._tx_rtp is None or (data := self._transform(self._tx_rtp, data)):
            self._push(Transmit(data=data, dest=self._remote))
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self._sent_since_report = True
        self._last_send_time = now
        self._last_send_ts = ts

    def protect_with(self, rtp: Callable[[bytes], bytes] | None,
                     rtcp: Callable[[bytes], bytes] | None) -> None:
        """Transform every datagram we send from now on (SRTP: ``protect`` for RTP and
        ``protect_rtcp`` for RTCP on the RTP port, i.e. with rtcp-mux), at the moment it is
        made; None: send as made. A transform that raises (an :class:`RvoipError`, such as
        an exhausted SRTP key) drops that datagram, logged; the counters still count it.
        Datagrams already waiting are transformed now, in order, so none leaves in the clear."""
        self._tx_rtp = rtp
        self._tx_rtcp = rtcp
        if rtp is None or rtcp is None or not self._out:
            return
        out = []
        for t in self._out:
            d = t.data
            # RFC 5761 §4: RTCP packet types 192..223 in the second octet.
            p = self._transform(rtcp if len(d) >= 2 and 192 <= d[1] <= 223 else rtp, d)
            if p:
                out.append(Transmit(data=p, dest=t.dest))
        self._out = out or None

    def _push(self, t: Transmit) -> None:
        out = self._out
        if out is None:
            self._out = [t]
        else:
            out.append(t)

    @staticmethod
    def _transform(fn: Callable[[bytes], bytes], data: bytes) -> bytes:
        try:
            return fn(data)
        except RvoipError as exc:  # e.g. SRTP key exhausted: never reuse it, drop the packet
            log.warning("outgoing datagram dropped: %s", exc)
            return b""

    def send_dtmf(self, digits: str, now: float, *, duration: float = 0.1,
                  volume: int = 10) -> None:
        """Queue RFC 4733 telephone events; packets leave from :meth:`handle_timeout`."""
        if self.config.telephone_event_pt is None:
            raise ValueError("no telephone-event payload type negotiated")
        dt = self._dtmf_tx
        if dt is None:
            dt = self._dtmf_tx = DtmfSender(clock_rate=self.config.clock_rate)
        self._dtmf = True  # (before: queue may append some digits, then raise)
        dt.queue(digits, duration=duration, volume=volume)
        self._send_dtmf(now)

    def _send_dtmf(self, now: float) -> None:
        pt = self.config.telephone_event_pt
        dt = self._dtmf_tx
        assert pt is not None and dt is not None
        for payload, marker, ts in dt.due(now, self._ts):
            self._emit_rtp(pt, marker, ts, payload, now)

    def send_rtcp(self, packets: list[RtcpPacket], now: float, *, reduced_size: bool = False
                  ) -> None:
        """Send feedback (NACK, PLI), APP or XR packets now: in a compound with our report
        and SDES (RFC 3550 §6.1), or alone when ``reduced_size`` (RFC 5506)."""
        body = list(packets) if reduced_size else [*self._report_packets(now), *packets]
        self._queue_rtcp(build_compound(body), now)

    # ------------------------------------------------------------------ receiving
    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One datagram from the RTP (or muxed RTP/RTCP) socket."""
        if len(data) >= 2 and 192 <= data[1] <= 223:
            self.receive_rtcp(data, source, now)
            return
        if len(data) >= 12 and data[0] == 0x80:
            # Common header (version 2, no padding, extension or CSRC): read it in place.
            _b0, b1, seq, ts, ssrc = _HDR_UNPACK(data, 0)
            pt = b1 & 0x7F
            marker = b1 > 127
            start = 12
            end = len(data)
        else:
            try:
                pt, marker, seq, ts, ssrc, start, end = parse_rtp_header(data)
            except ParseError as exc:
                self._discard(exc.reason, source, exc.offset)
                return
        st = self._sources.get(ssrc)
        if st is not None and not st.probation:
            # RFC 3550 A.1 common case inlined: in order, with a permissible gap.
            udelta = (seq - st.max_seq) & 0xFFFF
            if 0 < udelta < MAX_DROPOUT:
                if seq < st.max_seq:
                    st.cycles += 0x10000
                st.max_seq = seq
                st.received += 1
            elif not st.update_seq(seq):
                return
        else:
            if st is None:
                if ssrc == self.ssrc:
                    self._collision(source)
                    return
                if len(self._sources) >= self.config.max_sources:
                    self._discard("too many sources", source)
                    return
                st = self._sources[ssrc] = SourceStats(ssrc, seq, self.config.clock_rate)
                self._source_addr[ssrc] = source
            if not st.update_seq(seq):
                return  # on probation, or a bad jump (RFC 3550 A.1)
        self._last_rtp = now
        if self._timed_out or ssrc not in self._validated:
            self._first_valid(ssrc, source)
        if source != self._remote or not self._latched:
            self._check_latch(source, now)
        else:
            self._last_from_remote = now
            self._cand_count = 0
        st.octets += end - start
        if pt == self._te_pt:
            self._dtmf = True
            dr = self._dtmf_rx
            if dr is None:
                dr = self._dtmf_rx = DtmfReceiver(clock_rate=self.config.clock_rate)
            try:
                self._events.extend(dr.receive(ts, data[start:end], now))
            except ParseError as exc:
                self._discard(exc.reason, source, start + exc.offset)
            return
        # RFC 3550 A.8 (SourceStats.update_jitter inlined for the hot path).
        transit = now * st.clock_rate - ts
        prev = st.transit
        st.transit = transit
        if prev is not None:
            dt = transit - prev
            if dt < 0:
                dt = -dt
            if dt > 2147483648.0:  # timestamp wrap
                dt = abs((dt + 2147483648.0) % 4294967296.0 - 2147483648.0)
            st.jitter += (dt - st.jitter) * 0.0625
        if ssrc != self._active:
            if self._active is not None and now - self._active_last < self._relatch_silence:
                return  # another source still talks: keep the one we play
            self._events.append(ActiveSourceChanged(ssrc=ssrc, previous=self._active))
            self._active = ssrc
            self.jitter_buffer.reset()
        self._active_last = now
        self.jitter_buffer.put(seq, ts, marker, pt, data[start:end], now)

    def _first_valid(self, ssrc: int, source: Address) -> None:
        if self._timed_out:
            self._timed_out = False
            self._events.append(MediaResumed())
        if ssrc not in self._validated:
            self._validated += (ssrc,)
            self._events.append(SourceValidated(ssrc=ssrc, source=source))

    def _check_latch(self, source: Address, now: float) -> None:
        c = self.config
        if not c.latch:
            return
        if not self._latched:
            # First valid packets: latch to where they come from (symmetric RTP, RFC 4961).
            self._relatch(source, now)
            return
        if source == self._cand:
            self._cand_count += 1
        else:
            self._cand = source
            self._cand_count = 1
        if (self._cand_count >= c.relatch_packets
                and now - self._last_from_remote >= c.relatch_silence):
            self._relatch(source, now)

    def _relatch(self, source: Address, now: float) -> None:
        previous = self._remote
        self._remote = source
        self._latched = True
        self._last_from_remote = now
        self._cand = None
        self._cand_count = 0
        if source != previous:
            log.debug("RTP latched to %s (was %s)", source, previous)
            self._events.append(RemoteAddressLatched(address=source, previous=previous))
            if self.config.rtcp_mux:
                self._rtcp_remote = source  # RFC 5761: RTCP shares the RTP 5-tuple

    def _collision(self, source: Address) -> None:
        # RFC 3550 §8.2: a known conflicting address means our own packets looped back.
        if source in self._conflicts:
            self._events.append(LoopDetected(source=source))
            return
        self._conflicts = self._conflicts | {source}
        old = self.ssrc
        self._queue_rtcp(build_compound([*self._report_packets(None), Bye(sources=(old,))]),
                         None)
        self.ssrc = self.rng.getrandbits(32)
        self._events.append(SsrcCollision(old_ssrc=old, new_ssrc=self.ssrc, source=source))

    def _discard(self, reason: str, source: Address, offset: int = -1) -> None:
        self.malformed += 1
        log.debug("discarded datagram from %s: %s", source, reason)
        self._events.append(PacketDiscarded(reason=reason, source=source, offset=offset))

    def receive_rtcp(self, data: bytes, source: Address, now: float) -> None:
        """One datagram from the RTCP socket (or a muxed RTCP packet)."""
        try:
            packets = parse_rtcp(data)
        except ParseError as exc:
            if not self.config.reduced_size_rtcp:
                self._discard(exc.reason, source, exc.offset)
                return
            try:
                packets = parse_rtcp(data, reduced_size=True)
            except ParseError as exc2:
                self._discard(exc2.reason, source, exc2.offset)
                return
        self._sched.received(len(data) + _UDP_IP_OVERHEAD)
        if not self._rtcp_latched and self.config.latch and source != self._rtcp_remote:
            self._events.append(RemoteAddressLatched(address=source, previous=self._rtcp_remote,
                                                     rtcp=True))
            self._rtcp_remote = source
        self._rtcp_latched = True
        wall = ntp_middle(ntp_from_unix(now + self.wallclock_offset))
        for p in packets:
            if isinstance(p, SenderReport):
                st = self._sources.get(p.ssrc)
                if st is not None:
                    st.last_sr_ntp = p.ntp_timestamp
                    st.last_sr_arrival = now
                self._about_us(p.reports, wall)
            elif isinstance(p, ReceiverReport):
                self._about_us(p.reports, wall)
            elif isinstance(p, SourceDescription):
                for chunk in p.chunks:
                    for item in chunk.items:
                        if item.type == SdesType.CNAME:
                            self._cnames[chunk.ssrc] = item.value
            elif isinstance(p, Bye):
                for s in p.sources:
                    self._events.append(ByeReceived(ssrc=s, reason=p.reason))
                    gone = self._sources.pop(s, None)
                    if gone is not None:
                        if s == self._active:
                            self._departed = gone
                        self._validated = tuple(v for v in self._validated if v != s)
                        self._sched.member_left(now, 1 + len(self._validated))
        self._events.append(RtcpReceived(packets=packets, source=source))
        self._events.append(QualityUpdated(report=self.quality_report(now)))

    def _about_us(self, reports: tuple[ReportBlock, ...], wall_middle: int) -> None:
        for rb in reports:
            if rb.ssrc != self.ssrc:
                continue
            self._remote_fraction = rb.fraction_lost / 256.0
            self._remote_jitter = rb.jitter / self.config.clock_rate
            if rb.lsr:
                # §6.4.1: RTT = A - LSR - DLSR, in units of 1/65536 s.
                rtt = ((wall_middle - rb.lsr - rb.dlsr) & 0xFFFFFFFF) / 65536.0
                if rtt < 60.0:
                    self.rtt = rtt

    # ------------------------------------------------------------------ playout
    # pop_frame(now) -> PlayoutFrame is bound in __init__ to the jitter buffer's pop.

    # ------------------------------------------------------------------ RTCP out
    def _report_packets(self, now: float | None) -> list[RtcpPacket]:
        t = now if now is not None else (self._last_send_time or 0.0)
        blocks = [self._sources[s].report_block(t) for s in sorted(self._validated)
                  if s in self._sources][:31]
        out: list[RtcpPacket] = []
        if self._sent_since_report or (self.packets_sent and self._last_send_time is not None
                                       and t - self._last_send_time < 2 * self._sched.min_time):
            # RTP timestamp for the same instant as the NTP timestamp (§6.4.1).
            elapsed = t - (self._last_send_time or t)
            rtp_ts = (self._last_send_ts + int(elapsed * self.config.clock_rate)) & 0xFFFFFFFF
            out.append(SenderReport(
                ssrc=self.ssrc, ntp_timestamp=ntp_from_unix(t + self.wallclock_offset),
                rtp_timestamp=rtp_ts, packet_count=self.packets_sent & 0xFFFFFFFF,
                octet_count=self.octets_sent & 0xFFFFFFFF, reports=tuple(blocks)))
        else:
            out.append(ReceiverReport(ssrc=self.ssrc, reports=tuple(blocks)))
        out.append(SourceDescription(chunks=(SdesChunk(ssrc=self.ssrc, items=(
            SdesItem(type=SdesType.CNAME, value=self.cname.encode()),)),)))
        if self.config.send_xr and self._active is not None and now is not None:
            out.append(ExtendedReport(ssrc=self.ssrc, blocks=(self._voip_metrics(now),)))
        return out

    def _voip_metrics(self, now: float) -> VoipMetricsBlock:
        q = self.quality_report(now)
        jb = self.jitter_buffer
        assert self._active is not None
        return VoipMetricsBlock(
            ssrc=self._active,
            loss_rate=min(255, int(q.loss_percent * 2.56)),
            discard_rate=min(255, int(q.late_loss_percent * 2.56)),
            round_trip_delay=min(0xFFFF, int(q.rtt_ms or 0)),
            end_system_delay=min(0xFFFF, int(q.one_way_delay_ms - (q.rtt_ms or 0) / 2)),
            r_factor=max(0, min(100, int(q.r_factor))),
            mos_cq=int(q.mos * 10), mos_lq=127,
            rx_config=0x30,  # adaptive jitter buffer (JBA = 3), PLC unspecified
            jb_nominal=min(0xFFFF, int(jb.target_delay * 1000)),
            jb_maximum=min(0xFFFF, int(jb.max_delay_seen * 1000)),
            jb_abs_max=min(0xFFFF, int(jb.config.max_delay * 1000)),
        )

    def _queue_rtcp(self, data: bytes, now: float | None) -> None:
        dest = self._rtcp_remote
        if dest is None:
            return
        if self.config.rtcp_mux:
            if self._tx_rtcp is None:
                self._push(Transmit(data=data, dest=dest))
            elif p := self._transform(self._tx_rtcp, data):
                self._push(Transmit(data=p, dest=dest))
        elif self._rtcp_out is None:
            self._rtcp_out = [Transmit(data=data, dest=dest)]
        else:
            self._rtcp_out.append(Transmit(data=data, dest=dest))
        if now is not None:
            self._sched.sent(now, len(data) + _UDP_IP_OVERHEAD)

    def close(self, now: float, reason: bytes | None = None) -> None:
        """Leave the session with an RTCP BYE (RFC 3550 §6.3.7): at once with fewer than 50
        members, else when BYE reconsideration allows; none if we never sent RTP or RTCP."""
        if self._closed:
            return
        self._closed = True
        if not self.packets_sent and self._sched.initial:
            return  # §6.3.7: a participant that never sent anything MUST NOT send a BYE
        bye = build_compound([*self._report_packets(now), Bye(sources=(self.ssrc,),
                                                             reason=reason)])
        self._sched.set_members(1 + len(self._validated), len(self._validated),
                                self._sent_since_report)
        if self._sched.leave(now, len(bye) + _UDP_IP_OVERHEAD) is None:
            self._queue_rtcp(bye, now)
        else:
            self._pending_bye = bye

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> float | None:
        if self._closed:
            return self._sched.tn if self._pending_bye is not None else None
        d: float = self._sched.tn
        if self._dtmf:
            dt = self._dtmf_tx
            if dt is not None and (dt._current or dt._queue):
                x = dt.next_deadline()
                if x is not None and x < d:
                    d = x
            dr = self._dtmf_rx
            if dr is not None and dr._cur is not None:
                x = dr.next_deadline()
                if x is not None and x < d:
                    d = x
        to = self._inact
        if to is not None and not self._timed_out:
            t = (self._last_rtp if self._last_rtp is not None else self._inactive_since) + to
            if t < d:
                d = t
        return d

    def handle_timeout(self, now: float) -> None:
        if self._closed:
            bye = self._pending_bye
            if bye is not None and now >= self._sched.tn and self._sched.on_expire(now):
                self._pending_bye = None
                self._queue_rtcp(bye, now)
            return
        if self._dtmf:
            busy = False
            dt = self._dtmf_tx
            if dt is not None and (dt._current or dt._queue):  # (DtmfSender.busy)
                self._send_dtmf(now)
                busy = bool(dt._current or dt._queue)
            dr = self._dtmf_rx
            if dr is not None:
                if dr._cur is not None or dr._events:
                    self._events.extend(dr.handle_timeout(now))
                busy = busy or dr._cur is not None or bool(dr._events)
            self._dtmf = busy
        to = self._inact
        if to is not None and not self._timed_out:
            last = self._last_rtp if self._last_rtp is not None else self._inactive_since
            if now >= last + to:
                self._timed_out = True
                self._events.append(MediaTimeout(timeout=to, last_received=self._last_rtp))
        if now >= self._sched.tn:
            self._sched.set_members(1 + len(self._validated),
                                    len(self._validated) + (1 if self._sent_since_report else 0),
                                    self._sent_since_report)
            if self._sched.on_expire(now):
                self._queue_rtcp(build_compound(self._report_packets(now)), now)
                self._sent_since_report = False
                self._events.append(QualityUpdated(report=self.quality_report(now)))

    # ------------------------------------------------------------------ output
    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out = self._out
        if out is None:
            return []
        self._out = None
        return out

    def rtcp_datagrams_to_send(self, now: float) -> list[Transmit]:
        """RTCP for the separate RTCP socket (always empty with ``rtcp_mux``)."""
        out = self._rtcp_out
        if out is None:
            return []
        self._rtcp_out = None
        return out

    # ------------------------------------------------------------------ reporting
    @property
    def remote_address(self) -> Address | None:
        return self._remote

    @property
    def remote_rtcp_address(self) -> Address | None:
        return self._rtcp_remote

    @property
    def next_timestamp(self) -> int:
        return self._ts

    @property
    def next_sequence(self) -> int:
        return self._seq

    def source_stats(self, ssrc: int | None = None) -> SourceStats | None:
        """Reception state of ``ssrc`` (default: the source being played, kept after its
        BYE so that a call's final report still counts what it received)."""
        if ssrc is not None:
            return self._sources.get(ssrc)
        st = self._sources.get(self._active)  # type: ignore[arg-type]
        if st is None and self._departed is not None and self._departed.ssrc == self._active:
            return self._departed
        return st

    def cname_of(self, ssrc: int) -> bytes | None:
        return self._cnames.get(ssrc)

    def quality_report(self, now: float) -> QualityReport:
        """The live quality of what we receive (and the peer's view of what we send)."""
        return build_quality_report(
            config_codec=self.config.codec, ptime=self.config.ptime,
            stats=self.source_stats(), jitter_buffer=self.jitter_buffer, rtt=self.rtt,
            remote_fraction=self._remote_fraction, remote_jitter=self._remote_jitter,
            malformed=self.malformed)
