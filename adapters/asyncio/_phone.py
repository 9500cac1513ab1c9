"""A softphone / trunk endpoint on asyncio: ``phone = await Phone.open(user, local)`` or
``async with Phone.open(user, local) as phone:``.

A thin host over the pure :class:`rvoip_sansio.phone.PhoneCore` (registration, calls, SDP,
SRTP keying, every call's media on one clock): :class:`~._host.PhoneHost` runs the core's SIP
face on the SIP transports (UDP, TCP, TLS, WS, WSS) and its media face on one UDP socket per
call (from ``rtp_ports`` when given), pumps both after every input and keeps one timer. This
module turns verbs into core calls with ``loop.time()`` and core events into awaitables.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import secrets
import ssl
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from rvoip_sansio import Address, Event, LocalProtocolError
from rvoip_sansio.callmedia import CallMedia, MediaReport, SrtpKeys
from rvoip_sansio.dialog import RegistrationState
from rvoip_sansio.phone import CallView, PhoneConfig, PhoneCore, SrtpMode
from rvoip_sansio.phone import _events as pe
from rvoip_sansio.sdp import G722, PCMA, PCMU, Codec
from rvoip_sansio.sip.auth import Credentials

from ._audio import CallAudio
from ._host import PhoneHost, free_port
from ._media import TraceHook

__all__ = ["Phone", "PhoneCall", "PhoneError", "open_phone"]

log = logging.getLogger("rvoip_sansio.adapters.asyncio")

T = TypeVar("T")
E = TypeVar("E", bound=Event)
#: Events kept per call (and incoming calls kept for the phone); beyond it the oldest go.
EVENTS_KEPT = 1000
_SECURE = ("TLS", "WSS")


class PhoneError(Exception):
    """A registration or call did not succeed (the message says what happened)."""


async def _until(host: PhoneHost, ready: Callable[[], bool], timeout: float | None) -> bool:
    """Wait until ``ready()``, a condition that only events change; False on timeout."""
    try:
        await asyncio.wait_for(host.wait(ready, media=False), timeout)
    except asyncio.TimeoutError:
        return ready()
    return ready()


class PhoneCall(CallView):
    """One call of a :class:`Phone` (from :meth:`Phone.call`, :meth:`Phone.dial`,
    :meth:`Phone.accept` / :meth:`Phone.incoming`, or a followed transfer).

    ``audio`` is its :class:`~._audio.CallAudio`; ``async for event in call.events()`` gives
    its events (``DtmfReceived``, ``CallHeld``/``CallResumed``, ``TransferRequested`` /
    ``TransferProgress``, ``MediaEvent``, ``CallEnded`` last) in order.
    """

    def __init__(self, phone: Phone, call_id: str, rtp: Address | None,
                 incoming: pe.IncomingCall | None = None) -> None:
        self.phone = phone
        self.call_id = call_id
        self.rtp = rtp  # our RTP socket's address (None until bound, callee side)
        #: The IncomingCall event (From, To, every INVITE header incl. X-*/PAI, offered codecs).
        self.incoming = incoming
        self.audio = CallAudio(self, rate=phone.config.rate, frame_ms=phone.config.frame_ms)
        self.answered: pe.CallAnswered | None = None
        self.end: pe.CallEnded | None = None
        self.keys: SrtpKeys | None = None  # SDES keys in use (None: plain RTP or DTLS-SRTP)
        self.held = False  # we hold the peer
        self.held_by_peer = False
        #: The call this one's transfer created (transferee side, when followed).
        self.transferred_to: PhoneCall | None = None
        self.drained_marks: set[int] = set()
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)

    def __repr__(self) -> str:
        return f"<PhoneCall {self.call_id} {self.state}>"

    # ---- what CallAudio needs -----------------------------------------------------------

    def media(self) -> CallMedia | None:
        return self.media_in(self.phone.core)

    def act(self, action: Callable[[float], T]) -> T:
        return self.phone.host.call(action)

    def act_soon(self, action: Callable[[float], T]) -> T:
        return self.phone.host.call_soon(action)

    async def wait(self, ready: Callable[[], bool]) -> None:
        await self.phone.host.wait(ready)

    # ---- events -------------------------------------------------------------------------

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The call's next event, waiting up to ``timeout`` (None: until one comes); None on
        timeout or once none is left after the end."""
        await _until(self.phone.host, lambda: bool(self._events) or self.ended, timeout)
        return self._events.popleft() if self._events else None

    async def events(self) -> AsyncIterator[Event]:
        """``async for event in call.events()``: every event until the last after the end."""
        while (event := await self.next_event()) is not None:
            yield event

    async def wait_for(self, kind: type[E], timeout: float | None = None) -> E | None:
        """Skip events until one of ``kind`` (the others are dropped); None on timeout/end."""
        loop = asyncio.get_running_loop()
        until = None if timeout is None else loop.time() + timeout
        while True:
            left = None if until is None else until - loop.time()
            if left is not None and left <= 0:
                return None
            event = await self.next_event(left)
            if event is None:
                return None
            if isinstance(event, kind):
                return event

    async def wait_answered(self, timeout: float | None = None) -> pe.CallAnswered:
        """Wait until the call is up; :class:`PhoneError` if it ends first or on timeout."""
        await _until(self.phone.host, lambda: self.answered is not None or self.ended, timeout)
        if self.answered is None:
            raise PhoneError(f"call {self.call_id}: not answered ({self._why(timeout)})")
        return self.answered

    async def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait until the call has ended; False on timeout."""
        return await _until(self.phone.host, lambda: self.ended, timeout)

    # ---- verbs --------------------------------------------------------------------------

    async def answer(self, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 5.0) -> None:
        """Answer an incoming call (not needed with ``auto_answer``); waits until it is up
        (ACK received). :class:`PhoneError` when it fails (e.g. 488: our SRTP policy)."""
        if self.rtp is None:
            self.rtp = self.phone.host.bind_rtp()
        rtp = self.rtp
        self.act(lambda now: self.phone.core.answer(self.call_id, now, rtp=rtp, headers=list(headers)))
        await self.wait_answered(timeout)

    def reject(self, code: int = 486, *, headers: Sequence[tuple[str, str]] = ()) -> None:
        """Refuse an incoming call with a final response ``code``."""
        self.act(lambda now: self.phone.core.reject(self.call_id, now, code, headers=list(headers)))

    async def hangup(self, timeout: float = 5.0) -> bool:
        """End the call (BYE, or CANCEL before the answer); True once it has ended."""
        if not self.ended:
            self.act(lambda now: self.phone.core.hangup(self.call_id, now))
        return await self.wait_ended(timeout)

    async def hold(self, timeout: float = 5.0) -> bool:
        """Put the peer on hold (re-INVITE ``a=sendonly``); True once the hold is accepted."""
        self.act(lambda now: self.phone.core.hold(self.call_id, now))
        return await _until(self.phone.host, lambda: self.held or self.ended, timeout) and self.held

    async def resume(self, timeout: float = 5.0) -> bool:
        """Take the peer off hold; True once the re-INVITE is accepted."""
        self.act(lambda now: self.phone.core.resume(self.call_id, now))
        return await _until(self.phone.host, lambda: not self.held or self.ended, timeout) and not self.held

    def transfer(self, target: str | PhoneCall) -> None:
        """Blind transfer (REFER) of the peer to ``target`` (a URI), or attended to another of
        our calls; ``TransferProgress`` events follow (``final`` with the outcome)."""
        to = target.call_id if isinstance(target, PhoneCall) else target
        self.act(lambda now: self.phone.core.transfer(self.call_id, to, now))

    def send_dtmf(self, digits: str, *, method: str = "rfc4733") -> None:
        """Send ``digits`` (0-9 * # A-D) as RFC 4733 telephone events or by SIP INFO."""
        how = pe.DtmfMethod(method)
        self.act(lambda now: self.phone.core.send_dtmf(self.call_id, digits, now, method=how))

    def quality(self) -> MediaReport | None:
        """Health (queues, drops, concealment) and quality (loss, jitter, RTT, MOS); None
        without media."""
        def report(now: float) -> MediaReport | None:
            media = self.media()
            return media.report(now) if media is not None else None
        return self.act(report)

    # ---- internals ----------------------------------------------------------------------

    def _why(self, timeout: float | None) -> str:
        end = self.end
        if end is None:
            return f"no answer within {timeout:g} s" if timeout is not None else "not answered"
        status = f" ({end.status_code})" if end.status_code else ""
        detail = f", {end.detail}" if end.detail else ""
        return f"{end.reason.value}{status}{detail}"

    def _deliver(self, event: Event) -> None:
        if not self.note(event):
            return
        if isinstance(event, pe.CallAnswered):
            media = self.media()
            self.keys = media.config.srtp if media is not None else None
            self.rtp = event.local_rtp
        self._events.append(event)


class Phone:
    """A SIP phone / trunk endpoint on asyncio; made by :meth:`open`."""

    def __init__(self, core: PhoneCore, host_factory: Callable[[Phone], PhoneHost]) -> None:
        self.core = core
        self.config = core.config
        #: The calls not finished yet (a call leaves once its RTP socket is released).
        self.calls: dict[str, PhoneCall] = {}
        self.host = host_factory(self)
        self.drained = False
        self._incoming: collections.deque[PhoneCall] = collections.deque(maxlen=EVENTS_KEPT)
        self._registrations: dict[int, pe.RegistrationChanged] = {}
        self._closing = False

    @staticmethod
    def open(user: str, local: Address, *, transport: str = "udp",
             codecs: Sequence[Codec] = (G722, PCMU, PCMA), srtp: bool | str | SrtpMode = True,
             rate: int = 16000, frame_ms: float = 20.0,
             rtp_ports: tuple[int, int] | None = None, server_ssl: ssl.SSLContext | None = None,
             client_ssl: ssl.SSLContext | None = None, trace: TraceHook | None = None,
             media_trace: TraceHook | None = None, rng: random.Random | None = None,
             **config: Any) -> _Opening:
        """Open a phone for ``user`` with its SIP listener on ``local`` (``transport`` udp,
        tcp, tls, ws or wss; port 0 picks a free one). TLS and WSS listen with ``server_ssl``, our
        certificate; without it the phone is a client only (no listener: requests come back
        over its own connections, set ``instance_id`` for RFC 5626). ``phone = await Phone.open(...)`` or ``async with Phone.open(...) as
        phone:`` (leaving the block, cancellation or Ctrl-C closes it cleanly).

        ``srtp``: True / ``"sdes"`` (SDES, optional), False / ``"none"``, ``"dtls"``, or a
        :class:`~rvoip_sansio.phone.SrtpMode`; other ``PhoneConfig`` fields by keyword
        (``auto_answer``: incoming calls answered at once, default False: they ring until
        ``await call.answer()``; ``srtp_required``, ``credentials``, ``outbound_proxy``,
        ``max_calls``, ``rtp_timeout``, ``receive_queue_frames``, ``send_policy``, ``vad``...).
        ``rtp_ports=(low, high)``: the range the per-call RTP sockets are bound in.
        ``client_ssl`` verifies the TLS/WSS servers we connect to (default: system CAs).
        ``trace`` sees every SIP message sent, ``media_trace`` every RTP/RTCP datagram (as on
        the wire, SRTP included), each as ``hook(now, source, destination, data)``."""
        return _Opening(user, local, transport=transport, codecs=codecs, srtp=srtp, rate=rate,
                        frame_ms=frame_ms, rtp_ports=rtp_ports,
                        server_ssl=server_ssl, client_ssl=client_ssl, trace=trace,
                        media_trace=media_trace, rng=rng, config=config)

    # ---- registration -------------------------------------------------------------------

    async def register(self, registrar: str, credentials: Credentials | None = None, *,
                       expires: int = 600, timeout: float = 5.0) -> int:
        """Register at ``registrar`` (a SIP URI; kept refreshed) and wait for the 200;
        returns the registration's handle. :class:`PhoneError` when refused."""
        handle = self.host.call(lambda now: self.core.register(registrar, now, credentials=credentials,
                                                               expires=expires))
        await self._wait_registration(handle, RegistrationState.REGISTERED, timeout)
        return handle

    async def unregister(self, handle: int, *, timeout: float = 5.0) -> None:
        self.host.call(lambda now: self.core.unregister(handle, now))
        await self._wait_registration(handle, RegistrationState.UNREGISTERED, timeout)

    async def _wait_registration(self, handle: int, state: RegistrationState, timeout: float) -> None:
        settled = (state, RegistrationState.FAILED, RegistrationState.UNREGISTERED)

        def ready() -> bool:
            ev = self._registrations.get(handle)
            return ev is not None and ev.state in settled

        self._registrations.pop(handle, None)
        if not await _until(self.host, ready, timeout):
            raise PhoneError(f"registration at {self.core.config.user}: no answer within {timeout:g} s")
        ev = self._registrations[handle]
        if ev.state is not state:
            raise PhoneError(f"registration {ev.state.value} (status {ev.status_code})")

    # ---- calls --------------------------------------------------------------------------

    def dial(self, target: str, *, headers: Sequence[tuple[str, str]] = ()) -> PhoneCall:
        """Send the INVITE for ``target`` and return the call at once (its events say
        ``CallProgress``; ``await call.wait_answered()``)."""
        rtp = self.host.bind_rtp()
        try:
            call_id = self.host.call(lambda now: self.core.call(target, now, rtp=rtp, headers=list(headers)))
        except BaseException:
            self.host.release_rtp(rtp)
            raise
        return self.calls.setdefault(call_id, PhoneCall(self, call_id, rtp))

    async def call(self, target: str, *, headers: Sequence[tuple[str, str]] = (),
                   timeout: float = 10.0) -> PhoneCall:
        """Call ``target`` and wait for the answer; :class:`PhoneError` if it is refused or not
        answered within ``timeout`` (then it is cancelled)."""
        pc = self.dial(target, headers=headers)
        try:
            await pc.wait_answered(timeout)
        except PhoneError:
            why = pc._why(timeout)
            if not pc.ended:
                await pc.hangup(timeout=5.0)  # CANCEL
            raise PhoneError(f"call to {target} failed: {why}") from None
        except BaseException:  # cancelled: do not leave the INVITE running
            if not pc.ended:
                pc.act(lambda now: self.core.hangup(pc.call_id, now))
            raise
        return pc

    async def accept(self, timeout: float | None = None) -> PhoneCall:
        """The next incoming call (already answered with ``auto_answer``; otherwise ringing:
        ``await call.answer()`` or ``call.reject()``); ``asyncio.TimeoutError`` on timeout,
        :class:`PhoneError` when the phone is closed."""
        if not await _until(self.host, lambda: bool(self._incoming) or self.host.closed, timeout):
            raise asyncio.TimeoutError
        if not self._incoming:
            raise PhoneError("the phone is closed")
        return self._incoming.popleft()

    async def incoming(self) -> AsyncIterator[PhoneCall]:
        """``async for call in phone.incoming()``: incoming calls until the phone closes."""
        while True:
            try:
                yield await self.accept()
            except PhoneError:
                return

    # ---- shutdown -----------------------------------------------------------------------

    async def drain(self, timeout: float | None = None) -> bool:
        """Refuse new calls (503) and wait until the running ones have ended; True then."""
        self.host.call(self.core.drain)
        return await _until(self.host, lambda: self.drained or not self.core.calls, timeout)

    async def close(self, timeout: float = 3.0) -> None:
        """Hang up every call, remove every registration (waiting up to ``timeout`` for
        both), then close every socket. Safe to call twice; cancellation-safe (the sockets
        are closed whatever happens)."""
        if self._closing:
            await self.host.close()
            return
        self._closing = True
        try:
            if not self.host.closed:
                self.host.call(self.core.close)
                await _until(self.host, self._closed_cleanly, timeout)
        finally:
            await self.host.close()

    def _closed_cleanly(self) -> bool:
        if any(not pc.ended for pc in self.calls.values()):
            return False
        if self.host.rtp_sockets:
            return False
        return all(ev.state in (RegistrationState.UNREGISTERED, RegistrationState.FAILED)
                   for ev in self._registrations.values())

    async def __aenter__(self) -> Phone:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # ---- core events --------------------------------------------------------------------

    def _on_event(self, event: Event, now: float) -> None:
        call_id = getattr(event, "call_id", None)
        if isinstance(event, pe.RegistrationChanged):
            self._registrations[event.registration] = event
        elif isinstance(event, pe.IncomingCall):
            self._on_incoming(event, now)
        elif isinstance(event, pe.MediaSocketReleased):
            # The call's last event: the socket closes, the phone forgets the call (the
            # application's PhoneCall object keeps its state and remaining events).
            self.host.release_rtp(event.local)
            self.calls.pop(event.call_id, None)
        elif isinstance(event, pe.PhoneDrained):
            self.drained = True
        elif isinstance(call_id, str):
            pc = self.calls.get(call_id)
            if pc is None:
                log.debug("event for unknown call %s: %s", call_id, type(event).__name__)
                return
            pc._deliver(event)
            if isinstance(event, pe.CallEnded) and pc.rtp is None:  # never had a socket
                del self.calls[call_id]
            elif isinstance(event, pe.TransferRequested) and event.auto_follow:
                self._follow(pc, event, now)

    def _on_incoming(self, event: pe.IncomingCall, now: float) -> None:
        pc = self.calls[event.call_id] = PhoneCall(self, event.call_id, None, incoming=event)
        if event.auto_answer:
            try:
                pc.rtp = self.host.bind_rtp()
            except OSError as exc:
                log.warning("call %s: no RTP socket (%s): 503", event.call_id, exc,
                            extra={"call_id": event.call_id})
                self.core.reject(event.call_id, now, 503)
                return
            try:
                self.core.answer(event.call_id, now, rtp=pc.rtp)
            except LocalProtocolError as exc:  # e.g. the caller cancelled in the same input
                self.host.release_rtp(pc.rtp)
                pc.rtp = None
                log.info("call %s: not answered: %s", event.call_id, exc, extra={"call_id": event.call_id})
        self._incoming.append(pc)

    def _follow(self, pc: PhoneCall, event: pe.TransferRequested, now: float) -> None:
        """Transferee: call the REFER's target on a new RTP socket."""
        try:
            rtp = self.host.bind_rtp()
        except OSError as exc:
            log.warning("call %s: transfer not followed, no RTP socket: %s", pc.call_id, exc,
                        extra={"call_id": pc.call_id})
            return
        try:
            new_id = self.core.follow_transfer(pc.call_id, now, rtp=rtp)
        except LocalProtocolError as exc:
            self.host.release_rtp(rtp)
            log.warning("call %s: transfer not followed: %s", pc.call_id, exc, extra={"call_id": pc.call_id})
            return
        pc.transferred_to = self.calls.setdefault(new_id, PhoneCall(self, new_id, rtp))


class _Opening:
    """``await Phone.open(...)`` or ``async with Phone.open(...) as phone``."""

    def __init__(self, user: str, local: Address, **kw: Any) -> None:
        self._user, self._local, self._kw = user, local, kw
        self._phone: Phone | None = None

    def __await__(self) -> Generator[Any, None, Phone]:
        return self._open().__await__()

    async def __aenter__(self) -> Phone:
        self._phone = await self._open()
        return self._phone

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._phone is not None:
            await self._phone.close()

    async def _open(self) -> Phone:
        kw = self._kw
        transport = str(kw["transport"]).upper()
        host, port = self._local
        if port == 0:
            port = free_port(host, "UDP" if transport == "UDP" else "TCP")
        local = (host, port)
        srtp = kw["srtp"]
        mode = srtp if isinstance(srtp, SrtpMode) else (
            SrtpMode(srtp) if isinstance(srtp, str) else SrtpMode.SDES if srtp else SrtpMode.NONE)
        config = PhoneConfig(user=self._user, local=local, transport=transport.lower(),
                             codecs=tuple(kw["codecs"]), srtp=mode, rate=kw["rate"],
                             frame_ms=kw["frame_ms"], **kw["config"])
        rng = kw["rng"] if kw["rng"] is not None else random.Random(secrets.randbits(64))
        core = PhoneCore(config=config, rng=rng)

        def make_host(phone: Phone) -> PhoneHost:
            return PhoneHost(core, on_event=phone._on_event, media_host=host_name,
                             rtp_ports=kw["rtp_ports"], client_ssl=kw["client_ssl"], trace=kw["trace"],
                             media_trace=kw["media_trace"])

        host_name = local[0]
        if host_name in ("0.0.0.0", "::", "") and config.media_address is None:
            raise ValueError("a phone listening on a wildcard address needs media_address= "
                             "(the address put into SDP; RTP sockets bind on the wildcard)")
        phone = Phone(core, make_host)
        server_ssl = kw["server_ssl"]
        # TLS/WSS without server_ssl: a client only (no listener); in-dialog requests come back
        # over its own connection (docs/transports.md, "Flows").
        spec: Address | tuple[Address, ssl.SSLContext | None] = (
            (local, server_ssl) if transport in _SECURE else local)
        try:
            await phone.host.listen({transport: spec})
        except BaseException:
            await phone.host.close()
            raise
        return phone


#: ``async with open_phone(user, local, ...) as phone:`` (the same as ``Phone.open``).
open_phone = Phone.open
