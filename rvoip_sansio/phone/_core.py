"""PhoneCore: a whole softphone / trunk endpoint as one pure state machine.

One object, one clock, one deadline: the :class:`~rvoip_sansio.dialog.UserAgent` (SIP face)
and every call's :class:`~rvoip_sansio.callmedia.CallMedia` (media face), with the keying
between them (SDES, RFC 4568; DTLS-SRTP, RFC 5763/5764, through ``DtlsMediaLeg``). The adapter binds the sockets (one SIP transport, one RTP
socket per call), feeds both faces, sends what both give back, keeps one timer at
``next_deadline()`` and hands ``next_event()`` to the application. See docs/phone.md.
"""

from __future__ import annotations

import heapq
import logging
import secrets
from collections import deque
from collections.abc import Iterable

import attrs

from .._core import Address, Event, LocalProtocolError, RandomSource, Transmit
from ..callmedia import (CallMedia, CallMediaConfig, CallMediaGroup, DtlsMediaLeg,
                         dtls_keep_association)
from ..dialog import Call, CallState, Registration, RegistrationState, UAConfig, UserAgent
from ..dialog._forward import UAForwarding
from ..sdp import Codec, LocalCapabilities, MediaCapabilities
from ..sip import HeaderValue
from ..sip.auth import Credentials, DigestServer
from ..srtp import DtlsCertificate
from ..transaction import EndpointConfig
from . import _events as ev
from ._audio import AudioVerbs
from ._react import Reactions
from ._call import Answer, Offer, PhoneCall, Refused, answer_caps, next_info, offer_caps
from ._config import PhoneConfig, SrtpMode

__all__ = ["PhoneCore"]

log = logging.getLogger("rvoip_sansio.phone")
Headers = Iterable[tuple[str, HeaderValue]]
_DTMF = frozenset("0123456789*#ABCD")


def _dtls_offer(pc: PhoneCall) -> bool:
    stream = next((m for m in pc.offer.media if m.media == "audio"), None) if pc.offer else None
    return stream is not None and stream.proto.upper().startswith("UDP/TLS/")


def _state(call: Call) -> CallState:
    return call.state  # read again after a verb (mypy narrows the attribute otherwise)


