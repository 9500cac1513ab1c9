"""A softphone for trio: ``async with open_phone(user, local) as phone:``.

A thin host over the pure :class:`rvoip_sansio.phone.PhoneCore` (registration, calls, SDP,
SRTP keying, every call's media). Its SIP face runs on the trio :class:`~._stream.SipTransports`
(UDP, TCP, TLS, WS, WSS); its media face on one UDP socket per call
(:class:`~._media.MediaSockets`, from a configurable port range). Both faces are pumped after
every input (the transports' pump, then the media flush in its ``after_pump`` hook), one
timer follows ``core.next_deadline()``, and the clock is ``trio.current_time()`` (so
``trio.testing.MockClock`` drives it). Everything about SIP, SDP, RTP and SRTP is the core's.
"""

from __future__ import annotations

import collections
import logging
import random
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from rvoip_sansio import Address, Event
from rvoip_sansio.dialog import RegistrationState
from rvoip_sansio.phone import PhoneConfig, PhoneCore
from rvoip_sansio import phone as pe
from rvoip_sansio.sip.auth import Credentials

from ._call import EVENTS_KEPT, PhoneCall, PhoneError, EventStream
from ._drive import single_exceptions
from ._media import MediaSockets
from ._stream import SipTransports, open_sip_transports
from ._waiters import Waiters

__all__ = ["Phone", "PhoneCall", "PhoneError", "open_phone"]

log = logging.getLogger("rvoip_sansio.adapters.trio")

T = TypeVar("T")
_SECURE = ("TLS", "WSS")


