"""How a :class:`~rvoip_sansio.phone.PhoneCore` reacts to what its user agent and its calls'
media report: phone events out, media keyed, started, redirected, held; calls ended on RTP
inactivity or a failed DTLS handshake."""

from __future__ import annotations

from collections import deque

import attrs

from .._core import Event
from ..callmedia import (CallMediaGroup, Drained, DtlsKeyed, DtlsKeyingFailed, SrtpKeys,
                         dtls_from_answer, dtls_keep_association, keys_from_answer)
from ..dialog import CallState, Registration
from ..dialog import _events as dev
from ..rtp import DtmfReceived as RtpDtmf
from ..rtp import MediaTimeout
from ..sdp import NegotiatedMedia
from ..srtp import CryptoLine
from ..transaction import ConnectionClosed, ConnectionOpened
from . import _events as ev
from ._call import PhoneCall, call_log, info_done, offered_codecs
from ._config import PhoneConfig

__all__ = ["Reactions"]


class Reactions:
    """Mixed into PhoneCore (which owns the state declared here)."""

    config: PhoneConfig
    _events: deque[Event]
    _calls: dict[str, PhoneCall]
    _regs: dict[int, tuple[Registration, str]]
    _reg_ids: dict[int, int]
    _info_calls: dict[int, PhoneCall]
    _group: CallMediaGroup | None
    _grouped: dict[PhoneCall, None]

    def _touch(self, pc: PhoneCall) -> None:  # pragma: no cover - PhoneCore's
        raise NotImplementedError

    def _start_media(self, pc: PhoneCall, now: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def _release(self, pc: PhoneCall) -> None:  # pragma: no cover
        raise NotImplementedError

    def _on_sip(self, e: Event, now: float) -> None:
        if isinstance(e, dev.RegistrationChanged):
            rid = self._reg_ids.get(id(e.registration))
            if rid is not None:
                self._events.append(ev.RegistrationChanged(
                    registration=rid, registrar=self._regs[rid][1], state=e.state,
                    status_code=e.status_code, expires=e.expires))
            return
        if isinstance(e, dev.IncomingCall):
            self._incoming(e, now)
            return
        if isinstance(e, (ConnectionOpened, ConnectionClosed, dev.MessageReceived)):
            self._events.append(e)  # passed on as they are (transport hosts, chat)
            return
        cid = getattr(e, "call_id", None)
        pc = self._calls.get(cid) if isinstance(cid, str) else None
        if pc is not None:
            self._touch(pc)
        else:
            if isinstance(e, dev.RequestCompleted):
                info_done(e.handle, e.status_code, now, self._info_calls)
            return
        if isinstance(e, dev.CallProgress):
            self._progress(pc, e, now)
        elif isinstance(e, dev.CallAnswered):
            self._answered(pc, e, now)
        elif isinstance(e, dev.CallEnded):
            self._ended(pc, e, now)
        elif isinstance(e, (dev.MediaUpdated, dev.CallHeld, dev.CallResumed)):
            self._media_changed(pc, e, now)
        elif isinstance(e, dev.DtmfReceived):
            self._events.append(ev.DtmfReceived(call_id=pc.call_id, digit=e.digit,
                                                duration=e.duration_ms / 1000.0,
                                                method=ev.DtmfMethod.INFO))
        elif isinstance(e, dev.TransferRequested):
            self._events.append(ev.TransferRequested(
                call_id=pc.call_id, target=e.target, replaces=e.replaces,
                auto_follow=self.config.auto_follow_transfers))
        elif isinstance(e, dev.TransferProgress):
            self._events.append(ev.TransferProgress(call_id=pc.call_id,
                                                    status_code=e.status_code, final=e.final))

    def _incoming(self, e: dev.IncomingCall, now: float) -> None:
        trusted = self.config.trusted_sources
        if trusted and e.source[0] not in trusted:
            # An IP-authenticated trunk takes calls from its carrier's addresses only
            # (RFC 3261 §21.4.4 403); the application never sees the call.
            call_log(e.call_id).warning("call %s: refused, untrusted source %s", e.call_id,
                                        e.source[0])
            e.call.reject(now, code=403)
            return
        offer = e.offer
        pc = PhoneCall(call_id=e.call_id, call=e.call, incoming=True,
                       offer=offer)
        self._calls[e.call_id] = pc
        stream = next((m for m in offer.media if m.media == "audio"), None) if offer else None
        srtp_offered = stream is not None and (bool(stream.crypto) or any(
            a.name == "fingerprint" for a in stream.attributes))
        auto = self.config.auto_answer
        pc.log.info("call %s: incoming from %s", e.call_id, e.request.get("from"))
        if not auto and self.config.ring:
            e.call.ring(now)
        self._events.append(ev.IncomingCall(
            call_id=e.call_id, from_header=e.request.get("from") or "",
            to_header=e.request.get("to") or "", headers=tuple(e.request.headers),
            offered_codecs=offered_codecs(offer), source=e.source, auto_answer=auto,
            srtp_offered=srtp_offered,
            replaces=e.replaces.call_id if e.replaces is not None else None))

    def _answered(self, pc: PhoneCall, e: dev.CallAnswered, now: float) -> None:
        if not pc.incoming:
            audio = e.media.audio if e.media is not None else None
            if audio is None or not self._negotiated(pc, audio, now):
                if audio is None:
                    self._fail(pc, "no audio in the answer", now)
                return
        else:
            self._start_media(pc, now)  # an offerless INVITE: the answer came in the ACK
            pc.offer = None  # answered: the parsed offer is not read again
        if pc.media is None:
            self._fail(pc, "no audio in the answer", now)
            return
        pc.answered = True
        # The final answer is in (fork losers get no CallAnswered): our pending SDES/DTLS
        # offer is not read again, and a call keeps its PhoneCall for its whole life.
        pc.sdes = pc.dtls = None
        codec = pc.media.config.rtpmap
        headers = tuple(e.response.headers) if e.response is not None else ()
        self._events.append(ev.CallAnswered(
            call_id=pc.call_id, codec=codec, srtp=pc.keying != "none", keying=pc.keying,
            local_rtp=pc.local_rtp or ("", 0), remote_rtp=pc.media.config.remote_rtp,
            headers=headers))

    def _progress(self, pc: PhoneCall, e: dev.CallProgress, now: float) -> None:
        audio = e.media.audio if e.media is not None else None
        early = False
        if audio is not None and not pc.incoming and pc.call.is_active:
            # RFC 3261 §13.2.1 / RFC 3960: an answer in a 183 starts early media (carrier
            # announcements, ringback); the final answer then keeps or updates it.
            early = self._negotiated(pc, audio, now) and pc.media is not None
        self._events.append(ev.CallProgress(call_id=pc.call_id, status_code=e.status_code,
                                            reason=e.reason, early_media=early))

    def _negotiated(self, pc: PhoneCall, audio: NegotiatedMedia, now: float) -> bool:
        """Caller: key and start (or update) the media from an answer (early or final).
        False when the call is being ended instead."""
        try:
            if pc.sdes is not None:
                keys = keys_from_answer(pc.sdes, audio)
                if keys is not None and keys != pc.keys:
                    pc.keys, pc.keying = keys, "sdes"
                    if pc.media is not None:
                        pc.media.set_srtp(keys)  # the final answer re-keyed (RFC 4568 §7.1.4)
            leg = pc.leg
            if pc.dtls is not None and leg is not None and leg.params is None:
                params = dtls_from_answer(pc.dtls, audio)
                if params is None:
                    pc.leg = None  # a plain answer: no DTLS on this socket
                else:
                    pc.keying = "dtls"
                    self._start_media(pc, now)
                    if pc.media is not None:
                        leg.attach(pc.media)
                    leg.set_params(params, now)
                    local = pc.call.local_media
                    if local is not None and local.media:
                        # RFC 8842 §5: later offers keep the role (no actpass again).
                        pc.call.use_media(attrs.evolve(local, media=(
                            dtls_keep_association(local.media[0], params),)))
        except ValueError as exc:  # SdesError, DtlsSdpError: an answer we cannot use
            self._fail(pc, f"srtp refused: {exc}", now)
            return False
        if self.config.srtp_required and pc.keying == "none":
            self._fail(pc, "srtp refused: the answer has no keys", now)
            return False
        if pc.media is None:
            self._start_media(pc, now)
        else:
            self._apply(pc, audio, True)  # the final answer after early media
        return True

    def _fail(self, pc: PhoneCall, detail: str, now: float) -> None:
        pc.detail = detail
        pc.log.warning("call %s: %s: hanging up", pc.call_id, detail)
        if pc.call.is_active:
            pc.call.hangup(now)

    def _ended(self, pc: PhoneCall, e: dev.CallEnded, now: float) -> None:
        if pc.ended:
            return
        pc.ended = True
        pc.log.info("call %s: ended (%s%s%s)", pc.call_id, e.reason.value,
                    f" {e.status_code}" if e.status_code else "",
                    f", {pc.detail}" if pc.detail else "")
        self._events.append(ev.CallEnded(call_id=pc.call_id, reason=e.reason,
                                         status_code=e.status_code, detail=pc.detail))
        media = pc.media
        if media is not None:
            # RFC 3550 §6.6: the RTCP BYE goes out with the next flush (then DTLS
            # close_notify, RFC 6347, when the leg has one).
            if pc.leg is not None:
                pc.leg.close(now)
            else:
                media.close(now)
            if pc.grouped and self._group is not None:
                self._group.remove(media)
                self._grouped.pop(pc, None)
            pc.releasing = True
        else:
            self._release(pc)

    def _apply(self, pc: PhoneCall, audio: NegotiatedMedia | None, remote_too: bool) -> None:
        media = pc.media
        if audio is not None and media is not None:
            # RFC 3264 §8.4 / §5.1: the negotiated direction decides who sends.
            media.set_direction(send=audio.direction.sends, receive=audio.direction.receives)
            if audio.remote_address and audio.remote_port and remote_too:
                remote = (audio.remote_address, audio.remote_port)
                if remote != pc.remote:
                    pc.remote = remote
                    media.set_remote(remote)

    def _media_changed(self, pc: PhoneCall, e: Event, now: float) -> None:
        session = pc.call.media
        audio = session.audio if session is not None else None
        media = pc.media
        if isinstance(e, dev.MediaUpdated) and audio is not None:
            self._sdes_rekey(pc, audio)
        if isinstance(e, dev.MediaUpdated) and audio is not None and media is not None:
            codec = audio.codec
            if codec is not None and (codec.payload_type != media.config.payload_type or
                                      not media.config.rtpmap.upper().startswith(
                                          f"{codec.name}/{codec.clock_rate}".upper())):
                self._restart_media(pc, now)  # RFC 3264 §8.3.2: a new codec by re-offer
        self._apply(pc, audio, isinstance(e, dev.MediaUpdated))
        if isinstance(e, dev.CallHeld):
            pc.held_by_peer = True
            self._events.append(ev.CallHeld(call_id=pc.call_id, by_peer=True))
        elif isinstance(e, dev.CallResumed):
            pc.held_by_peer = False
            self._events.append(ev.CallResumed(call_id=pc.call_id, by_peer=True))
        elif pc.call.on_hold != pc.holding:
            pc.holding = pc.call.on_hold
            cls = ev.CallHeld if pc.holding else ev.CallResumed
            self._events.append(cls(call_id=pc.call_id, by_peer=False))

    def _sdes_rekey(self, pc: PhoneCall, audio: NegotiatedMedia) -> None:
        """RFC 4568 §7.1.4: a re-offer (or the answer to ours) may carry a new key from the
        peer. Only what we *receive* changes: the call's receive context is replaced (old-key
        packets are then dropped and counted), our send context and its ROC stay."""
        keys = pc.keys
        if pc.keying != "sdes" or keys is None or not audio.remote_crypto:
            return
        for crypto in audio.remote_crypto:
            try:
                line = CryptoLine.parse(str(crypto))
                if line.profile is not keys.rx.profile:
                    continue
                policy = line.policy()
            except ValueError:  # ParseError included: a line we cannot use is skipped
                continue
            if policy.keys != keys.rx.keys:
                pc.keys = SrtpKeys(tx=keys.tx, rx=policy)
                if pc.media is not None:
                    pc.media.rekey_receive(policy)
                pc.log.info("call %s: peer's new SDES key, receive side re-keyed", pc.call_id)
            return

    def _restart_media(self, pc: PhoneCall, now: float) -> None:
        """A new CallMedia for a new codec (same socket, same keys, a new SSRC)."""
        old = pc.media
        if old is None:
            return
        if pc.grouped and self._group is not None:
            self._group.remove(old)
            self._grouped.pop(pc, None)
            pc.grouped = False
        pc.media = None
        pc.remote = None
        self._start_media(pc, now)
        if pc.leg is not None and pc.media is not None:
            pc.leg.attach(pc.media)
        pc.log.info("call %s: codec changed by re-offer", pc.call_id)

    def _on_media(self, pc: PhoneCall, m: Event, now: float) -> None:
        if isinstance(m, Drained):
            self._events.append(ev.AudioDrained(call_id=pc.call_id, mark=m.mark,
                                                cleared=m.cleared, time=m.time))
        elif isinstance(m, RtpDtmf):
            if m.digit is not None:
                self._events.append(ev.DtmfReceived(call_id=pc.call_id, digit=m.digit,
                                                    duration=m.duration_s,
                                                    method=ev.DtmfMethod.RFC4733))
        else:
            self._events.append(ev.MediaEvent(call_id=pc.call_id, event=m))
            if isinstance(m, MediaTimeout):
                self._rtp_timeout(pc, m, now)
            elif isinstance(m, DtlsKeyingFailed):
                # RFC 5763 §6.7.1: a certificate that does not match the fingerprint (or no
                # handshake at all) must not carry media: end the call.
                self._fail(pc, f"dtls failed: {m.kind.value}", now)
            elif isinstance(m, DtlsKeyed):
                pc.log.info("call %s: DTLS-SRTP keyed (%s)", pc.call_id, m.profile.value)

    def _rtp_timeout(self, pc: PhoneCall, m: MediaTimeout, now: float) -> None:
        # Issue 10 §2: a dead call (no RTP for rtp_timeout) is ended with BYE. Not while on
        # hold either way: a held peer legitimately sends nothing (RFC 3264 §8.4).
        if pc.call.state is not CallState.CONFIRMED or pc.holding or pc.held_by_peer:
            return
        if pc.media is not None and not pc.media.receiving:
            return
        self._fail(pc, "rtp timeout", now)