class PhoneCore(UAForwarding, AudioVerbs, Reactions):
    """The pure phone (see module docs). ``rng`` drives SIP tags, branches, SSRCs;
    ``key_rng`` makes SRTP keys (default ``secrets.SystemRandom()``: pass a seeded
    ``random.Random`` in tests only). ``auth`` challenges incoming INVITEs (digest)."""

    def __init__(self, *, config: PhoneConfig, rng: RandomSource,
                 key_rng: RandomSource | None = None, auth: DigestServer | None = None,
                 certificate: DtlsCertificate | None = None) -> None:
        self.config = config
        #: DTLS-SRTP certificate (its fingerprint goes into SDP); made on first need.
        self.certificate = certificate
        self.rng = rng
        self.key_rng: RandomSource = key_rng if key_rng is not None else secrets.SystemRandom()
        transport = config.transport.upper()
        placeholder = LocalCapabilities(  # per-call capabilities replace it on every call
            address=config.local[0],
            media=(MediaCapabilities(codecs=config.codecs, port=9, rtcp_mux=True),))
        self.ua = UserAgent(config=UAConfig(
            local=config.local, user=config.user, display_name=config.display_name,
            aor=config.aor, contact_address=config.contact_address, media=placeholder,
            credentials=config.credentials, outbound_proxy=config.outbound_proxy,
            user_agent=config.user_agent, max_calls=config.max_calls, prack=config.prack,
            session_expires=config.session_expires, follow_transfers=False,
            instance_id=config.instance_id,
            endpoint=EndpointConfig(transport=transport, reliable=transport != "UDP"),
        ), rng=rng, auth=auth)
        self._calls: dict[str, PhoneCall] = {}
        self._by_local: dict[Address, PhoneCall] = {}
        self._regs: dict[int, tuple[Registration, str]] = {}
        self._info_calls: dict[int, PhoneCall] = {}  # INFO handle -> call
        self._reg_ids: dict[int, int] = {}  # id(Registration) -> handle
        self._next_reg = 0
        self._events: deque[Event] = deque()
        self._group: CallMediaGroup | None = None
        self._grouped: dict[PhoneCall, None] = {}  # calls on the group's clock
        #: Calls whose media changed since the last _process / media_datagrams_to_send
        #: (dicts as ordered sets: deterministic order), and per-call timers (lazy heap).
        self._touched: dict[PhoneCall, None] = {}
        self._sending: dict[PhoneCall, None] = {}
        self._timers: list[tuple[float, int, PhoneCall]] = []
        self._seq = 0
        self._now = 0.0
        self.draining = False
        self._drained_sent = False
        #: Datagrams that arrived on an RTP socket with no media yet (before the answer).
        self.media_dropped = 0

    # ================================================================ SIP face
    # receive, datagrams_to_send (SIP only), transport_error and the connection-oriented
    # calls come from UAForwarding (rvoip_sansio/dialog/_forward.py).

    # ================================================================ media face
    def media_receive(self, local: Address, data: bytes, source: Address, now: float) -> None:
        """A datagram on the RTP socket bound at ``local`` (a batch of one)."""
        self.media_receive_many(((local, data, source),), now)

    def media_receive_many(self, datagrams: Iterable[tuple[Address, bytes, Address]], now: float) -> None:
        """A batch of ``(local, data, source)`` datagrams read in one wake-up (each as
        :meth:`media_receive`), their events and timers processed once after the lot."""
        by_local, touched = self._by_local, self._touched
        dropped = 0
        for local, data, source in datagrams:
            pc = by_local.get(local)
            if pc is None or pc.releasing:
                dropped += 1
                continue
            # PhoneCall.socket, inlined: this loop runs once per RTP packet.
            sock: DtlsMediaLeg | CallMedia | None = pc.leg
            if sock is None:
                sock = pc.media
                if sock is None:
                    dropped += 1
                    continue
            sock.receive(data, source, now)
            touched[pc] = None
        if dropped:
            self.media_dropped += dropped
        if touched:
            self._process(now)

    def media_datagrams_to_send(self, now: float) -> list[tuple[Address, Transmit]]:
        """``(local RTP socket, datagram)`` pairs to send. Once a finished call's last datagram
        (its RTCP BYE) is out, ``MediaSocketReleased`` is queued for that socket."""
        if self._touched:
            self._process(now)
        out: list[tuple[Address, Transmit]] = []
        # Only sockets touched since the last call can have something to send (an input, a
        # timer, a verb): a packet on one call costs nothing for the others.
        pending = self._sending
        if not pending:
            return out
        self._sending = {}
        append = out.append
        for pc in pending:
            local = pc.local_rtp
            sock = pc.leg if pc.leg is not None else pc.media
            if sock is not None and local is not None:
                for t in sock.datagrams_to_send(now):
                    append((local, t))
            if pc.releasing:
                self._release(pc)
        return out

    def media_transport_error(self, local: Address, dest: Address, now: float) -> None:
        """A send from ``local`` to ``dest`` was refused (ICMP unreachable...)."""
        pc = self._by_local.get(local)
        sock = pc.socket if pc is not None else None
        if pc is not None and sock is not None:
            sock.transport_error(dest, now)
            self._touch(pc)
            self._process(now)

    # ================================================================ shared
    def next_event(self) -> Event | None:
        if self._touched:  # the application used a call's media directly (mark, write...)
            self._process(self._now)
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        best = self.ua.next_deadline()
        if self._group is not None:
            g = self._group.next_deadline()
            if g is not None and (best is None or g < best):
                best = g
        heap = self._timers
        while heap and (heap[0][2].deadline != heap[0][0] or heap[0][2].releasing):
            heapq.heappop(heap)  # stale: that call's deadline moved since
        if heap and (best is None or heap[0][0] < best):
            best = heap[0][0]
        return best

    def handle_timeout(self, now: float) -> None:
        self._now = now
        self.ua.handle_timeout(now)
        group = self._group
        if group is not None:
            g = group.next_deadline()
            if g is not None and g <= now:
                group.handle_timeout(now)  # every grouped call's media tick
                self._touched.update(self._grouped)  # each of them touched (values are None)
        heap = self._timers
        while heap and heap[0][0] <= now:
            d, _, pc = heapq.heappop(heap)
            sock = pc.socket
            if pc.deadline == d and sock is not None and not pc.releasing:
                pc.deadline = None
                sock.handle_timeout(now)  # RTCP, DTMF, DTLS retransmission, own ticks
                self._touch(pc)
        self._process(now)

    # ================================================================ registration
    def register(self, registrar: str, now: float, *, credentials: Credentials | None = None,
                 expires: int = 600, aor: str | None = None) -> int:
        """Register at ``registrar`` (a SIP URI), kept refreshed; returns the registration's
        handle (``RegistrationChanged.registration``)."""
        reg = self.ua.register(registrar, now, expires=expires, aor=aor, credentials=credentials)
        self._next_reg += 1
        self._regs[self._next_reg] = (reg, registrar)
        self._reg_ids[id(reg)] = self._next_reg
        self._process(now)
        return self._next_reg

    def unregister(self, registration: int, now: float) -> None:
        if registration not in self._regs:
            raise LocalProtocolError(f"phone: no registration {registration}")
        reg, _ = self._regs[registration]
        reg.unregister(now)
        self._process(now)

    # ================================================================ calls
    @property
    def calls(self) -> list[str]:
        """Ids of the calls not ended yet."""
        return [cid for cid, pc in self._calls.items() if not pc.ended]

    def call_state(self, call_id: str) -> CallState:
        return self._pc(call_id).call.state

    def _pc(self, call_id: str) -> PhoneCall:
        pc = self._calls.get(call_id)
        if pc is None:
            raise LocalProtocolError(f"phone: no call {call_id!r}")
        self._touch(pc)  # a verb may change its media: events, datagrams, deadline
        return pc

    def _bind(self, pc: PhoneCall, rtp: Address) -> None:
        if rtp in self._by_local:
            raise LocalProtocolError(f"phone: RTP socket {rtp} is already used by a call")
        pc.local_rtp = rtp
        self._by_local[rtp] = pc
        self._touch(pc)

    def call(self, target: str, now: float, *, rtp: Address, headers: Headers = (),
             expires: int | None = None) -> str:
        """Call ``target`` (a SIP URI) with media on the RTP socket bound at ``rtp``;
        ``headers`` go into the INVITE. Returns the call id."""
        if self.draining:
            raise LocalProtocolError("phone: draining, no new calls")
        if rtp in self._by_local:
            raise LocalProtocolError(f"phone: RTP socket {rtp} is already used by a call")
        offer = self._offer(rtp)
        c = self.ua.invite(target, now, media=offer.caps, headers=tuple(headers), expires=expires)
        pc = self._outgoing(c, offer, rtp)
        pc.log.info("call %s: calling %s (rtp %s:%d)", c.call_id, target, *rtp)
        self._process(now)
        return c.call_id

    def ring(self, call_id: str, now: float, *, rtp: Address | None = None,
             headers: Headers = ()) -> None:
        """180 Ringing; or, with ``rtp``, 183 Session Progress carrying our SDP answer, the
        media running from now (early media, RFC 3960: an announcement or a prompt before
        answering). ``answer`` later needs no ``rtp`` then."""
        pc = self._incoming_pc(call_id, "rung")
        if rtp is None:
            pc.call.ring(now, headers=tuple(headers))
        else:
            ans = self._accept(pc, rtp, now)
            if ans is not None:
                call: Call = pc.call
                call.ring(now, code=183, early_media=True, media=ans.caps, headers=tuple(headers))
                if _state(call) is CallState.EARLY:
                    self._media_up(pc, ans, now)
                    pc.log.info("call %s: early media (rtp %s:%d)", call_id, *rtp)
                else:
                    pc.detail = pc.detail or "no common codec"
        self._process(now)

    def answer(self, call_id: str, now: float, *, rtp: Address | None = None,
               headers: Headers = ()) -> None:
        """Answer an incoming call (200 OK; ``headers`` go into it) with media on ``rtp``
        (not needed after ``ring(..., rtp=...)``: the early media goes on). An offer our SRTP
        policy cannot meet is answered 488 instead (``CallEnded`` follows)."""
        pc = self._incoming_pc(call_id, "answered")
        call: Call = pc.call
        if pc.media is not None or pc.leg is not None:  # early media: same SDP, same media
            call.answer(now, headers=tuple(headers))
            params = pc.leg.params if pc.leg is not None else None
            if params is not None and _state(call) is CallState.ANSWERED:
                local = call.local_media
                if local is not None and local.media:
                    call.use_media(attrs.evolve(local, media=(
                        dtls_keep_association(local.media[0], params),)))
            self._process(now)
            return
        if rtp is None:
            raise LocalProtocolError(f"phone: call {call_id}: answer needs an RTP socket (rtp=)")
        ans = self._accept(pc, rtp, now)
        if ans is None:
            self._process(now)
            return
        call.answer(now, media=ans.caps, headers=tuple(headers))
        if _state(call) is CallState.ANSWERED:
            self._media_up(pc, ans, now)
            if ans.dtls is not None:
                # RFC 8842 §5: later offers/answers keep the negotiated role (no actpass).
                call.use_media(attrs.evolve(ans.caps, media=(
                    dtls_keep_association(ans.caps.media[0], ans.dtls),)))
            pc.log.info("call %s: answered (rtp %s:%d)", call_id, *rtp)
        else:
            pc.detail = pc.detail or "no common codec"
        self._process(now)

    def _incoming_pc(self, call_id: str, verb: str) -> PhoneCall:
        pc = self._pc(call_id)
        if not pc.incoming or pc.call.state not in (CallState.INCOMING, CallState.EARLY):
            raise LocalProtocolError(f"phone: call {call_id} cannot be {verb} "
                                     f"({pc.call.state.value})")
        return pc

    def _accept(self, pc: PhoneCall, rtp: Address, now: float) -> Answer | None:
        """Bind ``rtp`` and make our answer's capabilities; None: refused with 488."""
        self._bind(pc, rtp)
        try:
            return answer_caps(self.config, rtp, pc.offer, rng=self.key_rng,
                               certificate=self._certificate() if _dtls_offer(pc) else None)
        except Refused as exc:
            pc.detail = str(exc)
            pc.log.warning("call %s refused: %s", pc.call_id, exc)
            pc.call.reject(now, code=488)
            return None

    def _media_up(self, pc: PhoneCall, ans: Answer, now: float) -> None:
        pc.keys = ans.keys
        pc.keying = "dtls" if ans.dtls is not None else "sdes" if ans.keys is not None else "none"
        self._start_media(pc, now)
        if ans.dtls is not None:
            pc.leg = DtlsMediaLeg(certificate=self._certificate(), media=pc.media,
                                  params=ans.dtls, now=now, call_id=pc.call_id)

    def reject(self, call_id: str, now: float, code: int = 486, *, reason: str | None = None,
               headers: Headers = ()) -> None:
        """Refuse an incoming call with a final response ``code`` (``headers`` go into it)."""
        self._pc(call_id).call.reject(now, code=code, reason=reason, headers=tuple(headers))
        self._process(now)

    def hangup(self, call_id: str, now: float, *, headers: Headers = ()) -> None:
        """End the call whatever its state (CANCEL, 603 or BYE); a no-op for a call that
        already ended (even once forgotten: hang-ups race with the peer's)."""
        if call_id not in self._calls:
            return
        pc = self._pc(call_id)
        if pc.call.is_active:
            pc.call.hangup(now, headers=tuple(headers))
        self._process(now)

    def hold(self, call_id: str, now: float) -> None:
        """Put the peer on hold (re-INVITE ``sendonly``, RFC 3264 §8.4); when it is accepted
        ``CallHeld(by_peer=False)`` and the media stops receiving."""
        self._pc(call_id).call.hold(now)
        self._process(now)

    def resume(self, call_id: str, now: float) -> None:
        """Take the peer off hold (re-INVITE ``sendrecv``); ``CallResumed(by_peer=False)``."""
        self._pc(call_id).call.resume(now)
        self._process(now)

    def set_codecs(self, call_id: str, codecs: Iterable[Codec], now: float) -> None:
        """Re-offer the call with ``codecs`` (re-INVITE, RFC 3264 §8.3.2), e.g. G.711 only;
        when the answer agrees on another codec the call's media is rebuilt for it (same
        socket and keys, a new SSRC). A peer's re-offer with a new codec does the same."""
        pc = self._pc(call_id)
        local = pc.call.local_media
        wanted = tuple(codecs)
        if local is None or not local.media or not wanted:
            raise LocalProtocolError(f"phone: call {call_id} has no media to re-offer")
        audio = attrs.evolve(local.media[0], codecs=wanted)
        pc.call.reinvite(now, media=attrs.evolve(local, media=(audio, *local.media[1:])))
        self._process(now)

    def transfer(self, call_id: str, target: str, now: float) -> None:
        """Transfer the peer: ``target`` is a SIP URI (blind, REFER, RFC 3515) or the id of
        another established call of ours (attended: REFER with Replaces, RFC 3891).
        ``TransferProgress`` reports the transferee's NOTIFYs; the call itself ends as usual
        (hang it up when the transfer succeeded, or let the peer do it)."""
        pc = self._pc(call_id)
        other = self._calls.get(target)
        pc.call.transfer(other.call if other is not None else target, now)
        pc.log.info("call %s: transfer to %s", call_id, target)
        self._process(now)

    def follow_transfer(self, call_id: str, now: float, *, rtp: Address,
                        headers: Headers = ()) -> str:
        """Transferee: call the target the peer's REFER named (``TransferRequested``), with
        media on the new RTP socket ``rtp``; the transferor hears how it went (NOTIFY).
        Returns the new call's id."""
        pc = self._pc(call_id)
        if rtp in self._by_local:
            raise LocalProtocolError(f"phone: RTP socket {rtp} is already used by a call")
        offer = self._offer(rtp)
        new = pc.call.follow_transfer(now, media=offer.caps)
        npc = self._outgoing(new, offer, rtp)
        npc.log.info("call %s: following the transfer of call %s", new.call_id, call_id)
        self._process(now)
        return new.call_id

    def send_dtmf(self, call_id: str, digits: str, now: float, *, method: str | ev.DtmfMethod = "auto",
                  duration: float = 0.1) -> None:
        """Send DTMF ``digits`` (0-9 * # A-D): ``"rfc4733"`` as telephone events in the RTP
        stream (they replace audio while they last), ``"info"`` as SIP INFO
        ``application/dtmf-relay`` (one INFO at a time, in order), ``"auto"`` RFC 4733 when
        the peer agreed to telephone-event, else INFO."""
        pc = self._pc(call_id)
        digits = digits.upper()
        if not digits or any(d not in _DTMF for d in digits):
            raise LocalProtocolError(f"phone: {digits!r} are not DTMF digits")
        how = method.value if isinstance(method, ev.DtmfMethod) else method
        if how == "auto":
            te = pc.media is not None and pc.media.config.telephone_event_pt is not None
            how = "rfc4733" if te else "info"
        if how == "rfc4733":
            media = self._media(call_id)
            if media.config.telephone_event_pt is None:
                raise LocalProtocolError(f"phone: call {call_id}: the peer did not agree to "
                                         "telephone-event (RFC 4733); use method='info'")
            media.send_dtmf(digits, now, duration=duration)
        elif how == "info":
            if pc.call.state is not CallState.CONFIRMED:
                raise LocalProtocolError(f"phone: call {call_id} is not established")
            pc.info_queue += tuple((d, round(duration * 1000)) for d in digits)
            next_info(pc, now, self._info_calls)
        else:
            raise LocalProtocolError(f"phone: unknown DTMF method {how!r}")
        self._process(now)

    def drain(self, now: float) -> None:
        """Refuse new calls (503, and ``call`` raises) and let running ones finish;
        ``PhoneDrained`` when the last one has ended."""
        self.draining = True
        self.ua.drain()
        self._check_drained()

    def close(self, now: float) -> None:
        """Hang up every call and remove every registration (then wait for the events and
        the datagrams to go out before closing the sockets)."""
        self.draining = True
        self.ua.drain()
        for pc in list(self._calls.values()):
            if pc.call.is_active:
                pc.detail = pc.detail or "closing"
                pc.call.hangup(now)
        for reg, _ in self._regs.values():
            if reg.state in (RegistrationState.REGISTERING, RegistrationState.REGISTERED):
                reg.unregister(now)
        self._process(now)

    # ================================================================ audio
    def media(self, call_id: str) -> CallMedia | None:
        """The call's ``CallMedia`` (None before the answer and after the end)."""
        pc = self._pc(call_id)
        return None if pc.releasing or pc.ended else pc.media

    # ================================================================ internals
    def _certificate(self) -> DtlsCertificate:
        if self.certificate is None:
            self.certificate = DtlsCertificate.generate(rng=self.key_rng)
        return self.certificate

    def _offer(self, rtp: Address) -> Offer:
        if rtp in self._by_local:
            raise LocalProtocolError(f"phone: RTP socket {rtp} is already used by a call")
        cert = self._certificate() if self.config.srtp is SrtpMode.DTLS else None
        return offer_caps(self.config, rtp, rng=self.key_rng, certificate=cert)

    def _outgoing(self, c: Call, offer: Offer, rtp: Address) -> PhoneCall:
        pc = PhoneCall(call_id=c.call_id, call=c, incoming=False,
                       sdes=offer.sdes, dtls=offer.dtls)
        if offer.dtls is not None:
            # RFC 5763 §5: the answerer's ClientHello may beat the 200 OK: the leg listens
            # from now on (it keeps early DTLS until it knows its role).
            pc.leg = DtlsMediaLeg(certificate=self._certificate(), call_id=c.call_id)
        self._calls[c.call_id] = pc
        self._bind(pc, rtp)
        return pc

    def _start_media(self, pc: PhoneCall, now: float) -> None:
        session = pc.call.media
        audio = session.audio if session is not None else None
        if audio is None or pc.media is not None or pc.local_rtp is None:
            return
        c = self.config
        cfg = CallMediaConfig.from_negotiated(
            audio, srtp=pc.keys, rate=c.rate, frame_ms=c.frame_ms,
            receive_queue_frames=c.receive_queue_frames, send_queue_frames=c.send_queue_frames,
            send_policy=c.send_policy, idle=c.idle, vad=c.vad,
            inactivity_timeout=c.rtp_timeout)
        media = CallMedia(config=cfg, rng=self.rng, now=now)
        if c.media_group and abs(cfg.ptime - 0.02) < 1e-9:
            if self._group is None or len(self._group) == 0:
                self._group = CallMediaGroup(now=now)
            self._group.add(media)
            pc.grouped = True
            self._grouped[pc] = None
        pc.media = media
        pc.remote = cfg.remote_rtp
        pc.log.info("call %s: media %s pt %d to %s, srtp %s", pc.call_id, cfg.rtpmap,
                    cfg.payload_type, cfg.remote_rtp, "on" if pc.keys else "off")

    def _release(self, pc: PhoneCall) -> None:
        local = pc.local_rtp
        self._grouped.pop(pc, None)
        pc.deadline = None
        if local is not None and self._by_local.get(local) is pc:
            del self._by_local[local]
            self._events.append(ev.MediaSocketReleased(call_id=pc.call_id, local=local))
        pc.releasing = False
        pc.media = None
        pc.leg = None
        if self._calls.get(pc.call_id) is pc:
            del self._calls[pc.call_id]
        self._check_drained()

    def _check_drained(self) -> None:
        if self.draining and not self._drained_sent and not self._calls:
            self._drained_sent = True
            self._events.append(ev.PhoneDrained())

    def _touch(self, pc: PhoneCall) -> None:
        self._touched[pc] = None

    def _process(self, now: float) -> None:
        """Turn dialog and media events into phone events (and act on some); re-arm the
        timers of the calls touched and queue them for ``media_datagrams_to_send``."""
        self._now = now
        for _ in range(1000):
            busy = False
            while (e := self.ua.next_event()) is not None:
                busy = True
                self._on_sip(e, now)
            touched = self._touched
            if touched:
                busy = True
                self._touched = {}
                sending = self._sending
                for pc in touched:
                    sending[pc] = None
                    sock = pc.leg if pc.leg is not None else pc.media  # PhoneCall.socket
                    if sock is None:
                        continue
                    while (m := sock.next_event()) is not None:
                        self._on_media(pc, m, now)
                    d = None if pc.releasing else sock.next_deadline()
                    if d != pc.deadline:
                        pc.deadline = d
                        if d is not None:
                            self._seq += 1
                            heapq.heappush(self._timers, (d, self._seq, pc))
            if not busy:
                return
