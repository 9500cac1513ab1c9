"""A high-level phone on asyncio: a ``UserAgent`` on one UDP socket, one RTP socket per call.

Everything protocol-ish lives in the core: the ``UserAgent`` (registration, digest, calls,
SDP offer/answer), ``rvoip_sansio.callmedia`` (SDES keying in SDP: ``secure_offer``,
``secure_answer``, ``keys_from_answer``) and ``rvoip_sansio.callmedia.CallMedia`` (RTP,
SRTP, codec, jitter buffer, 20 ms clock). The
phone binds sockets, waits for events and passes values from one core to the other.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections import deque
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from rvoip_sansio import Address, Event, ParseError
from rvoip_sansio.callmedia import (SAVP, AudioFrame, CallMedia, CallMediaConfig, MediaReport, SdesOffer,
                                    SrtpKeys, keys_from_answer, secure_answer, secure_offer)
from rvoip_sansio.dialog import (Call, CallAnswered, CallEnded, CallState, IncomingCall, Registration,
                                 RegistrationChanged, RegistrationState, UAConfig, UserAgent)
from rvoip_sansio.sdp import (G722, PCMA, PCMU, Codec, LocalCapabilities, MediaCapabilities, OfferAnswerError,
                              SessionDescription)
from rvoip_sansio.sip.auth import Credentials
from rvoip_sansio.srtp import SdesError

from ._media import MediaSlot, TracedCore, TraceHook
from ._udp import UdpEndpoint, open_udp_endpoint

__all__ = ["Phone", "PhoneCall", "PhoneError"]

MEDIA_EVENTS_KEPT = 256
log = logging.getLogger("rvoip_sansio.adapters.asyncio")


class PhoneError(Exception):
    """A registration or call did not succeed (the message says what happened)."""


@attrs.define(slots=True, eq=False)
class PhoneCall:
    """One call of a :class:`Phone` with its media (``media`` is None until negotiated)."""

    phone: Phone
    call: Call
    rtp: UdpEndpoint
    slot: MediaSlot
    offer: SdesOffer | None = None  # our SDES offer (caller side)
    keys: SrtpKeys | None = None
    #: The media's latest events (QualityUpdated, MediaTimeout, SrtpDropped...), bounded.
    media_events: deque[tuple[float, Event]] = attrs.field(factory=deque)
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)
    up: asyncio.Event = attrs.field(factory=asyncio.Event)
    end: CallEnded | None = None

    @property
    def media(self) -> CallMedia | None:
        return self.slot.media

    @property
    def srtp(self) -> bool:
        return self.keys is not None

    @property
    def codec(self) -> str:
        audio = self.call.media.audio if self.call.media is not None else None
        return audio.codec.name if audio is not None and audio.codec is not None else "-"

    def write(self, pcm: npt.NDArray[np.int16], rate: int | None = None) -> int:
        """Queue audio (at ``rate``, default the phone's); returns the samples accepted."""
        media = self.media
        return self.rtp.call(lambda now: media.write(pcm, rate)) if media is not None else 0

    def room(self) -> int:
        return self.media.room() if self.media is not None else 0

    def read_frames(self) -> list[AudioFrame]:
        """Every received frame waiting in the media's queue."""
        out: list[AudioFrame] = []
        while self.media is not None and (frame := self.media.read_frame()) is not None:
            out.append(frame)
        return out

    def send_dtmf(self, digits: str, *, duration: float = 0.1) -> bool:
        """Send ``digits`` as RFC 4733 telephone events on the call's media (they replace the
        audio while they last); False when the call has no media yet."""
        media = self.media
        if media is None:
            return False
        self.rtp.call(lambda now: media.send_dtmf(digits, now, duration=duration))
        return True

    def report(self) -> MediaReport | None:
        media = self.media
        return self.rtp.call(lambda now: media.report(now)) if media is not None else None

    async def hangup(self, timeout: float = 5.0) -> None:
        if self.call.is_active:
            self.phone.sip.call(lambda now: self.call.hangup(now))
        await asyncio.wait_for(self.ended.wait(), timeout)

    def _start_media(self) -> None:
        """Plug a CallMedia for the negotiated audio into the call's RTP socket."""
        audio = self.call.media.audio if self.call.media is not None else None
        if audio is None or self.slot.media is not None:
            return
        cfg = CallMediaConfig.from_negotiated(audio, srtp=self.keys, rate=self.phone.rate,
                                              receive_queue_frames=self.phone.receive_queue_frames)
        rng = random.Random(secrets.randbits(64))
        self.rtp.call(lambda now: self.slot.attach(CallMedia(config=cfg, rng=rng, now=now)))
        self.up.set()

    def _stop_media(self, event: CallEnded) -> None:
        self.end = event
        media = self.media
        if media is not None:
            self.rtp.call(lambda now: media.close(now))  # the RTCP BYE goes out here
        task = asyncio.ensure_future(self.rtp.close())
        self.phone._tasks.add(task)
        task.add_done_callback(self.phone._tasks.discard)
        self.ended.set()


class Phone:
    """A SIP phone: register, call, answer (automatically with ``auto_answer``), hang up.

    Built with :meth:`open`. Calls offer SRTP with SDES (RFC 4568) when ``srtp`` is set and
    accept it when offered; the codecs are offered in the order given.
    """

    def __init__(self, ua: UserAgent, sip: UdpEndpoint, *, host: str, codecs: Sequence[Codec],
                 srtp: bool, rate: int, auto_answer: bool, receive_queue_frames: int,
                 trace: TraceHook | None, media_trace: TraceHook | None = None) -> None:
        self.ua = ua
        self.sip = sip
        self.host = host
        self.codecs = tuple(codecs)
        self.use_srtp = srtp
        self.rate = rate
        self.auto_answer = auto_answer
        self.receive_queue_frames = receive_queue_frames
        self.trace = trace
        self.media_trace = media_trace
        self.calls: dict[str, PhoneCall] = {}
        self.incoming: asyncio.Queue[PhoneCall] = asyncio.Queue()
        self._registrations: dict[int, asyncio.Future[RegistrationChanged]] = {}
        self._regs: list[Registration] = []
        self._sdes_rng = secrets.SystemRandom()
        self._tasks: set[asyncio.Future[None]] = set()

    @classmethod
    async def open(cls, user: str, local: Address, *, codecs: Sequence[Codec] = (G722, PCMU, PCMA),
                   srtp: bool = True, rate: int = 16000, auto_answer: bool = True,
                   receive_queue_frames: int = 500, trace: TraceHook | None = None,
                   media_trace: TraceHook | None = None) -> Phone:
        """A phone for ``user`` on the UDP address ``local`` (give a real port: it goes
        into Via and Contact). ``trace`` sees every SIP datagram sent, ``media_trace`` every
        RTP/RTCP datagram (as sent on the wire, SRTP included)."""
        config = UAConfig(local=local, user=user,
                          media=LocalCapabilities(address=local[0], media=(cls._audio(0, codecs),)))
        ua = UserAgent(config=config, rng=random.Random(secrets.randbits(64)))
        holder: list[Phone] = []
        core = TracedCore(ua, local, trace) if trace is not None else ua
        sip = await open_udp_endpoint(core, local, on_event=lambda ev, now: holder[0]._on_event(ev, now))
        phone = cls(ua, sip, host=local[0], codecs=codecs, srtp=srtp, rate=rate,
                    auto_answer=auto_answer, receive_queue_frames=receive_queue_frames, trace=trace,
                    media_trace=media_trace)
        holder.append(phone)
        return phone

    @staticmethod
    def _audio(port: int, codecs: Sequence[Codec]) -> MediaCapabilities:
        return MediaCapabilities(codecs=tuple(codecs), port=port, rtcp_mux=True,
                                 accept_protos=(SAVP,))

    async def register(self, registrar: str, credentials: Credentials | None = None, *,
                       expires: int = 600, timeout: float = 5.0) -> None:
        """Register with ``registrar`` (a SIP URI); raises :class:`PhoneError` on failure."""
        reg = self.sip.call(lambda now: self.ua.register(registrar, now, expires=expires,
                                                         credentials=credentials))
        self._regs.append(reg)
        await self._wait_registration(reg, RegistrationState.REGISTERED, timeout)

    async def _wait_registration(self, reg: Registration, state: RegistrationState, timeout: float) -> None:
        while True:
            fut: asyncio.Future[RegistrationChanged] = asyncio.get_running_loop().create_future()
            self._registrations[id(reg)] = fut
            ev = await asyncio.wait_for(fut, timeout)
            if ev.state is state:
                return
            if ev.state in (RegistrationState.FAILED, RegistrationState.UNREGISTERED):
                raise PhoneError(f"registration {ev.state.value} (status {ev.status_code})")

    async def _media_socket(self) -> tuple[UdpEndpoint, MediaSlot, deque[tuple[float, Event]]]:
        slot = MediaSlot()
        events: deque[tuple[float, Event]] = deque(maxlen=MEDIA_EVENTS_KEPT)
        traced = TracedCore(slot, (self.host, 0), self.media_trace) if self.media_trace else None
        rtp = await open_udp_endpoint(traced or slot, (self.host, 0),
                                      on_event=lambda ev, now: events.append((now, ev)))
        if traced is not None:
            traced.local = rtp.local_address
        return rtp, slot, events

    async def call(self, target: str, *, timeout: float = 10.0) -> PhoneCall:
        """Call ``target`` and wait for the answer; raises :class:`PhoneError` if it is
        refused or not answered within ``timeout`` (then it is cancelled)."""
        rtp, slot, events = await self._media_socket()
        audio = self._audio(rtp.local_address[1], self.codecs)
        offer: SdesOffer | None = None
        if self.use_srtp:
            audio, offer = secure_offer(audio, rng=self._sdes_rng)
        caps = LocalCapabilities(address=self.host, media=(audio,))
        call = self.sip.call(lambda now: self.ua.invite(target, now, media=caps))
        pc = self.calls[call.call_id] = PhoneCall(self, call, rtp, slot, offer=offer, media_events=events)
        waits = {asyncio.ensure_future(pc.ended.wait()), asyncio.ensure_future(pc.up.wait())}
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if not pc.up.is_set():
            if call.is_active:
                self.sip.call(lambda now: call.hangup(now))  # CANCEL
            reason = pc.end.reason.value if pc.end else f"no answer within {timeout:g} s"
            code = f" ({pc.end.status_code})" if pc.end and pc.end.status_code else ""
            await rtp.close()
            raise PhoneError(f"call to {target} failed: {reason}{code}")
        return pc

    async def _answer(self, pc: PhoneCall, offer: SessionDescription | bytes) -> None:
        audio = self._audio(pc.rtp.local_address[1], self.codecs)
        if self.use_srtp:
            audio, pc.keys = secure_answer(audio, offer, rng=self._sdes_rng)
        caps = LocalCapabilities(address=self.host, media=(audio,))
        self.sip.call(lambda t: pc.call.answer(t, media=caps))
        pc._start_media()

    def _on_event(self, event: Event, now: float) -> None:
        if isinstance(event, RegistrationChanged):
            fut = self._registrations.get(id(event.registration))
            if fut is not None and not fut.done():
                fut.set_result(event)
        elif isinstance(event, IncomingCall):
            task = asyncio.ensure_future(self._incoming(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(event, CallAnswered):
            pc = self.calls.get(event.call_id)
            if pc is not None and pc.offer is not None and pc.keys is None and event.media is not None:
                audio = event.media.audio
                if audio is not None:
                    pc.keys = keys_from_answer(pc.offer, audio)
            if pc is not None:
                pc._start_media()
        elif isinstance(event, CallEnded):
            pc = self.calls.get(event.call_id)
            if pc is not None:
                pc._stop_media(event)

    async def _incoming(self, event: IncomingCall) -> None:
        rtp, slot, events = await self._media_socket()
        pc = self.calls[event.call_id] = PhoneCall(self, event.call, rtp, slot, media_events=events)
        if self.auto_answer and event.call.state in (CallState.INCOMING, CallState.EARLY):
            offer = event.offer  # parsed once here; None falls back to the body (488 if bad)
            try:
                await self._answer(pc, offer if offer is not None else event.request.body)
            except (ParseError, SdesError, OfferAnswerError) as exc:
                # RFC 3261 §21.4.26 / RFC 4568 §7.1.3: an offer we cannot accept is a 488.
                log.warning("call %s refused: %s", event.call_id, exc)
                if event.call.state in (CallState.INCOMING, CallState.EARLY):
                    self.sip.call(lambda now: event.call.reject(now, code=488))
                await rtp.close()
                return
        self.incoming.put_nowait(pc)

    async def close(self, timeout: float = 3.0) -> None:
        """Hang up every call, remove every registration, close the sockets."""
        for pc in list(self.calls.values()):
            if pc.call.is_active:
                await pc.hangup(timeout)
        for reg in self._regs:
            self.sip.call(lambda now: reg.unregister(now))
            try:
                await self._wait_registration(reg, RegistrationState.UNREGISTERED, timeout)
            except (asyncio.TimeoutError, PhoneError):
                pass
        for pc in self.calls.values():
            if not pc.ended.is_set():
                await pc.rtp.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self.sip.close()