class Phone:
    """A SIP phone / trunk endpoint on trio; made by :func:`open_phone`."""

    def __init__(self, core: PhoneCore, *, host: str, auto_answer: bool) -> None:
        self.core = core
        self.host = host
        self.auto_answer = auto_answer
        #: The calls not ended yet, by Call-ID.
        self.calls: dict[str, PhoneCall] = {}
        self.registrations: dict[int, pe.RegistrationChanged | None] = {}
        self._transports: SipTransports | None = None
        self._media: MediaSockets | None = None
        self._nursery: trio.Nursery | None = None
        self._incoming: collections.deque[PhoneCall] = collections.deque(maxlen=EVENTS_KEPT)
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)
        self._waiters = Waiters()  # the phone's own (registration, incoming, drain, close)
        self._waiting: set[PhoneCall] = set()  # calls with waiting tasks
        self._dirty: set[PhoneCall] = set()  # calls that had events since the last check
        self._full_check = False  # a verb ran: check every waiting call
        self._timeouts = 0  # the timer firings seen (media ticks change every call)
        self._pump_queued = False  # act_soon started a pump that has not run yet
        self.closed = False

    # ---- the host -----------------------------------------------------------------------

    @property
    def media_sockets(self) -> MediaSockets:
        assert self._media is not None, "the phone is not running"
        return self._media

    @property
    def locals(self) -> dict[str, Address]:
        """The bound SIP listeners by transport name."""
        return dict(self._transports.locals) if self._transports is not None else {}

    def act(self, action: Callable[[float], T]) -> T:
        """Run ``action(now)`` on the core, then pump both faces and re-arm the timer."""
        assert self._transports is not None, "the phone is not running"
        self._full_check = True
        return self._transports.call(action)

    def act_soon(self, action: Callable[[float], T]) -> T:
        """``action(now)`` on the core at once; one pump for all such actions, right after
        the current task yields (audio written to many calls in a row)."""
        result = action(trio.current_time())
        self._full_check = True
        if not self._pump_queued and self._nursery is not None:
            self._pump_queued = True
            self._nursery.start_soon(self._pump_soon)
        return result

    async def _pump_soon(self) -> None:
        self._pump_queued = False
        if self._transports is not None and not self.closed:
            self.act(_nothing)

    def _after_pump(self, now: float) -> None:
        """The media face, after every pump: send each call's datagrams from its socket,
        deliver what that produced (socket releases), wake whoever waits on a change."""
        media = self._media
        out = self.core.media_datagrams_to_send(now)
        if media is not None and out:
            media.send_many(out)
        delivered = False
        while (event := self.core.next_event()) is not None:
            self._on_event(event, now)
            delivered = True
        if delivered:
            self._later()  # a reaction to them (an answer...) is pumped right after
        timeouts = self._transports.timeouts if self._transports is not None else 0
        self._check_waiters(full=self._full_check or timeouts != self._timeouts)
        self._timeouts = timeouts

    def _check_waiters(self, *, full: bool = True) -> None:
        """Wake the tasks whose condition now holds (and only those). What a call's waiters
        wait for (frames, room, events, the end) changes with its events, a media tick (a
        timer firing) or a verb; a pump for a datagram of another call changes nothing, so
        only calls with events are checked then (``full=False``)."""
        self._waiters.check()
        calls = self._waiting if full else self._dirty & self._waiting
        for call in list(calls):
            call._waiters.check()
            if not call._waiters:
                self._waiting.discard(call)
        self._dirty.clear()
        self._full_check = False

    def _later(self) -> None:
        async def pump() -> None:
            await trio.lowlevel.checkpoint()
            if self._transports is not None and not self.closed:
                self.act(lambda now: None)

        if self._nursery is not None:
            self._nursery.start_soon(pump)

    def _on_event(self, event: Event, now: float) -> None:
        """Every core event, synchronously inside the pump (so it may act on the core)."""
        call_id = getattr(event, "call_id", None)
        call = self.calls.get(call_id) if isinstance(call_id, str) else None
        if isinstance(event, pe.MediaSocketReleased):
            if self._media is not None:
                self._media.release(event.local)
            return
        if isinstance(event, pe.RegistrationChanged):
            self.registrations[event.registration] = event
        elif isinstance(event, pe.IncomingCall):
            call = self.calls[event.call_id] = PhoneCall(self, event.call_id, incoming=event)
            if event.auto_answer and self._media is not None:
                try:
                    rtp = call.rtp = self._media.bind()
                except OSError as exc:  # NoFreePort included
                    log.warning("call %s: no RTP socket (%s): 503", event.call_id, exc,
                                extra={"call_id": event.call_id})
                    self.core.reject(event.call_id, now, 503)
                    return
                self.core.answer(event.call_id, now, rtp=rtp)
            self._incoming.append(call)
            log.info("call %s: incoming from %s", event.call_id, event.from_header,
                     extra={"call_id": event.call_id})
        elif isinstance(event, pe.TransferRequested) and event.auto_follow and self._media is not None:
            try:
                rtp = self._media.bind()
            except OSError as exc:
                log.warning("call %s: transfer not followed, no RTP socket: %s", event.call_id, exc,
                            extra={"call_id": event.call_id})
            else:
                new_id = self.core.follow_transfer(event.call_id, now, rtp=rtp)
                new = self.calls.setdefault(new_id, PhoneCall(self, new_id, rtp=rtp))
                if call is not None:
                    call.transferred_to = new
        if isinstance(call_id, str) and not isinstance(event, pe.IncomingCall):
            if call is None:
                log.debug("call %s: event for a call no longer kept: %s", call_id, type(event).__name__,
                          extra={"call_id": call_id})
                return
            call._deliver(event)
            self._dirty.add(call)
            if isinstance(event, pe.CallEnded):
                del self.calls[call_id]  # the application keeps its own reference
        elif call_id is None:
            self._events.append(event)

    async def _wait(self, ready: Callable[[], bool]) -> None:
        await self._waiters.wait(ready)

    # ---- registration -------------------------------------------------------------------

    async def register(self, registrar: str, credentials: Credentials | None = None, *,
                       expires: int = 600) -> int:
        """Register at ``registrar`` (a SIP URI; digest ``credentials`` or the phone's) and
        wait until registered; returns the registration's handle. Kept refreshed until
        :meth:`unregister` or close. Raises :class:`PhoneError` when refused."""
        handle = self.act(lambda now: self.core.register(registrar, now, credentials=credentials,
                                                          expires=expires))
        self.registrations[handle] = None
        await self._registration(handle, RegistrationState.REGISTERED)
        return handle

    async def unregister(self, handle: int) -> None:
        """Remove a registration (REGISTER with Expires: 0) and wait for the outcome."""
        self.act(lambda now: self.core.unregister(handle, now))
        await self._registration(handle, RegistrationState.UNREGISTERED)

    async def _registration(self, handle: int, state: RegistrationState) -> None:
        final = (RegistrationState.FAILED, RegistrationState.UNREGISTERED, state)
        await self._wait(lambda: (e := self.registrations.get(handle)) is not None and e.state in final)
        event = self.registrations[handle]
        assert event is not None
        if event.state is not state:
            raise PhoneError(f"registration at {event.registrar}: {event.state.value}"
                             f"{f' ({event.status_code})' if event.status_code else ''}")

    # ---- calls --------------------------------------------------------------------------

    def dial(self, target: str, *, headers: Sequence[tuple[str, str]] = ()) -> PhoneCall:
        """Send the INVITE for ``target`` and return the call at once (its events say
        ``CallProgress``; ``await call.wait_answered()``)."""
        rtp = self.media_sockets.bind()
        try:
            call_id = self.act(lambda now: self.core.call(target, now, rtp=rtp, headers=list(headers)))
        except BaseException:
            self.media_sockets.release(rtp)
            raise
        return self.calls.setdefault(call_id, PhoneCall(self, call_id, rtp=rtp))

    async def call(self, target: str, *, headers: Sequence[tuple[str, str]] = ()) -> PhoneCall:
        """Call ``target`` (a SIP URI; ``headers`` such as ``X-*`` go into the INVITE) and
        wait for the answer. Raises :class:`PhoneError` if it is refused or fails;
        cancelling the wait (``trio.fail_after``...) cancels the call (CANCEL)."""
        call = self.dial(target, headers=headers)
        call_id = call.call_id
        try:
            await call.wait(lambda: call.answered is not None or call.ended)
        except BaseException:
            if not call.ended:
                call.act(lambda now: self.core.hangup(call_id, now))
            raise
        if call.answered is None:
            raise PhoneError(f"call to {target} failed: {call._why()}")
        return call

    def incoming(self) -> _Incoming:
        """``async for call in phone.incoming()``: each new call (already answered with
        ``auto_answer``; otherwise ``await call.answer()`` or ``call.reject()``)."""
        return _Incoming(self)

    async def accept(self) -> PhoneCall:
        """The next incoming call, waiting for it."""
        await self._wait(lambda: bool(self._incoming) or self.closed)
        if not self._incoming:
            raise PhoneError("the phone is closed")
        return self._incoming.popleft()

    def events(self) -> EventStream:
        """``async for event in phone.events()``: events not about one call
        (``RegistrationChanged``, ``PhoneDrained``...) until the phone closes."""
        return EventStream(self)

    async def next_event(self) -> Event | None:
        await self._wait(lambda: bool(self._events) or self.closed)
        return self._events.popleft() if self._events else None

    async def drain(self) -> None:
        """Refuse new calls (503) and wait until the running ones have ended."""
        self.act(lambda now: self.core.drain(now))
        await self._wait(lambda: not self.core.calls)

    async def _shutdown(self) -> None:
        """Hang up every call, remove every registration, wait for both to be done (the
        caller bounds the wait), then close the media sockets."""
        if self._transports is not None and not self.closed:
            self.act(lambda now: self.core.close(now))
            done = (RegistrationState.UNREGISTERED, RegistrationState.FAILED)
            await self._wait(lambda: not self.core.calls and all(
                e is None or e.state in done for e in self.registrations.values()) and not len(self.media_sockets))


