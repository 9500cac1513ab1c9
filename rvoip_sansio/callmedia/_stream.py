"""CallMedia: the media of one call, sans I/O (issue 10 §1, issue 8 §1 media).

Contract (docs/ARCHITECTURE.md): ``receive(data, source, now)``, ``datagrams_to_send(now)``,
``next_event()``, ``next_deadline()``, ``handle_timeout(now)``, ``transport_error(dest, now)``
(a ``rvoip_sansio.DatagramCore``). On top of it the application
API that adapters wrap: ``read_frame()``, ``write(pcm)``, ``clear()``, ``mark()``, mute,
pause/resume, ``send_dtmf()``, ``report(now)``.

The media clock: tick ``n`` is at ``start + n·ptime`` (computed, never accumulated, so it
cannot drift). At each tick one frame is taken from the send queue (or silence/CN/nothing)
and one slot from the jitter buffer is played into the receive queue.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from collections import deque

import numpy as np
import numpy.typing as npt

from .._core import Address, Event, LocalProtocolError, RandomSource, Transmit
from ..codecs import codec_for_rtpmap
from ..rtp import (
    DTMF_DIGITS, DtmfReceived, JitterBufferConfig, RtpSession, RtpSessionConfig,
    digit_to_event,
)
from ..srtp import SrtpError, SrtpPolicy, SrtpSession
from ._config import CallMediaConfig, IdleMode, SrtpKeys
from ._receive import FLAGS, ReceivePath
from ._records import (
    AudioFrame, BackpressureChanged, Drained, HealthReport, MediaReport, SendFailed,
    SrtpDropped, _new_audio_frame,
)
from ._send import SendQueue

__all__ = ["CallMedia"]

log = logging.getLogger("rvoip_sansio.callmedia")

PCM = npt.NDArray[np.int16]
_NONE: frozenset[Any] = frozenset()


@functools.lru_cache(maxsize=32)
def _jitter_config(clock_rate: int, frame_samples: int, cn_payload_type: int) -> JitterBufferConfig:
    """One (frozen) jitter buffer configuration shared by the calls that use the same:
    a call keeps its own for its whole life, an object more for the garbage collector."""
    return JitterBufferConfig(clock_rate=clock_rate, frame_samples=frame_samples,
                              cn_payload_type=cn_payload_type)


class CallMedia:
    """Send and receive audio of one call over RTP (SRTP when keyed); see module docs."""

    __slots__ = (
        "config", "rtp", "codec", "rx", "tx", "_encoder", "_start", "_n", "_ptime",
        "_events", "_srtp_tx", "_srtp_rx", "_srtp_kinds", "_next_mark", "_last_tick",
        "_idle", "_cn_next", "_cn_payload", "_silence_payload", "muted", "paused",
        "frames_sent", "idle_ticks", "ticks_skipped", "srtp_errors", "plain_dropped",
        "_closed", "_frame_ts", "_grouped", "sending", "receiving", "send_errors",
        "_failed_dests", "_need_keys",
    )

    def __init__(self, *, config: CallMediaConfig, rng: RandomSource, now: float) -> None:
        c = self.config = config
        # Separate codec objects for the two directions: decoder state (PLC history) must
        # not be disturbed by encoding. Concealment is a decoder's business: the encoder
        # gets none (a concealer per call more for the garbage collector to walk).
        self.codec = codec_for_rtpmap(c.rtpmap, c.fmtp)
        self._encoder = codec_for_rtpmap(c.rtpmap, c.fmtp, plc=False)
        info = self.codec.info
        samples = round(c.ptime * info.clock_rate)
        jb = c.jitter_buffer or _jitter_config(
            info.clock_rate, samples, c.cn_payload_type if c.cn_payload_type is not None else -1)
        self.rtp = RtpSession(config=RtpSessionConfig(
            clock_rate=info.clock_rate, payload_type=c.payload_type, codec=info.name,
            ptime=c.ptime, remote_rtp=c.remote_rtp, remote_rtcp=c.remote_rtcp,
            rtcp_mux=c.rtcp_mux, telephone_event_pt=c.telephone_event_pt,
            cn_payload_type=c.cn_payload_type if c.cn_payload_type is not None else -1,
            jitter_buffer=jb, inactivity_timeout=c.inactivity_timeout,
        ), rng=rng, now=now, wallclock_offset=c.wallclock_offset)
        frame_samples = round(c.ptime * info.sample_rate)
        self.rx = ReceivePath(
            codec=self.codec,
            payload_types=tuple(dict.fromkeys((c.payload_type, *c.receive_payload_types))),
            app_rate=c.rate, frame_ms=c.frame_ms, limit=c.receive_queue_frames, rng=rng,
            vad=c.vad)
        self.tx = SendQueue(app_rate=c.rate, codec_rate=info.sample_rate,
                            frame_samples=frame_samples, limit=c.send_queue_frames,
                            policy=c.send_policy)
        self._silence_payload = self._encoder.encode(np.zeros(frame_samples, np.int16))
        self._encoder.reset()
        self._cn_payload = bytes([min(127, max(0, c.cn_level))])  # RFC 3389 §3.1, white
        self._start = now
        self._n = 0
        self._ptime = c.ptime
        self._last_tick = now
        self._events: deque[Event] = deque()
        self._srtp_tx: SrtpSession | None = None
        self._srtp_rx: SrtpSession | None = None
        # (Rarely changed sets are frozensets replaced on change, the empty one shared: an
        # established call keeps this object, and an empty set is one more for the garbage
        # collector to walk on every full pass.)
        self._srtp_kinds: frozenset[str] = _NONE
        #: Nothing may go out or be played in the clear (the config asks for SRTP): read
        #: once per packet, so kept here rather than looked up in the config each time.
        self._need_keys = c.srtp_required or c.srtp is not None
        if c.srtp is not None:
            self.set_srtp(c.srtp)
        self._next_mark = 1
        self._idle = True
        self._cn_next = 0.0
        self.muted = False
        self.paused = False
        #: The negotiated direction (RFC 3264 §5.1); changed by hold/resume re-offers.
        self.sending = c.send
        self.receiving = c.receive
        self.frames_sent = 0
        self.idle_ticks = 0
        self.ticks_skipped = 0
        self.srtp_errors = 0
        self.plain_dropped = 0
        self.send_errors = 0
        self._failed_dests: frozenset[Address] = _NONE
        self._closed = False
        #: RTP timestamp units per tick.
        self._frame_ts = samples
        #: Ticks run by a CallMediaGroup (shared clock, batched resampling) instead.
        self._grouped = False

    # ================================================================ keys and addresses
    def set_srtp(self, keys: SrtpKeys) -> None:
        """Key the call (SDES at set-up, or DTLS-SRTP when the handshake completes): fresh
        send and receive contexts (the send rollover counter restarts too). For a peer's
        new key alone use :meth:`rekey_receive`."""
        tx = self._srtp_tx = SrtpSession(keys.tx)
        self._srtp_rx = SrtpSession(keys.rx)
        # Every datagram is protected as the RTP session makes it (RTP and, on the muxed
        # port, RTCP); any still waiting unprotected is protected now.
        self.rtp.protect_with(tx.protect, tx.protect_rtcp)

    def rekey_receive(self, policy: SrtpPolicy) -> None:
        """A new key for what the peer sends, ours unchanged (RFC 4568 §7.1.4: the peer's
        re-offer or re-answer carries a new ``a=crypto`` key while our line keeps its key).

        Only the receive context is replaced (a fresh one: index estimation restarts from
        the first packet under the new key, as for a new libsrtp session); the send context,
        its rollover counter, replay state and packet count, is kept, so our stream goes on
        undisturbed. Packets still under the old key fail authentication from now on: they
        are dropped and counted (``health().srtp_errors``; ``SrtpDropped`` once per kind).
        Raises :class:`LocalProtocolError` when the call is not keyed yet (use ``set_srtp``).
        """
        if self._srtp_tx is None:
            raise LocalProtocolError("callmedia: rekey_receive() on a call without SRTP keys")
        self._srtp_rx = SrtpSession(policy)

    def set_direction(self, *, send: bool, receive: bool) -> None:
        """A new negotiated direction (hold: ``sendonly``/``inactive``, resume: ``sendrecv``).
        Not sending: queued audio is consumed as if played and no RTP goes out (the RTP clock
        keeps running); not receiving: no frames are delivered."""
        self.sending = send
        self.receiving = receive

    def set_remote(self, rtp: Address, rtcp: Address | None = None) -> None:
        """A new signalled address (answer, re-INVITE); latching starts afresh."""
        self.rtp.set_remote(rtp, rtcp)

    # ================================================================ network side
    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One datagram from the call's RTP (or muxed RTP/RTCP) socket."""
        if self._closed:
            return
        srtp = self._srtp_rx
        if srtp is not None:
            try:
                # RFC 5761 §4: RTCP packet types 192..223 in the second octet.
                data = (srtp.unprotect_rtcp(data) if len(data) >= 2 and 192 <= data[1] <= 223
                        else srtp.unprotect(data))
            except SrtpError as exc:
                self.srtp_errors += 1
                kind = exc.kind.name
                if kind not in self._srtp_kinds:
                    self._srtp_kinds = self._srtp_kinds | {kind}
                    self._events.append(SrtpDropped(kind=kind, reason=str(exc)))
                return
        elif self._need_keys:
            self.plain_dropped += 1  # keys not there yet: never play unauthenticated media
            return
        self.rtp.receive(data, source, now)

    def transport_error(self, dest: Address, now: float) -> None:
        """The adapter could not send a datagram to ``dest``. Never raises and stops
        nothing: RTP over UDP has no error path (RFC 3550 notices a gone peer by timeout,
        §6.3.5; here ``MediaTimeout``). Counted in ``health().send_errors``; the first
        failure to each destination is reported as :class:`SendFailed`."""
        self.send_errors += 1
        if dest not in self._failed_dests and len(self._failed_dests) < 16:
            self._failed_dests = self._failed_dests | {dest}
            self._events.append(SendFailed(dest=dest, time=now))

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        # RtpSession.datagrams_to_send inlined. With keys, the session protected every
        # datagram as it made it (set_srtp: RtpSession.protect_with).
        rtp = self.rtp
        out = rtp._out
        if not out:
            return []
        rtp._out = None
        if self._srtp_tx is None and self._need_keys:
            return []  # keys not there yet: nothing leaves in the clear
        return out

    def next_event(self) -> Event | None:
        if self._events:
            return self._events.popleft()
        return self.rtp.next_event()

    def next_deadline(self) -> float | None:
        if self._closed or self._grouped:
            return self.rtp.next_deadline()
        tick = self._start + self._n * self._ptime
        d = self.rtp.next_deadline()
        return tick if d is None or tick < d else d

    def handle_timeout(self, now: float) -> None:
        """Run every media tick due at or before ``now`` (and the RTP session's timers)."""
        if not self._closed and not self._grouped:
            ptime = self._ptime
            due = int((now - self._start) / ptime + 1e-9) + 1  # ticks 0 .. due-1 are due
            behind = due - self._n
            if behind > 1:
                max_run = max(1, int(self.config.max_catchup / ptime + 1e-9))
                if behind > max_run:
                    skip = behind - max_run
                    self._skip_ticks(skip)
            while self._n < due:
                t = self._start + self._n * ptime
                self._n += 1
                self._tick(t)
        self.rtp.handle_timeout(now)

    # ================================================================ the media clock
    def _skip_ticks(self, count: int) -> None:
        # The adapter stalled: these ticks' media time passes without packets (the RTP
        # timestamp advances, so the peer sees a gap, not a clock jump) and the queued audio
        # of that time is dropped as if it had been played.
        self.ticks_skipped += count
        self.rtp.skip(count * self._frame_ts)
        for _ in range(count):
            if not self.paused:
                self.tx.pop()  # its time passed unsent: counted in ticks_skipped
            self.rtp.pop_frame(self._start + self._n * self._ptime)
            self._n += 1
        self._fire_marks(self._start + (self._n - 1) * self._ptime)

    def _tick(self, t: float) -> None:
        tx = self.tx
        if tx._frames and not self.paused:
            # _take and SendQueue.pop's common case inlined (once per call per tick): a
            # whole frame is queued.
            self._last_tick = t
            tx.dequeued += 1
            frame: PCM | None = tx._frames.popleft()
            self.frames_sent += 1
            if tx._marks:
                self._fire_marks(t)
        else:
            frame = self._take(t)
        if frame is not None and self.sending and not self.muted:
            # _put's common case inlined (a frame to send: once per call per tick). First
            # frame after an idle period starts a talk spurt (RFC 3551 §4.1).
            rtp = self.rtp
            rtp.send_audio(self._encoder.encode(frame), t, marker=self._idle)
            self._idle = False
            if tx.backpressure:
                self._released()
        else:
            self._put(frame, t)
            rtp = self.rtp
        pf = rtp.pop_frame(t)
        if self.receiving:
            self.rx.tick(pf, t, self._events)

    def _take(self, t: float) -> PCM | None:
        """Send half, step 1: the frame to send at tick ``t`` (None: nothing to send)."""
        self._last_tick = t
        if self.paused:
            return None
        tx = self.tx
        frame = tx.pop()
        if frame is not None:
            self.frames_sent += 1
            if tx._marks:
                self._fire_marks(t)
        return frame

    def _put(self, frame: PCM | None, t: float) -> None:
        """Send half, step 2: encode and send ``frame`` (codec rate), or idle."""
        if self.paused or not self.sending:
            # Paused: the queue waits. Not sending (sendonly peer, hold): audio is consumed
            # as if played. Either way the RTP clock advances (the next packet: marker).
            self.rtp.skip(self._frame_ts)
            if self.paused:
                return
        elif frame is not None and not self.muted:
            # First frame after an idle period starts a talk spurt (RFC 3551 §4.1).
            self.rtp.send_audio(self._encoder.encode(frame), t, marker=self._idle)
            self._idle = False
        else:
            if frame is None:
                self.idle_ticks += 1
            self._send_idle(t)
        if self.tx.backpressure:
            self._released()

    def _released(self) -> None:
        if self.tx.backpressure_released():
            self._events.append(BackpressureChanged(active=False,
                                                    queued_frames=self.tx.queued_frames))

    def _send_idle(self, t: float) -> None:
        mode = self.config.idle
        starting = not self._idle
        self._idle = True
        if mode is IdleMode.SILENCE:
            self.rtp.send_audio(self._silence_payload, t)
            return
        if mode is IdleMode.COMFORT_NOISE and (starting or t >= self._cn_next - 1e-9):
            pt = self.config.cn_payload_type
            assert pt is not None
            # RFC 3389 §4: a SID at the start of the pause, refreshed while it lasts. The
            # session sends with its audio payload type: switch for this one packet.
            self.rtp.set_payload_type(pt)
            self.rtp.send_audio(self._cn_payload, t)
            self.rtp.set_payload_type(self.config.payload_type)
            self._cn_next = t + self.config.cn_interval
            return
        self.rtp.skip(self._frame_ts)

    def _fire_marks(self, t: float) -> None:
        for m in self.tx.reached_marks():
            self._events.append(Drained(mark=m, cleared=False, time=t))

    # ================================================================ application API
    def read_frame(self) -> AudioFrame | None:
        """The oldest received frame not read yet (None when none is waiting)."""
        rx = self.rx  # (ReceivePath.read inlined: the application calls it per frame)
        q = rx.queue
        if not q:
            return None
        samples, index, time, ts, flags = q.popleft()
        return _new_audio_frame(samples, rx.app_rate, index, time, ts, FLAGS[flags])

    @property
    def frames_available(self) -> int:
        return len(self.rx.queue)

    def write(self, pcm: PCM, rate: int | None = None) -> int:
        """Queue mono int16 ``pcm`` at ``rate`` (default: the configured application rate)
        for sending. Returns the samples accepted: all of them, except under
        ``SendPolicy.REJECT`` with a full queue (the rest is counted as rejected)."""
        was = self.tx.backpressure
        n = self.tx.write(pcm, rate)
        if self.tx.backpressure and not was:
            self._events.append(BackpressureChanged(active=True,
                                                    queued_frames=self.tx.queued_frames))
        return n

    def room(self) -> int:
        """Samples (at the application rate) ``write`` accepts now without rejecting."""
        return self.tx.room()

    def mark(self) -> int:
        """A marker after everything written so far; ``Drained(mark=id)`` comes when the
        last frame before it has been handed to the network (or dropped by ``clear``)."""
        m = self._next_mark
        self._next_mark += 1
        if self.tx.mark(m):
            self._events.append(Drained(mark=m, cleared=False, time=self._last_tick))
        return m

    def clear(self) -> int:
        """Barge-in: drop everything queued for sending; returns the frames dropped. Only a
        frame already handed to the network can still be heard."""
        before = self.tx.cleared
        for m in self.tx.clear():
            self._events.append(Drained(mark=m, cleared=True, time=self._last_tick))
        if self.tx.backpressure_released():
            self._events.append(BackpressureChanged(active=False, queued_frames=0))
        return self.tx.cleared - before

    def mute(self, muted: bool = True) -> None:
        """Send silence/CN instead of the queued audio (which is consumed as usual)."""
        self.muted = muted

    def pause(self) -> None:
        """Stop sending and hold the queue; the RTP clock keeps running (resume = marker)."""
        self.paused = True
        self._idle = True

    def resume(self) -> None:
        self.paused = False

    def send_dtmf(self, digits: str, now: float, *, duration: float = 0.1,
                  volume: int = 10) -> None:
        """RFC 4733 telephone events; they replace the audio while they last."""
        self.rtp.send_dtmf(digits, now, duration=duration, volume=volume)

    def dtmf_from_signalling(self, digit: str, duration: float = 0.1) -> None:
        """A digit that came by SIP INFO (``application/dtmf-relay``): the dialog layer hands
        it here so the application sees one event type, ``DtmfReceived``, whichever way the
        peer sent it. ``timestamp`` is the RTP timestamp we would send next (our clock)."""
        code = digit_to_event(digit)  # ValueError for a non-digit: the caller's input
        rate = self.codec.info.clock_rate
        self._events.append(DtmfReceived(
            digit=DTMF_DIGITS[code], event=code, duration=min(0xFFFF, round(duration * rate)),
            duration_s=duration, volume=10, timestamp=self.rtp.next_timestamp, ended=True))

    def close(self, now: float, reason: bytes | None = None) -> None:
        """Stop the media clock and say goodbye (RTCP BYE)."""
        if not self._closed:
            self._closed = True
            self.rtp.close(now, reason)

    # ================================================================ reports
    def health(self) -> HealthReport:
        jb = self.rtp.jitter_buffer
        tx = self.tx
        return HealthReport(
            receive_queue_frames=len(self.rx.queue), receive_queue_limit=self.rx.limit,
            frames_delivered=self.rx.delivered, frames_dropped=self.rx.dropped,
            frames_concealed=self.rx.concealed, frames_comfort_noise=self.rx.comfort_noise,
            packets_late=jb.late, send_queue_frames=tx.queued_frames,
            send_queue_limit=tx.limit, send_queue_seconds=tx.queued_frames * self._ptime,
            frames_sent=self.frames_sent, idle_ticks=self.idle_ticks,
            send_underruns=tx.underruns, frames_cleared=tx.cleared,
            samples_rejected=tx.rejected, ticks_skipped=self.ticks_skipped,
            srtp_errors=self.srtp_errors + self.plain_dropped,
            malformed=self.rtp.malformed, muted=self.muted, paused=self.paused,
            send_errors=self.send_errors)

    def report(self, now: float) -> MediaReport:
        """Health (queues, drops, concealment) and quality (loss, jitter, RTT, MOS)."""
        return MediaReport(health=self.health(), quality=self.rtp.quality_report(now))

    @property
    def media_time(self) -> float:
        """Media clock position: ticks run so far × ptime."""
        return self._n * self._ptime
