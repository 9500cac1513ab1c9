"""The SIP endpoint: transport-facing half of RFC 3261 (§17 transactions, §18 transport).

Datagrams go in with ``receive``; the endpoint parses them, stamps ``received``/``rport``
on requests (§18.2.1, RFC 3581), matches them to transactions (§17.1.3, §17.2.3, with the
RFC 2543 fallback) and absorbs retransmissions right there, on input. What is new goes up as
events. The transaction user (a dialog layer, a UA, a proxy or a test) sends through
``send_request`` / ``send_response`` / ``cancel`` / ``send_stateless``.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque

import attrs

from rvoip_sansio._core import Address, Event, LocalProtocolError, ParseError, RandomSource, Transmit

from . import _sip
from ._events import (
    CancelReceived,
    EndpointConfig,
    MessageDiscarded,
    RequestReceived,
    TransactionKey,
    TransactionTerminated,
    TransportError,
)
from ._sip import MAGIC_COOKIE, Request, Response
from ._state import TIMER_INPUT, Input, Kind, State, TimerName
from ._transaction import Transaction, start, step
from ._transport import STREAM_TRANSPORTS, ConnectionTable, uri_transport

__all__ = ["Endpoint", "EndpointStats"]

log = logging.getLogger("rvoip_sansio.transaction")

#: Requests whose Contact (if any) says nothing about reaching the sender later.
_NO_CONTACT = frozenset({"ACK", "BYE", "CANCEL", "PRACK", "INFO", "OPTIONS", "MESSAGE"})
#: Responses whose Contact is the far end's target for later requests (RFC 3261 §12.1.2).
_DIALOG_FORMING = frozenset({"INVITE", "SUBSCRIBE", "REFER", "UPDATE", "NOTIFY"})


@attrs.define(slots=True)
class EndpointStats:
    """Counters; nothing here affects behaviour."""

    datagrams: int = 0
    requests: int = 0
    responses: int = 0
    retransmissions_absorbed: int = 0  # requests and responses that matched a transaction
    bad_requests_answered: int = 0  # stateless 400s
    discarded: int = 0  # MessageDiscarded events
    overload_rejected: int = 0  # stateless 503s at the transaction limit
    ignored_inputs: int = 0  # (state, input) pairs the tables do not list, from the network
    sent: int = 0


class Endpoint:
    """RFC 3261 transaction layer over one transport. Sans-I/O: see ARCHITECTURE.md.

    ``local`` is the address this endpoint's transport is bound to (it goes into the Via of
    requests it sends, and responses must name it). ``via_host`` overrides the host written
    into Via (e.g. a public address).
    """

    def __init__(
        self,
        *,
        local: Address,
        rng: RandomSource,
        config: EndpointConfig | None = None,
        via_host: str | None = None,
        report_terminated: bool = False,
    ) -> None:
        self.local = local
        self.config = config if config is not None else EndpointConfig()
        self.rng = rng
        self.stats = EndpointStats()
        self._via_host = via_host if via_host is not None else local[0]
        self._report_terminated = report_terminated
        self._client: dict[TransactionKey, Transaction] = {}
        self._server: dict[TransactionKey, Transaction] = {}
        self._timers: list[tuple[float, int, Transaction, TimerName]] = []
        self._seq = 0
        self._out: list[Transmit] = []
        self._events: deque[Event] = deque()
        self._conns = ConnectionTable(self.config, self._push, self._events.append, self._connection_dead)

    # ---- the sans-I/O contract --------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """One datagram from ``source``. Never raises on bad input."""
        self.stats.datagrams += 1
        self._receive_bytes(bytes(data), source, now, None)

    def _receive_bytes(self, data: bytes, source: Address, now: float, transport: str | None) -> None:
        if not data.strip(b"\r\n"):
            return  # RFC 5626 §3.5.1 keep-alive
        try:
            msg = _sip.parse_message(data)
        except ParseError as exc:
            self._bad_datagram(data, source, exc.reason, transport)
            return
        self._dispatch(msg, source, now, data, transport)

    def _dispatch(self, msg: Request | Response, source: Address, now: float, data: bytes | None,
                  transport: str | None) -> None:
        try:
            if isinstance(msg, Response):
                self._on_response(msg, source, now)
            else:
                self._on_request(msg, source, now, data, transport)
        except ParseError as exc:  # a lazily parsed header turned out malformed
            self._bad_datagram(bytes(msg) if data is None else data, source, exc.reason, transport)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        out = self._out
        if out:
            self._out = []
        return out

    def next_deadline(self) -> float | None:
        # May name a timer that has since been cancelled: waking early is harmless.
        deadline = self._timers[0][0] if self._timers else None
        conn = self._conns.next_deadline()
        if conn is not None and (deadline is None or conn < deadline):
            return conn
        return deadline

    def handle_timeout(self, now: float) -> None:
        """Fire every timer due at or before ``now``, earliest first (then in arming order)."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, tx, name = heapq.heappop(timers)
            if tx.state is State.TERMINATED or tx.timers.get(name) != deadline:
                continue  # cancelled or re-armed since
            step(self, tx, TIMER_INPUT[name], now, fired_at=deadline)
        self._conns.handle_timeout(now)

    def transport_error(self, dest: Address, now: float) -> None:
        """The adapter could not send to ``dest`` (or got an ICMP error for it)."""
        hit = False
        for table in (self._client, self._server):
            for tx in [t for t in table.values() if t.dest == dest]:
                hit = True
                step(self, tx, Input.TRANSPORT_ERROR, now)
        if not hit:
            self._events.append(TransportError(dest=dest, transaction=None))

    # ---- connection-oriented transports (docs/transports.md) ---------------------------

    def add_transport(self, transport: str, local: Address) -> None:
        """The adapter listens for ``transport`` (TCP, TLS, WS or WSS) on ``local``, the
        sent-by our Via carries over it (RFC 3261 §18.1.1). From now on messages for that
        transport go over connections, and its transactions are reliable."""
        name = transport.upper()
        if name not in STREAM_TRANSPORTS:
            raise LocalProtocolError(f"transaction layer: {transport} is not a connection-oriented transport")
        if name in ("WS", "WSS"):
            try:
                import wsproto  # noqa: F401
            except ImportError:
                raise LocalProtocolError(
                    "transaction layer: WebSocket needs wsproto (pip install 'rvoip-sansio[websocket]')"
                ) from None
        self._conns.locals[name] = local

    @property
    def transports(self) -> frozenset[str]:
        """The connection-oriented transports added with ``add_transport``."""
        return frozenset(self._conns.locals)

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def connection_made(self, peer: Address, transport: str, now: float) -> None:
        """A connection is up: one we asked for (``peer`` is the ``dest`` of the ``open``
        order) or one accepted from ``peer``."""
        self._conns.made(peer, transport.upper(), now)

    def data_received(self, peer: Address, transport: str, data: bytes, now: float) -> None:
        """Bytes from the connection ``(transport, peer)``. Never raises on bad input: a
        framing error closes the connection (``ConnectionClosed``)."""
        transport = transport.upper()
        for item in self._conns.received(peer, transport, bytes(data), now):
            if isinstance(item, bytes):
                self._receive_bytes(item, peer, now, transport)
            else:
                self._dispatch(item, peer, now, None, transport)

    def connection_lost(self, peer: Address, transport: str, now: float) -> None:
        """The connection closed, or one we asked for could not be opened."""
        self._conns.lost(peer, transport.upper(), now)

    def close_connections(self, now: float) -> None:
        """Close every connection (clean shutdown; WebSocket closes with code 1000)."""
        self._conns.close_all(now)

    def _connection_dead(self, transport: str, peer: Address, now: float) -> None:
        # Client transactions waiting on this connection fail (§17.1.4); server ones keep
        # going: their response reopens a connection to the Via address (§18.2.2).
        for tx in [t for t in self._client.values() if t.transport == transport and t.dest == peer]:
            step(self, tx, Input.TRANSPORT_ERROR, now)

    def _push(self, transmit: Transmit) -> None:
        self._out.append(transmit)

    def _transport_name(self, request: Request, explicit: str | None) -> str | None:
        """The transport a request asks for (explicit, else its top Route or Request-URI:
        ``;transport=``, ``sips:``; else ``config.transport``); None on a datagram-only
        endpoint, where ``config.transport``/``config.reliable`` rule."""
        if not self._conns.locals:
            return None
        if explicit is not None:
            return explicit.upper()
        routes = request.route
        return uri_transport(routes[0].uri if routes else request.uri) or self.config.transport.upper()

    def _stream_for(self, name: str | None, dest: Address) -> tuple[str | None, Address]:
        """The connection-oriented transport and peer for a message (None: the datagram
        path). A live connection that reaches ``(name, dest)`` -- that very one, or a flow
        bound to it (``bind_flow``) -- wins over opening a new one (RFC 5626, RFC 5923)."""
        if name is None:
            return None, dest
        flow = self._conns.resolve(name, dest)
        if flow is not None:
            return flow
        if name not in STREAM_TRANSPORTS:
            return None, dest
        if name not in self._conns.locals:
            raise LocalProtocolError(f"transaction layer: no {name} transport (add_transport)")
        return name, dest

    # ---- flows: connection reuse (RFC 5626 §5.3, RFC 5923, RFC 7118 §5) ----------------

    def bind_flow(self, transport: str, target: Address, flow: tuple[str, Address]) -> bool:
        """Send requests for ``(transport, target)`` (a Contact's transport and address) over
        the live connection ``flow = (transport, peer)`` while it lasts. A ``.invalid`` target
        is matched by host alone. False (nothing bound) when ``flow`` is not a live connection.
        The endpoint does this by itself for Contacts that arrive over a connection (see
        ``EndpointConfig.reuse_connections``); a registrar routing to a binding's flow calls it."""
        return self._conns.bind_flow(transport.upper(), target, (flow[0].upper(), flow[1]))

    def flow_for(self, transport: str, dest: Address) -> tuple[str, Address] | None:
        """The live connection a message for ``(transport, dest)`` would take, if any."""
        return self._conns.resolve(transport.upper(), dest)

    def set_keepalive(self, flow: tuple[str, Address], interval: float, now: float) -> bool:
        """CRLF keep-alives every ``interval`` seconds on the connection ``flow`` (one we
        opened), instead of ``config.keepalive_interval`` (RFC 5626 §4.4.1, Flow-Timer)."""
        if interval <= 0:
            raise LocalProtocolError("transaction layer: a keep-alive interval must be positive")
        return self._conns.set_keepalive(flow[0].upper(), flow[1], interval, now)

    def has_connection(self, transport: str, peer: Address) -> bool:
        """Whether the connection ``(transport, peer)`` is open (or opening)."""
        return self._conns.is_live(transport.upper(), peer)

    # ---- the transaction user's side --------------------------------------------------

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch (§8.1.1.7) from the injected random source."""
        return f"{MAGIC_COOKIE}{self.rng.getrandbits(64):016x}"

    def new_tag(self) -> str:
        return f"{self.rng.getrandbits(48):012x}"

    def send_request(self, request: Request, now: float, *, dest: Address | None = None,
                     transport: str | None = None) -> TransactionKey:
        """Start a client transaction for ``request`` and send it.

        A missing Via is added (our sent-by, a new branch, ``rport``); a Via without a
        branch gets one; Max-Forwards 70 is added when absent (§8.1.1.6). ``dest`` defaults
        to the top Route or the Request-URI (numeric hosts; this layer does no DNS).
        ``transport`` (TCP, TLS, WS, WSS, UDP) defaults to what that URI asks for
        (``transport=``, ``sips:`` meaning TLS), else ``config.transport``.
        Returns the transaction's key, which responses and timeouts carry.
        """
        method = request.method
        if method == "ACK":
            raise LocalProtocolError(
                "transaction layer: ACK creates no transaction; use send_stateless (RFC 3261 §17.1.1.3)"
            )
        if method == "CANCEL":
            raise LocalProtocolError("transaction layer: send CANCEL with cancel(invite_key, now) (§9.1)")
        try:
            cseq = request.cseq
            request.call_id, request.from_, request.to  # noqa: B018 - validate now, not later
            vias = request.via
        except ParseError as exc:
            raise LocalProtocolError(f"transaction layer: cannot send this request: {exc.reason}") from None
        if cseq.method != method:
            raise LocalProtocolError(f"transaction layer: CSeq method {cseq.method} is not {method}")
        name = self._transport_name(request, transport)
        if dest is None:
            try:
                dest = _sip.request_destination(request, name or self.config.transport)
            except ParseError as exc:
                raise LocalProtocolError(f"transaction layer: no destination: {exc.reason}") from None
        stream, dest = self._stream_for(name, dest)
        via_transport, via_host, port = self.config.transport, self._via_host, self.local[1]
        if stream is not None:
            via_transport, port = stream, self._conns.locals[stream][1]
        if not vias:
            # RFC 5923 §6 (config.via_alias): the peer may send its requests for our sent-by
            # over this connection.
            alias = ";alias" if stream is not None and self.config.via_alias else ""
            request.add(
                "Via", f"SIP/2.0/{via_transport} {via_host}:{port};branch={self.new_branch()};rport{alias}",
                first=True,
            )
        elif not vias[0].branch or (stream is not None and vias[0].transport.upper() != stream):
            # §18.1.1: the transport fills in the Via's transport and sent-by.
            top = vias[0]
            params = {"branch": top.branch or self.new_branch(), **top.params}
            host, tport = top.host, top.port
            if stream is not None and top.transport.upper() != stream:
                host, tport = via_host, port
            request.remove_first_value("via")
            request.add("Via", _sip.Via(transport=stream or top.transport, host=host, port=tport,
                                        params=params, protocol=top.protocol), first=True)
        if "max-forwards" not in request:
            request.add("Max-Forwards", "70")
        branch = request.via[0].branch
        key: TransactionKey = ("C", branch, method)
        if key in self._client:
            raise LocalProtocolError(f"transaction layer: branch {branch} is already in use for {method}")
        if len(self._client) + len(self._server) >= self.config.max_transactions:
            raise LocalProtocolError("transaction layer: the transaction limit is reached")
        if (stream is not None and not self._conns.has(stream, dest)
                and len(self._conns) >= self.config.max_connections):
            raise LocalProtocolError("transaction layer: the connection limit is reached")
        kind = Kind.CLIENT_INVITE if method == "INVITE" else Kind.CLIENT_NON_INVITE
        tx = Transaction(kind=kind, key=key, request=request, method=method, dest=dest,
                         reliable=self.config.reliable or stream is not None, transport=stream)
        self._client[key] = tx
        start(self, tx, now)
        return key

    def cancel(self, transaction: TransactionKey, now: float) -> TransactionKey | None:
        """Cancel a pending INVITE (RFC 3261 §9.1). The CANCEL goes out once a provisional
        response has arrived (at once if one has); returns the CANCEL's transaction key, or
        None when there is nothing left to cancel (a final response came, or it timed out)."""
        tx = self._client.get(transaction)
        if tx is None or tx.kind is not Kind.CLIENT_INVITE:
            return None
        if tx.state is not State.CALLING and tx.state is not State.PROCEEDING:
            return None
        key: TransactionKey = ("C", transaction[1], "CANCEL")
        if key in self._client:
            return key
        if tx.provisional_seen:
            self._send_cancel(tx, now)
        else:
            tx.cancel_pending = True
        return key

    def send_response(
        self, response: Response, now: float, *, transaction: TransactionKey | None = None
    ) -> None:
        """Send a response through its server transaction (by default found from the
        response's top Via branch, sent-by and CSeq method, which is exact for RFC 3261
        peers; pass ``transaction`` from the RequestReceived event to be exact for all)."""
        if transaction is None:
            transaction = self._response_key(response)
        tx = self._server.get(transaction)
        if tx is None:
            raise LocalProtocolError(
                f"transaction layer: no server transaction for {response.status_code} "
                f"{response.reason} (it ended, or never existed)"
            )
        code = response.status_code
        inp = Input.TU_PROVISIONAL if code < 200 else Input.TU_SUCCESS if code < 300 else Input.TU_FAILURE
        step(self, tx, inp, now, response)

    def send_stateless(self, message: Request | Response, dest: Address, now: float, *,
                       transport: str | None = None) -> None:
        """Send outside any transaction: the ACK for a 2xx (§13.2.2.4), a stateless proxy's
        forwarding. Nothing retransmits it. Over connection-oriented transports the
        transport defaults to the top Via's, so an ACK follows its INVITE."""
        stream = None
        if self._conns.locals:
            name = transport
            if name is None:
                try:
                    vias = message.via
                except ParseError:
                    vias = []
                name = vias[0].transport if vias else None
            stream, dest = self._stream_for((name or self.config.transport).upper(), dest)
        self._send(bytes(message), dest, None, stream)

    def transaction_state(self, transaction: TransactionKey) -> State | None:
        tx = self._client.get(transaction) or self._server.get(transaction)
        return None if tx is None else tx.state

    def transaction_request(self, transaction: TransactionKey) -> Request | None:
        """The request of a live transaction still waiting for its final response (None
        afterwards: completed transactions keep only what absorbing retransmissions needs)."""
        tx = self._client.get(transaction) or self._server.get(transaction)
        return None if tx is None else tx.request

    @property
    def live_transactions(self) -> int:
        return len(self._client) + len(self._server)

    # ---- host hooks for the transactions ----------------------------------------------

    def _send(self, data: bytes, dest: Address, tx: Transaction | None, transport: str | None = None) -> None:
        self.stats.sent += 1
        if tx is not None:
            transport = tx.transport
        if transport is None:
            self._out.append(Transmit(data=data, dest=dest))
            return
        if tx is not None and tx.alt_dest is not None and not self._conns.has(transport, dest):
            # RFC 3261 §18.2.2: the request's connection is gone; open one to the Via address.
            tx.dest = dest = tx.alt_dest
        self._conns.send(transport, dest, data)

    def _arm(self, tx: Transaction, timer: TimerName, deadline: float) -> None:
        tx.timers[timer] = deadline
        self._seq += 1
        heapq.heappush(self._timers, (deadline, self._seq, tx, timer))

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _forget(self, tx: Transaction) -> None:
        table = self._client if tx.is_client else self._server
        if table.get(tx.key) is tx:
            del table[tx.key]
        if self._report_terminated:
            self._events.append(TransactionTerminated(transaction=tx.key))

    def _ignored(self, tx: Transaction, inp: Input) -> None:
        self.stats.ignored_inputs += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s in %s ignores %s", tx.kind.value, tx.state.value, inp.value)

    def _build_ack(self, tx: Transaction, response: Response) -> bytes:
        assert tx.request is not None
        return bytes(_sip.build_ack(tx.request, response))

    def _build_trying(self, tx: Transaction) -> bytes:
        assert tx.request is not None
        return bytes(_sip.make_response(tx.request, 100))

    # ---- input paths -------------------------------------------------------------------

    def _discard(self, reason: str, source: Address, data: bytes) -> None:
        self.stats.discarded += 1
        self._events.append(MessageDiscarded(reason=reason, source=source, data=data[:200]))

    def _bad_datagram(self, data: bytes, source: Address, reason: str, transport: str | None = None) -> None:
        # RFC 3261 §8.2, §16.3: answer a malformed request with 400 when we can still
        # read where to send it and what it was; drop anything else.
        reliable = self.config.reliable or transport is not None
        reply = _sip.stateless_reply(data, source, 400, reason, self.new_tag(), reliable)
        if reply is not None:
            self.stats.bad_requests_answered += 1
            self._send(reply[0], reply[1], None, transport)
            reason = f"{reason} (answered 400)"
        self._discard(reason, source, data)

    def _on_response(self, resp: Response, source: Address, now: float) -> None:
        self.stats.responses += 1
        top = resp.top_via
        # RFC 3261 §17.1.3: top Via branch and CSeq method.
        method = resp.cseq.method
        tx = self._client.get(("C", top.branch, "INVITE" if method == "ACK" else method))
        if tx is None:
            # RFC 6026 §7.3 (updating §18.1.2): a response matching no transaction is
            # discarded by everything but a stateless proxy.
            self._discard("response matches no client transaction", source, bytes(resp))
            return
        code = resp.status_code
        if code < 200:
            tx.provisional_seen = True
            inp = Input.PROVISIONAL
        else:
            inp = Input.SUCCESS if code < 300 else Input.FAILURE
        if tx.transport is not None and code < 300 and tx.method in _DIALOG_FORMING:
            self._conns.learn(resp, tx.transport, source)
        before = tx.state
        step(self, tx, inp, now, resp, source)
        if tx.state is before and before is not State.PROCEEDING and before is not State.ACCEPTED:
            self.stats.retransmissions_absorbed += 1
        if tx.cancel_pending:
            if tx.state is State.PROCEEDING:
                self._send_cancel(tx, now)
            elif tx.state is not State.CALLING:
                tx.cancel_pending = False  # a final response came first: nothing to cancel

    def _on_request(self, req: Request, source: Address, now: float, data: bytes | None,
                    transport: str | None = None) -> None:
        self.stats.requests += 1
        method = req.method
        top = req.top_via  # ParseError when missing: answered 400
        cseq = req.cseq
        call_id = req.call_id
        from_tag = req.from_.tag
        to_tag = req.to.tag
        if cseq.method != method:
            raise ParseError(f"CSeq method {cseq.method} does not match {method}", 0)
        match_method = "INVITE" if method == "ACK" else method
        branch = top.branch
        rfc3261 = branch is not None and branch.startswith(MAGIC_COOKIE)
        key: TransactionKey
        if rfc3261:
            # RFC 3261 §17.2.3: branch, sent-by and method (ACK matches its INVITE).
            key = ("S", branch, top.host.lower(), top.port, match_method)
        else:
            # RFC 3261 §17.2.3 for RFC 2543 peers: Request-URI, To tag, From tag, Call-ID,
            # CSeq number and top Via; the To tag is checked below.
            key = ("S2543", req.uri_text, from_tag, call_id, cseq.number, str(top), match_method)
        tx = self._server.get(key)
        if tx is not None and not rfc3261 and not self._to_tag_matches(tx, req, to_tag):
            tx = None
        if tx is not None:
            if method != "ACK":
                self.stats.retransmissions_absorbed += 1
            if method == "ACK":
                if tx.kind is Kind.SERVER_INVITE:
                    _sip.stamp_received(req, source)
                    step(self, tx, Input.ACK, now, req, source)
            else:
                step(self, tx, Input.REQUEST, now, req, source)
            return
        if method == "ACK":
            # The ACK for a 2xx is its own transaction-less request for the dialog layer
            # (RFC 3261 §17.2.3, RFC 6026 §7.1).
            _sip.stamp_received(req, source)
            self._events.append(RequestReceived(request=req, source=source, transaction=None))
            return
        if len(self._client) + len(self._server) >= self.config.max_transactions:
            # (a message from a stream has no raw bytes of its own: serialize it only here)
            self._overloaded(bytes(req) if data is None else data, source, transport)
            return
        via = _sip.stamp_received(req, source)
        reliable = self.config.reliable or transport is not None
        dest = _sip.response_address(via, source, reliable)
        alt_dest = None
        if transport is not None:
            alt_dest = _sip.reconnect_address(via)
            if "alias" in via.params and via.port:
                self._conns.alias(transport, (source[0], via.port), source)
            if method not in _NO_CONTACT:
                self._conns.learn(req, transport, source)
        kind = Kind.SERVER_INVITE if method == "INVITE" else Kind.SERVER_NON_INVITE
        tx = Transaction(kind=kind, key=key, request=req, method=method, dest=dest,
                         reliable=reliable, rfc2543=not rfc3261,
                         to_tag=None if rfc3261 else to_tag, transport=transport, alt_dest=alt_dest)
        self._server[key] = tx
        start(self, tx, now)
        if method == "CANCEL":
            self._on_cancel(tx, req, source, now)
            return
        self._events.append(RequestReceived(request=req, source=source, transaction=key))

    def _to_tag_matches(self, tx: Transaction, req: Request, to_tag: str | None) -> bool:
        if req.method == "ACK":
            # The ACK carries the To tag of the response it acknowledges.
            return tx.final_to_tag is not None and tx.final_to_tag == to_tag
        return tx.to_tag == to_tag

    def _on_cancel(self, tx: Transaction, cancel: Request, source: Address, now: float) -> None:
        # RFC 3261 §9.2: the CANCEL matches the INVITE with the same key but method INVITE.
        invite_key: TransactionKey = tx.key[:-1] + ("INVITE",)
        invite = self._server.get(invite_key)
        if invite is not None and tx.key[0] == "S2543" and invite.to_tag != cancel.to.tag:
            invite = None
        answered = False
        if self.config.auto_cancel:
            if invite is None:
                self.send_response(_sip.make_response(cancel, 481, to_tag=self.new_tag()), now,
                                   transaction=tx.key)
            else:
                tag = self._invite_to_tag(invite)
                self.send_response(_sip.make_response(cancel, 200, to_tag=tag), now, transaction=tx.key)
                if invite.state is State.PROCEEDING and invite.request is not None:
                    self.send_response(_sip.make_response(invite.request, 487, to_tag=tag), now,
                                       transaction=invite.key)
                    answered = True
        self._events.append(CancelReceived(
            request=cancel, source=source, transaction=tx.key,
            invite_transaction=None if invite is None else invite.key, answered=answered,
        ))

    def _invite_to_tag(self, invite: Transaction) -> str:
        # §9.2: the 487 (and the CANCEL's 200) keep the To tag of any provisional response.
        sent = invite.response
        tag = sent.to.tag if sent is not None else None
        return tag if tag is not None else self.new_tag()

    def _overloaded(self, data: bytes, source: Address, transport: str | None = None) -> None:
        self.stats.overload_rejected += 1
        extra = () if self.config.retry_after is None else (("Retry-After", str(self.config.retry_after)),)
        reply = _sip.stateless_reply(data, source, 503, "transaction limit reached", self.new_tag(),
                                     self.config.reliable or transport is not None, extra)
        if reply is not None:
            self._send(reply[0], reply[1], None, transport)
        self._discard("transaction limit reached (answered 503)", source, data)

    def _send_cancel(self, tx: Transaction, now: float) -> None:
        tx.cancel_pending = False
        assert tx.request is not None
        cancel = _sip.build_cancel(tx.request)
        key: TransactionKey = ("C", tx.key[1], "CANCEL")
        ctx = Transaction(kind=Kind.CLIENT_NON_INVITE, key=key, request=cancel, method="CANCEL",
                          dest=tx.dest, reliable=tx.reliable, transport=tx.transport)
        self._client[key] = ctx
        start(self, ctx, now)

    def _response_key(self, response: Response) -> TransactionKey:
        try:
            top = response.top_via
            method = response.cseq.method
        except ParseError:
            raise LocalProtocolError("transaction layer: the response has no usable Via/CSeq") from None
        return ("S", top.branch, top.host.lower(), top.port, method)