def _nothing(now: float) -> None:
    return None


class _Incoming:
    __slots__ = ("_phone",)

    def __init__(self, phone: Phone) -> None:
        self._phone = phone

    def __aiter__(self) -> _Incoming:
        return self

    async def __anext__(self) -> PhoneCall:
        try:
            return await self._phone.accept()
        except PhoneError:
            raise StopAsyncIteration from None


def _free_port(host: str, transport: str) -> int:
    """A port free right now (the SIP address must be known before the core is built: it
    goes into Via and Contact)."""
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def open_phone(
    user: str,
    local: Address,
    *,
    transport: str = "UDP",
    server_ssl: ssl.SSLContext | None = None,
    client_ssl: ssl.SSLContext | None = None,
    rtp_ports: tuple[int, int] | None = None,
    rtp_host: str | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 3.0,
    rng: random.Random | None = None,
    **config: Any,
) -> AsyncIterator[Phone]:
    """``async with open_phone("alice", ("127.0.0.1", 5060)) as phone:`` runs a phone for
    ``user`` with its SIP listener on ``local`` (port 0: a free port is picked first) over
    ``transport`` (UDP, TCP, TLS, WS or WSS; TLS/WSS listen with ``server_ssl``, and verify the
    servers they reach against ``client_ssl``, default the system CAs; without ``server_ssl``
    a client only: no listener, requests come back over its own connections, set
    ``instance_id`` for RFC 5626). Each call gets an RTP
    socket on ``rtp_host`` (default the SIP host) from ``rtp_ports`` (inclusive range; None:
    any free port). Other keywords are :class:`~rvoip_sansio.phone.PhoneConfig` fields
    (``codecs``, ``srtp``, ``rate``, ``frame_ms``, ``auto_answer``, ``credentials``,
    ``max_calls``, ``outbound_proxy``, ``rtp_timeout``...).

    Leaving the block, cancelling it or Ctrl-C ends every call (BYE/CANCEL), removes every
    registration (waiting up to ``close_timeout`` for the answers, even when cancelled), and
    closes every connection and socket; the block's own exception leaves as itself.
    """
    name = transport.upper()
    if local[1] == 0:
        local = (local[0], _free_port(local[0], name))
    cfg = PhoneConfig(user=user, local=local, transport=name.lower(), **config)
    core = PhoneCore(config=cfg, rng=rng if rng is not None else random.Random(secrets.randbits(64)))
    phone = Phone(core, host=rtp_host or local[0], auto_answer=cfg.auto_answer)
    # TLS/WSS without server_ssl: a client only (no listener; docs/transports.md, "Flows").
    spec: dict[str, Address | tuple[Address, ssl.SSLContext | None]] = {
        name: (local, server_ssl) if name in _SECURE else local}

    async def service(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        # Shielded: when the application's block is cancelled, the sockets, readers and the
        # timer must keep running while the calls are hung up and registrations removed.
        with trio.CancelScope(shield=True) as scope:
            async with open_sip_transports(core, spec, on_event=phone._on_event, client_ssl=client_ssl,
                                           connect_timeout=connect_timeout,
                                           after_pump=phone._after_pump) as transports:
                async with trio.open_nursery() as nursery:
                    phone._transports = transports
                    phone._nursery = nursery
                    phone._media = MediaSockets(nursery, phone.host, receive=core.media_receive,
                                                receive_many=core.media_receive_many,
                                                drain=transports.pump,
                                                on_error=core.media_transport_error, ports=rtp_ports)
                    task_status.started(scope)
                    try:
                        await trio.sleep_forever()
                    finally:
                        phone._media.close()
                        phone.closed = True

    with single_exceptions():
        async with trio.open_nursery() as outer:
            scope: trio.CancelScope = await outer.start(service)
            try:
                yield phone
            finally:
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(close_timeout) as waited:
                        await phone._shutdown()
                    if waited.cancelled_caught:
                        log.warning("phone %s: closed after %g s with calls %s still ending or "
                                    "registrations not removed", user, close_timeout, phone.core.calls)
                    phone.closed = True
                    phone._check_waiters()
                    scope.cancel()

