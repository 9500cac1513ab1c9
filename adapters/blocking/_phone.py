"""A softphone for blocking code: ``with open_phone(user, local) as phone:``.

A thin host over the pure :class:`rvoip_sansio.phone.PhoneCore` (registration, calls, SDP,
SRTP keying, each call's media): one :class:`~._loop.Loop` (a background thread, or the
caller's thread), the SIP sockets of :class:`~._stream.SipSockets` (UDP, TCP, TLS, WS, WSS)
on the core's SIP face, one UDP socket per call (from a configurable port range) on its media
face, both faces pumped after every input, one timer at ``core.next_deadline()``. Every touch
of the core from an application thread goes through the loop (its lock, then a drain).
"""

from __future__ import annotations

import collections
import logging
import random
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from rvoip_sansio import Address, Event, LocalProtocolError, pump
from rvoip_sansio import phone as pe
from rvoip_sansio.callmedia import CallMedia, MediaReport
from rvoip_sansio.dialog import RegistrationState
from rvoip_sansio.phone import PhoneConfig, PhoneCore
from rvoip_sansio.sip.auth import Credentials

from ._audio import CallAudio
from ._loop import Loop
from ._socket import READ_BATCH, bind_udp_socket
from ._stream import SipSockets

__all__ = ["Phone", "PhoneCall", "PhoneError", "open_phone"]

log = logging.getLogger("rvoip_sansio.adapters.blocking")

T = TypeVar("T")
_MAX_DATAGRAM = 65535
#: Events kept per call (and for the phone) for ``next_event``; beyond it the oldest go.
EVENTS_KEPT = 1000


class PhoneError(Exception):
    """A registration or call did not succeed (the message says what happened)."""


