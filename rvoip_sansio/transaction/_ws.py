"""SIP over WebSocket (RFC 7118) on one connection, with ``wsproto`` doing the framing.

``wsproto`` is itself sans-I/O (bytes in, events and bytes out), so it lives in the core next
to the Content-Length framer rather than in each adapter: the handshake rules (the ``sip``
subprotocol, RFC 7118 §4), one SIP message per WebSocket message (§5.2), pings and the
closing handshake are protocol logic that every adapter would otherwise repeat.
"""

from __future__ import annotations

import wsproto
from wsproto.connection import ConnectionState
import wsproto.events as ws
from wsproto.utilities import LocalProtocolError as WsLocalError
from wsproto.utilities import RemoteProtocolError as WsRemoteError

__all__ = ["WsSession", "SUBPROTOCOL"]

#: RFC 7118 §4.1: the WebSocket subprotocol name for SIP.
SUBPROTOCOL = "sip"


class WsSession:
    """One WebSocket connection carrying SIP. ``receive`` returns complete SIP messages as
    bytes; ``take_output`` the bytes wsproto wants sent (handshake, pongs, close); ``open``
    says the handshake is done; ``failed`` is set (with the reason) when the connection must
    be closed."""

    def __init__(self, *, client: bool, host: str, max_message_size: int, target: str = "/") -> None:
        self._conn = wsproto.WSConnection(
            wsproto.ConnectionType.CLIENT if client else wsproto.ConnectionType.SERVER
        )
        self._client = client
        self._max = max_message_size
        self._parts: list[bytes] = []
        self._size = 0
        self._output = bytearray()
        self.open = False
        self.failed: str | None = None
        #: a Pong frame arrived since the last ``ping()`` (our keep-alive's answer)
        self.ponged = False
        if client:
            # RFC 7118 §4.1: the client MUST offer the "sip" subprotocol.
            self._send(ws.Request(host=host if ":" not in host else f"[{host}]", target=target,
                                  subprotocols=[SUBPROTOCOL]))

    def take_output(self) -> bytes:
        out = bytes(self._output)
        self._output.clear()
        return out

    def message(self, data: bytes) -> bytes:
        """Frame one SIP message: a text message when it is UTF-8, else binary (§5.1)."""
        try:
            event: ws.Event = ws.TextMessage(data=data.decode("utf-8"))
        except UnicodeDecodeError:
            event = ws.BytesMessage(data=data)
        self._send(event)
        return self.take_output()

    def ping(self) -> bytes:
        """A Ping frame (RFC 6455 §5.5.2: the peer must answer Pong): the keep-alive of a
        WebSocket flow we opened (RFC 5626 §4.4.1 asks for one; RFC 7118 names no other)."""
        self.ponged = False
        self._send(ws.Ping(payload=b"rvoip"))
        return self.take_output()

    def close(self) -> bytes:
        if self._conn.state is ConnectionState.OPEN:
            self._send(ws.CloseConnection(code=1000))
        return self.take_output()

    def receive(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            self._conn.receive_data(data)
            for event in self._conn.events():
                msg = self._event(event)
                if msg is not None:
                    out.append(msg)
                if self.failed is not None:
                    break
        except (WsLocalError, WsRemoteError) as exc:
            self.failed = f"WebSocket error: {exc}"
        return out

    def _send(self, event: ws.Event) -> None:
        try:
            self._output += self._conn.send(event)
        except WsLocalError as exc:
            self.failed = f"WebSocket error: {exc}"

    def _event(self, event: ws.Event) -> bytes | None:
        if isinstance(event, ws.Request):
            if SUBPROTOCOL not in event.subprotocols:
                # RFC 7118 §4.1 has the client offer "sip" and the server's 101 name it; a
                # SIP-only server has nothing else to speak, so it refuses the handshake.
                self._send(ws.RejectConnection(status_code=400))
                self.failed = "WebSocket client did not offer the sip subprotocol"
                return None
            self._send(ws.AcceptConnection(subprotocol=SUBPROTOCOL))
            self.open = True
        elif isinstance(event, ws.AcceptConnection):
            if event.subprotocol != SUBPROTOCOL:
                self.failed = f"WebSocket server chose subprotocol {event.subprotocol!r}, not sip"
            else:
                self.open = True
        elif isinstance(event, (ws.RejectConnection, ws.RejectData)):
            self.failed = "WebSocket handshake rejected"
        elif isinstance(event, (ws.TextMessage, ws.BytesMessage)):
            part = event.data.encode("utf-8") if isinstance(event.data, str) else bytes(event.data)
            self._size += len(part)
            if self._size > self._max:
                self.failed = f"WebSocket message exceeds {self._max} octets"
                self._send(ws.CloseConnection(code=1009))
                return None
            self._parts.append(part)
            if event.message_finished:
                msg = b"".join(self._parts)
                self._parts.clear()
                self._size = 0
                return msg
        elif isinstance(event, ws.Ping):
            self._send(event.response())
        elif isinstance(event, ws.Pong):
            self.ponged = True
        elif isinstance(event, ws.CloseConnection):
            if self._conn.state is ConnectionState.REMOTE_CLOSING:
                self._send(event.response())
            self.failed = f"WebSocket closed by the peer ({event.code})"
        return None
