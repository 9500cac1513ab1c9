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
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

from rvoip_sansio import Address, Event, LocalProtocolError, pump
from rvoip_sansio import phone as pe
from rvoip_sansio.dialog import RegistrationState
from rvoip_sansio.phone import PhoneConfig, PhoneCore
from rvoip_sansio.sip.auth import Credentials

from ._call import EVENTS_KEPT, PhoneCall, PhoneError
from ._loop import Loop
from .._mediapump import Datagram, MediaPump
from ._socket import bind_udp_socket
from ._stream import SipSockets

__all__ = ["Phone", "PhoneCall", "PhoneError", "open_phone"]

log = logging.getLogger("rvoip_sansio.adapters.blocking")


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
        #: Every call's RTP socket in one epoll the loop watches (or each socket, without epoll).
        self._pump = MediaPump(on_error=self._send_refused)
        if self._pump.fileno is not None:
            self.loop.watch(self._pump.fileno, 1, self._on_media_ready)
        self._incoming: collections.deque[PhoneCall] = collections.deque(maxlen=EVENTS_KEPT)
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)
        self._registrations: dict[int, RegistrationState | None] = {}
        self._drained = False

    @property
    def rtp_sockets(self) -> tuple[Address, ...]:
        """The RTP sockets open now."""
        return self._pump.locals()

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
                for local in self._pump.locals():
                    self._release_rtp(local)
                if self._pump.fileno is not None:
                    self.loop.watch(self._pump.fileno, 0, _ignore)
                self._pump.close()
            self.loop.close()

    def _closed_down(self) -> bool:
        return not len(self._pump) and all(s in _REG_GONE for s in self._registrations.values() if s is not None)

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
            done = self.calls.get(event.call_id)
            if done is not None and done.ended:
                del self.calls[event.call_id]  # the application keeps its own reference
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
        if isinstance(event, pe.CallEnded) and (pc.rtp is None or pc.rtp not in self._pump):
            del self.calls[pc.call_id]  # nothing more will come for it

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
                self._bind_for(pc, lambda rtp: self.core.answer(event.call_id, now, rtp=rtp))
            except PhoneError as exc:  # no free RTP port
                log.warning("call %s refused: %s", event.call_id, exc, extra={"call_id": event.call_id})
                self.core.reject(event.call_id, now, 503)
                return
            except LocalProtocolError as exc:  # e.g. cancelled meanwhile: nothing to answer
                log.warning("call %s not answered: %s", event.call_id, exc, extra={"call_id": event.call_id})
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
        self._pump.add(local, sock)
        if self._pump.fileno is None:
            self.loop.watch(sock, 1, partial(self._on_rtp, local))
        return local

    def _bind_for(self, pc: PhoneCall, verb: Callable[[Address], None]) -> None:
        """Bind ``pc``'s RTP socket if it has none, then ``verb(rtp)``; a verb the core
        refuses releases the new socket (lock held)."""
        fresh = pc.rtp is None
        rtp = pc.rtp = pc.rtp if pc.rtp is not None else self._bind_rtp()
        try:
            verb(rtp)
        except BaseException:
            if fresh:
                pc.rtp = None
                self._release_rtp(rtp)
            raise

    def _release_rtp(self, local: Address) -> None:
        sock = self._pump.get(local)
        if sock is not None:
            if self._pump.fileno is None:
                self.loop.watch(sock, 0, _ignore)
            self._pump.remove(local)

    def _on_media_ready(self, mask: int) -> None:
        """The epoll says RTP is waiting: one datagram from each ready socket, fed as one
        batch; the loop drains once after this round of handlers (Loop.touched)."""
        self._feed(self._pump.read())

    def _on_rtp(self, local: Address, mask: int) -> None:
        """Without epoll: up to a batch from one ready socket, fed at once."""
        batch: list[Datagram] = []
        self._pump.read_socket(local, batch)
        self._feed(batch)

    def _feed(self, batch: list[Datagram]) -> None:
        if batch:
            self.core.media_receive_many(batch, time.monotonic())
            self.loop.touched()

    def _send_media(self, now: float) -> None:
        self._pump.send_many(self.core.media_datagrams_to_send(now))

    def _send_refused(self, local: Address, dest: Address) -> None:
        # Found inside the drain: an input for right after it (the core is never re-entered).
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

    ``tls``: the server certificate context for a ``tls``/``wss`` listener (None: a client
    only, no listener; requests come back over its own connections, set ``instance_id`` for
    RFC 5626); ``client_ssl``
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
        if name in ("TLS", "WSS") and tls is None:
            phone.sip.connect_only(name, local)  # a client only: no certificate, no listener
        else:
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