class PhoneCall:
    """One call of a :class:`Phone` (from :meth:`Phone.call` or :meth:`Phone.next_call`).

    ``audio`` is its :class:`~._audio.CallAudio`; :meth:`next_event` gives its events (DTMF,
    hold, transfer, media health, the end) in order; the verbs wait for their outcome.
    """

    def __init__(self, phone: Phone, call_id: str, rtp: Address | None,
                 incoming: pe.IncomingCall | None = None) -> None:
        self.phone = phone
        self.call_id = call_id
        self.rtp = rtp  # our RTP socket's address (None: an incoming call not answered yet)
        #: For calls to us: the ``IncomingCall`` (``from_header``, ``headers``, ``header(name)``,
        #: ``offered_codecs``, ``srtp_offered``...).
        self.incoming = incoming
        self.audio = CallAudio(self)
        #: The ``CallAnswered`` event once the call is up (codec, srtp, addresses, 2xx headers).
        self.answered: pe.CallAnswered | None = None
        self.end: pe.CallEnded | None = None
        self.drained_marks: set[int] = set()
        #: We put the peer on hold (accepted); the peer put us on hold.
        self.held = False
        self.held_by_peer = False
        #: The call placed when the peer transferred us (transferee side), once followed.
        self.transferred_to: PhoneCall | None = None
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)

    def __repr__(self) -> str:
        return f"<PhoneCall {self.call_id} {'ended' if self.ended else 'up' if self.answered else 'setup'}>"

    # ---- what CallAudio needs -------------------------------------------------------------

    @property
    def loop(self) -> Loop:
        return self.phone.loop

    @property
    def ended(self) -> bool:
        return self.end is not None

    def media(self) -> CallMedia | None:
        if self.end is not None:
            return None
        try:
            return self.phone.core.media(self.call_id)
        except LocalProtocolError:  # the core forgets a call once its socket is released
            return None

    @property
    def codec(self) -> str:
        """The codec's name (``G722``, ``PCMU``...), ``-`` before the answer."""
        return self.answered.codec.split("/")[0] if self.answered is not None else "-"

    @property
    def srtp(self) -> bool:
        """The media is SRTP (SDES keyed)."""
        return self.answered is not None and self.answered.srtp

    # ---- events ---------------------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The call's next event (``DtmfReceived``, hold/resume, transfer, media events,
        ``CallEnded`` last), waiting up to ``timeout``; None on timeout or when none is left
        after the end."""
        got: list[Event] = []

        def ready() -> bool:
            if self._events:
                got.append(self._events.popleft())
                return True
            return self.ended

        self.loop.wait(ready, timeout)
        return got[0] if got else None

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        while (event := self.next_event(timeout)) is not None:
            yield event

    def wait_for(self, kind: type[T] | tuple[type, ...], timeout: float | None = None) -> T | None:
        """Skip events until one of ``kind`` (others are dropped); None on timeout/end."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                return None
            event = self.next_event(left)
            if event is None:
                return None
            if isinstance(event, kind):
                return event  # type: ignore[return-value]

    def wait_answered(self, timeout: float | None = None) -> pe.CallAnswered:
        """Wait until the call is up; :class:`PhoneError` if it ended or timed out first."""
        self.loop.wait(lambda: self.answered is not None or self.ended, timeout)
        if self.answered is None:
            raise PhoneError(f"call {self.call_id} not answered: {self._why()}")
        return self.answered

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait until the call has ended; True then (False on timeout)."""
        return self.loop.wait(lambda: self.ended, timeout)

    # ---- verbs ----------------------------------------------------------------------------

    def answer(self, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 5.0) -> None:
        """Answer an incoming call (not needed with ``auto_answer``; ``headers`` go into the
        200) and wait until it is up (the caller's ACK). Raises :class:`PhoneError`."""
        def start(now: float) -> None:
            if self.rtp is None:
                self.rtp = self.phone._bind_rtp()
            self.phone.core.answer(self.call_id, now, rtp=self.rtp, headers=tuple(headers))
        self.phone.loop.call(start)
        self.wait_answered(timeout)

    def reject(self, code: int = 486, *, reason: str | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> None:
        """Refuse an incoming call with final response ``code`` (``headers`` go into it)."""
        self.phone.loop.call(lambda now: self.phone.core.reject(self.call_id, now, code, reason=reason,
                                                                headers=tuple(headers)))

    def hangup(self, timeout: float = 5.0) -> bool:
        """End the call (BYE, or CANCEL before the answer); True once it has ended."""
        if not self.ended:
            self.phone.loop.call(lambda now: self.phone.core.hangup(self.call_id, now))
        return self.wait_ended(timeout)

    def hold(self, timeout: float | None = 5.0) -> bool:
        """Put the peer on hold (re-INVITE ``sendonly``, RFC 3264 §8.4); True once accepted
        (``CallHeld(by_peer=False)``: from then on nothing is received)."""
        self.phone.loop.call(lambda now: self.phone.core.hold(self.call_id, now))
        return self.loop.wait(lambda: self.held or self.ended, timeout) and self.held

    def resume(self, timeout: float | None = 5.0) -> bool:
        """Take the peer off hold (re-INVITE ``sendrecv``); True once accepted."""
        self.phone.loop.call(lambda now: self.phone.core.resume(self.call_id, now))
        return self.loop.wait(lambda: not self.held or self.ended, timeout) and not self.held

    def transfer(self, target: str | PhoneCall) -> None:
        """Transfer the peer (REFER): to a URI (blind) or to the peer of another call of ours
        (attended, Replaces). ``TransferProgress`` events follow; hang this call up when the
        final one says 200 (or let the peer do it)."""
        to = target.call_id if isinstance(target, PhoneCall) else target
        self.phone.loop.call(lambda now: self.phone.core.transfer(self.call_id, to, now))

    def follow_transfer(self, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 10.0) -> PhoneCall:
        """Transferee, when the phone does not follow transfers by itself
        (``auto_follow_transfers=False``): call the target of the peer's REFER on a new RTP
        socket and wait for the answer; returns the new call (also in :attr:`transferred_to`)."""
        def start(now: float) -> PhoneCall:
            return self.phone._follow(self, now, tuple(headers))
        pc = self.phone.loop.call(start)
        pc.wait_answered(timeout)
        return pc

    def send_dtmf(self, digits: str, *, method: str = "rfc4733", duration: float = 0.1) -> None:
        """Send ``digits`` (0-9 * # A-D): ``"rfc4733"`` telephone events in the RTP stream,
        ``"info"`` SIP INFO (one at a time, in order), ``"auto"`` RFC 4733 when the peer
        agreed to telephone-event, else INFO."""
        self.phone.loop.call(lambda now: self.phone.core.send_dtmf(self.call_id, digits, now, method=method,
                                                                   duration=duration))

    def quality(self) -> MediaReport | None:
        """Health (queues, drops, concealment) and quality (loss, jitter, RTT, MOS)."""
        def report(now: float) -> MediaReport | None:
            media = self.media()
            return media.report(now) if media is not None else None
        return self.phone.loop.call(report)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The INVITE's headers (calls to us) or the 2xx's (our calls), in order."""
        if self.incoming is not None:
            return self.incoming.headers
        return self.answered.headers if self.answered is not None else ()

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for n, v in self.headers if n.lower() == low), None)

    def _why(self) -> str:
        end = self.end
        if end is None:
            return "timed out"
        status = f" ({end.status_code})" if end.status_code else ""
        detail = f": {end.detail}" if end.detail else ""
        return f"{end.reason.value}{status}{detail}"

    def _deliver(self, event: Event) -> None:
        if isinstance(event, pe.AudioDrained):
            self.drained_marks.add(event.mark)
            return
        if isinstance(event, pe.CallAnswered):
            self.answered = event
        elif isinstance(event, pe.CallEnded):
            self.end = event
        elif isinstance(event, (pe.CallHeld, pe.CallResumed)):
            held = isinstance(event, pe.CallHeld)
            if event.by_peer:
                self.held_by_peer = held
            else:
                self.held = held
        self._events.append(event)


class Phone:
    """A SIP phone / trunk endpoint for blocking code; made by :func:`open_phone`.

    Incoming calls wait for :meth:`next_call` (answered already with ``auto_answer``);
    registration and drain events for :meth:`next_event`; each call's own events for
    :meth:`PhoneCall.next_event`. Queues keep at most :data:`EVENTS_KEPT` (the oldest go).
    """

    def __init__(self, core: PhoneCore, *, host: str, rtp_ports: tuple[int, int] | None,
                 client_ssl: ssl.SSLContext | None, connect_timeout: float, name: str) -> None:
        self.core = core
        self.host = host
        self.calls: dict[str, PhoneCall] = {}
        self.loop = Loop(self._drain, core.handle_timeout, name=name)
        self.sip = SipSockets(core, self.loop, client_ssl=client_ssl, connect_timeout=connect_timeout)
        self._rtp_ports = rtp_ports
        self._next_port = 0
        self._rtp: dict[Address, socket.socket] = {}
        self._incoming: collections.deque[PhoneCall] = collections.deque(maxlen=EVENTS_KEPT)
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)
        self._registrations: dict[int, RegistrationState | None] = {}
        self._drained = False

    @property
    def local(self) -> Address:
        """The SIP address (Via, Contact)."""
        return self.core.config.local

    # ---- registration ---------------------------------------------------------------------

    def register(self, registrar: str, credentials: Credentials | None = None, *, expires: int = 600,
                 aor: str | None = None, timeout: float = 5.0) -> int:
        """Register at ``registrar`` (a SIP URI; digest challenges answered with
        ``credentials`` or the configured ones) and wait for the outcome; returns the
        handle for :meth:`unregister`. Raises :class:`PhoneError` if refused or timed out.
        The core refreshes it until :meth:`unregister` or :meth:`close`."""
        def start(now: float) -> int:
            handle = self.core.register(registrar, now, credentials=credentials, expires=expires, aor=aor)
            self._registrations.setdefault(handle, None)
            return handle
        handle = self.loop.call(start)
        done = (RegistrationState.REGISTERED, RegistrationState.FAILED, RegistrationState.UNREGISTERED)
        self.loop.wait(lambda: self._registrations.get(handle) in done, timeout)
        state = self._registrations.get(handle)
        if state is not RegistrationState.REGISTERED:
            raise PhoneError(f"registration at {registrar}: {state.value if state else 'timed out'}")
        return handle

    def unregister(self, handle: int, *, timeout: float = 5.0) -> bool:
        """Remove a registration; True once the registrar confirmed."""
        self.loop.call(lambda now: self.core.unregister(handle, now))
        return self.loop.wait(lambda: self._registrations.get(handle) in _REG_GONE, timeout)

    # ---- calls ----------------------------------------------------------------------------

    def call(self, target: str, *, headers: Sequence[tuple[str, str]] = (), timeout: float = 10.0,
             expires: int | None = None) -> PhoneCall:
        """Call ``target`` (a SIP URI; ``headers`` such as ``X-*`` or ``P-Asserted-Identity``
        go into the INVITE) and wait for the answer. Raises :class:`PhoneError` if refused
        or not answered within ``timeout`` (the call is then cancelled)."""
        pc = self.dial(target, headers=headers, expires=expires)
        try:
            pc.wait_answered(timeout)
        except PhoneError:
            why = pc._why()
            if not pc.ended:
                pc.hangup(timeout=2.0)  # CANCEL
            raise PhoneError(f"call to {target} failed: {why}") from None
        except BaseException:  # Ctrl-C: do not leave the INVITE running
            if not pc.ended and not self.loop.closed:
                self.loop.call(lambda now: self.core.hangup(pc.call_id, now))
            raise
        return pc

    def dial(self, target: str, *, headers: Sequence[tuple[str, str]] = (),
             expires: int | None = None) -> PhoneCall:
        """Send the INVITE and return the call at once (``CallProgress`` events follow;
        ``call.wait_answered(timeout)``)."""
        def start(now: float) -> PhoneCall:
            rtp = self._bind_rtp()
            try:
                call_id = self.core.call(target, now, rtp=rtp, headers=tuple(headers), expires=expires)
            except LocalProtocolError as exc:
                self._release_rtp(rtp)
                raise PhoneError(str(exc)) from None
            return self.calls.setdefault(call_id, PhoneCall(self, call_id, rtp))
        return self.loop.call(start)

    def next_call(self, timeout: float | None = None) -> PhoneCall | None:
        """The next incoming call (answered already when ``auto_answer``; else call
        ``answer()`` or ``reject()`` on it), waiting up to ``timeout``; None on timeout."""
        got: list[PhoneCall] = []

        def ready() -> bool:
            if self._incoming:
                got.append(self._incoming.popleft())
                return True
            return False

        self.loop.wait(ready, timeout)
        return got[0] if got else None

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next phone-level event (``RegistrationChanged``, ``PhoneDrained``)."""
        got: list[Event] = []

        def ready() -> bool:
            if self._events:
                got.append(self._events.popleft())
                return True
            return False

        self.loop.wait(ready, timeout)
        return got[0] if got else None

    def drain(self, timeout: float | None = None) -> bool:
        """Refuse new calls (503) and wait until the running ones have ended; True then."""
        self.loop.call(self.core.drain)
        self.loop.call(lambda now: None)  # PhoneDrained may already be queued
        return self.loop.wait(lambda: self._drained, timeout)

    def poll(self, timeout: float | None = None) -> None:
        """Caller-driven mode (``background=False``): run the loop for up to ``timeout``."""
        if self.loop.background:
            raise RuntimeError("poll() is for caller-driven phones; this one runs a thread")
        self.loop.check()
        self.loop.step(None if timeout is None else time.monotonic() + timeout)

    # ---- shutdown -------------------------------------------------------------------------

    def close(self, timeout: float = 3.0) -> None:
        """Hang up every call, remove every registration (waiting up to ``timeout`` for the
        BYEs and un-REGISTERs to be answered and the RTCP BYEs sent), close the connections
        (WebSocket close frames written), every socket, and join the thread. Idempotent."""
        if self.loop.closed:
            return
        try:
            self.loop.check()
            self.loop.call(self.core.close)
            self.loop.wait(self._closed_down, timeout)
            self.loop.call(self.core.close_connections)
            self.loop.wait(lambda: self.sip.flushed, min(timeout, 1.0))
        finally:
            with self.loop.lock:
                self.sip.close_all()
                for local in list(self._rtp):
                    self._release_rtp(local)
            self.loop.close()

    def _closed_down(self) -> bool:
        return not self._rtp and all(s in _REG_GONE for s in self._registrations.values() if s is not None)

    def __enter__(self) -> Phone:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # the body's exception (a Ctrl-C, say) wins; ours is logged
            log.exception("error while closing the phone after %r", exc)

    # ---- events (loop thread, lock held, inside the drain) ---------------------------------

    def _deliver(self, event: Event) -> None:
        if isinstance(event, pe.IncomingCall):
            self._on_incoming(event)
            return
        if isinstance(event, pe.MediaSocketReleased):
            self._release_rtp(event.local)
            return
        if isinstance(event, pe.RegistrationChanged):
            self._registrations[event.registration] = event.state
        elif isinstance(event, pe.PhoneDrained):
            self._drained = True
        call_id = getattr(event, "call_id", None)
        pc = self.calls.get(call_id) if isinstance(call_id, str) else None
        if pc is None:
            self._events.append(event)
            return
        if isinstance(event, pe.TransferRequested) and event.auto_follow:
            try:
                self._follow(pc, self.loop.now)
            except (PhoneError, LocalProtocolError) as exc:
                log.warning("call %s: transfer not followed: %s", pc.call_id, exc, extra={"call_id": pc.call_id})
        pc._deliver(event)

    def _follow(self, pc: PhoneCall, now: float, headers: tuple[tuple[str, str], ...] = ()) -> PhoneCall:
        """Call the target of ``pc``'s transfer on a new RTP socket (lock held)."""
        rtp = self._bind_rtp()
        try:
            call_id = self.core.follow_transfer(pc.call_id, now, rtp=rtp, headers=headers)
        except LocalProtocolError:
            self._release_rtp(rtp)
            raise
        new = self.calls[call_id] = PhoneCall(self, call_id, rtp)
        pc.transferred_to = new
        return new

    def _on_incoming(self, event: pe.IncomingCall) -> None:
        now = self.loop.now
        pc = self.calls[event.call_id] = PhoneCall(self, event.call_id, None, event)
        if event.auto_answer:
            try:
                pc.rtp = self._bind_rtp()
            except PhoneError as exc:
                log.warning("call %s refused: %s", event.call_id, exc, extra={"call_id": event.call_id})
                self.core.reject(event.call_id, now, 503)
                return
            self.core.answer(event.call_id, now, rtp=pc.rtp)
        self._incoming.append(pc)

    # ---- media sockets --------------------------------------------------------------------

    def _bind_rtp(self) -> Address:
        """A UDP socket for one call's RTP/RTCP (rtcp-mux), from the port range if given."""
        if self._rtp_ports is None:
            sock = bind_udp_socket((self.host, 0))
        else:
            lo, hi = self._rtp_ports
            count = hi - lo + 1
            for i in range(count):
                port = lo + (self._next_port + i) % count
                try:
                    sock = bind_udp_socket((self.host, port))
                except OSError:
                    continue
                self._next_port = (port - lo + 1) % count
                break
            else:
                raise PhoneError(f"no free RTP port in {lo}-{hi}")
        host, port = sock.getsockname()[:2]
        local = (str(host), int(port))
        self._rtp[local] = sock
        self.loop.watch(sock, 1, partial(self._on_rtp, sock, local))
        return local

    def _release_rtp(self, local: Address) -> None:
        sock = self._rtp.pop(local, None)
        if sock is not None:
            self.loop.watch(sock, 0, _ignore)
            sock.close()

    def _on_rtp(self, sock: socket.socket, local: Address, mask: int) -> None:
        for _ in range(READ_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:  # an ICMP error queued on the socket
                log.debug("RTP receive error on %s: %s", local, exc)
                continue
            # Media datagrams are fed in a batch and drained once after this round of
            # ready sockets (Loop.touched): the drain scans every call, a datagram does not.
            self.core.media_receive(local, data, (str(addr[0]), int(addr[1])), time.monotonic())
            self.loop.touched()

    def _send_media(self, now: float) -> None:
        for local, transmit in self.core.media_datagrams_to_send(now):
            sock = self._rtp.get(local)
            if sock is None:
                continue
            try:
                sock.sendto(transmit.data, transmit.dest)
            except BlockingIOError:
                log.debug("RTP send buffer full, datagram to %s dropped", transmit.dest)
            except OSError as exc:
                log.debug("RTP send to %s failed: %s", transmit.dest, exc)
                dest = transmit.dest
                self.loop.later(lambda t: self.core.media_transport_error(local, dest, t))

    # ---- the loop -------------------------------------------------------------------------

    def _drain(self, now: float) -> float | None:
        """The pumping rule of docs/phone.md: SIP out, events, media out, and again while
        sending media produced events (``MediaSocketReleased`` after the RTCP BYE)."""
        while True:
            pump(self.core, now, self.sip.send, self._deliver)
            self._send_media(now)
            event = self.core.next_event()
            if event is None:
                return self.core.next_deadline()
            self._deliver(event)


_REG_GONE = (RegistrationState.UNREGISTERED, RegistrationState.FAILED)


def _ignore(mask: int) -> None:
    pass


def open_phone(user: str, local: Address, *, transport: str = "udp", tls: ssl.SSLContext | None = None,
               client_ssl: ssl.SSLContext | None = None, rtp_ports: tuple[int, int] | None = None,
               background: bool = True, connect_timeout: float = 10.0, rng: random.Random | None = None,
               key_rng: random.Random | None = None, **config: Any) -> Phone:
    """A phone for ``user`` listening for SIP on ``local`` over ``transport`` (``udp``,
    ``tcp``, ``tls``, ``ws``, ``wss``; port 0 picks a free one); use as ``with open_phone(...)
    as phone:``.

    ``tls``: the server certificate context for a ``tls``/``wss`` listener; ``client_ssl``
    verifies the servers we connect to (default ``ssl.create_default_context()``).
    ``rtp_ports=(lo, hi)``: the range for the per-call RTP sockets (default: any free port).
    ``background=False``: no thread; the loop runs inside the waiting calls (``next_call``,
    ``call.audio.read``...) and :meth:`Phone.poll`. ``config``: any
    :class:`~rvoip_sansio.phone.PhoneConfig` field (``codecs``, ``srtp``, ``auto_answer``,
    ``credentials``, ``outbound_proxy``, ``max_calls``, ``rate``, ``rtp_timeout``...).
    """
    name = transport.upper()
    if local[1] == 0:
        local = (local[0], _free_port(local[0], name))
    core = PhoneCore(config=PhoneConfig(user=user, local=local, transport=transport.lower(), **config),
                     rng=rng if rng is not None else random.Random(secrets.randbits(64)), key_rng=key_rng)
    phone = Phone(core, host=local[0], rtp_ports=rtp_ports, client_ssl=client_ssl,
                  connect_timeout=connect_timeout, name=f"phone-{user}")
    try:
        phone.sip.listen(name, local, ssl_context=tls)
        with phone.loop.lock:
            phone.loop.drain(time.monotonic())
        if background:
            phone.loop.start()
    except BaseException:
        phone.close()
        raise
    return phone


def _free_port(host: str, transport: str) -> int:
    """A port free right now for ``transport`` (Via and Contact need the real one)."""
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
